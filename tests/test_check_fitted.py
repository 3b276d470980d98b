"""The fitted checker: its weights file, the evidence it weighs, its confidence, and work that stays linear."""

import json

import pytest

from kb.check import checker as checker_module
from kb.check.evidence import FINDING_FEATURES, KEY_FEATURES
from kb.check.fitted import WEIGHTS_PATH, FittedWeights, WeightsError
from kb.check.train import Examples, fit, knowledge_base_statements


def test_the_committed_weights_fit_the_checkers_features():
    data = json.loads(WEIGHTS_PATH.read_text(encoding="utf-8"))
    assert set(data["finding"]["weights"]) == set(FINDING_FEATURES)
    assert set(data["key"]["weights"]) == set(KEY_FEATURES)
    assert not data["meta"].get("neutral"), "the committed weights are the neutral start, not fitted ones"
    FittedWeights.load()


def test_weights_for_other_features_are_refused_with_the_fix():
    data = json.loads(WEIGHTS_PATH.read_text(encoding="utf-8"))
    data["finding"]["weights"]["a_feature_nobody_computes"] = 1.0
    with pytest.raises(WeightsError, match="kb train"):
        FittedWeights.from_dict(data)


def test_checking_does_not_import_the_training_library():
    import subprocess
    import sys

    code = ("import sys; from kb.check.fitted import FittedWeights; import kb.check.checker; FittedWeights.load(); "
            "print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_fitting_is_deterministic():
    rows = Examples()
    for i in range(40):
        x = tuple(float((i * (j + 3)) % 7 > 2) for j in range(len(FINDING_FEATURES)))
        rows.finding_x.append(x), rows.finding_y.append(i % 3 != 0), rows.finding_w.append(1.0)
        k = tuple(float((i * (j + 5)) % 5 > 1) for j in range(len(KEY_FEATURES)))
        rows.key_x.append(k), rows.key_y.append(i % 2), rows.key_w.append(1.0)
    assert fit(rows) == fit(rows)


@pytest.mark.slow
def test_every_finding_carries_a_probability(checker):
    result = checker.check("When strongly nudged to pursue its goal, o1 tried to disable oversight in 5% of tests; "
                           "Claude Opus 4 blackmailed an engineer.")
    assert result["findings"]
    for finding in result["findings"]:
        assert 0.0 <= finding["confidence"] <= 1.0
        assert set(finding["missing_confidence"]) == set(finding["missing_context"])
        assert all(0.5 <= p <= 1.0 for p in finding["missing_confidence"].values())


@pytest.mark.slow
def test_the_knowledge_bases_own_wordings_are_training_examples(checker):
    statements = knowledge_base_statements(checker.kb)
    assert len([s for s in statements if s["verdict"] == "ok"]) == len(checker.kb.claims)
    dropped = [s for s in statements if s["verdict"] == "missing_context"]
    assert dropped and all(len(s["missing"]) == 1 for s in dropped)


@pytest.mark.slow
def test_work_grows_linearly_with_the_numbers_in_a_statement(checker, monkeypatch):
    """'5% ' repeated used to cost findings x numbers (84 s for 5,000): count the evidence records built."""
    calls = {"evidence": 0, "over_trials": 0}
    evidence = checker_module.Checker.finding_evidence

    def counting_evidence(self, *args):
        calls["evidence"] += 1
        return evidence(self, *args)

    import kb.check.context as context

    original_over_trials = context.over_trials

    def counting_over_trials(number):
        calls["over_trials"] += 1
        return original_over_trials(number)

    monkeypatch.setattr(checker_module.Checker, "finding_evidence", counting_evidence)
    monkeypatch.setattr(context, "over_trials", counting_over_trials)
    counts = {}
    for n in (100, 1000):
        calls.update(evidence=0, over_trials=0)
        checker.check("5% " * n)
        counts[n] = dict(calls)
    assert counts[1000]["over_trials"] <= 1000 * 2  # once per number, not per finding and number
    assert counts[1000]["evidence"] <= 12 * max(counts[100]["evidence"], 1)


def _unit(rows):
    import numpy as np

    rows = np.asarray(rows, dtype=float)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_the_memory_votes_with_the_labels_of_the_nearest_statements():
    from kb.check.memory import LabelledMemory

    # Two clusters: statements near (1, 0, 0) report a result; those near (0, 1, 0) report nothing.
    vectors = _unit([[1, 0.1 * i, 0.05] for i in range(5)] + [[0.1 * i, 1, 0.05] for i in range(5)])
    memory = LabelledMemory.of(vectors, [1] * 5 + [0] * 5)
    reporting, chatter = _unit([[1, 0.05, 0.0]])[0], _unit([[0.05, 1, 0.0]])[0]
    assert memory.vote(reporting) > 0.95 and memory.vote(chatter) < 0.05
    # Stored as float16 in weights.json and read back to the same votes.
    again = LabelledMemory.from_json(json.loads(json.dumps(memory.to_json())))
    assert abs(again.vote(reporting) - memory.vote(reporting)) < 1e-6 and abs(again.vote(chatter) - memory.vote(chatter)) < 1e-6
    with pytest.raises(ValueError, match="kb train"):
        memory.vote(_unit([[1, 0, 0, 0]])[0])  # an embedder of another size than the memory's


def test_a_training_statements_own_vote_leaves_out_its_near_copies():
    """A statement fitted on must not vote for itself through a copy of its text: a new statement has none."""
    from kb.check.memory import LabelledMemory

    vectors = _unit([[1, 0, 0], [1, 0.01, 0], [0.6, 0.8, 0], [0.5, 0.85, 0.1]])
    memory = LabelledMemory.of(vectors, [1, 1, 0, 0])
    own = memory.own_votes()
    assert own[0] < 0.5 and own[1] < 0.5  # each one's copy is left out: only the non-reporting ones remain
    assert memory.vote(vectors[0]) > 0.5  # a statement checked later does see its copies


def test_the_committed_memory_holds_only_the_cross_validation_statements():
    from kb.build import load_valid
    from kb.check.train import training_statements
    from kb.project import find_root

    memory = FittedWeights.load().reporting_memory
    assert memory is not None
    assert len(memory.labels) == len(training_statements(load_valid(find_root())))
