"""kb validate: the repository validates; every kind of mistake is reported with file, line, code and fix."""

import re
import shutil

import pytest

from kb.validate import load_knowledge_base
from kbtest import FIXTURES, ROOT, copy_data, run_kb, tiny_kb

BROKEN = FIXTURES / "broken"
# Where each broken fixture goes in a copy of the tiny knowledge base.
DESTINATIONS = {"E022-dangling-statement.yaml": "statements", "E040-source-id.yaml": "sources",
                "E050-page-in-two-folds.yaml": "statements", "E051-repeated-text.yaml": "statements",
                "E060-locked-outside-its-folder.yaml": "statements"}
ROOT_FILES = {"E037-change-disagrees.yaml": "changes.yaml",  # fixtures that are a whole root-level file
              "E043-change-twice-a-day.yaml": "changes.yaml"}


def marked_line(path) -> int:
    """The line a fixture marks with '# <- E0xx' (line 1 for files that cannot hold a comment)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        return 1
    return next((i for i, line in enumerate(lines, 1) if "# <-" in line), 1)


def broken_copy(tmp_path, fixture_name):
    root = tiny_kb(tmp_path / "kb")
    if fixture_name in ROOT_FILES:
        shutil.copy(BROKEN / fixture_name, root / ROOT_FILES[fixture_name])
        return root, ROOT_FILES[fixture_name]
    folder = DESTINATIONS.get(fixture_name, "claims")
    destination = root / folder / fixture_name
    shutil.copy(BROKEN / fixture_name, destination)
    return root, f"{folder}/{fixture_name}"


def test_the_repository_is_valid():
    kb, problems = load_knowledge_base(ROOT)
    assert problems == []
    assert len(kb.claims) >= 285 and len(kb.sources) == 18


def test_the_tiny_fixture_is_valid(tmp_path):
    kb, problems = load_knowledge_base(tiny_kb(tmp_path / "kb"))
    assert problems == [] and set(kb.claims) == {"tiny-oversight-nudged", "tiny-oversight-plain", "tiny-sandbagging"}


@pytest.mark.parametrize("fixture", sorted(p.name for p in BROKEN.glob("*.yaml")))
def test_each_broken_fixture_is_reported_at_its_line(tmp_path, fixture):
    root, rel = broken_copy(tmp_path, fixture)
    code = fixture.split("-")[0]
    _kb, problems = load_knowledge_base(root)
    mine = [p for p in problems if p.file == rel]
    assert any(p.code == code and p.line == marked_line(BROKEN / fixture) for p in mine), [str(p) for p in problems]
    for problem in mine:
        assert problem.fix, problem


@pytest.mark.parametrize("damage", ["\x01", "\x00", "\ufeff\x7f"])
def test_one_unreadable_file_is_one_problem_not_a_cascade(tmp_path, damage):
    # Statements citing the claims of a file that cannot be read are not "dangling": they are unchecked until the
    # file reads again (a control character once gave 95 follow-on errors after the real one).
    root = tiny_kb(tmp_path / "kb")
    claims = root / "claims" / "tiny-paper-2024.yaml"
    text = claims.read_text(encoding="utf-8")
    claims.write_text(text.replace("claims:", f"claims: # {damage}", 1), encoding="utf-8")
    _kb, problems = load_knowledge_base(root)
    assert [(p.file, p.code) for p in problems] == [("claims/tiny-paper-2024.yaml", "E001")], [str(p) for p in problems]


def test_one_unreadable_claims_file_of_the_real_data_is_one_problem(tmp_path):
    # Its claims' contrasts are declared on both sides: the corrections that name them wait for the file too.
    root = copy_data(tmp_path / "kb")
    claims = root / "claims" / "palisade-shutdown-thread-2025.yaml"
    claims.write_text("# \x07\n" + claims.read_text(encoding="utf-8"), encoding="utf-8")
    _kb, problems = load_knowledge_base(root)
    assert [(p.file, p.code) for p in problems] == [("claims/palisade-shutdown-thread-2025.yaml", "E001")], \
        [str(p) for p in problems]


def test_problems_are_sorted_and_collected_across_files(tmp_path):
    root = tiny_kb(tmp_path / "kb")
    for name in ("E013-bad-enum.yaml", "E030-out-of-range.yaml", "E020-unknown-model.yaml"):
        shutil.copy(BROKEN / name, root / "claims" / name)
    _kb, problems = load_knowledge_base(root)
    assert {p.code for p in problems} >= {"E013", "E030", "E020"}
    assert problems == sorted(problems)


def test_did_you_mean_for_vocabulary_ids(tmp_path):
    root, _rel = broken_copy(tmp_path, "E020-unknown-context.yaml")
    _kb, problems = load_knowledge_base(root)
    text = "\n".join(str(p) for p in problems)
    assert "unknown context key 'goal_nuge' (did you mean 'goal_nudge'?)" in text
    assert "allowed: goal_nudge" in text and "vocabulary/context.yaml" in text


def test_message_names_field_value_allowed_and_fix(tmp_path):
    root, rel = broken_copy(tmp_path, "E013-bad-enum.yaml")
    _kb, problems = load_knowledge_base(root)
    [problem] = [p for p in problems if p.file == rel]
    text = str(problem)
    assert text.startswith(f"{rel}:{marked_line(BROKEN / 'E013-bad-enum.yaml')}: [E013]")
    assert "verification" in text and "'verifyed'" in text and "did you mean 'verified'" in text
    assert "allowed: verified, parsed, secondary, partial, unverified" in text and "fix:" in text


def test_cli_exits_0_on_the_repository():
    result = run_kb("validate")
    assert result.returncode == 0, result.stderr
    assert "no problems" in result.stdout


@pytest.mark.parametrize("fixture", ["E002-syntax.yaml", "E001-binary.yaml", "E031-value-text.yaml"])
def test_cli_exits_1_with_file_line_messages_and_no_traceback(tmp_path, fixture):
    root, rel = broken_copy(tmp_path, fixture)
    result = run_kb("--root", str(root), "validate")
    assert result.returncode == 1
    assert re.search(rf"^{re.escape(rel)}:\d+: \[E\d{{3}}\]", result.stderr, re.M), result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_every_problem_code_is_documented_in_the_readme():
    from kb.problems import CODES

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [code for code in CODES if f"`{code}`" not in readme]
    assert missing == []


def test_every_problem_code_has_a_broken_fixture():
    from kb.problems import CODES

    covered = {p.name.split("-")[0] for p in BROKEN.glob("*.yaml")}
    assert set(CODES) - covered == set()


def test_a_bound_sign_that_contradicts_the_bound_names_the_fix(tmp_path):
    root, rel = broken_copy(tmp_path, "E036-bound-sign.yaml")
    _kb, problems = load_knowledge_base(root)
    [problem] = [p for p in problems if p.file == rel]
    text = str(problem)
    assert text.startswith(f"{rel}:{marked_line(BROKEN / 'E036-bound-sign.yaml')}: [E036] claim broken-bound-sign")
    assert "'<1%' states an upper bound" in text and "'lower'" in text and "fix: set 'bound: upper'" in text


def test_a_bound_without_its_sign_is_refused(tmp_path):
    root = tiny_kb(tmp_path / "kb")
    path = root / "claims" / "tiny-paper-2024.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("value_text: 5%\n", "value_text: 5%\n  bound: upper\n"),
                    encoding="utf-8")
    _kb, problems = load_knowledge_base(root)
    assert [(p.code, p.record) for p in problems] == [("E036", "claim tiny-oversight-nudged")]
    assert "no comparison sign" in problems[0].message


def test_an_unscoped_evaluation_condition_names_the_behaviours_it_spans(tmp_path):
    root, rel = broken_copy(tmp_path, "E034-unscoped-monitoring.yaml")
    _kb, problems = load_knowledge_base(root)
    [problem] = [p for p in problems if p.file == rel]
    assert "oversight_subversion, self_exfiltration" in problem.message and "behaviours: [...]" in problem.fix


def test_a_change_entry_must_say_what_the_claim_says_now(tmp_path):
    root, rel = broken_copy(tmp_path, "E037-change-disagrees.yaml")
    _kb, problems = load_knowledge_base(root)
    [problem] = [p for p in problems if p.file == rel]
    assert "value_text became '5.0%', but the claim now has '5%'" in problem.message


def test_a_claim_field_changes_at_most_once_a_day(tmp_path):
    # The build keys the changes table on (claim, field, date); validation must refuse what the build would.
    root, rel = broken_copy(tmp_path, "E043-change-twice-a-day.yaml")
    _kb, problems = load_knowledge_base(root)
    [problem] = [p for p in problems if p.file == rel]
    assert problem.code == "E043" and "tiny-oversight-nudged's value_text on 2026-12-01" in problem.message
    assert "changes.yaml:2" in problem.message and "line 2" in problem.fix
    # one entry, its 'new' updated, is what the fix asks for
    text = (root / rel).read_text(encoding="utf-8")
    (root / rel).write_text(text.split("- date: '2026-12-01'\n  claim: tiny-oversight-nudged\n  field: value_text   #")[0]
                            .replace("new: 5.0%", "new: 5%"), encoding="utf-8")
    _kb, problems = load_knowledge_base(root)
    assert problems == []


def test_every_monitoring_condition_is_attached_only_to_claims_measured_under_it():
    """The oversight config and 'told it was monitored' exist only in the oversight-subversion runs: no claim about
    another evaluation may carry them (they used to sit on whole settings)."""
    kb, problems = load_knowledge_base(ROOT)
    assert problems == []
    oversight_only = {"oversight config", "told it was monitored"}
    carrying = {c.id: c.behaviour for c in kb.claims.values()
                if kb.conditions_of(c).get("monitoring") is not None
                and kb.conditions_of(c)["monitoring"].value in oversight_only}
    assert carrying and set(carrying.values()) == {"oversight_subversion"}
    for claim in kb.claims.values():
        monitoring = kb.conditions_of(claim).get("monitoring")
        if monitoring is not None and monitoring.behaviours:
            assert claim.behaviour in monitoring.behaviours, claim.id


def _problems_of(tmp_path, fixture, edit=None):
    """The problems reported in a broken fixture's copy, after an optional text edit (old, new) of the fixture."""
    root, rel = broken_copy(tmp_path, fixture)
    if edit:
        path = root / rel
        text = path.read_text(encoding="utf-8")
        assert edit[0] in text
        path.write_text(text.replace(*edit), encoding="utf-8")
    _kb, problems = load_knowledge_base(root)
    return _kb, [p for p in problems if p.file == rel]


def test_a_condition_naming_one_model_must_say_which_models_it_held_for(tmp_path):
    _kb, [problem] = _problems_of(tmp_path, "E038-unscoped-model-condition.yaml")
    text = str(problem)
    assert "[E038] condition cot of setting broken-two-models" in text
    assert "names claude-3-opus, o1" in text and "span 2 models" in text and "models: [...]" in text
    scoped = ("      value: visible except o1\n", "      value: visible\n      models: [claude-3-opus]\n")
    kb, problems = _problems_of(tmp_path / "scoped", "E038-unscoped-model-condition.yaml", scoped)
    assert problems == []
    # the other model's claim is no longer measured under it
    assert "cot" in kb.conditions_of(kb.claims["broken-two-models-opus"])
    assert "cot" not in kb.conditions_of(kb.claims["broken-two-models-o1"])


def test_a_claim_without_a_model_beside_a_model_condition_is_reported_not_a_traceback(tmp_path):
    # Found by the property test: one claim's model emptied by an edit made the E038 rule crash on sorting.
    _kb, problems = _problems_of(tmp_path, "E038-unscoped-model-condition.yaml", ("  model: o1\n", "  model:\n"))
    assert problems and all(p.code for p in problems)
    assert any("model" in str(p) and "broken-two-models-o1" in str(p) for p in problems)


def test_a_condition_can_be_scoped_to_claims_and_the_scope_must_exist(tmp_path):
    scoped = ("      value: visible except o1\n", "      value: visible\n      claims: [broken-two-models-opus, no-such-claim]\n")
    kb, problems = _problems_of(tmp_path, "E038-unscoped-model-condition.yaml", scoped)
    assert [(p.code, "no-such-claim" in p.message) for p in problems] == [("E022", True)]
    assert "cot" not in kb.conditions_of(kb.claims["broken-two-models-o1"])


def test_a_rate_prints_one_figure(tmp_path):
    _kb, [problem] = _problems_of(tmp_path, "E039-two-figures.yaml")
    assert "prints 2 figures (13%, 0.4%)" in str(problem) and "move p-values, intervals and margins to notes" in str(problem)
    _kb, problems = _problems_of(tmp_path / "one", "E039-two-figures.yaml", ("13% -> 0.4%", "0.4%"))
    assert problems == []


def test_an_accuracy_drop_prints_one_figure(tmp_path):
    _kb, [problem] = _problems_of(tmp_path, "E039-accuracy-drop-two-figures.yaml")
    assert problem.code == "E039" and "prints 3 figures" in str(problem)
    _kb, problems = _problems_of(tmp_path / "one", "E039-accuracy-drop-two-figures.yaml",
                                 ("0.99 vs 0.94, diff 0.05", "'0.05'"))
    assert problems == []


def _e039(tmp_path, fixture, *edits):
    """The E039 problems of a broken fixture's copy after text edits (other rules may object to the edited metric)."""
    root, rel = broken_copy(tmp_path, fixture)
    path = root / rel
    text = path.read_text(encoding="utf-8")
    for old, new in edits:
        assert old in text
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    _kb, problems = load_knowledge_base(root)
    return [str(p) for p in problems if p.file == rel and p.code == "E039"]


def test_every_metric_prints_one_figure_and_a_difference_its_two_arms(tmp_path):
    fixture, arms = "E039-accuracy-drop-two-figures.yaml", ("0.99 vs 0.94, diff 0.05", "0.99 vs 0.94")
    score, difference = ("  metric: accuracy_drop\n", "  metric: score\n"), ("  metric: accuracy_drop\n", "  metric: difference\n")
    [problem] = _e039(tmp_path / "score", fixture, score)
    assert "prints 3 figures" in problem and "a score's value_text is one figure" in problem
    [problem] = _e039(tmp_path / "drop-arms", fixture, arms)
    assert "an accuracy_drop's value_text is one figure" in problem
    [problem] = _e039(tmp_path / "difference", fixture, difference)
    assert "a difference's value_text is at most two figures" in problem
    assert _e039(tmp_path / "difference-arms", fixture, difference, arms) == []


def test_a_figure_marked_unverified_is_not_the_value_text(tmp_path):
    _kb, [problem] = _problems_of(tmp_path, "E039-unread-figure.yaml")
    assert problem.code == "E039" and "says 'secondary sources'" in str(problem) and "move the unread figure" in str(problem)
    words = ("often; secondary sources say 'up to 33%' (unverified)", "often")
    _kb, problems = _problems_of(tmp_path / "words", "E039-unread-figure.yaml", words)
    assert problems == []


def test_a_note_may_not_state_another_verification_status(tmp_path):
    _kb, [problem] = _problems_of(tmp_path, "E044-note-says-verified.yaml")
    assert problem.code == "E044" and "opens with 'VERIFIED' but the claim's verification is 'secondary'" in str(problem)
    reworded = ("VERIFIED via press copies", "Read in press copies")
    _kb, problems = _problems_of(tmp_path / "reworded", "E044-note-says-verified.yaml", reworded)
    assert problems == []
    agreeing = ("  verification: secondary\n", "  verification: verified\n")
    _kb, problems = _problems_of(tmp_path / "agreeing", "E044-note-says-verified.yaml", agreeing)
    assert [p.code for p in problems if p.code == "E044"] == []


@pytest.mark.parametrize("text, figures", [
    ("21 of 22 cases (95%)", 1), ("1–2%", 1), ("between 1% and 2%", 1), ("13% (13.0%)", 1), ("39/128 (30.4%)", 1),
    ("8/1087 (0.7%)", 1), ("up to 97%", 1), ("<1%", 1), ("roughly 1%", 1), ("5 out of 24", 1),
    ("0.38 (p under null 0.002)", 2), ("94.5% (93.0, 95.8)%", 3), ("easy 0.65 / medium 0.0 / hard 0.02", 3),
    ("easy 0.08 / medium 0.0 / hard 0.0", 2), ("up to 97% (95% CI 96-98%)", 3),
])
def test_figures_are_counted_as_printed(text, figures):
    from kb.checks import printed_figures

    assert len(printed_figures(text)) == figures, printed_figures(text)


def test_source_contrasts_must_be_the_same_measurement(tmp_path):
    _kb, [problem] = _problems_of(tmp_path, "E041-source-contrast.yaml")
    text = str(problem)
    assert "[E041] contrast of claim broken-source-contrast" in text and "value (0.02 vs 0.05)" in text
    assert "name the context key that differs" in text
    _kb, problems = _problems_of(tmp_path / "named", "E041-source-contrast.yaml", ("differs_by: source", "differs_by: run"))
    assert problems == []


def test_source_contrasts_compare_the_conditions_both_describe(tmp_path):
    same_value = ("  value: 0.02\n  value_text: 2%\n  setting: tiny-nudged\n  key_context: [goal_nudge, rate, test_setting]",
                  "  value: 0.05\n  value_text: 5%\n  setting: tiny-no-nudge\n  key_context: [goal_given, rate, test_setting]")
    _kb, [problem] = _problems_of(tmp_path, "E041-source-contrast.yaml", same_value)
    assert "goal_nudge ('none' vs 'strong')" in problem.message


def test_verified_needs_a_primary_source(tmp_path):
    _kb, [problem] = _problems_of(tmp_path, "E042-verified-secondhand.yaml")
    assert "[E042] claim broken-verified-secondhand" in str(problem) and "is a news" in problem.message
    _kb, problems = _problems_of(tmp_path / "secondary", "E042-verified-secondhand.yaml",
                                 ("verification: verified", "verification: secondary"))
    assert problems == []


def test_only_the_latest_change_of_a_field_must_match_the_claim(tmp_path):
    root = tiny_kb(tmp_path / "kb")
    entry = ("- date: '{date}'\n  claim: tiny-oversight-nudged\n  field: value_text\n  old: '{old}'\n  new: '{new}'\n"
             "  why: The source prints it so.\n  source: tiny-paper-2024\n  locator: Table 1\n")
    (root / "changes.yaml").write_text("changes:\n" + entry.format(date="2026-12-01", old="0.05", new="5.0%")
                                       + entry.format(date="2026-12-07", old="5.0%", new="5%"), encoding="utf-8")
    _kb, problems = load_knowledge_base(root)
    assert problems == []
    # an earlier entry that matches does not excuse a later one that does not
    (root / "changes.yaml").write_text("changes:\n" + entry.format(date="2026-12-01", old="0.05", new="5%")
                                       + entry.format(date="2026-12-07", old="5%", new="6%"), encoding="utf-8")
    _kb, problems = load_knowledge_base(root)
    assert [(p.code, p.line) for p in problems] == [("E037", 14)]


def test_a_conditional_rate_lists_its_metric_as_key_context(tmp_path):
    _kb, [problem] = _problems_of(tmp_path, "E045-conditional-rate-not-key.yaml")
    assert problem.code == "E045" and "a conditional_rate claim without 'conditional_rate'" in str(problem)
    keyed = ("[goal_nudge, rate, test_setting]", "[goal_nudge, conditional_rate, test_setting]")
    _kb, problems = _problems_of(tmp_path / "keyed", "E045-conditional-rate-not-key.yaml", keyed)
    assert [p.code for p in problems] == []
