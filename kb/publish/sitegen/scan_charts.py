"""On a claim's page, when corpus scans were loaded (`kb build --scan DIR`): how the claim is reported over time.

A small static SVG (no JavaScript): one column per ISO week for the texts that reported the claim, the flagged part
darker, and under it one line per key condition with the share of that week's mentions that dropped it. The same
numbers follow in a table, as for the site's other charts.
"""

from __future__ import annotations

from html import escape

from kb.publish.charts import CHAR_W, SERIES_COLOURS, STYLE
from kb.publish.sitegen import markup
from kb.publish.svg import clip

WIDTH, PAD, LEFT, TOP, PLOT_H, SHARE_H, LABEL_W = 780, 10, 60, 30, 90, 16, 200
MAX_WEEKS = 60  # the most recent weeks, so a long history stays readable
KEY_CHARS = int((LABEL_W - 8) // CHAR_W)  # a key's label ends before the strips start


def scan_section(site, claim, page) -> str:
    weeks = site.scans.get(claim.id)
    if not weeks:
        return ""
    weeks = [w for w in weeks if w[0] != "undated"][-MAX_WEEKS:] or weeks[-MAX_WEEKS:]
    keys = [k for k in dict.fromkeys(claim.key_context or []) if k in site.kb.context]
    svg = scan_chart(f"scan-{claim.id}", claim.id, weeks, keys, site.key_label)
    total, flagged = sum(w[1] for w in weeks), sum(w[2] for w in weeks)
    rows = [[markup.text(week), str(mentions), str(flag)] + [f"{shares.get(k, 0):.0%}" for k in keys]
            for week, mentions, flag, shares in weeks]
    table = markup.table(["Week", "Mentions", "Flagged"] + [f"Dropped: {markup.text(site.key_label(k))}" for k in keys], rows)
    return ("## How it is reported over time\n\n"
            f"Corpus scans (`kb scan`) found {total:,} texts reporting this claim; the checker flagged {flagged:,}.\n\n"
            + markup.raw_html_block(svg, "caveat-chart") + "\n" + table + "\n")


def scan_chart(chart_id: str, claim_id: str, weeks: list, keys: list, key_label) -> str:
    """weeks: [(week, mentions, flagged, {key: share})]; keys: the key conditions to draw a share line for."""
    count = len(weeks)
    plot_w = WIDTH - LABEL_W - PAD * 2
    step = plot_w / max(count, 1)
    top_value = max((w[1] for w in weeks), default=1) or 1
    x0 = PAD + LABEL_W
    parts = [f'<text x="{PAD}" y="{TOP + 12}">Texts per week</text>',
             f'<text x="{PAD}" y="{TOP + 28}" class="rows">(flagged darker)</text>',
             f'<text x="{x0 - 6}" y="{TOP + 10}" text-anchor="end">{top_value}</text>',
             f'<line class="axis" x1="{x0}" y1="{TOP + PLOT_H}" x2="{x0 + plot_w:.1f}" y2="{TOP + PLOT_H}"/>']
    for i, (week, mentions, flagged, _shares) in enumerate(weeks):
        x, width = x0 + i * step + 1, max(step - 2, 1)
        height = PLOT_H * mentions / top_value
        red = PLOT_H * flagged / top_value
        tip = f"<title>{escape(week)}: {mentions} texts, {flagged} flagged</title>"
        parts.append(f'<rect x="{x:.1f}" y="{TOP + PLOT_H - height:.1f}" width="{width:.1f}" height="{height:.1f}" '
                     f'fill="#93c5fd">{tip}</rect>')
        parts.append(f'<rect x="{x:.1f}" y="{TOP + PLOT_H - red:.1f}" width="{width:.1f}" height="{red:.1f}" '
                     f'fill="{SERIES_COLOURS[0]}">{tip}</rect>')
    y = TOP + PLOT_H + 8
    for week_index in sorted({0, count - 1}):
        x = x0 + week_index * step + step / 2
        parts.append(f'<text x="{x:.1f}" y="{y + 10}" text-anchor="middle">{escape(weeks[week_index][0])}</text>')
    y += 24
    if keys:  # said once: "Dropped: <key>" on every strip ran past the label column into the strips
        parts.append(f'<text x="{PAD}" y="{y + 11}" class="rows">Share of each week\'s texts that dropped:</text>')
        y += SHARE_H
    for k_index, key in enumerate(keys):
        colour = SERIES_COLOURS[(k_index + 1) % len(SERIES_COLOURS)]
        parts.append(f'<text x="{PAD}" y="{y + 11}"><title>{escape(key_label(key))}</title>'
                     f'{escape(clip(key_label(key), KEY_CHARS))}</text>')
        for i, (week, mentions, _flagged, shares) in enumerate(weeks):
            share = shares.get(key, 0.0)
            x, width = x0 + i * step + 1, max(step - 2, 1)
            parts.append(f'<rect x="{x:.1f}" y="{y:.0f}" width="{width:.1f}" height="{SHARE_H - 4}" fill="{colour}" '
                         f'fill-opacity="{0.08 + 0.92 * share:.2f}"><title>{escape(week)}: {share:.0%} of {mentions} '
                         f'dropped {escape(key_label(key))}</title></rect>')
        y += SHARE_H
    height = y + PAD
    title = f"How {claim_id} is reported over time"
    description = (f"Texts reporting the claim per ISO week over {count} weeks, the flagged ones darker, and per key "
                   "condition the share of each week's texts that dropped it (darker is a larger share).")
    ident = escape(chart_id)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{WIDTH}" height="{height:.0f}" '
            f'viewBox="0 0 {WIDTH} {height:.0f}" aria-labelledby="{ident}-title {ident}-desc">'
            f'<title id="{ident}-title">{escape(title)}</title><desc id="{ident}-desc">{escape(description)}</desc>'
            f"{STYLE}{''.join(parts)}</svg>")
