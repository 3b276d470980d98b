"""Which conditions a statement states for each report, and whether they agree with a claim's conditions.

A condition stated in a sentence that reports a number belongs to that number ("With the instruction, 7 of
100. Without it, 79 of 100."); conditions stated elsewhere (a headline, a lede, a sentence of context) hold
for the whole statement (the labelling guide, statements/LABELLING.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from kb.format import ABSENT_VALUES

UNKNOWN_WORDS = ("not specified", "unstated", "unclear", "implied", "both", "possible", "varied", "vs", "->")


@lru_cache(maxsize=4096)  # a condition record hashes by identity; the checker asks about the same few thousands of times
def condition_state(condition) -> str | None:
    """'present', 'absent' or None (unknown) for a setting's condition value."""
    if condition is None:
        return None
    value = (condition.value or "").strip().lower()
    if value in ABSENT_VALUES:
        return "absent"
    if any(word in value for word in UNKNOWN_WORDS):
        return None
    return "present"


@dataclass
class Scope:
    """The context mentions that apply to one report."""

    shared: list  # mentions that frame the whole statement
    sentences: list  # sentence indexes whose meaning counts for this report
    attached: list = None  # mentions stated for this report's number; they override shared ones on the same key


def scopes(analysis, reports, distinguishing: set) -> list[Scope]:
    """One Scope per report, by the attachment rules above.

    Only conditions that tell results apart (the `distinguishing` keys: those claims are contrasted on, like the
    goal nudge or the allow-shutdown instruction) belong to a particular number; the others (a test, a forced
    choice) frame the whole statement wherever they are said.
    """
    numbered = [i for i, r in enumerate(reports) if r.number is not None]
    owner_sentences = {reports[i].sentence for i in numbered}
    contexts = [m for m in analysis.mentions if m.label == "CONTEXT"]
    owned = [m for m in contexts if m.sent in owner_sentences and m.id in distinguishing]
    shared = [m for m in contexts if m not in owned]
    shared_sentences = [i for i in range(len(analysis.sentences)) if i not in owner_sentences]
    attached = {i: [] for i in range(len(reports))}
    for m in owned:
        for i in _owners(m, reports, numbered, analysis.text):
            attached[i].append(m)
    return [Scope(shared, sorted(set(shared_sentences) | {r.sentence}), attached[i]) for i, r in enumerate(reports)]


CLAUSE_BREAK = re.compile(r"[;:,]|\b(?:but|while|whereas|yet|and then)\b", re.I)


def _owners(mention, reports, numbered, text: str) -> list[int]:
    """Reports a mention in their sentence belongs to: all of them if it comes before the first; else the one before
    it, unless a clause break separates them ('7% with it; without it, 79%'), then the one after it."""
    here = [i for i in numbered if reports[i].sentence == mention.sent]
    if not here:
        return []
    if mention.end <= min(reports[i].anchor for i in here):
        return here  # a fronted clause ("When merely given a goal, ...") governs the whole sentence
    before = [i for i in here if reports[i].anchor < mention.start]
    after = [i for i in here if reports[i].anchor >= mention.end]
    previous = max(before, key=lambda i: reports[i].anchor) if before else None
    following = min(after, key=lambda i: reports[i].anchor) if after else None
    if previous is None:
        return [following]
    if following is not None and CLAUSE_BREAK.search(text[reports[previous].anchor:mention.start]):
        return _same_number(reports, numbered, following)
    return _same_number(reports, numbered, previous)


def _same_number(reports, numbered, index) -> list[int]:
    """Every report of the same number ('A and B in 96%' makes one report per model)."""
    return [i for i in numbered if reports[i].number is reports[index].number]


def stated_conditions(scope: Scope) -> dict:
    """key -> set of polarities stated ({'present'}, {'absent'} or both). What is said for this number wins over
    what the statement says in general ("People dismiss the 'nothing else matters' prompt. Without it, o1 ...")."""
    local: dict = {}
    for m in scope.attached or []:
        local.setdefault(m.id, set()).add("absent" if m.negated else "present")
    stated = {}
    for m in scope.shared:
        if m.id not in local:
            stated.setdefault(m.id, set()).add("absent" if m.negated else "present")
    return {**stated, **local}


def conflicts(kb, claim, stated: dict) -> list[str]:
    """Keys whose stated polarity contradicts the claim's setting ('even when told to allow shutdown' for a
    number measured without the instruction; 'real users' for a result from a constructed test)."""
    out = []
    conditions = kb.conditions_of(claim)
    for key, polarities in stated.items():
        state = condition_state(conditions.get(key))
        if state is None or len(polarities) > 1:
            continue
        if state not in polarities:
            out.append(key)
    return sorted(out)
