"""The locked test fold is sealed: statements/locked/ is read by `kb eval --locked` (and `kb folds`, which places
statements) and by nothing else — not validation, the build, the site, training, the server or `make run`.

The real commands run in subprocesses with an audit hook (a sitecustomize on PYTHONPATH) that logs every file or
folder they open under statements/locked/; `kb folds` is the positive control showing the hook sees such a read.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from kbtest import KB_COMMAND, ROOT, copy_data, tiny_labelled_kb

from kb.build import is_stale, load_valid
from kb.pipeline import example_scans, stages
from kb.validate import load_knowledge_base

LOCKED_STATEMENT = """\
statements:
- id: zz-locked-probe
  text: In a staged test, o1 tried to turn off its oversight 5% of the time after being told to pursue its goal at
    all costs.
  who: A probe written for this test
  url: https://example.org/locked-probe
  fold: locked
  claims: [o1card-oversight]
  label:
    verdict: ok
    present: [goal_nudge, rate, test_setting]
    reports:
    - {model: o1, behaviour: oversight_subversion}
"""

HOOK = """\
import os, sys
_log = os.environ["LOCKED_READS_LOG"]
def _hook(event, args):
    if event in ("open", "os.scandir", "os.listdir") and args and args[0] is not None:
        try:
            path = os.fsdecode(args[0]) if not isinstance(args[0], int) else ""
        except TypeError:
            return
        if "statements/locked" in os.path.abspath(path).replace(os.sep, "/"):
            with open(_log, "a") as f:
                f.write(event + " " + path + "\\n")
sys.addaudithook(_hook)
"""


@pytest.fixture(scope="module")
def sealed(tmp_path_factory):
    """The tiny labelled knowledge base with one locked statement, and an environment whose processes log locked
    reads: building and fitting on it take seconds, and what is tested is which files a command opens."""
    root = tiny_labelled_kb(tmp_path_factory.mktemp("sealed") / "kb")
    return _seal(root, LOCKED_STATEMENT.replace("o1card-oversight", "tiny-oversight-nudged"), tmp_path_factory)


@pytest.fixture(scope="module")
def sealed_full(tmp_path_factory, built_db):
    """A copy of the data with one more locked statement, for what needs the real data: the site's pages name it.
    It gets the database this test run built from the same data (the locked fold is in neither's data hash), so
    `kb site` finds it fresh and does not check every statement again: what it reads to decide that is tested."""
    root = copy_data(tmp_path_factory.mktemp("sealed-full") / "kb")
    shutil.copytree(ROOT / "site", root / "site")  # the explainer site's pages and configuration, for kb site
    shutil.copy(ROOT / "mkdocs.yml", root / "mkdocs.yml")
    for folder in ("evaluation", "examples"):  # the committed figures and the example scan the build reads
        shutil.copytree(ROOT / folder, root / folder)
    (root / "kb").symlink_to(ROOT / "kb")  # mkdocs.yml's theme overrides live in the package (kb/publish/templates)
    (root / "build").mkdir()
    shutil.copy(built_db, root / "build" / "kb.db")
    sealed = _seal(root, LOCKED_STATEMENT, tmp_path_factory)
    assert not is_stale(root, None, stages(root, example_scans(root))), "the copied database should be fresh"
    return sealed


def _seal(root: Path, probe: str, tmp_path_factory):
    """(root, env, log): the probe in root's statements/locked/, and an environment whose processes log every read
    of that folder to log."""
    (root / "statements" / "locked").mkdir(exist_ok=True)
    (root / "statements" / "locked" / "probe.yaml").write_text(probe, encoding="utf-8")
    hook = tmp_path_factory.mktemp("hook")
    (hook / "sitecustomize.py").write_text(HOOK, encoding="utf-8")
    log = hook / "reads.log"
    env = {**os.environ, "PYTHONPATH": str(hook), "LOCKED_READS_LOG": str(log), "HF_HUB_OFFLINE": "1"}
    return root, env, log


def _kb(root, env, *args, timeout=900):
    return subprocess.run([KB_COMMAND, "--root", str(root), *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


def _reads(log: Path) -> list[str]:
    reads = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return reads


def test_validation_keeps_locked_statements_in_their_folder(tmp_path):
    root = copy_data(tmp_path / "kb")
    target = root / "statements" / "outside.yaml"
    target.write_text(LOCKED_STATEMENT, encoding="utf-8")
    _kb_, problems = load_knowledge_base(root)
    assert any(p.code == "E060" and p.file == "statements/outside.yaml" and "statements/locked/" in p.message
               for p in problems)
    target.unlink()
    (root / "statements" / "locked").mkdir(exist_ok=True)
    (root / "statements" / "locked" / "probe.yaml").write_text(LOCKED_STATEMENT.replace("fold: locked", "fold: cv1"))
    _kb_, problems = load_knowledge_base(root, locked=True)
    assert any(p.code == "E060" and "its fold is 'cv1'" in p.message for p in problems)


def test_only_the_locked_loader_sees_the_locked_fold(sealed):
    root, _env, _log = sealed
    assert "zz-locked-probe" not in load_valid(root).statements
    with_locked = load_valid(root, locked=True)
    assert with_locked.statements["zz-locked-probe"].fold == "locked"
    assert all(s.fold != "locked" for s in load_valid(root).statements.values())


@pytest.mark.slow
def test_commands_other_than_eval_locked_never_read_it(sealed, tmp_path):
    root, env, log = sealed
    assert _kb(root, env, "folds").returncode == 0
    assert _reads(log), "positive control: kb folds reads statements/locked/, so the hook must see it"

    for args in (["validate"], ["build"], ["eval", "--show"], ["train", "-o", str(tmp_path / "weights.json")]):
        result = _kb(root, env, *args)
        assert result.returncode == 0, (args, result.stderr[-2000:])
        assert _reads(log) == [], f"kb {' '.join(args)} read the locked fold"

    with sqlite3.connect(root / "build" / "kb.db") as db:
        ids = {row[0] for row in db.execute("select id from statements")}
        checked = {row[0] for row in db.execute("select statement_id from checks")}
    assert "zz-locked-probe" not in ids | checked
    assert not any(s.fold == "locked" for s in load_valid(root).statements.values())


@pytest.mark.slow
def test_kb_site_never_reads_it(sealed_full):
    root, env, log = sealed_full
    assert _kb(root, env, "folds").returncode == 0
    assert _reads(log), "positive control: kb folds reads statements/locked/, so the hook must see it"
    result = _kb(root, env, "site")
    assert result.returncode == 0, result.stderr[-2000:]
    assert _reads(log) == [], "kb site read the locked fold"


@pytest.mark.slow
def test_the_server_never_reads_it(sealed_full):
    root, env, log = sealed_full
    if not (root / "build" / "kb.db").exists():
        assert _kb(root, env, "build").returncode == 0
    _reads(log)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([KB_COMMAND, "--root", str(root), "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(240):
            try:
                urllib.request.urlopen(base + "/-/versions.json", timeout=5)
                break
            except OSError:
                time.sleep(0.5)
        request = urllib.request.Request(base + "/-/check.json", method="POST",
                                         data=json.dumps({"text": "o1 disabled oversight 5% of the time"}).encode(),
                                         headers={"Content-Type": "application/json"})
        assert json.load(urllib.request.urlopen(request, timeout=120))
        for path in ("/", "/kb/statements", "/site/", "/site/ledger/"):
            urllib.request.urlopen(base + path, timeout=60).read()
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert _reads(log) == []


def test_make_run_shows_only_committed_real_statement_figures():
    plan = subprocess.run(["make", "-n", "run"], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "MAKEFLAGS": ""}).stdout
    evals = [line for line in plan.splitlines() if "kb eval" in line]
    assert evals and all("--show" in line for line in evals), evals
    assert "--locked" not in plan and "tests/data" not in plan
