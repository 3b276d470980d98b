"""The checker agrees with the knowledge base: metamorphic tests over every claim.

For every claim, its faithful wording (`claims.faithful_wording` in build/kb.db, the sentence the check page suggests):
  (a) checks `ok`, with the claim (or the same measurement in another source) among the match-tier findings;
  (b) with the phrase of one key condition removed, is flagged for dropping that key — each key whose phrase the
      wording holds is one case, unless the rest of the wording still conveys it by the labelling rules (a test
      is conveyed by "in 5% of runs"; a goal by the nudge to pursue it);
  (c) with its number swapped for another model's figure for the same behaviour (under the same setting where
      there is one), is `misstated`, naming whose figure it is (a claim with that figure, or its model);
  (d) with its number swapped for the figure of a contrasting claim — same model and behaviour, differing by a key
      condition the wording states — is `misstated`, naming that claim or the condition it was measured under.

The checker fails a share of these today. Each property is one test that runs all its cases, prints how many fail
(in the summary at the end of the run; the failing claim ids go to test-artifacts/metamorphic-failures.json) and
asserts that no more fail than RECORDED — so a regression fails the run, and a better checker lowers the numbers.
"""

from __future__ import annotations

import json
import re
import sqlite3

import pytest

from kb.format import format_value
from kb.wording import condition_phrase, faithful_sentence
from kbtest import ROOT, SUMMARY

pytestmark = pytest.mark.slow

# The failures measured when these tests were written, per property (lower them as the checker improves).
# Counted on 2026-12-01 on the corrected data (312 claims): the fitted checker; the hand-weighted one it replaced
# failed 87, 94, 56 and 17 of the same cases.
# Measured 2026-12-07 on 399 claims (87 more than on 2026-12-01, when they were 59, 79, 65 and 14 of 312, 324, 268
# and 60), with the checker refitted on the tripled corpus: the counts are not comparable with the older ones.
# Measured 2026-12-07 (afternoon) with the key detectors: (b) went from 112 to 163 failures. A detector reads the whole
# statement's embedding, which taking one phrase out of a claim's own sentence barely moves, while on real statements
# the detectors raised cross-validated flag accuracy (0.68 -> 0.70) and lowered false alarms (0.09 -> 0.08).
# Adding the knowledge base's with/without-phrase wordings to the detectors' training did not help (b): 175.
# Measured 2026-12-07 (evening) after the claim-choice head, choosing among claims consistent with the stated
# conditions, the open-set head as a finding feature and no flag for a plural subject, refitted on the audited data:
# (a) 136 -> 111 and (d) 65 -> 64, but (b) 163 -> 188 (of 477: agentic-threat-only's new forced choice is one more
# case) and (c) 78 -> 84. Many new (b) failures are wordings whose
# value text still conveys the key ("86% (implied training) vs 97%"); new (c) failures are swapped figures the
# open-set feature now leaves below the match tier. On real statements the same changes raised cross-validated flag
# accuracy (0.71 -> 0.73), claim choice within a pair (0.67 -> 0.80) and precision of flags (0.61 -> 0.65) on the
# same 730 statements.
# Measured 2026-12-07 (night) with the committed weights after the wordings name what tells sibling claims apart (a
# table row's measure, a non-key condition a contrast differs by) and never drop a key condition to fit, and two o3-card
# cells are linked to the Apollo cells they reprint: (a) 111 -> 91,
# (b) 188 of 477 -> 187 of 442, (c) 84 -> 82, (d) 64 of 107 -> 68 of 109. (d)'s four: two new cases (Table 17's medium
# instrumental-alignment-faking wordings now state their difficulty, so swapping in the hard figure became a case, and
# the checker accepts it: hard and medium are both "present" to its condition check) and two Table 2 goal-guarding rows
# whose swapped-in 0% is also a sibling row's figure under the same setting. Most of (a)'s rest are one measurement
# printed in two tables or documents (Table 17's hard column and Table 2; the system cards' reprints of Apollo's cells)
# and same-value rows of one table that the claim choice cannot tell apart.
# Refitted the same night with the retrieval adapter, the value-with-cue retrieval features and "without" governing its
# phrase: (a) 91 -> 92, (b) 187 -> 188 or fewer, (c) 82 -> 86 of 349, (d) 68 -> 69. The same changes raised
# cross-validated flag accuracy 0.742 -> 0.753 and claim recall 0.635 -> 0.655 on the 745 real statements.
# Refitted after the adapter's fit was made smooth in its inputs (reproducible on another CPU): (a) 92 -> 91, (c) 86 ->
# 87 (one swapped figure of Apollo's self-exfiltration table, 'se-5-opus3' into a sibling row).
# Then test_setting's cues were made to follow the labelling guide (naming the lab is not a test): (b) 188 -> 181.
# Refitted after the number grammar and negation-scope rules (lists sharing a unit, purpose clauses, a family beside
# named models): (b) 181 -> 177, (c) 87 -> 88 (o1's 22% of data manipulation swapped into o3's wording now falls below
# the suggestion tier instead of being called o1's figure).
# Then the open-set head read its nearest labelled statements' vote, and the match tier became the lowest within one
# standard error of the best (0.45): (a) 91 -> 90, (b) 177 -> 176, (c) 88 -> 86.
RECORDED = {"a": 90, "b": 176, "c": 86, "d": 69}
NUMBER_SLACK = 0.02  # a swapped-in figure must differ this much from every figure of the claim's own (model, behaviour)
FAILURES: dict = {}


@pytest.fixture(scope="module")
def wordings(built_db) -> dict:
    with sqlite3.connect(built_db) as conn:
        return dict(conn.execute("select id, faithful_wording from claims"))


def matched(result) -> list:
    return [f for f in result["findings"] if f["tier"] == "match"]


def said(result) -> str:
    """What the match-tier findings say: explanations and problem details."""
    return " ".join([f["explanation"] for f in matched(result)]
                    + [p["detail"] for f in matched(result) for p in f["problems"]])


def _record(name: str, what: str, cases: list, failing: list):
    FAILURES[name] = failing
    SUMMARY.append(f"metamorphic ({name}) {what}: {len(failing)} of {len(cases)} cases fail "
                   f"(recorded: {RECORDED[name]})")
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "metamorphic-failures.json").write_text(json.dumps(FAILURES, indent=1, sort_keys=True) + "\n")
    assert cases, f"({name}) has no cases"
    assert len(failing) <= RECORDED[name], (
        f"({name}) {what}: {len(failing)} of {len(cases)} cases fail, more than the {RECORDED[name]} recorded; "
        f"first: {failing[:5]}")


def _check(checker, texts: list[str]) -> list[dict]:
    return list(checker.check_many((str(i), t) for i, t in enumerate(texts)))


# ---------------------------------------------------------------- the column

def test_faithful_wording_is_the_sentence_the_checker_suggests_for_every_claim(checker, wordings):
    from kb.build import load_valid

    kb = load_valid(ROOT)
    assert set(wordings) == set(kb.claims)
    for claim in kb.claims.values():
        wording = wordings[claim.id]
        assert wording == faithful_sentence(kb, claim) == faithful_sentence(checker.kb, checker.kb.claims[claim.id])
        assert 0 < len(wording) <= 280
    # The check page shows each finding's `suggestion`: for a wording whose own claim is found with its number,
    # that suggestion is the column's sentence — unless the claim is a control or variant whose defining condition
    # the wording does not convey, whose wording is withheld with a reason (kb.wording.withheld_rewrite).
    sample = sorted(wordings)[::12]
    for claim_id, result in zip(sample, _check(checker, [wordings[c] for c in sample])):
        own = [f for f in matched(result) if f["claim"] == claim_id and f["number"] == "match"]
        for finding in own:
            if finding["suggestion"] == "":
                assert "No rewording is offered" in finding["explanation"], claim_id
                assert kb.setting_of(kb.claims[claim_id]).variant, claim_id
                continue
            assert finding["suggestion"] == wordings[claim_id]


# ---------------------------------------------------------------- (a) the wording itself

def same_measurement(kb, claim_id: str) -> set:
    """The claim and the claims the knowledge base says report the same measurement in another source."""
    return {claim_id} | {other for other, by, _note in kb.contrasts_of(claim_id) if by == "source"}


def test_a_faithful_wording_checks_ok_with_its_own_claim(checker, wordings):
    cases = sorted(wordings)
    # Claims whose wordings are the very same sentence cannot be told apart by any checker: either one counts.
    same_words = {}
    for claim_id, wording in wordings.items():
        same_words.setdefault(wording, set()).add(claim_id)
    not_ok, other_claim = [], []
    for claim_id, result in zip(cases, _check(checker, [wordings[c] for c in cases])):
        own = same_measurement(checker.kb, claim_id) | same_words[wordings[claim_id]]
        if result["verdict"] != "ok":
            not_ok.append(claim_id)
        elif not {f["claim"] for f in matched(result)} & own:
            other_claim.append(claim_id)
    _record("a", f"faithful wording checks ok with its own claim ({len(not_ok)} not ok, {len(other_claim)} ok but "
            "only with another claim)", cases, not_ok + other_claim)


# ---------------------------------------------------------------- (b) a key condition removed

def without_phrase(text: str, phrase: str) -> str | None:
    """The text with every occurrence of the phrase removed, commas and capitals tidied; None if it is not there."""
    pattern = re.compile(re.escape(phrase), re.I)
    if not pattern.search(text):
        return None
    out = pattern.sub("", text)
    out = re.sub(r"\s*,\s*(?=[,;.])", "", out)  # ", ," / ", ." left behind
    out = re.sub(r"^\s*,\s*", "", out)
    out = re.sub(r"\s{2,}", " ", out).strip()
    return out[:1].upper() + out[1:]


# The labelling rules count "in 84% of trials" and "7 out of 100 runs" as conveying a constructed test.
RUNS = re.compile(r"\b(runs?|trials?)\b", re.I)


def still_conveyed(kb, claim, key: str, text: str) -> bool:
    """Does the rest of the wording convey the key by the labelling rules: a test by 'of runs', or a key implied by
    another key whose phrase is still there (a nudge to pursue a goal implies the goal)?"""
    if key == "test_setting" and RUNS.search(text):
        return True
    implied_by = kb.context[key].implied_by or []
    return any((phrase := condition_phrase(kb, claim, other)) and phrase.lower() in text.lower() for other in implied_by)


def key_removal_cases(kb) -> list[tuple[str, str, str]]:
    """(claim id, key, wording without the key's phrase) for each key condition whose phrase the wording holds and
    nothing else in it conveys. The wording leaves out the contrast clause, which states the other side."""
    cases = []
    for claim in kb.claims.values():
        wording = faithful_sentence(kb, claim, with_contrast=False)
        for key in dict.fromkeys(claim.key_context or []):
            context = kb.context.get(key)
            phrase = condition_phrase(kb, claim, key) if context is not None and context.scope == "setting" else None
            mutated = without_phrase(wording, phrase) if phrase else None
            if mutated and not still_conveyed(kb, claim, key, mutated):
                cases.append((claim.id, key, mutated))
    return cases


def test_b_removing_a_key_condition_flags_that_key(checker):
    cases = key_removal_cases(checker.kb)
    # Most claims have a key condition besides the test (the nudge, the instruction, the training cue, ...).
    assert len({claim_id for claim_id, _k, _t in cases}) >= 0.6 * len(checker.kb.claims)
    failing = [f"{claim_id}:{key}" for (claim_id, key, _text), result
               in zip(cases, _check(checker, [text for _c, _k, text in cases]))
               if not any(key in f["missing_context"] for f in matched(result))]
    _record("b", "removing a key condition's phrase flags that key", cases, failing)


# ---------------------------------------------------------------- (c), (d) a number swapped

def swapped_number(kb, claim, other) -> str | None:
    """The claim's wording (without contrast) with its number replaced by the other claim's."""
    wording = faithful_sentence(kb, claim, with_contrast=False)
    mine, theirs = format_value(claim), format_value(other)
    at = wording.rfind(mine)
    return None if at < 0 or mine == theirs else wording[:at] + theirs + wording[at + len(mine):]


def _far_from_own_figures(kb, claim, other) -> bool:
    own = [c.value for c in kb.claims_by_pair.get((claim.model, claim.behaviour), []) if c.value is not None]
    return all(abs(other.value - v) > NUMBER_SLACK for v in own)


def _stated_keys(kb, claim) -> set:
    """The claim's key conditions whose phrase its wording states."""
    wording = faithful_sentence(kb, claim, with_contrast=False).lower()
    return {k for k in claim.key_context or [] if kb.context[k].scope == "setting"
            and (phrase := condition_phrase(kb, claim, k)) and phrase.lower() in wording}


def swap_options(kb, claim, same_model: bool) -> list:
    """Claims whose figure to swap in. Another model (c): same behaviour and metric, a figure far from every figure
    of the claim's own model and behaviour; the same setting first. Another condition (d): the claim's declared
    contrasts that differ by a key condition its wording states, with a figure far from its own."""
    if same_model:
        stated = _stated_keys(kb, claim)
        options = [kb.claims[other] for other, by, _note in kb.contrasts_of(claim.id) if by in stated]
        options = [o for o in options if o.model == claim.model and o.behaviour == claim.behaviour
                   and o.metric == claim.metric and o.value is not None
                   and abs(o.value - claim.value) > NUMBER_SLACK]
        return sorted(options, key=lambda o: (o.rank != "preferred", abs(o.value - claim.value), o.id))
    options = [o for o in kb.claims.values() if o.behaviour == claim.behaviour and o.model != claim.model
               and o.metric == claim.metric and o.value is not None and _far_from_own_figures(kb, claim, o)]
    return sorted(options, key=lambda o: (o.setting != claim.setting, o.rank != "preferred",
                                          abs(o.value - claim.value), o.id))


def swap_cases(kb, same_model: bool) -> list[tuple]:
    """(claim, other, the claim's wording with the other's figure) for every claim with a value and an option."""
    cases = []
    for claim in kb.claims.values():
        if claim.value is None:
            continue
        for other in swap_options(kb, claim, same_model):
            text = swapped_number(kb, claim, other)
            if text:
                cases.append((claim, other, text))
                break
    return cases


def names_the_figure(kb, result, claim, other, same_model: bool) -> bool:
    """Does a match-tier finding say whose figure it is: a claim with that figure (its id or, for another model,
    the model's name), or (for another condition) the condition it was measured under, where that differs?"""
    text = said(result)
    owners = [c for c in kb.claims.values() if c.behaviour == other.behaviour and c.value is not None
              and format_value(c) == format_value(other) and (c.model == claim.model) == same_model]
    if any(c.id in text for c in owners):
        return True
    if not same_model:
        return any(kb.models[c.model].name in text for c in owners)
    details = " ".join(p["detail"] for f in matched(result) for p in f["problems"] if p["kind"] == "wrong_condition")
    mine = kb.conditions_of(claim)
    return any(f"'{c.value}'" in details for key, c in kb.conditions_of(other).items()
               if key not in mine or mine[key].value != c.value)


@pytest.mark.parametrize("name,same_model,what", [
    ("c", False, "another model's figure is misstated, naming whose it is"),
    ("d", True, "another condition's figure is misstated, naming whose it is"),
])
def test_c_d_a_swapped_number_is_misstated_naming_whose_it_is(checker, name, same_model, what):
    kb = checker.kb
    cases = swap_cases(kb, same_model)
    failing = [f"{claim.id}<-{other.id}" for (claim, other, _text), result
               in zip(cases, _check(checker, [text for _c, _o, text in cases]))
               if result["verdict"] != "misstated" or not names_the_figure(kb, result, claim, other, same_model)]
    _record(name, what, cases, failing)
