"""Where the knowledge base lives on disk, and where builds go."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

MARKERS = ("vocabulary", "claims", "sources")


class RootNotFound(Exception):
    pass


def is_root(path: Path) -> bool:
    return all((path / marker).is_dir() for marker in MARKERS)


def find_root(start: Path | str | None = None) -> Path:
    """The knowledge-base root: a folder holding vocabulary/, claims/ and sources/.

    With `start` (what --root passes; click already reads $CAVEAT_ROOT into it) only `start` and its parents
    count: an explicit path must never quietly fall back to another knowledge base. Without it: $CAVEAT_ROOT,
    else the working directory and its parents, else the checkout this package sits in.
    """
    if start is not None:
        return _root_from_start(Path(start).resolve())
    if os.environ.get("CAVEAT_ROOT"):
        root = Path(os.environ["CAVEAT_ROOT"]).resolve()
        if not is_root(root):
            raise RootNotFound(f"CAVEAT_ROOT={root} has no {_marker_list()}")
        return root
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents, Path(__file__).resolve().parent.parent):
        if is_root(candidate):
            return candidate
    raise RootNotFound(f"no knowledge base found from {here}: expected folders {_marker_list()}. "
                       "Run inside the Caveat repository, or pass --root PATH.")


def _root_from_start(start: Path) -> Path:
    """`start` or the nearest parent that is a knowledge base; RootNotFound naming `start` otherwise."""
    for candidate in (start, *start.parents):
        if is_root(candidate):
            return candidate
    raise RootNotFound(f"no knowledge base at {start} or any folder above it: expected folders {_marker_list()}. "
                       "Pass --root (or set CAVEAT_ROOT to) the folder holding them.")


def _marker_list() -> str:
    return ", ".join(marker + "/" for marker in MARKERS)


def build_dir(root: Path) -> Path:
    return root / "build"


def default_database(root: Path) -> Path:
    return build_dir(root) / "kb.db"


def input_files(root: Path) -> list[Path]:
    """Every file a build reads, in a stable order."""
    files = []
    for folder in ("vocabulary", "sources", "claims", "statements"):
        files += sorted(p for p in (root / folder).glob("*.y*ml") if p.is_file())
    files += [p for p in (root / "exclusions.yaml", root / "changes.yaml") if p.is_file()]
    return files


def data_hash(root: Path) -> str:
    """A content hash of the curated data: equal hashes mean an equal database."""
    digest = hashlib.sha256()
    for path in input_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(_contents(path) + b"\0")
    return digest.hexdigest()


def _contents(path: Path) -> bytes:
    """A file's bytes for the hash; an unreadable file hashes as a marker (validation then names it and the fix)."""
    try:
        return path.read_bytes()
    except OSError as exc:
        return f"\0unreadable: {exc.strerror}".encode()
