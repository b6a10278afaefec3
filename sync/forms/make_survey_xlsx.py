"""Write survey.xlsx, the XLSForm of the survey ODK Collect fills in (run once; form authors
then edit the spreadsheet itself, which is what the server reads).

    python -m sync.forms.make_survey_xlsx [PATH]

Needs openpyxl (a development tool here, not a server dependency: pyxform reads the file).
Field names are the contract with sync/openrosa/instance.py: a photo field ends in
`_photo` and its category is the rest; a document field is named by its category.
"""

from __future__ import annotations

import sys
from pathlib import Path

PHOTOS = [  # (category, required, English, Chinese)
    ("scene", True, "Scene photo", "现场照片"),
    ("damage", True, "Damage photo", "损失照片"),
    ("vin", True, "VIN photo", "车架号照片"),
    ("plate", True, "Plate photo", "车牌照片"),
]
DOCUMENTS = [
    ("driving_licence", "Driving licence", "驾驶证"),
    ("vehicle_licence", "Vehicle licence", "行驶证"),
    ("claim_form", "Claim application form", "索赔申请书"),
    ("bank_details", "Bank remittance details", "汇款信息"),
    ("simple_procedure_form", "Simple-procedure accident form", "简易程序处理单"),
    ("agreement", "Settlement agreement", "协议书"),
    ("compulsory_policy", "Compulsory-insurance sticker or policy", "交强险标志或保单"),
    ("police_report", "Police accident report", "事故认定书"),
    ("invoice", "Repair invoice", "维修发票"),
]
COLUMNS = [
    "type", "name", "label::English (en)", "label::中文 (zh)", "required", "relevant",
    "constraint", "default", "appearance", "parameters",
]  # fmt: skip
MAX_PIXELS = "max-pixels=2048"  # Collect scales photos down before sending


def survey_rows() -> list[list[str]]:
    rows = [
        ["start", "start"],
        ["end", "end"],
        ["deviceid", "deviceid"],
        ["select_one_from_file cases.csv", "case", "Case", "案件", "yes", "", "", "", "minimal"],
        ["dateTime", "arrived_at", "Arrived on scene at", "到达现场时间", "yes", "", "", "now()"],
        ["geopoint", "arrival", "Position on arrival", "到达位置", "yes"],
        ["begin_group", "photos", "Photos", "照片"],
    ]
    for category, required, en, zh in PHOTOS:
        required_text = "yes" if required else ""
        rows.append(["image", f"{category}_photo", en, zh, required_text, *[""] * 4, MAX_PIXELS])
    rows += [
        ["end_group", "photos"],
        ["select_multiple documents", "documents", "On-site documents collected", "现场单证"],
        ["begin_group", "document_photos", "Document photos", "单证照片"],
    ]
    for category, en, zh in DOCUMENTS:
        relevant = f"selected(${{documents}}, '{category}')"
        rows.append(["image", category, en, zh, "yes", relevant, "", "", "", MAX_PIXELS])
    rows += [
        ["end_group", "document_photos"],
        ["geopoint", "scene", "Scene position (if not where you arrived)", "现场位置"],
        ["decimal", "estimate", "Loss estimate (yuan)", "估损金额（元）", "", "", ". >= 0"],
        ["text", "items", "Estimate items", "定损项目", "", "${estimate} != ''"],
        ["text", "notes", "Notes", "备注", "", "", "", "", "multiline"],
    ]
    return rows


def write(path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    survey = book.active
    survey.title = "survey"
    survey.append(COLUMNS)
    for row in survey_rows():
        survey.append(row)
    choices = book.create_sheet("choices")
    choices.append(["list_name", "name", "label::English (en)", "label::中文 (zh)"])
    for category, en, zh in DOCUMENTS:
        choices.append(["documents", category, en, zh])
    settings = book.create_sheet("settings")
    settings.append(["form_id", "version", "form_title", "default_language", "instance_name"])
    settings.append(
        ["kancha_survey", "2026120301", "kancha survey 查勘", "English (en)", "${case}"]
    )
    book.save(path)


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("survey.xlsx"))
