"""What one request does with cases: open, dispatch, read, review, the board and the reports.

Built per request from its session, the server's clock, the limits in force and the user
making it, so that a handler needs nothing else. It answers with domain objects and refuses
with `Refusal`; turning either into HTTP is the server's business.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from cases.board import BoardCase, board
from cases.clock import Clock
from cases.closing import close_case, delegate_case, reopen_case
from cases.dispatch import dispatch_case, ensure_case_visible, load_case, open_case
from cases.estimates import Estimate, latest_estimate
from cases.intake import IntakeRules
from cases.limits import Limits
from cases.load import LoadPolicy, SurveyorLoad, surveyor_loads
from cases.models import Case, Review, User
from cases.recalc import case_computed
from cases.reports import GroupStats, sla_report
from cases.reviews import QueueEntry, latest_reviews, review_case, review_queue
from cases.search import CaseHits, CaseQuery, search_cases
from cases.timeline import DEFAULT_STALE_FIX, Event
from cases.timings import Measure, Timing, judge

# A timing judged by the server's clock, with the limit key it was judged against.
Judged = tuple[Timing, str]


@dataclass
class CaseDetail:
    """A case with what is derived from its log: timeline, timings and latest review."""

    case: Case
    events: list[Event]
    # Index of the case's current dispatch: only events answering it end its timings.
    current_dispatch: int | None
    timings: list[Judged]
    review: Review | None


@dataclass
class ReviewOutcome:
    review: Review
    timings: list[Judged]


@dataclass
class Board:
    now: datetime
    cases: list[BoardCase]
    surveyors: list[SurveyorLoad] = field(default_factory=list)


class CaseService:
    """The case domain as seen by `user`, at `clock`'s time, under `limits`, the intake
    `rules` (and the board's `load` warning); a GPS fix older than an event's other times by
    more than `stale_fix` is stale."""

    def __init__(
        self,
        session: AsyncSession,
        clock: Clock,
        limits: Limits,
        user: User,
        rules: IntakeRules,
        *,
        load: LoadPolicy | None = None,
        stale_fix: timedelta = DEFAULT_STALE_FIX,
    ) -> None:
        self.session = session
        self.clock = clock
        self.limits = limits
        self.user = user
        self.rules = rules
        self.window = rules.irregular_window
        self.load = load or LoadPolicy()
        self.stale_fix = stale_fix

    async def open(
        self,
        *,
        case_no: str,
        reported_at: datetime,
        lat: float,
        lon: float,
        address: str,
        zone: str,
        plate: str | None,
        simple_procedure: bool,
        occurred_at: datetime | None = None,
        delegated_from: str | None = None,
    ) -> tuple[Case, bool]:
        """The case opened under `case_no`, and whether this call created it (by a
        surveyor: self-reported, awaiting the dispatch that confirms it)."""
        return await open_case(
            self.session,
            case_no=case_no,
            reported_at=reported_at,
            lat=lat,
            lon=lon,
            address=address,
            zone=zone,
            plate=plate,
            simple_procedure=simple_procedure,
            created_by=self.user,
            now=self.clock.now(),
            occurred_at=occurred_at,
            delegated_from=delegated_from,
        )

    async def dispatch(self, case_id: str, surveyor: str, purpose: str = "scene") -> CaseDetail:
        case = await dispatch_case(
            self.session,
            case_id,
            surveyor_name=surveyor,
            dispatched_by=self.user,
            now=self.clock.now(),
            tiers=self.limits.tiers,
            irregular_window=self.window,
            stale_fix=self.stale_fix,
            purpose=purpose,
        )
        return await self._detail(case)

    async def close(self, case_id: str, reason: str | None) -> CaseDetail:
        case = await close_case(
            self.session, case_id, by=self.user, reason=reason, now=self.clock.now()
        )
        return await self._detail(case)

    async def reopen(self, case_id: str, reason: str | None) -> CaseDetail:
        case = await reopen_case(
            self.session,
            case_id,
            by=self.user,
            reason=reason,
            now=self.clock.now(),
            tiers=self.limits.tiers,
            irregular_window=self.window,
            stale_fix=self.stale_fix,
        )
        return await self._detail(case)

    async def delegate(self, case_id: str, to: str, reference: str | None) -> CaseDetail:
        case = await delegate_case(
            self.session,
            case_id,
            by=self.user,
            to=to,
            reference=reference,
            now=self.clock.now(),
            tiers=self.limits.tiers,
            irregular_window=self.window,
            stale_fix=self.stale_fix,
        )
        return await self._detail(case)

    async def read(self, case_id: str) -> CaseDetail:
        """The case, if the user may see it (a surveyor only the cases dispatched to them)."""
        case = await load_case(self.session, case_id)
        ensure_case_visible(self.user, case)
        return await self._detail(case)

    async def search(self, query: CaseQuery) -> CaseHits:
        """The cases matching `query` that the user may see (a surveyor: their own)."""
        return await search_cases(self.session, query, user=self.user)

    async def review(
        self,
        case_id: str,
        *,
        decision: str,
        reason: str | None,
        requested: Sequence[str],
        approved_amount: float | None = None,
    ) -> ReviewOutcome:
        now = self.clock.now()
        review = await review_case(
            self.session,
            case_id,
            reviewer=self.user,
            decision=decision,
            reason=reason,
            requested=requested,
            now=now,
            tiers=self.limits.tiers,
            irregular_window=self.window,
            stale_fix=self.stale_fix,
            approved_amount=approved_amount,
        )
        computed = await case_computed(
            self.session, case_id, self.limits.tiers, self.window, self.stale_fix
        )
        assert computed is not None  # the review just recorded is in it
        return ReviewOutcome(review, self._judged(computed.measures, now))

    async def estimate(self, case: Case) -> Estimate | None:
        """The latest estimate of a case read with `read` (amount, items, whether it awaits
        review), or None when the case has none."""
        ensure_case_visible(self.user, case)
        return await latest_estimate(self.session, case.id)

    async def review_queue(self, *, limit: int, offset: int) -> list[QueueEntry]:
        return await review_queue(self.session, reviewer=self.user, limit=limit, offset=offset)

    async def board(self) -> Board:
        now = self.clock.now()
        cases = await board(self.session, self.limits, now, self.rules.late_report)
        return Board(now, cases, await surveyor_loads(self.session, cases, self.load, now))

    async def sla_report(
        self, *, start: datetime, end: datetime, group_by: str
    ) -> list[GroupStats]:
        return await sla_report(
            self.session,
            start=start,
            end=end,
            group_by=group_by,
            limits=self.limits,
            now=self.clock.now(),
        )

    async def _detail(self, case: Case) -> CaseDetail:
        detail = CaseDetail(case, [], None, [], None)
        now = self.clock.now()
        computed = await case_computed(
            self.session, case.id, self.limits.tiers, self.window, self.stale_fix
        )
        if computed is not None:
            dispatches = computed.log.dispatches
            detail.current_dispatch = len(dispatches) - 1 if dispatches else None
            detail.events = list(computed.timeline)
            detail.timings = self._judged(computed.measures, now)
        detail.review = (await latest_reviews(self.session, [case.id])).get(case.id)
        return detail

    def _judged(self, measures: Sequence[Measure], now: datetime) -> list[Judged]:
        return [(judge(m, self.limits, now), m.limit_key) for m in measures]
