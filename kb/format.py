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


def format_number(value: float, metric: str | None) -> str:
    """A bare number (a statement's, or a claim's value) written as a claim of that metric writes its value: 0.05 as
    a rate is '5%', not '0.05'."""
    return format_value(SimpleNamespace(value=value, metric=metric or "rate", value_text=str(value)))


def claim_label(kb, claim) -> str:
    """'OpenAI o1 · Oversight subversion · 5% · o1 system card: Apollo runs with strong goal nudge'."""
    model = kb.models.get(claim.model)
    behaviour = kb.behaviours.get(claim.behaviour)
    setting = kb.settings.get(claim.setting)
    parts = [model.name if model else claim.model, behaviour.label if behaviour else claim.behaviour,
             format_value(claim) if claim.value is not None else "qualitative", setting.label if setting else claim.setting]
    return " · ".join(str(p) for p in parts)
