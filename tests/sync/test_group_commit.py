"""Group commit: pushes that arrive together settle in one transaction, each still answered
for itself, all-or-nothing, exactly once (sync/groups.py, sync/push.py ingest_group)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from functools import partial

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from cases.limits import DEFAULT_TIERS
from cases.models import Packet, User
from cases.refusal import Conflict
from cases.timeline import DEFAULT_STALE_FIX
from server.routes.sync import decode_push
from sync.devices import estimate_offset
from sync.groups import GroupCommit
from sync.models import ClockSample, Device
from sync.push import Push, ingest_group
from tests.factories import count, dispatched_case, new_id, packet, push, push_body

settle = partial(
    ingest_group,
    tiers=DEFAULT_TIERS,
    irregular_window=timedelta(hours=24),
    stale_fix=DEFAULT_STALE_FIX,
)


async def _user(db, name: str) -> User:
    async with db.session(write=False) as session:
        return (await session.scalars(select(User).where(User.name == name))).one()


def _push(surveyor: User, body: dict, now) -> Push:
    envelope, incoming = decode_push(json.dumps(body).encode(), "application/json", 1000)
    return Push(surveyor, envelope.device_id, envelope.sent_at, incoming, now)


async def _submit_together(groups: GroupCommit, pushes: list[Push]) -> list:
    """Every push queued before the writer first runs: one group, deterministically."""
    tasks = [asyncio.create_task(groups.submit(p)) for p in pushes]
    return await asyncio.gather(*tasks, return_exceptions=True)


async def test_pushes_queued_together_settle_in_one_transaction(client, tokens, db, clock):
    cases = [await dispatched_case(client, tokens, "sv1") for _ in range(3)]
    sv1, sv2 = await _user(db, "sv1"), await _user(db, "sv2")
    devices = [new_id() for _ in cases]
    first = [packet(c["id"], 1, "accepted") for c in cases]
    # sv2's tablet claims sv1's first device: refused whole, nothing of it stored.
    stolen = push_body(devices[0], [packet(cases[0]["id"], 2, "note")])
    # The same batch twice in one group (a retry racing its original): once stored.
    batches = [push_body(d, [p]) for d, p in zip(devices, first, strict=True)]
    pushes = [_push(sv1, b, clock.now()) for b in batches]
    pushes.insert(1, _push(sv1, batches[0], clock.now()))
    groups = GroupCommit(db, settle, max_packets=1000)
    # The devices exist first, so that the stolen push is decided against an owner.
    await _submit_together(groups, [_push(sv1, push_body(d, []), clock.now()) for d in devices])
    before = groups.groups

    answers = await _submit_together(groups, [*pushes, _push(sv2, stolen, clock.now())])

    assert groups.groups == before + 1 and groups.grouped_pushes == len(devices) + 5
    assert [r.status for r in answers[0].results] == ["accepted"]
    assert [r.status for r in answers[1].results] == ["duplicate"]
    assert [[r.status for r in a.results] for a in answers[2:4]] == [["accepted"]] * 2
    assert all(a.acked_through == 1 and a.missing == [] for a in answers[:4])
    assert isinstance(answers[4], Conflict) and answers[4].field == "device_id"
    assert await count(db, Packet) == 3
    assert await count(db, ClockSample) == len(devices) + 4  # the refused push wrote none
    async with db.session(write=False) as session:
        owners = dict((await session.execute(select(Device.device_id, Device.surveyor_id))).all())
    assert set(owners.values()) == {sv1.id}
    # Each answer holds as the tablet reads it back through the API.
    again = await push(client, tokens["sv1"], batches[2])
    assert [r["status"] for r in again.json()["results"]] == ["duplicate"]


async def test_a_failing_group_is_settled_push_by_push(client, tokens, db, clock):
    case = await dispatched_case(client, tokens, "sv1")
    sv1 = await _user(db, "sv1")
    bodies = [push_body(new_id(), [packet(case["id"], 1, "note")]) for _ in range(4)]
    tried: list[int] = []

    async def flaky(session, pushes):
        tried.append(len(pushes))
        if len(pushes) > 1:  # say the database gave up on the group half-way
            await settle(session, pushes)
            raise OperationalError("INSERT", {}, Exception("deadlock detected"))
        return await settle(session, pushes)

    groups = GroupCommit(db, flaky, max_packets=1000)
    answers = await _submit_together(groups, [_push(sv1, b, clock.now()) for b in bodies])

    assert tried == [4, 1, 1, 1, 1]
    assert [[r.status for r in a.results] for a in answers] == [["accepted"]] * 4
    assert await count(db, Packet) == 4  # the failed group's writes were rolled back


async def test_a_group_holds_at_most_max_packets(client, tokens, db, clock):
    case = await dispatched_case(client, tokens, "sv1")
    sv1 = await _user(db, "sv1")
    bodies = [
        push_body(new_id(), [packet(case["id"], seq, "note") for seq in (1, 2, 3)])
        for _ in range(5)
    ]
    groups = GroupCommit(db, settle, max_packets=7)  # two pushes of 3 fit, not three
    answers = await _submit_together(groups, [_push(sv1, b, clock.now()) for b in bodies])

    assert (groups.groups, groups.grouped_pushes) == (3, 5)
    assert all(a.acked_through == 3 for a in answers)
    assert await count(db, Packet) == 15


async def test_a_storm_of_tablets_settles_in_one_group(client, tokens, db, clock):
    """More devices in one group than SQLite takes terms in one compound SELECT (500): the
    group's per-device readings (chain heads, clock samples) still settle it as one."""
    case = await dispatched_case(client, tokens, "sv1")
    sv1 = await _user(db, "sv1")
    groups = GroupCommit(db, settle, max_packets=2000)
    devices = [new_id() for _ in range(1100)]
    for seq in (1, 2):  # the second round finds every device's chain and samples
        bodies = [push_body(d, [packet(case["id"], seq, "note")]) for d in devices]
        before = groups.groups
        answers = await _submit_together(groups, [_push(sv1, b, clock.now()) for b in bodies])
        assert groups.groups == before + 1
        assert all(a.acked_through == seq for a in answers)
    assert await count(db, Packet) == 2 * len(devices)


async def test_concurrent_http_pushes_each_hear_their_own_answer(client, tokens, db):
    cases = [await dispatched_case(client, tokens, "sv1") for _ in range(4)]
    bodies = [
        push_body(new_id(), [packet(c["id"], seq, "note") for seq in range(1, 6)])
        for c in cases
        for _ in range(3)
    ]
    answers = await asyncio.gather(*(push(client, tokens["sv1"], b) for b in bodies))
    for body, answer in zip(bodies, answers, strict=True):
        assert answer.status_code == 200, answer.text
        results = answer.json()["results"]
        assert [r["packet_id"] for r in results] == [p["packet_id"] for p in body["packets"]]
        assert {r["status"] for r in results} == {"accepted"}
        assert answer.json()["acked_through"] == 5
    assert await count(db, Packet) == len(bodies) * 5


async def test_a_group_reads_each_devices_own_newest_clock_samples(db, tokens, clock):
    """Each push of a group is estimated from its device's newest samples only (the last
    eight, by the device's index), as a push alone would be: older readings, which would
    win the minimum, stay out, and another device's never come in."""
    sv1 = await _user(db, "sv1")
    groups = GroupCommit(db, settle, max_packets=1000)
    base = clock.now()
    history = {  # device -> offsets (ms) of its earlier pushes, oldest first
        new_id(): [1_000] * 4 + [60_000 + i * 10 for i in range(4, 12)],
        new_id(): [-90_000] * 4 + [-30_000 + i * 10 for i in range(4, 12)],
    }

    def sent(device: str, now, offset_ms: int):
        sent_at = (now - timedelta(milliseconds=offset_ms)).isoformat()
        return _push(sv1, push_body(device, [], sent_at=sent_at), now)

    for i in range(12):  # one push at a time: each its own group
        now = base + timedelta(seconds=i)
        for device, offsets in history.items():
            await _submit_together(groups, [sent(device, now, offsets[i])])
    now = base + timedelta(seconds=100)
    a, b = history
    together = [sent(a, now, 70_000), sent(b, now, -20_000)]
    async with db.session(write=False) as session:  # the one-device path, for comparison
        alone = [await estimate_offset(session, p.device_id, p.sent_at, now) for p in together]

    answers = await _submit_together(groups, together)

    assert [x.clock_offset_ms for x in answers] == alone == [60_050, -29_950]
