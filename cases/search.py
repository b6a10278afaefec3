"""Finding cases: by case number, plate, surveyor, state and a period of the report time,
paged, with the total count. One function for the API (`GET /v1/cases`) and the desk list.

Text filters match a part of the value (`A123` finds `沪A12345`), folding ASCII letters only
(`rpt` finds `RPT-1`) so SQLite and PostgreSQL agree whatever their collation; the period is
[start, end) on `reported_at`. A surveyor sees only their own cases (as `ensure_case_visible`).
"""

from __future__ import annotations

import string
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone

import msgspec
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.functions import GenericFunction
from sqlalchemy.types import String

from cases.models import Case, User
from cases.refusal import Refusal
from cases.stages import STAGES
from cases.values import EARLIEST, LATEST

# `open` (any but closed), then the stored statuses in lifecycle order (cases/stages.py).
STATES = ("open", "reported", *STAGES, "returned", "approved", "closed")
MAX_LIMIT = 200
MAX_OFFSET = 10_000_000
_FOLD = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


class ascii_lower(GenericFunction[str]):
    """lower() of ASCII letters only, the same on both backends."""

    type = String()
    inherit_cache = True


@compiles(ascii_lower, "sqlite")
def _sqlite_lower(element, compiler, **kw):  # SQLite's lower() folds ASCII only
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(ascii_lower)
def _translate_lower(element, compiler, **kw):
    upper, lower = string.ascii_uppercase, string.ascii_lowercase
    return f"translate({compiler.process(element.clauses, **kw)}, '{upper}', '{lower}')"


@dataclass(frozen=True)
class CaseQuery:
    case_no: str | None = None
    plate: str | None = None
    surveyor: str | None = None  # user name of the surveyor holding the case now
    state: str | None = None
    start: datetime | None = None  # reported_at >= start
    end: datetime | None = None  # reported_at < end
    limit: int = 50
    offset: int = 0


@dataclass
class CaseHits:
    total: int
    cases: list[Case]


def _text(field: str, value: str | None, max_length: int) -> str | None:
    value = unicodedata.normalize("NFC", value or "").strip()
    if "\x00" in value:
        raise Refusal(field, "must not contain NUL")
    if len(value) > max_length:
        raise Refusal(field, f"at most {max_length} characters")
    return value or None


def when(field: str, value: str | None, zone: timezone, *, end: bool = False) -> datetime | None:
    """An RFC 3339 time with offset, or a date (YYYY-MM-DD) in the branch's `zone`: its start,
    or for the `end` of a period the start of the next day (the day is included)."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            found = datetime.combine(day, time(), zone) + (
                timedelta(days=1) if end else timedelta()
            )
        else:
            found = msgspec.convert(value, datetime, strict=False)
            if found.tzinfo is None:
                raise Refusal(field, "needs an offset (e.g. +08:00), or give a date YYYY-MM-DD")
        found = found.astimezone(UTC)
    except (ValueError, msgspec.ValidationError, OverflowError):
        raise Refusal(field, "must be a date YYYY-MM-DD or an RFC 3339 time with offset") from None
    if not EARLIEST <= found <= LATEST:
        raise Refusal(field, f"must lie between {EARLIEST:%Y} and {LATEST:%Y}")
    return found


def _count(field: str, value: str | None, default: int, low: int, high: int) -> int:
    value = (value or "").strip()
    if not value:
        return default
    if not value.isascii() or not value.isdigit() or not low <= int(value) <= high:
        raise Refusal(field, f"must be a whole number from {low} to {high}")
    return int(value)


def case_query(params: dict[str, str | None], zone: timezone, default_limit: int = 50) -> CaseQuery:
    """The search asked for by query parameters (all optional); refuses naming the field."""
    state = _text("state", params.get("state"), 20)
    if state is not None and state not in STATES:
        raise Refusal("state", f"must be one of {', '.join(STATES)}")
    start = when("from", params.get("from"), zone)
    end = when("to", params.get("to"), zone, end=True)
    if start is not None and end is not None and end <= start:
        raise Refusal("to", "must be after from")
    return CaseQuery(
        case_no=_text("case_no", params.get("case_no"), 64),
        plate=_text("plate", params.get("plate"), 32),
        surveyor=_text("surveyor", params.get("surveyor"), 100),
        state=state,
        start=start,
        end=end,
        limit=_count("limit", params.get("limit"), default_limit, 1, MAX_LIMIT),
        offset=_count("offset", params.get("offset"), 0, 0, MAX_OFFSET),
    )


def _contains(column, value: str):
    return ascii_lower(column).contains(value.translate(_FOLD), autoescape=True)


def _conditions(query: CaseQuery, user: User) -> list:
    where = []
    if user.role == "surveyor":  # their own: held now, or self-reported and unconfirmed
        mine = and_(
            Case.self_reported.is_(True), Case.created_by == user.id, Case.surveyor_id.is_(None)
        )
        where.append(or_(Case.surveyor_id == user.id, mine))
    if query.case_no:
        where.append(_contains(Case.case_no, query.case_no))
    if query.plate:
        where.append(_contains(Case.plate, query.plate))
    if query.surveyor:
        holder = select(User.id).where(User.name == query.surveyor).scalar_subquery()
        where.append(Case.surveyor_id == holder)
    if query.state == "open":
        where.append(Case.status != "closed")
    elif query.state:
        where.append(Case.status == query.state)
    if query.start is not None:
        where.append(Case.reported_at >= query.start)
    if query.end is not None:
        where.append(Case.reported_at < query.end)
    return where


async def search_cases(session: AsyncSession, query: CaseQuery, *, user: User) -> CaseHits:
    """The cases `user` may see that match, latest report first, and how many match."""
    where = _conditions(query, user)
    total = await session.scalar(select(func.count()).select_from(Case).where(*where))
    rows = await session.scalars(
        select(Case)
        .where(*where)
        .options(selectinload(Case.surveyor))
        .order_by(Case.reported_at.desc(), Case.case_no)
        .limit(query.limit)
        .offset(query.offset)
    )
    return CaseHits(total or 0, list(rows))
