"""What the checker has said, read for the site: machine verdicts from the database, accuracy from `kb eval`.

The `checks` and `findings` tables are written by the checker's build step; the site reads them
defensively (absent tables or columns mean "no machine verdicts yet") so the site builds at every stage.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

STATEMENT_COLUMNS = ("statement_id", "statement")
VERDICT_COLUMNS = ("verdict", "machine_verdict")
CLAIM_COLUMNS = ("claim_id", "claim")
KEY_COLUMNS = ("missing_context", "key", "context_key", "missing")
PROBLEM_COLUMNS = ("problems", "kind", "detector")
EXPLANATION_COLUMNS = ("explanation",)


@dataclass
class MachineVerdict:
    """The checker's verdict on one statement: the claims it matched, the context keys it flagged as dropped
    (overall and per claim), the kinds of problem it found, and its explanations in words."""

    verdict: str
    claims: list = field(default_factory=list)
    flagged_keys: list = field(default_factory=list)
    kinds: list = field(default_factory=list)
    explanations: list = field(default_factory=list)
    missing_by_claim: dict = field(default_factory=dict)


def _columns(conn, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"pragma table_info([{table}])")]


def _pick(columns: list[str], options) -> str | None:
    return next((name for name in options if name in columns), None)


def _values(cell) -> list[str]:
    """A cell as a list of strings: JSON lists (of ids, or of {"kind": ...} problems) or a single value."""
    if cell is None:
        return []
    if isinstance(cell, str) and cell.startswith("["):
        try:
            items = json.loads(cell)
        except ValueError:
            return [cell]
        return [str(i.get("kind", "")) if isinstance(i, dict) else str(i) for i in items if i]
    return [str(cell)]


def machine_verdicts(db_path: Path) -> dict[str, MachineVerdict]:
    """statement id -> MachineVerdict; {} when the database or its `checks` table is absent."""
    if not db_path or not Path(db_path).is_file():
        return {}
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        verdicts = _read_checks(conn)
        if verdicts:
            _read_findings(conn, verdicts)
    return verdicts


def _read_checks(conn) -> dict[str, MachineVerdict]:
    columns = _columns(conn, "checks")
    statement, verdict = _pick(columns, STATEMENT_COLUMNS), _pick(columns, VERDICT_COLUMNS)
    if not statement or not verdict:
        return {}
    rows = conn.execute(f"select [{statement}], [{verdict}] from checks order by 1").fetchall()
    return {str(sid): MachineVerdict(str(v)) for sid, v in rows if sid is not None and v is not None}


def _read_findings(conn, verdicts: dict):
    columns = _columns(conn, "findings")
    statement = _pick(columns, STATEMENT_COLUMNS)
    if not statement:
        return
    wanted = [_pick(columns, names) for names in (CLAIM_COLUMNS, KEY_COLUMNS, PROBLEM_COLUMNS, EXPLANATION_COLUMNS)]
    select = ", ".join(f"[{c}]" if c else "null" for c in wanted)
    order = "position" if "position" in columns else "rowid"
    for sid, claim, keys, problems, explanation in conn.execute(f"select [{statement}], {select} from findings order by 1, {order}"):
        found = verdicts.get(str(sid))
        if found is not None:
            _add_finding(found, claim, _values(keys), _values(problems), explanation)


def _add_finding(found: MachineVerdict, claim, keys: list, kinds: list, explanation):
    if claim is not None:
        found.claims += [] if str(claim) in found.claims else [str(claim)]
        bucket = found.missing_by_claim.setdefault(str(claim), [])
        bucket += [k for k in keys if k not in bucket]
    found.flagged_keys += [k for k in dict.fromkeys(keys) if k not in found.flagged_keys]
    found.kinds += [k for k in dict.fromkeys(kinds) if k not in found.kinds]
    if explanation:
        found.explanations.append(str(explanation))


def agrees(statement, machine: MachineVerdict | None) -> bool | None:
    """Does the checker's verdict match the human label? None when either is missing."""
    label = statement.label
    if machine is None or label is None:
        return None
    accepted = set(label.verdict_any or []) | ({label.verdict} if label.verdict else set())
    return machine.verdict in accepted if accepted else None


def eval_figures(path: Path) -> dict | None:
    """The saved output of `kb eval ... --save build/eval.json` as {"goals", "sets": [...]}, or None when it has not
    been run. A single set's older flat form ({"figures", "labels", ...}) is read as one set."""
    if not Path(path).is_file():
        return None
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("figures"), dict):
        data = {"goals": data.get("goals") or {}, "sets": [data]}
    sets = [s for s in data.get("sets") or [] if isinstance(s, dict) and isinstance(s.get("figures"), dict)]
    return {"goals": data.get("goals") if isinstance(data.get("goals"), dict) else {}, "sets": sets} if sets else None
