"""Server-drawn SVG bar charts for the desk (no chart library): the geometry is computed
here, templates/chart.html draws it. Horizontal bars, one per row, so that any number of
groups fits the page's width; shares from 0 to 100 %, with an optional target mark."""

from __future__ import annotations

from dataclasses import dataclass, field

WIDTH = 800
LABEL_WIDTH = 200  # names are cut to fit here (the full name is in the bar's <title>)
BAR_LEFT = LABEL_WIDTH + 10
BAR_WIDTH = 500
ROW = 30
BAR_HEIGHT = 20
TOP = 28  # room for the axis labels
LABEL_CHARS = 22


@dataclass
class Bar:
    label: str
    short: str
    share: float | None
    text: str  # the value as shown, e.g. "83.3 % (5/6)"; for none: a dash
    y: int
    width: float
    target_x: float | None = None
    below_target: bool = False


@dataclass
class Chart:
    title: str
    bars: list[Bar] = field(default_factory=list)
    ticks: list[tuple[float, str]] = field(default_factory=list)
    width: int = WIDTH
    height: int = TOP
    bar_left: int = BAR_LEFT
    bar_height: int = BAR_HEIGHT


def percent(share: float | None) -> str:
    return "–" if share is None else f"{share * 100:.1f} %"


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def share_chart(
    title: str, rows: list[tuple[str, float | None, str]], targets: dict[str, float] | None = None
) -> Chart:
    """`rows`: (label, share 0..1 or None, detail such as "5/6"); `targets`: label -> the
    share each bar should reach (drawn as a mark; a bar under it is marked below target)."""
    chart = Chart(title=title)
    chart.ticks = [(BAR_LEFT + BAR_WIDTH * q / 4, f"{q * 25} %") for q in range(5)]
    for i, (label, share, detail) in enumerate(rows):
        value = 0.0 if share is None else min(max(share, 0.0), 1.0)
        target = (targets or {}).get(label)
        text = percent(share) + (f" ({detail})" if detail and share is not None else "")
        chart.bars.append(
            Bar(
                label=label,
                short=_short(label),
                share=share,
                text=text,
                y=TOP + i * ROW,
                width=round(BAR_WIDTH * value, 1),
                target_x=None if target is None else round(BAR_LEFT + BAR_WIDTH * target, 1),
                below_target=target is not None and share is not None and share < target,
            )
        )
    chart.height = TOP + max(len(rows), 1) * ROW + 4
    return chart
