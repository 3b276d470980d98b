"""kb folds: every statement gets an evaluation fold by its original page, written into its file in place."""

from collections import Counter

from kb.folds import CV_FOLDS, fold_for, page_key
from kb.validate import load_knowledge_base
from kbtest import run_kb, tiny_kb

# Real-looking statements: three from one page (two spell its url differently), two pages without a url but with the
# same author on different days, a comment to keep, a long `who` wrapped over two lines, and one with a fold already.
STATEMENTS = """\
# Statements gathered for the test. This comment stays where it is.
statements:
- id: p1
  text: o1 tried to disable oversight 5% of the time, a safety report found.
  who: A news site (article)
  date: '2024-12-06'
  url: https://News.example/o1-oversight
  register: article   # the lede
  claims: [tiny-oversight-nudged]
  label:
    verdict: missing_context
    missing: [goal_nudge]
    present: [rate]
- id: p2
  text: Told to pursue its goal at all costs, o1 switched off its oversight in 5% of runs.
  who: A news site (article)
  date: '2024-12-06'
  url: https://news.example/o1-oversight/#comments
  label: {verdict: ok}
- id: p3
  text: Without that nudge it was under 1%.
  who: A news site (article)
  url: https://news.example/o1-oversight
  label: {verdict: ok}
- id: p4
  text: AI lies to its makers, study says.
  who: Someone on a forum
  date: '2024-12-07'
  label: {verdict: no_claim}
- id: p5
  text: 'The model is a schemer: 5%.'
  who: Someone on a forum
  date: '2024-12-08'
  label: {verdict: missing_context}
- id: p6
  text: A post with a long address.
  who: A blog whose name and description the curator wrapped over two lines because together they are longer than
    the line limit of the file
  date: '2025-01'
  label: {verdict: no_claim}
- id: p7
  fold: cv3
  text: Already assigned.
  who: Another blog
  url: https://other.example/post
  label: {verdict: ok}
"""


def _kb_with_statements(tmp_path, text=STATEMENTS):
    root = tiny_kb(tmp_path / "kb")
    (root / "statements" / "tiny.yaml").unlink()
    (root / "statements" / "gathered.yaml").write_text(text, encoding="utf-8")
    return root


def _folds(root):
    kb, problems = load_knowledge_base(root)
    assert problems == [], [str(p) for p in problems]
    return {sid: s.fold for sid, s in kb.statements.items()}


def test_a_page_hashes_to_the_same_fold_every_time_and_about_a_fifth_are_locked():
    keys = [f"url:https://example.org/story/{i}" for i in range(2000)]
    first = [fold_for(k) for k in keys]
    assert first == [fold_for(k) for k in keys]
    counts = Counter(first)
    assert set(counts) == {*CV_FOLDS, "locked"}
    assert 0.17 < counts["locked"] / len(keys) < 0.23
    assert all(0.13 < counts[f] / len(keys) < 0.19 for f in CV_FOLDS)


def test_the_page_is_the_url_without_fragment_case_of_host_or_trailing_slash_else_who_and_date():
    class S:
        def __init__(self, **kw):
            self.__dict__.update(kw)

    assert page_key(S(url="https://News.example/a/#x", who="w", date="2024")) == page_key(S(url="https://news.example/a"))
    assert page_key(S(url="https://news.example/A")) != page_key(S(url="https://news.example/a"))
    assert page_key(S(url=None, who="Someone", date="2024-12-07")) != page_key(S(url=None, who="Someone", date="2024-12-08"))


def test_assign_writes_one_fold_line_per_statement_grouped_by_page_and_changes_nothing_else(tmp_path):
    root = _kb_with_statements(tmp_path)
    result = run_kb("--root", str(root), "folds", "--assign")
    assert result.returncode == 0, result.stderr
    assert "statements/gathered.yaml: 6 fold line(s) added" in result.stdout
    after = (root / "statements" / "gathered.yaml").read_text(encoding="utf-8")
    added = [line for line in after.splitlines() if line not in STATEMENTS.splitlines()]
    assert len(added) == 6 and all(line.startswith("  fold: ") for line in added)
    # Removing the inserted lines gives back the file byte for byte: comments, quoting and wrapping are kept.
    assert "\n".join(line for line in after.splitlines() if line not in added) + "\n" == STATEMENTS
    # Each fold line sits right after the url, else after who (after its continuation line when wrapped).
    lines = after.splitlines()
    for sid, anchor in (("p1", "  url: https://News.example/o1-oversight"), ("p4", "  who: Someone on a forum"),
                        ("p6", "    the line limit of the file")):
        assert lines[lines.index(anchor) + 1].startswith("  fold: "), sid
    folds = _folds(root)
    assert folds["p1"] == folds["p2"] == folds["p3"] == fold_for("url:https://news.example/o1-oversight")
    assert folds["p4"] == fold_for("who:Someone on a forum|date:2024-12-07")
    assert folds["p7"] == "cv3"
    # Run again: nothing to do, nothing changes.
    again = run_kb("--root", str(root), "folds", "--assign")
    assert "Every statement already has a fold." in again.stdout
    assert (root / "statements" / "gathered.yaml").read_text(encoding="utf-8") == after


def test_a_new_statement_joins_the_fold_its_page_already_has(tmp_path):
    text = STATEMENTS.replace("- id: p7\n  fold: cv3", "- id: p7\n  fold: cv3").replace(
        "  url: https://News.example/o1-oversight\n", "  url: https://News.example/o1-oversight\n  fold: locked\n")
    root = _kb_with_statements(tmp_path, text)
    assert run_kb("--root", str(root), "folds", "--assign").returncode == 0
    folds = _folds(root)
    assert folds["p1"] == folds["p2"] == folds["p3"] == "locked"


def test_folds_prints_statements_per_fold_and_verdict(tmp_path):
    root = _kb_with_statements(tmp_path)
    before = run_kb("--root", str(root), "folds")
    assert before.returncode == 0, before.stderr
    header, *rows = before.stdout.splitlines()
    assert header.split() == ["fold", "ok", "missing_context", "misstated", "no_claim", "statements", "pages"]
    assert rows[0].split() == ["cv3", "1", "0", "0", "0", "1", "1"]
    assert rows[1].split() == ["none", "2", "2", "0", "2", "6", "4"]
    assert rows[-1].split() == ["all", "3", "2", "0", "2", "7", "5"]
    run_kb("--root", str(root), "folds", "--assign")
    after = run_kb("--root", str(root), "folds").stdout.splitlines()
    assert not any(line.startswith("none") for line in after)
    assert after[-1].split() == ["all", "3", "2", "0", "2", "7", "5"]


def test_a_page_in_two_folds_is_a_validation_error_naming_both_places_and_the_fix(tmp_path):
    text = STATEMENTS.replace("  url: https://News.example/o1-oversight\n",
                              "  url: https://News.example/o1-oversight\n  fold: cv1\n", 1).replace(
        "  url: https://news.example/o1-oversight/#comments\n",
        "  url: https://news.example/o1-oversight/#comments\n  fold: cv2\n")
    root = _kb_with_statements(tmp_path, text)
    result = run_kb("--root", str(root), "validate")
    assert result.returncode == 1
    line = text.splitlines().index("  fold: cv2") + 1
    assert (f"statements/gathered.yaml:{line}: [E050] statement p2, fold: fold 'cv2', but statement p1 from the same "
            "page (https://news.example/o1-oversight) is in 'cv1' (statements/gathered.yaml:8)") in result.stderr
    assert "fix: set 'fold: cv1' here" in result.stderr
    # --assign refuses to write into data that does not validate.
    assert run_kb("--root", str(root), "folds", "--assign").returncode == 1
    assert (root / "statements" / "gathered.yaml").read_text(encoding="utf-8") == text


def test_a_flow_style_statement_is_refused_with_file_line_and_fix_and_nothing_is_written(tmp_path):
    text = STATEMENTS + "- {id: p8, text: One line., who: Somebody, label: {verdict: ok}}\n"
    root = _kb_with_statements(tmp_path, text)
    result = run_kb("--root", str(root), "folds", "--assign")
    assert result.returncode == 1
    assert f"statements/gathered.yaml:{len(text.splitlines())}: statement p8" in result.stderr
    assert "fix: write the statement in block style" in result.stderr and "Traceback" not in result.stderr
    assert (root / "statements" / "gathered.yaml").read_text(encoding="utf-8") == text
