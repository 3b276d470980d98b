"""The schema as Markdown: the README's and the site's data-model reference are generated from kb.schema."""

from __future__ import annotations

from kb import schema

DOCUMENTED = ("source", "setting", "condition", "claim", "contrast", "statement", "label", "report", "model",
              "behaviour", "context", "change")

KIND_NAMES = {"id": "id", "text": "text", "date": "date", "url": "URL", "number": "number", "count": "integer",
              "enum": "one of", "enums": "list of", "ref": "id of", "refs": "ids of", "texts": "list of text",
              "record": "", "records": "list of", "mapping": "context key →", "flag": "true or false"}


def _type(f: schema.Field) -> str:
    name = KIND_NAMES[f.kind]
    if f.kind in ("enum", "enums"):
        return f"{name} {', '.join(f.choices)}"
    if f.target:
        return f"{name} {f.target}".strip()
    return name


def schema_markdown(level: int = 3) -> str:
    lines = []
    for name in DOCUMENTED:
        rtype = schema.RECORD_TYPES[name]
        lines += [f"{'#' * level} {name}", "", rtype.description, "", "| field | type | required | meaning |",
                  "|---|---|---|---|"]
        for f in rtype.fields:
            required = "yes" if f.required else ""
            lines.append(f"| `{f.name}` | {_type(f)} | {required} | {f.description} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
