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
  date: '2024-12-03'
  label: {verdict: no_claim}
- id: p5
  text: 'The model is a schemer: 5%.'
  who: Someone on a forum
  date: '2024-12-04'
  label: {verdict: missing_context}
- id: p6
  text: A post with a long address.
  who: A blog whose name and description the curator wrapped over two lines because together they are longer than
    the line limit of the file
  date: '2025-01'
  label: {verdict: no_claim}
- id: p7
  fold: cv1
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


def test_a_page_hashes_to_the_same_fold_every_time_and_about_three_tenths_are_locked():
    keys = [f"url:https://example.org/story/{i}" for i in range(2000)]
    first = [fold_for(k) for k in keys]
    assert first == [fold_for(k) for k in keys]
    counts = Counter(first)
    assert set(counts) == {*CV_FOLDS, "locked"}
    assert 0.27 < counts["locked"] / len(keys) < 0.33
    assert all(0.11 < counts[f] / len(keys) < 0.17 for f in CV_FOLDS)
    # A group that may not be locked (it holds a development statement) is spread over the cv folds alone.
    unlockable = Counter(fold_for(k, lockable=False) for k in keys)
    assert set(unlockable) == set(CV_FOLDS)


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
    assert folds["p4"] == fold_for("who:Someone on a forum|date:2024-12-03")
    assert folds["p7"] == "cv1"
    # Run again: nothing to do, nothing changes.
    again = run_kb("--root", str(root), "folds", "--assign")
    assert "Every statement already has a fold." in again.stdout
    assert (root / "statements" / "gathered.yaml").read_text(encoding="utf-8") == after


def test_a_new_statement_joins_the_fold_its_page_already_has(tmp_path):
    text = STATEMENTS.replace("  url: https://News.example/o1-oversight\n",
                              "  url: https://News.example/o1-oversight\n  fold: cv2\n", 1)
    root = _kb_with_statements(tmp_path, text)
    assert run_kb("--root", str(root), "folds", "--assign").returncode == 0
    folds = _folds(root)
    assert folds["p1"] == folds["p2"] == folds["p3"] == "cv2"


def test_locked_statements_move_whole_into_the_sealed_folder_and_copies_follow_them(tmp_path, monkeypatch):
    from kb.build import load_valid
    from kb.folds import LOCKED_DIR, assign_folds

    root = _kb_with_statements(tmp_path)
    kb = load_valid(root, locked=True)
    ids = list(kb.statements)
    # p4's text is given p1's vector: a near-duplicate of a statement on another page joins that page's group.
    vectors = [[1.0 if i == (ids.index("p1") if sid == "p4" else n) else 0.0 for i in range(len(ids))]
               for n, sid in enumerate(ids)]
    # The draw is a hash; pin it so that p1's page draws the locked fold (the grouping and moving are what is tested).
    monkeypatch.setattr("kb.folds.fold_for",
                        lambda key, lockable=True: "locked" if "o1-oversight" in key and lockable else "cv1")
    assign_folds(root, kb, vectors)
    moved = (root / LOCKED_DIR / "gathered.yaml").read_text(encoding="utf-8")
    kept = (root / "statements" / "gathered.yaml").read_text(encoding="utf-8")
    for sid in ("p1", "p2", "p3", "p4"):
        assert f"- id: {sid}\n" in moved and f"- id: {sid}\n" not in kept
    assert "- id: p5\n" in kept and "- id: p5\n" not in moved
    after = load_valid(root, locked=True)
    assert {s.id for s in after.statements.values() if s.fold == "locked"} == {"p1", "p2", "p3", "p4"}
    assert set(after.statements) == set(ids)  # nothing lost
    assert "p1" not in load_valid(root).statements


def test_folds_prints_statements_per_fold_and_verdict(tmp_path):
    root = _kb_with_statements(tmp_path)
    before = run_kb("--root", str(root), "folds")
    assert before.returncode == 0, before.stderr
    header, *rows = before.stdout.splitlines()
    assert header.split() == ["fold", "ok", "missing_context", "misstated", "no_claim", "statements", "pages"]
    assert rows[0].split() == ["cv1", "1", "0", "0", "0", "1", "1"]
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
