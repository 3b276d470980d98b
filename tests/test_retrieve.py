"""Retrieval by meaning (kb.check.retrieve): every (model, behaviour) pair of the knowledge base is a candidate for every
statement, scored from dense, BM25 and mention features; no cue word, number or model name gates it."""

from __future__ import annotations

import pytest
from kbtest import ROOT

from kb.check import inputs
from kb.check.checker import _Similarities, load_checker
from kb.check.retrieve import RETRIEVAL_FEATURES, tokens

pytestmark = pytest.mark.slow  # loads the embedding model


@pytest.fixture(scope="module")
def fitted():
    return load_checker(ROOT)


def _records(checker, text):
    (analysis, vectors, whole), = checker.read([inputs.clean(text, "t")])
    sims = _Similarities(vectors, checker.texts)
    records = checker.retrieval_records(analysis, vectors, whole, sims)
    return {pair: record.as_dict() for pair, record in zip(checker.pairs.pairs, records)}, (analysis, vectors, whole, sims)


def test_every_pair_the_claims_hold_is_a_candidate_once(fitted):
    pairs = {(c.model, c.behaviour) for c in fitted.kb.claims.values()}
    assert sorted(pairs) == fitted.pairs.pairs
    assert len(fitted.pair_vectors) == len(fitted.pairs.texts) == len(fitted.pairs.owner)


def test_features_read_the_mentions_and_the_number(fitted):
    features, _ = _records(fitted, "Claude Opus 4 blackmailed the engineer in 84% of the test runs.")
    own = features[("claude-opus-4", "blackmail")]
    assert own["model_named"] == 1 and own["behaviour_cue"] == 1 and own["number_matches"] == 1
    other = features[("o1", "oversight_subversion")]
    assert other["model_named"] == 0 and other["other_model_named"] == 1 and other["dense_best"] < own["dense_best"]
    assert set(own) == set(RETRIEVAL_FEATURES)


def test_a_behaviour_said_in_other_words_with_no_model_named_is_still_retrieved(fitted):
    # Failed with the encoder's own vectors (covert action and scheming ranked above blackmail); the retrieval
    # adapter (kb.check.adapter) brings blackmail into the first three.
    text = "In a staged office test, the assistant threatened to reveal a manager's secret unless it was kept running."
    features, _ = _records(fitted, text)
    ranked = sorted(features, key=lambda pair: -features[pair]["dense_best"])
    assert any(behaviour == "blackmail" for _model, behaviour in ranked[:3]), ranked[:3]


def test_the_fitted_head_ranks_the_reported_pair_first_among_candidates(fitted):
    assert fitted.weights.retrieval is not None, "kb train fits the retrieval head into weights.json"
    text = "Palisade found that o3 rewrote the shutdown script to stay running, even when told to allow the shutdown."
    _features, (analysis, vectors, whole, sims) = _records(fitted, text)
    retrieval = fitted.retrieval(analysis, vectors, whole, sims)
    best = max(retrieval, key=retrieval.get)
    assert best == ("o3", "shutdown_resistance") and 0 <= retrieval[best] <= 1


def test_bm25_tokens_drop_stop_words_and_keep_model_names():
    assert tokens("The o3-mini model and GPT-4.1 sabotaged it") == ["o3-mini", "model", "gpt-4.1", "sabotaged"]
