"""`kancha user add --max-approve YUAN` gives a reviewer an approval authority (核损权限);
`kancha user authority NAME YUAN|none` changes it; `user list` shows it."""

from __future__ import annotations

from tests.cases.test_review_money import estimated
from tests.factories import bearer
from tests.live import clean_env, run_kancha
from tests.tablets import review


def kancha_env(tmp_path, database_url):
    return clean_env(KANCHA_DATA_DIR=str(tmp_path / "data"), KANCHA_DATABASE_URL=database_url)


async def test_max_approve_limits_what_the_reviewer_approves(
    tmp_path, database_url, client, tokens, clock
):
    env = kancha_env(tmp_path, database_url)
    added = run_kancha(
        "user", "add", "zhou", "--role", "reviewer", "--max-approve", "50000", env=env, cwd=tmp_path
    )
    assert added.returncode == 0, added.stderr
    assert "approves up to 50,000 yuan" in added.stdout
    zhou = {"rev": bearer(added.stdout.strip().splitlines()[-1])}
    listed = run_kancha("user", "list", env=env, cwd=tmp_path).stdout
    assert "zhou\treviewer\tactive\tmax_approve 50,000" in listed

    case = await estimated(client, tokens, clock, 62000)
    refused = await review(client, zhou, case["id"], decision="approved")
    assert refused.status_code == 403
    assert "exceeds your authority of 50,000 yuan" in refused.json()["detail"]

    raised = run_kancha("user", "authority", "zhou", "80000", env=env, cwd=tmp_path)
    assert raised.returncode == 0, raised.stderr
    assert "zhou approves up to 80,000 yuan" in raised.stdout
    assert (await review(client, zhou, case["id"], decision="approved")).status_code == 200

    unlimited = run_kancha("user", "authority", "zhou", "none", env=env, cwd=tmp_path)
    assert unlimited.returncode == 0 and "approves any amount" in unlimited.stdout
    assert "zhou\treviewer\tactive\n" in run_kancha("user", "list", env=env, cwd=tmp_path).stdout


async def test_bad_authorities_are_refused(tmp_path, database_url):
    env = kancha_env(tmp_path, database_url)

    def add(*args: str):
        return run_kancha("user", "add", *args, env=env, cwd=tmp_path)

    for value in ("-1", "lots", "inf", "nan"):
        bad = add("wu", "--role", "reviewer", "--max-approve", value)
        assert bad.returncode == 2 and "--max-approve" in bad.stderr, (value, bad.stderr)
    surveyor = add("wu", "--role", "surveyor", "--max-approve", "1000")
    assert surveyor.returncode == 2 and "approves nothing" in surveyor.stderr
    assert "wu" not in run_kancha("user", "list", env=env, cwd=tmp_path).stdout
    missing = run_kancha("user", "authority", "nobody", "1000", env=env, cwd=tmp_path)
    assert missing.returncode == 2 and "no user named" in missing.stderr
