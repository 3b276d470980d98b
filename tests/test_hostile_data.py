"""Hostile data files: every command names the file, the line and the fix; none hangs or prints a traceback.

A control character (even in a comment), an integer of over 4,300 digits, a named pipe, a symlink out of the
repository and an unreadable file each sit in a copy of the tiny knowledge base. `kb validate`, `build`, `serve`
and `check` are run as a user runs them; when the tests run as root, the commands run as `nobody`, for whom a
mode-000 file is unreadable (root reads everything).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from kb.load import load_yaml
from kb.validate import load_knowledge_base
from kbtest import KB_COMMAND, tiny_kb

NOBODY = 65534
# file -> (line, words the message must contain)
HOSTILE = {
    "claims/control.yaml": (3, "control character U+0007"),
    "claims/huge-int.yaml": (3, "integer of 5,000 digits"),
    "claims/pipe.yaml": (1, "named pipe"),
    "claims/outside.yaml": (1, "outside the knowledge base"),
    "claims/unreadable.yaml": (1, "cannot read the file"),
}


# setpriv, not os.setuid in preexec_fn: the interpreter lives under /root here, which only setpriv's exec reaches.
AS_NOBODY = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"] if os.geteuid() == 0 else []


@pytest.fixture(scope="module")
def hostile_root():
    """A tiny knowledge base with one hostile file of each kind (in /tmp, open to `nobody`)."""
    base = Path(tempfile.mkdtemp(prefix="caveat-hostile-"))
    root = tiny_kb(base / "kb")
    claims = root / "claims"
    (claims / "control.yaml").write_bytes(b"source: tiny-paper-2024\nclaims: []\n# a bell \x07 in a comment\n")
    (claims / "huge-int.yaml").write_text("source: tiny-paper-2024\nclaims: []\nsettings: " + "9" * 5000 + "\n")
    os.mkfifo(claims / "pipe.yaml")
    outside = base / "elsewhere.yaml"
    outside.write_text("source: tiny-paper-2024\nclaims: []\n")
    (claims / "outside.yaml").symlink_to(outside)
    unreadable = claims / "unreadable.yaml"
    unreadable.write_text("source: tiny-paper-2024\nclaims: []\n")
    for path in [base, *base.rglob("*")]:
        if not path.is_symlink() and path.exists() and not path.is_fifo():
            path.chmod(0o777 if path.is_dir() else 0o666)
    unreadable.chmod(0)
    yield root
    shutil.rmtree(base)


def run_as_user(root: Path, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HOME": str(root.parent)}
    return subprocess.run([*AS_NOBODY, KB_COMMAND, "--root", str(root), *args], capture_output=True, text=True,
                          timeout=120, env=env, cwd=root)


@pytest.mark.parametrize("command, status", [(["validate"], 1), (["build", "--no-check"], 1),
                                             (["serve", "--port", "0"], 1), (["check", "o1 schemed 5% of the time"], 2)])
def test_every_command_names_each_hostile_file_with_line_and_fix(hostile_root, command, status):
    result = run_as_user(hostile_root, *command)
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert result.returncode == status, output
    for rel, (line, words) in HOSTILE.items():
        reported = [block for block in ("\n" + output).split("\n" + rel)[1:] if block.startswith(f":{line}: [E0")]
        assert reported, f"{rel}:{line} missing in:\n{output}"
        assert words in reported[0] and "fix:" in reported[0], reported[0]
    assert not list((hostile_root / "build").glob("*.db")), "invalid data must not produce a database"


def test_control_characters_are_reported_where_they_are(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_bytes("a: 1\nb: 'tab\tok'\nc: x\x7fy\n".encode())
    problems = load_yaml(path, "x.yaml").problems
    assert [(p.line, p.code) for p in problems] == [(3, "E001")] and "column 5" in problems[0].message


def test_an_integer_under_the_limit_still_loads(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("n: " + "7" * 300 + "\n")
    loaded = load_yaml(path, "x.yaml")
    assert loaded.problems == [] and loaded.data["n"] == int("7" * 300)


def test_a_symlink_inside_the_knowledge_base_is_followed(tmp_path):
    root = tiny_kb(tmp_path / "kb")
    real = root / "claims" / "tiny-paper-2024.yaml"
    moved = root / "sources" / "claims-file.txt"  # still inside the knowledge base
    real.rename(moved)
    real.symlink_to(moved)
    _kb, problems = load_knowledge_base(root)
    assert problems == []


def test_a_folder_named_like_a_data_file_is_reported(tmp_path):
    root = tiny_kb(tmp_path / "kb")
    (root / "statements" / "folder.yaml").mkdir()
    _kb, problems = load_knowledge_base(root)
    assert [(p.file, p.code) for p in problems] == [("statements/folder.yaml", "E001")]
    assert "a folder" in problems[0].message
