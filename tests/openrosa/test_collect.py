"""ODK Collect end to end over OpenRosa: the form, a survey with photos, a split submission,
re-sends, conflicts and bad input; on SQLite and PostgreSQL, through the real app."""

from __future__ import annotations

from sqlalchemy import select

from cases.models import Packet
from media.models import MediaObject
from sync.models import OdkAttachment, OdkSubmission
from tests.factories import count, dispatched_case
from tests.media.samples import photo, sha
from tests.openrosa.collect import (
    Collect,
    instance_xml,
    message,
    new_instance_id,
)

PHOTOS = {f: photo(seed=i + 1) for i, f in enumerate(("scene", "damage", "vin", "plate"))}


def token_of(tokens, name: str = "sv1") -> str:
    return tokens[name]["Authorization"].removeprefix("Bearer ")


def survey_files(seed: int = 0) -> tuple[dict[str, str], dict[str, bytes]]:
    """Field -> file name (in the XML) and file name -> bytes (the attachments)."""
    fields, files = {}, {}
    for i, category in enumerate(("scene", "damage", "vin", "plate")):
        name = f"{1733230000000 + seed * 10 + i}.jpg"
        fields[f"{category}_photo"] = name
        files[name] = photo(seed=seed * 10 + i + 1)
    fields["driving_licence"] = f"{1733230000000 + seed * 10 + 9}.jpg"
    files[fields["driving_licence"]] = photo(seed=seed * 10 + 9 + 1)
    return fields, files


async def stored(db) -> dict[str, int]:
    return {
        "packets": await count(db, Packet),
        "submissions": await count(db, OdkSubmission),
        "attachments": await count(db, OdkAttachment),
        "media": await count(db, MediaObject),
    }


async def test_collect_takes_the_form_submits_splits_and_resends_exactly_once(client, tokens, db):
    case = await dispatched_case(client, tokens)
    other = await dispatched_case(client, tokens)
    collect = Collect(client, "/openrosa", password=token_of(tokens))

    [entry] = await collect.form_list()
    assert collect.challenged == ['Basic realm="kancha", charset="UTF-8"']
    assert (entry["formID"], entry["version"]) == ("kancha_survey", "2026120301")
    form, media = await collect.download(entry)
    assert b"cases.csv" in form
    listed = media["cases.csv"].decode()
    assert case["id"] in listed and other["id"] in listed and case["case_no"] in listed

    # A survey with four photos and a document photo, in one POST.
    fields, files = survey_files(seed=0)
    # No estimate yet: an estimate ends a small case's front-end cycle and so its board row.
    xml = instance_xml(case["id"], instance_id=new_instance_id(), files=fields,
                       documents=("driving_licence",), estimate="")  # fmt: skip
    [done] = await collect.submit(xml, files)
    assert done.status_code == 201, done.text
    assert "Survey received" in message(done)
    first = await stored(db)
    assert first == {"packets": 7, "submissions": 1, "attachments": 5, "media": 5}

    # Collect re-sends it (it never heard the answer): success, nothing new.
    [again] = await collect.submit(xml, files)
    assert again.status_code == 201 and "Already received" in message(again)
    assert await stored(db) == first

    # The other case, split: Collect is told a small size and sends three POSTs.
    fields, files = survey_files(seed=1)
    split_xml = instance_xml(other["id"], instance_id=new_instance_id(), files=fields,
                             documents=("driving_licence",))  # fmt: skip
    collect.split_at = len(split_xml) + 2 * max(len(b) for b in files.values()) + 10
    parts = await collect.submit(split_xml, files)
    assert [p.status_code for p in parts] == [202, 202, 201], [p.text for p in parts]
    assert "still to come" in message(parts[0])
    assert (await stored(db))["packets"] == 15
    assert await collect.submit(split_xml, files) != []  # and its re-send, split again
    assert (await stored(db))["packets"] == 15

    # Done when: the board row, timings and gallery show exactly one of everything.
    board = (await client.get("/v1/board", headers=tokens["disp"])).json()
    [row] = [r for r in board["cases"] if r["case_id"] == case["id"]]
    assert row["status"] == "surveyed", row
    assert not [t for t in row["timings"] if t["name"] == "arrival"]  # ended: not running
    for c, fields_seed, estimate in ((case, 0, []), (other, 1, ["estimate_submitted"])):
        detail = (await client.get(f"/v1/cases/{c['id']}", headers=tokens["disp"])).json()
        kinds = [e["kind"] for e in detail["events"]]
        assert sorted(kinds) == sorted(
            ["arrived", "photo", "photo", "photo", "photo", "document", "survey_completed",
             *estimate]
        ), kinds  # fmt: skip
        arrival = [t for t in detail["timings"] if t["name"] == "arrival"]
        assert len(arrival) == 1 and arrival[0]["state"] == "met", detail["timings"]
        gallery = (await client.get(f"/v1/cases/{c['id']}/media", headers=tokens["rev"])).json()
        expected = {sha(b) for b in survey_files(seed=fields_seed)[1].values()}
        assert sorted(i["sha256"] for i in gallery["items"]) == sorted(expected)
    async with db.session(write=False) as session:
        kept = await session.scalar(select(OdkSubmission.xml).where(
            OdkSubmission.instance_id.in_([_id(xml)])))  # fmt: skip
    assert kept == xml  # the raw XML, verbatim, in the log


def _id(xml: bytes) -> str:
    return xml.split(b"<instanceID>")[1].split(b"</instanceID>")[0].decode()


async def test_token_in_path_serves_collect_without_a_password(client, tokens, db):
    case = await dispatched_case(client, tokens)
    collect = Collect(client, f"/collect/{token_of(tokens)}")
    [entry] = await collect.form_list()
    assert entry["downloadUrl"].endswith(
        f"/collect/{token_of(tokens)}/forms/kancha_survey/form.xml"
    )
    await collect.download(entry)
    [done] = await collect.submit(instance_xml(case["id"], instance_id=new_instance_id()))
    assert done.status_code == 201, done.text
    assert await count(db, Packet) == 3  # arrived, survey completed, estimate


async def test_unauthenticated_and_revoked_get_401_and_nothing_is_stored(client, tokens, db):
    case = await dispatched_case(client, tokens)
    anonymous = await client.head("/openrosa/submission")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Basic realm=")
    dispatcher = Collect(client, "/openrosa", password=token_of(tokens, "disp"))
    assert (await dispatcher.request("GET", "/formList")).status_code == 401
    token = token_of(tokens)
    from cases.users import revoke_user

    async with db.session() as session:
        from tests.factories import T0

        await revoke_user(session, "sv1", T0)
        await session.commit()
    xml = instance_xml(case["id"], instance_id=new_instance_id())
    for collect in (
        Collect(client, f"/collect/{token}"),
        Collect(client, "/openrosa", password=token),
    ):
        response = await collect.request(
            "POST", "/submission", files=[("xml_submission_file", ("s.xml", xml, "text/xml"))]
        )
        assert response.status_code == 401, response.text
        assert "revoked" in message(response)
    assert await stored(db) == {"packets": 0, "submissions": 0, "attachments": 0, "media": 0}


async def test_other_xml_under_the_same_instance_id_is_a_409_and_the_first_stays(
    client, tokens, db
):
    case = await dispatched_case(client, tokens)
    collect = Collect(client, f"/collect/{token_of(tokens)}")
    instance_id = new_instance_id()
    first = instance_xml(case["id"], instance_id=instance_id, estimate="1500")
    assert (await collect.submit(first))[0].status_code == 201
    before = await stored(db)
    [conflict] = await collect.submit(
        instance_xml(case["id"], instance_id=instance_id, estimate="9")
    )
    assert conflict.status_code == 409
    assert "already submitted with other content" in message(conflict)
    assert await stored(db) == before
    async with db.session(write=False) as session:
        assert await session.scalar(select(OdkSubmission.xml)) == first


async def test_a_case_not_dispatched_to_the_surveyor_is_held(client, tokens, db):
    case = await dispatched_case(client, tokens, surveyor="sv2")
    collect = Collect(client, f"/collect/{token_of(tokens)}")
    [held] = await collect.submit(instance_xml(case["id"], instance_id=new_instance_id()))
    assert held.status_code == 201 and "held" in message(held)
    async with db.session(write=False) as session:
        statuses = set(await session.scalars(select(Packet.status)))
    assert statuses == {"held"}


def bomb_files() -> tuple[dict[str, str], dict[str, bytes]]:
    from tests.media.samples import png_bomb

    return {"scene_photo": "bomb.png"}, {"bomb.png": png_bomb()}


BAD = {
    "not XML": (lambda c: b"<data><unclosed>", {}, 400, "not well-formed"),
    "not the form": (
        lambda c: b'<other id="x" version="1"><meta><instanceID>uuid:1</instanceID></meta></other>',
        {}, 400, "is not a form of this server",
    ),
    "unknown form id": (
        lambda c: instance_xml(c, instance_id=new_instance_id(), form_id="their_form"),
        {}, 400, "'their_form' is not a form",
    ),
    "old form version": (
        lambda c: instance_xml(c, instance_id=new_instance_id(), version="2020010101"),
        {}, 400, "get the blank form again",
    ),
    "a field the form lacks": (
        lambda c: instance_xml(c, instance_id=new_instance_id(), extra="<price>1</price>"),
        {}, 400, "'price' is not a field",
    ),
    "entities": (
        lambda c: b'<!DOCTYPE d [<!ENTITY a "aaaa">]><data id="kancha_survey">&a;</data>',
        {}, 400, "DTD or entities",
    ),
    "attachment not named in the XML": (
        lambda c: instance_xml(c, instance_id=new_instance_id()),
        {"stray.jpg": PHOTOS["scene"]}, 400, "not named by the submission",
    ),
    "unknown case": (
        lambda c: instance_xml("no-such-case", instance_id=new_instance_id()),
        {}, 400, "no case 'no-such-case'",
    ),
    "image zip bomb": (
        lambda c: instance_xml(c, instance_id=new_instance_id(), files=bomb_files()[0]),
        bomb_files()[1], 422, "",
    ),
    "not an image": (
        lambda c: instance_xml(c, instance_id=new_instance_id(), files={"scene_photo": "a.jpg"}),
        {"a.jpg": b"MZ not a photo at all" * 10}, 415, "",
    ),
    "XML too large": (
        lambda c: instance_xml(c, instance_id=new_instance_id(), notes="n" * 300_000),
        {}, 413, "larger than",
    ),
    "a named file that never came": (
        lambda c: instance_xml(c, instance_id=new_instance_id(), files={"scene_photo": "a.jpg"}),
        {}, 400, "never did",
    ),
}  # fmt: skip


async def test_bad_input_gets_an_openrosa_error_and_nothing_is_stored(client, tokens, db):
    """Each bad submission in turn (one app and case for all: they are many)."""
    case = await dispatched_case(client, tokens)
    collect = Collect(client, "/openrosa", password=token_of(tokens))
    answers = {}
    for name, (make, files, _, words) in BAD.items():
        [response] = await collect.submit(make(case["id"]), files)
        assert response.headers["x-openrosa-version"] == "1.0", name
        answers[name] = (response.status_code, words in message(response))
        assert await stored(db) == {"packets": 0, "submissions": 0, "attachments": 0, "media": 0}
    assert answers == {name: (status, True) for name, (_, _, status, _) in BAD.items()}


async def test_a_part_over_the_media_limit_is_413_and_nothing_is_stored(
    tmp_path, database_url, clock, tokens, db
):
    from litestar.testing import AsyncTestClient

    from server.app import create_app
    from server.settings import Settings

    settings = Settings(
        data_dir=str(tmp_path / "data"), database_url=database_url, max_media_bytes=20_000
    )
    async with AsyncTestClient(app=create_app(settings, clock=clock)) as small:
        case = await dispatched_case(small, tokens)
        big = photo(800, 600, noise=True)
        assert len(big) > 20_000
        xml = instance_xml(case["id"], instance_id=new_instance_id(),
                           files={"scene_photo": "big.jpg"})  # fmt: skip
        collect = Collect(small, f"/collect/{token_of(tokens)}")
        [response] = await collect.submit(xml, {"big.jpg": big})
    assert response.status_code == 413, response.text
    assert "larger than the limit of 20000 bytes" in message(response)
    assert await stored(db) == {"packets": 0, "submissions": 0, "attachments": 0, "media": 0}
