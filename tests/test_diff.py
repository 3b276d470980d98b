"""kb diff: what changed between two built databases, and which stored verdicts moved with it."""

import json
import shutil
import sqlite3

import pytest

from kb.pipeline import build
from kb.diff import diff_databases
from kbtest import ROOT, copy_data, run_kb


@pytest.fixture(scope="module")
def plain_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("diff") / "kb.db"
    build(ROOT, path, checks=False)
    return path


def test_the_same_database_twice_differs_in_nothing(plain_db):
    result = run_kb("diff", str(plain_db), str(plain_db))
    assert result.returncode == 0, result.stderr
    assert "No differences" in result.stdout and "verdicts not compared" in result.stdout
    data = json.loads(run_kb("diff", "--json", str(plain_db), str(plain_db)).stdout)
    assert data["differs"] is False and data["claims"] == {"added": [], "removed": [], "changed": []}


@pytest.mark.parametrize("what", ["missing", "not sqlite", "not caveat"])
def test_a_file_that_is_not_a_caveat_database_is_a_usage_error(tmp_path, plain_db, what):
    bad = tmp_path / "bad.db"
    if what == "not sqlite":
        bad.write_text("claims: []\n", encoding="utf-8")
    elif what == "not caveat":
        sqlite3.connect(bad).execute("create table other (x)").connection.commit()
    result = run_kb("diff", str(plain_db), str(bad))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and str(bad) in result.stderr
    assert {"missing": "no such file", "not sqlite": "not an SQLite database",
            "not caveat": "not a Caveat database"}[what] in result.stderr


def test_a_changed_bound_and_an_added_claim_are_named(tmp_path, plain_db):
    root = copy_data(tmp_path / "kb")
    path = root / "claims" / "openai-o1-system-card-2024.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("  bound: upper\n", "", 1).replace("value_text: <1%", "value_text: '0.01'", 1), encoding="utf-8")
    (root / "changes.yaml").unlink()  # the changelog would now disagree with the data (E037)
    new = tmp_path / "new.db"
    build(root, new, checks=False)
    result = diff_databases(plain_db, new)
    [change] = [c for c in result.changed if c.claim == "o1card-nonudge-oversight"]
    assert {(f.field, f.old, f.new) for f in change.changes} == {("bound", "upper", None), ("value_text", "<1%", "0.01")}
    assert result.added == [] and result.removed == [] and len(result.changed) == 1


@pytest.mark.slow
def test_changing_a_headline_number_names_the_claim_and_the_verdicts_it_moves(tmp_path, built_db):
    """The issue's acceptance test: a copy of the data with one headline number changed, both built with the
    checker, and `kb diff old new` names that claim and the statements whose verdict changes. The old database is
    the repository's data as this test run built it (conftest's built_db)."""
    new_root = copy_data(tmp_path / "new")
    cache = ROOT / "build" / "cache"
    if cache.is_dir():  # the embeddings are keyed by content: a warm cache only saves time
        shutil.copytree(cache, new_root / "build" / "cache")
    path = new_root / "claims" / "palisade-shutdown-thread-2025.yaml"
    text = path.read_text(encoding="utf-8")
    block = text[text.index("- id: palisade-with-o3"):]
    block = block[: block.index("\n- id: ", 1)]
    changed = block.replace("value: 0.07", "value: 0.17").replace("value_text: 7/100 runs", "value_text: 17/100 runs")
    assert changed != block
    path.write_text(text.replace(block, changed), encoding="utf-8")
    old, new = built_db, tmp_path / "new.db"
    build(new_root, new)

    result = run_kb("diff", str(old), str(new))
    assert result.returncode == 1, result.stderr
    assert "palisade-with-o3" in result.stdout and "value: 0.07 -> 0.17" in result.stdout
    data = json.loads(run_kb("diff", "--json", str(old), str(new)).stdout)
    assert [c["claim"] for c in data["claims"]["changed"]] == ["palisade-with-o3"]
    moved = {v["statement"]: v for v in data["verdicts"]}
    assert moved, "a statement that reports 7 out of 100 must be re-judged"
    for verdict in moved.values():
        assert verdict["old"] != verdict["new"] and "palisade-with-o3" in verdict["claims"]
        assert f"{verdict['statement']}: {verdict['old']} -> {verdict['new']}" in result.stdout
