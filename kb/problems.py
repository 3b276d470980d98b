"""Problems found in the data, with codes so tests and the README can name them."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

# Every problem code, what it means, and where the README explains it. A test checks the README lists them all.
CODES = {
    "E001": "the file cannot be read as YAML text (unreadable, empty, binary, not UTF-8, too large)",
    "E002": "YAML syntax error",
    "E003": "duplicate key in a mapping",
    "E004": "the file's top level has the wrong shape",
    "E010": "unknown field",
    "E011": "missing required field",
    "E012": "wrong type of value",
    "E013": "value not among the allowed choices",
    "E014": "badly formed id, date or URL",
    "E020": "unknown model, behaviour or context key (not in vocabulary/)",
    "E021": "duplicate id",
    "E022": "dangling reference (source, setting, claim or statement that does not exist)",
    "E030": "value outside its allowed range",
    "E031": "value_text contradicts value",
    "E032": "missing or empty locator",
    "E033": "key_context names a key that the claim's setting does not describe",
    "E034": "a condition that differs between evaluations is not scoped to the behaviours it held for",
    "E035": "a claim of a variant setting drops the condition that defines the variant from its key_context",
    "E036": "value_text's comparison sign ('<1%', '>85%') contradicts the claim's bound",
    "E037": "a changes.yaml entry disagrees with the claim it corrects",
    "E038": "a condition that names a model sits unscoped on a setting whose claims span several models",
    "E039": "a value_text prints more than the claim's figure (two for a difference) or a figure it marks unverified",
    "E041": "differs_by: source links claims that differ in model, behaviour, value or a condition",
    "E042": "a claim is 'verified' without a locator in a primary source",
    "E043": "two changes.yaml entries for the same claim, field and date",
    "E044": "a claim's verification_note or notes opens with a status word other than its verification",
    "E040": "file name and id disagree, or a file is in the wrong place",
    "E050": "statements from one original page (url, else who and date) are in two evaluation folds",
    "E051": "the same statement text is in the corpus twice (it would count twice in every evaluation)",
    "E060": "a statement's fold does not match its folder (locked statements live in statements/locked/, no others)",
}


@dataclass(frozen=True, order=True)
class Problem:
    """One mistake in the data: where it is, what is wrong, and how to fix it."""

    file: str
    line: int
    code: str
    field: str
    message: str
    fix: str
    record: str = ""  # e.g. "claim apollo-t2-os-0-o1"

    def __str__(self) -> str:
        where = ", ".join(filter(None, [self.record, self.field]))
        head = f"{self.file}:{self.line}: [{self.code}] {where + ': ' if where else ''}{self.message}"
        return f"{head}\n    fix: {self.fix}"


def did_you_mean(value: object, allowed: list[str] | tuple[str, ...]) -> str:
    """' (did you mean 'goal_nudge'?)' for a near miss, else ''."""
    if not isinstance(value, str):
        return ""
    close = difflib.get_close_matches(value, list(allowed), n=1, cutoff=0.6)
    if not close:
        close = [a for a in allowed if a.lower() == value.lower().replace(" ", "_").replace("-", "_")]
    return f" (did you mean '{close[0]}'?)" if close else ""


def allowed_list(allowed, limit: int = 12) -> str:
    items = list(allowed)
    shown = ", ".join(items[:limit])
    return shown + (f", … ({len(items)} in all)" if len(items) > limit else "")
