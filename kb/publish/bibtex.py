"""BibTeX entries for sources (the server's export and the site's context cards use the same ones)."""

from __future__ import annotations

import re

ENTRY_TYPES = {"paper": "article", "system-card": "techreport", "blog": "online", "social-post": "online",
               "news": "online", "figure": "misc", "forum-post": "online", "video": "online", "other": "misc"}


def _escape(text: str) -> str:
    """Escape BibTeX's special characters so any title or author is safe inside braces."""
    text = text.replace("\\", r"\textbackslash{}")
    text = re.sub(r"([{}%&$#_])", r"\\\1", text)
    return text.replace("~", r"\textasciitilde{}").replace("^", r"\textasciicircum{}")


def bibtex_key(source) -> str:
    return re.sub(r"[^A-Za-z0-9-]", "", source.id)


def bibtex_entry(source) -> str:
    """One @type{key, ...} entry; a stable key (the source id) so citations survive rebuilds."""
    fields = [("title", source.title), ("author", source.authors), ("year", (source.date or "")[:4])]
    if source.date and len(source.date) >= 7:
        fields.append(("month", str(int(source.date[5:7]))))
    if source.date and len(source.date) == 10:
        fields.append(("date", source.date))
    fields += [("version", source.version), ("url", source.url), ("note", source.notes)]
    if source.kind == "system-card":
        fields.append(("institution", source.authors))
    body = ",\n".join(f"  {name} = {{{_escape(str(value))}}}" for name, value in fields if value)
    return f"@{ENTRY_TYPES.get(source.kind, 'misc')}{{{bibtex_key(source)},\n{body}\n}}\n"
