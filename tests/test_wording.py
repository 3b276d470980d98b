"""Faithful wordings (kb.wording): each claim's sentence keeps its key context and names what tells it apart from its
sibling claims — the measure of a table row, the condition a contrast differs by — within 280 characters."""

from __future__ import annotations

import pytest

from kb.build import load_valid
from kb.format import ABSENT_VALUES
from kb.wording import MAX_CHARS, condition_phrase, distinguishing_keys, faithful_sentence
from kbtest import ROOT


@pytest.fixture(scope="module")
def kb():
    return load_valid(ROOT)


@pytest.fixture(scope="module")
def wordings(kb) -> dict:
    return {claim.id: faithful_sentence(kb, claim) for claim in kb.claims.values()}


def test_every_wording_fits_and_keeps_each_key_conditions_phrase(kb, wordings):
    for claim in kb.claims.values():
        text = wordings[claim.id]
        assert 0 < len(text) <= MAX_CHARS and not text.endswith("…"), claim.id
        for key in claim.key_context or []:
            phrase = condition_phrase(kb, claim, key)
            assert phrase is None or phrase.lower() in text.lower(), (claim.id, key, text)


def test_a_key_condition_measured_absent_is_said_when_the_data_has_words_for_it(kb, wordings):
    # The control runs removed the goal conflict and the threat: a wording without them reads as the main result.
    text = wordings["agentic-control"]
    assert "no goal conflict" in text and "no threat to replace it" in text and "0%" in text


def test_rows_of_one_table_name_the_measure_that_tells_them_apart(kb, wordings):
    groups: dict = {}
    for claim in kb.claims.values():
        key = (kb.claim_sources.get(claim.id), claim.model, claim.behaviour, claim.setting)
        groups.setdefault(key, []).append(claim)
    compared = 0
    for claims in groups.values():
        by_measure = {c.measure: c for c in claims}
        if len(by_measure) < 2:
            continue
        named = []
        for claim in by_measure.values():
            detail = claim.measure.split(": ", 1)[-1]
            if detail in wordings[claim.id]:
                named.append(wordings[claim.id])
            else:  # it gives way only to the behaviour's phrase and the key conditions
                assert len(wordings[claim.id]) + len(detail) > MAX_CHARS - 20, claim.id
        assert len(set(named)) == len(named), named
        compared += len(named) > 1
    assert compared >= 20  # Apollo's Tables 2 and 4 rows, METR's prompt variants, ...


def test_a_condition_a_contrast_differs_by_is_named_in_the_claims_own_words(kb, wordings):
    # Before and after training are not key context for evaluation awareness, but they are all that tells the
    # two claims of one model apart.
    assert "before training" in wordings["antischeming-evalaware-o3-before"]
    assert "after training" in wordings["antischeming-evalaware-o3"]
    for claim in kb.claims.values():
        for key in distinguishing_keys(kb, claim):
            condition = kb.conditions_of(claim).get(key)
            generic = kb.context[key].phrase
            if not (condition is not None and condition.phrase) and generic:
                assert generic not in wordings[claim.id], (claim.id, key)  # never the key's generic words


def test_no_wording_prints_an_empty_value(kb, wordings):
    for claim in kb.claims.values():
        assert not any(f"({word})" in wordings[claim.id] for word in ABSENT_VALUES), claim.id


def test_a_long_sentence_gives_up_its_contrast_and_the_behaviours_long_phrase_before_a_key(kb):
    claim = kb.claims["apollo-t17-instrumental-alignment-faking-claude-3.5-sonnet-medium"]
    text = faithful_sentence(kb, claim)
    assert "at medium difficulty" in text and "in 7% of runs" in text
    assert "instrumental alignment faking" in text  # the behaviour's label, its phrase being too long to fit
