"""`kb eval`: run the checker on labelled statements and measure it (the labelling guide's rules, statements/LABELLING.md; five figures).

Labels use the format of tests/data/statements-heldout.yaml: each statement has `reports` (model and/or
behaviour), `verdict` or `verdict_any`, `missing` and `present` context keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kb.check.store import accepted_verdicts

FLAGGED = {"missing_context", "misstated"}
GOALS = {"flag_accuracy": (">=", 0.90), "claim_recall": (">=", 0.90), "missing_context_recall": (">=", 0.85),
         "false_alarm_rate": ("<=", 0.10), "misstated_recall": (">=", 0.75)}
FIGURE_NAMES = {"flag_accuracy": "flag accuracy", "claim_recall": "claim recall",
                "missing_context_recall": "missing-context recall", "false_alarm_rate": "false-alarm rate",
                "misstated_recall": "misstated recall", "verdict_accuracy": "verdict accuracy"}


class LabelsError(Exception):
    pass


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


@dataclass
class Evaluation:
    tallies: dict = field(default_factory=lambda: {name: Tally() for name in FIGURE_NAMES})
    failures: list = field(default_factory=list)  # (statement id, [what went wrong])
    statements: int = 0

    @property
    def figures(self) -> dict:
        return {name: tally.rate for name, tally in self.tallies.items()}

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
    return {"id": item["id"], "text": item["text"], **item["label"]}


def gold_verdicts(label: dict) -> set:
    return accepted_verdicts(label.get("verdict"), label.get("verdict_any"))


def score_statement(evaluation: Evaluation, label: dict, result: dict):
    tallies, problems = evaluation.tallies, []
    matched = [f for f in result.get("findings", []) if f.get("tier", "match") == "match"]
    gold = gold_verdicts(label)
    predicted = result.get("verdict")
    flag_ok = (predicted in FLAGGED) == all(v in FLAGGED for v in gold)
    tallies["flag_accuracy"].add(flag_ok, 1)
    tallies["verdict_accuracy"].add(predicted in gold, 1)
    if predicted not in gold:
        problems.append(f"verdict {predicted}, expected {' or '.join(sorted(gold))}")
    for report in label.get("reports") or []:
        found = any(all(f.get(k) == report[k] for k in ("model", "behaviour") if report.get(k)) for f in matched)
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
    if problems:
        evaluation.failures.append((str(label["id"]), problems))


def evaluate(checker, labels: list[dict]) -> Evaluation:
    evaluation = Evaluation(statements=len(labels))
    results = checker.check_many((str(s["id"]), s["text"]) for s in labels)
    for label, result in zip(labels, results):
        score_statement(evaluation, label, result)
    return evaluation


def as_json(evaluations: list[tuple[str, Evaluation]]) -> dict:
    """{"goals": ..., "sets": [{"labels", "statements", "figures", "failures"}, ...]}: what `kb eval --save` writes."""
    return {"goals": {name: f"{op} {goal}" for name, (op, goal) in GOALS.items()},
            "sets": [{"labels": path, "statements": e.statements, "figures": e.figures,
                      "failures": [{"id": sid, "problems": problems} for sid, problems in e.failures]}
                     for path, e in evaluations]}


def report_lines(evaluation: Evaluation) -> list[str]:
    lines = [f"{sid}: {'; '.join(problems)}" for sid, problems in evaluation.failures]
    lines.append(f"{evaluation.statements} statements, {len(evaluation.failures)} with a failure.")
    for name, label in FIGURE_NAMES.items():
        tally = evaluation.tallies[name]
        value = "n/a" if tally.rate is None else f"{tally.rate:.2f}"
        goal = GOALS.get(name)
        mark = "" if goal is None else ("  (goal " + f"{goal[0]} {goal[1]:.2f}: " + ("met" if evaluation.meets(name) else "NOT met") + ")")
        lines.append(f"{label:>24}: {value}  [{tally.hits}/{tally.total}]{mark}")
    return lines


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
