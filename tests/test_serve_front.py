"""One product on one server: Caveat's home page and navigation bar, the site under /site/, the graph's front page,
linked canned query results, collapsed column descriptions, contrasts in words, row-page exports, and the CLI
writing numbers as the web does. A real Datasette (in-process) over the repository's built database."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from datasette.app import Datasette

from kb.build import load_valid
from kb.check.evaluate import Evaluation, summary_line
from kb.check.render import render
from kb.publish.datasette_config import metadata, settings
from kb.publish.serve import prepare, urls_lines
from kbtest import ROOT, run_kb

NAV = ['href="/"', 'href="/-/check"', 'href="/kb/claims"', 'href="/-/graph"', 'href="/site/"']


def quiet(*_args, **_kwargs):
    pass


@pytest.fixture(scope="module")
def site_folder(tmp_path_factory) -> Path:
    """A built site's shape: directory URLs with index.html, an asset, mkdocs' 404 page."""
    folder = tmp_path_factory.mktemp("site")
    (folder / "claims" / "x").mkdir(parents=True)
    (folder / "assets").mkdir()
    (folder / "index.html").write_text("<h1>Site home</h1>", encoding="utf-8")
    (folder / "claims" / "x" / "index.html").write_text("<h1>Card x</h1>", encoding="utf-8")
    (folder / "assets" / "caveat.css").write_text("body{}", encoding="utf-8")
    (folder / "404.html").write_text("<h1>Not on the site</h1>", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def get(built_db, site_folder, loop):
    files = prepare(ROOT, built_db, echo=quiet)
    inspect = json.loads(files.inspect.read_text())
    ds = Datasette(immutables=[str(files.database)], inspect_data=inspect, metadata=metadata(site_folder),
                   settings=settings())
    loop.run_until_complete(ds.invoke_startup())
    return lambda path: loop.run_until_complete(ds.client.get(path))


# ---------------------------------------------------------------- front doors

def test_home_page_is_caveats_front_door(get):
    page = get("/").text
    assert "<h1>Caveat</h1>" in page
    for link in ('href="/-/check"', 'href="/site/"', 'href="/kb/claims"', 'href="/-/graph"',
                 'href="/kb/claims_for_model_behaviour"', 'href="/kb/distortion_statistics"'):
        assert link in page, link
    assert 'kb check "your sentence"' in page
    # The doors come before any table link (the old first link was the edges table).
    assert page.index('href="/-/check"') < page.index('href="/kb/edges"')


def test_home_page_lists_every_table_and_the_license_once(get, built_db):
    import sqlite3

    page = get("/").text
    with sqlite3.connect(built_db) as conn:
        tables = [r[0] for r in conn.execute("select name from sqlite_master where type in ('table', 'view') "
                                             "and name not like 'sqlite_%' and name not like '%_fts%'")]
    assert "changes" in tables
    for table in tables:
        assert f'href="/kb/{table}"' in page, table
    assert page.count("Data license") == 1
    description = re.search(r'<ul class="caveat-queries">(.*?)</ul>', page, re.S).group(1)
    assert "`" not in description  # descriptions are plain text: a backtick showed as a backtick


@pytest.mark.parametrize("path, column, arrow, caption", [("/kb/changes", "date", "▼", "sorted by date descending"),
                                                           ("/kb/claims", "id", "▲", "sorted by id"),
                                                           ("/kb/claims?_sort_desc=value", "value", "▼", "descending")])
def test_the_sort_arrow_agrees_with_the_caption(get, path, column, arrow, caption):
    page = get(path).text
    assert caption in page and f">{column}&nbsp;{arrow}</a>" in page
    assert page.count("&nbsp;▲") + page.count("&nbsp;▼") == 1


@pytest.mark.parametrize("path", ["/", "/-/check", "/-/graph", "/kb/claims", "/site/"])
def test_the_footer_names_datasettes_version_on_every_page(get, path):
    from datasette.version import __version__

    page = get(path).text
    if "Powered by" in page:  # the site's pages have the site's own footer
        assert f'title="Datasette v{__version__}"' in page, path


@pytest.mark.parametrize("path", ["/", "/kb", "/kb/claims", "/kb/claims/o1card-oversight", "/-/check",
                                  "/-/graph", "/-/graph/o1card-oversight", "/kb/claims_under_condition?key=goal_nudge&value="])
def test_every_page_has_the_navigation_bar_with_root_relative_links(get, path):
    page = get(path).text
    nav = re.search(r'<nav class="caveat-nav"[^>]*>(.*?)</nav>', page, re.S)
    assert nav, path
    assert [link for link in NAV if link in nav.group(1)] == NAV


def test_serve_prints_the_three_front_doors():
    lines = urls_lines("http://127.0.0.1:8001")
    assert lines[:3] == ["Check a statement:  http://127.0.0.1:8001/-/check", "Browse the data:    http://127.0.0.1:8001/",
                         "Explainer site:     http://127.0.0.1:8001/site/"]


# ---------------------------------------------------------------- the site under /site/

def test_site_directory_urls_serve_their_index_html(get):
    assert get("/site/").text == "<h1>Site home</h1>"
    assert get("/site/claims/x/").text == "<h1>Card x</h1>"
    css = get("/site/assets/caveat.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_site_urls_without_a_slash_redirect_and_missing_pages_get_the_sites_404(get):
    for path, target in (("/site", "/site/"), ("/site/claims/x", "/site/claims/x/")):
        response = get(path)
        assert response.status_code == 302 and response.headers["location"] == target
    missing = get("/site/claims/nope/")
    assert missing.status_code == 404 and "Not on the site" in missing.text


def test_site_route_never_leaves_the_site_folder(get):
    # (A literal /site/../kb.db is /kb.db to any client: Datasette's own download, not this route.)
    for path in ("/site/%2e%2e/kb.db", "/site/..%2fkb.db", "/site/%2e%2e%2f%2e%2e%2fetc/passwd"):
        response = get(path)
        assert response.status_code in (302, 404) and "SQLite" not in response.text, path


def test_without_a_site_the_route_says_how_to_get_one(built_db, loop):
    files = prepare(ROOT, built_db, echo=quiet)
    ds = Datasette(immutables=[str(files.database)], metadata=metadata(), settings=settings())
    response = loop.run_until_complete(ds.client.get("/site/"))
    assert response.status_code == 404 and "kb serve" in response.text


# ---------------------------------------------------------------- details users hit

def test_column_descriptions_are_behind_a_toggle(get):
    page = get("/kb/claims").text
    details = re.search(r'<details class="caveat-columns">(.*?)</details>', page, re.S)
    assert details and "<summary>What the " in details.group(1) and "<dt>value_text</dt>" in details.group(1)
    css = get("/-/caveat/caveat.css").text
    assert "dl.column-descriptions { display: none; }" in css
    # The rows come right after the toggle, not after ~2,400 px of descriptions.
    assert page.index("</details>", page.index("caveat-columns")) < page.index('<table class="rows-and-columns">')


@pytest.mark.parametrize("query, column, claim", [
    ("claims_for_model_behaviour?model=o3&behaviour=shutdown_resistance", "id", "palisade-with-o3"),
    ("claims_under_condition?key=shutdown_instruction&value=", "id", "palisade-with-o3"),
    ("contrasts_side_by_side?claim=palisade-with-o3&model=&behaviour=", "claim", "palisade-with-o3"),
    ("contrasts_side_by_side?claim=palisade-with-o3&model=&behaviour=", "other_claim", "palisade-without-o3"),
    ("distortion_statistics", "claim_id", "palisade-with-o3"),
    ("statements_dropping_context?key=shutdown_instruction", "claims", "palisade-with-o3"),
])
def test_canned_query_results_link_claim_ids(get, query, column, claim):
    page = get(f"/kb/{query}").text
    assert re.search(rf'<td class="col-{column}[^"]*"><a href="/kb/claims/{claim}">{claim}</a>', page), (query, column)


def test_canned_queries_keep_their_names_parameters_and_json(get):
    rows = get("/kb/claims_for_model_behaviour.json?model=o3&behaviour=shutdown_resistance&_shape=array").json()
    assert "palisade-with-o3" in [r["id"] for r in rows]  # the API gives the plain id
    page = get("/kb/statements_dropping_context?key=shutdown_instruction").text
    assert re.search(r'<td class="col-id[^"]*"><a href="/kb/statements/d13">d13</a>', page)


def test_a_contrast_by_source_names_both_sources_once(get):
    page = get("/kb/claims/o3card-cer-o1").text  # the o3 card reprints the Apollo paper's o1 cell: same measurement
    table = re.search(r'<table class="caveat-table caveat-contrasts">(.*?)</table>', page, re.S).group(1)
    assert "source source" not in table.replace("<code>", "").replace("</code>", "")
    row = next(r for r in table.split("<tr>") if "<td>Source</td>" in r)
    assert "OpenAI o3 and o4-mini System Card" in row and "Frontier Models are Capable of In-context Scheming" in row
    assert "<td></td>" not in table  # no empty cells


def test_claim_page_names_its_own_file_not_a_pattern(get):
    page = get("/kb/claims/o1card-oversight").text
    assert "&lt;source id&gt;" not in page and "<source id>" not in page
    assert "Curated in <code>claims/openai-o1-system-card-2024.yaml</code>, line" in page
    assert 'href="/site/claims/o1card-oversight/"' in page


def test_graph_without_an_id_is_a_page_and_an_unknown_id_a_helpful_404(get):
    page = get("/-/graph")
    assert page.status_code == 200 and "<h1>The claim graph</h1>" in page.text
    assert 'href="/-/graph/o1card-oversight"' in page.text and '<label for="caveat-claim">' in page.text
    assert get("/-/graph?claim=o1card-oversight").headers["location"] == "/-/graph/o1card-oversight"
    missing = get("/-/graph?claim=o1card-oversigth")
    assert missing.status_code == 404 and 'href="/-/graph/o1card-oversight"' in missing.text


def test_row_pages_export_bibtex_and_claimreview(get):
    source = get("/kb/sources/palisade-shutdown-thread-2025.bib")
    assert source.status_code == 200 and source.text.startswith("@") and "palisade-shutdown-thread-2025" in source.text
    assert get("/kb/claims/palisade-with-o3.bib").text == source.text  # a claim's .bib cites its source
    review = get("/kb/statements/d13.jsonld")
    assert review.headers["content-type"].startswith("application/ld+json")
    assert review.json()["@type"] == "ClaimReview" and review.json() == get("/-/claimreview/d13.jsonld").json()
    assert 'href="/kb/sources/palisade-shutdown-thread-2025.bib"' in get("/kb/sources/palisade-shutdown-thread-2025").text


# ---------------------------------------------------------------- the CLI as the web

def test_cli_writes_numbers_as_the_web_does():
    kb = load_valid(ROOT)
    finding = {"claim": "palisade-with-o3", "model": "o3", "behaviour": "shutdown_resistance", "score": 0.9,
               "tier": "match", "value": 0.07, "reported_value": 0.05, "number": "mismatch", "missing_context": [],
               "problems": [], "suggestion": "", "source": "", "locator": ""}
    text = render({"verdict": "misstated", "findings": [finding]}, kb, color=False)
    assert "number: 5% does not match the source (source: 7%)" in text
    assert "0.05" not in text and "0.07" not in text


def test_eval_summary_is_one_line():
    first, second = Evaluation(statements=3), Evaluation(statements=2)
    first.tallies["flag_accuracy"].add(3, 3)
    second.tallies["flag_accuracy"].add(1, 2)
    second.failures.append(("x", ["wrong verdict"]))
    line = summary_line([("a.yaml", first), ("b.yaml", second)])
    assert "\n" not in line and line.startswith("Checker on 5 labelled statements in 2 file(s), pooled: 1 not as labelled;")
    assert "flag accuracy 0.80" in line


def test_site_preview_takes_a_port_and_serve_can_leave_the_site_out():
    assert "--port" in run_kb("site", "--help").stdout
    assert "--no-site" in run_kb("serve", "--help").stdout


def test_the_site_is_rebuilt_when_its_data_pages_or_evaluation_change(tmp_path, built_db):
    import shutil

    from kb.publish.site import STAMP, site_inputs, site_is_stale

    root = tmp_path / "kb"
    shutil.copytree(ROOT / "site", root / "site")
    shutil.copy(ROOT / "mkdocs.yml", root / "mkdocs.yml")
    out, evaluation = tmp_path / "site", tmp_path / "evaluation"
    assert site_is_stale(root, out, built_db, evaluation)  # missing
    out.mkdir()
    (out / "index.html").write_text("<h1>x</h1>", encoding="utf-8")
    (out / STAMP).write_text(json.dumps(site_inputs(root, built_db, evaluation)), encoding="utf-8")
    assert not site_is_stale(root, out, built_db, evaluation)
    evaluation.mkdir()
    (evaluation / "cv.json").write_text("{}", encoding="utf-8")
    assert site_is_stale(root, out, built_db, evaluation)  # a new `kb eval --cv --save`
    (out / STAMP).write_text(json.dumps(site_inputs(root, built_db, evaluation)), encoding="utf-8")
    (root / "site" / "index.md").write_text("# Changed\n", encoding="utf-8")
    assert site_is_stale(root, out, built_db, evaluation)  # a hand-written page changed
    (out / STAMP).write_text(json.dumps(site_inputs(root, built_db, evaluation)), encoding="utf-8")
    assert site_is_stale(root, out, tmp_path / "other.db", evaluation)  # other data


# ---------------------------------------------------------------- the check page says how often the checker is right

def accuracy_line(page: str) -> str:
    """The text of the check page's accuracy line (tags removed)."""
    match = re.search(r'<p class="caveat-accuracy">(.*?)</p>', page, re.S)
    assert match, "the check page has no accuracy line"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", match.group(1))).strip()


def test_check_page_shows_the_committed_cross_validated_figures_and_links_to_the_site(get):
    from kb.format import percent

    cv = json.loads((ROOT / "evaluation" / "cv.json").read_text(encoding="utf-8"))
    pooled = next(s for s in cv["sets"] if s["labels"].startswith("pooled"))
    page = get("/-/check").text
    line = accuracy_line(page)
    figures = pooled["figures"]
    assert (f"Measured on {pooled['statements']} real statements the checker was not fitted on (cross-validated, "
            f"{cv['date']}): flag accuracy {percent(figures['flag_accuracy'])}, claim recall "
            f"{percent(figures['claim_recall'])}, missing-context recall {percent(figures['missing_context_recall'])}, "
            f"false alarms {percent(figures['false_alarm_rate'])}.") in line
    locked = json.loads((ROOT / "evaluation" / "locked-runs.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert f"Locked test fold, latest run ({locked['date']}, {locked['statements']} statements): flag accuracy " \
           f"{percent(locked['figures']['flag_accuracy'])}." in line
    agreement = json.loads((ROOT / "evaluation" / "agreement.json").read_text(encoding="utf-8"))
    assert f"agree on {percent(agreement['figures']['flag_accuracy'])} of flags ({agreement['date']}," in line
    assert 'href="/site/checker/#measured-accuracy"' in page


def test_every_percentage_on_the_check_page_is_a_committed_real_statement_figure(get):
    """Only the evaluation/ files' figures (real statements), never one measured on tests/data's invented sets."""
    from kb.check.published import accuracy_rows
    from kb.format import percent

    committed = {percent(v) for row in accuracy_rows(ROOT / "evaluation") for k, v in row.items()
                 if isinstance(v, float) and k != "kappa"}
    shown = re.findall(r"\d+(?:\.\d+)?%", accuracy_line(get("/-/check").text))
    assert shown and set(shown) <= committed


def test_a_build_without_evaluation_files_serves_a_check_page_saying_the_figures_are_not_available(tmp_path, loop):
    from kb.build import build
    from kb.check.published import accuracy_stage
    from kbtest import copy_data

    root = copy_data(tmp_path / "kb")  # no evaluation/
    database = build(root, root / "build" / "kb.db", (accuracy_stage(root),)).path
    ds = Datasette(immutables=[str(database)], metadata=metadata(), settings=settings())
    loop.run_until_complete(ds.invoke_startup())
    response = loop.run_until_complete(ds.client.get("/-/check"))
    assert response.status_code == 200
    assert accuracy_line(response.text).startswith("How often the checker is right: not available")
    assert "%" not in accuracy_line(response.text)
