"""What really happened, kept while the day is played: the ground truth the server's state
is compared with, and the counts of what was sent."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from simulator.plan import CasePlan


@dataclass
class CaseTruth:
    plan: CasePlan
    case_id: str | None = None
    dispatched_at: datetime | None = None
    times: dict[str, datetime] = field(default_factory=dict)  # first event of each kind
    fixed: dict[str, bool] = field(default_factory=dict)  # did that event carry a GPS fix
    packet_ids: list[str] = field(default_factory=list)
    first_packet: dict[str, str] = field(default_factory=dict)  # kind -> its first packet_id
    media: dict[str, str] = field(default_factory=dict)  # sha256 -> category
    reused_sha: str | None = None


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
