"""Human-readable output of `kb check`: the verdict, then each finding with what is wrong and a faithful wording."""

from __future__ import annotations

import textwrap

import click

VERDICT_STYLE = {"ok": ("OK", "green"), "missing_context": ("MISSING CONTEXT", "yellow"),
                 "misstated": ("MISSTATED", "red"), "no_claim": ("NO CLAIM", "blue"), None: ("ERROR", "red")}
NUMBER_WORDS = {"match": "matches the source", "mismatch": "does not match the source",
                "other_condition": "belongs to another condition", "unsupported": "is not supported by any source",
                "absent": "no number given"}


def _wrap(label: str, text: str, width: int = 100) -> str:
    return textwrap.fill(text, width=width, initial_indent=f"    {label}: ", subsequent_indent=" " * (6 + len(label)))


def render(result: dict, kb=None, color: bool | None = None) -> str:
    word, colour = VERDICT_STYLE.get(result.get("verdict"), ("?", "white"))
    lines = [click.style(word, fg=colour, bold=True, reset=True) if color is not False else word]
    if result.get("error"):
        lines.append(f"  {result['error']['message']} [{result['error']['code']}]")
    for notice in result.get("notices", []):
        lines.append(f"  note: {notice}")
    matched = [f for f in result.get("findings", []) if f.get("tier") == "match"]
    offered = [f for f in result.get("findings", []) if f.get("tier") == "suggest"]
    for finding in matched:
        lines += _finding_lines(finding, kb)
    if offered:
        lines.append("  possibly also about: " + ", ".join(f["claim"] or "?" for f in offered))
    if result.get("verdict") == "no_claim" and not result.get("error"):
        lines.append("  No result of the knowledge base is reported here.")
    return "\n".join(lines)


def _finding_lines(finding: dict, kb) -> list[str]:
    head = f"  • {finding['claim'] or 'unknown result'} ({finding['model']}, {finding['behaviour']}; score {finding['score']:.2f})"
    lines = [head]
    number = finding["number"]
    if finding.get("reported_value") is not None:
        lines.append(f"    number: {finding['reported_value']:.3g} {NUMBER_WORDS[number]}"
                     + (f" (source: {finding['value']:.3g})" if finding.get("value") is not None and number != "match" else ""))
    if finding["missing_context"]:
        labels = [kb.context[k].label if kb and k in kb.context else k for k in finding["missing_context"]]
        lines.append(f"    drops: {', '.join(labels)}")
    for problem in finding["problems"]:
        if problem["kind"] != "dropped_context":
            lines.append(_wrap(problem["kind"].replace("_", " "), problem["detail"]))
    if finding.get("suggestion"):
        lines.append(_wrap("faithful wording", finding["suggestion"]))
    if finding.get("source"):
        lines.append(_wrap("source", f"{finding['source']} — {finding['locator']}"))
    return lines
