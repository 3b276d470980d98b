"""The build: validate -> graph -> database. What `kb build` runs, callable from Python."""

from __future__ import annotations

import fcntl
import signal
import threading
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import kb
from kb.database import write_database
from kb.graph import build_graph
from kb.project import data_hash, default_database
from kb.validate import load_knowledge_base


class InvalidData(Exception):
    """The data has problems; `problems` lists them all."""

    def __init__(self, problems):
        super().__init__(f"{len(problems)} problem(s) in the data")
        self.problems = problems


@dataclass
class BuildResult:
    path: Path
    counts: dict


def load_valid(root: Path):
    """The knowledge base, or InvalidData with every problem."""
    knowledge_base, problems = load_knowledge_base(root)
    if problems:
        raise InvalidData(problems)
    return knowledge_base


def build(root: Path, out: Path | None = None, extras=None, checks: bool = True) -> BuildResult:
    """Validate the data under root and write the database (default build/kb.db).

    With `checks` (the default) the checker's verdicts on statements/ are stored too (tables checks, findings).
    `extras(kb) -> (tables, rows)` lets other stages add their tables to the same file.
    """
    digest = data_hash(root)  # before reading: a file saved mid-build then leaves the database stale, not fresh
    knowledge_base = load_valid(root)
    if checks and extras is None:
        from kb.check.store import check_extras

        extras = lambda kb_: check_extras(kb_, _checker_for(root, kb_))  # noqa: E731
    graph = build_graph(knowledge_base)
    out = Path(out) if out else default_database(root)
    tables, rows = extras(knowledge_base) if extras else ([], {})
    meta = {"data_hash": digest, "caveat_version": kb.__version__, "layout_hash": current_layout_hash()}
    with _one_writer(out.parent), _sigterm_unwinds():
        remove_stale_temp_files(out.parent)
        write_database(knowledge_base, graph, out, meta, tables, rows)
    counts = {"sources": len(knowledge_base.sources), "settings": len(knowledge_base.settings),
              "claims": len(knowledge_base.claims), "statements": len(knowledge_base.statements),
              "graph nodes": graph.number_of_nodes(), "graph edges": graph.number_of_edges()}
    if "checks" in rows:
        counts["statements checked"] = len(rows["checks"])
    return BuildResult(out, counts)


TEMP_PATTERNS = (".kb-*.db", ".kb-*.db-journal")  # what write_database writes before moving the file into place


@contextmanager
def _one_writer(folder: Path):
    """Hold the folder's build lock: builds into one folder take turns, so no build's temp file looks stale."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".kb-build.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def remove_stale_temp_files(folder: Path) -> list[Path]:
    """Delete temp files that a killed build left (called under the build lock, so none is in use)."""
    stale = [path for pattern in TEMP_PATTERNS for path in folder.glob(pattern)]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


@contextmanager
def _sigterm_unwinds():
    """SIGTERM during the write raises SystemExit, so the write's clean-up runs (the default kills on the spot)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, _frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _checker_for(root: Path, knowledge_base):
    from kb.check.checker import Checker
    from kb.project import build_dir

    return Checker(knowledge_base, cache_path=build_dir(root) / "cache" / "embeddings.npz")


def current_layout_hash() -> str:
    """The layout this code writes, counting the checker's tables (whether a build includes them or not)."""
    from kb.check.store import CHECK_TABLES
    from kb.database import layout_hash

    return layout_hash(CHECK_TABLES)


def build_meta(path: Path) -> dict:
    """The kb_meta facts a built database records ({} when it is missing or unreadable)."""
    import sqlite3

    if not Path(path).is_file():
        return {}
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            return dict(conn.execute("select key, value from kb_meta").fetchall())
    except sqlite3.Error:
        return {}


def is_stale(root: Path, path: Path | None = None) -> bool:
    """True when the database is missing, was built from other data than what is on disk now, or was written by
    code with another table layout."""
    meta = build_meta(path or default_database(root))
    return meta.get("data_hash") != data_hash(root) or meta.get("layout_hash") != current_layout_hash()


def ensure_database(root: Path, path: Path | None = None,
                    before_build: Callable[[Path], None] | None = None) -> Path:
    """The database path, rebuilt first if it is missing or stale. Raises InvalidData for bad data.

    `before_build(path)` runs only when a rebuild is due, so a caller can say why it is waiting.
    """
    path = Path(path) if path else default_database(root)
    if is_stale(root, path):
        if before_build:
            before_build(path)
        build(root, path)
    return path
