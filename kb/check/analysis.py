"""What a statement says, read off the spaCy doc: sentences, mentions (with polarity) and quantities.

Nothing here knows about claims; `kb.check.reports` and `kb.check.resolve` use this to find them.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field

from kb.check.nlp import SPANS_KEY
from kb.check.quantities import SPAN_KEY as QUANTITY_KEY

NEGATION_WINDOW = 4  # tokens before a cue in which "without"/"not" negates it
QUOTE_PAIRS = [(r'"', r'"'), ("“", "”"), ("‘", "’"), ("«", "»")]
# A removal verb followed by one of these has no object ("the rate DROPPED IN tests"), so it negates nothing.
# A removal verb after one of these is passive: its object came before it ("the instruction WAS REMOVED").
PASSIVE_AUXILIARIES = {"was", "were", "is", "are", "be", "been", "being", "gets", "got", "get"}
PASSIVE_WINDOW = 12  # tokens from a condition's first word to a passive removal verb that negates it
# "without" and its kin, and an active removal verb, govern the whole phrase after them up to a clause break
# ('without THE EXPLICIT LINE "allow yourself to be shut down" in the prompt, ...'), not just the next few words;
# "not" and "no" do not ("no model resisted when told to allow shutdown" keeps the instruction).
PHRASE_NEGATORS = {"without", "absent", "lacking", "minus"}
PHRASE_WINDOW = 12  # tokens from such a negator to a condition it governs
PREPOSITIONS = {"in", "on", "at", "from", "to", "by", "during", "under", "over", "across", "after", "before", "since",
                "for", "with", "into", "below", "above", "between", "among", "within", "throughout", "through"}


@dataclass
class Mention:
    label: str
    id: str
    start: int  # character offsets
    end: int
    sent: int
    negated: bool = False
    token_start: int = 0

    def overlaps(self, other: "Mention") -> bool:
        return self.start < other.end and other.start < self.end


@dataclass
class Number:
    """A quantity in the statement, with what follows it (to tell '84% of trials' from '96% of AI models')."""

    quantity: object  # kb.check.quantities.Quantity
    sent: int
    following: str  # the few words after the quantity, lower case
    over_test_runs: bool = False  # 'in 84% of trials', '7 out of 100 runs': a test noun follows (lexicon test_nouns)

    @property
    def start(self) -> int:
        return self.quantity.start


@dataclass
class Analysis:
    text: str
    sentences: list  # (start, end) char offsets
    mentions: list = field(default_factory=list)
    numbers: list = field(default_factory=list)
    quoted: list = field(default_factory=list)  # (start, end) of quoted passages
    run_nouns: frozenset = frozenset()  # what a rate may be a share of (lexicon run_nouns)
    # Statement-wide facts that findings ask for again and again, worked out once: (what, key) -> value.
    memo: dict = field(default_factory=dict, repr=False, compare=False)

    def of(self, label: str, sent: int | None = None) -> list[Mention]:
        index = self.memo.get("of")
        if index is None:  # one pass over the mentions, then each question is a lookup
            index = self.memo["of"] = {}
            for m in self.mentions:
                index.setdefault((m.label, None), []).append(m)
                index.setdefault((m.label, m.sent), []).append(m)
        return index.get((label, sent), [])

    def once(self, what: str, key, compute):
        """`compute()` the first time (what, key) is asked for in this statement; its value after that."""
        if (what, key) not in self.memo:
            self.memo[(what, key)] = compute()
        return self.memo[(what, key)]

    def is_quoted(self, start: int, end: int) -> bool:
        return any(qs <= start and end <= qe for qs, qe in self.quoted)

    def sentence_text(self, index: int) -> str:
        start, end = self.sentences[index]
        return self.text[start:end]


def analyse(doc, anaphor_keys: set[str], lexicon) -> Analysis:
    """Read mentions and numbers off a processed doc. `anaphor_keys`: keys a 'without it' may refer to; `lexicon`:
    the vocabulary's lexicon (its run_nouns and test_nouns say what a number is a share of)."""
    sents = list(doc.sents)
    sentences = [(s.start_char, s.end_char) for s in sents]
    starts = [s.start for s in sents]
    sent_of = lambda token_index: max(bisect_right(starts, token_index) - 1, 0)  # noqa: E731
    run_nouns, test_nouns = frozenset(lexicon.run_nouns or ()), frozenset(lexicon.test_nouns or ())
    analysis = Analysis(doc.text, sentences, quoted=_quoted_passages(doc.text), run_nouns=run_nouns)
    raw = []
    for s in doc.spans[SPANS_KEY]:
        passive = _passive(doc, s)  # decided once: it names the mention and decides whether it is idle
        if not _idle(doc, s, passive):
            raw.append(Mention(s.label_, "passive" if passive else s.id_, s.start_char, s.end_char, sent_of(s.start),
                               token_start=s.start))
    analysis.mentions = _resolve_polarity(_longest(raw), anaphor_keys, doc.text)
    analysis.numbers = [_number(doc, span, sent_of, test_nouns) for span in doc.spans[QUANTITY_KEY]]
    return analysis


def _longest(mentions: list[Mention]) -> list[Mention]:
    """Within each label, drop a mention that lies inside a longer one of the same label ('o1' in 'o1-preview')."""
    groups = {"MODEL", "FAMILY", "DEVELOPER", "GENERIC", "PLURAL"}  # all name a subject: the longest name wins
    kept, open_ = [], []  # open_: kept mentions that still reach past the current start (linear sweep, not pairs)
    for m in sorted(mentions, key=lambda m: (m.start, -(m.end - m.start))):
        open_ = [o for o in open_ if o.end > m.start]
        same = ((lambda o: o.label in groups) if m.label in groups else
                # A negated phrase inside a longer condition phrase is that phrase's words ('no goal' in 'no goal
                # nudging' does not say the model had no goal: only that it was not nudged).
                (lambda o: o.label in ("CONTEXT", "NEG_CONTEXT")) if m.label == "NEG_CONTEXT" else
                (lambda o: o.label == m.label and o.id == m.id))
        if any(same(o) and o.start <= m.start and m.end <= o.end and (o.end - o.start) > (m.end - m.start) for o in open_):
            continue
        kept.append(m)
        open_.append(m)
    # Context words inside a behaviour phrase describe the behaviour ("sabotage the SHUTDOWN"), not a condition.
    behaviours = [m for m in kept if m.label == "BEHAVIOUR"]
    # The same words may deliberately say both ("failed to comply": the behaviour, and that there was an instruction).
    return [m for m in kept if not (m.label == "CONTEXT" and any(b.start <= m.start and m.end <= b.end and
                                                                 (b.start, b.end) != (m.start, m.end) for b in behaviours))]


def _idle(doc, span, passive: bool) -> bool:
    """A lexicon word in a use that does not do its job: a removal verb without an object ('the rate dropped IN
    tests') removes nothing; a reporting word in a quantifier ('A NUMBER OF times') is not about a reported figure.
    `passive`: _passive(doc, span)."""
    after = doc[span.end].lower_ if span.end < len(doc) else ""
    before = doc[span.start - 1].lower_ if span.start > 0 else ""
    if span.label_ == "REMOVAL":
        return after in PREPOSITIONS and not passive
    return span.label_ == "META" and before == "a" and after == "of"


def _passive(doc, span) -> bool:
    """A removal verb in the passive ('once the line WAS REMOVED from the prompt'): it negates the condition before
    it, not after."""
    return span.label_ == "REMOVAL" and span.start > 0 and doc[span.start - 1].lower_ in PASSIVE_AUXILIARIES


def _resolve_polarity(mentions: list[Mention], anaphor_keys: set[str], text: str) -> list[Mention]:
    # Grouped by sentence and by key, so a long text costs mentions x (a sentence's worth), not mentions squared.
    negators, negative_spans = {}, {}
    for m in mentions:
        if m.label in ("NEGATOR", "REMOVAL"):
            negators.setdefault(m.sent, []).append(m)
        elif m.label == "NEG_CONTEXT":
            negative_spans.setdefault(m.id, []).append(m)
    passively_removed = _passively_removed(mentions, text)
    out = []
    for m in mentions:
        if m.label == "CONTEXT":
            if any(n.overlaps(m) for n in negative_spans.get(m.id, ())):
                continue  # the negated reading of the same words wins
            m.negated = id(m) in passively_removed or any(
                _negates(n, m, text) for n in negators.get(m.sent, ()) if n.id != "passive")
        elif m.label == "NEG_CONTEXT":
            m = Mention("CONTEXT", m.id, m.start, m.end, m.sent, True, m.token_start)
        elif m.label == "ANAPHOR_NEG":
            m = _anaphor(m, out, anaphor_keys)
            if m is None:
                continue
        out.append(m)
    return _dedupe(out)


CLAUSE_BREAK = re.compile(r"[;:,.]|\b(?:and|but|while|whereas|then)\b", re.I)
# A negator in a purpose clause ("so that it would not", "so as not to", "in order not to") says what the model acted
# to prevent, not that a condition was absent.
PURPOSE_BEFORE = re.compile(r"\b(?:so\s+that|so\s+as|in\s+order|lest)\b[^,;:.]{0,24}$", re.I)
# What a removal verb is done with ("remove them with safety training") is its instrument, not what it removes.
INSTRUMENT = re.compile(r"\b(?:with|using|through|via|by)\b", re.I)


def _negates(negator: Mention, condition: Mention, text: str) -> bool:
    """A negator just before a condition, in the same clause, negates it; "without" or a removal verb negates a
    condition anywhere in the phrase it governs (PHRASE_WINDOW tokens, no clause break between)."""
    distance = condition.token_start - negator.token_start
    between = text[negator.end:condition.start]
    if not 0 < distance <= PHRASE_WINDOW or CLAUSE_BREAK.search(between):
        return False  # "without any nudging, even when told to allow shutdown" keeps the instruction
    if PURPOSE_BEFORE.search(text[max(0, negator.start - 30):negator.start]):
        return False  # "blackmailed so that it would not be switched off": the threat was there, and it was the point
    if negator.label == "REMOVAL" and INSTRUMENT.search(between):
        return False  # "tried to remove the backdoors with safety training": the training did the removing
    governs = negator.label == "REMOVAL" or text[negator.start:negator.end].lower() in PHRASE_NEGATORS
    return distance <= NEGATION_WINDOW or governs


def _passively_removed(mentions: list[Mention], text: str) -> set:
    """ids of the condition mentions a passive removal verb after them negates: for each such verb, the condition
    closest before it in the same clause (within PASSIVE_WINDOW tokens), and those nested with it ('allow yourself
    to be shut down' holds 'be shut down')."""
    out = set()
    for n in mentions:
        if n.label != "REMOVAL" or n.id != "passive":
            continue
        before = [m for m in mentions if m.label == "CONTEXT" and m.sent == n.sent and m.end <= n.start
                  and n.token_start - m.token_start <= PASSIVE_WINDOW and not CLAUSE_BREAK.search(text[m.end:n.start])]
        if before:
            nearest = max(before, key=lambda m: m.end)
            out |= {id(m) for m in before if _nested(m, nearest)}
    return out


def _nested(a: Mention, b: Mention) -> bool:
    return (b.start <= a.start and a.end <= b.end) or (a.start <= b.start and b.end <= a.end)


def _anaphor(m: Mention, earlier: list[Mention], anaphor_keys: set[str]) -> Mention | None:
    """'Without it' negates the most recent condition that results are contrasted on (e.g. the instruction)."""
    for prior in reversed(earlier):
        if prior.label == "CONTEXT" and prior.id in anaphor_keys and not prior.negated and prior.end <= m.start:
            return Mention("CONTEXT", prior.id, m.start, m.end, m.sent, True, m.token_start)
    return None


def _dedupe(mentions: list[Mention]) -> list[Mention]:
    seen, out = set(), []
    for m in sorted(mentions, key=lambda m: (m.start, m.end, m.label, m.id)):
        key = (m.label, m.id, m.start, m.end, m.negated)
        if key not in seen:
            seen.add(key)
            out.append(m)
    return out


def _number(doc, span, sent_of, test_nouns: frozenset) -> Number:
    following = " ".join(t.lower_ for t in doc[span.end: span.end + 6])
    words = re.findall(r"[a-z]+", following)
    return Number(span._.quantity, sent_of(span.start), following, any(w.rstrip("s") in test_nouns for w in words[:3]))


def _quoted_passages(text: str) -> list[tuple[int, int]]:
    passages = []
    for open_q, close_q in QUOTE_PAIRS:
        pattern = re.escape(open_q) + r"([^" + re.escape(open_q + close_q) + r"]{1,300})" + re.escape(close_q)
        passages += [(m.start(), m.end()) for m in re.finditer(pattern, text)]
    # Single quotes double as apostrophes: only count 'text' that opens after a space and closes before one.
    passages += [(m.start(), m.end()) for m in re.finditer(r"(?:(?<=\s)|^)'([^'\n]{2,200})'(?=[\s.,;:!?)]|$)", text)]
    return passages


def follows_test_noun(number: Number) -> bool:
    """'in 84% of trials', '7 out of 100 runs': the number itself says these were test runs."""
    return number.over_test_runs
