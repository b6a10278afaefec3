"""How cases come in: the accident time against the report (延时报案), cases a surveyor opens
from the tablet (self-reported, awaiting a dispatcher's confirmation), and the window in
which an irregular report's held packets join the timeline.

The rules' numbers come from Settings (late_report_seconds, irregular_window_seconds) and
are passed down explicitly as `IntakeRules`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


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
