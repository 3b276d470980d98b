"""The figures shown to users, read from committed files: every one measured on real statements the checker was not
fitted on.

    evaluation/cv.json            kb eval --cv --save evaluation/cv.json   (five-fold cross-validation)
    evaluation/locked-runs.jsonl  one line per kb eval --locked run        (date, commit, figures; appended)
    evaluation/agreement.json     kb eval --agreement --save evaluation/agreement.json   (the human ceiling)

`make run`, README, the site's checker page and the check page all read them here, so no figure on invented or
training statements can reach a user.
"""

from __future__ import annotations

import json
import subprocess
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
                         "figures": pooled.get("figures", {}), "calibration": pooled.get("calibration")}
    log = folder / LOCKED_LOG
    if log.is_file():
        entries = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
        out["locked_runs"] = len(entries)
        out["locked"] = entries[-1] if entries else None
    out["agreement"] = _json(folder / AGREEMENT_FILE)
    return out


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
                 f"{figures_text(cv['figures'])}." if cv else
                 "Checker, cross-validated: not measured yet (kb eval --cv --save evaluation/cv.json).")
    locked = data["locked"]
    lines.append(f"Checker on the locked test fold, {locked['statements']} statements never fitted on "
                 f"({locked['date']}, {locked['commit']}): {figures_text(locked['figures'])}." if locked else
                 "Checker on the locked test fold: not run yet (kb eval --locked).")
    agreement = data["agreement"]
    if agreement:
        kappa = agreement.get("kappa")
        lines.append(f"Two human annotators, on {agreement['statements']} doubly-labelled statements: "
                     f"{figures_text(agreement['figures'])}"
                     + (f", Cohen's kappa {kappa:.2f}." if kappa is not None else "."))
    else:
        lines.append("Human agreement: not measured yet (kb eval --agreement --save evaluation/agreement.json).")
    return lines
