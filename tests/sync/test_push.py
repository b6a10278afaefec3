"""Pushing packets through HTTP: what is stored, what each packet is told, and what is held."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from sqlalchemy import select, text

from cases.models import Packet
from media.models import PacketMedia
from sync.decide import HELD
from sync.models import ClockSample, Device
from tests.factories import count, dispatched_case, new_id, open_case, packet, push, push_body


async def stored(db, packet_id: str) -> Packet:
    async with db.session(write=False) as session:
        return await session.scalar(select(Packet).where(Packet.packet_id == packet_id))


async def test_accepted_packets_are_stored_verbatim_and_acked(client, tokens, db, clock):
    case = await dispatched_case(client, tokens)
    packets = [packet(case["id"], 1, "accepted"), packet(case["id"], 2, "contacted")]
    body = push_body(new_id(), packets)
    response = await push(client, tokens["sv1"], body)
    assert response.status_code == 200, response.text
    out = response.json()
    assert out["results"] == [{"packet_id": p["packet_id"], "status": "accepted"} for p in packets]
    assert (out["acked_through"], out["missing"], out["media_wanted"]) == (2, [], [])
    assert out["clock_offset_ms"] == 0
    row = await stored(db, packets[0]["packet_id"])
    assert row.status == "accepted" and row.case_id == case["id"] and row.kind == "accepted"
    assert msgspec.json.decode(row.body) == packets[0]  # the packet exactly as sent
    assert row.body_format == "json"
    assert row.received_at == clock.now()
    assert row.occurred_at == datetime(2026, 1, 5, 8, 5, tzinfo=UTC)


async def test_same_push_again_is_all_duplicates_and_changes_nothing(client, tokens, db):
    case = await dispatched_case(client, tokens)
    body = push_body(new_id(), [packet(case["id"], s) for s in (1, 2, 3)])
    first = await push(client, tokens["sv1"], body)
    again = await push(client, tokens["sv1"], body)
    assert [r["status"] for r in first.json()["results"]] == ["accepted"] * 3
    assert [r["status"] for r in again.json()["results"]] == ["duplicate"] * 3
    assert again.json()["acked_through"] == 3
    assert await count(db, Packet) == 3
    assert await count(db, ClockSample) == 1  # a pure replay is answered without a write


async def test_replay_mixing_settled_and_new_packets_takes_the_new_ones(client, tokens, db):
    case = await dispatched_case(client, tokens)
    device = new_id()
    old = [packet(case["id"], s) for s in (1, 2)]
    await push(client, tokens["sv1"], push_body(device, old))
    out = (
        await push(client, tokens["sv1"], push_body(device, [*old, packet(case["id"], 3)]))
    ).json()
    assert [r["status"] for r in out["results"]] == ["duplicate", "duplicate", "accepted"]
    assert out["acked_through"] == 3
    assert await count(db, Packet) == 3


async def test_a_resent_batch_of_settled_packets_gets_its_first_answer_from_a_read(
    client, tokens, db
):
    # A duplicate, a rejection and a conflict: replay answers the re-send as push did.
    case = await dispatched_case(client, tokens)
    device = new_id()
    first = packet(case["id"], 1)
    await push(client, tokens["sv1"], push_body(device, [first]))
    batch = [first, packet(new_id(), 2), {**first, "seq": 3}]
    answer = (await push(client, tokens["sv1"], push_body(device, batch))).json()
    assert [(r["status"], r.get("reason")) for r in answer["results"]] == [
        ("duplicate", None),
        ("rejected", "unknown case"),
        ("rejected", "conflict"),
    ]
    samples = await count(db, ClockSample)
    again = (await push(client, tokens["sv1"], push_body(device, batch))).json()
    assert again == answer
    assert await count(db, ClockSample) == samples  # answered from a read
    # With something new in it, the batch takes the full path, and agrees.
    more = (
        await push(client, tokens["sv1"], push_body(device, [*batch, packet(case["id"], 4)]))
    ).json()
    assert more["results"][:3] == answer["results"]
    assert more["results"][3]["status"] == "accepted"
    assert await count(db, ClockSample) == samples + 1
    listed = await client.get(f"/v1/devices/{device}/rejections", headers=tokens["admin"])
    assert [r["reason"] for r in listed.json()].count("conflict") == 1


async def test_same_content_as_msgpack_with_other_key_order_and_offset_is_a_duplicate(
    client, tokens, db
):
    case = await dispatched_case(client, tokens)
    sent = packet(case["id"], 1, "arrived", occurred_at="2026-01-05T16:05:00+08:00")
    device = new_id()
    assert (await push(client, tokens["sv1"], push_body(device, [sent]))).status_code == 200
    same = dict(reversed(list(sent.items())))  # keys in another order
    same["occurred_at"] = "2026-01-05T08:05:00Z"  # the same instant in UTC
    again = await push(client, tokens["sv1"], push_body(device, [same]), msgpack=True)
    assert again.status_code == 200, again.text
    assert again.json()["results"][0]["status"] == "duplicate"
    assert (await stored(db, sent["packet_id"])).body_format == "json"  # the first stays


async def test_msgpack_push_is_stored_as_received(client, tokens, db):
    case = await dispatched_case(client, tokens)
    sent = packet(case["id"], 1, "photo", media=["a" * 64])
    response = await push(client, tokens["sv1"], push_body(new_id(), [sent]), msgpack=True)
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["status"] == "accepted"
    row = await stored(db, sent["packet_id"])
    assert row.body_format == "msgpack"
    assert msgspec.msgpack.decode(row.body) == sent
    assert row.category == "scene"


async def test_other_content_under_a_stored_packet_id_is_a_conflict_and_the_first_stays(
    client, tokens, db
):
    case = await dispatched_case(client, tokens)
    device = new_id()
    first = packet(case["id"], 1, "note", data={"text": "first"})
    await push(client, tokens["sv1"], push_body(device, [first]))
    changed = {**first, "data": {"text": "second"}}
    response = await push(client, tokens["sv1"], push_body(device, [changed]))
    assert response.json()["results"] == [
        {"packet_id": first["packet_id"], "status": "rejected", "reason": "conflict"}
    ]
    row = await stored(db, first["packet_id"])
    assert msgspec.json.decode(row.body)["data"] == {"text": "first"}
    assert await count(db, Packet) == 1
    conflicts = await db_conflicts(db)
    assert [(c.packet_id, c.seq) for c in conflicts] == [(first["packet_id"], 1)]


async def db_conflicts(db):
    from sync.models import PacketConflict

    async with db.session(write=False) as session:
        return list(await session.scalars(select(PacketConflict)))


async def test_another_packet_under_a_held_seq_is_a_conflict(client, tokens, db):
    case = await dispatched_case(client, tokens)
    device = new_id()
    await push(client, tokens["sv1"], push_body(device, [packet(case["id"], 1)]))
    other = packet(case["id"], 1)  # new packet_id, same device and seq
    response = await push(client, tokens["sv1"], push_body(device, [other]))
    assert response.json()["results"][0] == {
        "packet_id": other["packet_id"],
        "status": "rejected",
        "reason": "conflict",
    }
    assert await count(db, Packet) == 1


async def test_packet_for_unknown_or_foreign_case_is_settled_rejected_or_held(client, tokens, db):
    mine = await dispatched_case(client, tokens, surveyor="sv1")
    theirs = await dispatched_case(client, tokens, surveyor="sv2")
    undispatched = await open_case(client, tokens["disp"])
    packets = [
        packet(mine["id"], 1),
        packet(new_id(), 2),
        packet(theirs["id"], 3),
        packet(undispatched["id"], 4),
        packet(mine["id"], 5),
    ]
    device = new_id()
    out = (await push(client, tokens["sv1"], push_body(device, packets))).json()
    assert [(r["status"], r.get("reason")) for r in out["results"]] == [
        ("accepted", None),
        ("rejected", "unknown case"),
        ("held", HELD),
        ("held", HELD),
        ("accepted", None),
    ]
    assert out["acked_through"] == 5 and out["missing"] == []  # rejections are settled
    async with db.session(write=False) as session:
        statuses = dict(
            (await session.execute(select(Packet.seq, Packet.status).order_by(Packet.seq))).all()
        )
    assert statuses == {1: "accepted", 2: "rejected", 3: "held", 4: "held", 5: "accepted"}
    # sending them again: the unknown case's packet gets the same rejection, a held one is
    # stored, so a duplicate
    again = (await push(client, tokens["sv1"], push_body(device, packets[1:4]))).json()
    assert [(r["status"], r.get("reason")) for r in again["results"]] == [
        ("rejected", "unknown case"),
        ("duplicate", None),
        ("duplicate", None),
    ]


async def test_acked_through_stops_at_the_first_hole_and_missing_lists_them(client, tokens):
    case = await dispatched_case(client, tokens)
    device = new_id()
    out = (
        await push(
            client, tokens["sv1"], push_body(device, [packet(case["id"], s) for s in (1, 2, 5, 7)])
        )
    ).json()
    assert (out["acked_through"], out["missing"]) == (2, [3, 4, 6])
    out = (
        await push(
            client, tokens["sv1"], push_body(device, [packet(case["id"], s) for s in (4, 3)])
        )
    ).json()
    assert (out["acked_through"], out["missing"]) == (5, [6])
    out = (await push(client, tokens["sv1"], push_body(device, [packet(case["id"], 6)]))).json()
    assert (out["acked_through"], out["missing"]) == (7, [])


async def test_an_empty_push_reports_where_the_device_stands(client, tokens):
    case = await dispatched_case(client, tokens)
    device = new_id()
    await push(client, tokens["sv1"], push_body(device, [packet(case["id"], 1)]))
    out = (await push(client, tokens["sv1"], push_body(device, []))).json()
    assert (out["results"], out["acked_through"], out["missing"]) == ([], 1, [])


async def test_clock_offset_is_server_minus_tablet_and_corrects_event_times(
    client, tokens, db, clock
):
    case = await dispatched_case(client, tokens)
    tablet_now = clock.now() - timedelta(seconds=90)  # the tablet is 90 s slow
    sent = packet(case["id"], 1, "accepted", occurred_at="2026-01-05T08:01:00Z")
    body = push_body(new_id(), [sent], sent_at=tablet_now.isoformat())
    out = (await push(client, tokens["sv1"], body)).json()
    assert out["clock_offset_ms"] == 90_000
    row = await stored(db, sent["packet_id"])
    assert row.occurred_at == datetime(2026, 1, 5, 8, 1, tzinfo=UTC)  # raw, as the tablet said
    assert row.corrected_at == datetime(2026, 1, 5, 8, 2, 30, tzinfo=UTC)
    assert row.clock_offset_ms == 90_000
    assert await count(db, ClockSample) == 1


async def test_slow_push_does_not_spoil_the_offset_estimate(client, tokens, db, clock):
    """A push that spent a minute in transit reads 60 s too high; the fast one wins."""
    case = await dispatched_case(client, tokens)
    device = new_id()
    fast = push_body(device, [packet(case["id"], 1)], sent_at=clock.now().isoformat())
    assert (await push(client, tokens["sv1"], fast)).json()["clock_offset_ms"] == 0
    clock.advance(minutes=10)
    slow_sent = clock.now() - timedelta(seconds=60)
    slow = push_body(device, [packet(case["id"], 2)], sent_at=slow_sent.isoformat())
    assert (await push(client, tokens["sv1"], slow)).json()["clock_offset_ms"] == 0
    # a tablet clock set 5 minutes fast shows at once
    clock.advance(minutes=10)
    fast_clock = push_body(
        device, [packet(case["id"], 3)], sent_at=(clock.now() + timedelta(minutes=5)).isoformat()
    )
    assert (await push(client, tokens["sv1"], fast_clock)).json()["clock_offset_ms"] == -300_000


async def test_media_wanted_lists_referenced_media_not_held(client, tokens, db):
    case = await dispatched_case(client, tokens)
    a, b = "a" * 64, "b" * 64
    sent = [packet(case["id"], 1, "photo", media=[a, b]), packet(case["id"], 2, "photo", media=[a])]
    out = (await push(client, tokens["sv1"], push_body(new_id(), sent))).json()
    assert out["media_wanted"] == [a, b]
    assert await count(db, PacketMedia) == 3
    assert await count(db, PacketMedia, PacketMedia.sha256 == a) == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"gps": {"lat": 95, "lon": 121}}, "packets[0].gps.lat"),
        ({"gps": {"lat": 31, "lon": -181}}, "packets[0].gps.lon"),
        ({"seq": 0}, "packets[0].seq"),
        ({"seq": "one"}, "packets[0].seq"),
        ({"kind": "teleported"}, "packets[0].kind"),
        ({"occurred_at": "yesterday"}, "packets[0].occurred_at"),
        ({"occurred_at": "2026-01-05T08:00:00"}, "packets[0].occurred_at"),
        ({"gps": {"lat": 31, "lon": 121, "fix_time": "soon"}}, "packets[0].gps.fix_time"),
        ({"occurred_at": "0001-01-01T00:00:00Z"}, "packets[0].occurred_at"),
        ({"occurred_at": "9999-12-31T23:59:59+14:00"}, "packets[0].occurred_at"),
        (
            {"gps": {"lat": 31, "lon": 121, "fix_time": "0001-01-01T00:00:00Z"}},
            "packets[0].gps.fix_time",
        ),
        ({"kind": "photo", "data": {}}, "packets[0].data.category"),
        ({"kind": "document", "data": {"category": "selfie"}}, "packets[0].data.category"),
        ({"kind": "estimate_submitted", "data": {"items": []}}, "packets[0].data.amount"),
        ({"media": ["not-a-hash"]}, "packets[0].media[0]"),
        ({"packet_id": ""}, "packets[0].packet_id"),
        ({"data": {"text": "a\x00b"}}, "packets[0].data"),
    ],
)
async def test_malformed_packet_refuses_the_whole_push_naming_the_field(
    client, tokens, db, change, field
):
    case = await dispatched_case(client, tokens)
    good = packet(case["id"], 1)
    bad = {**packet(case["id"], 2), **change}
    response = await push(client, tokens["sv1"], push_body(new_id(), [good, bad]))
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert detail.startswith(f"{field.replace('[0]', '[1]', 1)}:"), detail
    assert await count(db, Packet) == 0
    assert await count(db, Device) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sent_at": "2026-01-05T08:00:00Z", "packets": []}, "device_id"),
        ({"device_id": "d1", "packets": []}, "sent_at"),
        ({"device_id": "d1", "sent_at": "2026-01-05T08:00:00Z"}, "packets"),
        ({"device_id": "d1", "sent_at": "2026-01-05T08:00:00Z", "packets": {}}, "packets"),
        ({"device_id": "d/1", "sent_at": "2026-01-05T08:00:00Z", "packets": []}, "device_id"),
        ({"device_id": "d1", "sent_at": "0001-01-01T00:00:00Z", "packets": []}, "sent_at"),
    ],
)
async def test_malformed_envelope_is_400_naming_the_field(client, tokens, db, body, field):
    response = await push(client, tokens["sv1"], body)
    assert response.status_code == 400
    assert field in response.json()["detail"]
    assert await count(db, Device) == 0


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[]", b"\xc1", b'{"a":' * 50_000])
async def test_unparsable_push_is_400(client, tokens, raw):
    for content_type in ("application/json", "application/msgpack"):
        headers = {**tokens["sv1"], "Content-Type": content_type}
        response = await client.post("/v1/sync/push", content=raw, headers=headers)
        assert response.status_code == 400, (content_type, raw[:10], response.text)


async def test_device_of_another_surveyor_is_409_and_nothing_is_stored(client, tokens, db):
    mine = await dispatched_case(client, tokens, surveyor="sv1")
    theirs = await dispatched_case(client, tokens, surveyor="sv2")
    device = new_id()
    await push(client, tokens["sv1"], push_body(device, [packet(mine["id"], 1)]))
    response = await push(client, tokens["sv2"], push_body(device, [packet(theirs["id"], 2)]))
    assert response.status_code == 409
    assert response.json()["detail"].startswith("device_id:")
    assert await count(db, Packet) == 1
    assert await count(db, ClockSample) == 1


@pytest.mark.parametrize(("who", "status"), [("disp", 403), ("rev", 403), (None, 401)])
async def test_only_surveyors_push(client, tokens, db, who, status):
    headers = tokens[who] if who else {}
    response = await push(client, headers, push_body(new_id(), []))
    assert response.status_code == status


async def test_the_packet_log_refuses_updates_and_deletes(client, tokens, db):
    case = await dispatched_case(client, tokens)
    sent = packet(case["id"], 1)
    await push(client, tokens["sv1"], push_body(new_id(), [sent]))
    for sql in ("UPDATE packets SET kind = 'note'", "DELETE FROM packets"):
        async with db.session() as session:
            with pytest.raises(Exception, match="append-only"):
                await session.execute(text(sql))
            await session.rollback()
    assert await count(db, Packet) == 1


async def test_the_desk_lists_a_devices_rejections_and_where_it_stands(client, tokens):
    case = await dispatched_case(client, tokens)
    device = new_id()
    first = packet(case["id"], 1, data={"text": "first"})
    stray = packet(new_id(), 2)
    await push(client, tokens["sv1"], push_body(device, [first, stray]))
    await push(client, tokens["sv1"], push_body(device, [{**first, "data": {"text": "other"}}]))
    response = await client.get(f"/v1/devices/{device}/rejections", headers=tokens["disp"])
    assert response.status_code == 200
    assert [(r["packet_id"], r["seq"], r["reason"]) for r in response.json()] == [
        (first["packet_id"], 1, "conflict"),
        (stray["packet_id"], 2, "unknown case"),
    ]
    listed = (await client.get("/v1/devices", headers=tokens["rev"])).json()
    assert [(d["device_id"], d["surveyor"], d["acked_through"]) for d in listed] == [
        (device, "sv1", 2)
    ]
    assert (
        await client.get("/v1/devices/nope/rejections", headers=tokens["disp"])
    ).status_code == 404
    assert (await client.get("/v1/devices", headers=tokens["sv1"])).status_code == 403
