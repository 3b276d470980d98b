import random
import re
import string

import pytest
import spacy
from spacy.tokens import Doc

from kb.check.quantities import (
    BOUNDS,
    KINDS,
    SPAN_KEY,
    Quantity,
    parse_quantities,
    words_to_number,
)

# (input, expected value, kind, bound); each input must yield exactly one quantity.
SINGLE_CASES = [
    # percentages
    ("5%", 0.05, "percent", "eq"),
    ("5 %", 0.05, "percent", "eq"),
    ("0.3%", 0.003, "percent", "eq"),
    ("8.7%", 0.087, "percent", "eq"),
    (".5% of runs", 0.005, "percent", "eq"),
    ("99 percent", 0.99, "percent", "eq"),
    ("99 per cent", 0.99, "percent", "eq"),
    ("twenty percent", 0.20, "percent", "eq"),
    ("seventy-nine percent", 0.79, "percent", "eq"),
    ("sixty five percent", 0.65, "percent", "eq"),
    ("a hundred percent", 1.0, "percent", "eq"),
    ("one hundred percent", 1.0, "percent", "eq"),
    ("zero percent", 0.0, "percent", "eq"),
    ("o1 tried to disable oversight in 2% of cases", 0.02, "percent", "eq"),
    # bounds
    ("fewer than 20 percent", 0.20, "percent", "lt"),
    ("<1%", 0.01, "percent", "lt"),
    ("under 1%", 0.01, "percent", "lt"),
    ("less than one percent", 0.01, "percent", "lt"),
    ("just under 1%", 0.01, "percent", "lt"),
    ("over 85%", 0.85, "percent", "gt"),
    ("more than 85%", 0.85, "percent", "gt"),
    ("up to 65%", 0.65, "percent", "upto"),
    ("at most 3%", 0.03, "percent", "le"),
    ("no more than 3%", 0.03, "percent", "le"),
    ("≤3%", 0.03, "percent", "le"),
    ("≥ 90%", 0.90, "percent", "ge"),
    ("5% or more of runs", 0.05, "percent", "ge"),
    ("nearly 99%", 0.99, "percent", "approx"),
    ("about 55%", 0.55, "percent", "approx"),
    ("~50%", 0.50, "percent", "approx"),
    ("almost 40 percent", 0.40, "percent", "approx"),
    ("roughly half", 0.5, "fraction_word", "approx"),
    ("at least 100 rollouts", 100, "count", "ge"),
    # ratios
    ("7 out of 100", 0.07, "ratio", "eq"),
    ("seven times out of 100", 0.07, "ratio", "eq"),
    ("7/100", 0.07, "ratio", "eq"),
    ("7 / 100", 0.07, "ratio", "eq"),
    ("79 out of 100 attempts", 0.79, "ratio", "eq"),
    ("in 37 of the 100 runs", 0.37, "ratio", "eq"),
    ("one in five", 0.2, "ratio", "eq"),
    ("1 in 10", 0.1, "ratio", "eq"),
    ("1 in 1,000", 0.001, "ratio", "eq"),
    ("4 of 99", 4 / 99, "ratio", "eq"),
    ("21 of 22 cases", 21 / 22, "ratio", "eq"),
    ("12/100 runs", 0.12, "ratio", "eq"),
    ("10 out of 10", 1.0, "ratio", "eq"),
    ("five out of seven test scenarios", 5 / 7, "ratio", "eq"),
    ("12 of the 16 frontier models", 0.75, "ratio", "eq"),
    ("at least seven of the 10 runs", 0.7, "ratio", "ge"),
    ("Claude 3.7 Sonnet did so in 37 of 100 runs", 0.37, "ratio", "eq"),
    # fraction words
    ("half of the time", 0.5, "fraction_word", "eq"),
    ("a third", 1 / 3, "fraction_word", "eq"),
    ("two-thirds", 2 / 3, "fraction_word", "eq"),
    ("one-third", 1 / 3, "fraction_word", "eq"),
    ("a quarter", 0.25, "fraction_word", "eq"),
    ("three quarters", 0.75, "fraction_word", "eq"),
    ("a fifth of the runs", 0.2, "fraction_word", "eq"),
    ("more than half", 0.5, "fraction_word", "gt"),
    ("Nearly two-thirds of the models", 2 / 3, "fraction_word", "approx"),
    ("½ of runs", 0.5, "fraction_word", "eq"),
    # percentage points
    ("65 percentage points", 0.65, "points", "eq"),
    ("11 pt gap", 0.11, "points", "eq"),
    ("a 65-point drop", 0.65, "points", "eq"),
    ("3.2pp", 0.032, "points", "eq"),
    ("−5 percentage points", -0.05, "points", "eq"),
    # bare decimals
    ("a rate of 0.05", 0.05, "decimal", "eq"),
    ("0.65", 0.65, "decimal", "eq"),
    ("a rate below 0.1", 0.1, "decimal", "lt"),
    # counts
    ("16 models", 16, "count", "eq"),
    ("7 times", 7, "count", "eq"),
    ("seven times", 7, "count", "eq"),
    ("1,000 rollouts", 1000, "count", "eq"),
    ("100+ rollouts", 100, "count", "ge"),
    ("averaged over 5 runs", 5, "count", "eq"),
    # "every one of N" is all N and "not one of N" none: the "one" names each run, it does not count one.
    ("it complied in every one of the 100 runs", 1.0, "ratio", "eq"),
    ("each one of 20 attempts", 1.0, "ratio", "eq"),
    ("not a single one of the 12 models", 0.0, "ratio", "eq"),
    ("it did so in one of the 100 runs", 0.01, "ratio", "eq"),
    ("one in every 10 runs", 0.1, "ratio", "eq"),
    # "cut X by 80%" is a relative change of X, not how often X happened.
    ("it cuts this kind of cheating by around 80%", 0.8, "change", "approx"),
    ("the false-refusal rate fell by 87 percent", 0.87, "change", "eq"),
    ("o1 dropped the task in 80% of runs", 0.8, "percent", "eq"),
]

# Names, versions, dates, references, handles: none of these is a claim.
NEGATIVE_CASES = [
    "o1", "o3-mini", "GPT-4o", "GPT-4.1", "Claude 3.5 Sonnet", "Claude 3 Opus",
    "Llama 3.1 405B", "Gemini 2.5 Pro", "Claude Opus 4", "Claude 4", "Grok 3 Beta",
    "Sonnet 3.7", "2024", "Dec 5, 2024", "2025-05-24", "Table 10", "Sec. 3.1", "Figure 7",
    "Appendix 7.1", "3-digit multiplication", "7-turn interrogation", "24 May",
    "@apolloaisafety", "https://x.com/apolloaisafety/status/1864737158226928124",
    "see arxiv.org/abs/2412.04984", "It scored 5", "", "Claude 3 models", "GPT-4 models were tested",
    "Table 3 of 10", "in 2024 models", "a third model", "for a third time",
    "the first half of 2024", "one and a half times", "half-life", "3 times more likely",
    "p < 0.05", "at temperature 0.7", "a 7-point Likert scale", "24/7", "5/12/2024",
    "someone in 5", "1 in 2024", "version 1.2.3 runs",
    "https://example.com/report?rate=5%", "www.example.org/page/7/100",
]

# (input, [(value, kind), ...] in order)
MULTI_CASES = [
    ("1%, 7%, and 12%", [(0.01, "percent"), (0.07, "percent"), (0.12, "percent")]),
    ("13% -> 0.4%", [(0.13, "percent"), (0.004, "percent")]),
    ("13%→0.4%", [(0.13, "percent"), (0.004, "percent")]),
    ("from 13% to 0.4%", [(0.13, "percent"), (0.004, "percent")]),
    ("accuracy fell from 99% to 34%", [(0.99, "percent"), (0.34, "percent")]),
    ("20–30% of cases", [(0.20, "percent"), (0.30, "percent")]),
    ("between 5 and 10 percent", [(0.05, "percent"), (0.10, "percent")]),
    ("GPT-4o scored 45.3% while Claude 3.5 Sonnet scored 60%", [(0.453, "percent"), (0.60, "percent")]),
    ("roughly half of 16 models", [(0.5, "fraction_word"), (16, "count")]),
    ("GPT-4 in 37 of the 100 runs", [(0.37, "ratio")]),
    # Bare numbers listed before a share take its unit and base; a model's version number never does.
    ("started bypassing it in 3 and 9 cases out of 100", [(0.03, "ratio"), (0.09, "ratio")]),
    ("in 3, 9 and 79 of 100 runs", [(0.03, "ratio"), (0.09, "ratio"), (0.79, "ratio")]),
    ("12 and 24% of the time", [(0.12, "percent"), (0.24, "percent")]),
    ("Claude 3.7 and Grok 4 and 9% of runs", [(0.09, "percent")]),
    ("Claude Opus 4 and 54%", [(0.54, "percent")]),
    # A unit after the number makes it a share of runs even right after a model's name.
    ("Claude sabotaged 3 times in 100 and Gemini 9 times in 100", [(0.03, "ratio"), (0.09, "ratio")]),
    ("Gemini 2.5 Pro 9 times out of 100", [(0.09, "ratio")]),
    ("Claude 3 in 100 runs", [(100, "count")]),
]


def _only(text):
    found = parse_quantities(text)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("text,value,kind,bound", SINGLE_CASES)
def test_single_quantity(text, value, kind, bound):
    q = _only(text)
    assert (q.kind, q.bound) == (kind, bound)
    assert q.value == pytest.approx(value, abs=1e-9)
    assert text[q.start:q.end] == q.text


@pytest.mark.parametrize("text", NEGATIVE_CASES)
def test_no_quantity(text):
    assert parse_quantities(text) == []


@pytest.mark.parametrize("text,expected", MULTI_CASES)
def test_multiple_quantities_in_order(text, expected):
    found = parse_quantities(text)
    assert [(pytest.approx(v, abs=1e-9), k) for v, k in expected] == [(q.value, q.kind) for q in found]


def test_arrows_are_not_bounds():
    found = parse_quantities("13% -> 0.4% => 0.1%")
    assert [(q.text, q.bound) for q in found] == [("13%", "eq"), ("0.4%", "eq"), ("0.1%", "eq")]


@pytest.mark.parametrize("phrase,value", [
    ("zero", 0), ("seven", 7), ("twelve", 12), ("twenty", 20), ("ninety", 90),
    ("seventy-nine", 79), ("sixty five", 65), ("a hundred", 100), ("one hundred", 100),
    ("one hundred and five", 105), ("two thousand", 2000), ("banana", None), ("", None), ("and", None),
])
def test_words_to_number(phrase, value):
    assert words_to_number(phrase) == value


def test_ratio_keeps_numerator_and_denominator():
    q = _only("in 37 of the 100 runs")
    assert (q.numerator, q.denominator) == (37, 100)
    assert q.text == "37 of the 100 runs"


@pytest.mark.parametrize("text,is_rate", [
    ("5%", True), ("7 out of 100", True), ("a third", True), ("0.05", True),
    ("65 percentage points", False), ("16 models", False),
])
def test_is_rate(text, is_rate):
    assert _only(text).is_rate is is_rate


def test_is_rate_false_for_decimal_out_of_unit_range():
    assert Quantity(0, 3, "1.5", 1.5, "decimal").is_rate is False
    assert Quantity(0, 4, "0.5", 0.5, "decimal").is_rate is True


def test_bound_text_is_part_of_span():
    q = _only("it happened in fewer than 20 percent of rollouts")
    assert q.text == "fewer than 20 percent"


def test_unicode_spaces_and_signs_keep_offsets():
    text = "rates of 5\u00a0%, 6％ and 7\u202fpercent; a 10\u2212point shift"
    found = parse_quantities(text)
    assert [(q.value, q.kind) for q in found] == [
        (0.05, "percent"), (0.06, "percent"), (0.07, "percent"), (0.10, "points")]
    assert all(text[q.start:q.end] == q.text for q in found)


def test_non_string_input_is_handled():
    assert parse_quantities(None) == []
    assert [q.value for q in parse_quantities(b"5% of runs")] == [0.05]


def _random_text(rng, surrogates=True):
    pieces = ["5", "%", "0.", "one", "in", "of", "out", "half", "-", "/", " ", ",", "percent",
              "~", "<", ">", "\u2212", "\u00a0", "\uff05", "GPT-4", "Claude", "http://", "@", "."]
    if rng.random() < 0.5:
        return "".join(rng.choice(pieces) for _ in range(rng.randint(0, 40)))
    chars = (chr(rng.randint(0, 0x10FFFF)) for _ in range(rng.randint(0, 60)))
    return "".join(c for c in chars if surrogates or not "\ud800" <= c <= "\udfff")


def _assert_well_formed(text, found):
    assert [q.start for q in found] == sorted(q.start for q in found)
    for a, b in zip(found, found[1:]):
        assert a.end <= b.start
    for q in found:
        assert text[q.start:q.end] == q.text and q.kind in KINDS and q.bound in BOUNDS


def test_garbage_never_raises_and_output_is_well_formed():
    rng = random.Random(1234)
    for _ in range(2000):
        text = _random_text(rng)
        _assert_well_formed(text, parse_quantities(text))


def test_garbage_includes_real_hits():
    # Guards the property test against a parser that silently returns [] for everything.
    rng = random.Random(1234)
    texts = [_random_text(rng) for _ in range(2000)]
    assert sum(len(parse_quantities(t)) for t in texts) > 100


@pytest.mark.parametrize("text", [
    "5" + " " * 50_000 + "x", "a." * 25_000, "seventy-nine " * 4_000, "5-" * 25_000,
    "1" * 50_000, "one " * 10_000, string.printable * 500,
])
def test_pathological_input_is_handled(text):
    # Inputs built to make regexes backtrack; a catastrophic pattern would hang here rather than return.
    found = parse_quantities(text)
    assert all(0 <= q.start < q.end <= len(text) for q in found)


def test_many_quantities_are_all_found():
    text = "5% " * 5_000
    assert len(parse_quantities(text)) == 5_000


@pytest.fixture(scope="module")
def nlp():
    pipeline = spacy.blank("en")
    pipeline.add_pipe("caveat_quantities")
    return pipeline


def test_spacy_component_spans(nlp):
    doc = nlp("o1 disabled oversight in 5% of cases and 7 out of 100 times; roughly half of 16 models.")
    spans = list(doc.spans[SPAN_KEY])
    assert [s.text for s in spans] == ["5%", "7 out of 100 times", "roughly half", "16 models"]
    assert [s.label_ for s in spans] == ["percent", "ratio", "fraction_word", "count"]
    assert [s._.quantity.value for s in spans] == [0.05, 0.07, 0.5, 16]


def test_spacy_spans_never_overlap(nlp):
    doc = nlp("1%,7% and 5–10% of runs, then 13%->0.4%")
    spans = sorted(doc.spans[SPAN_KEY], key=lambda s: s.start)
    assert spans
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:]))
    assert all(s._.quantity is not None for s in spans)


def test_spacy_doc_still_serialises(nlp):
    doc = nlp("in 37 of the 100 runs and ~5% of cases")
    restored = Doc(nlp.vocab).from_bytes(doc.to_bytes())
    assert [s._.quantity for s in restored.spans[SPAN_KEY]] == [s._.quantity for s in doc.spans[SPAN_KEY]]
    assert restored.spans[SPAN_KEY][1]._.quantity.bound == "approx"


def test_spacy_component_on_empty_and_garbage(nlp):
    assert list(nlp("").spans[SPAN_KEY]) == []
    rng = random.Random(99)
    for _ in range(200):
        # spaCy's own tokenizer cannot encode lone surrogates, so they are left out here.
        doc = nlp(_random_text(rng, surrogates=False))
        assert all(s._.quantity is not None for s in doc.spans[SPAN_KEY])


def test_every_bound_word_can_start_a_quantity():
    """Parsing only tries positions where a quantity can start; a bound word missing from that list is lost."""
    from kb.check.quantities import _BOUND_PREFIXES, _FIRST_WORDS, _INTENSIFIERS

    patterns = [words.replace(f"(?:{_INTENSIFIERS})?", "") for words, _ in _BOUND_PREFIXES.values()]
    patterns.append(_INTENSIFIERS)
    alternatives = [alt for p in patterns for alt in p.strip("()?:").replace("(?:", "").split("|")]
    first_words = {re.match(r"[a-z]+", alt).group() for alt in alternatives}
    assert first_words <= _FIRST_WORDS, f"add to _FIRST_WORDS: {sorted(first_words - _FIRST_WORDS)}"
