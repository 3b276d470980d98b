"""Write the knowledge base (and the checker's verdicts) to SQLite with sqlite-utils.

The tables are a public interface for Datasette users and later features. Their columns,
types, keys and descriptions are declared once in TABLES, mostly derived from `kb.schema`;
`write_database` fills them and the Datasette configuration reads their descriptions.
Builds are deterministic: the same inputs give a byte-identical file.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from kb import schema
from kb.format import claim_label, format_value
from kb.wording import faithful_sentence

PROVENANCE = [("file", str, "The data file the row comes from, relative to the repository root."),
              ("line", int, "The line in that file where the record starts.")]


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: list  # (name, python type, description)
    pk: tuple
    foreign_keys: list = field(default_factory=list)  # (column, other table, other column)
    label_column: str | None = None
    fts: tuple = ()


def _cols(rtype: schema.RecordType, rename: dict | None = None, skip=(), extra=()) -> list:
    """Columns for a record type: scalar fields keep their schema type; lists are stored as JSON text."""
    rename = rename or {}
    out = []
    for f in rtype.fields:
        if f.name in skip:
            continue
        out.append((rename.get(f.name, f.name), f.sql_type, f.description))
    return out + list(extra) + PROVENANCE


TABLES = [
    Table("models", schema.MODEL.description, _cols(schema.MODEL), ("id",), label_column="name"),
    Table("behaviours", schema.BEHAVIOUR.description, _cols(schema.BEHAVIOUR), ("id",), label_column="label"),
    Table("context_keys", schema.CONTEXT_KEY.description, _cols(schema.CONTEXT_KEY), ("id",), label_column="label"),
    Table("verdicts", schema.VERDICT.description, _cols(schema.VERDICT), ("id",), label_column="label"),
    Table("sources", schema.SOURCE.description, _cols(schema.SOURCE), ("id",), label_column="title"),
    Table("settings", schema.SETTING.description,
          _cols(schema.SETTING, skip=("conditions",),
                extra=[("source_id", str, "The source whose claims file declares the setting.")]),
          ("id",), [("source_id", "sources", "id")], label_column="label"),
    Table("conditions", schema.CONDITION.description,
          [("setting_id", str, "The setting this condition belongs to.")] + _cols(schema.CONDITION),
          ("setting_id", "key"), [("setting_id", "settings", "id"), ("key", "context_keys", "id")], label_column="value"),
    Table("claims", schema.CLAIM.description,
          [("id", str, schema.CLAIM.field("id").description),
           ("label", str, "A readable one-line summary: model · behaviour · value · setting."),
           ("source_id", str, "The source the claim comes from.")]
          + _cols(schema.CLAIM, rename={"setting": "setting_id"}, skip=("id", "key_context", "contrasts"),
                  extra=[("value_display", str, "The value as shown to readers (5%, 65 points)."),
                         ("faithful_wording", str, "The claim in one faithful sentence of at most 280 characters, "
                          "keeping its key context and main contrast: the wording the check page suggests.")]),
          ("id",), [("source_id", "sources", "id"), ("model", "models", "id"), ("behaviour", "behaviours", "id"),
                    ("setting_id", "settings", "id")],
          label_column="label", fts=("label", "measure", "value_text", "locator", "quote", "notes")),
    Table("claim_context", "The key context of each claim: conditions a faithful report must convey.",
          [("claim_id", str, "The claim."), ("key", str, "A context key the claim's reports must convey.")] + PROVENANCE,
          ("claim_id", "key"), [("claim_id", "claims", "id"), ("key", "context_keys", "id")]),
    Table("contrasts", schema.CONTRAST.description + " Stored in both directions.",
          [("claim_id", str, "The claim."), ("other_claim_id", str, "The contrasting claim."),
           ("differs_by", str, schema.CONTRAST.field("differs_by").description),
           ("note", str, schema.CONTRAST.field("note").description)] + PROVENANCE,
          ("claim_id", "other_claim_id"), [("claim_id", "claims", "id"), ("other_claim_id", "claims", "id")]),
    Table("statements", schema.STATEMENT.description,
          _cols(schema.STATEMENT, rename={"source": "source_id"}, skip=("claims", "label"),
                extra=[("label_verdict", str, schema.LABEL.field("verdict").description),
                       ("label_verdict_any", str, schema.LABEL.field("verdict_any").description + " (JSON list)"),
                       ("label_missing", str, schema.LABEL.field("missing").description + " (JSON list)"),
                       ("label_present", str, schema.LABEL.field("present").description + " (JSON list)"),
                       ("label_reports", str, schema.LABEL.field("reports").description + " (JSON list)")]),
          ("id",), [("source_id", "sources", "id")], label_column="text", fts=("text", "who", "notes")),
    Table("statement_claims", "Which claims each statement reports (curated).",
          [("statement_id", str, "The statement."), ("claim_id", str, "A claim it reports.")] + PROVENANCE,
          ("statement_id", "claim_id"), [("statement_id", "statements", "id"), ("claim_id", "claims", "id")]),
    Table("edges", "The claim graph's edges (the same graph kb graph exports).",
          [("source_node", str, "The node the edge starts at, as type:id."), ("source_type", str, "Its node type."),
           ("target_node", str, "The node the edge ends at, as type:id."), ("target_type", str, "Its node type."),
           ("type", str, "cites, measured_under, about, contrasts_with or reports."),
           ("differs_by", str, "For contrasts_with: the context key that differs, or 'source'.")] + PROVENANCE,
          ("source_node", "target_node", "type")),
    Table("lexicon", schema.LEXICON.description + " One row per entry, so the database alone can run the checker.",
          [("name", str, "The entry: a field of vocabulary/lexicon.yaml."),
           ("value", str, "Its words, as JSON: a list, or a mapping of names to lists."),
           ("description", str, "What the checker uses the entry for.")] + PROVENANCE,
          ("name",)),
    Table("changes", schema.CHANGE.description + " Loaded from changes.yaml; a claim's page lists its own.",
          _cols(schema.CHANGE, rename={"claim": "claim_id", "source": "source_id"}),
          ("claim_id", "field", "date"), [("claim_id", "claims", "id"), ("source_id", "sources", "id")],
          fts=("why", "old", "new")),
    Table("kb_meta", "Facts about this build: the data hash it was built from and the versions that built it.",
          [("key", str, "What the fact is."), ("value", str, "Its value.")], ("key",)),
]

TABLES_BY_NAME = {t.name: t for t in TABLES}

VIEWS = {
    "claim_conditions": (
        "Each claim joined to the conditions it was measured under: its setting's, less those the setting held only "
        "for other behaviours, models or claims (a condition's behaviours, models and claims fields).",
        "select claims.id as claim_id, conditions.key as key, conditions.value as value, "
        "conditions.description as description, claims.setting_id as setting_id "
        "from claims join conditions on conditions.setting_id = claims.setting_id "
        "where (conditions.behaviours is null "
        "or claims.behaviour in (select value from json_each(conditions.behaviours))) "
        "and (conditions.models is null or claims.model in (select value from json_each(conditions.models))) "
        "and (conditions.claims is null or claims.id in (select value from json_each(conditions.claims)))",
    ),
}


def layout_hash(extra_tables=()) -> str:
    """A fingerprint of the tables' layout and the schema's fields: a database built by code with another layout is
    stale even if the data has not changed."""
    import hashlib

    layout = [(t.name, [(n, ty.__name__) for n, ty, _ in t.columns], t.pk) for t in [*TABLES, *extra_tables]]
    fields = [(r.name, [(f.name, f.kind) for f in r.fields]) for r in schema.RECORD_TYPES.values()]
    return hashlib.sha256(json.dumps([layout, fields, sorted(VIEWS)]).encode()).hexdigest()


# ---------------------------------------------------------------- rows

def _json(value):
    return json.dumps(value, ensure_ascii=False) if value is not None else None


def _plain(record, table: Table, **values) -> dict:
    """A row: every column of the table, taken from `values` or the record's attribute of that name."""
    row = {}
    for name, _type, _description in table.columns:
        value = values[name] if name in values else getattr(record, name, None)
        row[name] = _json(value) if isinstance(value, (list, dict)) else value
    return row


def rows_for(kb, graph) -> dict[str, list[dict]]:
    """Every table's rows, in a stable order."""
    t = TABLES_BY_NAME
    rows = {
        "models": [_plain(m, t["models"]) for m in kb.models.values()],
        "behaviours": [_plain(b, t["behaviours"]) for b in kb.behaviours.values()],
        "context_keys": [_plain(c, t["context_keys"]) for c in kb.context.values()],
        "verdicts": [_plain(v, t["verdicts"]) for v in kb.verdicts.values()],
        "sources": [_plain(s, t["sources"]) for s in kb.sources.values()],
        "settings": [_plain(s, t["settings"], source_id=kb.setting_sources.get(s.id)) for s in kb.settings.values()],
        "conditions": [_plain(c, t["conditions"], setting_id=s.id) for s in kb.settings.values()
                       for c in (s.conditions or {}).values()],
        "claims": [_plain(c, t["claims"], label=claim_label(kb, c), source_id=kb.claim_sources.get(c.id),
                          setting_id=c.setting, value_display=format_value(c),
                          faithful_wording=faithful_sentence(kb, c)) for c in kb.claims.values()],
        "claim_context": [{"claim_id": c.id, "key": key, "file": c.file, "line": c.line_of("key_context")}
                          for c in kb.claims.values() for key in dict.fromkeys(c.key_context or [])],
        "contrasts": _contrast_rows(kb),
        "statements": [_statement_row(s, t["statements"]) for s in kb.statements.values()],
        "statement_claims": [{"statement_id": s.id, "claim_id": cid, "file": s.file, "line": s.line_of("claims")}
                             for s in kb.statements.values() for cid in dict.fromkeys(s.claims or [])],
        "edges": [_edge_row(u, v, data) for u, v, data in graph.edges(data=True)],
        "lexicon": _lexicon_rows(kb.lexicon),
        "changes": [_plain(c, t["changes"], claim_id=c.claim, source_id=c.source) for c in kb.changes],
    }
    return rows


def _contrast_rows(kb) -> list[dict]:
    rows = []
    for claim in kb.claims.values():
        for other, differs_by, note in kb.contrasts_of(claim.id):
            rows.append({"claim_id": claim.id, "other_claim_id": other, "differs_by": differs_by, "note": note,
                         "file": claim.file, "line": claim.line})
    return rows


def _statement_row(statement, table: Table) -> dict:
    label = statement.label
    reports = [{"model": r.model, "behaviour": r.behaviour} for r in (label.reports or [])] if label else None
    return _plain(statement, table, source_id=statement.source,
                  label_verdict=label.verdict if label else None,
                  label_verdict_any=label.verdict_any if label else None,
                  label_missing=label.missing if label else None,
                  label_present=label.present if label else None,
                  label_reports=reports)


def _lexicon_rows(lexicon) -> list[dict]:
    """One row per lexicon field, in schema order (kb.publish reads them back into a Lexicon record)."""
    if lexicon is None:
        return []
    return [{"name": f.name, "value": _json(getattr(lexicon, f.name)), "description": f.description,
             "file": lexicon.file, "line": lexicon.line_of(f.name)} for f in schema.LEXICON.fields]


def _edge_row(u: str, v: str, data: dict) -> dict:
    return {"source_node": u, "source_type": u.split(":", 1)[0], "target_node": v, "target_type": v.split(":", 1)[0],
            "type": data["type"], "differs_by": data.get("differs_by"), "file": data.get("file"), "line": data.get("line")}


# ---------------------------------------------------------------- writing

def create_tables(db: sqlite_utils.Database, tables=TABLES):
    for table in tables:
        db[table.name].create({name: typ for name, typ, _ in table.columns}, pk=table.pk if len(table.pk) > 1 else table.pk[0],
                              foreign_keys=table.foreign_keys or None, not_null=set(table.pk))


def write_database(kb, graph, path: Path, meta: dict, extra_tables: list | None = None, extra_rows: dict | None = None) -> Path:
    """Write every table to a fresh file next to `path`, then move it into place (readers never see half a build)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=".kb-", suffix=".db", dir=path.parent)
    os.close(handle)
    os.unlink(tmp)
    try:
        _fill(Path(tmp), kb, graph, meta, extra_tables or [], extra_rows or {})
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _fill(path: Path, kb, graph, meta: dict, extra_tables: list, extra_rows: dict):
    conn = sqlite3.connect(path)
    db = sqlite_utils.Database(conn)
    db.execute("PRAGMA foreign_keys = ON")
    tables = TABLES + extra_tables
    create_tables(db, tables)
    rows = rows_for(kb, graph)
    rows["kb_meta"] = [{"key": k, "value": str(v)} for k, v in sorted(meta.items())]
    rows.update(extra_rows)
    for table in tables:
        db[table.name].insert_all(rows.get(table.name, []), batch_size=500)
    for table in tables:
        if table.fts:
            db[table.name].enable_fts(list(table.fts), create_triggers=False, tokenize="porter")
        for column, _other, _other_col in table.foreign_keys:
            db[table.name].create_index([column], if_not_exists=True)
    for name, (_description, sql) in VIEWS.items():
        db.create_view(name, sql)
    conn.commit()
    conn.execute("VACUUM")
    conn.close()
