"""Grouped horizontal bar charts as static, accessible SVG, drawn by hand (no plotting library, no JavaScript).

`bar_chart` draws one row per (group, label) with one bar per series, e.g. one row per model under a
heading per measure, with a "strong goal nudge" bar next to a "no goal nudge" bar. Every bar carries its
value as text; the chart has a <title>, a <desc> and axis labels, and callers print the same numbers in a
table underneath. Values are fractions (0.05 = 5%); `signed=True` allows negative values (accuracy drops).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

from kb.publish.svg import clip

SERIES_COLOURS = ("#1e3a8a", "#c2410c", "#047857", "#6d28d9")  # all >= 4.5:1 against white
WIDTH, PAD, LABEL_W, VALUE_W = 780, 10, 220, 150
BAR_H, BAR_GAP, ROW_GAP, GROUP_H, LEGEND_H, AXIS_H = 13, 2, 8, 26, 20, 46
LABEL_CHARS = 32
CHAR_W = 7.2  # the widest a 13px sans-serif character usually is, in px: enough to tell whether a label fits
STYLE = ("<style>.chart text{font:13px sans-serif;fill:#111827}.chart .group{font-weight:bold}"
         ".chart .grid{stroke:#d1d5db;stroke-width:1}.chart .axis{stroke:#374151;stroke-width:1}"
         ".chart .rows{font-style:italic;fill:#374151}.chart a:hover rect{opacity:.8}</style>")


@dataclass(frozen=True)
class Bar:
    value: float  # a fraction: 0.05 is 5% (or 5 points)
    label: str  # the text printed at the end of the bar
    href: str | None = None
    tooltip: str = ""


@dataclass(frozen=True)
class Row:
    group: str  # the heading the row sits under
    label: str  # the row's own name
    bars: tuple  # one Bar (or None for "no value") per series


def _domain(rows, signed: bool) -> tuple[float, float]:
    """0..100% for rates; for signed values, the data's range widened to the next 10 points."""
    if not signed:
        return 0.0, 1.0
    values = [b.value for r in rows for b in r.bars if b is not None] or [0.0]
    low = min(0.0, math.floor(min(values) * 10) / 10)
    high = max(0.1, math.ceil(max(values) * 10) / 10)
    return low, high


class _Scale:
    def __init__(self, low: float, high: float):
        self.low, self.high = low, high
        self.left, self.width = PAD + LABEL_W, WIDTH - 2 * PAD - LABEL_W - VALUE_W

    def x(self, value: float) -> float:
        return self.left + (value - self.low) / (self.high - self.low) * self.width

    def ticks(self) -> list[float]:
        step = 0.25 if self.high - self.low >= 0.8 else 0.1
        count = round((self.high - self.low) / step)
        return [round(self.low + i * step, 4) for i in range(count + 1)]


def _legend(series: list[str], y: float) -> tuple[str, float]:
    parts = []
    for i, name in enumerate(series):
        colour = SERIES_COLOURS[i % len(SERIES_COLOURS)]
        parts.append(f'<rect x="{PAD}" y="{y + 3:.0f}" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{PAD + 18}" y="{y + 13:.0f}">{escape(name)}</text>')
        y += LEGEND_H
    return "".join(parts), y + 6


def _bar(bar: Bar | None, index: int, y: float, scale: _Scale) -> str:
    if bar is None:
        return f'<text x="{scale.x(0) + 4:.1f}" y="{y + BAR_H - 3:.0f}">no value</text>'
    colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
    x0, x1 = sorted((scale.x(0), scale.x(bar.value)))
    width = max(x1 - x0, 1.5)  # a zero still shows as a hairline: measured, not missing
    tip = f"<title>{escape(bar.tooltip or bar.label)}</title>"
    rect = f'<rect x="{x0:.1f}" y="{y:.0f}" width="{width:.1f}" height="{BAR_H}" fill="{colour}">{tip}</rect>'
    if bar.href:
        rect = f'<a href="{escape(bar.href)}">{rect}</a>'
    label_x = max(x1, scale.x(0)) + 4
    if label_x + len(bar.label) * CHAR_W > WIDTH - PAD and width > len(bar.label) * CHAR_W + 8:
        # Past the chart's right edge it would be cut off ("94.5% (secondary, not verified)"): inside the bar's
        # end instead, in white (every series colour has at least 4.5:1 contrast with it).
        return rect + (f'<text x="{x1 - 4:.1f}" y="{y + BAR_H - 3:.0f}" text-anchor="end" fill="#ffffff" '
                       f'style="fill:#ffffff">{escape(bar.label)}</text>')
    return rect + f'<text x="{label_x:.1f}" y="{y + BAR_H - 3:.0f}">{escape(bar.label)}</text>'


def _rows(rows: list[Row], y: float, scale: _Scale) -> tuple[str, float]:
    parts, group = [], None
    for row in rows:
        if row.group != group:
            group = row.group
            parts.append(f'<text class="group" x="{PAD}" y="{y + 17:.0f}">{escape(clip(group, 110))}</text>')
            y += GROUP_H
        parts.append(f'<text x="{PAD + 8}" y="{y + BAR_H - 3:.0f}"><title>{escape(row.label)}</title>'
                     f"{escape(clip(row.label, LABEL_CHARS))}</text>")
        for index, bar in enumerate(row.bars):
            parts.append(_bar(bar, index, y, scale))
            y += BAR_H + BAR_GAP
        y += ROW_GAP
    return "".join(parts), y


def _axis(scale: _Scale, top: float, bottom: float, axis_label: str, points: bool) -> str:
    parts = []
    for tick in scale.ticks():
        x = scale.x(tick)
        text = f"{tick * 100:g}" + ("" if points else "%")
        parts.append(f'<line class="grid" x1="{x:.1f}" y1="{top:.0f}" x2="{x:.1f}" y2="{bottom:.0f}"/>'
                     f'<text x="{x:.1f}" y="{bottom + 16:.0f}" text-anchor="middle">{text}</text>')
    zero = scale.x(0)
    parts.append(f'<line class="axis" x1="{zero:.1f}" y1="{top:.0f}" x2="{zero:.1f}" y2="{bottom:.0f}"/>'
                 f'<line class="axis" x1="{scale.left}" y1="{bottom:.0f}" x2="{scale.left + scale.width}" y2="{bottom:.0f}"/>')
    middle = scale.left + scale.width / 2
    parts.append(f'<text x="{middle:.0f}" y="{bottom + 36:.0f}" text-anchor="middle">{escape(axis_label)}</text>')
    return "".join(parts)


def bar_chart(chart_id: str, title: str, description: str, series: list[str], rows: list[Row],
              axis_label: str, row_axis_label: str = "", signed: bool = False) -> str:
    """An SVG document: a legend naming `series`, then `rows` under their group headings, then the x axis.

    `axis_label` names the value axis, `row_axis_label` what the rows are ("Model, under each measure").
    `chart_id` makes the ids of <title>/<desc> unique on a page holding several charts. All text is escaped.
    """
    scale = _Scale(*_domain(rows, signed))
    legend, top = _legend(series, PAD)
    if row_axis_label:
        legend += f'<text class="rows" x="{PAD}" y="{top + 12:.0f}">{escape(row_axis_label)}</text>'
        top += LEGEND_H
    body, bottom = _rows(rows, top, scale)
    height = bottom + AXIS_H
    ident = escape(chart_id)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{WIDTH}" height="{height:.0f}" '
            f'viewBox="0 0 {WIDTH} {height:.0f}" aria-labelledby="{ident}-title {ident}-desc">'
            f'<title id="{ident}-title">{escape(title)}</title><desc id="{ident}-desc">{escape(description)}</desc>'
            f"{STYLE}{legend}{_axis(scale, top, bottom, axis_label, signed)}{body}</svg>")
