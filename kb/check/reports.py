"""Find the reports in a statement: who did what, and how often, sentence by sentence.

A report is a candidate reference to a claim: a subject (named model, family, lab, or an unnamed
"the AI"), the behaviour(s) it may be about, and at most one number. `kb.check.resolve` turns reports
into claims. The rules here are general: numbers bind to the nearest behaviour and model, lists of
models and numbers pair up in order ("o3-mini, o4-mini and codex-mini ... 1%, 7% and 12%"), and an
elliptical sentence ("Without it, 79 out of 100.") inherits the subject and behaviour before it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DENIAL_CHARS = 40  # a negator this close before a behaviour cue denies it
FOLLOWING_CHARS = 25  # "... compared with 13% for GPT-4o": a model named just after the number it goes with
SCORE_BEFORE = re.compile(r"\b(?:scor(?:e|es|ed|ing)|accuracy of|threshold of|(?:prices?|costs?|fees?|revenue|shares?|stock) "
                          r"(?:by|of|up|down|fell|rose)?|priced?)\s+(?:above|below|over|under|of|at|by|to)?\s*$", re.I)
NEGATED_BEFORE = re.compile(r"\b(?:not|never|rather than|instead of)\s*[\"'“‘]?\s*$", re.I)
ARTICLES = {"the", "all", "its", "their", "these", "those", "every", "each", "a", "an", "our", "his", "her"}
FOR_SUBJECT = re.compile(r"^[^,;.]*?\b(?:for|by|of)\s+(?:the\s+|[\w.-]+['’]s\s+)?$", re.I)  # "for OpenAI's o3"
POSSESSIVE = re.compile(r"^\s*(?:['’]s)?\s*(?:own\s+|new\s+|latest\s+)?$", re.I)
CONNECTOR = re.compile(r"^(?:[\s,&]|\band\b|\bor\b|\bas well as\b|\bplus\b|\bboth\b|\bthe\b|\b[\w.-]+['’]s\b)*$", re.I)
# "from 99% to 34%", "13% -> 0.4%", "0.99 vs 0.34": two numbers that may be the two ends of one difference
PAIR_LINK = re.compile(r"^\s*(?:to|->|→|=>|vs\.?|versus|down to)\s*$", re.I)


@dataclass(frozen=True)
class Subject:
    models: tuple  # candidate model ids
    how: str  # named | family | developer | generic | plural | unknown
    start: int = -1
    end: int = -1

    @property
    def named(self) -> bool:
        return self.how == "named"


@dataclass
class Report:
    sentence: int
    subject: Subject
    behaviours: dict  # behaviour id -> evidence (1.0 cue, <1 inherited or by meaning); empty: infer from the number
    number: object = None  # kb.check.analysis.Number
    anchor: int = 0  # character offset the report is anchored at (its number, else its behaviour cue)
    quoted: bool = False  # subject and behaviour both inside one quotation (a quoted headline, not an assertion)
    partner: object = None  # the report whose number is the other end of "from A to B" with this one
    retrieved: bool = False  # made from a pair retrieval found likely (kb.check.retrieve), not read off the sentence


@dataclass
class Lookup:
    """What the report finder needs from the knowledge base."""

    models_by_developer: dict  # developer -> [model ids]
    families: dict  # family name -> [model ids]
    all_models: tuple


def find_reports(analysis, lookup: Lookup, meaning=None) -> list[Report]:
    """`meaning(sentence index) -> {behaviour id: similarity}`: behaviours a sentence describes by meaning, used
    where no cue word names one ("slipped past its monitors")."""
    reports: list[Report] = []
    previous: Report | None = None
    named_anywhere = [m.id for m in analysis.of("MODEL")]
    specific: Subject | None = None  # the last model, family or lab named so far: what "the model" refers back to
    for index in range(len(analysis.sentences)):
        found = _sentence_reports(analysis, index, lookup, previous, named_anywhere, specific, meaning)
        reports += found
        previous = found[-1] if found else previous
        here = [s for s in _subjects(analysis, index, lookup, named_anywhere) if s.how in ("named", "family", "developer")]
        specific = here[-1] if len(here) == 1 else (None if here else specific)
    return reports


def _subjects(analysis, index: int, lookup: Lookup, named_anywhere: list) -> list[Subject]:
    """Who the sentence talks about, most specific first."""
    named = [Subject((m.id,), "named", m.start, m.end) for m in analysis.of("MODEL", index)]
    if named:
        return sorted(named + _other_families(analysis, index, lookup, named), key=lambda s: s.start)
    plural = analysis.of("PLURAL", index)
    owners = [d for d in analysis.of("DEVELOPER", index) for p in plural
              if d.end <= p.start and POSSESSIVE.match(analysis.text[d.end:p.start])]
    if owners:  # "OpenAI's AI models lie": a sweeping claim about one lab's models
        members = tuple(lookup.models_by_developer.get(owners[0].id, ()))
        return [Subject(members or lookup.all_models, "plural", plural[0].start, plural[0].end)]
    if plural:  # "in Anthropic's tests, most frontier models ...": the sweeping subject, not the lab that tested
        return [Subject(lookup.all_models, "plural", plural[0].start, plural[0].end)]
    for label, how in (("FAMILY", "family"), ("DEVELOPER", "developer")):
        for m in analysis.of(label, index):
            members = lookup.families.get(m.id) if label == "FAMILY" else lookup.models_by_developer.get(m.id, [])
            # "OpenAI's new model ... o1": a lab mention refers to the lab's model named elsewhere in the statement.
            named_here = [mid for mid in named_anywhere if mid in members]
            if named_here:
                return [Subject((named_here[0],), "named", m.start, m.end)]
            return [Subject(tuple(members or ()), how, m.start, m.end)]
    hits = analysis.of("GENERIC", index)
    return [Subject(lookup.all_models, "generic", hits[0].start, hits[0].end)] if hits else []


def _other_families(analysis, index: int, lookup: Lookup, named: list) -> list[Subject]:
    """Families named beside named models ('Claude 3.7 and Gemini 2.5 ... 3 and 9 cases out of 100'): subjects too,
    unless the family is one of those models' own ('Claude Opus 4 ... Claude')."""
    ids = {m for s in named for m in s.models}
    out = []
    for m in analysis.of("FAMILY", index):
        members = tuple(lookup.families.get(m.id) or ())
        if members and not ids & set(members) and not any(s.start < m.end and m.start < s.end for s in named):
            out.append(Subject(members, "family", m.start, m.end))
    return out


def _behaviour_regions(analysis, index: int) -> list[tuple[int, dict]]:
    """Behaviour cues in a sentence, overlapping cues merged into one region with several candidate behaviours."""
    regions: list[list] = []
    for m in sorted(analysis.of("BEHAVIOUR", index), key=lambda m: m.start):
        if regions and m.start < regions[-1][1]:
            regions[-1][1] = max(regions[-1][1], m.end)
            regions[-1][2][m.id] = 1.0
        else:
            regions.append([m.start, m.end, {m.id: 1.0}])
    return [(start, ids) for start, _end, ids in regions]


def _with_described(regions: list, described: dict, sentence_start: int) -> list:
    """Add the behaviours the sentence describes in other words ("slipped past its monitors") as candidates beside
    those its cue words name; their evidence is their similarity, below a cue's."""
    if not described:
        return regions
    if not regions:
        return [(sentence_start, dict(described))]
    return [(start, {**described, **ids}) for start, ids in regions]


def _nearest(items: list, position: int, key=lambda x: x[0]):
    """The item starting closest before position, else the first after it."""
    before = [i for i in items if key(i) <= position]
    if before:
        return before[-1]
    return items[0] if items else None


def _rate_numbers(analysis, index: int) -> list:
    """Numbers that could be how often a model did something: rates, not scores, counts or shares of other things."""
    return [n for n in analysis.numbers if n.sent == index and (n.quantity.is_rate or n.quantity.kind == "points")
            and not SCORE_BEFORE.search(analysis.text[max(0, n.start - 25):n.start])
            and not NEGATED_BEFORE.search(analysis.text[max(0, n.start - 12):n.start])
            and _share_of_runs(n, analysis.run_nouns)]


def _share_of_runs(number, run_nouns: frozenset) -> bool:
    """'5% of the time', '7 of 100 runs', '96% of AI models' can be results; 'half the takes', '80% of the budget' are not."""
    words = re.findall(r"[a-z]+", number.following)
    if words[:1] == ["of"] or (number.quantity.kind == "fraction_word" and words[:1] == ["the"]):
        nouns = [w for w in words[1:] if w not in ARTICLES][:4]
        return not nouns or any(w.rstrip("s") in run_nouns for w in nouns)
    # A bare fraction word ("the other half only read the appendix") is not a rate of anything.
    return number.quantity.kind != "fraction_word"


def _sentence_reports(analysis, index, lookup, previous, named_anywhere, specific=None, meaning=None) -> list[Report]:
    if analysis.sentence_text(index).rstrip().endswith("?"):
        return []  # a question asserts nothing ("Did o1 really try to escape?")
    subjects = _subjects(analysis, index, lookup, named_anywhere)
    if specific is not None and subjects and all(s.how == "generic" for s in subjects):
        # "OpenAI's reasoning model ... When the model was led to believe ...": the model named before.
        subjects = [Subject(specific.models, specific.how, subjects[0].start, subjects[0].end)]
    regions = _behaviour_regions(analysis, index)
    numbers = _rate_numbers(analysis, index)
    inherited = False
    if not regions and numbers and previous is not None and not subjects:
        regions, inherited = [(analysis.sentences[index][0], {b: 0.8 for b in previous.behaviours})], True
    if not subjects and previous is not None and (regions or numbers):
        subjects, inherited = [previous.subject], True
    if meaning is not None and (regions or numbers or any(s.how != "generic" for s in subjects)):
        regions = _with_described(regions, meaning(index), analysis.sentences[index][0])
    if not subjects and not numbers:
        return []
    if not subjects:
        subjects = [Subject(lookup.all_models, "unknown")]
    if numbers:
        return _number_reports(analysis, index, subjects, regions, numbers, inherited)
    return _plain_reports(analysis, index, subjects, regions)


def _number_reports(analysis, index, subjects, regions, numbers, inherited) -> list[Report]:
    reports = []
    for number, group in zip(numbers, _subjects_per_number(subjects, numbers, analysis.text)):
        region = _nearest(regions, number.start)
        behaviours = dict(region[1]) if region else {}
        # A number quoted together with its behaviour, in a sentence that names nobody, is a phrase being discussed
        # ('stop writing "sandbagged 65% of the time"'), not a result asserted.
        quoted = inherited and bool(region) and analysis.is_quoted(min(region[0], number.start), number.quantity.end)
        if quoted:
            continue
        reports += [Report(index, subject, behaviours, number, number.start) for subject in group]
    _link_pairs(analysis.text, reports)
    return reports


def _link_pairs(text: str, reports: list):
    for first, second in zip(reports, reports[1:]):
        a, b = first.number.quantity, second.number.quantity
        if first.subject == second.subject and PAIR_LINK.match(text[a.end:b.start]):
            first.partner, second.partner = second, first


def _subjects_per_number(subjects, numbers, text: str) -> list[list]:
    """Which subjects each number is about.

    'A, B and C ... 1%, 7% and 12%' pairs in order; 'A and B in 96%, C and D in 80%' gives a number to the
    models named since the previous number; otherwise a number belongs to the nearest subject before it.
    """
    named = [s for s in subjects if s.how in ("named", "family")]
    if len(named) == len(numbers) > 1 and len(named) == len(subjects) and max(s.start for s in named) < numbers[0].start:
        return [[s] for s in named]
    groups, previous_end = [], -1
    for i, number in enumerate(numbers):
        between = _coordinated([s for s in subjects if previous_end < s.start < number.start], text)
        following = [s for s in subjects if number.start < s.start <= number.start + FOLLOWING_CHARS
                     and (i + 1 == len(numbers) or s.start < numbers[i + 1].start)
                     and FOR_SUBJECT.match(text[number.quantity.end:s.start])]
        # Both: "the monitor (GPT-4o) flagged 0.17% of o1-preview's answers" — the claims decide whose number it is.
        groups.append(between + following or [_nearest(subjects, number.start, key=lambda s: s.start)])
        previous_end = number.start
    return groups


def _coordinated(subjects: list, text: str) -> list:
    """The run of subjects joined only by 'and', commas and possessives that ends right before a number:
    'Claude Opus 4 and Google's Gemini 2.5 Flash blackmailed in 96%' gives both; 'Gemini and o1 stayed low, and Claude
    did it in 0.3%' gives Claude alone."""
    if not subjects:
        return []
    group = [subjects[-1]]
    for subject in reversed(subjects[:-1]):
        if subject.end < 0 or not CONNECTOR.match(text[subject.end:group[0].start]):
            break
        group.insert(0, subject)
    return group


def _plain_reports(analysis, index, subjects, regions) -> list[Report]:
    reports = []
    for start, behaviours in regions:
        if _denied(analysis, index, start) and not any(s.named for s in subjects):
            continue  # "the lesson isn't that models become deceptive": a denial, not a report
        if _scare_quoted(analysis, start):
            continue  # the o1 "scheming" discourse: a word held at arm's length, not a result
        if analysis.of("META", index):
            continue  # "anyone quoting the Claude Opus 4 blackmail figure": about the reporting, not a report
        for subject in subjects:
            # A model named only inside a quotation ("o1 tried to escape" posts) is being discussed, not reported on.
            quoted = subject.start >= 0 and analysis.is_quoted(subject.start, subject.start + 1)
            reports.append(Report(index, subject, dict(behaviours), None, start, quoted))
    return reports


def _scare_quoted(analysis, start) -> bool:
    """A behaviour word alone in quotation marks ('"scheming"'), unlike a quoted clause ('"attempted to exfiltrate")."""
    for qs, qe in analysis.quoted:
        if qs <= start < qe:
            return len(analysis.text[qs:qe].split()) <= 2
    return False


def _denied(analysis, index, start) -> bool:
    return any(m.start < start and start - m.end <= DENIAL_CHARS for m in analysis.of("NEGATOR", index))
