"""How values and claims are written for people: one home, used by the database, checker, server and site."""

from __future__ import annotations

from types import SimpleNamespace

PERCENT_METRICS = {"rate", "conditional_rate"}
POINT_METRICS = {"accuracy_drop", "difference"}
# The condition values that say a setting lacked the condition (e.g. goal_nudge with value: none).
ABSENT_VALUES = frozenset({"none", "absent", "n/a", "no"})
# A bounded value is never shown as the figure itself: '<1%' reads 'under 1%', '>85%' reads 'over 85%'.
BOUND_WORDS = {"upper": "under", "lower": "over"}


def percent(value: float) -> str:
    """0.05 -> '5%', 0.003 -> '0.3%', 0.0404 -> '4.04%': three significant digits at most, no trailing zeros."""
    return f"{value * 100:.3g}%"


def format_value(claim) -> str:
    """The claim's value for display ('under 1%' for a bound); the source's own wording when it has no single number."""
    if claim.value is None:
        return claim.value_text
    if claim.metric in PERCENT_METRICS:
        shown = percent(claim.value)
    elif claim.metric in POINT_METRICS:
        shown = f"{claim.value * 100:.3g} points"
    else:
        shown = f"{claim.value:g}"
    bound = BOUND_WORDS.get(getattr(claim, "bound", None))
    return f"{bound} {shown}" if bound else shown


# How a statement's number compares with its claim (the `number` field of `kb check`), in words.
NUMBER_WORDS = {"match": "matches the source", "mismatch": "does not match the source",
                "other_condition": "belongs to another condition", "unsupported": "is not supported by any source",
                "absent": "no number given"}


# How sure the checker is that a statement reports a claim, in words a reader understands (the probability is
# calibrated: of findings said "very likely", about 8 or 9 in 10 are right).
CONFIDENCE_WORDS = ((0.9, "almost certainly"), (0.7, "very likely"), (0.5, "likely"), (0.25, "possibly"), (0.0, "unlikely"))


def confidence_words(probability: float | None) -> str:
    """'very likely (84%)': the checker's confidence that the statement reports this result."""
    if probability is None:
        return "confidence unknown"
    word = next(w for floor, w in CONFIDENCE_WORDS if probability >= floor)
    return f"{word} ({percent(probability)})"


def format_number(value: float, metric: str | None, bound: str | None = None) -> str:
    """A bare number (a statement's, or a claim's value) written as a claim of that metric writes its value: 0.05 as
    a rate is '5%', not '0.05'; with the bound the statement gave it ('lt': 'under 1%')."""
    shown = format_value(SimpleNamespace(value=value, metric=metric or "rate", value_text=str(value)))
    words = REPORTED_BOUND_WORDS.get(bound)
    return f"{words} {shown}" if words else shown


# How a statement bounds a number it reports (the `reported_bound` field of `kb check`: the quantity parser's codes).
REPORTED_BOUND_WORDS = {"lt": "under", "le": "at most", "gt": "over", "ge": "at least", "approx": "about"}


def number_words(status: str | None, claim, reported_bound: str | None = None) -> str:
    """How a reported number compares with its claim, in words; for a bounded claim ('<1%') reported without a
    bound (or stored without one) the words name the source's bound, so '1%' never reads as the source's figure."""
    words = NUMBER_WORDS.get(status, status or "")
    if status == "match" and reported_bound in (None, "eq") and BOUND_WORDS.get(getattr(claim, "bound", None)):
        words += f" ({format_value(claim)})"
    return words


def claim_label(kb, claim) -> str:
    """'OpenAI o1 · Oversight subversion · 5% · o1 system card: Apollo runs with strong goal nudge'."""
    model = kb.models.get(claim.model)
    behaviour = kb.behaviours.get(claim.behaviour)
    setting = kb.settings.get(claim.setting)
    parts = [model.name if model else claim.model, behaviour.label if behaviour else claim.behaviour,
             format_value(claim) if claim.value is not None else "qualitative", setting.label if setting else claim.setting]
    return " · ".join(str(p) for p in parts)
