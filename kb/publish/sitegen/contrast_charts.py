"""Charts chosen from the data: one per set of contrasts between the same two settings.

Every contrast in claims/ (with vs without the goal nudge, with vs without the allow-shutdown instruction,
system card vs paper) joins two claims measured under two settings. Contrasts between the same pair of
settings, with the same kind of number, make one chart when there are at least MIN_PAIRS of them — so a new
source with contrasts gets its chart without code naming it.
"""

from __future__ import annotations

import re

from collections import Counter, defaultdict
from dataclasses import dataclass

from kb.format import format_value
from kb.publish import charts
from kb.publish.sitegen import markup
from kb.publish.sitegen.site_data import CHARTS

MIN_PAIRS = 2
CHARTED_METRICS = {"rate": "Share of runs", "conditional_rate": "Share of the runs that count (see each claim)",
                   "accuracy_drop": "Drop in accuracy (percentage points)",
                   "difference": "Difference between two rates (percentage points)"}
METRIC_WORDS = {"conditional_rate": "conditional rates", "accuracy_drop": "accuracy drops", "difference": "differences"}
SIGNED_METRICS = {"accuracy_drop", "difference"}


@dataclass
class ContrastChart:
    id: str
    differs_by: str
    settings: tuple  # (setting id, setting id) in the order the data declares them
    metric: str
    pairs: list  # [(claim under settings[0], claim under settings[1])]
    sources: tuple  # the source ids the two settings belong to (two for "system card vs paper")


def contrast_charts(kb) -> list[ContrastChart]:
    """Every chart the data supports, sorted by id: one per (setting, setting, metric) with MIN_PAIRS contrasts."""
    order = {sid: i for i, sid in enumerate(kb.settings)}
    groups, keys = defaultdict(set), defaultdict(Counter)
    for claim in kb.claims.values():
        for other_id, differs_by, _note in kb.contrasts_of(claim.id):
            pair = _oriented(kb, claim, kb.claims[other_id], order)
            if pair:
                a, b = pair
                groups[(a.setting, b.setting, a.metric)].add((a.id, b.id))
                keys[(a.setting, b.setting, a.metric)][differs_by] += 1
    found = []
    for (sa, sb, metric), pairs in groups.items():
        if len(pairs) >= MIN_PAIRS:
            differs_by = sorted(keys[(sa, sb, metric)].items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
            sources = tuple(dict.fromkeys(kb.setting_sources.get(s) for s in (sa, sb)))
            found.append(ContrastChart(_chart_id(sa, sb, metric), differs_by, (sa, sb), metric,
                                       _sorted_pairs(kb, pairs), sources))
    return sorted(found, key=lambda c: c.id)


def _oriented(kb, claim, other, order):
    """(a, b) with a's setting declared first; None when the pair cannot share an axis."""
    if claim.setting == other.setting or claim.metric != other.metric or claim.metric not in CHARTED_METRICS:
        return None
    if claim.value is None or other.value is None:
        return None
    return (claim, other) if order.get(claim.setting, 0) < order.get(other.setting, 0) else (other, claim)


def _chart_id(setting_a: str, setting_b: str, metric: str) -> str:
    return f"{setting_a}-vs-{setting_b}" + ("" if metric == "rate" else f"-{metric}")


def _sorted_pairs(kb, pairs) -> list:
    """Rows grouped by behaviour and measure, models alphabetical within each group."""
    def key(pair):
        a = kb.claims[pair[0]]
        behaviour = kb.behaviours[a.behaviour].label if a.behaviour in kb.behaviours else a.behaviour
        model = kb.models[a.model].name if a.model in kb.models else a.model
        return (behaviour, a.measure, model, pair)
    return [(kb.claims[a], kb.claims[b]) for a, b in sorted(pairs, key=key)]


# ---------------------------------------------------------------- drawing for one page

def chart_title(site, chart: ContrastChart) -> str:
    """'Differs by strong goal nudge: <setting> vs <setting>' — unique, as each chart is one pair of settings."""
    first, second = (site.kb.settings[s].label for s in chart.settings)
    what = ("Same measurement, two sources" if chart.differs_by == "source"
            else f"Differs by {site.key_label(chart.differs_by).lower()}")
    suffix = "" if chart.metric == "rate" else f" ({METRIC_WORDS[chart.metric]})"
    return f"{what}: {first} vs {second}{suffix}"


def chart_heading(site, chart: ContrastChart, by_setting: bool = False) -> str:
    """A short heading: what differs, and in whose results ('Strong goal nudge · Frontier Models are ...'), or with
    `by_setting` in which setting; the two settings are named in the line under it, and in the chart's own title."""
    what = "Two sources" if chart.differs_by == "source" else site.key_label(chart.differs_by)
    where = (site.kb.settings[chart.settings[0]].label if by_setting
             else _short(site.source_title(site.kb.setting_sources.get(chart.settings[0], ""))))
    suffix = "" if chart.metric == "rate" else f" ({METRIC_WORDS[chart.metric]})"
    return f"{what} · {where}{suffix}"


def _short(title: str) -> str:
    """A title without its subtitle or version note: 'Shutdown Resistance in Large Language Models (v2: …)'."""
    return re.split(r" \(|: | — ", title, maxsplit=1)[0]


def headings(site, charts_found: list) -> dict:
    """chart id -> its heading: the short one; by setting where two charts would share it; else the full title."""
    titles = {}
    for attempt in (lambda c: chart_heading(site, c), lambda c: chart_heading(site, c, by_setting=True),
                    lambda c: chart_title(site, c)):
        proposed = {c.id: titles.get(c.id) or attempt(c) for c in charts_found}
        counts = list(proposed.values())
        titles = {cid: t for cid, t in proposed.items() if counts.count(t) == 1}
        if len(titles) == len(charts_found):
            break
    return {c.id: titles.get(c.id) or chart_title(site, c) for c in charts_found}


def series_labels(site, chart: ContrastChart) -> list[str]:
    return [site.kb.settings[s].label for s in chart.settings]


def _group(site, claim, other) -> str:
    """'Oversight subversion: disabled oversight' — the measure alone when it already names the behaviour. The
    heading holds both bars of a row, so it names only what they share: the behaviour alone when the two claims
    word their measures differently (else the anti-scheming chart's 'before' heading labelled its 'after' bars)."""
    behaviour = site.behaviour_label(claim.behaviour)
    if claim.measure != other.measure:
        return behaviour
    return claim.measure if claim.measure.lower().startswith(behaviour.lower()) else f"{behaviour}: {claim.measure}"


def _measure(a, b) -> str:
    return a.measure if a.measure == b.measure else f"{a.measure}; {b.measure}"


def _bar(site, claim, from_page: str) -> charts.Bar:
    flag = "" if claim.verification == "verified" else f" ({claim.verification}, not verified)"
    href = markup.url_between(from_page, site.card_page(claim.id))
    return charts.Bar(claim.value, format_value(claim) + flag, href, f"{claim.id}: {claim.value_text}")


def chart_svg(site, chart: ContrastChart, from_page: str) -> str:
    rows = [charts.Row(_group(site, a, b), site.model_name(a.model), (_bar(site, a, from_page), _bar(site, b, from_page)))
            for a, b in chart.pairs]
    series = series_labels(site, chart)
    description = (f"Bar chart, one row per model and measure. Bars compare {series[0]} with {series[1]}. "
                   f"{CHARTED_METRICS[chart.metric]}. The table under the chart gives the same numbers.")
    return charts.bar_chart(chart.id, chart_title(site, chart), description, series, rows,
                            CHARTED_METRICS[chart.metric], "Model, under each behaviour and measure",
                            signed=chart.metric in SIGNED_METRICS)


def _cell(site, claim, from_page: str) -> str:
    cell = site.value_cell(claim, from_page)
    if not _same_text(claim):
        cell += f" (source: {markup.text(claim.value_text)})"
    return cell


def _same_text(claim) -> bool:
    """True when the source's own wording says nothing our formatted value does not ('0.05' for 5%)."""
    try:
        return float(claim.value_text) == claim.value
    except (TypeError, ValueError):
        return claim.value_text == format_value(claim)


def chart_table(site, chart: ContrastChart, from_page: str) -> str:
    series = [markup.text(s) for s in series_labels(site, chart)]
    rows = [[markup.text(site.behaviour_label(a.behaviour)), markup.text(_measure(a, b)), markup.text(site.model_name(a.model)),
             _cell(site, a, from_page), _cell(site, b, from_page)] for a, b in chart.pairs]
    return markup.table(["Behaviour", "Measure", "Model", *series], rows)


def chart_section(site, chart: ContrastChart, from_page: str, level: int = 3, title: str | None = None) -> str:
    """Heading, SVG, and the same numbers as a table (the accessible version, with links to the cards)."""
    heading = f"{'#' * level} {markup.text(title or chart_heading(site, chart))} {{#chart-{chart.id}}}\n\n"
    settings = [f"{markup.link(markup.text(site.kb.settings[s].label), markup.relative(from_page, *site.setting_target(s)))}"
                for s in chart.settings]
    intro = (f"Differs by: {site.key_link(chart.differs_by, from_page)}. Conditions: {settings[0]} vs {settings[1]}. "
             f"Bars link to each number's context card.\n\n")
    return heading + intro + markup.raw_html_block(chart_svg(site, chart, from_page), "caveat-chart") + "\n" + \
        chart_table(site, chart, from_page) + "\n"


def charts_page(site, charts_found: list[ContrastChart]) -> dict[str, str]:
    intro = ("# Charts\n\nEach chart puts two numbers side by side that differ by one condition — the goal nudge, the "
             "allow-shutdown instruction, the difficulty level — or that report the same measurement from two sources. "
             "The charts are made from the contrasts recorded in the data; a number marked *not verified* is flagged "
             "on its bar. Under each chart, a table gives the same numbers with links to their context cards.\n\n")
    titles = headings(site, charts_found)
    contents = "".join(f"- [{markup.text(titles[c.id])}](#chart-{c.id})\n" for c in charts_found) + "\n"
    return {CHARTS: intro + contents + "".join(chart_section(site, c, CHARTS, level=2, title=titles[c.id])
                                               for c in charts_found)}
