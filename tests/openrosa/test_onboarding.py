"""Onboarding: `kancha collect-qr USER` prints the QR code whose settings point Collect at
the surveyor's own server URL (token in the path), and the XForm reads back in pyxform."""

from __future__ import annotations

from pyxform.xform2json import create_survey_element_from_xml

from sync.openrosa.form import survey_form
from sync.openrosa.qr import read_payload
from tests.factories import make_user
from tests.live import clean_env, run_kancha
from tests.openrosa.collect import Collect


def _kancha(tmp_path, database_url, *args):
    env = clean_env(KANCHA_DATA_DIR=str(tmp_path / "data"), KANCHA_DATABASE_URL=database_url)
    return run_kancha(*args, env=env, cwd=tmp_path)


async def test_collect_qr_configures_collect_for_the_surveyor(
    tmp_path, database_url, client, db, clock
):
    old = await make_user(db, "li", "surveyor", clock.now())
    png = tmp_path / "li.png"
    shown = _kancha(
        tmp_path, database_url, "collect-qr", "li", "--url", "https://k.example", "--png", str(png)
    )
    assert shown.returncode == 0, shown.stderr
    assert "█" in shown.stdout or "▀" in shown.stdout  # the code itself, as terminal text
    [payload] = [line.rsplit(" ", 1)[-1] for line in shown.stdout.splitlines() if "zlib" in line]
    settings = read_payload(payload)["general"]
    assert settings["form_update_mode"] == "match_exactly"
    assert settings["autosend"] == "wifi_and_cellular" and settings["username"] == "li"
    root, _, token = settings["server_url"].rpartition("/")
    assert root == "https://k.example/collect" and token.startswith("kt_") and token != old
    [entry] = await Collect(client, f"/collect/{token}").form_list()  # the URL works as is
    assert entry["formID"] == "kancha_survey"
    assert (await client.get(f"/collect/{old}/formList")).status_code == 401

    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if database_url.startswith("sqlite"):  # the refusal is the same on either backend
        refused = _kancha(tmp_path, database_url, "collect-qr", "nobody")
        assert refused.returncode == 2 and "no active surveyor" in refused.stderr


def test_the_xform_reads_back_in_pyxform():
    form = survey_form()
    xml = form.xml.decode()
    # The case list is an external instance (loaded from cases.csv on the phone), which
    # xform2json cannot load: it is checked here, then inlined as the phone loads it.
    external = '<instance id="cases" src="jr://file-csv/cases.csv"/>'
    assert external in xml
    survey = create_survey_element_from_xml(
        xml.replace(external, '<instance id="cases"><root><item><name>c1</name>'
                    "<label>RPT-1</label></item><item><name>c2</name><label>RPT-2</label></item>"
                    "</root></instance>")
    )  # fmt: skip
    names = {e.name for e in survey.iter_descendants()}
    assert {"case", "arrival", "scene_photo", "vin_photo", "documents", "estimate"} <= names
    assert survey.id_string == form.form_id
    types = {
        e.name: (getattr(e, "bind", None) or {}).get("type") for e in survey.iter_descendants()
    }
    assert types["scene_photo"] == "binary" and types["arrival"] == "geopoint"
