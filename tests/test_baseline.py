"""The peer (benchmarks/baseline_matching.py): nearest-claim matching, fitted on the training folds only and scored
by kb eval's code, printing kb eval --cv's table."""

import importlib.util
import json
import re
import subprocess
import sys

import pytest

from kb.check.evaluate import folded_report_lines
from kbtest import ROOT, copy_data, run_kb

pytestmark = pytest.mark.slow
SCRIPT = ROOT / "benchmarks" / "baseline_matching.py"


def _baseline():
    spec = importlib.util.spec_from_file_location("baseline_matching", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _statements():
    """The labelled development set, in folds by page, as kb eval reads them."""
    from kb.build import load_valid
    from kb.check.evaluate import kb_statements
    from kb.folds import planned_folds

    kb = load_valid(ROOT)
    labelled = [s for s in kb_statements(kb) if s["id"].startswith("d")]
    plan = planned_folds([kb.statements[s["id"]] for s in labelled])
    return kb, [s | {"fold": s["fold"] or plan[s["id"]]} for s in labelled]


def test_the_peer_flags_every_match_and_fits_its_threshold_on_the_training_folds_only(checker):
    baseline = _baseline()
    kb, statements = _statements()
    index = baseline.ClaimIndex(kb, embedder=checker.embedder)
    result, thresholds = baseline.measure(kb, statements, embedder=checker.embedder)
    assert set(thresholds) == {"cv1", "cv2", "cv3", "cv4", "cv5"}
    for fold, threshold in thresholds.items():
        train = [s for s in statements if s["fold"] not in (fold, "locked")]
        assert threshold == baseline.fit_threshold(index, train) and 0.2 <= threshold <= 0.9
    # Its results meet kb eval's interface: every finding a match, flagged, never ok, and no dropped key named.
    results = list(baseline.NearestClaimChecker(index, 0.3).check_many((s["id"], s["text"]) for s in statements))
    assert {r["verdict"] for r in results} <= {"missing_context", "no_claim"}
    assert all(f["tier"] == "match" and f["missing_context"] == [] for r in results for f in r["findings"])
    assert any(r["findings"] for r in results)
    pooled = result.pooled.figures
    assert pooled["missing_context_recall"] == 0 and pooled["false_alarm_rate"] == 0
    assert 0 < pooled["claim_recall"] <= 1
    locked, fitted = baseline.measure(kb, statements, locked=True, embedder=checker.embedder)
    train = [s for s in statements if s["fold"] != "locked"]
    assert fitted == {"locked": baseline.fit_threshold(index, train)}
    assert "LOCKED TEST FOLD" in folded_report_lines(locked, what="peer")[0]


def test_the_peer_prints_the_table_of_kb_eval_cv(tmp_path):
    root = copy_data(tmp_path / "kb")
    for path in (root / "statements").glob("*.yaml"):
        if path.name != "labelled-development-set.yaml":
            path.unlink()
    assert run_kb("--root", str(root), "folds", "--assign").returncode == 0
    save = tmp_path / "peer.json"
    peer = subprocess.run([sys.executable, str(SCRIPT), "--root", str(root), "--save", str(save)],
                          capture_output=True, text=True, timeout=600)
    assert peer.returncode == 0, peer.stderr
    ours = run_kb("--root", str(root), "eval", "--cv")
    assert ours.returncode == 0, ours.stderr

    def row_names(text):
        return [line.split(":")[0].strip() for line in text.splitlines() if re.match(r"^ {2,}[a-zA-Z -]+: ", line)]

    assert row_names(peer.stdout) == row_names(ours.stdout)
    assert peer.stdout.startswith("== Baseline: nearest-claim matching, every match flagged, 5-fold cross-validation")
    assert re.search(r"^cosine threshold fitted on the training folds: cv1 0\.\d\d, cv2", peer.stdout, re.M)
    saved = json.loads(save.read_text())
    assert saved["mode"] == "cv" and set(saved["thresholds"]) == {"cv1", "cv2", "cv3", "cv4", "cv5"}
