"""Static SVG drawings of the claim graph, made on the server or at build time (no JavaScript, no CDN).

`graph_svg` lays nodes out in columns by type (statements | claims | settings, models, behaviours | sources),
so a claim's neighbourhood reads left to right: who reported it, the claim and its contrasts, what it depends on,
where it comes from. Every node can be a link.
"""

from __future__ import annotations

from html import escape
from typing import Callable

COLUMNS = {"statement": 0, "claim": 1, "setting": 2, "model": 2, "behaviour": 2, "source": 3}
COLOURS = {"statement": "#fde68a", "claim": "#bfdbfe", "setting": "#c7f9cc", "model": "#e9d5ff", "behaviour": "#fecdd3",
           "source": "#e5e7eb"}
BOX_W, LINE_H, PAD, GAP, COL_GAP = 250, 16, 8, 14, 90
MAX_CHARS = 36


def clip(text: str, limit: int = MAX_CHARS) -> str:
    """`text` on one line, cut to `limit` characters with an ellipsis (also the charts' labels)."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _lines(node: str, data: dict) -> list[str]:
    kind = data.get("type", "")
    if data.get("title"):  # a caller-supplied heading (e.g. a summary box "3 claims")
        return [clip(data["title"])] + [clip(line) for line in data.get("lines", [])]
    # Claims are long sentences; their id is the readable handle (the full label is in the tooltip).
    name = data.get("id") if kind == "claim" else (data.get("label") or data.get("id") or node)
    head = f"{kind}: {clip(name)}"
    extra = []
    if kind == "setting":
        extra = [clip(f"{k}: {v}", MAX_CHARS + 4) for k, v in (data.get("conditions") or {}).items()]
    elif kind == "claim" and data.get("value_display"):
        extra = [clip(f"{data['value_display']} · {data.get('verification', '')}")]
    elif kind == "statement" and data.get("verdict"):
        extra = [f"label: {data['verdict']}"]
    return [head] + extra


def _layout(graph, center):
    columns: dict[int, list] = {}
    order = sorted(graph.nodes(data=True), key=lambda nd: (nd[0] != center, nd[1].get("type", ""), str(nd[1].get("label", ""))))
    for node, data in order:
        columns.setdefault(COLUMNS.get(data.get("type"), 4), []).append((node, data))
    # Empty columns take no room: a claim nobody reported starts at the left edge.
    columns = {i: columns[key] for i, key in enumerate(sorted(columns))}
    boxes, heights = {}, {}
    for col, items in columns.items():
        y = PAD
        for node, data in items:
            lines = _lines(node, data)
            h = PAD * 2 + LINE_H * len(lines)
            boxes[node] = (PAD + col * (BOX_W + COL_GAP), y, h, lines, data)
            y += h + GAP
        heights[col] = y
    return boxes, max(heights.values(), default=PAD * 2), (max(columns, default=0) + 1)


def _edge(boxes, u, v, data) -> str:
    x1, y1, h1, _, _ = boxes[u]
    x2, y2, h2, _, _ = boxes[v]
    kind = escape(data.get("type", ""))
    if x1 == x2:  # same column (contrasts): an arc on the left side
        ya, yb = y1 + h1 / 2, y2 + h2 / 2
        bulge = x1 - 40
        path = f"M{x1},{ya:.0f} C{bulge},{ya:.0f} {bulge},{yb:.0f} {x1},{yb:.0f}"
    else:
        if x1 > x2:
            (x1, y1, h1), (x2, y2, h2) = (x2, y2, h2), (x1, y1, h1)
        sx, sy, ex, ey = x1 + BOX_W, y1 + h1 / 2, x2, y2 + h2 / 2
        mid = (sx + ex) / 2
        path = f"M{sx},{sy:.0f} C{mid:.0f},{sy:.0f} {mid:.0f},{ey:.0f} {ex},{ey:.0f}"
    label = kind + (f" ({escape(str(data['differs_by']))})" if data.get("differs_by") else "")
    return f'<path class="edge edge-{kind}" d="{path}"><title>{label}</title></path>'


def _node(node, box, href, center) -> str:
    x, y, h, lines, data = box
    kind = data.get("type", "")
    fill = COLOURS.get(kind, "#f3f4f6")
    stroke = ' stroke-width="3"' if node == center else ""
    bold = ' font-weight="bold"'
    text = "".join(f'<text x="{x + PAD}" y="{y + PAD + LINE_H * (i + 1) - 4}"{bold if i == 0 else ""}>{escape(line)}</text>'
                   for i, line in enumerate(lines))
    body = (f'<g class="node node-{escape(kind)}" data-node="{escape(node)}"><title>{escape(str(data.get("label", node)))}</title>'
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{h}" rx="6" fill="{fill}" stroke="#374151"{stroke}/>{text}</g>')
    link = href(node, data) if href else None
    return f'<a href="{escape(link)}">{body}</a>' if link else body


def graph_svg(graph, center: str | None = None, href: Callable[[str, dict], str | None] | None = None,
              title: str = "") -> str:
    """An SVG document of `graph` (a networkx graph with node attributes type/label), `center` highlighted.

    `href(node, data)` returns the link for a node, or None. All text is escaped.
    """
    boxes, height, ncols = _layout(graph, center)
    width = PAD * 2 + ncols * BOX_W + (ncols - 1) * COL_GAP + 40
    edges = "".join(_edge(boxes, u, v, d) for u, v, d in graph.edges(data=True) if u in boxes and v in boxes)
    nodes = "".join(_node(n, boxes[n], href, center) for n in boxes)
    head = f"<title>{escape(title)}</title>" if title else ""
    style = ("<style>text{font:12px sans-serif;fill:#111827}.edge{fill:none;stroke:#6b7280;stroke-width:1.2}"
             ".edge-contrasts_with{stroke:#b91c1c;stroke-dasharray:4 3}.edge-reports{stroke:#b45309}"
             "a:hover rect{stroke:#1d4ed8;stroke-width:2}</style>")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="-40 0 {width} {height:.0f}" '
            f'width="{width}" height="{height:.0f}" class="caveat-graph">{head}{style}{edges}{nodes}</svg>')
