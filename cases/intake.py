"""How cases come in: the accident time against the report (延时报案), cases a surveyor opens
from the tablet (self-reported, awaiting a dispatcher's confirmation), and the window in
which an irregular report's held packets join the timeline.

The rules' numbers come from Settings (late_report_seconds, irregular_window_seconds) and
are passed down explicitly as `IntakeRules`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cases.refusal import Conflict, Refusal
from cases.values import time_out_of_range


@dataclass(frozen=True)
class IntakeRules:
    # A report this long after the accident is flagged `late_report`.
    late_report: timedelta
    # A held packet joins when a dispatch to its sender follows within this of its receipt.
    irregular_window: timedelta

    @classmethod
    def of_seconds(cls, late_report_seconds: int, irregular_window_seconds: int) -> IntakeRules:
        return cls(
            late_report=timedelta(seconds=late_report_seconds),
            irregular_window=timedelta(seconds=irregular_window_seconds),
        )


def is_late_report(
    reported_at: datetime, occurred_at: datetime | None, late_report: timedelta
) -> bool:
    """Reported more than `late_report` after the accident; False when its time is unknown."""
    return occurred_at is not None and reported_at - occurred_at > late_report


def awaiting_confirmation(self_reported: bool, surveyor_id: int | None, status: str) -> bool:
    """A case a surveyor opened, still open, that no dispatcher has dispatched yet: the
    dispatch confirms it (a close with a reason turns it down)."""
    return self_reported and surveyor_id is None and status != "closed"


def check_occurred_at(occurred_at: datetime | None, reported_at: datetime) -> None:
    """The accident cannot happen after it was reported (400 naming occurred_at)."""
    if occurred_at is None:
        return
    if problem := time_out_of_range(occurred_at):
        raise Refusal("occurred_at", problem)
    if occurred_at > reported_at:
        raise Refusal("occurred_at", "the accident cannot come after reported_at")


def own_self_report(case: Any, user: Any) -> bool:
    """The case is one `user` opened from the tablet."""
    return bool(case.self_reported) and case.created_by == user.id


def existing_for(case: Any, user: Any) -> Any:
    """The existing case under a case_no posted again: the desk gets it back (idempotent);
    a surveyor only their own self-report while it is theirs (unconfirmed, or dispatched
    to them), else 409: it is someone else's case."""
    theirs = own_self_report(case, user) and case.surveyor_id in (None, user.id)
    if user.role == "surveyor" and not theirs:
        raise Conflict(
            "case_no",
            "a case with this case_no exists and is not yours: the desk dispatches it",
        )
    return case


def assigned_to(case: Any, surveyor: Any) -> bool:
    """The case is the surveyor's to work on: dispatched to them now, or their own
    self-report no dispatcher has confirmed (or given to someone else) yet."""
    if case.surveyor_id is not None:
        return case.surveyor_id == surveyor.id
    return own_self_report(case, surveyor)
