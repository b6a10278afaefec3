"""Time that survives clock changes: a tablet sends its monotonic clock (`boot_id`,
`elapsed_ms`) with each packet and with the push, and an event of the push's boot is timed
by the push's receipt minus the elapsed difference, whatever its wall clock did between."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from cases.models import Packet
from server.app import create_app
from server.settings import Settings, SettingsError
from sync.packets import MAX_ELAPSED_MS, digest
from sync.packets import Packet as WirePacket
from tests.factories import T0, at, count, dispatched_case, new_id, packet, push, push_body
from tests.tablets import SCENE, case_read, iso

HOUR = timedelta(hours=1)


class MonotonicTablet:
    """A tablet whose wall clock is `skew` off (changed whenever the test says: a correction)
    and whose monotonic clock counts from its boot at `booted` (true time)."""

    def __init__(self, headers: dict[str, str], booted: datetime = T0 - HOUR) -> None:
        self.headers = headers
        self.device_id = new_id()
        self.boot_id = new_id()
        self.booted = booted
        self.skew = timedelta()
        self._seq = itertools.count(1)

    def elapsed_ms(self, true_time: datetime) -> int:
        return round((true_time - self.booted).total_seconds() * 1000)

    def record(
        self, case_id: str, kind: str, true_time: datetime, *, fix: datetime | None = None
    ) -> dict[str, Any]:
        """A packet recorded at `true_time` (its GPS fix taken at `fix`, if given)."""
        body = packet(
            case_id,
            next(self._seq),
            kind,
            occurred_at=iso(true_time + self.skew),
            boot_id=self.boot_id,
            elapsed_ms=self.elapsed_ms(true_time),
        )
        body.pop("gps", None)
        if fix is not None:
            body["gps"] = {**SCENE, "accuracy_m": 8, "fix_time": iso(fix)}
        return body

    async def send(self, client, clock, packets: list[dict], **envelope: Any) -> dict:
        body = push_body(self.device_id, packets, sent_at=iso(clock.now() + self.skew))
        body |= {"boot_id": self.boot_id, "elapsed_ms": self.elapsed_ms(clock.now())} | envelope
        response = await push(client, self.headers, body)
        assert response.status_code == 200, response.text
        return response.json()


async def events(client, tokens, case_id: str) -> dict[str, tuple[datetime, str, list[str]]]:
    """kind -> (time, source, flags) of the case's events."""
    case = await case_read(client, case_id, tokens["disp"])
    return {
        e["kind"]: (datetime.fromisoformat(e["time"]), e["source"], e["flags"])
        for e in case["events"]
    }


async def stored(db, packet_id: str) -> Packet:
    async with db.session(write=False) as session:
        return await session.scalar(select(Packet).where(Packet.packet_id == packet_id))


async def test_a_clock_corrected_mid_queue_times_its_events_exactly(client, tokens, clock, db):
    case = await dispatched_case(client, tokens)  # at T0
    tablet = MonotonicTablet(tokens["sv1"])
    tablet.skew = -HOUR  # an hour slow while recording, without signal
    queue = [
        tablet.record(case["id"], "accepted", at(2)),
        tablet.record(case["id"], "arrived", at(20)),
    ]
    clock.set(at(45))
    tablet.skew = timedelta()  # signal is back: the phone corrects its clock, then sends
    out = await tablet.send(client, clock, queue)
    assert out["clock_offset_ms"] == 0  # the push itself says nothing was wrong
    got = await events(client, tokens, case["id"])
    assert got["accepted"] == (at(2), "device_monotonic", [])
    assert got["arrived"] == (at(20), "device_monotonic", ["arrival_without_fix"])
    row = await stored(db, queue[1]["packet_id"])
    assert row.corrected_at == at(20) - HOUR  # the wall clock's story, kept as it was
    assert (row.boot_id, row.elapsed_ms) == (tablet.boot_id, tablet.elapsed_ms(at(20)))
    assert row.monotonic_at == at(20)
    timings = {
        t["name"]: t for t in (await case_read(client, case["id"], tokens["disp"]))["timings"]
    }
    assert (timings["arrival"]["seconds"], timings["arrival"]["source"]) == (
        1200,
        "device_monotonic",
    )
    assert timings["arrival"]["state"] == "met"


async def test_a_right_fix_is_believed_though_the_clock_was_wrong_when_it_was_taken(
    client, tokens, clock
):
    """The issue's case: an hour fast at the scene, corrected before sending. An old tablet's
    fix is refused and the arrival timed by when signal came back; the monotonic clock
    vouches for the fix."""
    old_case = await dispatched_case(client, tokens, surveyor="sv1")
    new_case = await dispatched_case(client, tokens, surveyor="sv2")
    old, new = MonotonicTablet(tokens["sv1"]), MonotonicTablet(tokens["sv2"])
    old.skew = new.skew = HOUR
    old_arrival = old.record(old_case["id"], "arrived", at(20), fix=at(20))
    for name in ("boot_id", "elapsed_ms"):
        del old_arrival[name]
    new_arrival = new.record(new_case["id"], "arrived", at(20), fix=at(20))
    clock.set(at(40))
    old.skew = new.skew = timedelta()
    sent = await push(
        client, tokens["sv1"], push_body(old.device_id, [old_arrival], sent_at=iso(at(40)))
    )
    assert sent.status_code == 200, sent.text
    await new.send(client, clock, [new_arrival])
    assert (await events(client, tokens, old_case["id"]))["arrived"] == (
        at(40),
        "server_received",
        ["gps_time_implausible", "device_time_after_receipt"],
    )
    assert (await events(client, tokens, new_case["id"]))["arrived"] == (at(20), "gps", [])


async def test_a_fix_consistent_with_the_monotonic_time_is_preferred(client, tokens, clock):
    case = await dispatched_case(client, tokens)
    tablet = MonotonicTablet(tokens["sv1"])
    tablet.skew = timedelta(minutes=-30)
    arrival = tablet.record(case["id"], "arrived", at(20), fix=at(20) - timedelta(seconds=4))
    clock.set(at(21))
    await tablet.send(client, clock, [arrival])
    got = (await events(client, tokens, case["id"]))["arrived"]
    assert got == (at(20) - timedelta(seconds=4), "gps", [])


async def test_after_a_reboot_the_elapsed_time_of_the_old_boot_is_ignored(
    client, tokens, clock, db
):
    case = await dispatched_case(client, tokens)
    tablet = MonotonicTablet(tokens["sv1"])
    tablet.skew = timedelta(minutes=2)
    queue = [tablet.record(case["id"], "accepted", at(2))]
    clock.set(at(30))
    tablet.boot_id, tablet.booted = new_id(), at(25)  # rebooted: its count started again
    out = await tablet.send(client, clock, queue)
    assert out["results"][0]["status"] == "accepted"
    got = (await events(client, tokens, case["id"]))["accepted"]
    assert got == (at(2), "device_corrected", [])  # offset of -2 min from this push
    row = await stored(db, queue[0]["packet_id"])
    assert row.monotonic_at is None and row.elapsed_ms == 62 * 60 * 1000


async def test_a_stale_fix_is_flagged_and_not_taken(client, tokens, clock):
    case = await dispatched_case(client, tokens)
    tablet = MonotonicTablet(tokens["sv1"])
    stale = tablet.record(case["id"], "arrived", at(20), fix=at(10))  # a cached fix
    ahead = tablet.record(case["id"], "photo", at(22), fix=at(30))  # later than anything
    clock.set(at(40))
    await tablet.send(client, clock, [stale, ahead])
    got = await events(client, tokens, case["id"])
    assert got["arrived"] == (at(20), "device_monotonic", ["gps_time_implausible", "stale_fix"])
    assert got["photo"] == (at(22), "device_monotonic", ["gps_time_implausible"])


async def test_the_stale_fix_margin_is_a_setting(database_url, tmp_path, tokens, clock):
    env = {"KANCHA_STALE_FIX_SECONDS": "900", "KANCHA_DATABASE_URL": database_url}
    settings = Settings.from_env({**env, "KANCHA_DATA_DIR": str(tmp_path / "data")})
    assert settings.stale_fix_seconds == 900
    async with AsyncTestClient(app=create_app(settings, clock=clock)) as client:
        case = await dispatched_case(client, tokens)
        tablet = MonotonicTablet(tokens["sv1"])
        within = tablet.record(case["id"], "arrived", at(20), fix=at(10))  # 10 min < 15
        beyond = tablet.record(case["id"], "photo", at(30), fix=at(10))  # 20 min > 15
        clock.set(at(40))
        await tablet.send(client, clock, [within, beyond])
        got = await events(client, tokens, case["id"])
        assert got["arrived"] == (at(10), "gps", [])
        assert got["photo"] == (at(30), "device_monotonic", ["gps_time_implausible", "stale_fix"])


@pytest.mark.parametrize("value", ["-1", "999999999", "soon"])
def test_an_unusable_stale_fix_margin_stops_the_start_naming_it(tmp_path, value):
    with pytest.raises(SettingsError, match="KANCHA_STALE_FIX_SECONDS"):
        create_app(
            Settings.from_env({"KANCHA_STALE_FIX_SECONDS": value, "KANCHA_DATA_DIR": str(tmp_path)})
        )


async def test_a_packet_read_after_its_push_was_sent_falls_back(client, tokens, clock):
    case = await dispatched_case(client, tokens)
    tablet = MonotonicTablet(tokens["sv1"])
    accepted = tablet.record(case["id"], "accepted", at(2))
    accepted["elapsed_ms"] = tablet.elapsed_ms(at(50))  # later than the push below
    clock.set(at(30))
    await tablet.send(client, clock, [accepted])
    got = (await events(client, tokens, case["id"]))["accepted"]
    assert got == (at(2), "device_corrected", ["monotonic_after_receipt"])


async def test_old_tablets_are_timed_and_digested_as_before(client, tokens, clock, db):
    case = await dispatched_case(client, tokens)
    clock.set(at(30))
    accepted = packet(case["id"], 1, "accepted", occurred_at=iso(at(2) - timedelta(minutes=3)))
    sent = await push(
        client,
        tokens["sv1"],
        push_body(new_id(), [accepted], sent_at=iso(at(30) - timedelta(minutes=3))),
    )
    assert sent.json()["results"][0]["status"] == "accepted"
    assert (await events(client, tokens, case["id"]))["accepted"] == (
        at(2),
        "device_corrected",
        [],
    )
    row = await stored(db, accepted["packet_id"])
    assert (row.boot_id, row.elapsed_ms, row.monotonic_at) == (None, None, None)
    # The digest a packet without the new fields had before they existed (so a queue sent
    # before the upgrade is still told `duplicate`, not `conflict`).
    before = (
        b'{"packet_id":"p-1","seq":3,"case_id":"c-1","kind":"arrived",'
        b'"occurred_at":"2026-01-05T16:20:00+08:00","gps":{"lat":31.23,"lon":121.47,'
        b'"accuracy_m":8,"fix_time":"2026-01-05T08:20:00Z"},"data":{"x":1},"media":[]}'
    )
    assert digest(msgspec.json.decode(before, type=WirePacket)) == (
        "cf3cc62a16e5927f73b0eb8cb482eb92adbf2511e13e5198ae432f7ca9a4b855"
    )


async def test_the_monotonic_fields_are_packet_content(client, tokens, clock):
    case = await dispatched_case(client, tokens)
    tablet = MonotonicTablet(tokens["sv1"])
    first = tablet.record(case["id"], "accepted", at(2))
    clock.set(at(5))
    assert (await tablet.send(client, clock, [first]))["results"][0]["status"] == "accepted"
    clock.set(at(9))  # sent again later: the push's own reading differs, the packet does not
    again = await tablet.send(client, clock, [first])
    assert again["results"][0]["status"] == "duplicate"
    as_msgpack = push_body(tablet.device_id, [first], sent_at=iso(at(9)))
    as_msgpack |= {"boot_id": tablet.boot_id, "elapsed_ms": tablet.elapsed_ms(at(9))}
    sent = await push(client, tokens["sv1"], as_msgpack, msgpack=True)
    assert sent.json()["results"][0]["status"] == "duplicate"
    for changed in ({**first, "elapsed_ms": first["elapsed_ms"] + 1}, {**first, "boot_id": "b2"}):
        out = await tablet.send(client, clock, [changed])
        assert out["results"][0] == {
            "packet_id": first["packet_id"],
            "status": "rejected",
            "reason": "conflict",
        }
    without = {k: v for k, v in first.items() if k not in ("boot_id", "elapsed_ms")}
    assert (await tablet.send(client, clock, [without]))["results"][0]["reason"] == "conflict"
    assert (await events(client, tokens, case["id"]))["accepted"][:2] == (at(2), "device_monotonic")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"elapsed_ms": -1}, "packets[0].elapsed_ms"),
        ({"elapsed_ms": MAX_ELAPSED_MS + 1}, "packets[0].elapsed_ms"),
        ({"elapsed_ms": 1.5}, "packets[0].elapsed_ms"),
        ({"elapsed_ms": None}, "packets[0].elapsed_ms"),  # boot_id alone
        ({"boot_id": None}, "packets[0].boot_id"),  # elapsed_ms alone
        ({"boot_id": ""}, "packets[0].boot_id"),
        ({"push_elapsed_ms": -5}, "elapsed_ms"),
        ({"push_elapsed_ms": None}, "elapsed_ms"),
        ({"push_boot_id": None}, "boot_id"),
    ],
)
async def test_bad_monotonic_readings_are_400_naming_the_field(client, tokens, db, change, field):
    case = await dispatched_case(client, tokens)
    tablet = MonotonicTablet(tokens["sv1"])
    body = tablet.record(case["id"], "accepted", at(2))
    envelope = {"boot_id": tablet.boot_id, "elapsed_ms": tablet.elapsed_ms(at(3))}
    for key, value in change.items():
        target, key = (envelope, key[5:]) if key.startswith("push_") else (body, key)
        if value is None:
            del target[key]
        else:
            target[key] = value
    sent = await push(
        client, tokens["sv1"], push_body(tablet.device_id, [body]) | envelope, msgpack=True
    )
    assert sent.status_code == 400, sent.text
    assert sent.json()["detail"].startswith(f"{field}:"), sent.text
    assert await count(db, Packet) == 0
