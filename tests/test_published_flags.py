"""A flag below the confidence from which cross-validated flags are right 9 times in 10 (`assert_from`, measured by
`kb eval --cv`) reads as a suggestion to verify, not a verdict: in the `accuracy` table, on the check page (a real
Datasette over a database built from the tiny knowledge base with an `accuracy` row the test writes), and in
`kb check`'s text output."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from urllib.parse import urlencode

import pytest
from datasette.app import Datasette

from kb.build import build
from kb.check.flags import flag_confidence
from kb.check.published import accuracy_stage
from kb.format import percent
from kb.publish.datasette_config import metadata, settings
from kbtest import run_kb, tiny_kb

DROPS_NUDGE = "A blog says o1 tried to disable oversight 5% of the time."  # the tiny knowledge base's nudged result
TENTATIVE_PRECISION = 0.58  # what the written cv.json says the flags below assert_from get right


def write_cv(root: Path, flag_assertion: dict | None, stages: dict | None = None):
    """evaluation/cv.json as `kb eval --cv --save` writes it, with only what the accuracy table reads."""
    pooled = {"labels": "pooled (cv1-cv5)", "statements": 120, "figures": {"flag_accuracy": 0.7},
              "stages": stages or {"flag_precision": 0.61}}
    if flag_assertion is not None:
        pooled["flag_assertion"] = flag_assertion
    (root / "evaluation").mkdir(exist_ok=True)
    (root / "evaluation" / "cv.json").write_text(json.dumps({"date": "2026-12-07", "mode": "cv", "sets": [pooled]}))


def measured(assert_from: float | None) -> dict:
    return {"assert_from": assert_from, "tentative_precision": TENTATIVE_PRECISION, "from": assert_from,
            "precision": 0.92, "flags": 40, "tentative_flags": 80, "flags_with_confidence": 120}


def accuracy_database(root: Path, name: str) -> Path:
    """A database of the knowledge base with its `accuracy` table, in its own folder (a server serves it as kb)."""
    return build(root, root / "build" / name / "kb.db", (accuracy_stage(root),)).path


def cv_row(database: Path) -> dict:
    with sqlite3.connect(database) as conn:
        conn.row_factory = sqlite3.Row
        return dict(conn.execute("select * from accuracy where kind = 'cv'").fetchone())


# ---------------------------------------------------------------- the accuracy table

def test_the_accuracy_table_gains_assert_from_on_the_cv_row_and_keeps_every_column(tmp_path):
    root = tiny_kb(tmp_path / "kb")
    write_cv(root, measured(0.93))
    row = cv_row(accuracy_database(root, "kb"))
    assert list(row) == ["kind", "date", "commit", "statements", "flag_accuracy", "claim_recall",
                         "missing_context_recall", "false_alarm_rate", "misstated_recall", "verdict_accuracy", "kappa",
                         "file", "assert_from", "tentative_flag_precision"]  # the old columns first, as they were
    assert row["assert_from"] == 0.93 and row["tentative_flag_precision"] == TENTATIVE_PRECISION
    columns = metadata()["databases"]["kb"]["tables"]["accuracy"]["columns"]
    assert "right at least 90% of the time over at least 20 flags" in columns["assert_from"]


def test_no_threshold_is_an_empty_assert_from_and_an_older_cv_file_has_none(tmp_path):
    root = tiny_kb(tmp_path / "kb")
    write_cv(root, measured(None))
    assert cv_row(accuracy_database(root, "none"))["assert_from"] is None
    write_cv(root, None, stages={"flag_precision": 0.61})  # saved before kb eval measured the threshold
    row = cv_row(accuracy_database(root, "older"))
    assert row["assert_from"] is None and row["tentative_flag_precision"] == 0.61


def test_eval_show_says_whether_flags_are_stated_as_verdicts(tmp_path):
    root = tiny_kb(tmp_path / "kb")
    write_cv(root, measured(None))
    shown = run_kb("--root", str(root), "eval", "--show").stdout
    assert "No confidence of the checker makes its flags right 9 in 10 times, so every flag is shown as one to " \
           "verify (right about 6 in 10 times)." in shown
    write_cv(root, measured(0.93))
    shown = run_kb("--root", str(root), "eval", "--show").stdout
    assert "Flags are stated as verdicts from a confidence of 93%; those below it are shown as ones to verify" in shown


# ---------------------------------------------------------------- the check page (the real checker: slow)

@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory) -> Path:
    return tiny_kb(tmp_path_factory.mktemp("flags") / "kb")


def check_page(loop, root: Path, name: str, flag_assertion: dict | None) -> tuple[str, dict]:
    """(the check page's verdict card for DROPS_NUDGE, its /-/check.json object) from a server over a database
    built with this cv measurement."""
    write_cv(root, flag_assertion)
    ds = Datasette(immutables=[str(accuracy_database(root, name))], metadata=metadata(), settings=settings())
    loop.run_until_complete(ds.invoke_startup())
    query = urlencode({"text": DROPS_NUDGE})
    page = loop.run_until_complete(ds.client.get(f"/-/check?{query}")).text
    result = loop.run_until_complete(ds.client.get(f"/-/check.json?{query}")).json()
    return page[page.index('<section class="caveat-card'):page.index("</section>")], result


def heading(card: str) -> str:
    return re.sub(r"<[^>]+>", "", re.search(r"<h2[^>]*>(.*?)</h2>", card, re.S).group(1)).strip()


@pytest.mark.slow
def test_a_flag_reads_as_one_to_verify_below_assert_from_and_as_a_verdict_from_it(loop, tiny_root):
    card, result = check_page(loop, tiny_root, "none", measured(None))
    assert result["verdict"] == "missing_context" and "tentative" not in result  # the API's object is unchanged
    confidence = flag_confidence(result)
    # No confidence reaches the precision: every flag is one to verify, with the measured precision.
    assert 'caveat-card-missing_context caveat-card-tentative"' in card
    assert heading(card) == "⚠ Possibly missing context — check before relying on it"
    assert ('<p class="caveat-card-why">Flags are right about 6 in 10 times on real statements the checker was not '
            'fitted on, and no confidence of the checker raises that to 9 in 10.</p>') in card
    # A threshold above this flag's confidence: still one to verify, saying how often flags below it are right.
    card, _ = check_page(loop, tiny_root, "above", measured(round(confidence + 0.01, 3)))
    assert "caveat-card-tentative" in card and heading(card).startswith("⚠ Possibly missing context")
    assert (f"Flags at this confidence (below {percent(round(confidence + 0.01, 3))}) are right about 6 in 10 "
            "times on real statements the checker was not fitted on.") in card
    # From the threshold on, the flag is stated as a verdict, as before.
    card, _ = check_page(loop, tiny_root, "at", measured(confidence))
    assert "caveat-card-tentative" not in card and "caveat-card-why" not in card
    assert heading(card) == "⚠ Missing context"


@pytest.mark.slow
def test_kb_check_says_to_verify_a_flag_in_one_line_only_when_evaluation_measured_it(tiny_root):
    write_cv(tiny_root, measured(None))
    lines = run_kb("--root", str(tiny_root), "check", DROPS_NUDGE).stdout.splitlines()
    assert lines[0] == "MISSING CONTEXT"
    assert lines[1] == ("  check before relying on it: Flags are right about 6 in 10 times on real statements the "
                        "checker was not fitted on, and no confidence of the checker raises that to 9 in 10.")
    (tiny_root / "evaluation" / "cv.json").unlink()  # nothing measured: nothing to say
    assert "check before relying on it" not in run_kb("--root", str(tiny_root), "check", DROPS_NUDGE).stdout
