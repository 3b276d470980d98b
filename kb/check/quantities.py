"""Find and normalise the numbers that AI-safety claims hinge on.

``parse_quantities("o1 disabled oversight in 5% of cases")`` returns one
``Quantity`` whose value is 0.05.  Rates of every spelling (percent, "7 out of
100", "one in five", "two-thirds", "0.05") are normalised to fractions so the
checker can compare a public statement with the source number directly.

Matching runs on a same-length normalised copy of the input, so every offset
is valid for the original string (and for spaCy's ``doc.char_span``).
"""

from __future__ import annotations

import bisect
import math
import re
from dataclasses import asdict, dataclass
from typing import Callable

from spacy.language import Language
from spacy.tokens import Doc, Span

__all__ = [
    "BOUNDS",
    "KINDS",
    "SPAN_KEY",
    "Quantity",
    "caveat_quantities",
    "parse_quantities",
    "words_to_number",
]

KINDS = ("percent", "ratio", "fraction_word", "decimal", "points", "count", "change")
BOUNDS = ("eq", "lt", "le", "gt", "ge", "approx", "upto")
SPAN_KEY = "quantities"
_RATE_KINDS = frozenset({"percent", "ratio", "fraction_word", "decimal"})


@dataclass(frozen=True)
class Quantity:
    start: int
    end: int
    text: str
    value: float
    kind: str
    bound: str = "eq"
    numerator: float | None = None
    denominator: float | None = None

    @property
    def is_rate(self) -> bool:
        """A share of runs ('5%', '7 out of 100', '0.05'), not a count or a difference ('65 points')."""
        return self.kind in _RATE_KINDS and (self.kind != "decimal" or 0.0 <= self.value <= 1.0)


# --- text normalisation ------------------------------------------------------
# Every replacement is one code point for one code point, so offsets survive.
_FOLDS = {
    **{ch: " " for ch in "\u00a0\u2002\u2003\u2007\u2009\u200a\u202f\u3000"},
    **{ch: "%" for ch in "\uff05\ufe6a\u066a"},
    **{ch: "-" for ch in "\u2212\u2010\u2011\u2012\u2013\u2014\ufe63\uff0d"},
    **{ch: "/" for ch in "\u2044\u2215\uff0f"},
    **{ch: "~" for ch in "\u223c\uff5e"},
    **{chr(0xFF10 + i): str(i) for i in range(10)},
}
_FOLD_TABLE = str.maketrans(_FOLDS)


def _normalise(text: str) -> str:
    return text.translate(_FOLD_TABLE)


# --- number words ------------------------------------------------------------
_ONES = {w: i for i, w in enumerate("zero one two three four five six seven eight nine".split())}
_TEENS = {w: i + 10 for i, w in enumerate(
    "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split())}
_TENS = {w: (i + 2) * 10 for i, w in enumerate(
    "twenty thirty forty fifty sixty seventy eighty ninety".split())}
_SMALL = {**_ONES, **_TEENS, **_TENS}


def _alt(words) -> str:
    # Longest first so "seventeen" is never read as "seven" + junk.
    return "|".join(sorted(words, key=len, reverse=True))


_BELOW_100 = (rf"(?:(?:{_alt(_TENS)})(?:[-\s](?:{_alt(w for w in _ONES if w != 'zero')}))?"
              rf"|{_alt(_TEENS)}|{_alt(_ONES)})")
_WORD_NUM = (rf"\b(?:(?:{_BELOW_100}|a)\s+(?:hundred|thousand)(?:\s+(?:and\s+)?{_BELOW_100})?"
             rf"|{_BELOW_100})\b")


def words_to_number(phrase: str) -> float | None:
    """'seventy-nine' -> 79.0, 'a hundred' -> 100.0; None if not a number phrase."""
    words = [w for w in re.split(r"[\s-]+", phrase.strip().lower()) if w and w != "and"]
    if not words:
        return None
    total, current = 0, 0
    for word in words:
        if word in ("a", "an"):
            current = current or 1
        elif word in _SMALL:
            current += _SMALL[word]
        elif word == "hundred":
            current = (current or 1) * 100
        elif word == "thousand":
            total, current = total + (current or 1) * 1000, 0
        else:
            return None
    return float(total + current)


def _to_float(token: str) -> float | None:
    token = token.strip()
    if not token:
        return None
    if token[0] in "+-.0123456789":
        try:
            return float(token.replace(",", ""))
        except ValueError:
            return None
    return words_to_number(token)


# --- regex building blocks ---------------------------------------------------
_INT = r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)"
# Look-arounds reject digits glued to letters or dots: o1, GPT-4o, 4.1.2, 405B.
_DIGITS = rf"(?<![\w.])(?<![0-9],)(?:{_INT}(?:\.[0-9]+)?|\.[0-9]+)(?![0-9]|[.,][0-9])"
# A sign only counts after whitespace/bracket, so "13%->0.4%" is not negative.
_SIGNED = rf"(?:(?<![^\s(\[:])[+-](?=\.?[0-9]))?{_DIGITS}"
_NUM = rf"(?:{_DIGITS}|{_WORD_NUM})"
_SNUM = rf"(?:{_SIGNED}|{_WORD_NUM})"
_GAP = r"[\s-]{0,3}"
_PCT_UNIT = r"(?:%|percent\b|per[\s-]{0,2}cent\b|pct\b)"
_NOT_PCT = r"(?![\w%])(?!\s{0,3}(?:%|percent\b|per[\s-]{0,2}cent\b))"

_INTENSIFIERS = r"(?:just|well|slightly|far|only)\s+"
_BOUND_PREFIXES = {
    "upto": (r"up\s+to", None),
    "le": (r"at\s+most|no\s+more\s+than|not\s+more\s+than|no\s+greater\s+than|no\s+higher\s+than"
           r"|a\s+maximum\s+of", r"<=|\u2264|\u2a7d"),
    "ge": (r"at\s+least|no\s+less\s+than|no\s+fewer\s+than|not\s+less\s+than|not\s+fewer\s+than"
           r"|a\s+minimum\s+of", r"(?<![-=])>=|\u2265|\u2a7e"),
    "lt": (rf"(?:{_INTENSIFIERS})?(?:less\s+than|fewer\s+than|lower\s+than|under|below)", r"<"),
    "gt": (rf"(?:{_INTENSIFIERS})?(?:more\s+than|greater\s+than|higher\s+than|over|above|exceeding"
           r"|in\s+excess\s+of)", r"(?<![-=])>"),  # "->" and "=>" are arrows
    "approx": (r"about|around|roughly|nearly|almost|approximately|approx\.?|circa|close\s+to|some"
               r"|an\s+estimated|on\s+the\s+order\s+of", r"~|\u2248|\u2243"),
}


def _prefix_group(bound: str, words: str, symbols: str | None) -> str:
    # Words must be followed by whitespace: "someone in 5" is not "some" + "one in 5".
    body = rf"\b(?:{words})(?=\s)" + (f"|{symbols}" if symbols else "")
    return rf"(?P<b_{bound}>{body})"


_PRE = "(?:(?:" + "|".join(_prefix_group(b, w, s) for b, (w, s) in _BOUND_PREFIXES.items()) + r")\s*)?"
_POST = (r"(?:\s+(?:(?P<p_ge>or\s+(?:more|greater|higher|above|over))"
         r"|(?P<p_le>or\s+(?:less|fewer|lower|below|under)))\b)?")

_UNIT_WORDS = (
    "times time models model rollouts rollout runs run samples sample cases case attempts attempt "
    "episodes episode trials trial transcripts transcript scenarios scenario tasks task instances "
    "instance evaluations evaluation evals eval environments environment prompts prompt questions "
    "question problems problem conversations conversation completions completion trajectories "
    "trajectory seeds seed examples example responses response outputs output participants "
    "participant labs lab companies company occasions occasion tests test settings setting agents "
    "agent benchmarks benchmark items item queries query interactions interaction sessions session "
    "experiments experiment generations generation challenges challenge turns people messages "
    "message datapoints transcripts documents document games game"
).split()
_UNITS = rf"(?:{_alt(set(_UNIT_WORDS))})\b"
_STOPWORDS = r"(?:of|in|out|the|a|an|and|or|to|from|than|per|for|with|on|at|by|more|less|percent)\b"
# One lowercase modifier may sit between number and noun ("16 frontier models").
_ADJ = rf"(?:(?!{_STOPWORDS})(?-i:[a-z][a-z-]{{1,24}})\s{{1,3}})"
_TAIL = rf"(?:\s{{1,3}}{_ADJ}?{_UNITS})?"


def _compile(core: str) -> re.Pattern[str]:
    return re.compile(_PRE + core + _POST, re.IGNORECASE)


# Hyphenated ranges take digits only: "seventy-nine" is one number, not 70-9.
_RANGE_RE = _compile(
    rf"(?:between\s+(?P<a>{_NUM})\s+and\s+|(?P<a2>{_DIGITS})\s*-\s*|(?P<a3>{_NUM})\s+to\s+)"
    rf"(?P<b>{_NUM}){_GAP}{_PCT_UNIT}")
_PERCENT_RE = _compile(rf"(?P<n>{_SNUM}){_GAP}{_PCT_UNIT}")
_POINTS_RE = _compile(
    rf"(?:(?P<n>{_SNUM}){_GAP}(?:(?:percentage|percent|pct)[\s-]{{1,2}}points?\b|pp\b|p\.p\.|ppts?\b)"
    rf"|(?P<n2>{_SIGNED}){_GAP}(?:pts?|points?)\b)"
    r"(?!\s{0,3}(?:scale|font|likert|type|size|system)\b)")
_OUT_OF_RE = _compile(
    rf"(?P<n>{_NUM})(?:\s{{1,3}}{_UNITS})?\s{{1,3}}out\s+of\s+(?:every\s+|the\s+|all\s+)?"
    rf"(?P<d>{_NUM}){_NOT_PCT}{_TAIL}")
_OF_RE = _compile(
    rf"(?P<n>{_NUM})\s{{1,3}}of\s+(?:the\s+|all\s+|its\s+|their\s+|these\s+|those\s+|every\s+|each\s+)?"
    rf"(?P<d>{_NUM}){_NOT_PCT}{_TAIL}")
_IN_RE = _compile(rf"(?P<n>{_NUM})(?:\s{{1,3}}{_UNITS})?\s{{1,3}}in\s+(?:every\s+|each\s+)?(?P<d>{_NUM}){_NOT_PCT}{_TAIL}")
_SLASH_RE = _compile(
    rf"(?<![\w./])(?P<n>{_INT})\s?/\s?(?P<d>{_INT})(?![\w/%]|[.,][0-9]){_TAIL}")
_COUNT_RE = _compile(
    rf"(?P<n>{_NUM})(?P<plus>\+)?\s{{1,3}}{_ADJ}?(?P<u>{_UNITS})"
    r"(?P<mult>\s+(?:more|less|fewer|higher|lower|larger|smaller|greater|as|faster|slower"
    r"|better|worse|likelier)\b)?")
_DECIMAL_RE = _compile(r"(?<![\w.\-/$#])(?P<n>0?\.[0-9]+)(?![\w.%/]|,[0-9])")

_FRACTION_NUMERATORS = {"a": 1, "an": 1, **{w: v for w, v in _SMALL.items() if 1 <= v <= 10}}
_FRACTION_DENOMINATORS = {
    "half": 2, "third": 3, "quarter": 4, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "hundredth": 100,
}
_PLURAL_DENOMINATORS = {w + "s": v for w, v in _FRACTION_DENOMINATORS.items() if w != "half"}
_ALL_DENOMINATORS = {**_FRACTION_DENOMINATORS, **_PLURAL_DENOMINATORS}
_FRACTION_RE = _compile(
    rf"(?:(?P<fn>\b(?:{_alt(_FRACTION_NUMERATORS)}))(?P<sep>[\s-]{{1,2}}))?"
    rf"(?P<fd>\b(?:{_alt(_ALL_DENOMINATORS)}))\b(?!-\w)")
_VULGAR = {"½": 1 / 2, "⅓": 1 / 3, "⅔": 2 / 3, "¼": 1 / 4, "¾": 3 / 4, "⅕": 1 / 5, "⅖": 2 / 5,
           "⅗": 3 / 5, "⅘": 4 / 5, "⅙": 1 / 6, "⅚": 5 / 6, "⅛": 1 / 8, "⅜": 3 / 8, "⅝": 5 / 8,
           "⅞": 7 / 8}
_VULGAR_RE = _compile(rf"(?<![0-9])(?P<n>[{''.join(_VULGAR)}])")

# --- context vetoes ----------------------------------------------------------
_MODEL_FAMILIES = (r"claude|gpt|chatgpt|gemini|gemma|llama|grok|sonnet|opus|haiku|mistral|mixtral"
                   r"|qwen|deepseek|phi|palm|bard|command")
_REFERENCES = (r"table|tab|tbl|figure|fig|figs|section|sec|secs|appendix|app|chapter|chap|ch"
               r"|equation|eq|eqn|page|pg|pp|p|line|footnote|step|phase|stage|level|round|day"
               r"|week|month|year|item|row|column|col|part|vol|volume|issue|version|ver|v|rev"
               r"|release|tier|grade|rank|top|layer|epoch|iteration|checkpoint")
_MONTHS = (r"jan|january|feb|february|mar|march|apr|april|may|jun|june|jul|july|aug|august"
           r"|sep|sept|september|oct|october|nov|november|dec|december")
# A number right after these is a name, version, reference or date, not a quantity.
def _blocker(words: str) -> re.Pattern[str]:
    return re.compile(rf"(?:\b(?:{words}|no)\.?|[A-Za-z]-|[#§$€£])\s*$", re.I)


_BLOCKER_RE = _blocker(f"{_MODEL_FAMILIES}|{_REFERENCES}|{_MONTHS}")
_YEAR_CONTEXT_RE = re.compile(r"\b(?:in|since|during|until)\s+$", re.I)
_NON_RATE_DECIMAL_RE = re.compile(
    r"\b(?:p|p-value|temperature|temp|top[-_\s]?[pk]|lr|learning\s+rate|alpha|beta|gamma|lambda"
    r"|epsilon|eps|sigma|weight\s+decay|dropout|threshold|cutoff|version|v)"
    r"\s*(?:[:=<>\u2264\u2265]|is|of|at|was|set\s+to)?\s*$", re.I)
_AVERAGED_OVER_RE = re.compile(
    r"\b(?:averag\w*|aggregat\w*|pooled|computed|calculated|measured|mean|median|taken|repeated"
    r"|evaluated|sampled|estimated|run|ran)\s+$", re.I)
_ORDINAL_HALF_RE = re.compile(r"\b(?:first|second|latter|former|back|front|top|bottom)\s+$", re.I)
_AND_A_RE = re.compile(r"\band\s+$", re.I)
# "a third of", "a third." are fractions; "a third model" is an ordinal.
_FRACTION_FOLLOW_RE = re.compile(
    r"\s*(?:$|[^\w\s]|(?:of|were|was|are|is|did|had|have|showed|and|or|to|in|on|at|for|by)\b)",
    re.I)
_MASK_TOKEN_RE = re.compile(r"[^\s()\[\]<>\"']+")
_URLISH_RE = re.compile(
    r"://|^www\.|@|\.(?:com|org|net|io|ai|edu|gov|dev|html?)(?:/|$)|^arxiv:", re.I)


def _window(text: str, pos: int, width: int = 40) -> str:
    return text[max(0, pos - width):pos]


def _blocked(text: str, pos: int) -> bool:
    return _BLOCKER_RE.search(_window(text, pos)) is not None


# Without the model names: a number after one that is followed by a unit and its base ("Gemini 9 times in 100",
# "Claude 3 cases out of 50") is that model's share of runs, since no model is called "Gemini 9 times".
_REFERENCE_BLOCKER_RE = _blocker(f"{_REFERENCES}|{_MONTHS}")
_UNIT_AFTER_RE = re.compile(rf"\s{{1,3}}{_UNITS}", re.I)


def _ratio_blocked(m: re.Match[str]) -> bool:
    text, pos = m.string, m.start("n")
    if _UNIT_AFTER_RE.match(text, m.end("n")) or m.re is _OUT_OF_RE:
        return _REFERENCE_BLOCKER_RE.search(_window(text, pos)) is not None
    return _blocked(text, pos)


def _year_like(token: str | None) -> bool:
    return bool(token) and re.fullmatch(r"(?:19|20)[0-9]{2}", token) is not None


def _masked_spans(text: str) -> list[tuple[int, int]]:
    # URLs, handles and e-mails are full of digits that are never claims.
    return [(m.start(), m.end()) for m in _MASK_TOKEN_RE.finditer(text)
            if _URLISH_RE.search(m.group())]


# --- candidate construction --------------------------------------------------
def _bound_of(m: re.Match[str]) -> str:
    groups = m.groupdict()
    for bound in _BOUND_PREFIXES:
        if groups.get(f"b_{bound}"):
            return bound
    if groups.get("p_ge"):
        return "ge"
    return "le" if groups.get("p_le") else "eq"


def _make(src: str, start: int, end: int, value: float, kind: str, bound: str,
          num: float | None = None, den: float | None = None) -> Quantity:
    return Quantity(start, end, src[start:end], round(value, 12), kind, bound, num, den)


def _whole(src: str, m: re.Match[str], value: float, kind: str,
           num: float | None = None, den: float | None = None) -> list[Quantity]:
    return [_make(src, m.start(), m.end(), value, kind, _bound_of(m), num, den)]


# "cut reward hacking by 80%", "rose by 11 percent": a relative change of something, not how often a behaviour
# happened (kind "change": not a rate, so never matched against a claim's value).
_CHANGE_BY_RE = re.compile(
    r"\b(?:cut|cuts|cutting|reduc\w*|lower(?:s|ed|ing)?|drop(?:s|ped|ping)?|fell|falls?|falling|decreas\w*|rose|"
    r"rises?|rising|increas\w*|grew|grows?|growing|jump(?:s|ed|ing)?|improv\w*|declin\w*|shr[aiu]nk\w*|slash\w*|"
    r"boost\w*|rais(?:e|es|ed|ing)|halv\w*)\b[^.;:!?%\d]{0,50}?\bby\s+(?:(?:about|roughly|nearly|almost|around|some|"
    r"up\s+to|over|more\s+than|less\s+than|something\s+like|an\s+estimated|approximately|just|only)\s+)*$", re.I)


def _on_percent(m: re.Match[str], src: str) -> list[Quantity]:
    n = _to_float(m["n"])
    if n is None:
        return []
    return _whole(src, m, n / 100, "change" if _CHANGE_BY_RE.search(_window(m.string, m.start(), 90)) else "percent")


def _on_points(m: re.Match[str], src: str) -> list[Quantity]:
    group = "n" if m["n"] else "n2"
    if _blocked(m.string, m.start(group)):
        return []
    n = _to_float(m[group])
    return [] if n is None else _whole(src, m, n / 100, "points")


def _on_range(m: re.Match[str], src: str) -> list[Quantity]:
    # "5-10%" / "between 5 and 10 percent": the first number borrows the unit.
    first = next(g for g in ("a", "a2", "a3") if m[g])
    if _blocked(m.string, m.start(first)):
        return []
    low, high, bound = _to_float(m[first]), _to_float(m["b"]), _bound_of(m)
    if low is None or high is None:
        return []
    return [_make(src, m.start(), m.end(first), low / 100, "percent", bound),
            _make(src, m.start("b"), m.end(), high / 100, "percent", bound)]


# "every one of the 100 runs" is all of them and "not one of the 100 runs" none: the "one" names each run, it does
# not count one.
_EVERY_ONE_RE = re.compile(r"\b(?:every|each)(?:\s+single)?\s+$", re.I)
_NOT_ONE_RE = re.compile(r"\b(?:not|nor|never)(?:\s+(?:a\s+)?single)?\s+$", re.I)


def _ratio(m: re.Match[str], src: str, year_sensitive: bool) -> list[Quantity]:
    if _ratio_blocked(m):
        return []
    if year_sensitive and _year_like(m["d"]):
        return []  # "3 in 2024" is a date, not one-in-N
    n, d = _to_float(m["n"]), _to_float(m["d"])
    if n is None or d is None or d <= 0 or n > d:
        return []
    if m.re is _OF_RE and m["n"].lower() == "one" and m.start() == m.start("n"):
        before = _window(m.string, m.start())
        qualifier = _EVERY_ONE_RE.search(before) or _NOT_ONE_RE.search(before)
        if qualifier:  # the quantity's text takes the qualifier: "every one of the 100 runs"
            n = d if qualifier.re is _EVERY_ONE_RE else 0.0
            start = m.start() - (len(before) - qualifier.start())
            return [_make(src, start, m.end(), n / d, "ratio", _bound_of(m), n, d)]
    return _whole(src, m, n / d, "ratio", n, d)


def _on_out_of(m: re.Match[str], src: str) -> list[Quantity]:
    return _ratio(m, src, year_sensitive=False)


def _on_of_or_in(m: re.Match[str], src: str) -> list[Quantity]:
    return _ratio(m, src, year_sensitive=True)


def _fraction_is_ordinal(m: re.Match[str], numerator: str, denominator: str) -> bool:
    text = m.string
    if _AND_A_RE.search(_window(text, m.start("fn") if numerator else m.start("fd"))):
        return True  # "one and a half"
    if denominator == "half":
        return not numerator and _ORDINAL_HALF_RE.search(_window(text, m.start("fd"))) is not None
    if denominator in _PLURAL_DENOMINATORS or (m["sep"] or "").strip() == "-":
        return False
    return _FRACTION_FOLLOW_RE.match(text, m.end("fd")) is None


def _on_fraction(m: re.Match[str], src: str) -> list[Quantity]:
    numerator = (m["fn"] or "").lower()
    denominator = m["fd"].lower()
    if not numerator and denominator != "half":
        return []  # a bare "third" is an ordinal
    if _fraction_is_ordinal(m, numerator, denominator):
        return []
    num = _FRACTION_NUMERATORS.get(numerator, 1)
    den = _ALL_DENOMINATORS[denominator]
    return [] if num > den else _whole(src, m, num / den, "fraction_word", num, den)


def _on_vulgar(m: re.Match[str], src: str) -> list[Quantity]:
    return _whole(src, m, _VULGAR[m["n"]], "fraction_word")


def _on_decimal(m: re.Match[str], src: str) -> list[Quantity]:
    text = m.string
    if _blocked(text, m.start("n")) or _NON_RATE_DECIMAL_RE.search(_window(text, m.start())):
        return []
    n = _to_float(m["n"])
    return [] if n is None else _whole(src, m, n, "decimal")


def _on_count(m: re.Match[str], src: str) -> list[Quantity]:
    text, n_start = m.string, m.start("n")
    if _blocked(text, n_start) or (m["u"].lower() == "times" and m["mult"]):
        return []  # "3 times more likely" is a multiplier
    if _year_like(m["n"]) and _YEAR_CONTEXT_RE.search(_window(text, n_start)):
        return []
    n = _to_float(m["n"])
    if n is None:
        return []
    start, bound = m.start(), _bound_of(m)
    if m["plus"] and bound == "eq":
        bound = "ge"
    if m["b_gt"] and m["b_gt"].lower() == "over" and _AVERAGED_OVER_RE.search(_window(text, start)):
        start, bound = n_start, "eq"  # "averaged over 5 runs" states a count, not a bound
    return [_make(src, start, m.end(), n, "count", bound)]


_Handler = Callable[[re.Match, str], list]
# Order is the tie-break between equally long overlapping candidates.
_FAMILIES: tuple[tuple[re.Pattern[str], _Handler], ...] = (
    (_PERCENT_RE, _on_percent),
    (_POINTS_RE, _on_points),
    (_RANGE_RE, _on_range),
    (_OUT_OF_RE, _on_out_of),
    (_OF_RE, _on_of_or_in),
    (_IN_RE, _on_of_or_in),
    (_SLASH_RE, _on_out_of),
    (_FRACTION_RE, _on_fraction),
    (_VULGAR_RE, _on_vulgar),
    (_DECIMAL_RE, _on_decimal),
    (_COUNT_RE, _on_count),
)


# --- overlap resolution ------------------------------------------------------
def _overlaps(chosen: list[tuple[int, int]], start: int, end: int) -> bool:
    i = bisect.bisect_left(chosen, (start, end))
    if i > 0 and chosen[i - 1][1] > start:
        return True
    return i < len(chosen) and chosen[i][0] < end


# Where a quantity can start: a digit or decimal point, a bound or fraction symbol, or a word that begins a bound
# ("fewer than", "up to"), a number ("seventy-nine") or a fraction ("a third", "half"). Trying each family only at
# these positions, rather than scanning every character eleven times, makes parsing several times faster.
_FIRST_WORDS = {
    *_SMALL, *_FRACTION_DENOMINATORS, *_PLURAL_DENOMINATORS, "hundred", "thousand", "a", "an", "up", "at", "no", "not",
    "less", "fewer", "lower", "under", "below", "just", "well", "slightly", "far", "only", "more", "greater", "higher",
    "over", "above", "exceeding", "in", "about", "around", "roughly", "nearly", "almost", "approximately", "approx",
    "circa", "close", "some", "on", "between",
}
_START_RE = re.compile(rf"[0-9.<>~+\-{''.join(_VULGAR)}\u2264\u2265\u2a7d\u2a7e\u2248\u2243]|\b(?:{_alt(_FIRST_WORDS)})\b",
                       re.IGNORECASE)


def _candidates(norm: str, src: str) -> list[tuple[int, int, int, list[Quantity]]]:
    starts = sorted({m.start() for m in _START_RE.finditer(norm)})
    found = []
    for priority, (pattern, handler) in enumerate(_FAMILIES):
        resume = 0  # like finditer: the next match starts where the last one ended
        for start in starts:
            m = pattern.match(norm, start) if start >= resume else None
            if not m or m.end() == start:
                continue
            resume = m.end()
            quantities = [q for q in handler(m, src) if math.isfinite(q.value)]
            if quantities:
                found.append((m.start(), m.end(), priority, quantities))
    return found


def _resolve(found, masked: list[tuple[int, int]]) -> list[Quantity]:
    # Longest candidate wins, so "7 out of 100" beats the "100" inside it.
    chosen: list[tuple[int, int]] = []
    result: list[Quantity] = []
    for start, end, _, quantities in sorted(found, key=lambda c: (c[0] - c[1], c[0], c[2])):
        if _overlaps(masked, start, end) or _overlaps(chosen, start, end):
            continue
        bisect.insort(chosen, (start, end))
        result.extend(quantities)
    return sorted(result, key=lambda q: q.start)


def parse_quantities(text: str) -> list[Quantity]:
    """All non-overlapping quantities in ``text``, sorted by start offset."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", errors="replace")
    if not isinstance(text, str) or not text:
        return []
    norm = _normalise(text)
    return _with_shared_unit(_resolve(_candidates(norm, text), _masked_spans(norm)), norm, text)


# "3 and 9 cases out of 100", "in 3, 9 and 79 of 100 runs", "12 and 24%": bare numbers listed before a share share its
# unit and base. Not after "between" (a range, parsed as one) and never a number a name or reference blocks.
_LISTED_BEFORE_RE = re.compile(rf"(?P<list>(?:{_DIGITS}\s*,\s*)*{_DIGITS}),?\s+(?:and|or)\s+$")
_LISTED_NUMBER_RE = re.compile(_DIGITS)
_RANGE_WORD_RE = re.compile(r"\b(?:between|from)\s+$", re.I)


def _with_shared_unit(found: list[Quantity], norm: str, src: str) -> list[Quantity]:
    extra = []
    for q in found:
        if q.bound != "eq" or not (q.kind == "percent" or (q.kind == "ratio" and q.denominator)):
            continue
        listed = _LISTED_BEFORE_RE.search(norm, max(0, q.start - 60), q.start)
        if listed is None or listed.end() != q.start or _RANGE_WORD_RE.search(_window(norm, listed.start())):
            continue
        for m in _LISTED_NUMBER_RE.finditer(norm, listed.start("list"), listed.end("list")):
            n = _to_float(m.group())
            base = q.denominator if q.kind == "ratio" else 100.0
            if n is None or n > base or _year_like(m.group()) or _blocked(norm, m.start()):
                continue
            if any(o.start < m.end() and m.start() < o.end for o in found):
                continue
            extra.append(_make(src, m.start(), m.end(), n / base, q.kind, "eq",
                               *((n, base) if q.kind == "ratio" else ())))
    return sorted(found + extra, key=lambda q: q.start) if extra else found


# --- spaCy component ---------------------------------------------------------
# The Quantity is stored as a plain dict so Doc.to_bytes / DocBin / nlp.pipe(n_process>1)
# can still serialise the doc; the getter hands callers a real Quantity back.
def _get_quantity(span: Span) -> Quantity | None:
    data = span._.quantity_data
    return None if data is None else Quantity(**data)


def _set_quantity(span: Span, quantity: Quantity | None) -> None:
    span._.quantity_data = None if quantity is None else asdict(quantity)


if not Span.has_extension("quantity_data"):
    Span.set_extension("quantity_data", default=None)
if not Span.has_extension("quantity"):
    Span.set_extension("quantity", getter=_get_quantity, setter=_set_quantity)


def _to_spans(doc: Doc, quantities: list[Quantity]) -> list[Span]:
    # Token expansion can merge neighbours ("1%,7%" is one token); first one wins.
    spans: list[Span] = []
    for q in quantities:
        span = doc.char_span(q.start, q.end, label=q.kind, alignment_mode="expand")
        if span is None or (spans and span.start < spans[-1].end):
            continue
        span._.quantity = q
        spans.append(span)
    return spans


@Language.component("caveat_quantities")
def caveat_quantities(doc: Doc) -> Doc:
    doc.spans[SPAN_KEY] = _to_spans(doc, parse_quantities(doc.text))
    return doc
