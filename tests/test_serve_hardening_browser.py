"""The Content-Security-Policy in a real Chromium: every page kb serve shows works under it, with no violation.

A policy the pages break would be switched off by the next person to hit it; this test keeps it and the pages
compatible. Each page records `securitypolicyviolation` events and console errors; scripted features (the SQL
editor, the check form, the column menu) are used, not only loaded. A framing attempt from another origin is
refused. Needs /usr/bin/chromium (never downloaded); skips without it unless CAVEAT_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from live import kb_serve, recording_page, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]
DROPS_NUDGE = "o1 tried to disable its oversight mechanism 5% of the time."
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation',
    e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
"""
PAGES = ["/", "/kb", "/kb/claims", "/kb/claims?_facet=model&_sort=value", "/kb/claims/o1card-oversight",
         "/kb/statements/d01", "/kb/sources", "/-/graph/o1card-oversight", "/-/check",
         "/-/check?text=" + quote(DROPS_NUDGE), "/kb?sql=" + quote("select id, value from claims limit 3"),
         "/-/databases", "/-/bibtex/anthropic-agentic-misalignment-2025.bib", "/no/such/page", "/site/",
         "/site/claims/o1card-oversight/"]


@pytest.fixture(scope="module")
def server(built_db):
    with kb_serve(built_db, warm_urls=["/-/check.json?text=" + quote("o1 schemed")]) as base:
        yield base


@pytest.fixture()
def page(browser):
    context, page = recording_page(browser, javascript=True)
    page.add_init_script(RECORD_VIOLATIONS)
    page.console_errors = []
    page.on("console", lambda message: message.type == "error" and page.console_errors.append(message.text))
    yield page
    context.close()


def violations(page) -> list:
    return page.evaluate("window.__violations") + [m for m in page.console_errors if "Content Security Policy" in m]


@pytest.mark.parametrize("path", PAGES)
def test_each_page_works_under_the_policy(server, page, path):
    response = page.goto(server + path)
    assert "content-security-policy" in response.headers
    page.wait_for_load_state("networkidle")
    assert violations(page) == [], path
    assert page.hosts <= {"127.0.0.1"}


def test_scripted_features_work_under_the_policy(server, page):
    page.goto(server + "/kb?sql=" + quote("select id from claims limit 2"))
    page.wait_for_selector(".CodeMirror")  # Datasette's SQL editor (CodeMirror 5) replaced the text box
    page.goto(server + "/-/check")
    page.fill("#caveat-text", DROPS_NUDGE)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "missing context" in page.locator(".caveat-card-verdict").inner_text().lower()
    page.goto(server + "/kb/claims")
    page.locator("svg.dropdown-menu-icon, .column-actions, th .dropdown-menu-icon").first.click()
    page.wait_for_selector(".dropdown-menu", state="visible")  # the column menu is Datasette's inline script
    screenshot(page, "csp-column-menu.png")
    assert violations(page) == []


def test_another_site_cannot_frame_the_pages(server, browser):
    context, page = recording_page(browser, javascript=True)
    try:
        page.goto(server + "/kb/claims")
        assert page.locator("table.rows-and-columns").count() == 1  # the page itself shows its table
        page.set_content(f'<iframe id="f" src="{server}/kb/claims"></iframe>')
        page.wait_for_load_state("load")
        frame = page.frame_locator("#f")
        assert frame.locator("table.rows-and-columns").count() == 0  # framed from elsewhere, it shows nothing
    finally:
        context.close()
