"""The built explainer site in a real headless Chromium, served over a local http.server: the home page and a
context card render with their key text, search works offline, and no request leaves 127.0.0.1.

Needs /usr/bin/chromium (never downloaded). Without it the tests skip, unless CAVEAT_REQUIRE_BROWSER=1.
Screenshots go to test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import functools
import http.server
import threading

import pytest

from kb.publish.site import QuietHandler
from live import recording_page, screenshot
from test_site import built_site

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def served(tmp_path_factory, built_db):
    """The built site on http://127.0.0.1:<free port>/ for the duration of this module."""
    site = built_site(tmp_path_factory, built_db)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    thread.join()


@pytest.fixture
def page(browser):
    """A fresh page that records every host it asks for."""
    context, tab = recording_page(browser, width=1280, height=900)
    yield tab
    context.close()


def test_home_page_tells_the_5_percent_story_with_its_conditions(page, served):
    page.goto(served)
    page.wait_for_load_state("networkidle")
    text = page.inner_text("article")
    assert 'The "5%", told properly' in text
    assert "Say it like this" in text and "instructed to strongly pursue" in text
    assert page.locator("article a[href='claims/o1card-oversight/']").count() >= 1
    assert screenshot(page, "site-home.png").stat().st_size > 10_000
    assert page.hosts == {"127.0.0.1"}


def test_context_card_shows_the_number_its_conditions_and_citation(page, served):
    page.goto(served + "claims/o1card-oversight/")
    page.wait_for_load_state("networkidle")
    text = page.inner_text("article")
    assert "OpenAI o1 · Oversight subversion" in page.inner_text("h1")
    for expected in ("Say it like this", "5%", "Strong goal nudge", "Key conditions", "How it has been reported",
                     "Simon Willison", "@techreport{openai-o1-system-card-2024"):
        assert expected in text, expected
    assert page.locator(".caveat-diagram svg").bounding_box()["width"] > 300  # the claim graph is drawn
    assert screenshot(page, "site-card-o1card-oversight.png").stat().st_size > 10_000
    assert page.hosts == {"127.0.0.1"}


def test_search_works_offline(page, served):
    page.goto(served)
    page.wait_for_load_state("networkidle")
    page.focus("input[data-md-component='search-query']")
    # The index loads in a web worker after the page; type only once Material says it is ready.
    page.wait_for_function("document.querySelector('.md-search-result__meta').textContent.trim() !== 'Initializing search'",
                           timeout=15_000)
    page.keyboard.type("Palisade shutdown")
    results = page.locator(".md-search-result__item")
    results.first.wait_for(timeout=15_000)
    assert results.count() > 0
    assert page.hosts == {"127.0.0.1"}


def test_chart_renders_with_its_bars(page, served):
    page.goto(served + "charts/")
    chart = page.locator("#chart-palisade-with-allow-shutdown-vs-palisade-without-allow-shutdown ~ .caveat-chart svg").first
    box = chart.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 100
    assert chart.locator("rect").count() >= 10  # two bars for each of the five models
    screenshot(page, "site-charts.png")


def test_the_ledgers_distortion_table_shows_all_its_columns_at_1280_px(page, served):
    # A claim with no single number shows the source's sentence as its value; kept on one line, it stretched the
    # Value column to 746 px and only 2 of the 6 columns were on screen.
    page.goto(served + "ledger/")
    table = page.locator("h2#distortion-by-claim ~ .md-typeset__scrollwrap table, h2#distortion-by-claim ~ table").first
    headers = table.locator("thead th")
    assert headers.count() >= 5
    for index in range(headers.count()):
        box = headers.nth(index).bounding_box()
        assert box and box["x"] + box["width"] <= 1280, (headers.nth(index).inner_text(), box)


def test_no_chart_text_runs_past_the_charts_edge(page, served):
    page.goto(served + "charts/")
    clipped = page.evaluate("""() => [...document.querySelectorAll('svg.chart')].flatMap(svg =>
        [...svg.querySelectorAll('text')].filter(t => { const b = t.getBBox(); return b.x + b.width > svg.viewBox.baseVal.width + 1; })
            .map(t => t.textContent))""")
    assert clipped == []
