"""What a tablet pulls: its cases, those taken away from it, and what changed since."""

from __future__ import annotations

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cases.changes import feed_head
from cases.dispatch import case_history_options
from cases.models import Case, Dispatch, User
from sync.cursors import make_cursor, read_cursor


async def pull_cases(
    session: AsyncSession, surveyor: User, cursor: str | None, key: bytes
) -> tuple[str, list[Case]]:
    """(next cursor, cases) for a surveyor, cursors signed with `key` (see sync/cursors.py).
    Refuses (400) a cursor we did not make. Reads only: a pull needs no writer.

    The feed head is read before the cases: anything committed after that read carries a
    later position, so the next pull from the returned cursor picks it up (a change may be
    sent twice, never missed).
    """
    since = read_cursor(key, surveyor.id, cursor) if cursor else None
    head = await feed_head(session)
    query = select(Case).options(*case_history_options()).order_by(Case.change_seq, Case.id)
    # The surveyor's own self-reports (opened from the tablet) come too: unconfirmed ones
    # as theirs, and, from a cursor, once more when a dispatcher gives one to someone else.
    self_opened = and_(Case.self_reported.is_(True), Case.created_by == surveyor.id)
    if since is None:
        unconfirmed = and_(self_opened, Case.surveyor_id.is_(None))
        query = query.where(
            or_(Case.surveyor_id == surveyor.id, unconfirmed), Case.status != "closed"
        )
    else:
        ever_mine = select(Dispatch.case_id).where(Dispatch.surveyor_id == surveyor.id)
        query = query.where(Case.change_seq > since, or_(Case.id.in_(ever_mine), self_opened))
    cases = list(await session.scalars(query))
    return make_cursor(key, surveyor.id, head), cases
