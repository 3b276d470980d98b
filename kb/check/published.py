"""The figures shown to users, read from committed files: every one measured on real statements the checker was not
fitted on.

    evaluation/cv.json            kb eval --cv --save evaluation/cv.json   (five-fold cross-validation)
    evaluation/locked-runs.jsonl  one line per kb eval --locked run        (date, commit, figures; appended)
    evaluation/agreement.json     kb eval --agreement --save evaluation/agreement.json   (the human ceiling)

`make run`, README, the site's checker page and the check page all read them here, so no figure on invented or
training statements can reach a user. `kb build` loads them into the `accuracy` table (accuracy_stage), which the
check page reads: the server needs only the database.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

EVALUATION_DIR = "evaluation"
CV_FILE = "cv.json"
LOCKED_LOG = "locked-runs.jsonl"
AGREEMENT_FILE = "agreement.json"
SHOWN = (("flag_accuracy", "flag accuracy"), ("claim_recall", "claim recall"),
         ("missing_context_recall", "missing-context recall"), ("false_alarm_rate", "false alarms"),
         ("misstated_recall", "misstated recall"))


def _commit(root: Path) -> str:
    try:
        out = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty"], capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def log_locked_run(root: Path, result) -> dict:
    """Append one line for this locked-fold run to evaluation/locked-runs.jsonl and return it."""
    pooled = result.pooled
    entry = {"date": result.date, "commit": _commit(root), "statements": pooled.statements,
             "figures": {k: (round(v, 4) if v is not None else None) for k, v in pooled.figures.items()}}
    if pooled.calibration:
        entry["calibration"] = {k: round(v, 4) for k, v in pooled.calibration.items()}
    path = Path(root) / EVALUATION_DIR / LOCKED_LOG
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as log:
        log.write(json.dumps(entry, sort_keys=True) + "\n")
    return entry


def published(root: Path) -> dict:
    """The committed figures of the knowledge base at root (see published_in)."""
    return published_in(Path(root) / EVALUATION_DIR)


def published_in(folder: Path) -> dict:
    """{"cv": {date, statements, figures, calibration} | None, "locked": latest log entry | None, "locked_runs": n,
    "agreement": {statements, figures, kappa} | None} from the files in folder (evaluation/)."""
    folder = Path(folder)
    out = {"cv": None, "locked": None, "locked_runs": 0, "agreement": None}
    cv = _json(folder / CV_FILE)
    if cv:
        pooled = next((s for s in cv.get("sets", []) if str(s.get("labels", "")).startswith("pooled")), None)
        if pooled:
            out["cv"] = {"date": cv.get("date"), "statements": pooled.get("statements"),
                         "figures": pooled.get("figures", {}), "calibration": pooled.get("calibration"),
                         **flags_to_verify(pooled)}
    log = folder / LOCKED_LOG
    if log.is_file():
        entries = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
        out["locked_runs"] = len(entries)
        out["locked"] = entries[-1] if entries else None
    out["agreement"] = _json(folder / AGREEMENT_FILE)
    return out


def flags_to_verify(pooled: dict) -> dict:
    """{"assert_from", "tentative_flag_precision"} of the pooled cross-validated set: the confidence from which a flag
    is stated as a verdict (None: none is) and how often the flags below it are right. A file saved before kb eval
    measured the threshold has none: every flag is then one to verify, right as often as flags are overall."""
    measured = pooled.get("flag_assertion")
    if measured:
        return {"assert_from": measured.get("assert_from"),
                "tentative_flag_precision": measured.get("tentative_precision")}
    return {"assert_from": None, "tentative_flag_precision": (pooled.get("stages") or {}).get("flag_precision")}


def assertion_text(assert_from: float | None, tentative_precision: float | None) -> str:
    """One sentence for readers: from which confidence a flag is stated as a verdict, or that every flag is shown as
    one to verify."""
    from kb.check.evaluate import ASSERT_PRECISION

    right = f" (right {in_ten(tentative_precision)})" if tentative_precision is not None else ""
    if assert_from is None and tentative_precision is None:
        return "Every flag is shown as one to verify: how often flags are right was not measured."
    if assert_from is None:
        return (f"No confidence of the checker makes its flags right {_tenths(ASSERT_PRECISION)} times, so every "
                f"flag is shown as one to verify{right}.")
    return (f"Flags are stated as verdicts from a confidence of {_percent(assert_from)}; those below it are shown as "
            f"ones to verify{right}.")


def in_ten(share: float) -> str:
    """0.6 -> 'about 6 in 10 times': a precision as readers weigh it."""
    return f"about {_tenths(share)} times"


def _tenths(share: float) -> str:
    return f"{round(share * 10)} in 10"


@dataclass(frozen=True)
class FlagTrust:
    """How far a flag may be stated as a verdict, as the cross-validation measured it (the `accuracy` table's cv row
    in the server, evaluation/cv.json for `kb check`): a flag below assert_from, or any flag when no confidence
    reaches the precision, is shown as one to verify. Unmeasured (no cv row), every flag keeps its wording."""

    measured: bool = False
    assert_from: float | None = None
    precision: float | None = None  # of the flags shown as ones to verify

    @classmethod
    def of(cls, cv: dict | None) -> "FlagTrust":
        """From a cv row of the `accuracy` table, or published()'s "cv" (the same names)."""
        if not cv:
            return cls()
        return cls(True, cv.get("assert_from"), cv.get("tentative_flag_precision"))

    def tentative(self, result: dict) -> bool:
        """Is this `kb check` object a flag to show as one to verify, not as a verdict?"""
        from kb.check.flags import FLAGGED, flag_confidence

        if not self.measured or result.get("verdict") not in FLAGGED:
            return False
        confidence = flag_confidence(result)
        return self.assert_from is None or confidence is None or confidence < self.assert_from

    def why(self) -> str:
        """Why a tentative flag is one to verify, in one sentence."""
        from kb.check.evaluate import ASSERT_PRECISION

        if self.precision is None:
            return "How often flags like this are right has not been measured."
        fitted = "on real statements the checker was not fitted on"
        if self.assert_from is None:
            return (f"Flags are right {in_ten(self.precision)} {fitted}, and no confidence of the checker raises that "
                    f"to {_tenths(ASSERT_PRECISION)}.")
        return (f"Flags at this confidence (below {_percent(self.assert_from)}) are right {in_ten(self.precision)} "
                f"{fitted}.")


def _json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def figures_text(figures: dict) -> str:
    return ", ".join(f"{name} {figures[key]:.2f}" for key, name in SHOWN if figures.get(key) is not None)


def published_lines(root: Path) -> list[str]:
    """What `make run` prints: one line per committed measurement, or what to run when one is missing."""
    data = published(root)
    lines = []
    cv = data["cv"]
    lines.append(f"Checker, cross-validated on {cv['statements']} real statements ({cv['date']}): "
                 f"{figures_text(cv['figures'])}. {assertion_text(cv['assert_from'], cv['tentative_flag_precision'])}"
                 if cv else
                 "Checker, cross-validated: not measured yet (kb eval --cv --save evaluation/cv.json).")
    locked = data["locked"]
    lines.append(f"Checker on the locked test fold, {locked['statements']} statements never fitted on "
                 f"({locked['date']}, {locked['commit']}): {figures_text(locked['figures'])}." if locked else
                 "Checker on the locked test fold: not run yet (kb eval --locked).")
    agreement = data["agreement"]
    if agreement:
        kappa = agreement.get("kappa")
        dated = f" ({agreement['date']})" if agreement.get("date") else ""
        lines.append(f"Two human annotators, on {agreement['statements']} doubly-labelled statements{dated}: "
                     f"{figures_text(agreement['figures'])}"
                     + (f", Cohen's kappa {kappa:.2f}." if kappa is not None else "."))
    else:
        lines.append("Human agreement: not measured yet (kb eval --agreement --save evaluation/agreement.json).")
    return lines


# ---------------------------------------------------------------- in the database: the `accuracy` table

FIGURES = ("flag_accuracy", "claim_recall", "missing_context_recall", "false_alarm_rate", "misstated_recall",
           "verdict_accuracy")
ACCURACY_KINDS = {"cv": CV_FILE, "locked": LOCKED_LOG, "agreement": AGREEMENT_FILE}


def _accuracy_table():
    from kb.check.evaluate import ASSERT_MIN_FLAGS, ASSERT_PRECISION
    from kb.database import Table
    from kb.format import percent

    figure_columns = [(name, float, f"{text} (0 to 1)") for name, text in (
        ("flag_accuracy", "Flag accuracy: statements whose flag (flagged or not) is right"),
        ("claim_recall", "Claim recall: reported claims the checker found"),
        ("missing_context_recall", "Missing-context recall: dropped key context the checker named"),
        ("false_alarm_rate", "False alarms: conveyed key context reported as dropped"),
        ("misstated_recall", "Misstated recall: misstated statements called misstated"),
        ("verdict_accuracy", "Verdict accuracy: statements given the labelled verdict"))]
    return Table("accuracy", "The checker's measured accuracy on real statements it was not fitted on, as the check page "
                 "and the site show it: one row per measurement, from the committed evaluation/ files.",
                 [("kind", str, "cv (five-fold cross-validation), locked (the locked test fold's latest logged run) or "
                   "agreement (two annotators labelling blind, scored against each other: the human ceiling)."),
                  ("date", str, "When it was measured."),
                  ("commit", str, "The code it was measured on (locked runs)."),
                  ("statements", int, "How many statements it was measured on."),
                  *figure_columns,
                  ("kappa", float, "Cohen's kappa over the verdict (agreement)."),
                  ("file", str, "The evaluation/ file it comes from."),
                  # Added after `file`: columns only ever grow, at the end.
                  ("assert_from", float, "The lowest confidence from which the checker's flags (missing context or "
                   f"misstated) are right at least {percent(ASSERT_PRECISION)} of the time over at least "
                   f"{ASSERT_MIN_FLAGS} flags (cv); empty when no confidence is: then the check page shows every flag "
                   "as one to verify, not as a verdict."),
                  ("tentative_flag_precision", float, "How often the flags below assert_from (all flags when it is "
                   "empty) are right (cv): what the check page says of a flag it shows as one to verify.")],
                 ("kind",))


ACCURACY_TABLE = _accuracy_table()


def accuracy_rows(folder: Path) -> list[dict]:
    """The `accuracy` rows from the files in folder (evaluation/): one per measurement that exists."""
    data = published_in(folder)
    rows = []
    for kind, file in ACCURACY_KINDS.items():
        entry = data[kind]
        if not entry:
            continue
        figures = entry.get("figures") or {}
        rows.append({"kind": kind, "date": entry.get("date"), "commit": entry.get("commit"),
                     "statements": entry.get("statements"), **{name: figures.get(name) for name in FIGURES},
                     "kappa": entry.get("kappa"), "file": f"{EVALUATION_DIR}/{file}",
                     "assert_from": entry.get("assert_from"),
                     "tentative_flag_precision": entry.get("tentative_flag_precision")})
    return rows


def accuracy_stage(root: Path):
    """The build stage (kb.build.Stage) that loads evaluation/ into the `accuracy` table."""
    from kb.build import Stage

    folder = Path(root) / EVALUATION_DIR
    return Stage("accuracy", (ACCURACY_TABLE,), lambda _kb: {"accuracy": accuracy_rows(folder)},
                 inputs=lambda: [folder / name for name in ACCURACY_KINDS.values()])


def stored_accuracy(conn) -> dict:
    """kind -> row of the `accuracy` table ({} for a database built without it)."""
    if not conn.execute("select 1 from sqlite_master where type = 'table' and name = 'accuracy'").fetchone():
        return {}
    cursor = conn.execute("select * from accuracy")
    names = [d[0] for d in cursor.description]
    return {row["kind"]: row for row in (dict(zip(names, values)) for values in cursor)}


def accuracy_sentence(rows: dict) -> str | None:
    """One line for readers from `accuracy` rows (kind -> row), or None when nothing was measured: the cross-validated
    figures, the locked fold's latest run and the human agreement, each dated."""
    parts = []
    cv, locked, agreement = rows.get("cv"), rows.get("locked"), rows.get("agreement")
    if cv:
        parts.append(f"Measured on {cv['statements']} real statements the checker was not fitted on (cross-validated, "
                     f"{cv['date']}): "
                     + _percents(cv, ("flag_accuracy", "claim_recall", "missing_context_recall", "false_alarm_rate")))
    if locked:
        parts.append(f"Locked test fold, latest run ({locked['date']}, {locked['statements']} statements): "
                     + _percents(locked, ("flag_accuracy",)))
    if agreement and agreement.get("flag_accuracy") is not None:
        parts.append(f"Two people labelling blind agree on {_percent(agreement['flag_accuracy'])} of flags "
                     f"({agreement.get('date') or 'undated'}, {agreement['statements']} statements)")
    return ". ".join(parts) + "." if parts else None


def _percents(row: dict, names) -> str:
    return ", ".join(f"{text} {_percent(row[key])}" for key, text in SHOWN if key in names and row.get(key) is not None)


def _percent(value: float) -> str:
    from kb.format import percent

    return percent(value)
