"""The journey a new reader takes, in a real headless Chromium against one real `kb serve`: Caveat's home page ->
the check page -> submit a draft -> follow the claim link in the verdict -> the claim page -> its context card on the
explainer site (served by the same server under /site/) -> back. Each page is screenshotted to test-artifacts/ and
checked with axe-core (shipped inside the axe-playwright-python wheel, injected into the page: nothing is fetched)
for contrast, form labels and headings.
"""

from __future__ import annotations

from urllib.parse import quote, urlparse

import pytest

from live import kb_serve, recording_page, screenshot

DRAFT = "o1 tried to disable its oversight mechanism 5% of the time."
CLAIM = "o1card-oversight"
# The axe-core rules for what the issue asks of every page: readable contrast, labelled controls, sound headings.
A11Y_RULES = ["color-contrast", "label", "label-title-only", "button-name", "link-name", "empty-heading",
              "heading-order", "page-has-heading-one", "document-title"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(built_db):
    """One `kb serve` with the site (built next to the test database first) and its checker warmed."""
    with kb_serve(built_db, warm_urls=["/-/check.json?text=" + quote("o1 schemed")], timeout=600, site=True) as base:
        yield base


@pytest.fixture()
def page(browser):
    context, page = recording_page(browser, javascript=True)
    yield page
    context.close()


def accessibility_problems(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    options = {"runOnly": {"type": "rule", "values": A11Y_RULES}, "resultTypes": ["violations"]}
    results = Axe().run(page, options=options)
    return [f"{v['id']}: {v['help']} — {', '.join(str(n['target']) for n in v['nodes'][:3])}"
            for v in results.response["violations"]]


def visit(page, name: str) -> None:
    """Screenshot the page, and fail on any accessibility problem of the rules above."""
    screenshot(page, f"journey-{name}.png")
    assert accessibility_problems(page) == [], f"{name}: {page.url}"


def test_home_check_claim_site_and_back(page, server):
    host = urlparse(server).hostname

    page.goto(server + "/")
    assert page.locator("h1").inner_text() == "Caveat"
    assert page.locator('a[href="/-/check"]').count() >= 1 and page.locator('a[href="/site/"]').count() >= 1
    assert page.locator("nav.caveat-nav a").count() == 5
    visit(page, "1-home")

    page.locator(".caveat-doors a", has_text="Check a statement").click()
    page.wait_for_load_state("load")
    assert urlparse(page.url).path == "/-/check"
    visit(page, "2-check")

    page.get_by_label("Statement").fill(DRAFT)
    page.get_by_role("button", name="Check").click()
    page.wait_for_load_state("load")
    card = page.locator(".caveat-card")
    assert "missing context" in card.locator("h2").inner_text().lower()  # or "Possibly missing …"
    assert "Strong goal nudge" in card.inner_text()
    visit(page, "3-verdict")

    page.locator(".caveat-finding h3 a", has_text=CLAIM).click()
    page.wait_for_load_state("load")
    assert urlparse(page.url).path == f"/kb/claims/{CLAIM}"
    assert "5%" in page.locator(".caveat-facts").inner_text()
    visit(page, "4-claim")

    page.locator(".caveat-site-link a").click()
    page.wait_for_load_state("load")
    assert urlparse(page.url).path == f"/site/claims/{CLAIM}/"
    assert "Oversight subversion" in page.locator("article h1").inner_text()
    assert page.locator('a.caveat-check-link[href="/-/check"]').count() == 1
    assert page.locator("nav.caveat-nav a", has_text="Check a statement").get_attribute("href") == "/-/check"
    visit(page, "5-site-card")

    page.go_back()
    page.wait_for_load_state("load")
    assert urlparse(page.url).path == f"/kb/claims/{CLAIM}"
    assert page.hosts <= {host}, f"the pages contacted other hosts: {page.hosts - {host}}"


def test_site_links_work_under_one_server(page, server):
    """The site's own navigation (directory URLs) works under /site/: every tab leads to a page, not a listing."""
    page.goto(server + "/site/")
    tabs = page.locator(".md-tabs__link")
    hrefs = [tabs.nth(i).get_attribute("href") for i in range(tabs.count())]
    assert len(hrefs) >= 3
    for href in hrefs:
        response = page.goto(page.url.rsplit("/site/", 1)[0] + "/site/" + href.lstrip("./")
                             if not href.startswith("/") else server + href)
        assert response.status == 200 and page.locator("article h1").count() == 1, href
        page.goto(server + "/site/")
    page.goto(server + "/site/checker/")
    table = page.locator("#measured-accuracy ~ .md-typeset__scrollwrap table, #measured-accuracy ~ div table").first
    screenshot(page, "journey-6-site-checker.png")
    assert table.count() == 0 or table.evaluate("t => t.getBoundingClientRect().right <= window.innerWidth + 1")
