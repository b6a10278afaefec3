"""The change feed: every write that changes a case moves it to the feed's head.

A pull cursor is a position in this feed. Positions come from one counter row that is
bumped as the last statement of a writing transaction and stays locked until commit, so
positions become visible in the order they were handed out: a reader that sees position
N committed can never later find a smaller one appear (the trap of plain sequences, whose
numbers are handed out before commit and become visible out of order).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cases.models import Case, Counter

FEED = "changes"


async def lock_cases(session: AsyncSession, case_ids: Collection[str]) -> None:
    """Lock these case rows in id order (PostgreSQL; SQLite has one writer at a time).

    Every writer takes case locks in id order and the feed counter after them, so two
    transactions can never each hold what the other waits for. A push locks all the cases
    it touches up front, before recalculating some of them.
    """
    if case_ids and session.bind.dialect.name != "sqlite":
        await session.execute(
            select(Case.id).where(Case.id.in_(sorted(case_ids))).order_by(Case.id).with_for_update()
        )


_COUNTER = Counter.__table__
_CASES = Case.__table__
# Built once (Core, on the session's connection): a push runs these for every group, and
# building them and going through the ORM's bulk-update path cost more than running them.
_BUMP = (
    update(_COUNTER)
    .where(_COUNTER.c.name == FEED)
    .values(value=_COUNTER.c.value + 1)
    .returning(_COUNTER.c.value)
)
_MOVE = (
    update(_CASES)
    .where(_CASES.c.id.in_(bindparam("ids", expanding=True)))
    .values(change_seq=bindparam("position"), updated_at=bindparam("now"))
)


async def cases_changed(session: AsyncSession, case_ids: Collection[str], now: datetime) -> int:
    """Move these cases to the head of the feed; call last in the transaction.

    Returns the new head position (0 and no write when there is nothing to move). Objects
    the session holds are flushed first (a case added just now is moved too), not
    refreshed after.
    """
    if not case_ids:
        return 0
    await lock_cases(session, case_ids)
    await session.flush()
    conn = await session.connection()
    position = (await conn.execute(_BUMP)).scalar_one()
    await conn.execute(_MOVE, {"ids": list(case_ids), "position": position, "now": now})
    return int(position)


async def feed_head(session: AsyncSession) -> int:
    """The highest committed feed position this transaction can see."""
    return int(await session.scalar(select(Counter.value).where(Counter.name == FEED)) or 0)
