"""kb serve in a real headless Chromium: the graph view renders and its nodes navigate, without JavaScript.

Needs /usr/bin/chromium (never downloaded). Without it the tests skip, unless CAVEAT_REQUIRE_BROWSER=1.
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
from urllib.parse import urlparse

import pytest

from kb.build import load_valid
from kb.graph import build_graph, neighbourhood

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

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


@pytest.fixture(scope="module")
def server(built_db):
    """`kb serve` on a free loopback port, stopped (Ctrl-C, then kill) when the module's tests are done."""
    require_browser()
    port = free_port()
    command = [sys.executable, "-m", "kb.cli", "--root", str(ROOT), "serve", "--db", str(built_db), "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(base + "/-/versions.json", process)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_answering(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"kb serve exited early: {process.stderr.read()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"kb serve did not answer at {url} within {timeout} s")


@pytest.fixture(scope="module")
def browser():
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser):
    """A page with JavaScript off (every page must work without it) that records the hosts it contacts."""
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.hosts = set()
    page.on("request", lambda request: page.hosts.add(urlparse(request.url).hostname))
    yield page
    context.close()


def screenshot(page, name: str):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_graph_view_renders_its_nodes_and_a_node_opens_its_row(server, page):
    expected = neighbourhood(build_graph(load_valid(ROOT)), "claim:palisade-with-o3")
    page.goto(server + "/-/graph/palisade-with-o3")
    nodes = page.locator("svg.caveat-graph g.node")
    assert nodes.count() == expected.number_of_nodes()
    center = page.locator("svg.caveat-graph g.node-claim", has_text="palisade-with-o3").first
    assert center.is_visible() and center.bounding_box()["width"] > 100
    screenshot(page, "graph-palisade-with-o3.png")

    page.locator('svg.caveat-graph a[href="/kb/sources/palisade-shutdown-thread-2025"]').click()
    page.wait_for_url("**/kb/sources/palisade-shutdown-thread-2025")
    assert "palisade-shutdown-thread-2025" in page.locator("h1").inner_text()
    screenshot(page, "graph-node-opened-source-row.png")
    assert page.hosts == {"127.0.0.1"}, f"pages loaded assets from other hosts: {page.hosts}"


def test_non_verified_claim_shows_a_visible_warning(server, page):
    claim = next(c for c in load_valid(ROOT).claims.values() if c.verification == "parsed")
    page.goto(f"{server}/kb/claims/{claim.id.replace('.', '~2E')}")
    warning = page.locator(".caveat-warning").first
    assert warning.is_visible() and "Not verified (parsed)" in warning.inner_text()
    screenshot(page, "claim-not-verified.png")
    assert page.hosts == {"127.0.0.1"}
