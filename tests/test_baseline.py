"""The peer (benchmarks/baseline_matching.py): nearest-claim matching, fitted on the training folds only and scored
by kb eval's code. That it prints kb eval --cv's table is tested in test_evaluate.py, which runs kb eval --cv once."""

import importlib.util

import pytest

from kb.check.evaluate import folded_report_lines
from kbtest import ROOT

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


@pytest.fixture(scope="module")
def embedder():
    """The checker's embedder (no knowledge base build needed: the peer only embeds)."""
    from kb.check.embed import load_embedder

    return load_embedder()


def test_the_peer_flags_every_match_and_fits_its_threshold_on_the_training_folds_only(embedder, tmp_path):
    baseline = _baseline()
    kb, statements = _statements()
    cache = tmp_path / "embeddings.npz"  # the claims are embedded once for the three indexes below
    index = baseline.ClaimIndex(kb, embedder=embedder, cache_path=cache)
    result, thresholds = baseline.measure(kb, statements, embedder=embedder, cache_path=cache)
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
    locked, fitted = baseline.measure(kb, statements, locked=True, embedder=embedder, cache_path=cache)
    train = [s for s in statements if s["fold"] != "locked"]
    assert fitted == {"locked": baseline.fit_threshold(index, train)}
    assert "LOCKED TEST FOLD" in folded_report_lines(locked, what="peer")[0]
