"""The checker's detectors: one registered function each, all with the same signature.

    detector(check: FindingCheck) -> str | tuple[str, str] | None
    (the problem's detail, or (detail, the id of another claim it names), or None when it does not fire)

A new detector is added with @detector("kind", misstates=...), not wired in anywhere. `misstates` says
whether the problem makes the statement `misstated` (the labelling guide, statements/LABELLING.md) or only `missing_context`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from kb.check.conditions import conflicts
from kb.format import format_value, percent

DETECTORS: list = []
MISSTATING: set = set()
MISREPRESENTS: dict = {}  # detector kind -> the context key its firing shows is misrepresented


@dataclass
class FindingCheck:
    kb: object
    finding: object  # kb.check.resolve.Finding, with the context keys found present and missing
    analysis: object

    @property
    def present(self) -> set:
        return self.finding.present

    @property
    def missing(self) -> list:
        return self.finding.missing

    @property
    def cued(self) -> set:
        """Keys a cue of the statement states: what a detector that judges how a number is framed may rely on (the
        fitted key head may count the number itself as conveying a rate-like key)."""
        return self.finding.cued


def detector(kind: str, misstates: bool, misrepresents: str | None = None):
    """Register a detector; `misrepresents`: the context key a firing shows the statement gets wrong, which is then
    dropped whatever else seemed to convey it (the labelling guide: a misrepresented condition is missing)."""
    def register(fn):
        DETECTORS.append((kind, fn))
        if misstates:
            MISSTATING.add(kind)
        if misrepresents:
            MISREPRESENTS[kind] = misrepresents
        return fn
    return register


def run_detectors(check: FindingCheck):
    finding = check.finding
    for kind, fn in DETECTORS:
        detail = fn(check)
        if detail:
            detail, claim = detail if isinstance(detail, tuple) else (detail, None)
            finding.problem(kind, detail, claim)
            key = MISREPRESENTS.get(kind)
            if key and finding.claim is not None and key in (finding.claim.key_context or []):
                finding.present.discard(key)
                finding.missing = finding.missing + [key] if key not in finding.missing else finding.missing


def _label(kb, key: str) -> str:
    ctx = kb.context.get(key)
    return ctx.label.lower() if ctx else key


def _said(check) -> str:
    quantity = check.finding.quantity
    return quantity.text if quantity is not None else ""


@detector("dropped_context", misstates=False)
def dropped_context(check: FindingCheck) -> str | None:
    kb, claim = check.kb, check.finding.claim
    keys = [k for k in check.missing if k not in ("rate",)]
    if not keys:
        return None
    conditions = kb.conditions_of(claim)
    parts = [f"{_label(kb, k)} ({conditions[k].description.rstrip('.')})" if k in conditions else _label(kb, k)
             for k in keys]
    return "does not say: " + "; ".join(parts)


@detector("overgeneralisation", misstates=False)
def overgeneralisation(check: FindingCheck) -> str | None:
    """The behaviour reported as what the model does, with no rate. A plural subject ("AI models", "the models")
    is not flagged by itself: the labelling guide records it as a report of several models, and on the labelled
    statements flagging it marked faithful multi-model reports as missing context (measured 2026-12-07)."""
    if "rate" in check.missing:
        return "reports the behaviour without saying how often it happened"
    return None


@detector("number_mismatch", misstates=True)
def number_mismatch(check: FindingCheck) -> str | None:
    finding = check.finding
    if finding.number != "mismatch" or finding.other_model_claim is not None:
        return None
    return f"says {_said(check)}; the source gives {format_value(finding.claim)} ({finding.claim.value_text})"


@detector("unsupported_number", misstates=True)
def unsupported_number(check: FindingCheck) -> str | None:
    finding = check.finding
    if finding.number != "unsupported":
        return None
    if finding.claim is None:
        return f"says {_said(check)}; no source in the knowledge base reports this result"
    return f"says {_said(check)}; no source gives that number for this result (closest claim: {format_value(finding.claim)})"


@detector("wrong_condition", misstates=True)
def wrong_condition(check: FindingCheck) -> str | None:
    """A number attached to the wrong condition: the claim it belongs to contradicts what the statement says."""
    finding, kb = check.finding, check.kb
    claim = finding.number_claim or finding.claim
    keys = conflicts(kb, claim, finding.stated) if claim else []
    if not keys:
        return None
    conditions = kb.conditions_of(claim)
    said = ", ".join(f"{_label(kb, k)}: the statement says {'not ' if 'absent' in finding.stated[k] else ''}so, "
                     f"but it was '{conditions[k].value}'" for k in keys)
    return f"{_said(check) or 'the result'} was measured under another condition ({said})"


@detector("wrong_model", misstates=True)
def wrong_model(check: FindingCheck) -> tuple[str, str] | None:
    finding, kb = check.finding, check.kb
    other = finding.other_model_claim
    if other is None:
        return None
    said = ", ".join(kb.models[m].name for m in finding.report.subject.models if m in kb.models)
    return f"{_said(check)} is {kb.models[other.model].name}'s result ({other.id}), not {said}'s", other.id


MONTHS = {m: i for i, m in enumerate(("january", "february", "march", "april", "may", "june", "july", "august",
                                      "september", "october", "november", "december"), start=1)}
MONTH_YEAR = re.compile(r"\b(" + "|".join(MONTHS) + r"|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\.?\s+(20\d\d)\b", re.I)
DATE_SLACK_MONTHS = 2


@detector("wrong_date", misstates=True)
def wrong_date(check: FindingCheck) -> str | None:
    """A month and year in the finding's sentence that is not when its source appeared ('Anthropic's December 2024
    system card' for a card of May 2025). Year-only mentions are too loose to judge."""
    claim = check.finding.claim
    source = check.kb.source_of(claim) if claim else None
    if source is None or not source.date or len(source.date) < 7:
        return None
    year, month = int(source.date[:4]), int(source.date[5:7])
    sentence = check.finding.report.sentence
    said_dates = check.analysis.once("month_year", sentence,
                                     lambda: list(MONTH_YEAR.finditer(check.analysis.sentence_text(sentence))))
    for match in said_dates:
        said = _month(match.group(1)), int(match.group(2))
        if abs((said[1] * 12 + said[0]) - (year * 12 + month)) > DATE_SLACK_MONTHS:
            return f"dates the result to {match.group(0)}; {source.title} is from {source.date}"
    return None


def _month(word: str) -> int:
    word = word.lower().rstrip(".")
    return next(number for name, number in MONTHS.items() if name.startswith(word[:3]))


@detector("share_of_models", misstates=True)
def share_of_models(check: FindingCheck) -> str | None:
    number = check.finding.report.number
    if number is None or check.finding.claim is None:
        return None
    if _share_of_models_pattern(tuple(check.kb.lexicon.model_nouns)).match(number.following):
        model = check.kb.models[check.finding.claim.model].name
        return f"presents {number.quantity.text} as a share of models; it is one model's rate ({model}) across runs"
    return None


@lru_cache(maxsize=4)
def _share_of_models_pattern(model_nouns: tuple) -> re.Pattern:
    """'96% of AI models', '97% of frontier AI models', 'four in five leading AI models' (built once per lexicon)."""
    nouns = "|".join(re.escape(n.lower()) for n in sorted(model_nouns, key=len, reverse=True))
    return re.compile(rf"^(?:of )?(?:[a-z'-]+ ){{0,3}}?(?:{nouns})\b")


@detector("accuracy_as_frequency", misstates=True, misrepresents="accuracy_drop")
def accuracy_as_frequency(check: FindingCheck) -> str | None:
    claim, quantity = check.finding.claim, check.finding.quantity
    if claim is None or claim.metric != "accuracy_drop" or quantity is None:
        return None
    if quantity.kind == "points" or "accuracy_drop" in check.cued:
        return None
    return (f"presents an accuracy drop ({format_value(claim)}) as how often the model did it; "
            "it is the difference in accuracy between two test conditions")


@detector("conditional_as_unconditional", misstates=True, misrepresents="conditional_rate")
def conditional_as_unconditional(check: FindingCheck) -> str | None:
    claim, report = check.finding.claim, check.finding.report
    if claim is None or claim.metric != "conditional_rate" or report.number is None:
        return None
    all_runs = [m for m in check.analysis.of("ALL_RUNS", report.sentence)]
    if not all_runs or "conditional_rate" in check.cued:
        return None
    return (f"presents {percent(claim.value)} as a share of all runs; it is the share of the (rare) runs in which the "
            "model had already taken the action")
