"""Chinese and English labels: the browser's preference (Accept-Language) unless the user
chose with the switch (a cookie); a missing label shows its key, never an error."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

from server.desk import locale

LANGUAGES = ("zh", "en")
LANG_COOKIE = "kancha_lang"


def _load() -> dict[str, dict[str, str]]:
    table: dict[str, dict[str, str]] = {"en": {}, "zh": {}}
    for info in pkgutil.iter_modules(locale.__path__):
        module = importlib.import_module(f"{locale.__name__}.{info.name}")
        table["en"].update(module.EN)
        table["zh"].update(module.ZH)
    return table


MESSAGES = _load()


def choose_language(cookie: str | None, accept_language: str | None) -> str:
    """The switch's choice, else the first of zh/en the browser names (q-weighted)."""
    if cookie in LANGUAGES:
        return cookie
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else "en"


def translator(lang: str) -> Callable[..., str]:
    labels = MESSAGES.get(lang, MESSAGES["en"])

    def t(key: str, **values: object) -> str:
        text = labels.get(key) or MESSAGES["en"].get(key) or key
        return text.format(**values) if values else text

    return t
