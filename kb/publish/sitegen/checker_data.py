"""What the checker has said, read for the site: machine verdicts from the database, accuracy from `kb eval`.

The `checks` and `findings` tables are written by the checker's build step (kb.check.store) and read back with
its `stored_results`, as the server reads them; a database without them means "no machine verdicts yet", so the
site builds at every stage.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from kb.check.store import accepted_verdicts, stored_results


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


def machine_verdicts(db_path: Path) -> dict[str, MachineVerdict]:
    """statement id -> MachineVerdict; {} when the database or its checker tables are absent."""
    if not db_path or not Path(db_path).is_file():
        return {}
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as conn:
        results = stored_results(conn)
    return {sid: _machine_verdict(result) for sid, result in sorted(results.items()) if result["verdict"] is not None}


def _machine_verdict(result: dict) -> MachineVerdict:
    found = MachineVerdict(result["verdict"])
    for finding in result["findings"]:
        # Only the claims the statement reports, as the server, ClaimReview and `kb check` count them: a "suggest"
        # finding is a claim the statement is possibly about, not one it drops context from.
        if finding["tier"] == "match":
            _add_finding(found, finding)
    return found


def _add_finding(found: MachineVerdict, finding: dict):
    claim, keys = finding["claim"], finding["missing_context"]
    if claim is not None:
        found.claims += [] if claim in found.claims else [claim]
        bucket = found.missing_by_claim.setdefault(claim, [])
        bucket += [k for k in keys if k not in bucket]
    found.flagged_keys += [k for k in dict.fromkeys(keys) if k not in found.flagged_keys]
    kinds = [problem["kind"] for problem in finding["problems"]]
    found.kinds += [k for k in dict.fromkeys(kinds) if k not in found.kinds]
    if finding["explanation"]:
        found.explanations.append(finding["explanation"])


def agrees(statement, machine: MachineVerdict | None) -> bool | None:
    """Does the checker's verdict match the human label? None when either is missing."""
    label = statement.label
    if machine is None or label is None:
        return None
    accepted = accepted_verdicts(label.verdict, label.verdict_any)
    return machine.verdict in accepted if accepted else None
