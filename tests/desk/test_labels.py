"""Every desk label exists in Chinese and English, and every label a template asks for exists:
a missing one would show its key on the page."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

from server.desk import locale
from server.desk.i18n import MESSAGES, choose_language

TEMPLATES = Path(__file__).parents[2] / "server" / "desk" / "templates"
LITERAL_KEY = re.compile(r"""\bt\(\s*['"]([a-z_]+\.[a-z0-9_.]+)['"]""")


def test_each_area_has_the_same_keys_in_both_languages():
    for info in pkgutil.iter_modules(locale.__path__):
        module = importlib.import_module(f"{locale.__name__}.{info.name}")
        only_en = set(module.EN) - set(module.ZH)
        only_zh = set(module.ZH) - set(module.EN)
        assert (info.name, only_en, only_zh) == (info.name, set(), set())
        assert all(text.strip() for text in [*module.EN.values(), *module.ZH.values()])


def test_every_literal_label_in_the_templates_exists():
    missing = set()
    for template in TEMPLATES.glob("*.html"):
        for key in LITERAL_KEY.findall(template.read_text()):
            if not key.endswith(".") and key not in MESSAGES["en"]:  # "x." ~ value: dynamic
                missing.add(f"{template.name}: {key}")
    assert missing == set()


def test_chinese_labels_are_chinese():
    assert MESSAGES["zh"]["nav.board"] != MESSAGES["en"]["nav.board"]
    han = re.compile(r"[\u4e00-\u9fff]")
    chinese = [k for k, v in MESSAGES["zh"].items() if han.search(v)]
    assert len(chinese) > 0.8 * len(MESSAGES["zh"])


def test_the_browser_language_is_chosen_by_preference():
    assert choose_language(None, "zh-CN,zh;q=0.9,en;q=0.8") == "zh"
    assert choose_language(None, "en-US,en;q=0.9,zh;q=0.8") == "en"
    assert choose_language(None, "fr, zh;q=0.5") == "zh"
    assert choose_language(None, "en;q=0.1, zh;q=0.9") == "zh"
    assert choose_language("en", "zh") == "en"  # the switch wins
    assert choose_language(None, None) == "en"
    assert choose_language("xx", "garbage;q=abc") == "en"
