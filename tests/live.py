"""What the live tests share: Debian's Chromium driven by Playwright (never a downloaded browser), a real
`kb serve` on a free loopback port, and pages that record every host they contact.

Without /usr/bin/chromium the browser tests skip, unless CAVEAT_REQUIRE_BROWSER=1 (as in .ci/run), which makes
them fail instead. Screenshots go to test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import pytest

from kb.publish.serve import free_port

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
# No background networking: the machine's network is closed, and nothing should be fetched anyway.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def require_browser():
    reason = None
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is not installed (apt-get install chromium, or `make browser`)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the playwright package is not installed (pip install -e '.[test]')"
    if reason and os.environ.get("CAVEAT_REQUIRE_BROWSER") == "1":
        pytest.fail(f"CAVEAT_REQUIRE_BROWSER=1 but {reason}")
    if reason:
        pytest.skip(reason)


@contextmanager
def chromium():
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def recording_page(browser, javascript: bool = True, width: int = 1300, height: int = 1000):
    """(context, page): the page records the hosts it contacts (`page.hosts`) and any dialog a script opens."""
    context = browser.new_context(java_script_enabled=javascript, viewport={"width": width, "height": height})
    page = context.new_page()
    page.hosts, page.dialogs = set(), []
    page.on("request", lambda request: page.hosts.add(urlparse(request.url).hostname))
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    return context, page


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def wait_until_answering(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
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


@contextmanager
def kb_serve(database: Path, warm_urls=(), timeout: float = 60, site: bool = False):
    """The real `kb serve` on a free loopback port; yields its base URL once it (and each warm URL) answers.
    Stopped with Ctrl-C (SIGINT), as a user stops it, then killed if it hangs. With `site`, it serves the explainer
    site too (building it next to the database first, which takes a minute or two)."""
    require_browser()
    port = free_port("127.0.0.1", 0)
    command = [sys.executable, "-m", "kb.cli", "--root", str(ROOT), "serve", "--db", str(database), "--port", str(port),
               "--site" if site else "--no-site"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(base + "/-/versions.json", process, timeout)
        for path in warm_urls:
            wait_until_answering(base + path, process, timeout=120)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
