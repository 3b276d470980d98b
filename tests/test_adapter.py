"""The retrieval adapter (kb.check.adapter): a low-rank map on a statement's vectors, fitted by `kb train` on the labelled
statements, committed in weights.json with its manifest, and reproduced exactly by a refit on the same data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kb.check.adapter import RANK, AdapterExamples, QueryAdapter, dense_recall, fit_adapter
from kb.check.fitted import WEIGHTS_PATH, FittedWeights
from kb.check.train import adapter_examples, training_statements

pytestmark = pytest.mark.slow  # loads the embedding model


@pytest.fixture(scope="module")
def committed() -> dict:
    return json.loads(WEIGHTS_PATH.read_text(encoding="utf-8"))["adapter"]


@pytest.fixture(scope="module")
def examples(checker) -> AdapterExamples:
    """The cv folds' statements that report a result, as `kb train` reads them (with the untrained checker's vectors)."""
    return adapter_examples(checker.with_weights(FittedWeights.neutral()), training_statements(checker.kb))


def test_the_committed_adapter_is_small_and_says_how_it_was_made(committed):
    u, v = np.asarray(committed["u"]), np.asarray(committed["v"])
    assert u.shape == (384, RANK) and v.shape == (RANK, 384)
    assert len(json.dumps(committed)) < 5_000_000
    manifest = committed["manifest"]
    assert {"training_data", "seed", "torch", "statements", "cross_validated"} <= set(manifest)
    figures = manifest["cross_validated"]
    assert figures["adapted"]["recall_at_1"] > figures["encoder"]["recall_at_1"], figures


def test_it_was_fitted_on_the_repository_s_own_training_statements(committed, examples):
    assert committed["manifest"]["training_data"] == examples.fingerprint()
    assert committed["manifest"]["statements"] == len(examples)


@pytest.fixture(scope="module")
def refit(examples, checker) -> dict:
    """The adapter `kb train` fits on the repository's training statements, fitted again here (~5 s)."""
    return fit_adapter(examples, checker.pair_vectors, checker.pairs.owner)


def test_a_refit_on_the_same_statements_reproduces_it(committed, examples, refit):
    assert refit["manifest"]["training_data"] == committed["manifest"]["training_data"]
    # The encoder's last digits move with the thread count and the CPU (~1e-7); the fit is smooth in its inputs and
    # written in canonical factors (kb.check.adapter), so that moves the weights by ~1e-5: far below what another
    # training set or seed gives (the weights are ~0.1).
    assert np.abs(np.asarray(refit["u"]) - np.asarray(committed["u"])).max() < 1e-3
    assert np.abs(np.asarray(refit["v"]) - np.asarray(committed["v"])).max() < 1e-3
    sentences = np.concatenate(examples.sentences)
    adapted = QueryAdapter.from_json(refit).apply(sentences), QueryAdapter.from_json(committed).apply(sentences)
    assert np.abs(adapted[0] - adapted[1]).max() < 1e-3


def test_it_ranks_the_reported_pair_higher_on_statements_it_was_not_fitted_on(examples, checker):
    held_out = examples.subset([i for i in range(len(examples)) if i % 5 == 0])
    train = examples.subset([i for i in range(len(examples)) if i % 5])
    adapter = QueryAdapter.from_json(fit_adapter(train, checker.pair_vectors, checker.pairs.owner))
    before = dense_recall(None, held_out, checker.pair_vectors, checker.pairs.owner)
    after = dense_recall(adapter, held_out, checker.pair_vectors, checker.pairs.owner)
    assert after[0] > before[0], (before, after)


def test_a_refit_on_inputs_moved_in_their_last_digits_gives_the_same_weights(examples, checker, refit):
    """Another CPU or thread count moves the encoder's output by ~1e-7: the refit must not take another path."""
    rng = np.random.default_rng(0)
    moved = AdapterExamples(examples.texts, [s + rng.normal(0, 1e-7, s.shape).astype(np.float32) for s in examples.sentences],
                            examples.pairs, examples.gold, examples.folds)
    second = fit_adapter(moved, checker.pair_vectors, checker.pairs.owner)
    assert np.abs(np.asarray(refit["u"]) - np.asarray(second["u"])).max() < 1e-4
    assert np.abs(np.asarray(refit["v"]) - np.asarray(second["v"])).max() < 1e-4


def test_applying_it_keeps_vectors_unit_length_and_an_empty_text_empty(committed):
    adapter = QueryAdapter.from_json(committed)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 384)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    assert np.allclose(np.linalg.norm(adapter.apply(x), axis=1), 1.0, atol=1e-5)
    assert not adapter.apply(np.zeros((1, 384), dtype=np.float32)).any()
