"""What every desk page gets: the user, their language and its labels, the CSRF token of
their session, and times shown in the branch's time zone (KANCHA_DESK_UTC_OFFSET_MINUTES)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from litestar import Request
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig

from cases.models import DeskSession
from server.desk.i18n import LANG_COOKIE, choose_language, translator

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def branch_zone(offset_minutes: int) -> timezone:
    return timezone(timedelta(minutes=offset_minutes))


def offset_text(zone: timezone) -> str:
    minutes = int(zone.utcoffset(None).total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def template_config(offset_minutes: int) -> TemplateConfig:
    zone = branch_zone(offset_minutes)

    def local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        """A time in the branch's zone ("" for none)."""
        return value.astimezone(zone).strftime(fmt) if value is not None else ""

    def duration(seconds: int | None) -> str:
        """1 h 05 min, 12 min 30 s, 3 d 4 h: how long, for people."""
        if seconds is None:
            return ""
        sign, seconds = ("-" if seconds < 0 else ""), abs(int(seconds))
        days, rest = divmod(seconds, 86400)
        hours, rest = divmod(rest, 3600)
        minutes, secs = divmod(rest, 60)
        if days:
            return f"{sign}{days} d {hours} h"
        if hours:
            return f"{sign}{hours} h {minutes:02d} min"
        return f"{sign}{minutes} min {secs:02d} s"

    def register(engine: JinjaTemplateEngine) -> None:
        engine.engine.filters["local"] = local
        engine.engine.filters["duration"] = duration
        engine.engine.globals["zone_offset"] = offset_text(zone)

    return TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine, engine_callback=register)


def language(request: Request) -> str:
    return choose_language(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def csrf_of(request: Request) -> str:
    auth = request.scope.get("auth")
    return auth.csrf if isinstance(auth, DeskSession) else ""


def page(request: Request, name: str, *, status_code: int = 200, **context: Any) -> Template:
    """Render a desk template with what every page needs."""
    lang = language(request)
    common = {
        "request": request,
        "user": request.scope.get("user"),
        "lang": lang,
        "t": translator(lang),
        "csrf": csrf_of(request),
        "path": request.url.path,
        "query": request.url.query,
    }
    return Template(template_name=name, context=common | context, status_code=status_code)
