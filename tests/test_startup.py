"""The start-up cache (kb.startup): a second run reuses the validated knowledge base and the spaCy pipeline, and
nothing that changed since — a file's contents, a FIFO or symlink dropped into a data folder, a damaged pickle —
is ever masked by it."""

from __future__ import annotations

import os

from kb.build import load_valid
from kb.startup import cached, data_state
from kbtest import tiny_kb


def test_a_second_run_reads_the_pickle_instead_of_computing(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"answer": 42}

    assert cached(tmp_path, "thing", "key-1", compute) == {"answer": 42}
    assert cached(tmp_path, "thing", "key-1", compute) == {"answer": 42}
    assert len(calls) == 1
    assert cached(tmp_path, "thing", "key-2", compute) == {"answer": 42}  # another state: computed again
    assert len(calls) == 2
    assert len(list(tmp_path.glob("thing-*.pickle"))) == 1  # the old state's pickle is gone


def test_a_damaged_pickle_is_recomputed_and_replaced(tmp_path):
    cached(tmp_path, "thing", "k", lambda: [1, 2, 3])
    (pickle,) = tmp_path.glob("thing-*.pickle")
    pickle.write_bytes(b"\x80\x05not a pickle")
    assert cached(tmp_path, "thing", "k", lambda: [4]) == [4]
    assert cached(tmp_path, "thing", "k", lambda: [5]) == [4]


def test_the_cached_knowledge_base_equals_a_fresh_load(tmp_path):
    root = tiny_kb(tmp_path / "kb")
    fresh = load_valid(root)
    first = cached(tmp_path / "cache", "kb", data_state(root), lambda: load_valid(root))
    again = cached(tmp_path / "cache", "kb", data_state(root), lambda: None)
    for kb in (first, again):
        assert sorted(kb.claims) == sorted(fresh.claims)
        claim = next(iter(fresh.claims))
        assert (kb.claims[claim].value, kb.claims[claim].file, kb.claims[claim].line) == (
            fresh.claims[claim].value, fresh.claims[claim].file, fresh.claims[claim].line)


def test_the_data_state_sees_edits_fifos_and_symlinks(tmp_path):
    root = tiny_kb(tmp_path / "kb")
    states = {data_state(root)}
    claims = sorted((root / "claims").glob("*.yaml"))[0]
    claims.write_text(claims.read_text() + "\n# an edit\n")
    states.add(data_state(root))
    os.mkfifo(root / "claims" / "x.yaml")  # not a regular file: the content hash alone skips it
    states.add(data_state(root))
    (root / "claims" / "y.yaml").symlink_to("/etc/hostname")
    states.add(data_state(root))
    assert len(states) == 4
