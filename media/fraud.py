"""What the anti-fraud reviewer reads: which cases have flagged photos, which flags, and how
many flagged cases each surveyor and zone has.

Flags are taken by name from the media catalog (media/catalog.py `case_media`: the EXIF
flags stored on each object plus those worked out on read, such as reuse on another
case), so a new kind of flag shows up here with no change. `held` is a state, not a
suspicion, and is left out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cases.models import Case, User
from cases.reports import GroupStats
from media.catalog import HELD, case_media
from media.models import PacketMedia

NOT_SUSPICIOUS = {HELD}
NO_SURVEYOR = "(none)"


class FlagRules(msgspec.Struct, frozen=True, kw_only=True):
    """The catalog's thresholds (named as in the server's settings)."""

    photo_max_distance_m: float
    photo_max_age_seconds: int
    irregular_window_seconds: int

    @classmethod
    def of(cls, settings: Any) -> FlagRules:
        return msgspec.convert(settings, cls, from_attributes=True)


@dataclass
class FlaggedCase:
    case_id: str
    case_no: str
    zone: str
    surveyor: str
    flags: dict[str, int]  # flag -> how many of the case's photos carry it
    other_cases: list[str] = field(default_factory=list)  # holding the same bytes


@dataclass
class FlagCounts:
    """One surveyor's or zone's flagged cases: how many, and how many carry each flag."""

    group: str
    cases: int = 0
    flags: Counter[str] = field(default_factory=Counter)

    def add(self, case: FlaggedCase) -> None:
        self.cases += 1
        self.flags.update(case.flags.keys())


@dataclass
class FraudReport:
    cases: list[FlaggedCase]
    by_surveyor: list[FlagCounts]
    by_zone: list[FlagCounts]
    flags: list[str]  # every flag that occurs, most cases first

    def of_group(self, group_by: str) -> dict[str, FlagCounts]:
        groups = self.by_zone if group_by == "zone" else self.by_surveyor
        return {g.group: g for g in groups}


async def flagged_cases(
    session: AsyncSession, case_ids: Iterable[str], rules: FlagRules
) -> list[FlaggedCase]:
    """The cases among `case_ids` with at least one flagged photo, by case number."""
    ids = sorted(set(case_ids))
    with_media = (
        set(
            await session.scalars(
                select(PacketMedia.case_id).where(PacketMedia.case_id.in_(ids)).distinct()
            )
        )
        if ids
        else set()
    )
    if not with_media:
        return []
    rows = await session.execute(
        select(Case, User.name)
        .outerjoin(User, User.id == Case.surveyor_id)
        .where(Case.id.in_(with_media))
        .order_by(Case.case_no)
    )
    found = []
    for case, surveyor in rows:
        listing = await case_media(
            session,
            case,
            max_distance_m=rules.photo_max_distance_m,
            max_age_seconds=rules.photo_max_age_seconds,
            irregular_window=timedelta(seconds=rules.irregular_window_seconds),
        )
        flags: Counter[str] = Counter()
        others: dict[str, None] = {}
        for item in listing.items:
            flags.update(f for f in dict.fromkeys(item.flags) if f not in NOT_SUSPICIOUS)
            others.update(dict.fromkeys(item.other_cases))
        if flags:
            found.append(
                FlaggedCase(
                    case.id,
                    case.case_no,
                    case.zone,
                    surveyor or NO_SURVEYOR,
                    dict(sorted(flags.items())),
                    list(others),
                )
            )
    return found


def fraud_report(cases: list[FlaggedCase]) -> FraudReport:
    surveyors: dict[str, FlagCounts] = {}
    zones: dict[str, FlagCounts] = {}
    every: Counter[str] = Counter()
    for case in cases:
        surveyors.setdefault(case.surveyor, FlagCounts(case.surveyor)).add(case)
        zones.setdefault(case.zone, FlagCounts(case.zone)).add(case)
        every.update(case.flags.keys())

    def ranked(groups: dict[str, FlagCounts]) -> list[FlagCounts]:
        return sorted(groups.values(), key=lambda g: (-g.cases, g.group))

    flags = [name for name, _ in sorted(every.items(), key=lambda kv: (-kv[1], kv[0]))]
    return FraudReport(cases, ranked(surveyors), ranked(zones), flags)


async def flag_groups(session: AsyncSession, groups: list[GroupStats], rules: FlagRules) -> None:
    """Fill in each SLA report group's flagged cases and their flags (cases per flag)."""
    found = {
        c.case_id: c
        for c in await flagged_cases(session, (i for g in groups for i in g.cases), rules)
    }
    for group in groups:
        counts = FlagCounts(group.group)
        for case_id in sorted(group.cases & found.keys()):
            counts.add(found[case_id])
        group.flagged_cases = counts.cases
        group.flags = dict(sorted(counts.flags.items()))
