"""Group commit: pushes that arrive while a write is under way are settled together.

After a storm every tablet of a branch flushes at once. Settling each push in its own
transaction costs a transaction, a dozen statements and (on SQLite) a turn at the one
writer per push; most of that is the same whatever the push carries. So pushes queue here,
and each writer takes everything queued (up to `max_packets`) as one group: one
transaction, one statement per table, one commit, and only then every push of the group
hears its answer. A push is never delayed to wait for company: an idle writer takes the
first push at once, and company gathers only while a group is being written.

Each push stays all-or-nothing: a push refused whole is left out of the group's writes;
if the group fails for any other reason it is rolled back and its pushes are settled one
by one, each failing or succeeding alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from cases.refusal import Refusal
from sync.push import Outcome, Push

logger = logging.getLogger("kancha.sync")

_MAX_DEVICES_REMEMBERED = 100_000

Settle = Callable[[AsyncSession, Sequence[Push]], Awaitable[list[Outcome | Refusal]]]


class Sessions(Protocol):
    def session(self, *, write: bool = True) -> AsyncSession: ...


class GroupCommit:
    """The process's push writers; `writers` groups may be written at once (1 on SQLite,
    which has one writer connection anyway)."""

    def __init__(
        self, sessions: Sessions, settle: Settle, *, max_packets: int, writers: int = 1
    ) -> None:
        self.sessions = sessions
        self.settle = settle
        self.max_packets = max(1, max_packets)
        self.writers = max(1, writers)
        self._queue: list[tuple[Push, asyncio.Future[Outcome]]] = []
        self._busy = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.groups = 0  # groups committed, and the pushes in them (for the benchmark)
        self.grouped_pushes = 0
        # Each device's highest seq this process has seen settled: a lower bound of what
        # is stored (another process may have settled more), so a push with a seq above it
        # cannot be a pure replay and needs no reading to find out (sync/service.py).
        self._settled_seq: dict[str, int] = {}

    def settled_seq(self, device_id: str) -> int | None:
        return self._settled_seq.get(device_id)

    def saw_settled(self, device_id: str, seq: int) -> None:
        if len(self._settled_seq) >= _MAX_DEVICES_REMEMBERED:
            self._settled_seq.clear()
        if seq > self._settled_seq.get(device_id, 0):
            self._settled_seq[device_id] = seq

    async def submit(self, push: Push) -> Outcome:
        """Settle `push` with whatever else is queued; returns once it is committed."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._queue.append((push, future))
        if self._busy < self.writers:
            self._busy += 1
            task = asyncio.create_task(self._write())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        # A request that goes away does not take the group with it: the push is still
        # settled (and a re-send finds it), only this answer is dropped.
        return await asyncio.shield(future)

    def _take(self) -> list[tuple[Push, asyncio.Future[Outcome]]]:
        group, packets = [], 0
        while self._queue:
            if group and packets + len(self._queue[0][0].packets) > self.max_packets:
                break
            item = self._queue.pop(0)
            group.append(item)
            packets += len(item[0].packets)
        return group

    async def _write(self) -> None:
        try:
            while self._queue:
                group = self._take()
                try:
                    await self._settle(group)
                except BaseException as exc:  # cancelled at shutdown: nobody waits forever
                    for _, future in group:
                        if not future.done():
                            future.set_exception(
                                exc
                                if isinstance(exc, Exception)
                                else RuntimeError("push writer stopped")
                            )
                    raise
        finally:
            self._busy -= 1

    async def _settle(self, group: list[tuple[Push, asyncio.Future[Outcome]]]) -> None:
        pushes = [push for push, _ in group]
        try:
            async with self.sessions.session(write=True) as session:
                answers = await self.settle(session, pushes)
                await session.commit()
        except Exception as exc:
            if len(group) == 1:
                if not group[0][1].done():
                    group[0][1].set_exception(exc)
                return
            logger.info("a group of %d pushes is settled one by one: %r", len(group), exc)
            for item in group:
                await self._settle([item])
            return
        self.groups += 1
        self.grouped_pushes += len(group)
        for (push, future), answer in zip(group, answers, strict=True):
            if not isinstance(answer, Exception) and push.packets:
                self.saw_settled(push.device_id, max(p.seq for p in push.packets))
            if future.done():
                continue
            if isinstance(answer, Exception):
                future.set_exception(answer)
            else:
                future.set_result(answer)
