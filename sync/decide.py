"""Deciding a packet before anything is written: duplicate, conflict, rejected or accepted.

Pure: a push first reads what the store holds that its packets touch (`Held`), decides every
packet here, then writes what was decided. Replay answers a re-sent batch with the same rule,
so the two can never disagree on what a re-send gets.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, Protocol

CONFLICT = "conflict"
UNKNOWN_CASE = "unknown case"
NOT_YOURS = "case not dispatched to this surveyor"
# An irregular report (不规则报案): the surveyor went before the dispatch reached the system.
# The packet is kept and settles its seq; a dispatch to its sender soon after brings it into
# the timeline (cases/timeline.py, within Settings.irregular_window_seconds), otherwise
# it stays out.
HELD = "case not dispatched to this surveyor (yet): held until it is"

# `held` is an addition to protocol v1: a tablet that does not know it treats it like any
# settled packet (it is under acked_through).
Status = Literal["accepted", "duplicate", "rejected", "held"]


class Candidate(Protocol):
    """What the decision reads of an incoming packet."""

    @property
    def packet_id(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def case_id(self) -> str: ...
    @property
    def digest(self) -> str: ...
    @property
    def refusal(self) -> str | None: ...


@dataclass(frozen=True)
class Prior:
    """A packet the log holds: the device that sent it, its content digest, its settlement."""

    device_id: str
    digest: str
    status: Literal["accepted", "rejected", "held"]
    reason: str | None = None


@dataclass
class Held:
    """What the store holds that a batch from `device_id` is decided against."""

    device_id: str
    by_id: dict[str, Prior] = field(default_factory=dict)
    # This device's seqs already settled (by the log or by a kept conflict) -> packet_id.
    by_seq: dict[int, str] = field(default_factory=dict)
    # This device's seqs -> the digests kept there as conflicts (each kept once).
    conflicts: dict[int, set[str]] = field(default_factory=dict)
    known_cases: set[str] = field(default_factory=set)
    ever_mine: set[str] = field(default_factory=set)  # cases ever dispatched to the sender


@dataclass(frozen=True)
class Decision:
    status: Status
    reason: str | None = None
    # What settling it writes: a new row of the log, a conflict kept for the desk, nothing.
    write: Literal["log", "conflict"] | None = None


# The common decisions, made once (frozen, so shared): a push decides one per packet.
_DUPLICATE = Decision("duplicate")
_ACCEPTED = Decision("accepted", None, "log")
_HELD = Decision("held", HELD, "log")
_UNKNOWN_CASE = Decision("rejected", UNKNOWN_CASE, "log")


def decide(packet: Candidate, held: Held) -> Decision:
    """One packet against what is held (the contract's rules, in order)."""
    prior = held.by_id.get(packet.packet_id)
    if prior is not None and prior.device_id == held.device_id and prior.digest == packet.digest:
        if prior.status == "rejected":
            return Decision("rejected", prior.reason)  # sending it again: the same rejection
        return _DUPLICATE
    if prior is not None or packet.seq in held.by_seq:
        # Its packet_id is held with other content or by another device, or its seq by
        # another packet: what was stored first stays, this is kept once for the desk.
        kept = packet.digest in held.conflicts.get(packet.seq, ())
        return Decision("rejected", CONFLICT, None if kept else "conflict")
    if packet.refusal is not None:
        return Decision("rejected", packet.refusal, "log")
    if packet.case_id not in held.known_cases:
        return _UNKNOWN_CASE
    if packet.case_id not in held.ever_mine:
        return _HELD
    return _ACCEPTED


def decide_batch(packets: Iterable[Candidate], held: Held) -> list[Decision]:
    """Every packet in order, each settled one held for those after it (a batch may carry
    one packet twice, or two under one seq). `held` itself is left as it was."""
    held = Held(
        held.device_id,
        dict(held.by_id),
        dict(held.by_seq),
        {seq: set(digests) for seq, digests in held.conflicts.items()},
        held.known_cases,  # only read
        held.ever_mine,
    )
    decisions = []
    for packet in packets:
        decision = decide(packet, held)
        if decision.write == "log":
            status = decision.status if decision.status in ("rejected", "held") else "accepted"
            held.by_id[packet.packet_id] = Prior(
                held.device_id, packet.digest, status, decision.reason
            )
            held.by_seq[packet.seq] = packet.packet_id
        elif decision.write == "conflict":
            held.conflicts.setdefault(packet.seq, set()).add(packet.digest)
            held.by_seq.setdefault(packet.seq, packet.packet_id)
        decisions.append(decision)
    return decisions
