"""What the board page shows of the board the API sends: the filters (zone, team, state) read
from the query string, the rows they keep, and per row the team and how far the surveyor's
last fix is from the scene. Pure: no session, no request."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from cases.geo import distance_m
from cases.service import Board
from cases.stages import STAGES
from cases.values import ZONES
from server.routes.board import BoardResponse, BoardRow, SurveyorRow, board_response

# The "state" filter: the timings' state first, then where the case stands.
TIMING_STATES = ("overdue", "on_time")
CASE_STATES = ("reported", "awaiting_confirmation", *STAGES, "returned")
STATES = (*TIMING_STATES, *CASE_STATES)


@dataclass(frozen=True)
class Filters:
    zone: str = ""
    team: str = ""
    state: str = ""

    @classmethod
    def of(cls, params: object) -> Filters:
        """From query parameters (or a form); a value the board does not know is no filter."""
        get = params.get  # type: ignore[attr-defined]
        zone = get("zone") or ""
        state = get("state") or ""
        team = (get("team") or "").strip()[:100]
        return cls(
            zone=zone if zone in ZONES else "",
            team=team,
            state=state if state in STATES else "",
        )

    @property
    def query(self) -> str:
        """The filters as a query string (empty ones left out), for links and the URL bar."""
        return urlencode({k: v for k, v in vars(self).items() if v})


@dataclass
class Row:
    case: BoardRow
    team: str | None
    # From the surveyor's last fix to the scene, when no ETA says it already.
    fix_distance_m: float | None

    @property
    def overdue(self) -> bool:
        return any(t.state == "overdue" for t in self.case.timings)


@dataclass
class BoardView:
    board: BoardResponse
    rows: list[Row]
    surveyors: list[SurveyorRow]
    teams: list[str]
    total: int

    @property
    def needs_backup(self) -> list[SurveyorRow]:
        return [s for s in self.surveyors if s.needs_backup]


def _keeps(row: Row, filters: Filters) -> bool:
    case = row.case
    if filters.zone and case.zone != filters.zone:
        return False
    if filters.team and row.team != filters.team:
        return False
    state = filters.state
    if state == "overdue":
        return row.overdue
    if state == "on_time":
        return bool(case.timings) and not row.overdue
    if state == "awaiting_confirmation":
        return case.awaiting_confirmation
    return not state or case.status == state


def board_view(found: Board, filters: Filters) -> BoardView:
    """The board with the rows `filters` keep, most urgent first as the domain sorts them."""
    response = board_response(found)
    teams = {s.name: s.team for s in response.surveyors}
    rows = []
    for case, row in zip(found.cases, response.cases, strict=True):
        distance = None
        if row.position is not None and row.eta is None:
            distance = distance_m(row.position.lat, row.position.lon, case.lat, case.lon)
        rows.append(Row(row, teams.get(row.surveyor or ""), distance))
    kept = [r for r in rows if _keeps(r, filters)]
    surveyors = [s for s in response.surveyors if not filters.team or s.team == filters.team]
    return BoardView(
        board=response,
        rows=kept,
        surveyors=surveyors,
        teams=sorted({t for t in teams.values() if t}),
        total=len(rows),
    )
