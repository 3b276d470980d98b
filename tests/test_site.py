"""The explainer site (`kb site`): a real strict mkdocs build of the real knowledge base, checked through the
built HTML a reader gets. The site is built once per test session (see `built_site`)."""

from __future__ import annotations

import json
import posixpath
import re
import shutil
import sqlite3
from contextlib import closing
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import markdown
import pytest
import yaml

from kb.build import load_valid
from kb.check.store import CHECK_TABLES
from kb.format import format_value
from kb.publish import charts
from kb.publish.bibtex import bibtex_key
from kb.publish.site import build_site, docs_dir_for, run_mkdocs
from kb.publish.sitegen import generate_pages, generated_pages, markup, site_data
from kb.publish.sitegen.contrast_charts import contrast_charts
from kb.publish.sitegen.handwritten import expand
from kb.publish.sitegen.ledger import ledger_page
from kb.wording import faithful_sentence
from kbtest import copy_data

ROOT = Path(__file__).resolve().parents[1]
EXTERNAL = re.compile(r"^\s*(https?:)?//", re.I)
CSS_EXTERNAL = re.compile(r"(@import\s+(url\()?\s*['\"]?|url\(\s*['\"]?)\s*(https?:)?//", re.I)
_BUILT: dict[str, Path] = {}


def built_site(tmp_path_factory, database: Path) -> Path:
    """The site, built once per session into a temporary folder (shared with test_site_browser.py)."""
    if "site" not in _BUILT:
        out = tmp_path_factory.mktemp("kb-site") / "site"
        _BUILT["site"] = build_site(ROOT, out, database=database)  # with the committed evaluation/ figures
    return _BUILT["site"]


@pytest.fixture(scope="session")
def site(tmp_path_factory, built_db) -> Path:
    return built_site(tmp_path_factory, built_db)


@pytest.fixture(scope="session")
def knowledge_base():
    return load_valid(ROOT)


class Page(HTMLParser):
    """What a reader's browser would load and see in one built page: references, ids and visible text."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.refs, self.ids, self.styles, self.words = [], set(), [], []
        self._skip = 0
        self.feed(text)
        self.text = " ".join("".join(self.words).split())

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.ids.update(v for k, v in attrs.items() if k in ("id", "name") and v and (k == "id" or tag == "a"))
        self.refs += [(tag, k, v) for k, v in attrs.items() if k in ("href", "src", "xlink:href") and v]
        self.styles += [attrs["style"]] if attrs.get("style") else []
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style") and self._skip > 0

    def handle_data(self, data):
        if self._skip:
            self.styles.append(data) if self.lasttag == "style" else None
        else:
            self.words.append(data)


_PAGES: dict[Path, Page] = {}


def page(path: Path) -> Page:
    if path not in _PAGES:
        _PAGES[path] = Page(path.read_text(encoding="utf-8"))
    return _PAGES[path]


def html_pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def squash(text: str) -> str:
    return " ".join(text.split())


# ---------------------------------------------------------------- the build

@pytest.mark.slow
def test_strict_build_writes_every_page_family(site):
    for path in ("index.html", "ledger/index.html", "charts/index.html", "conditions/index.html", "tags/index.html",
                 "sources/index.html", "models/index.html", "behaviours/index.html", "claims/index.html",
                 "data-model/index.html", "search/search_index.json"):
        assert (site / path).is_file(), path


@pytest.mark.slow
def test_every_claim_has_a_context_card_at_its_permalink(site, knowledge_base):
    for claim_id, claim in knowledge_base.claims.items():
        card = site / "claims" / claim_id / "index.html"
        assert card.is_file(), f"no context card for {claim_id}"
        assert squash(faithful_sentence(knowledge_base, claim)) in page(card).text, claim_id


@pytest.mark.slow
def test_every_source_model_and_behaviour_has_its_page(site, knowledge_base):
    for folder, ids in (("sources", knowledge_base.sources), ("models", knowledge_base.models),
                        ("behaviours", knowledge_base.behaviours)):
        missing = [i for i in ids if not (site / folder / i / "index.html").is_file()]
        assert not missing, f"{folder}: {missing}"


@pytest.mark.slow
def test_cards_carry_the_bibtex_entry_of_their_source(site, knowledge_base):
    for claim_id, claim in knowledge_base.claims.items():
        source = knowledge_base.source_of(claim)
        text = page(site / "claims" / claim_id / "index.html").text
        assert re.search(r"@\w+\{" + re.escape(bibtex_key(source)) + ",", text), claim_id


@pytest.mark.slow
def test_cards_are_tagged_with_model_behaviour_source_and_status(site):
    text = page(site / "claims" / "o1card-oversight" / "index.html")
    tags = {unquote(v) for _, k, v in text.refs if k == "href" and "tags/#tag:" in v}
    assert {"../../tags/#tag:model-openai-o1", "../../tags/#tag:status-verified"} <= tags


# ---------------------------------------------------------------- links and assets

def _resolve(site: Path, html_path: Path, ref: str) -> tuple[Path, str]:
    parts = urlsplit(ref)
    if not parts.path:
        return html_path, parts.fragment
    base = posixpath.dirname(html_path.relative_to(site).as_posix())
    # Root-relative links (only Material's 404 page uses them) assume the site is served at the host's root.
    joined = unquote(parts.path).lstrip("/") if parts.path.startswith("/") else posixpath.join(base, unquote(parts.path))
    target = site / posixpath.normpath(joined)
    return (target / "index.html" if target.is_dir() else target), parts.fragment


@pytest.mark.slow
def test_internal_links_resolve_to_built_files_and_anchors(site):
    from kb.publish.site import caveat_settings

    beside = set(caveat_settings(ROOT).values())  # the check page, the data, the graph: kb serve serves them
    broken = []
    for html_path in html_pages(site):
        for tag, attr, ref in page(html_path).refs:
            if urlsplit(ref).scheme or ref.startswith("//") or ref in beside:
                continue  # links to the sources themselves (arxiv.org, openai.com) are meant to leave the site
            target, fragment = _resolve(site, html_path, ref)
            if not target.is_file():
                broken.append(f"{html_path.relative_to(site)}: <{tag} {attr}={ref}> -> missing file")
            elif fragment and target.suffix == ".html" and unquote(fragment) not in page(target).ids:
                broken.append(f"{html_path.relative_to(site)}: <{tag} {attr}={ref}> -> missing anchor")
    assert not broken, f"{len(broken)} broken links, e.g.\n" + "\n".join(broken[:20])


@pytest.mark.slow
def test_no_page_loads_a_script_stylesheet_or_font_from_another_host(site):
    offenders = []
    for html_path in html_pages(site):
        parsed = page(html_path)
        for tag, attr, ref in parsed.refs:
            if tag in ("script", "link", "img", "source", "iframe", "image", "use") and EXTERNAL.match(ref):
                offenders.append(f"{html_path.relative_to(site)}: <{tag} {attr}={ref}>")
        offenders += [f"{html_path.relative_to(site)}: style {s[:80]}" for s in parsed.styles if CSS_EXTERNAL.search(s)]
    for css in site.rglob("*.css"):
        offenders += [f"{css.relative_to(site)}: {m.group(0)}" for m in CSS_EXTERNAL.finditer(css.read_text(encoding="utf-8"))]
    assert not offenders, "\n".join(offenders[:20])


@pytest.mark.slow
def test_the_external_asset_scan_would_catch_google_fonts():
    """The scan above must be able to fail: Material's own Google Fonts link is what it looks for."""
    parsed = Page('<link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Roboto">'
                  '<style>@import url("//fonts.example.org/x.css")</style>')
    assert any(EXTERNAL.match(ref) for _, _, ref in parsed.refs)
    assert any(CSS_EXTERNAL.search(s) for s in parsed.styles)


# ---------------------------------------------------------------- numbers keep their conditions

@pytest.mark.slow
def test_o1_oversight_card_gives_5_percent_with_the_goal_nudge(site):
    text = page(site / "claims" / "o1card-oversight" / "index.html").text
    assert "5%" in text and "Strong goal nudge" in text
    assert "after being instructed to strongly pursue a specific goal" in text
    assert "o1-near-final-checkpoint" in text


@pytest.mark.slow
def test_a_bounded_value_is_never_shown_as_the_figure(site):
    text = page(site / "claims" / "o1card-nonudge-oversight" / "index.html").text
    assert "under 1%" in text and "<1%" in text and "in 1% of runs" not in text
    contrast = page(site / "claims" / "o1card-oversight" / "index.html").text
    assert "without the nudge: under 1%" in contrast and "without the nudge: 1%" not in contrast


@pytest.mark.slow
def test_the_changelog_page_and_each_card_list_the_corrections(site, knowledge_base):
    text = page(site / "changelog" / "index.html").text
    assert "Data changelog" in text and f"{len(knowledge_base.changes)} corrections" in text
    assert "o1card-nonudge-oversight" in text and "model_sabotage" in text
    card = page(site / "claims" / "o1card-nonudge-oversight" / "index.html").text
    corrections = card[card.index("Date Field Was Now Why Source"):]
    assert "value_text" in corrections and "0.01" in corrections and "<1%" in corrections and "bound" in corrections
    corrected = {change.claim for change in knowledge_base.changes}
    untouched = min(c for c in knowledge_base.claims if c not in corrected)  # fewer each audit: found, not named
    assert "None recorded" in page(site / "claims" / untouched / "index.html").text


@pytest.mark.slow
def test_palisade_o3_card_gives_7_percent_with_the_instruction_and_the_79_percent_contrast(site):
    text = page(site / "claims" / "palisade-with-o3" / "index.html").text
    assert "7%" in text and "7/100 runs" in text
    assert "Allow-shutdown instruction" in text and "If that happens, please allow yourself to be shut down." in text
    assert "absent: 79%" in text  # the contrast, side by side


@pytest.mark.slow
def test_every_unverified_number_is_flagged_on_its_card_and_its_source_page(site, knowledge_base):
    flagged = [c for c in knowledge_base.claims.values() if c.verification != "verified"]
    assert any(c.verification == "secondary" for c in flagged)
    for claim in flagged:
        card = page(site / "claims" / claim.id / "index.html").text
        assert f"Not verified: {claim.verification}" in card, claim.id
        source_page = (site / "sources" / knowledge_base.claim_sources[claim.id] / "index.html").read_text(encoding="utf-8")
        row = _row_linking(source_page, claim.id)
        assert f"⚠ {claim.verification}" in row, claim.id


def _row_linking(html_text: str, claim_id: str) -> str:
    """The text of the results-table row (in "Results by setting") whose value links to the claim's card."""
    results = html_text[html_text.index('id="results-by-setting"'):]
    rows = re.findall(r"<tr>(.*?)</tr>", results, re.S)
    mine = [r for r in rows if re.search(rf'href="[./]*claims/{re.escape(claim_id)}/"', r)]
    assert mine, f"no table row for {claim_id}"
    return Page(mine[0]).text


@pytest.mark.slow
def test_every_number_on_a_source_page_sits_next_to_its_key_conditions(site, knowledge_base):
    for claim in knowledge_base.claims.values():
        source_page = (site / "sources" / knowledge_base.claim_sources[claim.id] / "index.html").read_text(encoding="utf-8")
        row = _row_linking(source_page, claim.id)
        assert format_value(claim) in row, claim.id
        for key in claim.key_context or []:
            condition = knowledge_base.conditions_of(claim).get(key)
            if condition is not None:
                assert f"{knowledge_base.context[key].label}: {squash(condition.value)}" in row, (claim.id, key)


@pytest.mark.slow
def test_charts_compare_the_nudge_the_shutdown_instruction_and_the_o1_card(site):
    charts = (site / "charts" / "index.html").read_text(encoding="utf-8")
    for chart_id in ("apollo-covert-strong-nudge-vs-apollo-covert-no-nudge",
                     "palisade-with-allow-shutdown-vs-palisade-without-allow-shutdown",
                     "o1-card-strong-nudge-vs-o1-card-no-nudge"):
        assert f'id="chart-{chart_id}"' in charts
        svg = re.search(rf'<svg[^>]*aria-labelledby="{chart_id}-title {chart_id}-desc".*?</svg>', charts, re.S)
        assert svg and "<desc" in svg.group(0), chart_id
    palisade = re.search(r'<svg[^>]*palisade-with-allow-shutdown-vs[^>]*>.*?</svg>', charts, re.S).group(0)
    assert re.search(r">7%[ <]", palisade) and re.search(r">79%[ <]", palisade)


@pytest.mark.slow
def test_source_pages_draw_a_claim_graph_readable_for_big_sources(site, knowledge_base):
    apollo = (site / "sources" / "apollo-in-context-scheming-2024" / "index.html").read_text(encoding="utf-8")
    diagram = re.search(r'<svg[^>]*class="caveat-graph".*?</svg>', apollo, re.S).group(0)
    boxes = diagram.count("<rect")
    claims = sum(1 for c in knowledge_base.claims if knowledge_base.claim_sources.get(c) == "apollo-in-context-scheming-2024")
    assert 10 < boxes < claims / 2, f"{boxes} boxes: the summary should be far fewer than the {claims} claims"


# ---------------------------------------------------------------- generation, without mkdocs

@pytest.mark.slow
def test_generated_markdown_is_deterministic(site, tmp_path, built_db):
    """Generate the pages again from the same data: byte for byte what the session's build generated."""
    first = docs_dir_for(site)
    again = tmp_path / "again"
    generate_pages(ROOT, again, site_data(load_valid(ROOT), built_db, ROOT / "evaluation"))
    trees = [{p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()} for d in (first, again)]
    assert trees[0].keys() == trees[1].keys()
    assert [name for name in trees[0] if trees[0][name] != trees[1][name]] == []
    assert not any(re.search(rb"20\d\d-\d\d-\d\dT\d\d:", body) for body in trees[0].values())


def _render(text: str) -> str:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    names, configs = [], {}
    for entry in config["markdown_extensions"]:
        name, options = next(iter(entry.items())) if isinstance(entry, dict) else (entry, {})
        names.append(name)
        configs[name] = options or {}
    body = text.split("---\n", 2)[2] if text.startswith("---\n") else text
    return markdown.markdown(body, extensions=names, extension_configs=configs)


NASTY = "<script>alert(1)</script> | *bold* [x](y) _u_ `tick`"


@pytest.mark.parametrize("value", [NASTY, "- a list?", "1. a numbered list?", "# a heading?", "a\\b {#id} ~x~",
                                   "https://example.org/?a=1&b=2"])
def test_escaped_text_renders_as_itself(value):
    rendered = _render(f"| a | b |\n|---|---|\n| {markup.text(value)} | x |\n\n{markup.text(value)}\n")
    assert rendered.count("<td>") == 2 and "<script>" not in rendered
    assert Page(rendered).text.count(squash(value)) == 2


@pytest.mark.slow
def test_data_text_is_escaped_where_it_lands(tmp_path):
    root = copy_data(tmp_path)
    source_file = root / "sources" / "palisade-shutdown-thread-2025.yaml"
    source_file.write_text(source_file.read_text(encoding="utf-8").replace(
        "title: Shutdown resistance thread", f"title: '{NASTY}'"), encoding="utf-8")
    claims_file = root / "claims" / "palisade-shutdown-thread-2025.yaml"
    claims_file.write_text(claims_file.read_text(encoding="utf-8").replace(
        "measure: sabotaged shutdown script", f"measure: '{NASTY}'", 1), encoding="utf-8")
    site = site_data(load_valid(root))
    pages = generated_pages(site, contrast_charts(site.kb))
    for name in ("sources/palisade-shutdown-thread-2025.md", "claims/palisade-with-codex-mini.md", "sources/index.md",
                 "models/codex-mini.md"):
        rendered = _render(pages[name])
        assert "<script>" not in rendered and "<em>bold</em>" not in rendered, name
        assert NASTY in Page(rendered).text, name
        for table in re.findall(r"<table>.*?</table>", rendered, re.S):
            widths = {len(re.findall(r"<t[hd][ >]", row)) for row in re.findall(r"<tr>.*?</tr>", table, re.S)}
            assert len(widths) == 1, f"{name}: a table row has a different number of cells"


# ---------------------------------------------------------------- the checker's data, when it exists

def _checker_db(path: Path) -> Path:
    """The checker's tables as kb.check.store lays them out, with two verdicts; d12's only finding is a "suggest"."""
    findings = [("d01", 0, "o1card-oversight", "match", '["goal_nudge"]', '[{"kind": "dropped_context", "detail": ""}]',
                 "It drops: strong goal nudge."),
                ("d12", 0, "palisade-with-o3", "suggest", '["shutdown_instruction"]', "[]", "Possibly about o3.")]
    with closing(sqlite3.connect(path)) as conn, conn:
        for table in CHECK_TABLES:
            conn.execute(f"create table {table.name} ({', '.join(name for name, _type, _doc in table.columns)})")
        conn.executemany("insert into checks (statement_id, verdict) values (?, ?)",
                         [("d01", "missing_context"), ("d12", "misstated")])
        conn.executemany("insert into findings (statement_id, position, claim_id, tier, missing_context, problems, "
                         "explanation) values (?, ?, ?, ?, ?, ?, ?)", findings)
    return path


def test_ledger_shows_machine_verdicts_and_agreement_when_the_checker_has_run(tmp_path, knowledge_base):
    site = site_data(knowledge_base, _checker_db(tmp_path / "kb.db"))
    text = Page(_render(ledger_page(site)["ledger.md"])).text
    assert "Checker: Missing context (agrees with the human label); flagged as dropped: Strong goal nudge" in text
    assert "It drops: strong goal nudge." in text
    assert "Checker: Misstated (disagrees with the human label)" in text
    # A "suggest" finding is not a claim the statement reports: nothing flagged, no explanation.
    assert "Checker: Misstated (disagrees with the human label); flagged" not in text
    assert "Possibly about o3." not in text
    assert "The checker agrees with the human label on 1 of 2 labelled statements it has checked." in text
    assert "Flagged by the checker" in text


def test_ledger_speaks_in_words_not_ids(tmp_path, knowledge_base):
    """Verdicts by their labels and claims by model and behaviour: no raw id such as missing_context or a claim id
    wrapping over three lines (the id is in the card's address)."""
    site = site_data(knowledge_base, _checker_db(tmp_path / "kb.db"))
    markdown = ledger_page(site)["ledger.md"]
    text = Page(_render(markdown)).text
    raw = re.findall(r"(?:Verdict \(human label\)|Checker|also acceptable): (?:ok|missing_context|misstated|no_claim)\b", text)
    assert raw == []  # (a curator's note may still name a verdict id in its own words)
    assert "| missing_context |" not in markdown
    assert "Verdict (human label): Missing context" in text
    assert "[OpenAI o3 · Shutdown resistance](claims/palisade-with-o3.md)" in markdown
    assert "`palisade-with-o3`" not in markdown


def test_chart_headings_are_short_and_unique(knowledge_base):
    from kb.publish.sitegen.contrast_charts import contrast_charts, headings

    site = site_data(knowledge_base)
    titles = headings(site, contrast_charts(knowledge_base))
    assert titles and len(set(titles.values())) == len(titles)
    assert max(len(t) for t in titles.values()) <= 100, max(titles.values(), key=len)  # they were up to 170


def test_a_row_heading_names_only_what_both_of_its_bars_share(knowledge_base):
    # The anti-scheming chart pairs "rate before training" with "rate after training": the heading over each row was
    # the first claim's measure, so both bars read as "before".
    from kb.publish.sitegen.contrast_charts import chart_svg, chart_table, contrast_charts

    site = site_data(knowledge_base)
    chart = next(c for c in contrast_charts(knowledge_base) if c.id.startswith("anti-scheming-before-training-vs"))
    svg = chart_svg(site, chart, "charts.md")
    groups = re.findall(r'<text class="group"[^>]*>([^<]*)</text>', svg)
    assert groups == ["Covert action"], groups
    table = chart_table(site, chart, "charts.md")
    assert "rate before" in table and "rate after" in table  # the table still gives each measure


def test_the_scan_charts_key_labels_end_before_its_strips():
    # "Dropped: Allow-shutdown instructi…" ran 30 px into the first week's strip.
    from kb.publish.sitegen import scan_charts

    weeks = [("2025-W02", 3, 2, {"shutdown_instruction": 0.5}), ("2025-W03", 1, 1, {"shutdown_instruction": 1.0})]
    svg = scan_charts.scan_chart("s", "c", weeks, ["shutdown_instruction"], lambda _key: "Allow-shutdown instruction")
    labels = re.findall(r'<text x="(\d+)" y="\d+"><title>[^<]*</title>([^<]*)</text>', svg)
    strips = [float(x) for x in re.findall(r'<rect x="([\d.]+)"[^>]*fill-opacity', svg)]
    assert labels and strips
    for x, text in labels:
        assert int(x) + len(text) * charts.CHAR_W <= min(strips), text


def test_a_value_label_that_would_pass_the_right_edge_is_drawn_inside_its_bar():
    # "94.5% (secondary, not verified)" at the end of a long bar was cut off by the chart's edge.
    label = "94.5% (secondary, not verified)"
    svg = charts.bar_chart("c", "t", "d", ["a", "b"], [charts.Row("g", "m", (charts.Bar(0.945, label), charts.Bar(0.1, "10%")))],
                           "Share", "Model")
    inside = re.search(rf'<text x="([\d.]+)" y="\d+" text-anchor="end"[^>]*>{re.escape(label)}</text>', svg)
    assert inside and float(inside.group(1)) <= charts.WIDTH - charts.PAD
    assert re.search(r'<text x="[\d.]+" y="\d+">10%</text>', svg)  # short bars keep their label after the bar


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "site").glob("*.md")))
def test_no_page_hard_codes_a_servers_address(knowledge_base, name):
    # The site is served by kb serve on any address, or by another static host: "127.0.0.1:8001" was wrong there.
    site = site_data(knowledge_base)
    charts_found = {chart.id: chart for chart in contrast_charts(knowledge_base)}
    text = expand(site, name, (ROOT / "site" / name).read_text(encoding="utf-8"), charts_found, name)
    assert not re.search(r"127\.0\.0\.1|localhost|:8001\b", text), re.search(r".{60}(127\.0\.0\.1|localhost).{20}", text)


def test_ledger_shows_human_labels_only_without_checker_tables(tmp_path, knowledge_base):
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    text = Page(_render(ledger_page(site_data(knowledge_base, empty))["ledger.md"])).text
    assert "Only human labels are shown" in text and "Checker:" not in text
    assert "Distortion by claim" in text and "Times flagged" in text


def test_accuracy_section_shows_only_committed_real_statement_figures_or_says_how_to_make_them(tmp_path, knowledge_base):
    checker_page = (ROOT / "site" / "checker.md").read_text(encoding="utf-8")
    folder = tmp_path / "evaluation"
    absent = expand(site_data(knowledge_base, eval_path=folder), "checker.md", checker_page, {}, "checker.md")
    assert "kb eval --cv --save evaluation/cv.json" in absent
    folder.mkdir()
    (folder / "cv.json").write_text(json.dumps({"date": "2026-12-07", "sets": [
        {"labels": "cv1", "statements": 100, "figures": {"flag_accuracy": 0.5}},
        {"labels": "pooled (cv1-cv5)", "statements": 690, "figures": {"flag_accuracy": 0.85, "false_alarm_rate": 0.125},
         "flag_assertion": {"assert_from": None, "tentative_precision": 0.61}}]}))
    (folder / "locked-runs.jsonl").write_text(json.dumps({"date": "2026-12-07", "commit": "abc1234", "statements": 254,
                                                          "figures": {"flag_accuracy": 0.8}}) + "\n")
    (folder / "agreement.json").write_text(json.dumps({"statements": 289, "kappa": 0.87, "date": "2026-12-06",
                                                       "figures": {"flag_accuracy": 0.94}}))
    present = Page(_render(expand(site_data(knowledge_base, eval_path=folder), "checker.md", checker_page, {},
                                  "checker.md"))).text
    assert "Flag accuracy" in present and "85%" in present and "12.5%" in present and "at least 90%" in present
    assert "flag_accuracy" not in present  # figures by name, not by id
    assert "cross-validated (2026-12-07)" in present and "690" in present  # the pooled row, never one fold
    assert "locked test fold (2026-12-07, commit abc1234)" in present and "80%" in present
    assert "Two annotators, against each other (2026-12-06)" in present and "94%" in present
    assert "kappa over the verdict is 0.87" in present
    assert ("No confidence of the checker makes its flags right 9 in 10 times, so every flag is shown as one to verify "
            "(right about 6 in 10 times).") in present


def test_the_built_checker_page_shows_no_figure_measured_on_invented_sets(site):
    page = (site / "checker" / "index.html").read_text(encoding="utf-8")
    assert "heldout" not in page and "variants" not in page and "tests/data" not in page
    assert "cross-validated" in page


# ---------------------------------------------------------------- strict mode is really strict

def _stub_docs(docs: Path, extra: str = ""):
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    def pages(nav):
        for item in nav:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            yield from (pages(value) if isinstance(value, list) else [value])
    for name in pages(config["nav"]):
        (docs / name).parent.mkdir(parents=True, exist_ok=True)
        (docs / name).write_text(f"# {name}\n\n{extra if name == 'index.md' else ''}\n", encoding="utf-8")
    (docs / "assets").mkdir(exist_ok=True)
    shutil.copy(ROOT / "site" / "assets" / "caveat.css", docs / "assets" / "caveat.css")


@pytest.mark.slow
def test_strict_build_fails_on_a_broken_link(tmp_path):
    from mkdocs.exceptions import Abort

    _stub_docs(tmp_path / "good")
    run_mkdocs(ROOT, tmp_path / "good", tmp_path / "good-site")
    _stub_docs(tmp_path / "bad", extra="[a card that does not exist](claims/no-such-claim.md)")
    with pytest.raises(Abort):
        run_mkdocs(ROOT, tmp_path / "bad", tmp_path / "bad-site")


def test_unknown_placeholder_names_the_file(knowledge_base):
    from kb.publish.sitegen import SiteError

    with pytest.raises(SiteError, match=r"site/x\.md: unknown placeholder .*known: .*value"):
        expand(site_data(knowledge_base), "x.md", "{{caveat:valeu o1card-oversight}}", {}, "site/x.md")
    with pytest.raises(SiteError, match=r"site/x\.md: placeholder .*unknown claim 'no-such-claim'"):
        expand(site_data(knowledge_base), "x.md", "{{caveat:value no-such-claim}}", {}, "site/x.md")


def test_hand_written_pages_type_no_claim_values_by_hand():
    """Numbers in hand-written prose come from placeholders, except inside quotations of statements."""
    for path in sorted((ROOT / "site").glob("*.md")):
        prose = re.sub(r"\[\"[^\]]*\"\]\([^)]*\)|\"[^\"]*\"|`[^`]*`", "", path.read_text(encoding="utf-8"))
        typed = re.findall(r"\b\d+(?:\.\d+)?\s?%", prose)
        assert not typed, f"{path.name}: typed percentages {typed}; use {{{{caveat:value CLAIM}}}}"


# ---------------------------------------------------------------- the hand-drawn charts

def _chart(rows, signed=False):
    return charts.bar_chart("c1", "A <title>", "A desc & more", ["with", "without"], rows, "Share of runs", "Model",
                            signed=signed)


def test_bar_chart_is_accessible_and_escapes_its_text():
    svg = _chart([charts.Row("Group <g>", "Model & co", (charts.Bar(0.5, "50%", "../x/"), None))])
    assert '<title id="c1-title">A &lt;title&gt;</title>' in svg and '<desc id="c1-desc">A desc &amp; more</desc>' in svg
    assert 'aria-labelledby="c1-title c1-desc"' in svg and ">Share of runs<" in svg and ">Model<" in svg
    assert ">Group &lt;g&gt;<" in svg and "Model &amp; co" in svg and ">50%<" in svg and ">no value<" in svg
    assert '<a href="../x/">' in svg


def test_bar_lengths_are_proportional_to_values():
    svg = _chart([charts.Row("g", "m", (charts.Bar(0.25, "25%"), charts.Bar(1.0, "100%")))])
    widths = [float(w) for w in re.findall(r'<rect x="[\d.]+" y="\d+" width="([\d.]+)" height="13"', svg)]
    assert len(widths) == 2 and widths[1] == pytest.approx(4 * widths[0])


def test_signed_chart_draws_negative_values_left_of_zero():
    svg = _chart([charts.Row("g", "m", (charts.Bar(0.65, "65 points"), charts.Bar(-0.04, "-4 points")))], signed=True)
    ticks = re.findall(r'text-anchor="middle">(-?[\d.]+)<', svg)
    assert ticks[0] == "-10" and "0" in ticks and ">-4 points<" in svg
