"""What really happened, kept while the day is played: the ground truth the server's state
is compared with, and the counts of what was sent."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from simulator.plan import CasePlan


@dataclass(frozen=True)
class Recorded:
    """An event as it truly happened."""

    kind: str
    at: datetime
    fixed: bool  # did it carry a GPS fix
    packet_id: str


@dataclass
class LegTruth:
    """One dispatch of the case and what its surveyor recorded for it."""

    device: int
    purpose: str
    dispatched_at: datetime | None = None  # the server's, from its answer
    events: list[Recorded] = field(default_factory=list)

    def first(self, kind: str) -> Recorded | None:
        return next((e for e in self.events if e.kind == kind), None)

    def all(self, kind: str) -> list[Recorded]:
        return [e for e in self.events if e.kind == kind]


@dataclass
class CaseTruth:
    plan: CasePlan
    case_id: str | None = None
    reported_at: datetime | None = None  # as sent when opening the case
    legs: list[LegTruth] = field(default_factory=list)
    packet_ids: list[str] = field(default_factory=list)
    media: dict[str, str] = field(default_factory=dict)  # sha256 -> category
    reused_sha: str | None = None
    doctored: dict[str, str] = field(default_factory=dict)  # sha256 -> planted kind
    # The desk's acts, each at the server's instant as its answer gives it.
    delegated_at: datetime | None = None
    reviews: list[tuple[str, datetime]] = field(default_factory=list)  # (decision, at)
    closed_at: datetime | None = None

    def __post_init__(self) -> None:
        if not self.legs:
            self.legs = [LegTruth(self.plan.device, "scene")]
            self.legs += [LegTruth(leg.device, leg.purpose) for leg in self.plan.acts.legs]

    @property
    def dispatched_at(self) -> datetime | None:
        """The first dispatch (the tablet's own)."""
        return self.legs[0].dispatched_at

    @dispatched_at.setter
    def dispatched_at(self, value: datetime | None) -> None:
        self.legs[0].dispatched_at = value

    def record(self, leg: int, kind: str, at: datetime, fixed: bool, packet_id: str) -> None:
        self.legs[leg].events.append(Recorded(kind, at, fixed, packet_id))
        self.packet_ids.append(packet_id)

    def dispatched(self) -> list[LegTruth]:
        return [leg for leg in self.legs if leg.dispatched_at is not None]


@dataclass
class Ledger:
    cases: list[CaseTruth]
    statuses: Counter = field(default_factory=Counter)  # push results, every push counted
    rejected: dict[str, str] = field(default_factory=dict)  # packet_id -> reason
    push_rtt: dict[str, float] = field(default_factory=dict)  # packet_id -> real s, first ack
    push_errors: Counter = field(default_factory=Counter)  # HTTP status or exception name
    pushes: int = 0
    batches_twice: int = 0
    batches_raced: int = 0
    batches_reordered: int = 0
    offline_flushes: int = 0  # flushes that carried packets queued while offline
    media_put: int = 0
    media_tus: int = 0
    tus_resumed: list[int] = field(default_factory=list)  # offsets uploads resumed from
    media_errors: Counter = field(default_factory=Counter)
    max_lag_s: float = 0.0  # how late (simulated s) an event was recorded after its time
    clock_corrected_midqueue: int = 0  # packets stamped by a wrong clock, sent once corrected
    unsent: int = 0  # packets still queued when the tablet gave up
    notes: list[str] = field(default_factory=list)
    latency: dict[str, list[float]] = field(default_factory=dict)  # request kind -> real s
    acts: Counter = field(default_factory=Counter)  # desk acts done, by kind
    act_errors: Counter = field(default_factory=Counter)  # desk acts the server refused

    def took(self, kind: str, seconds: float) -> None:
        self.latency.setdefault(kind, []).append(seconds)

    def latency_ms(self) -> dict[str, dict[str, float]]:
        """p50 / p99 / max of each kind of request, in real milliseconds."""
        out = {}
        for kind, values in sorted(self.latency.items()):
            ordered = sorted(values)
            out[kind] = {
                "n": len(ordered),
                "p50": _at(ordered, 0.5),
                "p99": _at(ordered, 0.99),
                "max": _at(ordered, 1.0),
            }
        return out

    def note(self, message: str) -> None:
        if len(self.notes) < 20 and message not in self.notes:
            self.notes.append(message)


def _at(ordered: list[float], q: float) -> float:
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)
