"""The gate in front of the checker: a few set look-ups that drop the ~99% of a firehose that reports no result.

Built from the knowledge base only (vocabulary/ and claims/), never from examples. The checker finds a result
only where a statement has (a) a behaviour cue, with a subject or a rate to hang it on, or (b) no behaviour cue
but a named model (or family, or lab) next to a number that one of that model's claims states. The gate tests a
loose superset of exactly that, cheapest test first:

  1. anchor    one set intersection: does the text hold any model, family or lab word, a model noun ("models",
               "AI"), or the rarest word (by English word frequency) of any behaviour cue? Unrelated prose stops here.
  2. cue       is every content word of some behaviour cue present, in any inflection (the same lemma table
               spaCy's lookup lemmatizer uses, so "disabled", "disabling" count for "disable")?
  3. subject   with a cue: a model, family, lab, generic or sweeping subject ("the AI", "LLMs"), a misspelled
               model name, or a rate ("5%", "7 out of 100", "one in five") the checker can read as unknown-subject.
  4. number    without a cue: a named model, family or lab and a number within a generous tolerance of one of
               that model's claim values, a difference of two such numbers, or a bounded number ("under 1%").
               Not a number that is a score, a price, a change in money or a share of something other than runs
               ("scored 46%", "cut the price by 30%", "26% of its revenue", "in 6 out of 21 regions": the
               checker's own share-of-runs test), nor one compared with such a number ("12% accuracy, up from 80%").
  5. topic     without either: in one sentence that is not a question, a model, family, lab or model noun ("the
               models", "AI") and an uncommon word of the behaviour vocabulary in any inflection ("faked
               compliance", "got around the shutdown"), or such a word in a sentence that states a rate after one
               that names the model; the words of the context keys (the conditions of an experiment: "benchmark",
               "user", "instruction") count only where a behaviour is named with them. Statements that report a
               result in their own words, which the checker may not read yet but a better one will.

It may let through texts that report nothing (the checker then says no_claim); it must never drop one the checker
would flag: tests/test_scan.py measures that on every labelled statement in the repository.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

# The checker's own normalisation and word lists (modules of plain data and functions: importing them loads no model).
from kb.check.inputs import without_format_characters
from kb.check.reports import ARTICLES



def _stop_words() -> frozenset:
    """spaCy's English stop words, read from their module without importing spaCy (which takes seconds that the
    scan's reader would spend before its first text; the checker processes import it anyway)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("spacy")
        path = Path(spec.submodule_search_locations[0]) / "lang" / "en" / "stop_words.py"
        namespace: dict = {}
        exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)  # a word list, no imports
        return frozenset(namespace["STOP_WORDS"])
    except (AttributeError, OSError, KeyError, TypeError, IndexError):
        from spacy.lang.en.stop_words import STOP_WORDS

        return frozenset(STOP_WORDS)


STOP = _stop_words()
TOKEN = re.compile(r"[a-z0-9]+")
# Words a cue may hold that carry no meaning of their own (the checker also lets one small word sit between cue
# words); skipping them only loosens the test.
SMALL = {"the", "a", "an", "its", "it", "to", "this", "that", "their", "his", "her", "of", "on", "in", "with", "be",
         "s", "own", "when", "itself", "from", "another", "other", "do", "what", "it", "him", "at", "by", "for", "as",
         "up", "out", "off", "down", "into", "onto", "once", "while", "during", "and", "or", "not"}
NUMBER_WORDS = {"zero": 0, "no": 0, "none": 0, "one": 1, "a": 1, "an": 1, "two": 2, "three": 3, "four": 4, "five": 5,
                "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15,
                "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "hundred": 100, "thousand": 1000}
FRACTIONS = {"half": 0.5, "halves": 0.5, "third": 1 / 3, "thirds": 1 / 3, "quarter": 0.25, "quarters": 0.25,
             "fifth": 0.2, "fifths": 0.2, "tenth": 0.1, "tenths": 0.1}
NUM = r"(\d+(?:[.,]\d+)?|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + r")"
PERCENT = re.compile(NUM + r"\s*-?\s*(%|percent\b|per\s*cent\b|pct\b|percentage\s+points?\b|points?\b|pp\b)")
RATIO = re.compile(r"\b" + NUM + r"\s+(?:times?\s+|runs?\s+|cases?\s+)?(?:out\s+of|in|of)\s+(?:every\s+|the\s+)?" + NUM
                   + r"\b|\b(\d+)\s*/\s*(\d+)\b")
FRACTION = re.compile(r"\b(?:(" + "|".join(NUMBER_WORDS) + r")[\s-]+)?(" + "|".join(FRACTIONS) + r")\b")
DECIMAL = re.compile(r"(?<![\d.])0?\.\d+\b")
BOUND = re.compile(r"(?:under|below|less than|fewer than|lower than|over|above|more than|greater than|at least|"
                   r"at most|up to|nearly|almost|about|around|roughly|approximately|some|[<>≤≥~])\s*$")
RATE = re.compile(r"%|\bper\s*cent|\bpercent|\bout\s+of\b|\b\d+\s*/\s*\d+\b|\b(?:one|two|three|four|five|six|seven|"
                  r"eight|nine|ten|\d+)\s+(?:times\s+)?in\s+(?:every\s+)?(?:\d+|two|three|four|five|ten|hundred)\b|"
                  r"\b(?:half|third|thirds|quarter|quarters)\b|\b0?\.\d+\b|\btimes\b")
# Without a behaviour cue, a number is only a result when nothing says it is a score, a price or a share of people
# or money ("scored 46%", "46% faster", "26% of its revenue"); with a cue every number counts.
NOT_RESULT_BEFORE = re.compile(r"(?:scor(?:e|es|ed|ing)|accuracy of|priced? at|costs?)\s*(?:of|at|on)?\s*$")
NOT_RESULT_AFTER = re.compile(r"^\S*\s*(?:faster|slower|cheaper|more|less|fewer|higher|lower|larger|smaller|bigger|"
                              r"better|worse|off|discount|accuracy|growth|year|annual|"
                              r"on (?:the |a |its )?(?:[a-z-]+ ){0,2}(?:benchmark|test|exam|leaderboard)|"
                              r"of (?:the |its |their |our |all |surveyed )?(?:revenue|sales|market|budget|users|customers|"
                              r"teams|software|developers|companies|businesses|firms|people|adults|respondents|employees|"
                              r"staff|income|profits?|shares?|traffic|searches|americans|voters|students))\b")
# "cut the price of GPT-4o by 30%", "raised its revenue from Claude by 40%": a change in money named earlier in the
# clause.
MONEY_CHANGE = re.compile(r"\b(?:prices?|costs?|fees?|revenues?|sales|stocks?|shares?|valuations?|funding|salar(?:y|ies)|"
                          r"wages?|rents?|budgets?|subscriptions?)\b[^,;.!?]{0,50}\bby\s*$")
# "12% accuracy, up from 80%": the second number of a comparison is of the same kind as the first.
LINKED = re.compile(r"^(?:\s*[a-z-]+){0,2}[\s,]*(?:(?:up|down|rising|falling|rose|fell)\s+)?(?:from|to|vs\.?|versus|compared (?:with|to)|against)"
                    r"\s*$")
# Where the checker splits sentences the gate may not: it splits only at a full stop, "!" or "?" followed by a
# capital, a digit or a quote, and never after a single letter or an abbreviation ("Dr.", "vs.", "Inc.").
SENTENCE_END = re.compile(r"[.!?]+[\"')\]’”]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")
ABBREVIATIONS = {"dr", "mr", "mrs", "ms", "prof", "inc", "ltd", "co", "corp", "st", "jr", "sr", "no", "fig", "al", "vs",
                 "etc", "eg", "ie", "approx", "est", "u.s", "e.g", "i.e", "mt", "gen", "sen", "rep", "gov", "jan", "feb",
                 "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"}
# A statement may report a result in words of its own, with no cue the checker knows ('faked compliance during
# training'); the checker may learn them. So a model or "the models" next to an uncommon word of the behaviour
# vocabulary passes too. Uncommon: log probability below this in English (drops 'test', 'code', 'user').
TOPIC_RARITY = -9.5
MARGIN = 1.5  # times half a unit of the number's last digit (the checker's own tolerance): never stricter than it
RATIO_CAP = 0.03


@dataclass
class Counts:
    """How many texts each stage saw and let through (the benchmark prints them)."""

    seen: int = 0
    anchored: int = 0
    passed: int = 0
    by_rule: dict = field(default_factory=lambda: {"cue": 0, "number": 0, "topic": 0})


def _lemma_table() -> dict:
    import spacy_lookups_data

    path = Path(spacy_lookups_data.__file__).parent / "data" / "en_lemma_lookup.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return json.load(handle)


def _probability_table() -> dict:
    """word -> log probability in English (spacy-lookups-data's table)."""
    import spacy_lookups_data

    path = Path(spacy_lookups_data.__file__).parent / "data" / "en_lexeme_prob.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return json.load(handle)


def _rare_words(words: set, threshold: float, probability: dict) -> set:
    """The words whose log probability in English is below threshold."""
    return {w for w in words if probability.get(w, -20.0) < threshold}


def _fixed_lemma(table: dict, word: str) -> str:
    """As the checker's lemmatizer: the lookup applied until it stops changing (three rounds at most)."""
    for _ in range(3):
        word, previous = table.get(word, word), word
        if word == previous:
            break
    return word


def _rarest(forms: list, probability: dict) -> frozenset:
    """The forms of the word to look up first (every word of a cue or name must be there, so any one will do as
    the anchor; the rarest stops most texts): not a small word, the least frequent in English in its most
    frequent inflection ("shut", not "let" or "run"), else the longest."""
    return min(forms, key=lambda f: (bool(f & SMALL), max(probability.get(w, -20.0) for w in f),
                                     -max(len(w) for w in f), sorted(f)))


def _head(phrase: str) -> str:
    """The word a cue or phrase is led by, its verb ("disable" in "disable the monitor"): the first word that is
    not a hyphenated modifier ("in-context scheming": "scheming"); all of a one-word cue ("goal-guarding")."""
    words = phrase.split()
    if len(words) == 1:
        return words[0]
    return next((w for w in words if "-" not in w), "")


def _tokens(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


def _edits_within(a: str, b: str, limit: int) -> bool:
    """Levenshtein distance of a and b is at most limit (banded, early exit)."""
    if abs(len(a) - len(b)) > limit:
        return False
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return False
        previous = current
    return previous[-1] <= limit


class Prefilter:
    """`passes(text)` is True for every text the checker could find a result in, and few others."""

    def __init__(self, kb):
        lemmas, probability = _lemma_table(), _probability_table()
        by_lemma: dict = {}
        for word in lemmas:
            by_lemma.setdefault(_fixed_lemma(lemmas, word), set()).add(word)
        self.counts = Counts()
        self.cues = self._cues(kb, lemmas, by_lemma, probability)  # [(anchor forms, [forms of each content word])]
        self.cue_anchor = {form: [] for forms, _ in self.cues for form in forms}
        for index, (forms, _words) in enumerate(self.cues):
            for form in forms:
                self.cue_anchor[form].append(index)
        self.names = self._names(kb, probability)  # [(words, anchor forms, model ids)]
        self.name_anchor: dict = {}
        for index, (_words, forms, _ids) in enumerate(self.names):
            for form in forms:
                self.name_anchor.setdefault(form, []).append(index)
        self.subject_phrases = self._subject_phrases(kb)
        self.long_name_words = sorted({w for words, _f, _i in self.names for w in words if len(w) >= 5 and w.isalpha()})
        self.values = self._values(kb)  # model id -> sorted claim values
        self.topic = self._topic_words(kb, lemmas, by_lemma, probability)
        self.model_nouns = frozenset(w for phrase in [*(kb.lexicon.generic_models or []), *(kb.lexicon.plural_models or []),
                                                       *(kb.lexicon.model_nouns or [])] for w in _tokens(phrase)[-1:]
                                     if w not in SMALL and w not in STOP)  # the head noun: 'models', 'AI', 'LLMs'
        self.run_nouns = frozenset(kb.lexicon.run_nouns or [])  # what a rate may be a share of (the checker's list)
        # Every rule needs a cue, a name or a model noun (the topic rule: a name or a model noun and a topic word).
        self.anchors = frozenset(self.cue_anchor) | frozenset(self.name_anchor) | self.model_nouns

    # ------------------------------------------------------------ built once from the knowledge base

    @staticmethod
    def _cues(kb, lemmas, by_lemma, probability) -> list:
        out, seen = [], set()
        for behaviour in kb.behaviours.values():
            for cue in behaviour.cues or []:
                words = _tokens(cue)  # every word of a cue must be there; only the checker's gap words are optional
                forms = []
                for word in words:
                    lemma = _fixed_lemma(lemmas, word)
                    variants = {word, lemma} | by_lemma.get(lemma, set()) | by_lemma.get(word, set())
                    forms.append(frozenset(t for v in variants for t in _tokens(v)) or frozenset([word]))
                key = tuple(sorted(forms, key=sorted))
                if not forms or key in seen:
                    continue
                seen.add(key)
                out.append((_rarest(forms, probability), forms))
        return out

    @staticmethod
    def _topic_words(kb, lemmas, by_lemma, probability) -> frozenset:
        """Every inflection of the uncommon words of the behaviour cues and labels: what a
        statement that reports a result in its own words ('faked compliance', 'got around the shutdown') still uses."""
        texts = [t for b in kb.behaviours.values() for t in [*(b.cues or []), b.label or ""]]
        words = {_fixed_lemma(lemmas, w) for t in texts for w in _tokens(t) if len(w) >= 4 and not w.isdigit()}
        words = _rare_words(words - STOP - Prefilter._setup_words(kb, lemmas), TOPIC_RARITY, probability)
        return frozenset(f for w in words for v in {w} | by_lemma.get(w, set()) for f in _tokens(v))

    @staticmethod
    def _setup_words(kb, lemmas) -> set:
        """Lemmas that name the conditions of an experiment rather than what a model did: the words of the context
        keys' labels and cues ('benchmark', 'user', 'instruction', 'monitor', 'safety'), less those a behaviour
        is named with (a word of its label, but not a qualifier in brackets, or the word that leads its phrase or
        one of its cues: 'shutdown', 'deliberately', 'sabotage', 'evaluated'). Alone next to a model name they are product talk ('scored 46% on the new
        coding benchmark'), not a result in other words."""
        def lemmas_of(texts):
            return {_fixed_lemma(lemmas, w) for t in texts for w in _tokens(t or "")}

        setup = lemmas_of(t for k in kb.context.values() for t in [k.label, k.phrase, *(k.cues or []), *(k.negations or [])])
        heads = [_head(t) for b in kb.behaviours.values() for t in [*(b.cues or []), b.phrase or ""]]
        labels = [re.sub(r"\([^)]*\)", " ", b.label or "") for b in kb.behaviours.values()]  # not "(training)"
        behaviour = lemmas_of([*heads, *labels])
        # ... and the words of a label's family ('evaluated' for "Evaluation awareness"): the lemma table does not
        # join derived words, so a shared stem of six letters does.
        stems = {w[:6] for w in behaviour if len(w) >= 6}
        return {w for w in setup - behaviour if len(w) < 6 or w[:6] not in stems}

    @staticmethod
    def _names(kb, probability) -> list:
        """(the words of one way to name a model, family or lab; the model ids it stands for)."""
        out: dict = {}
        for model in kb.models.values():
            for name in [model.name, *(model.aliases or [])]:
                out.setdefault(frozenset(_tokens(name)), set()).add(model.id)
        lex = kb.lexicon
        for family, members in (lex.families or {}).items():
            out.setdefault(frozenset(_tokens(family)), set()).update(members)
        by_developer: dict = {}
        for model in kb.models.values():
            by_developer.setdefault(model.developer, []).append(model.id)
        for developer, aliases in (lex.developers or {}).items():
            for alias in aliases:
                out.setdefault(frozenset(_tokens(alias)), set()).update(by_developer.get(developer, []))
        return [(words, _rarest([frozenset([w]) for w in words], probability), frozenset(ids))
                for words, ids in out.items() if words]

    @staticmethod
    def _subject_phrases(kb) -> re.Pattern:
        lex = kb.lexicon
        phrases = [*(lex.generic_models or []), *(lex.plural_models or []), *(lex.model_nouns or [])]
        alternatives = sorted({re.escape(p.lower()) for p in phrases}, key=len, reverse=True)
        return re.compile(r"(?<![a-z0-9])(?:" + "|".join(alternatives) + r")(?![a-z0-9])")

    @staticmethod
    def _values(kb) -> dict:
        out: dict = {}
        for claim in kb.claims.values():
            values = out.setdefault(claim.model, set())
            if claim.value is not None:
                values.add(abs(float(claim.value)))
            # The numbers the source's own wording states next to the value ("13% before, 0.4% after").
            for number, _tolerance, _bounded in _numbers(claim.value_text or ""):
                values.add(number)
        return {model: sorted(v) for model, v in out.items()}

    # ------------------------------------------------------------ the test

    def passes(self, text) -> bool:
        counts = self.counts
        counts.seen += 1
        if not isinstance(text, str):
            return False
        text = without_format_characters(text)  # as the checker will see it
        lower = text.lower()
        tokens = set(TOKEN.findall(lower))
        if self.anchors.isdisjoint(tokens):
            return False
        counts.anchored += 1
        rule = self._rule(lower, tokens, text)
        if rule:
            counts.passed += 1
            counts.by_rule[rule] += 1
        return bool(rule)

    def _rule(self, lower: str, tokens: set, text: str | None = None) -> str | None:
        named = self._named(tokens)
        if self._has_cue(tokens):
            if named or RATE.search(lower) or self.subject_phrases.search(lower) or self._misspelled_model(tokens):
                return "cue"
            return None
        if named and self._number_fits(lower, named):
            return "number"
        if not self.topic.isdisjoint(tokens) and (named or not self.model_nouns.isdisjoint(tokens)) \
                and self._topic_in_a_sentence(text if text is not None else lower):
            return "topic"
        return None

    def _topic_in_a_sentence(self, text: str) -> bool:
        """As the checker reads a statement: sentence by sentence. A sentence reports something only with a subject
        of its own (a model, family, lab or model noun: "the model", "the AI", "LLMs") or, when it states a rate,
        the subject of a sentence before it ("Claude was tested. In 12% of runs it faked compliance."); a question
        asserts nothing. So the uncommon behaviour word must be in such a sentence, not merely in the same text
        ("Is GPT-4.5 worth it? I switched my drafts to it")."""
        subject_before = False
        for sentence in _sentences(text):
            lower = sentence.lower()
            tokens = set(TOKEN.findall(lower))
            subject = bool(self._named(tokens)) or not self.model_nouns.isdisjoint(tokens)
            if not sentence.rstrip().endswith("?") and not self.topic.isdisjoint(tokens) \
                    and (subject or (subject_before and RATE.search(lower))):
                return True
            subject_before = subject_before or subject
        return False

    def _named(self, tokens: set) -> set:
        """The model ids of every model name, family or lab whose words are all in the text."""
        out: set = set()
        for token in tokens & self.name_anchor.keys():
            for index in self.name_anchor[token]:
                words, _forms, ids = self.names[index]
                if words <= tokens:
                    out |= ids
        return out

    def _has_cue(self, tokens: set) -> bool:
        for token in tokens & self.cue_anchor.keys():
            for index in self.cue_anchor[token]:
                if all(not forms.isdisjoint(tokens) for forms in self.cues[index][1]):
                    return True
        return False

    def _misspelled_model(self, tokens: set) -> bool:
        """The checker matches long words of multi-word model names with typos ('Claude 3.5 Sonet')."""
        for token in tokens:
            if len(token) >= 4 and token.isalpha():
                for word in self.long_name_words:
                    if _edits_within(token, word, max(2, round(0.3 * len(word)))):
                        return True
        return False

    def _number_fits(self, lower: str, models: set) -> bool:
        values = sorted({v for m in models for v in self.values.get(m, ())})
        if not values:
            return False
        found = _numbers(lower, bounded_marker=True, results_only=True, run_nouns=self.run_nouns)
        if any(bounded for _v, _t, bounded in found):  # "under 1%", "about 80%": the checker reads a range
            return True
        # "from 99% to 34%" may state a difference of 65 points
        pairs = [(abs(a - b), ta + tb) for i, (a, ta, _) in enumerate(found) for b, tb, _ in found[i + 1:]]
        return any(abs(v - c) <= tol * MARGIN + 1e-9 for c, tol in [(v, t) for v, t, _ in found] + pairs for v in values)


def _sentences(text: str) -> list[str]:
    """The text cut where a sentence surely ends (see SENTENCE_END): never more cuts than the checker makes."""
    out, start = [], 0
    for m in SENTENCE_END.finditer(text):
        before = re.search(r"([A-Za-z][A-Za-z.]*)$", text[start:m.start()])
        word = before.group(1).lower().rstrip(".") if before else ""
        if text[m.start()] == "." and (len(word) == 1 or word in ABBREVIATIONS):
            continue
        out.append(text[start:m.end()])
        start = m.end()
    out.append(text[start:])
    return out


def _not_result(lower: str, start: int, end: int, run_nouns: frozenset, ratio: bool = False) -> bool:
    """A number that states a score, a price, a change in money, or a share of something other than runs ("26% of
    its revenue", "in 6 out of 21 regions"): the checker's own test (kb.check.reports: a share is a rate only of
    runs, cases, tests, models...), and a few more that no rate of behaviour takes."""
    before, after = lower[max(0, start - 70):start], lower[end:end + 60]
    if NOT_RESULT_BEFORE.search(before[-20:]) or MONEY_CHANGE.search(before) or NOT_RESULT_AFTER.match(after[:40]):
        return True
    words = re.findall(r"[a-z]+", after)
    if not ratio and words[:1] == ["of"]:
        nouns = [w for w in words[1:] if w not in ARTICLES][:4]
        return bool(nouns) and not any(w.rstrip("s") in run_nouns for w in nouns)
    if ratio and re.match(r"\s+[a-z]", after):  # "7 out of 100 attempts", "6 out of 21 regions"
        nouns = [w for w in words[:3] if w not in STOP and w not in SMALL]
        return bool(nouns) and not any(w.rstrip("s") in run_nouns for w in nouns)
    return False


def _word_number(text: str) -> float | None:
    text = text.replace(",", ".")
    try:
        return float(text)
    except ValueError:
        return NUMBER_WORDS.get(text)


def _half_unit(text: str, per: float) -> float:
    digits = text.replace(",", ".").split(".")
    decimals = len(digits[1]) if len(digits) > 1 else 0
    return 0.5 * 10 ** -decimals / per


def _numbers(text: str, bounded_marker: bool = False, results_only: bool = False,
             run_nouns: frozenset = frozenset()) -> list:
    """(value, tolerance, bounded) for every value in [0, 1] a text may state as a rate: percentages, ratios,
    fraction words and decimals. `bounded` says a bound ("under", "about", "over 85%") comes just before."""
    lower = text.lower()
    out: list = []
    excluded: list = []  # (start, end) of the numbers that are not results

    def add(value, tolerance, start, end=None, ratio=False):
        if value is None or not 0 <= value <= 1.0001:
            return
        if results_only and end is not None:
            linked = any(LINKED.match(lower[e:start]) for _s, e in excluded if e <= start)
            if linked or _not_result(lower, start, end, run_nouns, ratio):
                excluded.append((start, end))
                return
        bounded = bounded_marker and bool(BOUND.search(lower[max(0, start - 16):start]))
        out.append((value, tolerance, bounded))

    for m in PERCENT.finditer(lower):
        number = _word_number(m.group(1))
        add(number / 100 if number is not None else None, max(_half_unit(m.group(1), 100), 0.00005), m.start(), m.end())
    for m in RATIO.finditer(lower):
        top, bottom = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        a, b = _word_number(top), _word_number(bottom)
        if a is not None and b:
            add(a / b, min(max(0.5 / b, 0.0005), RATIO_CAP), m.start(), m.end(), ratio=True)
    for m in FRACTION.finditer(lower):
        count = NUMBER_WORDS.get(m.group(1) or "one", 1) or 1
        add(count * FRACTIONS[m.group(2)], 0.02, m.start())
    for m in DECIMAL.finditer(lower):
        add(float(m.group(0)), _half_unit(m.group(0), 1), m.start())
    return out
