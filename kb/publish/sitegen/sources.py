"""One page per source at sources/<source-id>/: what it is, its claim graph, its contrasts side by side, its
charts, and every result in tables grouped by setting, with the conditions next to every number.
"""

from __future__ import annotations

from collections import Counter

from kb.publish.bibtex import bibtex_entry
from kb.publish.sitegen import markup
from kb.publish.sitegen.cards import contrast_side
from kb.publish.sitegen.contrast_charts import chart_section
from kb.publish.sitegen.diagrams import FULL_GRAPH_LIMIT, source_diagram
from kb.publish.sitegen.site_data import LEDGER, SOURCES_INDEX


def source_pages(site, charts) -> dict[str, str]:
    pages = {site.source_page(sid): source_page(site, source, charts) for sid, source in sorted(site.kb.sources.items())}
    pages[SOURCES_INDEX] = sources_index(site)
    return pages


def source_page(site, source, charts) -> str:
    page = site.source_page(source.id)
    claims = site.kb.claims_by_source.get(source.id, [])
    parts = [f"# {markup.text(source.title)}\n\n", _about(site, source, claims), _statements(site, source, page)]
    if claims:
        parts += [_diagram(site, source, page), _contrasts(site, claims, page),
                  _charts(site, source, charts, page), _results(site, source, claims, page)]
    parts.append("## Cite it\n\n" + markup.code_block(bibtex_entry(source), "bibtex"))
    return "".join(parts)


def _about(site, source, claims) -> str:
    lines = [f"- **Kind:** {markup.text(source.kind)}", f"- **By:** {markup.text(source.authors)}",
             f"- **Date:** {markup.text(source.date)}"]
    lines += [f"- **Version read:** {markup.text(source.version)}"] if source.version else []
    lines += [f"- **Read it:** {markup.external_link(source.url)}"] if source.url else []
    lines += [f"- **Note:** {markup.text(source.notes)}"] if source.notes else []
    statuses = Counter(c.verification for c in claims)
    status = ", ".join(f"{n} {markup.text(s)}" for s, n in sorted(statuses.items()))
    lines.append(f"- **Claims:** {len(claims)}" + (f" ({status})" if claims else " (none recorded from this source)"))
    return "\n".join(lines) + "\n\n"


def _statements(site, source, page) -> str:
    citing = [s for s in site.kb.statements.values() if s.source == source.id]
    if not citing:
        return ""
    links = ", ".join(markup.link(markup.text(s.id), markup.relative(page, LEDGER, f"statement-{s.id}")) for s in citing)
    return f"Statements from this source in the discourse ledger: {links}.\n\n"


def _diagram(site, source, page) -> str:
    big = len(site.kb.claims_by_source.get(source.id, [])) > FULL_GRAPH_LIMIT
    what = ("A summary: one box per behaviour and setting with its number of claims; the tables below list every claim."
            if big else "Every claim of this source with its setting and the statements that report it.")
    return (f"## Claim graph\n\n{what} Boxes are links.\n\n"
            + markup.raw_html_block(source_diagram(site, source.id, page), "caveat-diagram") + "\n")


def _contrasts(site, claims, page) -> str:
    """Pairs of claims that differ by one condition (or by source), side by side, grouped by what differs."""
    by_key: dict[str, dict] = {}
    for claim in claims:
        for other_id, differs_by, _note in site.kb.contrasts_of(claim.id):
            a, b = _oriented(site, claim, site.kb.claims[other_id])
            by_key.setdefault(differs_by, {})[(a.id, b.id)] = (a, b)
    if not by_key:
        return ""
    parts = ["## Contrasts side by side\n\nThe same measurement with one thing changed. "
             "Quote one number without the other and readers lose what made the difference.\n\n"]
    for differs_by in sorted(by_key):
        parts.append(f"### Differs by: {markup.text(site.key_label(differs_by))}\n\n")
        rows = [_contrast_row(site, a, b, differs_by, page) for _pair, (a, b) in sorted(by_key[differs_by].items())]
        parts.append(markup.table(["Model", "Measure", "Claim", "Contrasting claim"], rows) + "\n")
    return "".join(parts)


def _oriented(site, claim, other):
    """This source's claim first; within one source, the setting declared first (e.g. with the nudge) first."""
    same_source = site.kb.claim_sources.get(claim.id) == site.kb.claim_sources.get(other.id)
    if same_source and site.setting_position[other.setting] < site.setting_position[claim.setting]:
        return other, claim
    return claim, other


def _contrast_row(site, claim, other, differs_by, page) -> list[str]:
    return [markup.text(site.model_name(claim.model)), markup.text(claim.measure),
            contrast_side(site, claim, differs_by, page), contrast_side(site, other, differs_by, page)]


def _charts(site, source, charts, page) -> str:
    mine = [c for c in charts if source.id in c.sources]
    if not mine:
        return ""
    return "## Charts\n\n" + "".join(chart_section(site, c, page) for c in mine)


def _results(site, source, claims, page) -> str:
    parts = ["## Results by setting\n\nEach setting is one set of experimental conditions; every number below "
             "holds only under the conditions listed above it.\n\n"]
    # A claim may be measured under a setting another source's file declares (a figure of a paper).
    for setting_id in dict.fromkeys(c.setting for c in claims):
        mine = [c for c in claims if c.setting == setting_id]
        parts.append(_setting_section(site, site.kb.settings[setting_id], mine, page))
    return "".join(parts)


def _setting_section(site, setting, claims, page) -> str:
    conditions = [[site.key_link(k, page), markup.text(c.value), markup.text(c.description)]
                  for k, c in (setting.conditions or {}).items()]
    rows = [[markup.text(site.model_name(c.model)), markup.text(c.measure), site.value_cell(c, page), site.source_words(c),
             site.key_conditions_cell(c), markup.text(c.locator)] for c in claims]
    notes = f"{markup.text(setting.notes)}\n\n" if setting.notes else ""
    return (f"### {markup.text(setting.label)} {{#setting-{setting.id}}}\n\n{markup.text(setting.description)}\n\n{notes}"
            + markup.table(["Condition", "Value", "What it was"], conditions) + "\n"
            + markup.table(["Model", "Measure", "Value (links to its card)", "As the source writes it", "Key conditions",
                            "Where"], rows)
            + "\n")


def sources_index(site) -> str:
    page = SOURCES_INDEX
    rows = []
    for source in sorted(site.kb.sources.values(), key=lambda s: (s.date, s.id)):
        claims = site.kb.claims_by_source.get(source.id, [])
        rows.append([markup.link(markup.text(source.title), markup.relative(page, site.source_page(source.id))),
                     markup.text(source.authors), markup.text(source.date), markup.text(source.kind), str(len(claims))])
    return ("# Sources\n\nThe documents the results come from, oldest first: papers, system cards, blog posts, threads.\n\n"
            + markup.table(["Source", "By", "Date", "Kind", "Claims"], rows))
