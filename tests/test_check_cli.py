"""kb check as a pipeline step: every input line gets a result, output is always valid UTF-8, no input is an error,
and the exit status says the worst that happened (3 internal, 2 input, 1 flagged, 0 ok)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from kb.check import load_checker
from kb.check.inputs import MAX_LINE_BYTES
from kbtest import KB_COMMAND, ROOT, run_kb

pytestmark = pytest.mark.slow
DROPS_NUDGE = "o1 tried to disable oversight 5% of the time"
FAITHFUL = ("With the 'allow shutdown' instruction, o3 sabotaged the shutdown 7 times out of 100 in Palisade's test. "
            "Without it, 79 out of 100.")


@pytest.fixture(scope="module")
def checker():
    return load_checker(ROOT)


def run_bytes(*args, input: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run([KB_COMMAND, *args], cwd=ROOT, input=input, capture_output=True, timeout=600)


def results(stdout: bytes) -> list[dict]:
    return [json.loads(line) for line in stdout.decode("utf-8").splitlines()]  # strict: must be valid UTF-8


@pytest.mark.parametrize("args, stdin", [((), b""), (("--jsonl",), b""), (("--jsonl",), b"\n  \n\n")])
def test_no_input_at_all_is_an_input_error(args, stdin):
    result = run_bytes("check", *args, input=stdin)
    assert result.returncode == 2, result
    assert b"no statement" in result.stderr and b"Traceback" not in result.stderr and result.stdout == b""


@pytest.mark.parametrize("text", ["", "   \t "])
def test_empty_text_is_an_input_error(text):
    result = run_kb("check", text)
    assert result.returncode == 2 and "[empty]" in result.stdout, result


def test_one_result_per_line_valid_utf8_and_the_highest_exit_status(checker):
    lines = [
        json.dumps({"id": "flagged", "text": DROPS_NUDGE, "source": "feed-7", "tags": ["x"]}),  # extra keys: ignored
        '{"id": "lone", "text": "o1 schemed \\ud800 5%"}',  # a lone surrogate in the text
        '{"id": "bad\\udfffid", "text": "' + DROPS_NUDGE + '"}',  # ... and in the id
        json.dumps({"id": "blank", "text": "  "}),
        "x" * (MAX_LINE_BYTES + 10),  # a line over the limit is refused without being read into memory whole
        FAITHFUL,
    ]
    result = run_bytes("check", "--jsonl", input=("\n".join(lines) + "\n").encode())
    out = results(result.stdout)
    assert [o["id"] for o in out] == ["flagged", "lone", "bad\ufffdid", "blank", "5", "6"]
    assert out[0] == checker.check(DROPS_NUDGE, id="flagged")  # every field kept; the extra keys changed nothing
    assert [o.get("error", {}).get("code") for o in out] == [None, "not_utf8", "not_utf8", "empty", "too_long", None]
    assert "\ufffd" in out[1]["text"] and out[5]["verdict"] == "ok"
    assert result.returncode == 2 and b"Traceback" not in result.stderr  # input errors outrank "flagged"


@pytest.mark.parametrize("trailing", [b"", b"\n", b"\n\n  \n"])
def test_every_line_gets_its_object_and_blank_lines_do_not_change_the_status(trailing):
    stdin = b"\n" + FAITHFUL.encode() + b"\n\n" + FAITHFUL.encode() + b"\n" + trailing
    result = run_bytes("check", "--jsonl", input=stdin)
    out = results(result.stdout)
    assert len(out) == len(stdin.decode().splitlines()) and [o["id"] for o in out] == \
        [str(n) for n in range(1, len(out) + 1)]
    assert [o.get("error", {}).get("code") for o in out][:4] == ["blank_line", None, "blank_line", None]
    assert all(o["error"]["code"] == "blank_line" for o in out[4:])
    assert result.returncode == 0, result.stderr


def test_flagged_alone_exits_1_and_ok_exits_0():
    assert run_bytes("check", "--jsonl", input=(DROPS_NUDGE + "\n" + FAITHFUL + "\n").encode()).returncode == 1
    assert run_bytes("check", "--jsonl", input=(FAITHFUL + "\n").encode()).returncode == 0


# The real CLI with a checker that fails on one statement: a bug must not lose the batch or pass for "flagged".
FAILING_CHECKER = """
import sys
from kb.check import checker
from kb.cli import main

real = checker.Checker._result
def result(self, statement, *args):
    if "BOOM" in statement.text:
        raise RuntimeError("simulated bug")
    return real(self, statement, *args)
checker.Checker._result = result
sys.argv = ["kb", *sys.argv[1:]]
main()
"""


def test_an_internal_error_is_that_statements_result_and_exits_3():
    lines = [DROPS_NUDGE, "o1 BOOM 5%", '{"text": ""}', FAITHFUL]
    result = subprocess.run([sys.executable, "-c", FAILING_CHECKER, "check", "--jsonl"], cwd=ROOT, capture_output=True,
                            input=("\n".join(lines) + "\n").encode(), timeout=600)
    out = results(result.stdout)
    assert [o["id"] for o in out] == ["1", "2", "3", "4"]
    assert out[1]["error"]["code"] == "internal" and "simulated bug" in out[1]["error"]["message"]
    assert out[0]["verdict"] == "missing_context" and out[3]["verdict"] == "ok" and out[2]["error"]["code"] == "empty"
    assert result.returncode == 3


def test_exit_statuses_are_documented_in_help_and_readme():
    help_text = run_kb("check", "--help").stdout
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for status, words in ((0, "nothing"), (1, "flagged"), (2, "input error"), (3, "internal error")):
        assert f"{status}  {words}" in help_text
        assert re.search(rf"`{status}`[ |]*{words}", readme), (status, words)
