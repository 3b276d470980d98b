"""/-/check in a real headless Chromium against `kb serve`: type a statement, submit, read the verdict card.

The form must work with JavaScript off; the XSS test turns it on, so a payload that ran would raise a dialog.
Needs /usr/bin/chromium (never downloaded); without it the tests skip, unless CAVEAT_REQUIRE_BROWSER=1.
Screenshots go to test-artifacts/ (git-ignored).
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from live import kb_serve, recording_page, screenshot

DROPS_NUDGE = "o1 tried to disable its oversight mechanism 5% of the time."

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(built_db):
    """`kb serve` with its checker loaded by a first check."""
    with kb_serve(built_db, warm_urls=["/-/check.json?text=" + quote("o1 schemed")]) as base:
        yield base


@pytest.fixture()
def page(browser):
    context, page = recording_page(browser, javascript=False)
    yield page
    context.close()


@pytest.fixture()
def scripted_page(browser):
    context, page = recording_page(browser, javascript=True)
    yield page
    context.close()


def submit(page, server: str, text: str):
    page.goto(server + "/-/check")
    page.fill("#caveat-text", text)
    with page.expect_navigation():
        page.click("button[type=submit]")


def test_a_statement_that_drops_the_goal_nudge_shows_the_verdict_and_the_missing_condition(server, page):
    submit(page, server, DROPS_NUDGE)
    verdict = page.locator(".caveat-card-verdict")
    assert verdict.is_visible() and "missing context" in verdict.inner_text().lower()  # or "Possibly missing …"
    missing = page.locator(".caveat-missing li", has_text="Strong goal nudge")
    assert missing.is_visible() and "pursue its goal above all else" in missing.inner_text()
    assert page.locator("#caveat-text").input_value() == DROPS_NUDGE  # the text stays in the box to edit
    screenshot(page, "check-drops-goal-nudge.png")

    page.locator(".caveat-finding h3 a").first.click()
    page.wait_for_url("**/kb/claims/o1card-oversight")
    assert "o1card-oversight" in page.locator("h1").inner_text()
    assert page.hosts == {"127.0.0.1"}, f"pages loaded assets from other hosts: {page.hosts}"


def test_a_misstated_number_is_shown_in_red_words(server, page):
    submit(page, server, "o3 sabotaged shutdown in 79% of runs, even when told to allow it.")
    assert "misstated" in page.locator(".caveat-card-verdict").inner_text().lower()
    number = page.locator(".caveat-number-other_condition")
    assert number.is_visible() and "belongs to another condition" in number.inner_text()
    assert number.evaluate("e => getComputedStyle(e).color") == "rgb(185, 28, 28)"
    screenshot(page, "check-misstated.png")


def test_text_over_the_limit_says_so(server, page):
    submit(page, server, "x" * 20_001)
    warning = page.locator(".caveat-error-message")
    assert warning.is_visible() and "the limit is 20,000" in warning.inner_text()
    screenshot(page, "check-too-long.png")


def test_one_click_selects_the_whole_faithful_wording(server, scripted_page):
    submit(scripted_page, server, DROPS_NUDGE)
    wording = scripted_page.locator(".caveat-copy").first
    wording.click()
    assert scripted_page.evaluate("window.getSelection().toString()").strip() == wording.inner_text().strip()


def test_script_payloads_do_not_run(server, scripted_page):
    text = f"<script>alert(1)</script> <img src=x onerror=alert(2)> \"><svg onload=alert(3)> {DROPS_NUDGE}"
    submit(scripted_page, server, text)
    assert "missing context" in scripted_page.locator(".caveat-card-verdict").inner_text().lower()
    assert scripted_page.locator("#caveat-text").input_value() == text  # came back as text
    assert scripted_page.locator(".content img, .content svg").count() == 0
    screenshot(scripted_page, "check-payload-inert.png")
    assert scripted_page.dialogs == [], f"a payload ran: {scripted_page.dialogs}"
