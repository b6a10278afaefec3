"""The rates a branch is judged by beyond timings (domain.md), decided per case.

- On-site document collection (现场单证收集率): a simple-procedure case counts as collected
  when every required document was photographed on site, i.e. by the current surveyor
  between arriving and completing the survey. Decided once the survey is completed.
- On-scene survey (现场查勘率): a case counts as surveyed at the first scene when the arrival
  fix of its first scene visit lies within the scene radius of the case location.
"""

from __future__ import annotations

from collections.abc import Sequence

from cases.timeline import ARRIVAL_WITHOUT_FIX, FAR_FROM_SCENE, CaseFacts, DispatchFact, Event

# Photographed on site for a simple-procedure case (domain.md): 双证, 车架号, 索赔申请书,
# 汇款信息, 简易程序处理单, 协议书, 交强险标志或保单.
REQUIRED_ON_SITE = frozenset(
    {
        "driving_licence",
        "vehicle_licence",
        "vin",
        "claim_form",
        "bank_details",
        "simple_procedure_form",
        "agreement",
        "compulsory_policy",
    }
)
RATES = ("documents_on_site", "first_scene")


def _first(events: Sequence[Event], kind: str) -> Event | None:
    return next((e for e in events if e.kind == kind), None)


def documents_on_site(case: CaseFacts, timeline: Sequence[Event], last: int) -> bool | None:
    """None when not counted (not simple procedure, or the survey is not completed)."""
    if not case.simple_procedure:
        return None
    current = [e for e in timeline if e.dispatch == last]
    arrived, completed = _first(current, "arrived"), _first(current, "survey_completed")
    if completed is None:
        return None
    start = arrived.time if arrived is not None else None
    captured = {
        e.category
        for e in current
        if e.kind in ("photo", "document")
        and e.time <= completed.time
        and (start is None or e.time >= start)
    }
    return arrived is not None and REQUIRED_ON_SITE <= captured


def first_scene(timeline: Sequence[Event], dispatches: Sequence[DispatchFact]) -> bool | None:
    """Decided by the first scene visit: the first arrival answering a scene dispatch (a
    handover, re-survey or document pickup visits no scene). None until there is one."""
    scene = {i for i, d in enumerate(dispatches) if d.purpose == "scene"}
    arrived = _first([e for e in timeline if e.dispatch in scene], "arrived")
    if arrived is None:
        return None
    return not ({FAR_FROM_SCENE, ARRIVAL_WITHOUT_FIX} & set(arrived.flags))


def missing_documents(case: CaseFacts, timeline: Sequence[Event], last: int) -> list[str]:
    """The required on-site documents the current surveyor has not photographed yet
    (simple-procedure cases; others have no on-site checklist): what the tablet shows."""
    if not case.simple_procedure or last < 0:
        return []
    captured = {
        e.category for e in timeline if e.dispatch == last and e.kind in ("photo", "document")
    }
    return sorted(REQUIRED_ON_SITE - captured)
