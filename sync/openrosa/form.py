"""The survey XForm, built once from the XLSForm in the package (sync/forms/survey.xlsx)
with pyxform, and what the server reads back from it: id, version, hash, file fields.

Form authors edit the spreadsheet; nothing here is hand-written XML. The per-surveyor
case list is a CSV media file the form selects from (`select_one_from_file cases.csv`),
made fresh on every download, so Collect offers exactly the surveyor's open cases.
"""

from __future__ import annotations

import csv
import hashlib
import io
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cases.models import Case, User

FORMS_DIR = Path(__file__).resolve().parent.parent / "forms"
SURVEY_XLSX = FORMS_DIR / "survey.xlsx"
CASES_CSV = "cases.csv"
XF = "{http://www.w3.org/2002/xforms}"


@dataclass(frozen=True)
class Form:
    form_id: str
    version: str
    title: str
    xml: bytes
    root: str  # the instance's root element name
    binary_fields: frozenset[str]  # fields whose value names an attachment
    fields: frozenset[str]  # every element of the instance (local names), groups too

    @property
    def md5(self) -> str:
        return "md5:" + hashlib.md5(self.xml).hexdigest()


def build_form(xlsx: Path) -> Form:
    """Build an XLSForm to an XForm and read back what a submission is checked against.
    pyxform is imported here, not at the top: it takes about a second to import, which
    every server process and CLI run would otherwise pay before serving anything."""
    from pyxform.xls2xform import convert

    result = convert(xlsform=str(xlsx), pretty_print=False)
    xml = result.xform.encode()
    doc = ET.fromstring(xml)  # our own output, not a device's
    title = doc.findtext("{http://www.w3.org/1999/xhtml}head/{http://www.w3.org/1999/xhtml}title")
    model = doc.find(f".//{XF}model")
    assert model is not None
    main = model.find(f"{XF}instance")
    assert main is not None and len(main)
    root = main[0]
    fields = frozenset(_local(e.tag) for e in root.iter())
    binary = frozenset(
        bind.get("nodeset", "").rsplit("/", 1)[-1]
        for bind in model.iter(f"{XF}bind")
        if bind.get("type") == "binary"
    )
    return Form(
        form_id=root.get("id", ""),
        version=root.get("version", ""),
        title=title or root.get("id", ""),
        xml=xml,
        root=_local(root.tag),
        binary_fields=binary,
        fields=fields,
    )


@cache
def survey_form() -> Form:
    """The survey form, built at the first OpenRosa request and kept for the process."""
    return build_form(SURVEY_XLSX)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def cases_csv(rows: Iterable[tuple[str, str]]) -> bytes:
    """The choice list of cases (`name` is the case id, `label` what the surveyor reads)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "label"])
    for case_id, label in rows:
        writer.writerow([case_id, label])
    return out.getvalue().encode()


def media_md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


async def case_choices(session: AsyncSession, surveyor: User) -> bytes:
    """The surveyor's open cases as the form's case list (newest report first)."""
    rows = await session.execute(
        select(Case.id, Case.case_no, Case.plate, Case.address)
        .where(Case.surveyor_id == surveyor.id, Case.status != "closed")
        .order_by(Case.reported_at.desc(), Case.id)
    )
    return cases_csv(
        (case_id, " ".join(p for p in (case_no, plate or "", address) if p))
        for case_id, case_no, plate, address in rows
    )
