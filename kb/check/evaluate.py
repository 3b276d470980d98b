"""`kb eval`: run the checker on labelled statements and measure it (the labelling guide's rules, statements/LABELLING.md; five figures).

Labels use the format of tests/data/statements-heldout.yaml: each statement has `reports` (model and/or
behaviour), `verdict` or `verdict_any`, `missing` and `present` context keys.

`cross_validate` and `locked_test` measure on the knowledge base's own statements by their stored folds. What is
measured is anything with `check_many((id, text), ...) -> results` (a `StatementChecker`), and it is made for each
split by a `Fit`: a callable given the training statements that returns the checker to score the held-out fold
with. The checker has nothing to fit yet, so `shared_fit(checker)` hands back the same one every time; a fitted
checker, or a peer such as benchmarks/baseline_matching.py, plugs in as another Fit.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Protocol

from kb.check.flags import FLAGGED, flag_confidence, verdict_from
from kb.check.store import accepted_verdicts
from kb.folds import CV_FOLDS, LOCKED

GOALS = {"flag_accuracy": (">=", 0.90), "claim_recall": (">=", 0.90), "missing_context_recall": (">=", 0.85),
         "false_alarm_rate": ("<=", 0.10), "misstated_recall": (">=", 0.75)}
FIGURE_NAMES = {"flag_accuracy": "flag accuracy", "claim_recall": "claim recall",
                "missing_context_recall": "missing-context recall", "false_alarm_rate": "false-alarm rate",
                "misstated_recall": "misstated recall", "verdict_accuracy": "verdict accuracy"}


CALIBRATION_BINS = 10
# A flag is stated as a verdict only from the confidence at which cross-validated flags are right this often, over at
# least this many flags (over fewer, the precision would itself be a guess); below it, a flag reads as one to verify.
ASSERT_PRECISION, ASSERT_MIN_FLAGS = 0.90, 20
# The match tiers kb eval tries: flag accuracy if findings this confident were the matches (from the suggestion tier,
# the lowest confidence a result object keeps). Cross-validation chooses the tier in weights.json from these.
MATCH_SWEEP = (0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75)


class LabelsError(Exception):
    pass


class StatementChecker(Protocol):
    """What kb eval measures: one `kb check --jsonl` result per (id, text), in order. Findings count for recall and
    false alarms only when their `tier` is "match"; a finding's optional `confidence` (0 to 1) is scored for
    calibration."""

    def check_many(self, items: Iterable[tuple[str, str]]) -> Iterable[dict]: ...


# Given the training statements (label dicts as `kb_statements` makes them), return the checker to measure.
Fit = Callable[[list[dict]], StatementChecker]


def shared_fit(checker: StatementChecker) -> Fit:
    """The Fit of a checker with nothing to fit: every split is scored with the same checker."""
    return lambda _train: checker


@dataclass
class Tally:
    hits: int = 0
    total: int = 0

    def add(self, hits: int, total: int):
        self.hits += hits
        self.total += total

    @property
    def rate(self) -> float | None:
        return self.hits / self.total if self.total else None


# The checker's stages, each measured on its own (see `stage_lines`): does the statement report a stored result at all,
# are its (model, behaviour) pairs among the candidates, is each condition judged right, is the number judged right,
# and how often a flag is right.
STAGE_NAMES = {"reporting_precision": "reports a result: precision", "reporting_recall": "reports a result: recall",
               "retrieval_at_1": "retrieval recall@1", "retrieval_at_5": "retrieval recall@5",
               "claim_choice": "claim choice within a pair",
               "misstated_precision": "misstated: precision", "flag_precision": "precision of flags"}


@dataclass
class Evaluation:
    tallies: dict = field(default_factory=lambda: {name: Tally() for name in FIGURE_NAMES})
    failures: list = field(default_factory=list)  # (statement id, [what went wrong])
    statements: int = 0
    confidences: list = field(default_factory=list)  # (finding confidence, whether the statement reports it)
    stages: dict = field(default_factory=lambda: {name: Tally() for name in STAGE_NAMES})
    # context key -> [dropped and flagged, flagged, dropped]: per-key precision and recall of "this key is dropped",
    # over the matched findings of reports the label names
    keys: dict = field(default_factory=dict)
    key_confidences: list = field(default_factory=list)  # (confidence a key is dropped, whether the label drops it)
    flag_confidences: list = field(default_factory=list)  # (confidence of a flag, whether the label is a flag too)
    # match tier -> flag accuracy had the findings at least that confident been the matches (MATCH_SWEEP)
    match_sweep: dict = field(default_factory=lambda: {t: Tally() for t in MATCH_SWEEP})

    @property
    def figures(self) -> dict:
        return {name: tally.rate for name, tally in self.tallies.items()}

    @property
    def calibration(self) -> dict | None:
        """ECE over CALIBRATION_BINS equal-width bins and the Brier score of the findings' confidences, or None
        when no finding carries one."""
        pairs = self.confidences
        if not pairs:
            return None
        return {"ece": expected_calibration_error(pairs), "brier": sum((c - y) ** 2 for c, y in pairs) / len(pairs),
                "findings": len(pairs)}

    def meets(self, name: str) -> bool | None:
        value = self.figures.get(name)
        if value is None or name not in GOALS:
            return None
        op, goal = GOALS[name]
        return value >= goal if op == ">=" else value <= goal


def load_labels(path: Path) -> list[dict]:
    """The labelled statements of a YAML file, or LabelsError with a message naming the problem."""
    from kb.load import load_yaml

    loaded = load_yaml(Path(path), str(path))
    if loaded.problems:
        raise LabelsError("\n".join(str(p) for p in loaded.problems))
    statements = (loaded.data or {}).get("statements") if isinstance(loaded.data, dict) else None
    if not isinstance(statements, list) or not statements:
        raise LabelsError(f"{path}: expected a top-level 'statements:' list of labelled statements")
    labelled = []
    for i, item in enumerate(statements):
        if not isinstance(item, dict) or not isinstance(item.get("text"), str) or "id" not in item:
            line = statements.line_of(i) if hasattr(statements, "line_of") else 0
            raise LabelsError(f"{path}:{line}: each statement needs an 'id' and a 'text'")
        item = _flatten(item)
        if item is None:
            continue  # a discourse record without a human label: nothing to measure against
        if "verdict" not in item and "verdict_any" not in item:
            raise LabelsError(f"{path}:{statements.line_of(i)}: statement {item['id']} needs 'verdict' or 'verdict_any'")
        labelled.append(item)
    if not labelled:
        raise LabelsError(f"{path}: no statement has a label (verdict or verdict_any)")
    return labelled


def _flatten(item: dict) -> dict | None:
    """Accept both label formats: the flat one of tests/data/statements-heldout.yaml and the knowledge base's statements/
    records, whose label sits under `label:`."""
    if "label" not in item:
        return dict(item)
    if not isinstance(item["label"], dict):
        return None
    kept = {k: item[k] for k in ("fold", "claims", "url", "who", "date", "register") if k in item}
    return {"id": item["id"], "text": item["text"], **kept, **item["label"]}


def kb_statements(kb) -> list[dict]:
    """The knowledge base's labelled statements as label dicts (text, label fields, fold, claims, provenance)."""
    out = []
    for statement in kb.statements.values():
        label = statement.label
        if label is None or (label.verdict is None and not label.verdict_any):
            continue
        out.append({"id": statement.id, "text": statement.text, "verdict": label.verdict,
                    "verdict_any": label.verdict_any, "missing": label.missing or [], "present": label.present or [],
                    "reports": [{"model": r.model, "behaviour": r.behaviour} for r in label.reports or []],
                    "claims": statement.claims or [], "fold": statement.fold, "url": statement.url,
                    "who": statement.who, "date": statement.date, "register": statement.register})
    return out


def gold_verdicts(label: dict) -> set:
    return accepted_verdicts(label.get("verdict"), label.get("verdict_any"))


def reports_finding(label: dict, finding: dict) -> bool:
    """Is the finding's (model, behaviour) one the statement reports? A report without a model (or behaviour)
    accepts any."""
    return any(all(finding.get(k) == report[k] for k in ("model", "behaviour") if report.get(k))
               for report in label.get("reports") or [])


def score_statement(evaluation: Evaluation, label: dict, result: dict):
    tallies, problems = evaluation.tallies, []
    # Only match-tier findings are asserted (they decide the verdict); a suggestion is offered, not asserted, so it
    # neither finds a report nor raises a false alarm. A finding without a tier is not a match.
    findings = result.get("findings") or []
    matched = [f for f in findings if f.get("tier") == "match"]
    for finding in findings:
        confidence = finding.get("confidence")
        if isinstance(confidence, (int, float)) and not isinstance(confidence, bool):
            evaluation.confidences.append((float(confidence), reports_finding(label, finding)))
    gold = gold_verdicts(label)
    predicted = result.get("verdict")
    flagged = all(v in FLAGGED for v in gold)
    tallies["flag_accuracy"].add((predicted in FLAGGED) == flagged, 1)
    for tier, tally in evaluation.match_sweep.items():
        tally.add((verdict_from(result, tier) in FLAGGED) == flagged, 1)
    tallies["verdict_accuracy"].add(predicted in gold, 1)
    if predicted not in gold:
        problems.append(f"verdict {predicted}, expected {' or '.join(sorted(gold))}")
    for report in label.get("reports") or []:
        found = any(reports_finding({"reports": [report]}, f) for f in matched)
        tallies["claim_recall"].add(found, 1)
        if not found:
            problems.append(f"did not find the report {dict(report)}")
    reported_missing = {k for f in matched for k in f.get("missing_context", [])}
    missing, present = set(label.get("missing") or []), set(label.get("present") or [])
    tallies["missing_context_recall"].add(len(missing & reported_missing), len(missing))
    tallies["false_alarm_rate"].add(len(present & reported_missing), len(present))
    if missing - reported_missing:
        problems.append(f"did not report as dropped: {', '.join(sorted(missing - reported_missing))}")
    if present & reported_missing:
        problems.append(f"reported as dropped but conveyed: {', '.join(sorted(present & reported_missing))}")
    if label.get("verdict") == "misstated":
        tallies["misstated_recall"].add(predicted == "misstated", 1)
    score_stages(evaluation, label, result, matched)
    if problems:
        evaluation.failures.append((str(label["id"]), problems))


def score_stages(evaluation: Evaluation, label: dict, result: dict, matched: list):
    """Each stage's own tallies for one statement (see STAGE_NAMES)."""
    stages, gold = evaluation.stages, gold_verdicts(label)
    reports_gold, reports_found = "no_claim" not in gold, bool(matched)
    stages["reporting_recall"].add(reports_found, 1) if reports_gold else None
    stages["reporting_precision"].add(reports_gold, 1) if reports_found else None
    ranked = sorted(result.get("findings") or [], key=lambda f: -(f.get("confidence") or 0.0))
    for report in label.get("reports") or []:
        hits = [i for i, f in enumerate(ranked) if reports_finding({"reports": [report]}, f)]
        stages["retrieval_at_1"].add(bool(hits) and hits[0] < 1, 1)
        stages["retrieval_at_5"].add(bool(hits) and hits[0] < 5, 1)
    # Sibling claims share a model and behaviour (another table cell, condition or difficulty): of the matched
    # findings of a reported pair, how many name a claim the label lists.
    claims = set(label.get("claims") or [])
    if claims:
        for finding in matched:
            if reports_finding(label, finding):
                stages["claim_choice"].add(finding.get("claim") in claims, 1)
    predicted = result.get("verdict")
    if predicted == "misstated":
        stages["misstated_precision"].add("misstated" in gold, 1)
    if predicted in FLAGGED:
        right = all(v in FLAGGED for v in gold)
        stages["flag_precision"].add(right, 1)
        confidence = flag_confidence(result)
        if confidence is not None:
            evaluation.flag_confidences.append((confidence, right))
    _score_keys(evaluation, label, [f for f in matched if reports_finding(label, f)])


def _score_keys(evaluation: Evaluation, label: dict, findings: list):
    """Per key: is it flagged as dropped exactly when the label drops it? Keys the label judges (missing or present)."""
    if not findings:
        return
    missing, present = set(label.get("missing") or []), set(label.get("present") or [])
    flagged = {k for f in findings for k in f.get("missing_context") or []}
    confidence = {}
    for f in findings:
        for key, value in (f.get("missing_confidence") or {}).items():
            confidence[key] = max(confidence.get(key, 0.0), float(value))
    for key in missing | present | flagged:
        if key not in missing and key not in present:
            continue  # a key the label does not judge: neither right nor wrong
        tally = evaluation.keys.setdefault(key, [0, 0, 0])
        dropped, said = key in missing, key in flagged
        tally[0] += dropped and said
        tally[1] += said
        tally[2] += dropped
        if key in confidence:
            evaluation.key_confidences.append((confidence[key], dropped))


def evaluate(checker, labels: list[dict]) -> Evaluation:
    evaluation = Evaluation(statements=len(labels))
    results = checker.check_many((str(s["id"]), s["text"]) for s in labels)
    for label, result in zip(labels, results):
        score_statement(evaluation, label, result)
    return evaluation


def expected_calibration_error(pairs: list[tuple[float, bool]], bins: int = CALIBRATION_BINS) -> float:
    """Σ over equal-width confidence bins of (share of findings in the bin) × |mean confidence − share correct|."""
    total, error = len(pairs), 0.0
    for b in range(bins):
        members = [(c, y) for c, y in pairs if min(int(c * bins), bins - 1) == b]
        if members:
            error += len(members) / total * abs(sum(c for c, _ in members) / len(members)
                                                - sum(y for _, y in members) / len(members))
    return error


def pooled(evaluations: list[Evaluation]) -> Evaluation:
    """One evaluation of all the statements of several: every tally summed (a micro-average)."""
    out = Evaluation()
    for e in evaluations:
        out.statements += e.statements
        out.failures += e.failures
        out.confidences += e.confidences
        out.key_confidences += e.key_confidences
        out.flag_confidences += e.flag_confidences
        for name, tally in e.tallies.items():
            out.tallies[name].add(tally.hits, tally.total)
        for name, tally in e.stages.items():
            out.stages[name].add(tally.hits, tally.total)
        for tier, tally in e.match_sweep.items():
            out.match_sweep[tier].add(tally.hits, tally.total)
        for key, counts in e.keys.items():
            mine = out.keys.setdefault(key, [0, 0, 0])
            for i, n in enumerate(counts):
                mine[i] += n
    return out


def flag_assertion(pairs: list[tuple[float, bool]]) -> dict | None:
    """From (flag confidence, flag right) pairs, where a flag stops reading as one to verify (None without pairs).

    assert_from: the lowest observed confidence t whose flags at t or above are right at least ASSERT_PRECISION of the
    time over at least ASSERT_MIN_FLAGS flags, or None when no t is. `from`, `precision`, `flags`: that t and its
    figures, else those of the most precise t with enough flags (None when no t has enough). tentative_precision and
    tentative_flags: the flags below assert_from (all of them when it is None), as the check page shows them."""
    if not pairs:
        return None
    cuts = []  # (t, precision of the flags at t or above, how many)
    for t in sorted({c for c, _ in pairs}):
        above = [right for c, right in pairs if c >= t]
        if len(above) >= ASSERT_MIN_FLAGS:
            cuts.append((t, sum(above) / len(above), len(above)))
    reaching = [cut for cut in cuts if cut[1] >= ASSERT_PRECISION]
    chosen = reaching[0] if reaching else max(cuts, key=lambda cut: cut[1], default=(None, None, None))
    assert_from = reaching[0][0] if reaching else None
    below = [right for c, right in pairs if assert_from is None or c < assert_from]
    return {"assert_from": assert_from, "from": chosen[0], "precision": chosen[1], "flags": chosen[2],
            "tentative_precision": sum(below) / len(below) if below else None, "tentative_flags": len(below),
            "flags_with_confidence": len(pairs), "target_precision": ASSERT_PRECISION, "min_flags": ASSERT_MIN_FLAGS}


def flag_assertion_lines(evaluation: Evaluation) -> list[str]:
    """One line: the confidence from which flags are stated as verdicts, or that none is; nothing when flags carry no
    confidence (a peer's)."""
    measured = flag_assertion(evaluation.flag_confidences)
    if measured is None:
        return []
    tally = evaluation.stages["flag_precision"]
    overall = f"precision of flags at the match tier {_show(tally.rate)} [{tally.hits}/{tally.total}]"
    if measured["assert_from"] is not None:
        return [f"flags stated as verdicts from confidence {measured['assert_from']:.2f} (precision "
                f"{measured['precision']:.2f} over {measured['flags']} flags); below it a flag reads as one to verify "
                f"(precision {_show(measured['tentative_precision'])} over {measured['tentative_flags']}); {overall}"]
    if measured["from"] is None:
        return [f"no confidence reaches a flag precision of {ASSERT_PRECISION:.2f} ({measured['flags_with_confidence']} "
                f"flags carry a confidence, fewer than the {ASSERT_MIN_FLAGS} needed): every flag reads as one to "
                f"verify; {overall}"]
    return [f"no confidence reaches a flag precision of {ASSERT_PRECISION:.2f} (best {measured['precision']:.2f} at "
            f"≥ {measured['from']:.2f}, over {measured['flags']} flags): every flag reads as one to verify; {overall}"]


def match_tier(evaluation: Evaluation) -> dict:
    """Flag accuracy per tried match tier, and the tier to use: the lowest whose flag accuracy is within one standard
    error of the highest (the one-standard-error rule). Flag accuracy over a few hundred statements moves by a
    statement or two between neighbouring tiers, so its highest point is partly noise, while every step up the tiers
    asserts fewer findings and costs claim and missing-context recall (2026-12-08, cv: 0.50 gave flag accuracy 0.763,
    claim recall 0.673, missing-context recall 0.591; the highest point, 0.60, 0.769 / 0.644 / 0.545)."""
    tallies = {f"{tier:.2f}": tally for tier, tally in evaluation.match_sweep.items() if tally.total}
    sweep = {tier: tally.rate for tier, tally in tallies.items()}
    if not sweep:
        return {"flag_accuracy": sweep, "best": None}
    top = max(sweep, key=lambda tier: (sweep[tier], -float(tier)))
    error = math.sqrt(sweep[top] * (1 - sweep[top]) / tallies[top].total)
    chosen = min((tier for tier, rate in sweep.items() if rate >= sweep[top] - error), key=float)
    return {"flag_accuracy": sweep, "best": float(chosen), "highest": float(top), "standard_error": round(error, 4)}


def match_tier_lines(evaluation: Evaluation) -> list[str]:
    """One line: flag accuracy across the tried match tiers, and the best one (none when findings carry no
    confidence)."""
    if not evaluation.confidences:
        return []
    measured = match_tier(evaluation)
    sweep = ", ".join(f"{tier} {_show(rate)}" for tier, rate in measured["flag_accuracy"].items())
    return [f"match tier by flag accuracy: {sweep}; highest {measured['highest']:.2f}, chosen {measured['best']:.2f} "
            f"(the lowest within one standard error, {measured['standard_error']:.3f}, of the highest)"]


def stage_json(evaluation: Evaluation) -> dict:
    """The stages' figures: what `kb eval --save` writes under "stages"."""
    keys = {key: {"precision": (c[0] / c[1] if c[1] else None), "recall": (c[0] / c[2] if c[2] else None),
                  "flagged": c[1], "dropped": c[2]} for key, c in sorted(evaluation.keys.items())}
    out = {name: tally.rate for name, tally in evaluation.stages.items()}
    out["keys"] = keys
    if evaluation.key_confidences:
        pairs = evaluation.key_confidences
        out["key_calibration"] = {"ece": expected_calibration_error(pairs),
                                  "brier": sum((c - y) ** 2 for c, y in pairs) / len(pairs), "keys": len(pairs)}
    return out


def stage_lines(evaluation: Evaluation) -> list[str]:
    """The stage table: one figure per stage, then per-key precision/recall of "dropped", then calibration per head."""
    lines = ["stages:"]
    for name, label in STAGE_NAMES.items():
        tally = evaluation.stages[name]
        lines.append(f"{label:>32}: {_show(tally.rate)}  [{tally.hits}/{tally.total}]")
    for key, (hit, said, dropped) in sorted(evaluation.keys.items()):
        lines.append(f"{'key ' + key:>32}: dropped precision {_show(hit / said if said else None)} [{hit}/{said}], "
                     f"recall {_show(hit / dropped if dropped else None)} [{hit}/{dropped}]")
    for name, pairs in (("finding confidence", evaluation.confidences), ("dropped-key confidence",
                                                                          evaluation.key_confidences)):
        if pairs:
            brier = sum((c - y) ** 2 for c, y in pairs) / len(pairs)
            lines.append(f"{name:>32}: ECE {expected_calibration_error(pairs):.2f}, Brier {brier:.2f} [{len(pairs)}]")
    return lines


# ---------------------------------------------------------------- by fold

@dataclass
class FoldedEvaluation:
    """Figures per held-out fold and pooled over them, with what the run was."""

    mode: str  # "cv" or "locked"
    folds: list  # (fold, Evaluation)
    unassigned: int = 0  # labelled statements without a fold (not measured)
    date: str = field(default_factory=lambda: datetime.datetime.now(datetime.timezone.utc).date().isoformat())

    @property
    def pooled(self) -> Evaluation:
        return pooled([e for _fold, e in self.folds])


def _in_fold(statements: list[dict], folds) -> list[dict]:
    return [s for s in statements if s.get("fold") in folds]


def require_folds(statements: list[dict]):
    if not any(s.get("fold") for s in statements):
        raise LabelsError("no labelled statement has a fold: run `kb folds --assign` first")


def cross_validate(statements: list[dict], fit: Fit) -> FoldedEvaluation:
    """For each cv fold: fit on the other cv folds, score this one. The locked fold is never touched."""
    require_folds(statements)
    result = FoldedEvaluation("cv", [], unassigned=sum(not s.get("fold") for s in statements))
    for fold in CV_FOLDS:
        test = _in_fold(statements, {fold})
        checker = fit(_in_fold(statements, set(CV_FOLDS) - {fold}))
        result.folds.append((fold, evaluate(checker, test) if test else Evaluation()))
    return result


def locked_test(statements: list[dict], fit: Fit) -> FoldedEvaluation:
    """Fit on all cv folds, score the locked fold. Run it rarely: no decision is made on its figures."""
    require_folds(statements)
    test = _in_fold(statements, {LOCKED})
    checker = fit(_in_fold(statements, set(CV_FOLDS)))
    return FoldedEvaluation("locked", [(LOCKED, evaluate(checker, test) if test else Evaluation())],
                            unassigned=sum(not s.get("fold") for s in statements))


def cross_validate_by_source(statements: list[dict], fit: Fit, claim_sources: dict) -> FoldedEvaluation:
    """Leave one source out: for each knowledge-base source that statements report, fit on the cv statements that
    report none of its claims and score those that do (a diagnostic of results the checker has few statements for).
    Statements reporting nothing are always trained on. The locked fold is never touched."""
    require_folds(statements)
    usable = _in_fold(statements, set(CV_FOLDS))
    sources_of = {s["id"]: {claim_sources.get(c) for c in s.get("claims") or []} - {None} for s in usable}
    result = FoldedEvaluation("cv-by-source", [], unassigned=sum(not s.get("fold") for s in statements))
    for source in sorted(set().union(*sources_of.values())):
        test = [s for s in usable if source in sources_of[s["id"]]]
        checker = fit([s for s in usable if source not in sources_of[s["id"]]])
        result.folds.append((source, evaluate(checker, test)))
    return result


def by_source_lines(result: FoldedEvaluation) -> list[str]:
    """One row per left-out source: its statements and the figures on them."""
    names = ["flag_accuracy", "claim_recall", "missing_context_recall", "false_alarm_rate", "misstated_recall"]
    lines = [f"== Leave-one-source-out cross-validation, {result.date}: each source's statements scored by a checker "
             "fitted on the cv statements that report none of its claims.",
             f"{'source':<48} {'n':>4} " + " ".join(f"{FIGURE_NAMES[n][:12]:>12}" for n in names)]
    for source, e in result.folds:
        lines.append(f"{source:<48} {e.statements:>4} " + " ".join(f"{_show(e.tallies[n].rate):>12}" for n in names))
    return lines


def as_json(evaluations: list[tuple[str, Evaluation]], failures: bool = True) -> dict:
    """{"goals": ..., "sets": [{"labels", "statements", "figures", "failures"[, "calibration"]}, ...]}: what
    `kb eval --save` writes (the site reads it)."""
    sets = []
    for path, e in evaluations:
        entry = {"labels": path, "statements": e.statements, "figures": e.figures}
        if failures:
            entry["failures"] = [{"id": sid, "problems": problems} for sid, problems in e.failures]
        if e.calibration is not None:
            entry["calibration"] = e.calibration
        entry["stages"] = stage_json(e)
        measured = flag_assertion(e.flag_confidences)
        if measured is not None:
            entry["flag_assertion"] = measured
        if e.confidences:
            entry["match_tier"] = match_tier(e)
        sets.append(entry)
    return {"goals": {name: f"{op} {goal}" for name, (op, goal) in GOALS.items()}, "sets": sets}


def folded_json(result: FoldedEvaluation, what: str = "Caveat") -> dict:
    """as_json's shape (one set per fold, then the pooled one), plus the mode and date. The locked fold's failures
    are left out: no one should look at them."""
    sets = [(fold, e) for fold, e in result.folds]
    if result.mode == "cv":
        sets.append(("pooled (cv1-cv5)", result.pooled))
    data = as_json(sets, failures=result.mode == "cv")
    data.update(mode=result.mode, date=result.date, checker=what, unassigned=result.unassigned)
    return data


def report_lines(evaluation: Evaluation) -> list[str]:
    lines = [f"{sid}: {'; '.join(problems)}" for sid, problems in evaluation.failures]
    lines.append(f"{evaluation.statements} statements, {len(evaluation.failures)} with a failure.")
    for name, label in FIGURE_NAMES.items():
        tally = evaluation.tallies[name]
        value = "n/a" if tally.rate is None else f"{tally.rate:.2f}"
        goal = GOALS.get(name)
        mark = "" if goal is None else ("  (goal " + f"{goal[0]} {goal[1]:.2f}: " + ("met" if evaluation.meets(name) else "NOT met") + ")")
        lines.append(f"{label:>24}: {value}  [{tally.hits}/{tally.total}]{mark}")
    if evaluation.calibration:
        c = evaluation.calibration
        lines.append(f"{'calibration':>24}: ECE ({CALIBRATION_BINS} bins) {c['ece']:.2f}, Brier score {c['brier']:.2f} "
                     f"over {c['findings']} findings")
    return lines + flag_assertion_lines(evaluation) + match_tier_lines(evaluation) + stage_lines(evaluation)


def folded_report_lines(result: FoldedEvaluation, what: str = "Caveat", source: str = "statements/*.yaml") -> list[str]:
    """The dated header, (for cv) each failure, then one row per figure: per fold, pooled, [hits/total] and goal."""
    measured = sum(e.statements for _f, e in result.folds)
    if result.mode == "locked":
        header = (f"== {what} on the LOCKED TEST FOLD, {result.date}: {measured} statements of {source}, checker fitted "
                  "on cv1-cv5. Run rarely; no decision is made on these figures.")
    else:
        header = (f"== {what}, 5-fold cross-validation, {result.date}: {measured} statements of {source} in cv1-cv5, "
                  "each fold scored by a checker fitted on the other four.")
    lines = [header]
    if result.unassigned:
        lines.append(f"({result.unassigned} labelled statements have no fold and are not measured: run `kb folds --assign`.)")
    if result.mode == "cv":
        lines += [f"{fold} {sid}: {'; '.join(problems)}" for fold, e in result.folds for sid, problems in e.failures]
    columns = [(fold, e) for fold, e in result.folds] + ([("pooled", result.pooled)] if result.mode == "cv" else [])
    total = columns[-1][1]
    lines.append(f"{'':>24}  " + " ".join(f"{name:>6}" for name, _ in columns))
    lines.append(f"{'statements':>24}: " + " ".join(f"{e.statements:>6}" for _, e in columns))
    for name, label in FIGURE_NAMES.items():
        values = " ".join(f"{_show(e.tallies[name].rate):>6}" for _, e in columns)
        tally, goal = total.tallies[name], GOALS.get(name)
        mark = "" if goal is None else f"  (goal {goal[0]} {goal[1]:.2f}: {'met' if total.meets(name) else 'NOT met'})"
        lines.append(f"{label:>24}: {values}  [{tally.hits}/{tally.total}]{mark}")
    if any(e.calibration for _, e in columns):
        for key, label in (("ece", f"calibration ECE ({CALIBRATION_BINS} bins)"), ("brier", "Brier score")):
            values = " ".join(f"{_show(e.calibration[key] if e.calibration else None):>6}" for _, e in columns)
            lines.append(f"{label:>24}: {values}  [{total.calibration['findings'] if total.calibration else 0} findings]")
    lines += flag_assertion_lines(total) + match_tier_lines(total)
    lines += ["", "Stage by stage" + (", pooled over the held-out folds:" if result.mode == "cv" else ":")]
    lines += stage_lines(total)
    return lines


def _show(value) -> str:
    return "n/a" if value is None else f"{value:.2f}"
def summary_line(evaluations: list[tuple[str, Evaluation]]) -> str:
    """One line over all the files: the statements, how many the checker got wrong, and the five figures pooled
    (each file's own figures: `kb eval` without --summary)."""
    pooled = Evaluation()
    for _path, evaluation in evaluations:
        pooled.statements += evaluation.statements
        pooled.failures += evaluation.failures
        for name, tally in evaluation.tallies.items():
            pooled.tallies[name].add(tally.hits, tally.total)
    figures = [f"{FIGURE_NAMES[name]} {'n/a' if pooled.figures[name] is None else f'{pooled.figures[name]:.2f}'}"
               for name in GOALS]
    return (f"Checker on {pooled.statements} labelled statements in {len(evaluations)} file(s), pooled: "
            f"{len(pooled.failures)} not as labelled; " + ", ".join(figures) + ".")
