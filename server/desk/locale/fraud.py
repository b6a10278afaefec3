"""Labels of the anti-fraud page, and of the photo flags named in issue 16 (a flag with no
label here or in cases.py is shown by its name)."""

EN = {
    "fraud.title": "Flagged cases",
    "fraud.show": "Show",
    "fraud.period": "Cases dispatched from {start} to before {end} with flagged photos.",
    "fraud.cases": "Cases with flagged photos",
    "fraud.case_no": "Case",
    "fraud.flags": "Flags (photos)",
    "fraud.photos": "{count} photos",
    "fraud.other_cases": "Same photo on",
    "fraud.by_surveyor": "Flagged cases per surveyor",
    "fraud.by_zone": "Flagged cases per zone",
    "fraud.group": "Group",
    "fraud.flagged_cases": "Flagged cases",
    "fraud.empty": "No case of this period has a flagged photo.",
    "nav.fraud": "Fraud",
}

ZH = {
    "fraud.title": "可疑案件",
    "fraud.show": "显示",
    "fraud.period": "{start} 至 {end} 之前调度、含被标记照片的案件。",
    "fraud.cases": "含被标记照片的案件",
    "fraud.case_no": "案件",
    "fraud.flags": "标记（照片数）",
    "fraud.photos": "{count} 张照片",
    "fraud.other_cases": "同一照片见于",
    "fraud.by_surveyor": "各查勘员的可疑案件",
    "fraud.by_zone": "各区域的可疑案件",
    "fraud.group": "分组",
    "fraud.flagged_cases": "可疑案件数",
    "fraud.empty": "本期间没有含被标记照片的案件。",
    "nav.fraud": "反欺诈",
}
