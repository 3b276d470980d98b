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

SUBJECT_LABELS = ("MODEL", "FAMILY", "DEVELOPER", "GENERIC", "PLURAL")
DENIAL_CHARS = 40  # a negator this close before a behaviour cue denies it
FOLLOWING_CHARS = 25  # "... compared with 13% for GPT-4o": a model named just after the number it goes with
FOR_SUBJECT = re.compile(r"^[^,;.]*?\b(?:for|by)\s+(?:the\s+|openai's\s+|anthropic's\s+|google's\s+)?$", re.I)
# "from 99% to 34%", "13% -> 0.4%", "0.99 vs 0.34": two numbers that may be the two ends of one difference
PAIR_LINK = re.compile(r"^\s*(?:to|->|→|=>|vs\.?|versus|down to)\s*$", re.I)


@dataclass(frozen=True)
class Subject:
    models: tuple  # candidate model ids
    how: str  # named | family | developer | generic | plural | unknown
    start: int = -1

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
    inherited: bool = False
    partner: object = None  # the report whose number is the other end of "from A to B" with this one

    @property
    def weak(self) -> bool:
        """A report without a number about an unnamed subject: too vague to own the conditions near it."""
        return self.number is None and self.subject.how in ("generic", "plural", "unknown")


@dataclass
class Lookup:
    """What the report finder needs from the knowledge base."""

    models_by_developer: dict  # developer -> [model ids]
    families: dict  # family name -> [model ids]
    all_models: tuple
    semantic_behaviours: object = None  # callable(sentence index) -> {behaviour id: similarity} above threshold


def find_reports(analysis, lookup: Lookup) -> list[Report]:
    reports: list[Report] = []
    previous: Report | None = None
    named_anywhere = [m.id for m in analysis.of("MODEL")]
    for index in range(len(analysis.sentences)):
        found = _sentence_reports(analysis, index, lookup, previous, named_anywhere)
        reports += found
        previous = found[-1] if found else previous
    return reports


def _subjects(analysis, index: int, lookup: Lookup, named_anywhere: list) -> list[Subject]:
    """Who the sentence talks about, most specific first."""
    named = [Subject((m.id,), "named", m.start) for m in analysis.of("MODEL", index)]
    if named:
        return named
    plural = analysis.of("PLURAL", index)
    developers = analysis.of("DEVELOPER", index)
    if plural and developers:  # "OpenAI's AI models lie": a sweeping claim about one lab's models
        members = tuple(lookup.models_by_developer.get(developers[0].id, ()))
        return [Subject(members or lookup.all_models, "plural", plural[0].start)]
    for label, how in (("FAMILY", "family"), ("DEVELOPER", "developer")):
        for m in analysis.of(label, index):
            members = lookup.families.get(m.id) if label == "FAMILY" else lookup.models_by_developer.get(m.id, [])
            # "OpenAI's new model ... o1": a lab mention refers to the lab's model named elsewhere in the statement.
            named_here = [mid for mid in named_anywhere if mid in members]
            if named_here:
                return [Subject((named_here[0],), "named", m.start)]
            return [Subject(tuple(members or ()), how, m.start)]
    for label, how in (("GENERIC", "generic"), ("PLURAL", "plural")):
        hits = analysis.of(label, index)
        if hits:
            return [Subject(lookup.all_models, how, hits[0].start)]
    return []


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


def _nearest(items: list, position: int, key=lambda x: x[0]):
    """The item starting closest before position, else the first after it."""
    before = [i for i in items if key(i) <= position]
    if before:
        return before[-1]
    return items[0] if items else None


def _rate_numbers(analysis, index: int) -> list:
    return [n for n in analysis.numbers if n.sent == index and (n.quantity.is_rate or n.quantity.kind == "points")]


def _sentence_reports(analysis, index, lookup, previous, named_anywhere) -> list[Report]:
    subjects = _subjects(analysis, index, lookup, named_anywhere)
    regions = _behaviour_regions(analysis, index)
    numbers = _rate_numbers(analysis, index)
    inherited = False
    if not regions and (numbers or subjects) and lookup.semantic_behaviours:
        meaning = lookup.semantic_behaviours(index)
        start = analysis.sentences[index][0]
        regions = [(start, meaning)] if meaning else []
    if not regions and numbers and previous is not None and not subjects:
        regions, inherited = [(analysis.sentences[index][0], {b: 0.8 for b in previous.behaviours})], True
    if not subjects and previous is not None and (regions or numbers):
        subjects, inherited = [previous.subject], True
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
        quoted = bool(region) and analysis.is_quoted(region[0], number.start)
        reports += [Report(index, subject, behaviours, number, number.start, quoted, inherited) for subject in group]
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
    named = [s for s in subjects if s.named]
    if len(named) == len(numbers) > 1 and len(named) == len(subjects) and max(s.start for s in named) < numbers[0].start:
        return [[s] for s in named]
    groups, previous_end = [], -1
    for i, number in enumerate(numbers):
        between = [s for s in subjects if previous_end < s.start < number.start]
        following = [s for s in subjects if number.start < s.start <= number.start + FOLLOWING_CHARS
                     and (i + 1 == len(numbers) or s.start < numbers[i + 1].start)
                     and FOR_SUBJECT.match(text[number.quantity.end:s.start])]
        groups.append(between or following or [_nearest(subjects, number.start, key=lambda s: s.start)])
        previous_end = number.start
    return groups


def _plain_reports(analysis, index, subjects, regions) -> list[Report]:
    reports = []
    for start, behaviours in regions:
        if _denied(analysis, index, start) and not any(s.named for s in subjects):
            continue  # "the lesson isn't that models become deceptive": a denial, not a report
        for subject in subjects:
            # A model named only inside a quotation ("o1 tried to escape" posts) is being discussed, not reported on.
            quoted = subject.start >= 0 and analysis.is_quoted(subject.start, subject.start + 1)
            reports.append(Report(index, subject, dict(behaviours), None, start, quoted))
    return reports


def _denied(analysis, index, start) -> bool:
    return any(m.start < start and start - m.end <= DENIAL_CHARS for m in analysis.of("NEGATOR", index))
