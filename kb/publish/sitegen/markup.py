"""Markdown pieces for generated pages: escaping, links, tables, front matter and status flags.

Everything that comes from the data passes through `text()` (or `html_text()` inside raw HTML) so a
title holding `<`, `|` or `*` can neither break a table nor inject markup.
"""

from __future__ import annotations

import html
import json
import posixpath
import re

from kb.publish import views

# Characters Python-Markdown (with the tables and attr_list extensions) gives a meaning inside a line.
_INLINE = re.compile(r"([\\`*_{}\[\]|])")
# At the start of a line these begin a block (list, heading, quote, numbered list).
_LINE_START = re.compile(r"^([-+#!]|\d+(?=[.)]))")

# The wording of statuses, kinds of number and ranks has one home, shared with Datasette's pages.
STATUS_MEANING, METRIC_MEANING, RANK_MEANING = views.STATUS_MEANING, views.METRIC_MEANING, views.RANK_MEANING


def text(value) -> str:
    """Data text made safe for inline Markdown: one line, HTML escaped, Markdown syntax escaped."""
    flat = " ".join(str(value if value is not None else "").split())
    flat = html.escape(flat, quote=False)
    flat = _INLINE.sub(r"\\\1", flat)
    return _LINE_START.sub(lambda m: m.group(1) + "\\" if m.group(1)[0].isdigit() else "\\" + m.group(1), flat, count=1)


def html_text(value) -> str:
    """Data text for raw HTML (SVG, attributes)."""
    return html.escape(" ".join(str(value if value is not None else "").split()), quote=True)


def link(label_markdown: str, target: str) -> str:
    """[label](target): label must already be Markdown (escaped); target is a path we built from ids."""
    return f"[{label_markdown}]({target})"


def external_link(url: str, label: str | None = None) -> str:
    """A link out of the site (to a source), as inline HTML so no URL character can break Markdown."""
    return f'<a href="{html_text(url)}">{html_text(label or url)}</a>'


def relative(from_page: str, to_page: str, anchor: str = "") -> str:
    """A link between two Markdown files of the site (paths relative to the docs folder), as mkdocs wants it."""
    path = posixpath.relpath(to_page, posixpath.dirname(from_page) or ".")
    return path + (f"#{anchor}" if anchor else "")


def url_between(from_page: str, to_page: str, anchor: str = "") -> str:
    """The built URL of `to_page` relative to the built URL of `from_page` (for raw HTML such as SVG links)."""
    start = _page_url(from_page)
    path = posixpath.relpath(_page_url(to_page) or ".", start or ".")
    path = "" if path == "." else path + "/"
    return (path or "./") + (f"#{anchor}" if anchor else "")


def _page_url(page: str) -> str:
    """docs path -> directory URL without slashes: 'claims/x.md' -> 'claims/x', 'index.md' -> ''."""
    stem = page[:-3] if page.endswith(".md") else page
    if stem == "index" or stem.endswith("/index"):
        stem = stem[: -len("index")].rstrip("/")
    return stem


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A Markdown table; cells must already be Markdown (escaped)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell if cell != "" else " " for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def front_matter(**fields) -> str:
    """YAML front matter; values are written as JSON, which YAML reads as-is."""
    body = "".join(f"{key}: {json.dumps(value, ensure_ascii=False)}\n" for key, value in fields.items() if value)
    return f"---\n{body}---\n\n" if body else ""


def tag(kind: str, name: str) -> str:
    """A tag like 'model: OpenAI o1'; characters that could be markup are dropped (tags land in templates)."""
    clean = re.sub(r"[^\w .,:()/+'-]", "", f"{kind}: {name}")
    return " ".join(clean.split())


def code_block(body: str, language: str = "") -> str:
    """A fenced block whose fence is longer than any backtick run inside, so no content can close it."""
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{body.rstrip()}\n{fence}\n"


def quote_block(value) -> str:
    return "> " + text(value) + "\n"


def status_flag(claim) -> str:
    """'' for verified numbers; a visible warning next to any other status."""
    return status_flag_of(views.verification(claim))


def status_flag_of(verification: dict) -> str:
    """status_flag for a view's verification ({"status", "verified", ...})."""
    return "" if verification["verified"] else f" **⚠ {text(verification['status'])}**"


def status_admonition(claim) -> str:
    """The warning box a context card opens with when its number is not verified."""
    if claim.verification == "verified":
        return ""
    meaning = STATUS_MEANING.get(claim.verification, "")
    note = f" {text(claim.verification_note)}" if claim.verification_note else ""
    return (f'!!! warning "Not verified: {claim.verification}"\n\n'
            f"    This number is marked **{text(claim.verification)}**: {text(meaning)}.{note}\n\n")


def raw_html_block(markup: str, css_class: str) -> str:
    """A raw HTML block (SVG) on one line, so Markdown passes it through untouched. Kept out of the search
    index (the same words are in the tables next to it); other engines ignore the attribute."""
    return f'<div class="{css_class}" data-search-exclude>{" ".join(markup.splitlines())}</div>\n'
