"""kb eval --cv / --locked: each fold scored by a checker fitted on the other cv folds, figures per fold and pooled,
only match-tier findings counted, calibration when findings carry a confidence."""

import datetime
import json
import re
import shutil
import subprocess
import sys

import pytest

from kb.check.evaluate import (ASSERT_MIN_FLAGS, ASSERT_PRECISION, Evaluation, cross_validate,
                               expected_calibration_error, folded_json, folded_report_lines, locked_test,
                               score_statement, shared_fit)
from kbtest import ROOT, TINY_STATEMENTS, WHO, run_kb, tiny_labelled_kb

FOLDS = ["cv1", "cv2", "cv3", "cv4", "cv5", "locked"]


def _statements():
    """Two statements per fold, each reporting one (model, behaviour) with one key dropped."""
    return [{"id": f"{fold}-{i}", "text": f"statement {fold} {i}", "fold": fold, "verdict": "missing_context",
             "missing": ["goal_nudge"], "present": ["rate"], "reports": [{"model": "o1", "behaviour": "sandbagging"}]}
            for fold in FOLDS for i in range(2)]


class AlwaysFlags:
    """A checker with a fixed answer: every statement reports o1 sandbagging and drops the goal nudge (right for
    every statement of _statements), as a match or only as a suggestion, with or without a confidence."""

    def __init__(self, train, tier="match", confidence=None):
        self.train, self.tier, self.confidence = train, tier, confidence

    def check_many(self, items):
        for sid, text in items:
            finding = {"model": "o1", "behaviour": "sandbagging", "tier": self.tier, "missing_context": ["goal_nudge"]}
            if self.confidence is not None:
                finding["confidence"] = self.confidence
            yield {"id": sid, "verdict": "missing_context" if self.tier == "match" else "no_claim",
                   "findings": [finding]}


def test_each_cv_fold_is_scored_by_a_checker_fitted_on_the_other_cv_folds_only():
    trained_on = []

    def fit(train):
        trained_on.append(sorted({s["fold"] for s in train}))
        return AlwaysFlags(train)

    result = cross_validate(_statements(), fit)
    assert [fold for fold, _e in result.folds] == FOLDS[:5]
    assert trained_on == [sorted(set(FOLDS[:5]) - {f}) for f in FOLDS[:5]]  # never the held-out fold, never locked
    assert [e.statements for _f, e in result.folds] == [2] * 5 and result.pooled.statements == 10
    assert result.pooled.figures["flag_accuracy"] == 1.0 and result.pooled.figures["missing_context_recall"] == 1.0


def test_the_locked_fold_is_scored_by_a_checker_fitted_on_all_cv_folds():
    trained_on = []
    result = locked_test(_statements(), lambda train: trained_on.append({s["fold"] for s in train}) or AlwaysFlags(train))
    assert trained_on == [set(FOLDS[:5])]
    assert [(fold, e.statements) for fold, e in result.folds] == [("locked", 2)]
    header = folded_report_lines(result)[0]
    assert "LOCKED TEST FOLD" in header and datetime.date.today().isoformat()[:4] in header


def test_only_match_tier_findings_count_for_recall_and_false_alarms():
    label = _statements()[0] | {"present": ["goal_nudge"], "missing": []}
    for tier, expected in (("match", 1), ("suggest", 0)):
        evaluation = Evaluation()
        [result] = AlwaysFlags([], tier=tier).check_many([("x", "text")])
        score_statement(evaluation, label, result)
        assert evaluation.tallies["claim_recall"].hits == expected
        assert evaluation.tallies["false_alarm_rate"].hits == expected
    evaluation = Evaluation()
    score_statement(evaluation, label, {"verdict": "missing_context", "findings": [{"model": "o1", "behaviour":
                                        "sandbagging", "missing_context": ["goal_nudge"]}]})  # no tier: not a match
    assert evaluation.tallies["claim_recall"].hits == 0 and evaluation.tallies["false_alarm_rate"].hits == 0


def test_calibration_is_scored_only_when_findings_carry_a_confidence():
    plain = cross_validate(_statements(), lambda train: AlwaysFlags(train))
    assert plain.pooled.calibration is None
    assert not any("ECE" in line for line in folded_report_lines(plain))
    confident = cross_validate(_statements(), lambda train: AlwaysFlags(train, confidence=0.75))
    # Every finding is right and says 0.75: ECE |0.75 - 1| = 0.25, Brier 0.0625.
    assert confident.pooled.calibration == {"ece": 0.25, "brier": 0.0625, "findings": 10}
    lines = folded_report_lines(confident)
    assert any(re.search(r"calibration ECE \(10 bins\):( +0\.25){6}", line) for line in lines), lines
    assert any(re.search(r"Brier score:( +0\.06){6}", line) for line in lines), lines


def test_expected_calibration_error_over_ten_bins():
    pairs = [(0.95, True), (0.95, False), (0.15, False), (0.15, False), (1.0, True)]
    # bin 9: confidences 0.95, 0.95, 1.0 (mean 0.9667), 2 of 3 right; bin 1: 0.15, 0.15, none right.
    expected = 3 / 5 * abs(2.9 / 3 - 2 / 3) + 2 / 5 * 0.15
    assert expected_calibration_error(pairs) == pytest.approx(expected)


class FlagsWithConfidence:
    """A checker that flags every statement as missing context, as sure as the statement's id says ("s-0.73": 0.73);
    the labels decide which flags are right."""

    def __init__(self, _train):
        pass

    def check_many(self, items):
        for sid, _text in items:
            finding = {"model": "o1", "behaviour": "sandbagging", "tier": "match", "missing_context": ["goal_nudge"],
                       "problems": [], "confidence": float(sid.split("-")[1])}
            yield {"id": sid, "verdict": "missing_context", "findings": [finding]}


def _flag_statements(right_from: float, wrong_above: int = 0):
    """Forty statements, one per confidence 0.50 to 0.89, spread over the cv folds: the label is a flag (the
    checker's flag is right) from `right_from` on, except for `wrong_above` of the most confident."""
    confidences = [round(0.50 + i / 100, 2) for i in range(40)]
    wrong_top = set(confidences[-wrong_above:]) if wrong_above else set()
    return [{"id": f"s-{c:.2f}", "text": "o1 sandbagged.", "fold": FOLDS[i % 5],
             "verdict": "missing_context" if c >= right_from and c not in wrong_top else "ok",
             "missing": [], "present": [], "reports": [{"model": "o1", "behaviour": "sandbagging"}]}
            for i, c in enumerate(confidences)]


def _expected_assert_from(statements) -> float | None:
    """The rule, counted directly: the lowest confidence whose flags at or above it are right often enough."""
    pairs = [(float(s["id"].split("-")[1]), s["verdict"] != "ok") for s in statements]
    for t in sorted(c for c, _ in pairs):
        above = [right for c, right in pairs if c >= t]
        if len(above) >= ASSERT_MIN_FLAGS and sum(above) / len(above) >= ASSERT_PRECISION:
            return t
    return None


def test_eval_cv_says_from_which_confidence_flags_are_stated_as_verdicts_and_saves_it():
    statements = _flag_statements(right_from=0.70)
    result = cross_validate(statements, FlagsWithConfidence)
    expected = _expected_assert_from(statements)
    assert expected == 0.68  # 20 right of the 22 flags from 0.68 (0.91); from 0.67, 20 of 23 (0.87)
    line = next(line for line in folded_report_lines(result) if line.startswith("flags stated as verdicts"))
    assert line.startswith("flags stated as verdicts from confidence 0.68 (precision 0.91 over 22 flags); below it a "
                           "flag reads as one to verify (precision 0.00 over 18); precision of flags at the match "
                           "tier 0.50 [20/40]"), line
    saved = folded_json(result)["sets"][-1]["flag_assertion"]
    assert saved["assert_from"] == 0.68 and saved["flags"] == 22 and saved["tentative_flags"] == 18
    assert saved["precision"] == pytest.approx(20 / 22) and saved["tentative_precision"] == 0


def test_eval_cv_says_when_no_confidence_reaches_the_precision_and_every_flag_is_to_verify():
    statements = _flag_statements(right_from=0.50, wrong_above=6)  # the most confident flags are the wrong ones
    result = cross_validate(statements, FlagsWithConfidence)
    assert _expected_assert_from(statements) is None
    line = next(line for line in folded_report_lines(result) if line.startswith("no confidence reaches"))
    # The more confident, the more of the six wrong flags: the best is every flag, 34 of 40 right.
    assert line == ("no confidence reaches a flag precision of 0.90 (best 0.85 at ≥ 0.50, over 40 flags): every flag "
                    "reads as one to verify; precision of flags at the match tier 0.85 [34/40]"), line
    saved = folded_json(result)["sets"][-1]["flag_assertion"]
    assert saved["assert_from"] is None and saved["tentative_flags"] == 40


# The end-to-end `kb eval --cv` run, made once for this file on the tiny labelled knowledge base (kbtest).
@pytest.fixture(scope="module")
def tiny_cv(tmp_path_factory):
    """(root, per-fold counts, `kb eval --cv --save` result, saved JSON) on a copy of the tiny knowledge base."""
    root = tiny_labelled_kb(tmp_path_factory.mktemp("eval") / "kb")
    assert run_kb("--root", str(root), "folds", "--assign").returncode == 0
    folds = run_kb("--root", str(root), "folds").stdout.splitlines()
    per_fold = {line.split()[0]: int(line.split()[-2]) for line in folds[1:]}
    save = root / "cv.json"
    result = run_kb("--root", str(root), "eval", "--cv", "--save", str(save))
    assert result.returncode == 0, result.stderr
    return root, per_fold, result, json.loads(save.read_text())


@pytest.mark.slow
def test_eval_cv_and_locked_on_a_small_labelled_knowledge_base(tiny_cv):
    """The real checker, fitted and scored fold by fold on a small labelled knowledge base."""
    root, per_fold, result, saved = tiny_cv
    assert per_fold["all"] == len(WHO) * len(TINY_STATEMENTS) and "none" not in per_fold
    assert all(per_fold.get(fold) for fold in FOLDS[:5])  # every cv fold is scored
    cv_count = sum(n for fold, n in per_fold.items() if fold.startswith("cv"))
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    assert result.stdout.startswith(f"== Caveat, 5-fold cross-validation, {today}: {cv_count} statements")
    header = next(line for line in result.stdout.splitlines() if line.split()[:1] == ["cv1"] and "pooled" in line)
    assert header.split() == ["cv1", "cv2", "cv3", "cv4", "cv5", "pooled"]
    for name in ("flag accuracy", "claim recall", "missing-context recall", "false-alarm rate", "misstated recall"):
        row = next(line for line in result.stdout.splitlines() if line.strip().startswith(name + ":"))
        assert len(re.findall(r"\d\.\d\d|n/a", row.split("[")[0])) == 6, row
    assert saved["mode"] == "cv" and saved["date"] == today
    assert [s["labels"] for s in saved["sets"]] == ["cv1", "cv2", "cv3", "cv4", "cv5", "pooled (cv1-cv5)"]
    assert saved["sets"][-1]["statements"] == cv_count
    # The fitted checker does check: it finds most of the reports and flags better than chance.
    pooled = saved["sets"][-1]["figures"]
    assert pooled["claim_recall"] >= 0.5 and pooled["flag_accuracy"] > 0.5, pooled
    # Where flags stop reading as ones to verify: one line, and the pooled set saves it for the check page.
    assertion = saved["sets"][-1]["flag_assertion"]
    line = next(line for line in result.stdout.splitlines() if line.startswith(("flags stated", "no confidence")))
    if assertion["assert_from"] is None:
        assert line.startswith("no confidence reaches a flag precision of 0.90") and "every flag reads as one to " \
            "verify" in line, line
    else:
        assert line.startswith(f"flags stated as verdicts from confidence {assertion['assert_from']:.2f}"), line
    assert assertion["tentative_flags"] <= assertion["flags_with_confidence"]
    locked = run_kb("--root", str(root), "eval", "--locked", "--json")
    data = json.loads(locked.stdout)
    assert data["mode"] == "locked" and data["sets"][0]["statements"] == per_fold.get("locked", 0)
    assert "failures" not in data["sets"][0]  # no one looks at the locked fold's failures


@pytest.mark.slow
def test_the_peer_prints_the_table_of_kb_eval_cv(tiny_cv):
    """benchmarks/baseline_matching.py on the same folds prints kb eval --cv's table (the peer's own tests are in
    test_baseline.py; this one shares the kb eval --cv run)."""
    root, _per_fold, ours, _saved = tiny_cv
    save = root / "peer.json"
    peer = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "baseline_matching.py"), "--root", str(root),
                           "--save", str(save)], capture_output=True, text=True, timeout=600)
    assert peer.returncode == 0, peer.stderr

    def row_names(text):
        return [line.split(":")[0].strip() for line in text.splitlines() if re.match(r"^ {2,}[a-zA-Z -]+: ", line)]

    # The same figure rows; Caveat's findings carry a confidence, so it adds the calibration rows the peer cannot have.
    calibration = ("calibration", "Brier", "finding confidence", "dropped-key confidence")
    assert row_names(peer.stdout) == [r for r in row_names(ours.stdout) if not r.startswith(calibration)]
    assert peer.stdout.startswith("== Baseline: nearest-claim matching, every match flagged, 5-fold cross-validation")
    assert re.search(r"^cosine threshold fitted on the training folds: cv1 0\.\d\d, cv2", peer.stdout, re.M)
    saved = json.loads(save.read_text())
    assert saved["mode"] == "cv" and set(saved["thresholds"]) == {"cv1", "cv2", "cv3", "cv4", "cv5"}


def test_eval_without_files_or_a_mode_is_a_usage_error():
    result = run_kb("eval")
    assert result.returncode == 2 and "--cv" in result.stderr and "Traceback" not in result.stderr


def test_eval_cv_without_folds_says_how_to_assign_them(tmp_path):
    path = tmp_path / "labels.yaml"
    path.write_text("statements:\n- {id: a, text: o1 lied 5% of the time., verdict: ok}\n")
    result = run_kb("eval", "--cv", str(path))
    assert result.returncode == 2 and "kb folds --assign" in result.stderr and "Traceback" not in result.stderr
