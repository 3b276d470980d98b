"""kb eval --stats, --agreement and --show: the corpus's counts, the human ceiling, and the committed figures that
make run, README and the site show. None of them runs the checker."""

from __future__ import annotations

import json
import re

from kbtest import ROOT, copy_data, run_kb

from kb.check.corpus import as_result, cohen_kappa, agreement

FIRST = {"a": {"id": "a", "verdict": "missing_context", "missing": ["goal_nudge"], "present": ["rate"],
               "reports": [{"model": "o1", "behaviour": "oversight_subversion"}]},
         "b": {"id": "b", "verdict": "no_claim", "reports": []},
         "c": {"id": "c", "verdict": "ok", "present": ["rate"], "reports": [{"model": "o3", "behaviour": "shutdown_resistance"}]}}


def test_identical_labellings_agree_fully_and_kappa_is_one():
    result = agreement(FIRST, FIRST)
    assert result.pairs == 3 and result.kappa == 1.0
    figures = result.evaluation.figures
    assert figures["flag_accuracy"] == 1.0 and figures["claim_recall"] == 1.0
    assert figures["missing_context_recall"] == 1.0 and figures["false_alarm_rate"] == 0.0


def test_a_disagreement_shows_in_every_figure_it_touches():
    second = {**FIRST, "a": {"id": "a", "verdict": "ok", "present": ["goal_nudge", "rate"],
                             "reports": [{"model": "o1", "behaviour": "oversight_subversion"}]}}
    result = agreement(FIRST, second)
    figures = result.evaluation.figures
    assert figures["flag_accuracy"] == 2 / 3 and figures["missing_context_recall"] == 0.0
    assert result.kappa < 1.0
    assert re.match(r"agreement on 3 doubly-labelled statements: flag accuracy 0\.67, .*Cohen's kappa -?\d\.\d\d$",
                    result.line())


def test_per_report_missing_keys_become_that_reports_finding():
    label = {"id": "x", "verdict": "missing_context", "missing": ["goal_nudge"],
             "reports": [{"model": "o1", "behaviour": "oversight_subversion", "missing": []},
                         {"model": "o1", "behaviour": "self_exfiltration", "missing": ["goal_nudge"]}]}
    findings = as_result(label)["findings"]
    assert [f["missing_context"] for f in findings] == [[], ["goal_nudge"]]


def test_kappa_is_chance_corrected():
    assert cohen_kappa([("ok", "ok"), ("no_claim", "no_claim")]) == 1.0
    assert cohen_kappa([("ok", "no_claim"), ("no_claim", "ok")]) < 0


def test_eval_agreement_reads_the_committed_labellings_and_prints_its_line():
    result = run_kb("eval", "--agreement")
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    match = re.match(r"agreement on (\d+) doubly-labelled statements: flag accuracy (\d\.\d\d).*Cohen's kappa (\d\.\d\d)$",
                     line)
    assert match and int(match.group(1)) >= 150, line


def test_eval_agreement_without_the_files_says_where_they_go(tmp_path):
    import shutil

    root = copy_data(tmp_path / "kb")
    shutil.rmtree(root / "statements" / "agreement")
    result = run_kb("--root", str(root), "eval", "--agreement")
    assert result.returncode == 2 and "statements/agreement/" in result.stderr and "Traceback" not in result.stderr


def test_eval_stats_counts_the_whole_corpus_locked_fold_included():
    result = run_kb("eval", "--stats")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    total = int(re.search(r"^statements: (\d+)$", out, re.M).group(1))
    folds = dict((k, int(v)) for k, v in re.findall(r"(cv\d|locked|none) (\d+)", out.split("folds:")[1].splitlines()[0]))
    assert sum(folds.values()) == total and folds.get("locked", 0) > 0
    assert re.search(r"^text without a digit: \d+$", out, re.M)
    assert "statements per source family" in out


def test_eval_show_prints_the_committed_figures_or_how_to_make_them(tmp_path):
    root = copy_data(tmp_path / "kb")
    (root / "evaluation").mkdir()
    empty = run_kb("--root", str(root), "eval", "--show")
    assert empty.returncode == 0 and "kb eval --cv --save evaluation/cv.json" in empty.stdout
    (root / "evaluation" / "cv.json").write_text(json.dumps({"date": "2026-12-07", "mode": "cv", "sets": [
        {"labels": "pooled (cv1-cv5)", "statements": 400, "figures": {"flag_accuracy": 0.8123, "claim_recall": 0.7}}]}))
    (root / "evaluation" / "locked-runs.jsonl").write_text(
        json.dumps({"date": "2026-12-06", "commit": "abc1234", "statements": 200, "figures": {"flag_accuracy": 0.5}}) + "\n"
        + json.dumps({"date": "2026-12-07", "commit": "def5678", "statements": 210, "figures": {"flag_accuracy": 0.77}}) + "\n")
    shown = run_kb("--root", str(root), "eval", "--show").stdout
    assert "cross-validated on 400 real statements (2026-12-07): flag accuracy 0.81, claim recall 0.70" in shown
    assert "210 statements never fitted on (2026-12-07, def5678): flag accuracy 0.77" in shown  # the latest run


def test_the_repository_commits_the_figures_it_shows():
    for name in ("cv.json", "agreement.json", "locked-runs.jsonl"):
        assert (ROOT / "evaluation" / name).is_file(), name


def test_the_match_tier_is_the_one_cross_validation_chose():
    """weights.json's match tier is the one the committed `kb eval --cv` run chose (the lowest whose flag accuracy is
    within one standard error of the highest), so the tier is chosen by cross-validation, not by hand (change the tier
    in kb/check/train.py when a new run chooses another)."""
    pooled = json.loads((ROOT / "evaluation" / "cv.json").read_text(encoding="utf-8"))["sets"][-1]
    weights = json.loads((ROOT / "kb" / "check" / "weights.json").read_text(encoding="utf-8"))
    assert pooled["match_tier"]["best"] == weights["tiers"]["match"], pooled["match_tier"]


def test_an_ok_label_judges_every_key_its_claims_share():
    """An `ok` label says the statement conveys every key condition of the results it reports; a key all its claims
    have that the label neither calls present nor missing is a stale label (the claims' key context changed after
    it was labelled, as on 2026-12-07 when the o3 card's Apollo runs gained the strong nudge). The development set
    keeps the labels it was first given (tests/test_data.py holds them to the reference)."""
    from kb.build import load_valid

    kb = load_valid(ROOT)
    stale = []
    for statement in kb.statements.values():
        label = statement.label
        claims = [kb.claims[c] for c in statement.claims or [] if c in kb.claims]
        if label is None or label.verdict != "ok" or not claims or statement.file.endswith("labelled-development-set.yaml"):
            continue
        judged = {key for part in (label, *(label.reports or [])) for key in (part.present or []) + (part.missing or [])}
        shared = set.intersection(*(set(c.key_context or []) for c in claims))
        if shared - judged:
            stale.append(f"{statement.file}:{statement.line} {statement.id}: {sorted(shared - judged)}")
    assert not stale, "relabel these (or say in the label which keys they convey):\n" + "\n".join(stale)
