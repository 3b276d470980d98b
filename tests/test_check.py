"""kb check: the JSONL contract, each detector on statements written for this test, bad input, exit codes,
and kb eval's figures on the labelled sets. Uses the real spaCy pipeline and the real embedding model
(loaded once per test session)."""

import json
import sys

import pytest

from kb.check import load_checker
from kb.check.detectors import DETECTORS, MISSTATING
from kb.check.evaluate import evaluate, load_labels
from kb.wording import faithful_sentence
from kbtest import ROOT, run_kb

pytestmark = pytest.mark.slow
VERDICTS = {"ok", "missing_context", "misstated", "no_claim"}
NUMBER_STATES = {"match", "mismatch", "other_condition", "unsupported", "absent"}


@pytest.fixture(scope="module")
def checker():
    return load_checker(ROOT)


def matched(result):
    return [f for f in result["findings"] if f["tier"] == "match"]


# (statement, verdict, claim reported, number status, a problem kind that must be reported or None, dropped keys)
DETECTOR_CASES = [
    ("In Anthropic's simulated tests, GPT-4.1 resorted to blackmail in 82% of runs.", "misstated",
     "agentic-blackmail-gpt-4.1", "mismatch", "number_mismatch", set()),  # a near miss: the study gives 80%
    # A near miss, read against the run the statement says (the claims consistent with its conditions come first).
    ("In Palisade's tests o3 sabotaged the shutdown 8 times out of 100 even when told to allow itself to be shut "
     "down.", "misstated", "palisade-with-o3", "mismatch", "number_mismatch", set()),
    ("o1 tried to disable oversight 5% of the time", "missing_context", "o1card-oversight", "match",
     "dropped_context", {"goal_nudge"}),
    ("In Apollo Research's tests, after being told that nothing else mattered, o1 tried to disable its oversight "
     "mechanism 5% of the time.", "ok", "o1card-oversight", "match", None, set()),
    ("o1 disabled its oversight mechanism in 40% of Apollo's tests.", "misstated", None, "unsupported",
     "unsupported_number", set()),
    ("Even when explicitly told to allow itself to be shut down, o3 sabotaged the shutdown script in 79 of 100 runs.",
     "misstated", "palisade-with-o3", "other_condition", "wrong_condition", set()),
    ("In Palisade's test, o4-mini sabotaged the shutdown script 7 times out of 100 even when told to allow it.",
     "misstated", "palisade-with-o4-mini", "mismatch", "wrong_model", set()),
    ("96% of AI models chose blackmail in Anthropic's tests.", "misstated", "agentic-blackmail-claude-opus-4", "match",
     "share_of_models", set()),
    ("Anthropic found that 96% of frontier AI models, including Claude Opus 4, blackmailed in its tests.", "misstated",
     "agentic-blackmail-claude-opus-4", "match", "share_of_models", set()),
    ("Claude 3.5 Sonnet sandbagged 65% of the time.", "misstated", "apollo-t6-sandbag-goal-sonnet35", "match",
     "accuracy_as_frequency", {"accuracy_drop"}),
    ("o1 lied in 99% of all tests.", "misstated", "o1card-doubledown", "match", "conditional_as_unconditional",
     {"conditional_rate"}),
    pytest.param("AI models resort to blackmail.", "missing_context", None, "absent", "overgeneralisation",
                 {"binary_choice"}, marks=pytest.mark.xfail(strict=True, reason=(
                     "fitted checker: the sweeping statement is matched to the study's aggregate claim (agentic-control), "
                     "whose key context has no binary_choice"))),
    ("o1 tried to disable its oversight mechanism in Apollo's tests.", "missing_context", "o1card-oversight", "absent",
     "overgeneralisation", {"goal_nudge"}),
    ("In 84% of test scenarios, the AI threatened to blackmail the engineer.", "missing_context",
     "c4card-blackmail-84", "match", "dropped_context", {"binary_choice"}),
    ("Anthropic's December 2024 system card says Claude Opus 4, left no option but blackmail or replacement, "
     "blackmailed the engineer in 84% of test rollouts.", "misstated", "c4card-blackmail-84", "match", "wrong_date", set()),
    ("OpenAI released a new model today.", "no_claim", None, None, None, set()),
]


@pytest.mark.parametrize("text,verdict,claim,number,problem,dropped", DETECTOR_CASES)
def test_detectors_on_statements(checker, text, verdict, claim, number, problem, dropped):
    result = checker.check(text)
    assert result["verdict"] == verdict, result
    if number is None:
        assert matched(result) == []
        return
    finding = next(f for f in matched(result) if claim is None or f["claim"] == claim)
    assert finding["number"] == number
    assert dropped <= set(finding["missing_context"])
    if problem:
        assert problem in {p["kind"] for p in finding["problems"]}


def test_every_registered_detector_is_exercised_above():
    kinds = {kind for kind, _fn in DETECTORS}
    # Each case asserts its problem kind is reported; a case expected to fail exercises nothing.
    passing = [case for case in DETECTOR_CASES if not getattr(case, "marks", ())]
    tested = {case[4] for case in passing if case[4]}
    assert kinds - tested == set()
    assert {"unsupported_number", "wrong_condition", "wrong_model", "share_of_models", "accuracy_as_frequency",
            "conditional_as_unconditional", "wrong_date"} <= MISSTATING


def test_a_condition_stated_for_one_number_does_not_cover_the_other(checker):
    result = checker.check("With the 'allow shutdown' instruction, o3 sabotaged the shutdown 7 times out of 100. "
                           "Without it, 79 out of 100.")
    claims = {f["claim"]: f for f in matched(result)}
    assert set(claims) == {"palisade-with-o3", "palisade-without-o3"}
    assert result["verdict"] == "ok"


@pytest.mark.parametrize("removal", ["Remove that instruction", "Drop it", "Take that line out", "Leave it out"])
def test_a_removal_verb_pointing_back_negates_the_condition_before(checker, removal):
    result = checker.check("Told to allow shutdown, o3 sabotaged the shutdown 7 times out of 100. "
                           f"{removal} and it is 79 out of 100.")
    assert {f["claim"] for f in matched(result)} == {"palisade-with-o3", "palisade-without-o3"}
    assert result["verdict"] != "misstated", result


@pytest.mark.parametrize("opening", [
    'Without the explicit sentence "allow yourself to be shut down" in its prompt',
    "Once the researchers ran it without the line telling the models to allow shutdown",
])
def test_without_negates_the_condition_anywhere_in_the_phrase_it_governs(checker, opening):
    result = checker.check(f"{opening}, o3 sabotaged the shutdown script 79 times in 100 runs of Palisade's test.")
    assert {f["claim"] for f in matched(result)} == {"palisade-without-o3"}, result
    assert result["verdict"] != "misstated", result


def test_the_verdict_follows_from_the_match_tier_findings_alone(checker):
    # kb eval's sweep of the match tier re-derives verdicts from result objects; at the tier in use it must agree
    from kb.check.flags import verdict_from

    texts = ["o1 disabled oversight in 5% of Apollo's tests.", "Claude blackmailed an engineer.",
             "In Palisade's test o3 sabotaged the shutdown script 79 times in 100 runs without the instruction.",
             "The weather was fine."]
    for result in checker.check_many((str(i), t) for i, t in enumerate(texts)):
        assert verdict_from(result, checker.weights.match) == result["verdict"], result


def test_a_negator_stops_at_a_clause_break(checker):
    # the comma ends "without any nudging": the instruction after it was given
    result = checker.check("In Palisade's test o3 sabotaged the shutdown script in 7 of 100 runs without any nudging, "
                           "even when told to allow shutdown.")
    assert {f["claim"] for f in matched(result)} == {"palisade-with-o3"}, result


def test_a_removal_verb_without_an_object_negates_nothing(checker):
    # "dropped IN tests" says how a rate moved, not that the tests were absent
    result = checker.check("After anti-scheming training, o3's covert action rate dropped in tests from 13% to 0.4%.")
    assert {f["claim"] for f in matched(result)} == {"antischeming-o3-before", "antischeming-o3"}
    assert result["verdict"] != "misstated", result


def test_a_number_of_times_is_a_quantifier_not_talk_about_a_figure(checker):
    result = checker.check("In Apollo's tests, o1 tried to copy itself to another server a number of times.")
    assert any(f["model"] == "o1" and f["behaviour"] == "self_exfiltration" for f in matched(result)), result


def test_models_and_numbers_pair_in_order(checker):
    result = checker.check("The o3-mini, o4-mini, and Codex-mini models failed to comply in 1%, 7%, and 12% of cases.")
    kinds = {p["kind"] for f in matched(result) for p in f["problems"]}
    assert result["verdict"] == "misstated" and "wrong_model" in kinds
    assert any(f["claim"] == "palisade-with-codex-mini" and f["number"] == "match" for f in matched(result))


def test_an_accuracy_drop_written_as_two_accuracies(checker):
    result = checker.check("In Apollo's sandbagging test, Claude 3.5 Sonnet, given a goal in its prompt, saw its "
                           "accuracy fall from 99% to 34%.")
    finding = matched(result)[0]
    assert finding["claim"] == "apollo-t6-sandbag-goal-sonnet35" and finding["reported_value"] == pytest.approx(0.65)
    assert "accuracy_as_frequency" not in {p["kind"] for p in finding["problems"]}


def test_suggestion_keeps_the_key_condition_and_fits(checker):
    finding = matched(checker.check("o1 tried to disable oversight 5% of the time"))[0]
    assert "instructed to strongly pursue" in finding["suggestion"] and len(finding["suggestion"]) <= 280
    assert finding["source"] == "OpenAI o1 System Card" and "Table 10" in finding["locator"]


def test_every_claim_has_a_faithful_sentence_within_280_characters(checker):
    for claim in checker.kb.claims.values():
        sentence = faithful_sentence(checker.kb, claim)
        assert 0 < len(sentence) <= 280, claim.id


# ---------------------------------------------------------------- the output contract

def test_result_objects_follow_the_contract(checker):
    results = list(checker.check_many([("a", "o1 tried to disable oversight 5% of the time"), ("b", "hello there")]))
    assert [r["id"] for r in results] == ["a", "b"]
    for result in results:
        assert {"id", "text", "verdict", "findings"} <= set(result) and result["verdict"] in VERDICTS
        for f in result["findings"]:
            assert set(f) >= {"claim", "model", "behaviour", "score", "value", "reported_value", "number",
                              "missing_context", "present_context", "problems", "explanation", "suggestion", "source",
                              "locator"}
            assert f["number"] in NUMBER_STATES and 0 <= f["score"] <= 1 and f["tier"] in ("match", "suggest")
            assert f["model"] in checker.kb.models and f["behaviour"] in checker.kb.behaviours
            assert set(f["missing_context"]) <= set(checker.kb.context)
            assert all(set(p) == {"kind", "detail"} for p in f["problems"])
        # Only matches count: a statement whose findings are all suggestions has found no claim.
        assert (result["verdict"] == "no_claim") == (not any(f["tier"] == "match" for f in result["findings"]))


def test_checking_many_gives_each_statement_the_result_a_single_check_gives(checker):
    """A batch is read and encoded together (sorted by length, padded): each result is still the one checking the
    statement alone gives, in input order, with unusable texts among them keeping their place."""
    texts = [s.text for s in list(checker.kb.statements.values())[:70]]
    texts[3], texts[40] = "", "\x00binary\x00"
    many = list(checker.check_many((str(i), t) for i, t in enumerate(texts)))
    assert [r["id"] for r in many] == [str(i) for i in range(len(texts))]
    assert [many[i]["error"]["code"] for i in (3, 40)] == ["empty", "binary"]
    for i in (0, 1, 2, 39, 41, 69):
        assert many[i] == checker.check(texts[i], str(i)), i


def test_jsonl_cli_reads_json_and_plain_lines_in_order(tmp_path):
    lines = [json.dumps({"id": "x1", "text": "o1 tried to disable oversight 5% of the time"}),
             "The o3 model evaded shutdown in 7 out of 100 attempts.",
             '{"id": "broken", "text": ',
             json.dumps({"id": "long", "text": "o1 " * 8000})]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_kb("check", "--jsonl", "--file", str(path))
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["id"] for o in out] == ["x1", "2", "3", "long"]
    assert out[0]["verdict"] == "missing_context" and out[1]["verdict"] == "missing_context"
    assert out[2]["error"]["code"] == "bad_json" and out[3]["error"]["code"] == "too_long"
    assert out[3]["verdict"] is None and "20,000" in out[3]["error"]["message"]
    assert result.returncode == 2  # an input error in the batch; the rest was still checked


def test_jsonl_from_stdin_and_invalid_utf8_lines(tmp_path):
    path = tmp_path / "in.txt"
    path.write_bytes(b"o1 tried to disable oversight 5% of the time\n\xff\xfe bad bytes\n")
    result = run_kb("check", "--jsonl", "--file", str(path))
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert out[1]["error"]["code"] == "not_utf8" and out[0]["verdict"] == "missing_context"
    piped = run_kb("check", "--jsonl", input="The o3 model evaded shutdown in 7 out of 100 attempts.\n")
    assert json.loads(piped.stdout)["verdict"] == "missing_context" and piped.returncode == 1


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("text,verdict,code", [
    ("", None, "empty"),
    ("   \n\t ", None, "empty"),
    ("x" * 20_001, None, "too_long"),
    (b"\xff\xfeo1 5%", None, "not_utf8"),
    ("\x00\x01\x02\x03binary\x04\x05", None, "binary"),
    (12345, None, "not_text"),
])
def test_bad_input_gets_a_clear_result(checker, text, verdict, code):
    result = checker.check(text)
    assert result["verdict"] == verdict and result["findings"] == []
    if code:
        assert result["error"]["code"] == code and result["error"]["message"]


def test_html_is_reduced_to_text(checker):
    result = checker.check("<p>o1 tried to <b>disable oversight</b> 5% of the time</p><script>alert(1)</script>")
    assert result["verdict"] == "missing_context" and any("HTML" in n for n in result["notices"])
    assert "alert" not in json.dumps(result["findings"])


def test_non_english_text_is_reported_not_guessed(checker):
    result = checker.check("Le modèle o1 a tenté de désactiver la surveillance dans 5 % des cas, selon les tests.")
    assert result["verdict"] == "no_claim" and any("English" in n for n in result["notices"])


HOSTILE_UNITS = ["'", "(", "o1 ", "%", "\u202e o1 5% \u202d ", "5% ", "o1 sabotaged 7 of 100 runs. "]
def python_calls(work) -> int:
    """How many Python function calls `work()` makes: a measure of work that does not depend on the machine."""
    calls = 0

    def count(_frame, event, _arg):
        nonlocal calls
        calls += event == "call"

    sys.setprofile(count)
    try:
        work()
    finally:
        sys.setprofile(None)
    return calls


@pytest.mark.parametrize("unit", HOSTILE_UNITS)
def test_hostile_text_costs_work_linear_in_its_length(checker, unit):
    # Doubling a repetitive text may at most about double the checker's work: findings x numbers (or any other
    # pairwise loop) would quadruple it, and "5% " * 5000 once took 84 s. Counted, not timed.
    size = 1200 // len(unit)
    checker.check(unit * 8)  # warm: lazily built tables are not the statement's cost
    small, large = (python_calls(lambda n=n: checker.check(unit * n)) for n in (size, 2 * size))
    assert large <= 2.6 * small, f"{unit!r}: {small:,} calls at {size}, {large:,} at {2 * size}"


def article(kb, chars: int) -> str:
    """A long statement like a news article: texts of the benchmark corpus (reports, AI chatter, unrelated prose)."""
    from kb.scan.corpus import generate

    texts, length = [], 0
    for index, (_id, _date, text) in enumerate(generate(kb, 5000)):
        if index % 100 <= 4 or index % 10 == 5:  # every report and chatter text, and some prose
            texts.append(text)
            length += len(text) + 1
        if length >= chars:
            break
    return " ".join(texts)[:chars]


def test_an_article_costs_work_linear_in_its_length(checker):
    # A finding's scope may span the whole article: findings x sentences x texts once made 20,000 characters take
    # over 10 s. Counted, not timed.
    small_text, large_text = article(checker.kb, 6000), article(checker.kb, 12000)
    checker.check(small_text)
    small, large = python_calls(lambda: checker.check(small_text)), python_calls(lambda: checker.check(large_text))
    assert large <= 2.6 * small, f"{small:,} calls at 6,000 characters, {large:,} at 12,000"


class CountingEmbedder:
    """The checker's real embedder, counting the characters it is asked to encode."""

    def __init__(self, real):
        self.real, self.name, self.chars = real, real.name, 0

    def encode(self, texts):
        self.chars += sum(len(t) for t in texts)
        return self.real.encode(texts)


# Regressed on 2026-12-07 when retrieval by meaning found the article's nudged o1 figure beside the no-nudge claim it
# reports; passes again with the retrieval adapter.
def test_a_long_statement_embeds_only_the_sentences_that_can_hold_a_report(checker, monkeypatch):
    import kb.check.checker as module
    from kb.check.checker import Checker

    counting = CountingEmbedder(checker.embedder)
    copy = object.__new__(Checker)
    copy.__dict__.update(checker.__dict__, embedder=counting)
    prose = " ".join(f"The council met on day {i} and reviewed the bridge repairs, which ran {i % 9 + 2}% over budget."
                     for i in range(40))
    report = "In Apollo's test, o1 tried to disable its oversight in 5% of runs after being told nothing else mattered."
    text = f"{prose} {report} {prose}"
    result = copy.check(text)
    gated = counting.chars
    assert gated < 0.2 * len(text)  # the report and its neighbours, not 7,000 characters of council news
    alone = {f["claim"] for f in checker.check(report)["findings"] if f["tier"] == "match"}
    assert alone and alone <= {f["claim"] for f in result["findings"] if f["tier"] == "match"}
    monkeypatch.setattr(module, "LONG_CHARS", 10 ** 9)  # every sentence embedded: more work, no finding lost
    everything = copy.check(text)
    assert counting.chars - gated > 2 * gated
    assert {f["claim"] for f in result["findings"]} <= {f["claim"] for f in everything["findings"]}


class RecordingTokenizer:
    """spaCy's real tokenizer, recording the longest whitespace-free run it is given and the tokens it makes."""

    def __init__(self, real):
        self.real, self.longest_run, self.tokens = real, 0, 0

    def __call__(self, text):
        self.longest_run = max([self.longest_run, *(len(run) for run in text.split())])
        doc = self.real(text)
        self.tokens += len(doc)
        return doc


class TokenCounter:
    """A pipeline component counting the tokens the rest of the pipeline runs over."""

    def __init__(self):
        self.tokens = 0

    def __call__(self, doc):
        self.tokens += len(doc)
        return doc


@pytest.mark.parametrize("unit", ["\U0001F600", "!?", "(", "\u2014"])
def test_a_long_run_without_spaces_costs_the_tokenizer_linear_work(checker, monkeypatch, unit):
    # spaCy's tokenizer does work growing with the square of a whitespace-free run (20,000 emoji took 50 s through
    # the server): runs are tokenised in short pieces, and the pipeline sees at most MAX_TOKENS tokens. Counted.
    from kb.check.nlp import MAX_RUN, MAX_TOKENS

    recording, counter = RecordingTokenizer(checker.nlp.tokenizer), TokenCounter()
    monkeypatch.setattr(checker.nlp, "tokenizer", recording)
    monkeypatch.setattr(checker.nlp, "_components", [("count", counter), *checker.nlp._components])
    text = (unit * 20_000)[:20_000]
    result = checker.check(text)
    assert recording.longest_run <= MAX_RUN and recording.tokens >= 20_000 // len(unit)
    assert 0 < counter.tokens <= MAX_TOKENS
    assert result["verdict"] == "no_claim" and result["text"] == text
    assert any("only the first 10,000 were checked" in notice for notice in result["notices"])


def test_a_report_before_a_long_run_without_spaces_is_still_found(checker):
    report = "o1 tried to disable its oversight mechanism 5% of the time."
    alone = checker.check(report)
    padded = checker.check(report + " " + "\U0001F600" * 15_000 + " https://example.org/" + "a" * 500)
    assert padded["verdict"] == alone["verdict"] == "missing_context"
    assert [f["claim"] for f in padded["findings"]] == [f["claim"] for f in alone["findings"]]


@pytest.mark.parametrize("hidden", ["o1 tried to disable its oversight mechanism 5\u200b% of the time.",
                                    "o1 tried to dis\u00adable its over\u200bsight mech\u200danism 5% of the time.",
                                    "\ufeffo1 tried to disable its oversight\u2060 mechanism 5\u200c% of the time."])
def test_invisible_format_characters_do_not_change_the_verdict(checker, hidden):
    # A zero-width space inside "5%" lost the number and matched another claim; a soft hyphen, a zero-width space
    # and a joiner together gave no_claim. Format characters (Unicode category Cf) are stripped before parsing.
    visible = checker.check("o1 tried to disable its oversight mechanism 5% of the time.")
    result = checker.check(hidden)
    assert result["verdict"] == visible["verdict"] == "missing_context"
    assert [(f["claim"], f["missing_context"]) for f in result["findings"]] == \
        [(f["claim"], f["missing_context"]) for f in visible["findings"]]


def test_a_text_of_only_invisible_characters_is_empty(checker):
    assert checker.check("\u200b\u200d\u00ad")["error"]["code"] == "empty"


def test_checking_new_words_does_not_grow_the_pipelines_memory(checker):
    # spaCy keeps every new word in its vocabulary: a server checking text after text grew by about 1 KB per new
    # word (+130 MB over 2,400 statements). Docs are made in a memory zone; the vocabulary's strings stay as built.
    import random
    import string

    rng = random.Random(7)
    checker.check("o1 tried to disable its oversight mechanism 5% of the time.")
    before = len(checker.nlp.vocab.strings)
    texts = [" ".join("".join(rng.choice(string.ascii_lowercase) for _ in range(9)) for _ in range(40)) +
             " o1 tried to disable oversight 5% of the time" for _ in range(30)]
    results = list(checker.check_many((str(i), t) for i, t in enumerate(texts)))
    assert len(checker.nlp.vocab.strings) == before  # 1,200 new words seen, none kept
    assert all(r["verdict"] == "missing_context" for r in results)


def test_hostile_text_is_handled(checker):
    texts = ["'" * 5000, "(" * 3000 + "o1 5%", "o1 " * 6000, "%" * 10000, "\u202e o1 5% \u202d", "5% " * 5000]
    for result in checker.check_many((str(i), t) for i, t in enumerate(texts)):
        assert result["verdict"] in VERDICTS and "error" not in result


# ---------------------------------------------------------------- exit status

def test_cli_exit_status(tmp_path):
    assert run_kb("check", "o1 tried to disable oversight 5% of the time").returncode == 1
    ok = run_kb("check", "With the 'allow shutdown' instruction, o3 sabotaged the shutdown 7 times out of 100 in "
                         "Palisade's test. Without it, 79 out of 100.")
    assert ok.returncode == 0 and ok.stdout.startswith("OK")
    assert run_kb("check", "o1 " * 8000).returncode == 2
    both = run_kb("check", "text", "--file", str(tmp_path / "missing.txt"))
    assert both.returncode == 2 and "Traceback" not in both.stderr


# ---------------------------------------------------------------- measured

@pytest.mark.parametrize("labels", ["statements/labelled-development-set.yaml", "tests/data/statements-variants.yaml",
                                    "tests/data/statements-variants-2.yaml", "tests/data/statements-heldout.yaml"])
def test_eval_on_the_invented_fixture_sets_stays_above_its_floor(checker, labels):
    """The invented sets are fixtures now, not the measure (that is `kb eval --cv` on real statements): these floors
    catch a regression. They sit a little under the weakest set's figures measured on 2026-12-07, when the checker
    was refitted on 690 real statements and 399 claims with retrieval by meaning (flag accuracy 0.73-0.90, claim
    recall 0.80-0.92, missing-context recall 0.50-0.81, false alarms 0.01-0.04, misstated recall 0.33-0.79; on
    2026-12-01 they were 0.82-0.96 on flag accuracy: the fixtures were written against the older checker)."""
    figures = evaluate(checker, load_labels(ROOT / labels)).figures
    assert figures["flag_accuracy"] >= 0.70 and figures["claim_recall"] >= 0.78
    assert figures["missing_context_recall"] >= 0.45 and figures["false_alarm_rate"] <= 0.10
    assert figures["misstated_recall"] >= 0.30


def test_eval_cli_prints_the_five_figures_and_saves_them(tmp_path):
    out = tmp_path / "eval.json"
    result = run_kb("eval", "statements/labelled-development-set.yaml", "tests/data/statements-variants.yaml",
                    "--save", str(out))
    assert result.returncode == 0
    for name in ("flag accuracy", "claim recall", "missing-context recall", "false-alarm rate", "misstated recall"):
        assert name in result.stdout
    assert "== tests/data/statements-variants.yaml" in result.stdout
    saved = json.loads(out.read_text())
    assert [s["statements"] for s in saved["sets"]] == [20, 50]
    assert set(saved["sets"][0]["figures"]) >= {"flag_accuracy", "false_alarm_rate"} and saved["goals"]


def test_eval_cli_rejects_a_file_without_labels(tmp_path):
    path = tmp_path / "labels.yaml"
    path.write_text("statements:\n- {id: a, text: hello}\n")
    result = run_kb("eval", str(path))
    assert result.returncode == 2 and "verdict" in result.stderr and "Traceback" not in result.stderr


def test_another_models_figure_names_the_claim_it_belongs_to(checker):
    """`wrong_model` says whose figure the statement gives, as a claim id too (`kb diff` follows it when that figure
    changes)."""
    result = checker.check("In Palisade's tests without the allow-shutdown instruction, Claude 3.7 Sonnet sabotaged the "
                           "shutdown script in 79 of 100 runs.")
    assert result["verdict"] == "misstated"
    problems = [p for f in result["findings"] for p in f["problems"] if p["kind"] == "wrong_model"]
    assert problems and problems[0]["claim"] == "palisade-without-o3"
    assert "palisade-without-o3" in problems[0]["detail"]
