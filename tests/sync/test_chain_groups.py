"""Several pushes settled in one transaction (group commit) extend their devices' chains
in the group's order: one device pushing twice in a group still gets one gapless chain."""

from __future__ import annotations

from sqlalchemy import select

from sync.chain import GENESIS
from sync.groups import GroupCommit
from sync.models import PacketChain
from tests.factories import dispatched_case, new_id, packet, push_body
from tests.sync.test_group_commit import _push, _submit_together, _user, settle


async def test_a_group_of_pushes_extends_each_chain_in_order(client, tokens, db, clock):
    case_id = (await dispatched_case(client, tokens, "sv1"))["id"]
    sv1 = await _user(db, "sv1")
    one, two = new_id(), new_id()
    batches = [
        push_body(one, [packet(case_id, 1), packet(case_id, 2)]),
        push_body(two, [packet(case_id, 1)]),
        push_body(one, [packet(case_id, 3), packet("unknown-case", 4)]),
    ]
    groups = GroupCommit(db, settle, max_packets=1000)
    before = groups.groups
    answers = await _submit_together(groups, [_push(sv1, b, clock.now()) for b in batches])
    assert groups.groups == before + 1  # one transaction for the three
    assert [r.status for r in answers[2].results] == ["accepted", "rejected"]
    async with db.session(write=False) as session:
        chain = (
            await session.execute(
                select(PacketChain.device_id, PacketChain.n, PacketChain.packet_id)
                .add_columns(PacketChain.prev, PacketChain.digest)
                .order_by(PacketChain.device_id, PacketChain.n)
            )
        ).all()
    ids = {d: [e.packet_id for e in chain if e.device_id == d] for d in (one, two)}
    sent_by_one = [p["packet_id"] for b in (batches[0], batches[2]) for p in b["packets"]]
    assert ids == {one: sent_by_one, two: [batches[1]["packets"][0]["packet_id"]]}
    for device in (one, two):
        mine = [e for e in chain if e.device_id == device]
        assert [e.n for e in mine] == list(range(1, len(mine) + 1))
        assert [e.prev for e in mine] == [GENESIS] + [e.digest for e in mine[:-1]]
