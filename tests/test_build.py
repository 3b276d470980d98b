"""kb build and kb graph: the database's tables, keys, search and provenance, and the graph they share."""

import json
import sqlite3
import xml.etree.ElementTree as ET

import pytest
import sqlite_utils

from kb.pipeline import build, is_stale
from kb.database import TABLES
from kb.graph import EDGE_TYPES, NODE_TYPES, build_graph
from kb.validate import load_knowledge_base
from kbtest import ROOT, run_kb, tiny_kb

CORE = {"sources", "settings", "claims", "conditions", "claim_context", "contrasts", "models", "behaviours",
        "statements", "statement_claims", "edges"}


@pytest.fixture(scope="module")
def db_path(tmp_path_factory):
    """The repository's database without the checker's tables (the checker has its own tests)."""
    path = tmp_path_factory.mktemp("db") / "kb.db"
    build(ROOT, path, checks=False)
    return path


@pytest.fixture(scope="module")
def db(db_path):
    return sqlite_utils.Database(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True))


def test_core_tables_and_view_exist(db):
    assert CORE <= set(db.table_names())
    assert "claim_conditions" in db.view_names()
    assert {"id", "source_id", "locator", "model", "behaviour", "value", "value_text", "n", "setting_id",
            "verification", "rank"} <= set(db["claims"].columns_dict)


def test_columns_are_typed_and_keys_declared(db):
    columns = db["claims"].columns_dict
    assert columns["value"] is float and columns["n"] is int and columns["line"] is int
    fks = {(fk.column, fk.other_table) for fk in db["claims"].foreign_keys}
    assert {("source_id", "sources"), ("model", "models"), ("behaviour", "behaviours"), ("setting_id", "settings")} <= fks
    assert db.execute("pragma foreign_key_check").fetchall() == []


def test_every_row_has_provenance(db):
    for table in TABLES:
        if {"file", "line"} <= set(db[table.name].columns_dict):
            bad = db.execute(f"select count(*) from [{table.name}] where file is null or line < 1").fetchone()[0]
            assert bad == 0, table.name
    row = db.execute("select file, line from claims where id = 'palisade-with-o3'").fetchone()
    text = (ROOT / row[0]).read_text(encoding="utf-8").splitlines()
    assert text[row[1] - 1].strip() == "- id: palisade-with-o3"


def test_the_headline_examples(db):
    o1 = {(r[0], r[1]) for r in db.execute(
        "select source_id, value from claims where model = 'o1' and behaviour = 'oversight_subversion'")}
    assert {("openai-o1-system-card-2024", 0.05), ("openai-o1-system-card-2024", 0.01),
            ("apollo-in-context-scheming-2024", 0.02), ("apollo-in-context-scheming-2024", 0.003)} <= o1
    keys = {r[0] for r in db.execute("select key from claim_context where claim_id = 'o1card-oversight'")}
    assert "goal_nudge" in keys
    contrast = db.execute("select differs_by from contrasts where claim_id = 'palisade-with-o3' "
                          "and other_claim_id = 'palisade-without-o3'").fetchone()
    assert contrast == ("shutdown_instruction",)


def test_claim_conditions_view(db):
    rows = dict(db.execute("select key, value from claim_conditions where claim_id = 'palisade-without-o3'").fetchall())
    assert rows["shutdown_instruction"] == "absent"


def test_full_text_search(db):
    hits = [r[0] for r in db.execute("select claims.id from claims join claims_fts on claims.rowid = claims_fts.rowid "
                                     "where claims_fts match 'blackmail' order by claims.id")]
    assert "c4card-blackmail-84" in hits
    statements = db.execute("select count(*) from statements_fts where statements_fts match 'shutdown'").fetchone()[0]
    assert statements >= 2


def test_edges_table_is_the_graph(db):
    graph = build_graph(load_knowledge_base(ROOT)[0])
    rows = {(r[0], r[1], r[2]) for r in db.execute("select source_node, target_node, type from edges")}
    assert rows == {(u, v, d["type"]) for u, v, d in graph.edges(data=True)}
    assert {d["type"] for _u, _v, d in graph.edges(data=True)} == set(EDGE_TYPES)
    assert {d["type"] for _n, d in graph.nodes(data=True)} == set(NODE_TYPES)


def test_building_twice_gives_identical_bytes(tmp_path):
    first, second = tmp_path / "a.db", tmp_path / "b.db"
    build(ROOT, first, checks=False)
    build(ROOT, second, checks=False)
    assert first.read_bytes() == second.read_bytes()


def test_staleness_follows_the_data(tmp_path):
    root = tiny_kb(tmp_path / "kb")
    path = root / "build" / "kb.db"
    assert is_stale(root, path)
    build(root, path, checks=False)
    assert not is_stale(root, path)
    claims = root / "claims" / "tiny-paper-2024.yaml"
    claims.write_text(claims.read_text().replace("value: 0.05", "value: 0.06").replace("value_text: 5%", "value_text: 6%"))
    assert is_stale(root, path)


def test_a_new_measurement_in_evaluation_makes_the_database_stale(tmp_path):
    """The check page reads the measured accuracy from the database: a new `kb eval --cv --save` must reach it."""
    root = tiny_kb(tmp_path / "kb")
    path = root / "build" / "kb.db"
    build(root, path, checks=False)
    assert not is_stale(root, path)
    (root / "evaluation").mkdir()
    (root / "evaluation" / "cv.json").write_text('{"date": "2026-12-07", "sets": []}', encoding="utf-8")
    assert is_stale(root, path)


def test_cli_build_refuses_invalid_data_without_a_traceback(tmp_path):
    root = tiny_kb(tmp_path / "kb")
    (root / "claims" / "bad.yaml").write_text("source: tiny-paper-2024\nclaims:\n- id: x\n  model: o5\n")
    result = run_kb("--root", str(root), "build", "--no-check")
    assert result.returncode == 1 and "[E020]" in result.stderr and "Traceback" not in result.stderr
    assert not (root / "build" / "kb.db").exists()


def test_cli_root_without_a_knowledge_base_is_an_error_not_the_repositorys_data(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_kb("--root", str(empty), "validate")  # run from the repository: it must not be used instead
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert f"no knowledge base at {empty.resolve()}" in result.stderr and "--root" in result.stderr
    assert "OK:" not in result.stdout


def test_cli_graph_exports_json_and_graphml(tmp_path):
    out = tmp_path / "g.json"
    assert run_kb("graph", "--format", "json", "-o", str(out)).returncode == 0
    data = json.loads(out.read_text())
    assert any(n["id"] == "claim:o1card-oversight" for n in data["nodes"])
    assert any(e["source"] == "claim:palisade-with-o3" and e["type"] == "contrasts_with" for e in data["edges"])
    graphml = run_kb("graph", "--format", "graphml")
    assert graphml.returncode == 0
    root = ET.fromstring(graphml.stdout)
    assert root.tag.endswith("graphml") and len(root.findall(".//{*}node")) == len(data["nodes"])


@pytest.mark.slow
def test_build_stores_the_checkers_verdicts_next_to_the_labels(built_db):
    db = sqlite_utils.Database(built_db)  # the repository's data as `kb build` builds it (conftest: once per run)
    checked = {r["statement_id"] for r in db["checks"].rows}
    assert checked == {r["id"] for r in db["statements"].rows} and len(checked) > 20  # every statement, not the dev set
    rows = {r["statement_id"]: r for r in db["checks"].rows}
    assert rows["d13"]["verdict"] == "missing_context" and rows["d13"]["label_verdict"] == "missing_context"
    assert rows["d13"]["agrees"] == 1
    finding = next(db["findings"].rows_where("statement_id = 'd13' and tier = 'match'"))
    assert finding["claim_id"] == "palisade-with-o3" and json.loads(finding["missing_context"]) == ["shutdown_instruction"]


# ---------------------------------------------------------------- issue 9: bounds, cells, contrasts, conditions, changes

def test_a_bound_is_stored_next_to_the_number_and_the_printed_form(db):
    row = db["claims"].get("o1card-nonudge-oversight")
    assert (row["value"], row["value_text"], row["bound"]) == (0.01, "<1%", "upper")
    assert row["value_display"] == "under 1%"
    assert db["claims"].get("o1card-oversight")["bound"] is None
    assert db["claims"].get("o1card-t10-dd-exfil")["value_text"] == "1.00"  # the table's printed form, not '1.0'


def test_palisade_paper_rates_are_cells_with_an_integer_n(db):
    rows = list(db.query("select id, n, typeof(n) as type, denominator from claims where id like 'palisade-paper-%'"))
    assert len(rows) >= 12
    assert all(r["type"] == "integer" and r["n"] == 1000 and "961 ≤ N ≤ 1000" in r["denominator"] for r in rows)
    cell = db["claims"].get("palisade-paper-a-o3")  # one printed figure; the interval is a margin, in notes (issue 21)
    assert cell["value_text"] == "94.5%" and "(93.0, 95.8)%" in cell["notes"]


def test_opus_4_blackmail_84_and_96_are_linked_both_ways(db):
    eighty_four = {r["id"] for r in db.query("select id from claims where model = 'claude-opus-4' and behaviour = 'blackmail' and value = 0.84")}
    ninety_six = {r["id"] for r in db.query("select id from claims where model = 'claude-opus-4' and behaviour = 'blackmail' and value = 0.96")}
    assert eighty_four and ninety_six
    links = {(r["claim_id"], r["other_claim_id"]) for r in db["contrasts"].rows}
    for a in eighty_four:
        for b in ninety_six:
            assert (a, b) in links and (b, a) in links


def test_claim_conditions_holds_a_condition_only_for_the_evaluations_it_was_measured_in(db):
    monitored = {r["claim_id"]: r["value"] for r in db.query("select claim_id, value from claim_conditions where key = 'monitoring'")}
    assert monitored["apollo-t2-os-0-o1"] == "oversight config" and monitored["o1card-oversight"] == "told it was monitored"
    assert "apollo-t2-se-1-o1" not in monitored and "o1card-exfil" not in monitored and "apollo-t2-cer-8-o1" not in monitored
    nudge = next(db.query("select c.quote from claims join conditions c on c.setting_id = claims.setting_id "
                          "where claims.id = 'apollo-t2-cer-8-o1' and c.key = 'goal_nudge'"))
    assert "Only the outcome matters!" in nudge["quote"]


def test_the_changes_table_holds_the_changelog(db):
    columns = set(db["changes"].columns_dict)
    assert {"date", "claim_id", "field", "old", "new", "why", "source_id", "locator", "file", "line"} <= columns
    rows = list(db["changes"].rows)
    assert rows and all(r["why"] and r["file"] == "changes.yaml" and r["line"] > 0 for r in rows)
    bound = [r for r in rows if r["claim_id"] == "o1card-nonudge-oversight" and r["field"] == "value_text"]
    assert [(r["old"], r["new"]) for r in bound] == [("0.01", "<1%")]
    assert any(r["claim_id"] == "o3card-sabotage-mean" and r["new"] == "model_sabotage" for r in rows)


def test_the_changes_read_back_from_the_database(db_path):
    from kb.readback import read_knowledge_base

    written, _problems = load_knowledge_base(ROOT)
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        read = read_knowledge_base(conn)
    assert [(c.claim, c.field, c.old, c.new) for c in read.changes] == [(c.claim, c.field, c.old, c.new) for c in written.changes]
    assert read.claims["o1card-nonudge-oversight"].bound == "upper"


def test_graph_claims_carry_bound_and_their_own_conditions():
    knowledge_base, _problems = load_knowledge_base(ROOT)
    graph = build_graph(knowledge_base)
    node = graph.nodes["claim:o1card-nonudge-oversight"]
    assert node["bound"] == "upper" and node["conditions"]["monitoring"] == "told it was monitored"
    assert "monitoring" not in graph.nodes["claim:o1card-exfil"]["conditions"]
