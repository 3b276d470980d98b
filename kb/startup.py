"""Start-up state kept between runs: the validated knowledge base and the checker's spaCy pipeline, pickled under
build/cache/ and keyed by content hashes.

A cold `kb check` used to spend longer validating the data and regenerating ~11,000 spaCy patterns than importing
the embedding library. Both results depend only on the data files, the code and the library versions, so a
content hash of those names a pickle that is valid for exactly that state; anything else (a changed file, another
spaCy, a damaged or unreadable cache, a read-only checkout) just computes again. Invalid data is never cached:
`load_valid` raises before anything is written.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


@lru_cache(maxsize=1)
def code_hash() -> str:
    """The kb package's source and the versions of what pickles depend on: a new release never reads old pickles."""
    import spacy

    digest = hashlib.sha256(f"{sys.version}\0{spacy.__version__}\0".encode())
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def data_state(root: Path) -> str:
    """The data files' contents, and every entry of the data folders with its kind (lstat: a FIFO, a symlink or an
    unreadable file must not look like the valid state it replaced; validation then reports it)."""
    from kb.project import data_hash

    entries = []
    for folder in ("vocabulary", "sources", "claims", "statements"):
        try:
            with os.scandir(root / folder) as listing:
                entries += [f"{folder}/{e.name}:{e.stat(follow_symlinks=False).st_mode}" for e in listing]
        except OSError as exc:
            entries.append(f"{folder}:{exc.errno}")
    for name in ("exclusions.yaml", "changes.yaml"):
        try:
            entries.append(f"{name}:{(root / name).lstat().st_mode}")
        except OSError:
            entries.append(f"{name}:-")
    return data_hash(root) + "\0" + "\n".join(sorted(entries))


def cached(folder: Path | None, name: str, key: str, compute):
    """compute(), or its pickle from an earlier run with the same key. Writes are atomic; older pickles of `name`
    are removed so the cache does not grow."""
    if folder is None:
        return compute()
    path = folder / f"{name}-{hashlib.sha256((key + code_hash()).encode()).hexdigest()[:20]}.pickle"
    try:
        with path.open("rb") as handle:
            return pickle.load(handle)
    except FileNotFoundError:
        pass
    except Exception:  # noqa: BLE001  (a damaged or foreign pickle: recompute and replace it)
        pass
    value = compute()
    _store(folder, name, path, value)
    return value


def _store(folder: Path, name: str, path: Path, value) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(prefix=f".{name}-", suffix=".tmp", dir=folder)
        with os.fdopen(handle, "wb") as out:
            pickle.dump(value, out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        for old in folder.glob(f"{name}-*.pickle"):
            if old != path:
                old.unlink(missing_ok=True)
    except (OSError, pickle.PicklingError, TypeError, AttributeError):
        # A read-only checkout, or a value that cannot be pickled: start-up stays correct, only slower.
        if "tmp" in locals():
            Path(tmp).unlink(missing_ok=True)
