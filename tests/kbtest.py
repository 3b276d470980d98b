"""Helpers shared by the tests: where things are, and a tiny knowledge base to break on purpose."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
REFERENCE = ROOT.parent / "shared" / "reference"  # the project's reference facts; only tests/test_data.py reads them
KB_COMMAND = str(Path(sys.executable).with_name("kb"))
SUMMARY: list[str] = []  # lines tests add for the end of the run (conftest prints them), e.g. expected-failure counts


def tiny_kb(target: Path) -> Path:
    """A copy of the tiny fixture knowledge base (with the real vocabulary) at target."""
    shutil.copytree(FIXTURES / "tiny", target)
    shutil.copytree(ROOT / "vocabulary", target / "vocabulary")
    return target


def copy_data(target: Path) -> Path:
    """A private copy of the repository's data at target, to change without touching the real files."""
    for folder in ("vocabulary", "sources", "claims", "statements"):
        shutil.copytree(ROOT / folder, target / folder)
    for name in ("exclusions.yaml", "changes.yaml"):
        if (ROOT / name).is_file():
            shutil.copy(ROOT / name, target / name)
    return target


def run_kb(*args, cwd=None, input=None, env=None) -> subprocess.CompletedProcess:
    """The real `kb` command, as a user runs it."""
    return subprocess.run([KB_COMMAND, *args], cwd=cwd or ROOT, input=input, capture_output=True, text=True, env=env,
                          timeout=600)
