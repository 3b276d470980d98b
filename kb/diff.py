"""What changed between two built databases: claims added, removed and changed, and the verdicts that moved.

`kb diff OLD.db NEW.db` is how a correction reaches the people who relied on the old judgement: it reads only the two
databases (their `claims`, `claim_context`, `contrasts`, `claim_conditions`, `checks` and `findings`), so it works on
any two builds, from any two checkouts.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path

# Columns derived from others (or provenance): a change shows up in the fields they are made from.
DERIVED = {"label", "value_display", "file", "line", "faithful_wording"}


class DiffError(Exception):
    """A database cannot be compared (missing, unreadable, not a Caveat database)."""


@dataclass
class FieldChange:
    field: str
    old: object
    new: object


@dataclass
class ClaimChange:
    claim: str
    changes: list[FieldChange]


@dataclass
class VerdictChange:
    statement: str
    old: str | None
    new: str | None
    claims: list[str]  # the changed claims the statement's findings name, else every claim they name


@dataclass
class Diff:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[ClaimChange] = field(default_factory=list)
    verdicts: list[VerdictChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what could not be compared, and why

    @property
    def differs(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.verdicts)

    def to_json(self) -> dict:
        return {"differs": self.differs, "claims": {"added": self.added, "removed": self.removed,
                                                    "changed": [asdict(c) for c in self.changed]},
                "verdicts": [asdict(v) for v in self.verdicts], "notes": self.notes}


def open_database(path: Path | str) -> sqlite3.Connection:
    """A read-only connection to a built Caveat database, or DiffError saying why it is not one."""
    path = Path(path)
    if not path.is_file():
        raise DiffError(f"{path}: no such file (build one with `kb build --out {path}`)")
    try:
        conn = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)
        tables = {row[0] for row in conn.execute("select name from sqlite_master where type in ('table', 'view')")}
    except sqlite3.Error as exc:
        raise DiffError(f"{path}: not an SQLite database ({exc})") from None
    missing = {"claims", "kb_meta"} - tables
    if missing:
        conn.close()
        raise DiffError(f"{path}: not a Caveat database (it has no {', '.join(sorted(missing))} table); "
                        "give two files written by `kb build`")
    return conn


def diff_databases(old_path: Path | str, new_path: Path | str) -> Diff:
    old, new = open_database(old_path), open_database(new_path)
    try:
        result = Diff()
        before, after = _claims(old), _claims(new)
        result.added = sorted(set(after) - set(before))
        result.removed = sorted(set(before) - set(after))
        for claim_id in sorted(set(before) & set(after)):
            changes = [FieldChange(name, before[claim_id].get(name), after[claim_id].get(name))
                       for name in sorted(set(before[claim_id]) | set(after[claim_id]))
                       if before[claim_id].get(name) != after[claim_id].get(name)]
            if changes:
                result.changed.append(ClaimChange(claim_id, changes))
        touched = set(result.added) | set(result.removed) | {c.claim for c in result.changed}
        result.verdicts = _verdict_changes(old, new, touched, result.notes)
        return result
    finally:
        old.close()
        new.close()


def _tables(conn) -> set[str]:
    return {row[0] for row in conn.execute("select name from sqlite_master where type in ('table', 'view')")}


def _claims(conn) -> dict[str, dict]:
    """claim id -> {field: value}: its columns, key_context, contrasts and the conditions it was measured under."""
    cursor = conn.execute("select * from claims")
    names = [d[0] for d in cursor.description]
    claims = {}
    for values in cursor:
        row = dict(zip(names, values))
        claims[row["id"]] = {n: v for n, v in row.items() if n not in DERIVED and n != "id"}
    tables = _tables(conn)
    for claim_id, lists in _grouped(conn, tables).items():
        if claim_id in claims:
            claims[claim_id].update(lists)
    return claims


def _grouped(conn, tables: set[str]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    if "claim_context" in tables:
        for claim_id, key in conn.execute("select claim_id, key from claim_context order by claim_id, key"):
            out.setdefault(claim_id, {}).setdefault("key_context", []).append(key)
    if "contrasts" in tables:
        for claim_id, other, by in conn.execute("select claim_id, other_claim_id, differs_by from contrasts "
                                                "order by claim_id, other_claim_id"):
            out.setdefault(claim_id, {}).setdefault("contrasts", []).append(f"{other} ({by})")
    if "claim_conditions" in tables:
        for claim_id, key, value in conn.execute("select claim_id, key, value from claim_conditions"):
            out.setdefault(claim_id, {})[f"conditions.{key}"] = value
    for lists in out.values():
        for name in ("key_context", "contrasts"):
            if name in lists:
                lists[name] = ", ".join(lists[name])
    return out


def _verdict_changes(old, new, touched: set[str], notes: list[str]) -> list[VerdictChange]:
    missing = [name for name, conn in (("OLD", old), ("NEW", new)) if "checks" not in _tables(conn)]
    if missing:
        notes.append(f"verdicts not compared: {' and '.join(missing)} has no checks table (built with --no-check)")
        return []
    before, after = _verdicts(old), _verdicts(new)
    found_old, found_new = _finding_claims(old), _finding_claims(new)
    changes = []
    for statement in sorted(set(before) | set(after)):
        if before.get(statement) == after.get(statement):
            continue
        named = found_old.get(statement, []) + [c for c in found_new.get(statement, []) if c not in found_old.get(statement, [])]
        claims = [c for c in named if c in touched] or named
        changes.append(VerdictChange(statement, before.get(statement), after.get(statement), claims))
    return changes


def _verdicts(conn) -> dict[str, str]:
    return dict(conn.execute("select statement_id, verdict from checks"))


def _finding_claims(conn) -> dict[str, list[str]]:
    """statement -> the claims its findings name: the claim each reports, then any claim a problem names ('7 out of
    100 is OpenAI o3's result': a change to o3's figure moves that verdict)."""
    out: dict[str, list[str]] = {}
    if "findings" not in _tables(conn):
        return out
    for statement, claim, problems in conn.execute("select statement_id, claim_id, problems from findings "
                                                   "order by statement_id, position"):
        for named in [claim, *_problem_claims(problems)]:
            if named and named not in out.setdefault(statement, []):
                out[statement].append(named)
    return out


def _problem_claims(problems: str | None) -> list[str]:
    try:
        parsed = json.loads(problems or "[]")
    except ValueError:
        return []
    return [p["claim"] for p in parsed if isinstance(p, dict) and isinstance(p.get("claim"), str)]


def render(diff: Diff) -> str:
    """The diff for people: claims added, removed and changed (field: old -> new), then the verdicts that moved."""
    if not diff.differs:
        return "\n".join(["No differences: the same claims and the same verdicts.", *diff.notes])
    lines = []
    if diff.added:
        lines.append(f"claims added ({len(diff.added)}): {', '.join(diff.added)}")
    if diff.removed:
        lines.append(f"claims removed ({len(diff.removed)}): {', '.join(diff.removed)}")
    if diff.changed:
        lines.append(f"claims changed ({len(diff.changed)}):")
        for change in diff.changed:
            lines.append(f"  {change.claim}")
            lines += [f"    {c.field}: {_show(c.old)} -> {_show(c.new)}" for c in change.changes]
    if diff.verdicts:
        lines.append(f"verdicts changed ({len(diff.verdicts)}):")
        lines += [f"  {v.statement}: {v.old or '(not checked)'} -> {v.new or '(not checked)'}"
                  f"{' (claims: ' + ', '.join(v.claims) + ')' if v.claims else ''}" for v in diff.verdicts]
    return "\n".join(lines + diff.notes)


def _show(value) -> str:
    return "(none)" if value is None else json.dumps(value, ensure_ascii=False) if isinstance(value, str) else str(value)
