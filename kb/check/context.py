"""Which context keys a statement conveys for one finding (ANNOTATION.md §3), and so which key context it drops.

A key counts as present when a cue states it with the polarity the claim has ("without the instruction" for a
number measured without it), when a sentence in scope means it (embedding similarity to the key's
paraphrases), or when it is implied (goal_nudge implies goal_given). Rate-like keys are conveyed by the number.
"""

from __future__ import annotations

from kb.check.analysis import follows_test_noun
from kb.check.conditions import condition_state, conflicts


def present_keys(kb, finding, analysis, meaning) -> set[str]:
    """Context keys conveyed for this finding. `meaning(sentence, key) -> bool` is the semantic test."""
    claim, stated = finding.claim, finding.stated
    conditions = kb.conditions_of(claim) if claim else {}
    wrong = set(conflicts(kb, claim, stated)) if claim else set()
    present = {key for key in stated if key not in wrong}
    affirmed = {key for key in present if "present" in stated[key]}  # stated as so, not as absent
    for key, ctx in kb.context.items():
        if key in present or key in wrong or not ctx.paraphrases:
            continue
        if condition_state(conditions.get(key)) == "absent":
            continue  # a sentence meaning "the model was nudged" cannot convey that it was not
        if any(meaning(sentence, key) for sentence in finding.scope.sentences):
            present.add(key)
            affirmed.add(key)
    present |= _number_keys(finding, analysis)
    for key, ctx in kb.context.items():
        # "told to pursue it at all costs" implies a goal was given; "not nudged" implies nothing.
        if any(other in affirmed for other in ctx.implied_by or []):
            present.add(key)
    return present


def _number_keys(finding, analysis) -> set[str]:
    """What numbers convey: this finding's number says how often; any number given over repeated trials ('84% of
    trials', '7 out of 100 runs', 'seven times out of 100') says the statement is about an experiment."""
    keys = set()
    quantity = finding.quantity
    if quantity is not None:
        keys.add("rate")
        if quantity.kind == "points":
            keys.add("accuracy_drop")
    if any(_over_trials(n) for n in analysis.numbers):
        keys.add("test_setting")
    return keys


def _over_trials(number) -> bool:
    quantity = number.quantity
    return follows_test_noun(number) or (quantity.kind == "ratio" and (quantity.denominator or 0) >= 10)


def missing_keys(claim, present: set[str]) -> list[str]:
    return [key for key in (claim.key_context or []) if key not in present] if claim else []
