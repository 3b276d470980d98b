"""Shared fixtures. Keep each small and named for what it gives."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def built_db(tmp_path_factory) -> Path:
    """The repository's knowledge base built once per test run into a temporary kb.db (never build/kb.db)."""
    from kb.build import build

    return build(ROOT, tmp_path_factory.mktemp("built") / "kb.db").path
