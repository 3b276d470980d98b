"""Shared fixtures. Keep each small and named for what it gives."""

import asyncio
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def built_db(tmp_path_factory) -> Path:
    """The repository's knowledge base built once per test run into a temporary kb.db (never build/kb.db)."""
    from kb.pipeline import build

    return build(ROOT, tmp_path_factory.mktemp("built") / "kb.db").path


@pytest.fixture(scope="session")
def checker(built_db):
    """The checker `kb serve` builds for built_db, loaded once per test run (~5 s) and shared with every server
    in this process: the server keeps one checker per database file, and this fixture fills that cache first."""
    from kb.publish.check_routes import checker_for_database

    return checker_for_database(built_db)


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium (Debian's, never downloaded) for one browser-test module; skips without it unless
    CAVEAT_REQUIRE_BROWSER=1. Module-scoped because Playwright's sync API keeps an event loop running while open,
    and the Datasette tests that follow need asyncio.run."""
    from live import chromium

    with chromium() as browser:
        yield browser


def pytest_sessionfinish(session):
    """Under pytest-xdist (`make test`), a worker hands its SUMMARY lines to the controller, which prints them."""
    from kbtest import SUMMARY

    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["caveat_summary"] = list(SUMMARY)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    from kbtest import SUMMARY

    SUMMARY.extend(getattr(node, "workeroutput", {}).get("caveat_summary", []))


def pytest_terminal_summary(terminalreporter):
    """Print what tests added to kbtest.SUMMARY: the metamorphic tests' failure counts, per property."""
    from kbtest import SUMMARY

    if SUMMARY:
        terminalreporter.section("counts")
        for line in SUMMARY:
            terminalreporter.write_line(line)


@pytest.fixture(scope="module")
def loop():
    """An event loop for the tests that drive Datasette's ASGI client in-process (one per test module)."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()
