"""Out-of-town cases (外地委托): the branch's duty is to arrange a delegated survey within
the limit (1 h by default) of the dispatch; the delegate (another branch or insurer) sends
nothing, so the `delegation` timing ends when the dispatcher records the delegation (recorded by
cases/closing.py `delegate_case`; pure here)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cases.timeline import CaseFacts, DispatchFact
from cases.timings import Measure

DELEGATED = "delegated"


@dataclass(frozen=True)
class ActionFact:
    """A desk act on the case (case_actions), as the timings read it."""

    kind: str
    at: datetime


def delegation_measure(
    case: CaseFacts, dispatches: Sequence[DispatchFact], actions: Sequence[ActionFact]
) -> Measure | None:
    """From the first dispatch (or the report, for a case delegated undispatched) to the
    first delegation; only out-of-town cases have it."""
    if case.zone != "out_of_town":
        return None
    delegated = next((a for a in actions if a.kind == DELEGATED), None)
    if not dispatches and delegated is None:
        return None
    start = dispatches[0].dispatched_at if dispatches else case.reported_at
    measure = Measure("delegation", "delegation", start, zone=case.zone)
    if delegated is not None:
        measure.end, measure.source = delegated.at, "server_received"
    return measure
