"""Where a case stands in its lifecycle, as the dispatcher's board and the tablet show it.

Derived from the log like the timings, so it follows late and out-of-order packets: the
furthest milestone the current surveyor has reached (not the last one to arrive), then
the review of the latest estimate, if any.
"""

from __future__ import annotations

from collections.abc import Sequence

from cases.timeline import DispatchFact, Event
from cases.timings import ReviewFact, latest_estimate

# In lifecycle order; a case that has been dispatched is at least `dispatched`.
STAGES = (
    "dispatched",
    "accepted",
    "contacted",
    "departed",
    "arrived",
    "surveyed",
    "estimate_submitted",
)
MILESTONES = {
    "accepted": "accepted",
    "contacted": "contacted",
    "departed": "departed",
    "arrived": "arrived",
    "survey_completed": "surveyed",
    "estimate_submitted": "estimate_submitted",
}


def stage(
    timeline: Sequence[Event], dispatches: Sequence[DispatchFact], reviews: Sequence[ReviewFact]
) -> str | None:
    """The case's status, or None for a case never dispatched (it stays `reported`)."""
    if not dispatches:
        return None
    last = len(dispatches) - 1
    reached = max(
        (
            STAGES.index(MILESTONES[e.kind])
            for e in timeline
            if e.dispatch == last and e.kind in MILESTONES
        ),
        default=0,
    )
    estimate = latest_estimate(timeline)
    if estimate is not None and reviews and reviews[-1].estimate_packet_id == estimate.packet_id:
        return reviews[-1].decision  # approved | returned
    return STAGES[reached]
