"""Money in the reports: per group, what approved cases were estimated at, what was approved,
and the reduction (核减) between them.

A case counts when its latest review approved its latest estimate (a case re-estimated after
an approval awaits review again and is left out until approved again). The estimate is that
estimate's amount; an approval stored before approved amounts were recorded counts as
approved as submitted (no reduction).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cases.models import Case, CaseProgress, Review, User

# The CSV's money columns, appended after every other column so those keep their places.
MONEY_COLUMNS = (
    "approved_cases",
    "estimated_total",
    "approved_total",
    "reduction_total",
    "reduction_share",
)


@dataclass
class Money:
    approved_cases: int = 0
    estimated: float = 0.0
    approved: float = 0.0

    @property
    def estimated_total(self) -> float:
        return round(self.estimated, 2)

    @property
    def approved_total(self) -> float:
        return round(self.approved, 2)

    @property
    def reduction_total(self) -> float:
        return round(self.estimated - self.approved, 2)

    @property
    def reduction_share(self) -> float | None:
        """Reduction / estimated; None when nothing was estimated."""
        return (
            round(self.reduction_total / self.estimated_total, 4) if self.estimated_total else None
        )

    def fields(self) -> dict[str, Any]:
        """The money figures by their wire (and CSV column) names."""
        return {name: getattr(self, name) for name in MONEY_COLUMNS}

    def cells(self) -> list[object]:
        return ["" if value is None else value for value in self.fields().values()]


async def reductions(
    session: AsyncSession, cases: Select[Any], group_column: ColumnElement[Any]
) -> Mapping[str, Money]:
    """Money of the approved cases among `cases` (a select of case ids), by `group_column`
    (a column of cases or of their surveyor, the users table)."""
    latest = (
        select(func.max(Review.id).label("id"))
        .where(Review.case_id.in_(cases))
        .group_by(Review.case_id)
        .subquery()
    )
    rows = await session.execute(
        select(CaseProgress.estimate_amount, Review.approved_amount, group_column)
        .join(latest, latest.c.id == Review.id)
        .join(CaseProgress, CaseProgress.case_id == Review.case_id)
        .join(Case, Case.id == Review.case_id)
        .outerjoin(User, User.id == Case.surveyor_id)
        .where(
            Review.decision == "approved",
            CaseProgress.estimate_packet_id == Review.estimate_packet_id,
        )
    )
    money: dict[str, Money] = {}
    for estimated, approved, group in rows:
        if estimated is None:
            continue  # no amount to reduce (not sent by tablets since amounts are checked)
        counted = money.setdefault(group or "(none)", Money())
        counted.approved_cases += 1
        counted.estimated += estimated
        counted.approved += estimated if approved is None else approved
    return money
