"""kb serve: the Datasette configuration, the plugin's pages and APIs, and the real CLI.

Pages are fetched with Datasette's own test client over a real, immutable SQLite file built from the
repository's data; expected values come from the YAML knowledge base, the source of truth.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import networkx as nx
import pytest
from datasette.app import SETTINGS, Datasette
from markupsafe import escape

from kb.build import Stage, load_valid
from kb.pipeline import build
from kb.database import TABLES_BY_NAME, Table
from kb.graph import build_graph, neighbourhood
from kb.project import data_hash
from kb.publish.datasette_config import FACETS, all_tables, canned_queries, describe, metadata, settings
from kb.readback import read_knowledge_base
from kb.publish.serve import ServeError, datasette_args, free_port, prepare
from kb.wording import faithful_sentence
from kbtest import copy_data, tiny_kb
from live import wait_until_answering

ROOT = Path(__file__).resolve().parents[1]
PAYLOAD = "<script>alert(1)</script>"


def html(text) -> str:
    """Text as it appears in a Jinja-escaped page."""
    return str(escape(text))


def quiet(*_args, **_kwargs):
    pass


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def knowledge_base():
    return load_valid(ROOT)


@pytest.fixture(scope="module")
def served_files(built_db):
    return prepare(ROOT, built_db, echo=quiet)


def open_datasette(database: Path, inspect_file: Path | None, loop) -> Datasette:
    """Datasette configured as `kb serve` configures it: immutable, with our metadata and settings."""
    inspect_data = json.loads(inspect_file.read_text()) if inspect_file else None
    ds = Datasette(immutables=[str(database)], inspect_data=inspect_data, metadata=metadata(), settings=settings())
    loop.run_until_complete(ds.invoke_startup())
    return ds


@pytest.fixture(scope="module")
def datasette(served_files, loop):
    return open_datasette(served_files.database, served_files.inspect, loop)


@pytest.fixture(scope="module")
def get(datasette, loop):
    return lambda path: loop.run_until_complete(datasette.client.get(path))


def rows(get, path: str) -> list[dict]:
    response = get(path + ("&" if "?" in path else "?") + "_shape=array")
    assert response.status_code == 200, response.text
    return response.json()


# ---------------------------------------------------------------- configuration

def test_metadata_describes_every_table_and_column_from_the_schema():
    tables = describe()["databases"]["kb"]["tables"]
    for table in all_tables():
        assert tables[table.name]["description"] == table.description
        assert tables[table.name]["columns"] == {name: text for name, _type, text in table.columns}
    assert "CC BY 4.0" in describe()["license"] and "MIT" in describe()["license"]


def test_settings_are_all_known_to_datasette():
    assert set(settings()) <= {s.name for s in SETTINGS}


def test_datasette_args_serve_the_database_immutably_with_inspect_data_and_settings(served_files):
    args = datasette_args(served_files, host="127.0.0.1", port=9000)
    assert args[:2] == ["-i", str(served_files.database)]
    assert args[args.index("--inspect-file") + 1] == str(served_files.inspect)
    assert json.loads(Path(args[args.index("--metadata") + 1]).read_text()) == metadata()
    assert ["--setting", "sql_time_limit_ms", "500"] == args[args.index("sql_time_limit_ms") - 1:][:3]
    assert json.loads(served_files.inspect.read_text())["kb"]["tables"]["claims"]["count"] > 0


def test_prepare_refuses_a_database_not_named_kb(tmp_path):
    with pytest.raises(ServeError, match=r"must be called kb\.db"):
        prepare(ROOT, tmp_path / "other.db", echo=quiet)


# ---------------------------------------------------------------- Datasette's pages with our configuration

@pytest.mark.parametrize("path", ["/", "/kb", "/kb/claims", "/kb/sources", "/kb/settings", "/kb/conditions",
                                  "/kb/statements", "/kb/contrasts", "/kb/edges", "/kb/claim_conditions", "/kb/checks",
                                  "/-/metadata.json", "/kb/claims.csv", "/kb.db"])
def test_pages_answer(get, path):
    assert get(path).status_code == 200


def test_home_page_shows_title_and_license(get):
    page = get("/").text
    assert "<h1>Caveat</h1>" in page and "CC BY 4.0" in page


def test_table_page_shows_column_descriptions_from_the_schema(get):
    page = get("/kb/claims").text
    for name, _type, description in TABLES_BY_NAME["claims"].columns:
        assert f"<dt>{name}</dt><dd>{html(description)}</dd>" in page


def test_configured_facets_are_computed(get, knowledge_base):
    data = get("/kb/claims.json").json()
    assert list(data["facet_results"]) == FACETS["claims"]
    counts = {r["value"]: r["count"] for r in data["facet_results"]["verification"]["results"]}
    assert sum(counts.values()) == len(knowledge_base.claims) and counts["verified"] > 0


def test_label_columns_name_foreign_keys(get, knowledge_base):
    row = rows(get, "/kb/claims.json?id=o1card-oversight&_labels=on")[0]
    assert row["source_id"] == {"value": "openai-o1-system-card-2024",
                                "label": knowledge_base.sources["openai-o1-system-card-2024"].title}
    assert row["model"]["label"] == knowledge_base.models["o1"].name


def test_claims_table_badges_unverified_numbers(get):
    page = get("/kb/claims?verification=secondary").text
    assert page.count('class="caveat-badge caveat-badge-warn"') >= 1
    assert "caveat-badge-warn" not in get("/kb/claims?verification=verified").text


def test_full_text_search_finds_claims(get):
    found = rows(get, "/kb/claims.json?_search=shutdown&_col=id")
    assert "palisade-with-o3" in {r["id"] for r in found}


# ---------------------------------------------------------------- canned queries

def test_every_canned_query_page_renders(get):
    for name in canned_queries():
        assert get(f"/kb/{name}").status_code == 200, name


def test_claims_for_model_behaviour_o3_shutdown_resistance(get):
    found = rows(get, "/kb/claims_for_model_behaviour.json?model=o3&behaviour=shutdown_resistance")
    values = {(r["id"], r["value"]) for r in found}
    assert {("palisade-with-o3", 0.07), ("palisade-without-o3", 0.79)} <= values


def test_claims_for_model_behaviour_o1_oversight_from_card_and_paper(get):
    found = rows(get, "/kb/claims_for_model_behaviour.json?model=o1&behaviour=oversight_subversion")
    pairs = {(r["value"], r["source_id"]) for r in found}
    assert (0.05, "openai-o1-system-card-2024") in pairs
    assert (0.02, "apollo-in-context-scheming-2024") in pairs
    assert found[0]["rank"] == "preferred"  # headline figures first


def test_claims_under_condition(get):
    found = rows(get, "/kb/claims_under_condition.json?key=shutdown_instruction&value=present")
    assert "palisade-with-o3" in {r["id"] for r in found}
    assert {r["condition_value"] for r in found} == {"present"}
    any_value = rows(get, "/kb/claims_under_condition.json?key=shutdown_instruction")
    assert "palisade-without-o3" in {r["id"] for r in any_value}


def test_contrasts_of_a_claim_side_by_side(get):
    found = rows(get, "/kb/contrasts_side_by_side.json?claim=palisade-with-o3")
    pair = next(r for r in found if r["other_claim"] == "palisade-without-o3")
    assert (pair["differs_by"], pair["claim_value"], pair["other_value"]) == ("shutdown_instruction", "7%", "79%")
    assert (pair["claim_condition"], pair["other_condition"]) == ("present", "absent")


def test_contrasts_of_a_model_and_behaviour_list_each_pair_once(get):
    found = rows(get, "/kb/contrasts_side_by_side.json?model=o3&behaviour=shutdown_resistance")
    pairs = [frozenset((r["claim"], r["other_claim"])) for r in found]
    assert pairs.count(frozenset(("palisade-with-o3", "palisade-without-o3"))) == 1
    assert len(pairs) == len(set(pairs))


def test_statements_that_dropped_a_context_key(get, knowledge_base):
    found = rows(get, "/kb/statements_dropping_context.json?key=goal_nudge")
    expected = {s.id for s in knowledge_base.statements.values() if s.label and "goal_nudge" in (s.label.missing or [])}
    assert {r["id"] for r in found} == expected and "d01" in expected


def test_distortion_statistics_per_claim(get, knowledge_base):
    found = {r["claim_id"]: r for r in rows(get, "/kb/distortion_statistics.json")}
    reporting = [s for s in knowledge_base.statements.values() if "o1card-exfil" in (s.claims or [])]
    assert found["o1card-exfil"]["times_reported"] == len(reporting)
    assert found["o1card-exfil"]["most_dropped"] == "goal_nudge"
    assert set(found) == {cid for s in knowledge_base.statements.values() for cid in (s.claims or [])}


# ---------------------------------------------------------------- claim and source pages

def test_claim_page_shows_sentence_conditions_source_contrasts_and_statements(get, knowledge_base):
    claim = knowledge_base.claims["o1card-oversight"]
    page = get("/kb/claims/o1card-oversight").text
    assert html(faithful_sentence(knowledge_base, claim)) in page
    for condition in knowledge_base.conditions_of(claim).values():
        assert html(condition.description) in page
    assert html(claim.quote) in page and html(claim.locator) in page
    assert html(knowledge_base.source_of(claim).title) in page
    assert 'href="/-/bibtex/openai-o1-system-card-2024.bib"' in page
    assert '<span class="caveat-badge caveat-badge-ok">✓ verified</span>' in page and "caveat-warning" not in page
    # The no-nudge figure is '<1%' in the card: a ceiling, never shown as the figure '1%'.
    assert 'href="/kb/claims/o1card-nonudge-oversight"' in page and "<strong>under 1%</strong>" in page
    assert "<strong>1%</strong>" not in page
    assert 'href="/kb/statements/d01"' in page and "missing_context" in page
    assert 'href="/-/graph/o1card-oversight"' in page


def test_claim_page_lists_its_own_corrections(get, built_db):
    page = get("/kb/claims/o1card-nonudge-oversight").text
    corrections = page[page.index("<h2>Corrections</h2>"):page.index("<h2>Statements that reported it</h2>")]
    assert "<code>value_text</code>" in corrections and "<td>0.01</td>" in corrections and "<td>&lt;1%</td>" in corrections
    assert "<code>bound</code>" in corrections and 'href="/kb/sources/openai-o1-system-card-2024"' in corrections
    with sqlite3.connect(built_db) as conn:  # a claim never corrected (fewer each audit: read, not hard-coded)
        untouched = conn.execute("select min(id) from claims where id not in "
                                 "(select claim_id from changes where claim_id is not null)").fetchone()[0]
    assert untouched and "No corrections recorded." in get(f"/kb/claims/{untouched}").text


def test_the_changes_table_is_served_with_its_description(get):
    page = get("/kb/changes?claim_id=o1card-nonudge-oversight").text
    for name, _type, description in TABLES_BY_NAME["changes"].columns:
        assert f"<dt>{name}</dt><dd>{html(description)}</dd>" in page
    assert "o1card-nonudge-oversight" in page and "&lt;1%" in page


def test_claim_page_with_a_dot_in_its_id(get):
    page = get("/kb/claims/palisade-with-claude-3~2E7-sonnet").text
    assert 'href="/-/graph/palisade-with-claude-3.7-sonnet"' in page


@pytest.mark.parametrize("status", ["parsed", "secondary", "partial", "unverified"])
def test_claim_page_warns_about_numbers_that_are_not_verified(get, knowledge_base, status):
    claim = next((c for c in knowledge_base.claims.values() if c.verification == status), None)
    if claim is None:
        pytest.skip(f"no claim is '{status}' in the data")
    page = get(f"/kb/claims/{quote(claim.id.replace('.', '~2E'))}").text
    assert f"<strong>⚠ Not verified ({status}).</strong>" in page


def test_claim_page_shows_the_checkers_verdicts_from_the_built_database(get, served_files):
    with sqlite3.connect(served_files.database) as conn:
        verdicts = dict(conn.execute("select statement_id, verdict from checks where statement_id in "
                                     "(select statement_id from statement_claims where claim_id = 'o1card-oversight')"))
    assert verdicts, "kb build stores the checker's verdicts"
    page = get("/kb/claims/o1card-oversight").text
    labels = {"ok": "Faithful", "missing_context": "Missing context", "misstated": "Misstated", "no_claim": "No claim"}
    for verdict in verdicts.values():  # in words, as the verdict card names it, never the raw id
        assert f'<span class="caveat-verdict caveat-verdict-{verdict}">{labels[verdict]}</span>' in page


def test_claim_page_shows_the_checkers_verdict_when_the_database_has_one(tmp_path, loop):
    # A `checks` table, as the build's checker stage adds it.
    from kb.build import build as build_with

    checks = Table("checks", "The checker's verdict per statement.", [("statement_id", str, "The statement."),
                   ("verdict", str, "The checker's verdict.")], ("statement_id",))
    stage = Stage("checks", (checks,), lambda kb: {"checks": [{"statement_id": "d12", "verdict": "misstated"}]})
    database = build_with(ROOT, tmp_path / "kb.db", [stage]).path
    page = loop.run_until_complete(open_datasette(database, None, loop).client.get("/kb/claims/palisade-with-o3")).text
    assert '<span class="caveat-verdict caveat-verdict-misstated">Misstated</span> (disagrees)' in page


def test_source_page_links_its_bibtex(get):
    page = get("/kb/sources/anthropic-claude-4-system-card-2025").text
    assert 'href="/-/bibtex/anthropic-claude-4-system-card-2025.bib"' in page
    assert html(r"title = {System Card: Claude Opus 4 \& Claude Sonnet 4}") in page


# ---------------------------------------------------------------- graph views

def test_graph_page_draws_the_neighbourhood_with_a_link_per_node(get, knowledge_base):
    page = get("/-/graph/palisade-with-o3").text
    expected = neighbourhood(build_graph(knowledge_base), "claim:palisade-with-o3")
    svg = page[page.index("<svg"):page.index("</svg>")]
    assert svg.count('<g class="node ') == expected.number_of_nodes()
    for link in ("/kb/claims/palisade-without-o3", "/kb/sources/palisade-shutdown-thread-2025",
                 "/kb/settings/palisade-with-allow-shutdown", "/kb/models/o3", "/kb/behaviours/shutdown_resistance",
                 "/kb/statements/d12"):
        assert f'<a href="{link}">' in svg


def test_every_node_link_of_a_graph_page_opens_its_row(get):
    page = get("/-/graph/palisade-with-claude-3.7-sonnet").text
    svg = page[page.index("<svg"):page.index("</svg>")]
    links = re.findall(r'<a href="([^"]+)">', svg)
    assert "/kb/claims/palisade-with-claude-3~2E7-sonnet" in links
    assert all(get(link).status_code == 200 for link in links)


def test_graph_json_is_the_whole_graph_as_node_link_json(get, knowledge_base):
    response = get("/-/graph.json")
    assert response.headers["content-type"].startswith("application/json")
    graph = nx.node_link_graph(response.json(), edges="edges")
    expected = build_graph(knowledge_base)
    assert graph.number_of_nodes() == expected.number_of_nodes()
    assert graph.number_of_edges() == expected.number_of_edges()


def test_neighbourhood_json(get):
    graph = nx.node_link_graph(get("/-/graph/palisade-with-o3.json").json(), edges="edges")
    assert {"claim:palisade-with-o3", "claim:palisade-without-o3", "statement:d12"} <= set(graph.nodes)


def test_served_graph_equals_the_graph_built_from_the_yaml(served_files, knowledge_base):
    with sqlite3.connect(served_files.database) as conn:
        served = build_graph(read_knowledge_base(conn))
    built = build_graph(knowledge_base)
    assert dict(served.nodes(data=True)) == dict(built.nodes(data=True))
    assert list(served.edges(keys=True, data=True)) == list(built.edges(keys=True, data=True))


# ---------------------------------------------------------------- errors

def test_unknown_claim_in_graph_view_is_a_helpful_404(get):
    response = get("/-/graph/palisade-with-o4")
    assert response.status_code == 404
    assert 'href="/kb/claims?_search=palisade-with-o4"' in response.text
    assert 'href="/-/graph/palisade-with-o4-mini"' in response.text  # did you mean


def test_unknown_claim_in_graph_json_is_a_json_404(get):
    response = get("/-/graph/no-such-claim.json")
    assert response.status_code == 404 and response.json()["ok"] is False
    assert "/kb/claims?_search=no-such-claim" in response.json()["error"]


def test_unknown_source_bibtex_is_a_404_pointing_to_the_sources(get):
    response = get("/-/bibtex/openai-o1-card.bib")
    assert response.status_code == 404 and 'href="/kb/sources"' in response.text


def test_unknown_row_is_a_404(get):
    assert get("/kb/claims/no-such-claim").status_code == 404


# ---------------------------------------------------------------- BibTeX

def balanced(text: str) -> bool:
    depth = 0
    for brace in re.findall(r"(?<!\\)[{}]", text):
        depth += 1 if brace == "{" else -1
        if depth < 0:
            return False
    return depth == 0


def test_bibtex_entry_per_source(get, knowledge_base):
    for source in knowledge_base.sources.values():
        response = get(f"/-/bibtex/{source.id}.bib")
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
        entry = response.text
        assert re.match(rf"@\w+\{{{re.escape(source.id)},\n", entry), entry
        assert all(f"  {name} = {{" in entry for name in ("title", "author", "year"))
        assert balanced(entry), entry


def test_bibtex_escapes_special_characters_in_titles(get):
    entry = get("/-/bibtex/anthropic-claude-4-system-card-2025.bib").text
    assert r"title = {System Card: Claude Opus 4 \& Claude Sonnet 4}" in entry


def test_combined_bibtex_has_one_entry_per_source(get, knowledge_base):
    text = get("/-/bibtex.bib").text
    assert sorted(re.findall(r"^@\w+\{([^,]+),$", text, re.M)) == sorted(knowledge_base.sources)
    assert balanced(text)


# ---------------------------------------------------------------- escaping and read-only

@pytest.mark.parametrize("path", [
    "/-/graph/" + quote(PAYLOAD, safe=""),
    "/-/graph/" + quote(PAYLOAD, safe="") + ".json",
    "/-/graph/" + quote(PAYLOAD),
    "/-/bibtex/" + quote(PAYLOAD, safe="") + ".bib",
    "/kb/claims/" + quote(PAYLOAD, safe=""),
    "/kb/claims?_search=" + quote(PAYLOAD),
    "/kb/claims_for_model_behaviour?model=" + quote(PAYLOAD) + "&behaviour=" + quote(PAYLOAD),
    "/kb/statements_dropping_context?key=" + quote(PAYLOAD),
    "/kb/contrasts_side_by_side?claim=" + quote(PAYLOAD),
])
def test_user_supplied_script_comes_back_inert(get, path):
    response = get(path)
    assert PAYLOAD not in response.text
    assert "<script>alert" not in response.text


def test_payload_is_echoed_escaped_not_dropped(get):
    # Guards the test above: the payload does come back, as text.
    assert html(PAYLOAD) in get("/-/graph/" + quote(PAYLOAD, safe="")).text
    assert html(PAYLOAD) in get("/kb/claims_for_model_behaviour?model=" + quote(PAYLOAD)).text


@pytest.mark.parametrize("sql", ["delete from claims", "update claims set value = 1",
                                 "insert into kb_meta (key, value) values ('x', 'y')", "drop table claims"])
def test_sql_api_refuses_writes(get, sql):
    response = get("/kb.json?sql=" + quote(sql))
    assert response.status_code == 400 and "Statement must be a SELECT" in response.json()["error"]


def test_database_is_opened_immutable(datasette, loop, knowledge_base):
    database = datasette.get_database("kb")
    assert database.is_mutable is False
    with pytest.raises(Exception):
        loop.run_until_complete(database.execute_write("delete from claims"))
    count = loop.run_until_complete(database.execute("select count(*) from claims")).single_value()
    assert count == len(knowledge_base.claims)


# ---------------------------------------------------------------- kb serve and the real datasette command

SMOKE_PAGES = ["/", "/kb", "/kb/claims", "/kb/claims/o1card-oversight", "/kb/claims/palisade-with-claude-3~2E7-sonnet",
               "/kb/sources/openai-o1-system-card-2024", "/kb/statements/d01", "/-/graph/o1card-oversight",
               "/-/graph/o1card-oversight.json", "/-/graph.json", "/-/bibtex/openai-o1-system-card-2024.bib",
               "/-/bibtex.bib", "/-/caveat/caveat.css", *[f"/kb/{name}" for name in canned_queries()]]


def datasette_get(files, path: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "datasette", *datasette_args(files), "--get", path]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


@pytest.mark.slow
def test_smoke_list_through_the_datasette_command(served_files):
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(SMOKE_PAGES, pool.map(lambda p: datasette_get(served_files, p), SMOKE_PAGES)))
    failures = {path: r.stderr[-500:] or r.stdout[:200] for path, r in results.items() if r.returncode != 0}
    assert not failures
    assert "caveat-claim" in results["/kb/claims/o1card-oversight"].stdout
    missing = datasette_get(served_files, "/-/graph/no-such-claim")
    assert missing.returncode == 1 and "No claim called" in missing.stdout


@pytest.fixture()
def data_copy(tmp_path) -> Path:
    """A private copy of the repository's data, to change without touching the real files."""
    return copy_data(tmp_path)


def test_prepare_rebuilds_a_stale_database(tmp_path):
    root = tiny_kb(tmp_path / "kb")  # the tiny knowledge base: the rebuild checks its statement, not all of them
    database = build(root, root / "build" / "kb.db", checks=False).path
    claims_file = root / "claims" / "tiny-paper-2024.yaml"
    claims_file.write_text(claims_file.read_text() + "\n# edited\n")
    messages = []
    files = prepare(root, database, echo=messages.append)
    assert messages and "Building" in messages[0]
    assert read_meta(files.database)["data_hash"] == data_hash(root)
    with sqlite3.connect(files.database) as conn:  # rebuilt as kb build builds, with the checker's verdicts
        assert conn.execute("select count(*) from checks").fetchone()[0] > 0


def read_meta(database: Path) -> dict:
    with sqlite3.connect(database) as conn:
        return dict(conn.execute("select key, value from kb_meta"))


def test_kb_serve_with_invalid_data_lists_the_problems_and_exits_1(data_copy):
    claims_file = data_copy / "claims" / "palisade-shutdown-thread-2025.yaml"
    claims_file.write_text(claims_file.read_text().replace("model: o3\n", "model: o3-typo\n", 1))
    result = subprocess.run([sys.executable, "-m", "kb.cli", "--root", str(data_copy), "serve", "--port", "0"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "claims/palisade-shutdown-thread-2025.yaml:" in result.stderr and "o3-typo" in result.stderr
    assert "Traceback" not in result.stderr


def test_kb_serve_on_a_busy_port_says_how_to_pick_another(built_db):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "kb.cli", "--root", str(ROOT), "serve", "--db", str(built_db),
                                 "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "--port 0 picks a free port" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_kb_serve_prints_its_url_answers_and_stops_on_ctrl_c(built_db):
    port = free_port("127.0.0.1", 0)
    command = [sys.executable, "-m", "kb.cli", "--root", str(ROOT), "serve", "--db", str(built_db), "--port", str(port),
               "--no-site"]  # the site's build and route have their own tests (test_serve_front, test_journey_browser)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert process.stdout.readline() == f"Check a statement:  http://127.0.0.1:{port}/-/check\n"
        assert process.stdout.readline() == f"Browse the data:    http://127.0.0.1:{port}/\n"
        wait_until_answering(f"http://127.0.0.1:{port}/kb/claims/o1card-oversight", process)
    finally:
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=20)
    assert process.returncode == 0 and "Traceback" not in err
