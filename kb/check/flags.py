"""When a finding makes a statement a flag (misstated or missing context), and how sure the checker is of a flag.

One home for the rule: the checker's verdict (kb.check.checker.verdict) applies it to its findings, and `kb eval`,
the check page and `kb check`'s text output apply it to the `kb check --jsonl` objects those findings become.
"""

from __future__ import annotations

from kb.check.detectors import MISSTATING

FLAGGED = ("missing_context", "misstated")


def misstates(problems) -> bool:
    """Does one of these problems make the statement misstated (a detector registered with misstates=True)?"""
    return any(p["kind"] in MISSTATING for p in problems)


def flags(missing, problems) -> bool:
    """Does a match-tier finding with these dropped keys and problems make the statement a flag? A dropped key or
    an overgeneralisation makes it missing context, a misstating problem misstated."""
    return bool(missing) or misstates(problems) or any(p["kind"] == "overgeneralisation" for p in problems)


def flag_confidence(result: dict) -> float | None:
    """How sure the checker is of a `kb check` object's flag: the highest confidence among the match-tier findings
    that make it one (None when none does, or none carries a confidence)."""
    confidences = [float(f["confidence"]) for f in result.get("findings") or []
                   if f.get("tier") == "match" and isinstance(f.get("confidence"), (int, float))
                   and flags(f.get("missing_context") or [], f.get("problems") or [])]
    return max(confidences, default=None)


def verdict_of(matched: list) -> str:
    """The verdict of a statement whose match-tier findings have these (dropped keys, problems)."""
    if any(misstates(problems) for _missing, problems in matched):
        return "misstated"
    if any(flags(missing, problems) for missing, problems in matched):
        return "missing_context"
    return "ok" if matched else "no_claim"


def verdict_from(result: dict, match_from: float) -> str | None:
    """The verdict a `kb check` object would have if its findings at least `match_from` confident were its matches:
    how `kb eval` sweeps the match tier (findings under the suggestion tier are not in the object, so the sweep starts
    there)."""
    if result.get("verdict") is None:
        return None
    matched = [(f.get("missing_context") or [], f.get("problems") or []) for f in result.get("findings") or []
               if isinstance(f.get("confidence"), (int, float)) and f["confidence"] >= match_from]
    return verdict_of(matched)
