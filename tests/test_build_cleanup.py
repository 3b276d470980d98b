"""kb build leaves no temp files behind: not when it is stopped with SIGTERM mid-write, not after a kill -9."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from kb.build import build
from kbtest import tiny_kb

# A build whose write pauses once the temp database is full, so the test can stop it there (a marker file says when).
PAUSED_BUILD = """
import sys, time
from pathlib import Path
import kb.database
from kb.build import build

real_fill = kb.database._fill
def fill_then_wait(path, *args):
    real_fill(path, *args)
    Path(sys.argv[3]).write_text(str(path))
    time.sleep(120)
kb.database._fill = fill_then_wait
build(Path(sys.argv[1]), Path(sys.argv[2]))
"""


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_sigterm_during_the_write_removes_the_temp_file(tmp_path):
    root, out, marker = tiny_kb(tmp_path / "kb"), tmp_path / "out" / "kb.db", tmp_path / "filled"
    process = subprocess.Popen([sys.executable, "-c", PAUSED_BUILD, str(root), str(out), str(marker)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(marker, process)
    temp = Path(marker.read_text())
    assert temp.exists() and temp.name.startswith(".kb-")
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err
    assert not temp.exists() and not out.exists()
    assert list(out.parent.glob(".kb-*.db*")) == []


def test_the_next_build_removes_what_a_killed_build_left(tmp_path):
    root, out = tiny_kb(tmp_path / "kb"), tmp_path / "out" / "kb.db"
    out.parent.mkdir()
    left = [out.parent / ".kb-abc123.db", out.parent / ".kb-abc123.db-journal", out.parent / ".kb-x9.db"]
    for path in left:
        path.write_bytes(b"half a database")
    unrelated = out.parent / "notes.db"
    unrelated.write_bytes(b"mine")
    build(root, out)
    assert out.exists() and unrelated.exists()
    assert [p for p in left if p.exists()] == []
