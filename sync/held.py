"""What the store holds under a group of pushes' packets, read once for all of them.

A group of pushes (sync/groups.py) is decided push after push against one reading of the
log, each push's decisions recorded before the next is decided: a retry racing its original
in the same group finds the original's packets exactly as if it had been committed first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from cases.models import Case, Dispatch, Packet
from cases.sql import driver_sql, marks
from sync.decide import Candidate, Decision, Held, Prior
from sync.models import PacketConflict

CASES, DISPATCHES = Case.__table__, Dispatch.__table__
LOG, KEPT = Packet.__tablename__, PacketConflict.__tablename__
_DEVICES_PER_READING = 400


@dataclass(frozen=True)
class Wanted:
    """One push as the reading needs it: its device, its sender (None: no case checks)."""

    device_id: str
    surveyor_id: int | None
    packets: Sequence[Candidate]


@dataclass
class Stored:
    """The log's rows under a group's packet ids and (device, seq) pairs, and the cases."""

    by_id: dict[str, Prior] = field(default_factory=dict)
    by_seq: dict[tuple[str, int], str] = field(default_factory=dict)
    conflicts: dict[tuple[str, int], set[str]] = field(default_factory=dict)
    known_cases: set[str] = field(default_factory=set)
    dispatched: set[tuple[str, int]] = field(default_factory=set)  # (case_id, surveyor_id)

    def held_for(self, wanted: Wanted) -> Held:
        """What one push is decided against (sync/decide.py)."""
        device_id = wanted.device_id
        held = Held(device_id)
        for p in wanted.packets:
            if (prior := self.by_id.get(p.packet_id)) is not None:
                held.by_id[p.packet_id] = prior
            if (pid := self.by_seq.get((device_id, p.seq))) is not None:
                held.by_seq[p.seq] = pid
            if (kept := self.conflicts.get((device_id, p.seq))) is not None:
                held.conflicts[p.seq] = set(kept)
            if p.case_id in self.known_cases:
                held.known_cases.add(p.case_id)
                if (p.case_id, wanted.surveyor_id) in self.dispatched:
                    held.ever_mine.add(p.case_id)
        return held

    def record(
        self, device_id: str, packets: Sequence[Candidate], decisions: Sequence[Decision]
    ) -> None:
        """What a decided push will have written, for the pushes after it in the group."""
        for packet, decision in zip(packets, decisions, strict=True):
            key = (device_id, packet.seq)
            if decision.write == "log":
                status = decision.status if decision.status in ("rejected", "held") else "accepted"
                self.by_id[packet.packet_id] = Prior(
                    device_id, packet.digest, status, decision.reason
                )
                self.by_seq[key] = packet.packet_id
            elif decision.write == "conflict":
                self.conflicts.setdefault(key, set()).add(packet.digest)
                self.by_seq.setdefault(key, packet.packet_id)


async def read_stored(session: AsyncSession, wanted: Sequence[Wanted]) -> Stored:
    """One reading of the log for every push of a group: three queries, whatever its size
    (two more for every 400 devices past the first 400). Plain tuples, not ORM objects: the
    ORM's compile and loading steps cost more than the queries on a replayed push."""
    stored = Stored()
    seqs: dict[str, set[int]] = {}
    ids: dict[str, set[str]] = {}  # by the device that sends them
    case_ids: set[str] = set()
    for w in wanted:
        seqs.setdefault(w.device_id, set()).update(p.seq for p in w.packets)
        ids.setdefault(w.device_id, set()).update(p.packet_id for p in w.packets)
        if w.surveyor_id is not None:
            case_ids.update(p.case_id for p in w.packets)
    if not any(ids.values()):
        return stored
    devices = sorted(seqs)
    conn = await session.connection()
    # A few hundred devices per statement: SQLite's expression trees stop at depth 1000,
    # and a storm's group holds more devices than that.
    for start in range(0, len(devices), _DEVICES_PER_READING):
        await _read_devices(conn, stored, devices[start : start + _DEVICES_PER_READING], seqs, ids)
    if case_ids:
        ids = sorted(case_ids)
        senders = sorted({w.surveyor_id for w in wanted if w.surveyor_id is not None})
        found = await conn.execute(
            _CASES_AND_SENDERS, {"ids": ids, "dispatch_cases": ids, "senders": senders}
        )
        for case_id, surveyor_id in found:
            stored.known_cases.add(case_id)
            if surveyor_id is not None:
                stored.dispatched.add((case_id, surveyor_id))
    return stored


# Which of the cases exist, each with the senders it was ever dispatched to (NULL: none of
# them): one statement, built once (every group and every replay runs it).
_SENDERS = (
    select(DISPATCHES.c.case_id, DISPATCHES.c.surveyor_id)
    .where(DISPATCHES.c.case_id.in_(bindparam("dispatch_cases", expanding=True)))
    .where(DISPATCHES.c.surveyor_id.in_(bindparam("senders", expanding=True)))
    .distinct()
    .subquery()
)
_CASES_AND_SENDERS = (
    select(CASES.c.id, _SENDERS.c.surveyor_id)
    .select_from(CASES.outerjoin(_SENDERS, _SENDERS.c.case_id == CASES.c.id))
    .where(CASES.c.id.in_(bindparam("ids", expanding=True)))
)


async def _read_devices(
    conn: AsyncConnection,
    stored: Stored,
    devices: list[str],
    seqs: dict[str, set[int]],
    ids: dict[str, set[str]],
) -> None:
    """The log's and the kept conflicts' rows for these devices' packet_ids and seqs. Driver
    SQL (cases/sql.py): with a parameter per packet, SQLAlchemy's building and binding of
    these two statements cost more than running them."""
    wanted_ids = sorted({i for d in devices for i in ids[d]})
    by_device = " OR ".join(
        [f"(device_id = ? AND seq IN ({marks(len(seqs[d]))}))" for d in devices]
    )
    rows = await conn.exec_driver_sql(
        driver_sql(
            conn.dialect,
            f"SELECT packet_id, device_id, seq, digest, status, reason FROM {LOG}"
            f" WHERE packet_id IN ({marks(len(wanted_ids))}) OR {by_device}",
        ),
        (*wanted_ids, *_device_seqs(devices, seqs)),
    )
    for pid, dev, seq, dig, status, reason in rows.fetchall():
        stored.by_id[pid] = Prior(dev, dig, status, reason)
        if dev in seqs:
            stored.by_seq[(dev, seq)] = pid
    kept = await conn.exec_driver_sql(
        driver_sql(
            conn.dialect,
            f"SELECT device_id, seq, packet_id, digest FROM {KEPT} WHERE {by_device} ORDER BY id",
        ),
        tuple(_device_seqs(devices, seqs)),
    )
    for dev, seq, pid, dig in kept.fetchall():
        stored.conflicts.setdefault((dev, seq), set()).add(dig)
        stored.by_seq.setdefault((dev, seq), pid)  # a seq settled by a conflict is held


def _device_seqs(devices: list[str], seqs: dict[str, set[int]]) -> list[Any]:
    """The parameters of `by_device`: each device, then its seqs."""
    return [x for d in devices for x in (d, *sorted(seqs[d]))]


async def read_held(
    session: AsyncSession, device_id: str, packets: Sequence[Candidate], surveyor_id: int | None
) -> Held:
    """What one push from `device_id` is decided against (and, given its sender, which of
    its cases exist and were ever dispatched to them)."""
    wanted = Wanted(device_id, surveyor_id, packets)
    return (await read_stored(session, [wanted])).held_for(wanted)
