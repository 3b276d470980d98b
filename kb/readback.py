"""Read a built database back into a KnowledgeBase: the inverse of kb.database.

A served database is self-contained: the server, the checker behind /-/check and the claim graph are all made
from what this reads, not from the YAML. A test checks that the records read back equal the ones the build wrote.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from kb import schema
from kb.records import (Behaviour, Change, Claim, Condition, ContextKey, Contrast, KnowledgeBase, Label, Lexicon,
                        Model, Report, Setting, Source, Statement, Verdict)


def _rows(conn: sqlite3.Connection, table: str) -> list[dict]:
    cursor = conn.execute(f"select * from [{table}] order by rowid")  # rowid order is the build's file order
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor]


def _record(cls, rtype: schema.RecordType, row: dict, **values):
    """A record from a row: schema fields by column name, JSON lists decoded, `values` overriding."""
    fields = {}
    for f in rtype.fields:
        value = values[f.name] if f.name in values else row.get(f.name)
        if f.kind in ("texts", "refs", "enums") and isinstance(value, str):
            value = json.loads(value)
        fields[f.name] = value
    return cls(**fields, file=row.get("file") or "", line=row.get("line") or 0, lines=values.get("lines", {}))


def _grouped(rows: list[dict], key: str) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row[key], []).append(row)
    return groups


def read_knowledge_base(conn: sqlite3.Connection) -> KnowledgeBase:
    """The knowledge base a database was built from, read back from its tables (the inverse of kb.database)."""
    kb = KnowledgeBase(root=Path("."))
    kb.models = {r["id"]: _record(Model, schema.MODEL, r) for r in _rows(conn, "models")}
    kb.behaviours = {r["id"]: _record(Behaviour, schema.BEHAVIOUR, r) for r in _rows(conn, "behaviours")}
    kb.context = {r["id"]: _record(ContextKey, schema.CONTEXT_KEY, r) for r in _rows(conn, "context_keys")}
    kb.verdicts = {r["id"]: _record(Verdict, schema.VERDICT, r) for r in _rows(conn, "verdicts")}
    kb.sources = {r["id"]: _record(Source, schema.SOURCE, r) for r in _rows(conn, "sources")}
    _read_settings(conn, kb)
    _read_claims(conn, kb)
    _read_statements(conn, kb)
    kb.lexicon = _read_lexicon(conn)
    kb.changes = _read_changes(conn)
    return kb


def _read_changes(conn) -> list:
    """The corrections, or [] for a database built before it had a `changes` table."""
    if not conn.execute("select 1 from sqlite_master where type = 'table' and name = 'changes'").fetchone():
        return []
    return [_record(Change, schema.CHANGE, r, claim=r["claim_id"], source=r["source_id"]) for r in _rows(conn, "changes")]


def _read_settings(conn, kb):
    conditions = _grouped(_rows(conn, "conditions"), "setting_id")
    for row in _rows(conn, "settings"):
        own = {c["key"]: _record(Condition, schema.CONDITION, c) for c in conditions.get(row["id"], [])}
        kb.settings[row["id"]] = _record(Setting, schema.SETTING, row, conditions=own)
        kb.setting_sources[row["id"]] = row["source_id"]


def _read_claims(conn, kb):
    context = _grouped(_rows(conn, "claim_context"), "claim_id")
    contrasts = _grouped(_rows(conn, "contrasts"), "claim_id")
    for row in _rows(conn, "claims"):
        links = [Contrast(claim=c["other_claim_id"], differs_by=c["differs_by"], note=c["note"])
                 for c in contrasts.get(row["id"], [])]
        kb.claims[row["id"]] = _record(Claim, schema.CLAIM, row, setting=row["setting_id"], contrasts=links,
                                       key_context=[c["key"] for c in context.get(row["id"], [])])
        kb.claim_sources[row["id"]] = row["source_id"]


def _read_statements(conn, kb):
    reported = _grouped(_rows(conn, "statement_claims"), "statement_id")
    for row in _rows(conn, "statements"):
        claims = reported.get(row["id"], [])
        lines = {"claims": claims[0]["line"]} if claims else {}
        kb.statements[row["id"]] = _record(Statement, schema.STATEMENT, row, source=row["source_id"], lines=lines,
                                           claims=[c["claim_id"] for c in claims], label=_label(row))


def _read_lexicon(conn):
    """The checker's lexicon, or None for a database built before it had a `lexicon` table."""
    if not conn.execute("select 1 from sqlite_master where type = 'table' and name = 'lexicon'").fetchone():
        return None
    rows = {r["name"]: r for r in _rows(conn, "lexicon")}
    if not rows:
        return None
    values = {name: json.loads(row["value"]) for name, row in rows.items()}
    lines = {name: row["line"] for name, row in rows.items()}
    first = next(iter(rows.values()))
    return _record(Lexicon, schema.LEXICON, {"file": first["file"], "line": min(lines.values())}, lines=lines,
                   **values)


def _label(row: dict):
    """The statement's human label from its label_* columns (None when it has none)."""
    label = {name: row.get(f"label_{name}") for name in ("verdict", "verdict_any", "missing", "present", "reports")}
    if all(value is None for value in label.values()):
        return None
    reports = [Report(model=r.get("model"), behaviour=r.get("behaviour")) for r in json.loads(label["reports"] or "[]")]
    return _record(Label, schema.LABEL, label, reports=reports or None)
