"""Human-readable output of `kb check`: the verdict, then each finding with what is wrong and a faithful wording."""

from __future__ import annotations

import textwrap

import click

from kb.format import NUMBER_WORDS, confidence_words, format_number
from kb.wording import withheld_rewrite

VERDICT_STYLE = {"ok": ("OK", "green"), "missing_context": ("MISSING CONTEXT", "yellow"),
                 "misstated": ("MISSTATED", "red"), "no_claim": ("NO CLAIM", "blue"), None: ("ERROR", "red")}


def _wrap(label: str, text: str, width: int = 100) -> str:
    return textwrap.fill(text, width=width, initial_indent=f"    {label}: ", subsequent_indent=" " * (6 + len(label)))


def render(result: dict, kb=None, color: bool | None = None, trust=None) -> str:
    """`trust` (kb.check.published.FlagTrust, from the knowledge base's evaluation/cv.json): a flag it finds tentative
    gets one line saying to check it, and why."""
    word, colour = VERDICT_STYLE.get(result.get("verdict"), ("?", "white"))
    lines = [click.style(word, fg=colour, bold=True, reset=True) if color is not False else word]
    if trust is not None and trust.tentative(result):
        lines.append(f"  check before relying on it: {trust.why()}")
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


def _metric(finding: dict, kb) -> str:
    """The kind of number the finding's claim has (a rate when the claim is unknown), so its values read as it does."""
    claim = kb.claims.get(finding.get("claim")) if kb is not None else None
    return claim.metric if claim else "rate"


def _finding_lines(finding: dict, kb) -> list[str]:
    withheld = withheld_rewrite(kb, finding) if kb is not None else None
    head = (f"  • {finding['claim'] or 'unknown result'} ({finding['model']}, {finding['behaviour']}) — reports this "
            f"result: {confidence_words(finding.get('confidence'))}")
    lines = [head]
    number = finding["number"]
    metric = _metric(finding, kb)
    if finding.get("reported_value") is not None:  # written as the web writes it: "5%", not "0.05"
        reported = format_number(finding["reported_value"], metric, finding.get("reported_bound"))
        lines.append(f"    number: {reported} {NUMBER_WORDS[number]}"
                     + (f" (source: {format_number(finding['value'], metric)})"
                        if finding.get("value") is not None and number != "match" else ""))
    if finding["missing_context"]:
        labels = [kb.context[k].label if kb and k in kb.context else k for k in finding["missing_context"]]
        sure = finding.get("missing_confidence") or {}
        labels = [f"{label} ({confidence_words(sure.get(k)).split(' (')[0]})" if k in sure else label
                  for k, label in zip(finding["missing_context"], labels)]
        lines.append(f"    drops: {', '.join(labels)}")
    for problem in finding["problems"]:
        if problem["kind"] != "dropped_context":
            lines.append(_wrap(problem["kind"].replace("_", " "), problem["detail"]))
    if withheld:
        lines.append(_wrap("faithful wording", withheld))
    elif finding.get("suggestion"):
        lines.append(_wrap("faithful wording", finding["suggestion"]))
    if finding.get("source"):
        lines.append(_wrap("source", f"{finding['source']} — {finding['locator']}"))
    return lines
