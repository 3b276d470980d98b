"""/-/check in a real headless Chromium against `kb serve`: type a statement, submit, read the verdict card.

The form must work with JavaScript off; the XSS test turns it on, so a payload that ran would raise a dialog.
Needs /usr/bin/chromium (never downloaded); without it the tests skip, unless CAVEAT_REQUIRE_BROWSER=1.
Screenshots go to test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
DROPS_NUDGE = "o1 tried to disable its oversight mechanism 5% of the time."

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def require_browser():
    reason = None
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is not installed"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the playwright package is not installed (pip install -e '.[test]')"
    if reason and os.environ.get("CAVEAT_REQUIRE_BROWSER") == "1":
        pytest.fail(f"CAVEAT_REQUIRE_BROWSER=1 but {reason}")
    if reason:
        pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_answering(url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"kb serve exited early: {process.stderr.read()}")
        try:
            with urllib.request.urlopen(url, timeout=timeout):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"kb serve did not answer at {url} within {timeout} s")


@pytest.fixture(scope="module")
def server(built_db):
    """`kb serve` on a free loopback port, its checker loaded by a first check; stopped when the module is done."""
    require_browser()
    port = free_port()
    command = [sys.executable, "-m", "kb.cli", "--root", str(ROOT), "serve", "--db", str(built_db), "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(base + "/-/versions.json", process, timeout=60)
        wait_until_answering(base + "/-/check.json?text=" + quote("o1 schemed"), process, timeout=120)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def browser():
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def open_page(browser, javascript: bool):
    """A page that records the hosts it contacts and any dialog a script opens."""
    context = browser.new_context(java_script_enabled=javascript, viewport={"width": 1300, "height": 1000})
    page = context.new_page()
    page.hosts, page.dialogs = set(), []
    page.on("request", lambda request: page.hosts.add(urlparse(request.url).hostname))
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    return context, page


@pytest.fixture()
def page(browser):
    context, page = open_page(browser, javascript=False)
    yield page
    context.close()


@pytest.fixture()
def scripted_page(browser):
    context, page = open_page(browser, javascript=True)
    yield page
    context.close()


def screenshot(page, name: str):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def submit(page, server: str, text: str):
    page.goto(server + "/-/check")
    page.fill("#caveat-text", text)
    with page.expect_navigation():
        page.click("button[type=submit]")


def test_a_statement_that_drops_the_goal_nudge_shows_the_verdict_and_the_missing_condition(server, page):
    submit(page, server, DROPS_NUDGE)
    verdict = page.locator(".caveat-card-verdict")
    assert verdict.is_visible() and "Missing context" in verdict.inner_text()
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
    assert "Misstated" in page.locator(".caveat-card-verdict").inner_text()
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
    assert "Missing context" in scripted_page.locator(".caveat-card-verdict").inner_text()
    assert scripted_page.locator("#caveat-text").input_value() == text  # came back as text
    assert scripted_page.locator(".content img, .content svg").count() == 0
    screenshot(scripted_page, "check-payload-inert.png")
    assert scripted_page.dialogs == [], f"a payload ran: {scripted_page.dialogs}"
