"""A surveyor's sync, for one request: push a tablet's queue, pull its cases.

Built per request from what push and pull need; the route parses bodies and shapes answers,
this holds the flow between. A push is decoded and checked against the store in one of the
process's push turns (see Settings.push_concurrency), answers a re-sent batch from a read,
and otherwise joins the process's group commit (sync/groups.py), which commits it before
the tablet hears the answer: nothing is acknowledged before it is durable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cases.board import running_timings
from cases.clock import Clock
from cases.intake import IntakeRules
from cases.limits import Limits
from cases.models import Case, CaseProgress, Review, User
from cases.reviews import latest_reviews
from cases.timeline import DEFAULT_STALE_FIX
from cases.timings import Timing
from sync.cursors import cursor_key, make_cursor_key
from sync.groups import GroupCommit
from sync.pull import pull_cases
from sync.push import Incoming, Outcome, Push
from sync.replay import replay_settled


class Sessions(Protocol):
    """Where sessions besides the request's come from (server/db.py Database)."""

    def session(self, *, write: bool = True) -> AsyncSession: ...


@dataclass(frozen=True)
class SyncLimits:
    """A push carrying more than these is refused whole (413)."""

    max_batch_packets: int
    max_batch_bytes: int


@dataclass(frozen=True)
class Pulled:
    """What a pull answers: the next cursor, the cases, the latest review of each."""

    cursor: str
    cases: list[Case]
    reviews: dict[str, Review]
    # Each case's running timings (judged now, with limit keys) and the required on-site
    # documents still missing: what the surveyor must see on the tablet, offline too.
    running: dict[str, list[tuple[Timing, str]]]
    missing_documents: dict[str, list[str]]


@dataclass(frozen=True)
class SyncRuntime:
    """What every sync request shares, built once per app: one dependency rather than ten
    (the framework resolves sibling dependencies as concurrent tasks, at a cost per push)."""

    sessions: Sessions
    clock: Clock
    limits: SyncLimits
    push_turns: asyncio.Semaphore
    groups: GroupCommit
    timing_limits: Limits
    rules: IntakeRules
    stale_fix: timedelta = DEFAULT_STALE_FIX  # a GPS fix older than this is stale


class SyncService:
    def __init__(
        self, request_session: Callable[[], AsyncSession], runtime: SyncRuntime, surveyor: User
    ) -> None:
        # The request's session (pull), made on first use: pushes are written by `groups`.
        self._request_session = request_session
        self.sessions = runtime.sessions
        self.clock = runtime.clock
        self.limits = runtime.limits
        self.push_turns = runtime.push_turns
        self.groups = runtime.groups
        self.surveyor = surveyor
        self.timing_limits = runtime.timing_limits
        self.rules = runtime.rules
        self.stale_fix = runtime.stale_fix

    @property
    def session(self) -> AsyncSession:
        return self._request_session()

    def push_turn(self) -> asyncio.Semaphore:
        """Held (`async with`) while a push is decoded, and again while it is checked
        against the store; not while it waits for its group."""
        return self.push_turns

    async def push(
        self,
        device_id: str,
        sent_at: datetime,
        packets: Sequence[Incoming],
        *,
        boot_id: str | None = None,
        elapsed_ms: int | None = None,
    ) -> Outcome:
        """Settle a decoded push: a replay is answered from a read, on SQLite without
        waiting for the one writer; anything new joins the next group commit, refused
        whole (409) if the device is another surveyor's. `boot_id` and `elapsed_ms`: the
        tablet's monotonic clock at sending, if it sent it."""
        now = self.clock.now()
        push = Push(self.surveyor, device_id, sent_at, packets, now, boot_id, elapsed_ms)
        known = self.groups.settled_seq(device_id)
        if known is None or max((p.seq for p in packets), default=0) <= known:
            async with self.push_turns, self.sessions.session(write=False) as reader:
                settled = await replay_settled(reader, push, self.groups.saw_settled)
            if settled is not None:
                return settled
        return await self.groups.submit(push)

    async def pull(self, cursor: str | None) -> Pulled:
        """The surveyor's cases since `cursor` (all open ones without); a cursor this
        server did not make for them is refused (400). Reads only, but for the first pull
        ever, which makes the cursor key, queued like any write."""
        key = await cursor_key(self.session)
        if key is None:
            async with self.sessions.session(write=True) as writer:
                key = await make_cursor_key(writer)
                await writer.commit()
        next_cursor, cases = await pull_cases(self.session, self.surveyor, cursor, key)
        ids = [case.id for case in cases]
        reviews = await latest_reviews(self.session, ids)
        running = await running_timings(self.session, self.timing_limits, self.clock.now(), ids)
        missing: dict[str, list[str]] = {}
        if ids:
            rows = await self.session.execute(
                select(CaseProgress.case_id, CaseProgress.missing_documents).where(
                    CaseProgress.case_id.in_(ids)
                )
            )
            missing = {case_id: [c for c in text.split(",") if c] for case_id, text in rows}
        return Pulled(next_cursor, cases, reviews, running, missing)
