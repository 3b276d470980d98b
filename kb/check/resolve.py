"""Turn reports into findings: which claim each report is about, and how its number relates to that claim.

For a report with a number, the claims whose value the number states are preferred; if that claim was
measured under another condition than the statement says, the number is `other_condition`; if only another
model's claim has it, the model is wrong; if no claim has it, it is `unsupported` (or a near `mismatch`).
Without a number, the best claim is chosen by the stated conditions, the source named, the claim's rank and
its meaning (embedding similarity).
"""

from __future__ import annotations

import re
from functools import lru_cache
from dataclasses import dataclass, field, replace

from kb.check.conditions import conflicts
from kb.check.quantities import parse_quantities

RATIO_TOLERANCE_CAP = 0.03
RANK_DIGITS = 6  # candidate claims whose probabilities agree to this many digits are tied
CUE_EVIDENCE = 0.8  # a behaviour named by a cue word (1.0) or carried from the sentence before (0.8)


@dataclass
class Finding:
    report: object
    claim: object  # Claim, or None for a number about a (model, behaviour) no claim covers
    number: str  # match | mismatch | other_condition | unsupported | absent
    number_claim: object = None  # the claim the reported number really belongs to, when it is not `claim`
    other_model_claim: object = None  # another model's claim that has the reported number (a wrong model)
    problems: list = field(default_factory=list)  # [{"kind", "detail"}]
    stated: dict = field(default_factory=dict)
    scope: object = None
    score: float = 0.0
    present: set = field(default_factory=set)
    missing: list = field(default_factory=list)
    cued: set = field(default_factory=set)  # keys a cue in the statement states (before the fitted key head weighs in)
    tier: str = ""
    generalised: bool = False  # a sweeping subject elsewhere in the statement generalises this result
    reported: object = None  # the quantity compared with the claim, when not the report's own number (a difference)
    secondary: bool = False  # the number is not the claim's value but another one its source states with it
    # Evidence about the chosen claim, for the fitted decision (kb.check.evidence):
    source_score: float = 0.0  # how much the statement names the claim's source
    same_source: bool = False  # the claim's source is that of a claim another number matched
    unstated_variant: bool = False
    conflicting: tuple = ()  # context keys stated with the opposite polarity to the claim's
    evidence: object = None
    key_evidence: dict = field(default_factory=dict)
    missing_confidence: dict = field(default_factory=dict)

    @property
    def quantity(self):
        return self.reported or (self.report.number.quantity if self.report.number is not None else None)

    def problem(self, kind: str, detail: str, claim: str | None = None):
        """`claim`: another claim the problem names (whose figure the statement gives), kept as `claim`."""
        if not any(p["kind"] == kind and p["detail"] == detail for p in self.problems):
            self.problems.append({"kind": kind, "detail": detail, **({"claim": claim} if claim else {})})


@dataclass
class Evidence:
    """Statement-wide evidence used to choose between claims."""

    similarity: object  # callable(sentence index, claim id) -> cosine similarity
    source_scores: dict  # source id -> 0..1 overlap of the statement's words with the source's name
    mentioned_keys: set  # context keys mentioned anywhere (either polarity)
    preferred_sources: set = field(default_factory=set)  # sources of claims already matched by number
    named_models: dict = field(default_factory=dict)  # sentence index -> ids of the models it names


def value_matches(value, quantity) -> bool:
    """Does a reported quantity state this claim value, given how the statement bounds it ('<1%', 'over 85%')?"""
    if value is None:
        return False
    q, tol = quantity.value, _tolerance(quantity)
    bound = quantity.bound
    if bound in ("lt", "le"):
        return value <= q + 1e-9
    if bound in ("gt", "ge"):
        return value >= q - tol
    if bound == "approx":
        return abs(value - q) <= max(2 * tol, 0.1 * q, 0.01)
    # Strictly inside half a unit: 'nine out of ten' is 85-95% exclusive, so it does not state 95%.
    return abs(value - q) < tol - 1e-12 or abs(value - q) < 1e-9


@lru_cache(maxsize=4096)
def _tolerance(quantity) -> float:
    """Half a unit of the last digit the statement wrote: '5%' covers 4.5-5.5%, '0.3%' covers 0.25-0.35%."""
    if quantity.kind == "ratio" and quantity.denominator:
        # Half a count, but no looser than 3 points: 'three out of four' states 75%, not 84%.
        return min(max(0.5 / quantity.denominator, 0.0005), RATIO_TOLERANCE_CAP)
    if quantity.kind == "fraction_word":
        return 0.02
    digits = re.findall(r"\d+(?:\.(\d+))?", quantity.text.replace(",", ""))
    decimals = len(digits[0]) if digits and digits[0] else 0
    half_unit = 0.5 * 10 ** -decimals
    return half_unit if quantity.kind == "decimal" else half_unit / 100  # percentages and points are out of 100


def is_close(value, quantity) -> bool:
    """A near miss (a misquote), rather than a number from nowhere."""
    return value is not None and abs(value - quantity.value) <= max(0.02, 0.2 * abs(value))


def other_rates(kb) -> dict[str, list[float]]:
    """Claim id -> the rates a statement may give for the claim besides its value: those the source's own wording
    states with it ("13% before, 0.4% after"), and the rate of the opposite outcome ("complied every time" for 0%
    sabotage, "owned up in about 80%" for 16% doubling down), which contradicts nothing. Only for rates: an accuracy
    drop's wording states accuracies, which are not drops, and its opposite means nothing."""
    out = {}
    for claim in kb.claims.values():
        quantities = parse_quantities(claim.value_text or "") if claim.metric == "rate" else []
        rates = [q.value for q in quantities if q.is_rate and q.value != claim.value]
        if claim.metric == "rate" and claim.value is not None and not claim.bound and claim.value != 0.5:
            rates.append(round(1.0 - claim.value, 6))
        out[claim.id] = rates
    return out


class Resolver:
    def __init__(self, kb, evidence: Evidence, other_numbers: dict[str, list[float]], rank):
        self.kb = kb
        self.evidence = evidence
        self.other_numbers = other_numbers  # from other_rates(kb), computed once per knowledge base
        self.rank = rank  # finding -> probability that the statement reports its claim (the fitted weights)
        self.considered: dict = {}  # (report, claim id) -> every provisional finding ranked: examples for fitting
        self._candidates: dict = {}
        self._stating: dict = {}
        self._ranks: dict = {}
        self._unstated: dict = {}

    # ------------------------------------------------------------ choosing a claim

    def candidates(self, report) -> list:
        key = (report.subject.models, tuple(sorted(report.behaviours)))
        if key not in self._candidates:  # the same subject and behaviours recur across a statement's numbers
            models, behaviours = set(key[0]), set(key[1])
            # One model (the usual report names one): its own claims, in file order as all claims are; else all.
            pool = self.kb.claims_by_model.get(key[0][0], ()) if len(models) == 1 else self.kb.claims.values()
            self._candidates[key] = [c for c in pool
                                     if c.model in models and (not behaviours or c.behaviour in behaviours)]
        return self._candidates[key]

    def stating(self, quantity) -> frozenset:
        """Ids of the claims whose value the quantity states, worked out once per distinct way of saying a number."""
        key = (quantity.value, quantity.bound, quantity.kind, quantity.text, getattr(quantity, "denominator", None))
        if key not in self._stating:
            self._stating[key] = frozenset(c.id for c in self.kb.claims.values() if value_matches(c.value, quantity))
        return self._stating[key]

    def _is_unstated_variant(self, claim) -> bool:
        """A control or variant setting whose distinguishing condition the statement never mentions."""
        if claim.id not in self._unstated:  # asked for each candidate each time it is ranked: answered once a claim
            setting = self.kb.setting_of(claim)
            keys = {by for _other, by, _note in self.kb.contrasts_of(claim.id)}
            self._unstated[claim.id] = bool(setting and setting.variant) and not (keys & self.evidence.mentioned_keys)
        return self._unstated[claim.id]

    def best(self, report, claims, stated):
        """The most probable of the candidate claims, by the fitted weights (ties: the claim id, for determinism)."""
        if not claims:
            return None
        return max(claims, key=lambda c: (self._ranked(report, c, stated), c.id))

    def _ranked(self, report, claim, stated) -> float:
        # The same claim for the same way of reporting it (a number repeated in one sentence) is ranked once.
        q = report.number.quantity if report.number is not None else None
        key = (claim.id, report.sentence, report.subject, tuple(sorted(report.behaviours.items())), report.quoted,
               None if q is None else (q.value, q.bound, q.kind, q.text), tuple(sorted((k, tuple(sorted(v)))
                                                                                        for k, v in stated.items())))
        if key not in self._ranks:
            finding = self.annotate(self.provisional(report, claim, stated))
            self.considered.setdefault((id(report), claim.id), finding)
            # Rounded: a sentence's vector differs in its last bits with the batch it was encoded in (padding), and
            # two claims that tie must not be ordered by that noise (ties go to the claim id).
            self._ranks[key] = round(self.rank(finding), RANK_DIGITS)
        return self._ranks[key]

    def provisional(self, report, claim, stated) -> Finding:
        """The finding the report would give with this claim, its number compared with the claim's."""
        quantity = report.number.quantity if report.number is not None else None
        if quantity is None:
            return Finding(report, claim, "absent", stated=stated)
        if value_matches(claim.value, quantity):
            return Finding(report, claim, "match", stated=stated)
        if any(value_matches(v, quantity) for v in self.other_numbers.get(claim.id, ())):
            return Finding(report, claim, "match", stated=stated, secondary=True)
        return Finding(report, claim, "mismatch" if is_close(claim.value, quantity) else "unsupported", stated=stated)

    # ------------------------------------------------------------ resolving

    def resolve(self, report, stated: dict) -> Finding | None:
        if report.quoted and report.number is None:
            return None  # a quoted headline being discussed, not a result the statement asserts
        if report.number is not None:
            return self.annotate(self._with_number(report, stated))
        return self.annotate(self._without_number(report, stated))

    def annotate(self, finding: Finding | None) -> Finding | None:
        """Record the evidence about the chosen claim that the fitted decision weighs."""
        if finding is None or finding.claim is None:
            return finding
        claim, ev = finding.claim, self.evidence
        source = self.kb.claim_sources.get(claim.id)
        finding.source_score = ev.source_scores.get(source, 0.0)
        finding.same_source = source in ev.preferred_sources
        finding.unstated_variant = self._is_unstated_variant(claim)
        finding.conflicting = tuple(conflicts(self.kb, claim, finding.stated))
        return finding

    def _without_number(self, report, stated) -> Finding | None:
        # A retrieved report already names its pair: whether it is reported is the fitted decision's, not these rules'.
        if report.subject.how in ("generic", "unknown") and not report.retrieved:
            return None  # "the AI did X" with no number: nothing says which result
        claims = self.candidates(report)
        if report.subject.how == "plural" and not report.retrieved:
            claims = [c for c in claims if report.behaviours.get(c.behaviour, 0) >= 1.0]
        # Without a number to confirm it, an unverified number is never the result a statement is taken to report.
        claims = [c for c in claims if c.verification != "unverified"] or claims
        # The statement's conditions choose among the pair's claims ('even when told to allow shutdown' is the run
        # with the instruction); it misstates a condition only when no claim of the pair has the one it says.
        claims = self.consistent(claims, stated) or claims
        claim = self.best(report, claims, stated)
        return Finding(report, claim, "absent", stated=stated) if claim else None

    def _with_number(self, report, stated) -> Finding | None:
        quantity = report.number.quantity
        candidates = self.candidates(report)
        stating = self.stating(quantity)
        exact = [c for c in candidates if c.id in stating]
        if exact:
            return self._exact(report, candidates, exact, stated)
        # A number the source states in the same finding's wording ('0% with the exact prompt; 12% with an addition').
        stated_too = [c for c in candidates if any(value_matches(v, quantity) for v in self.other_numbers[c.id])]
        if stated_too:
            finding = self._exact(report, candidates, stated_too, stated)
            if finding is not None:
                finding.secondary = True
            return finding
        other_model = self._other_model_exact(report)
        if other_model and other_model.model in self.evidence.named_models.get(report.sentence, ()):
            # The model whose claim has the number is named in the same sentence ('Claude and Gemini bypassed it in
            # 3 and 9 cases'): the number is that model's, bound to its neighbour by the reading, not misattributed.
            return Finding(report, other_model, "match", stated=stated)
        if other_model and report.subject.how in ("named", "family"):
            claim = self.best(report, self.consistent(candidates, stated) or candidates, stated)
            return Finding(report, claim or other_model, "mismatch", other_model_claim=other_model, stated=stated)
        if report.subject.how not in ("named", "family") or not report.behaviours:
            return None  # an unnamed subject or unknown behaviour with a number no claim has: nothing to check
        claim = self.best(report, self.consistent(candidates, stated) or candidates, stated)
        status = "mismatch" if claim is not None and is_close(claim.value, quantity) else "unsupported"
        return Finding(report, claim, status, stated=stated)

    def consistent(self, claims, stated) -> list:
        """The claims measured under no condition contrary to what the statement says."""
        return [c for c in claims if not conflicts(self.kb, c, stated)]

    def _exact(self, report, candidates, exact, stated) -> Finding | None:
        consistent = self.consistent(exact, stated)
        if consistent:
            return Finding(report, self.best(report, consistent, stated), "match", stated=stated)
        number_claim = self.best(report, exact, stated)
        others = [c for c in candidates if c not in exact and not conflicts(self.kb, c, stated)]
        claim = self.best(report, others, stated) if others else number_claim
        return Finding(report, claim, "other_condition" if others else "match", number_claim, stated=stated)

    def resolve_difference(self, report, stated) -> Finding | None:
        """'accuracy fell from 99% to 34%': the two numbers state a drop of 65 points, not two rates."""
        a, b = report.number.quantity, report.partner.number.quantity
        difference = replace(a, value=round(abs(a.value - b.value), 6), kind="points", bound="eq",
                             text=f"{a.text} to {b.text}")
        claims = [c for c in self.candidates(report) if c.metric in ("accuracy_drop", "difference")
                  and value_matches(c.value, difference)]
        consistent = self.consistent(claims, stated)
        if not consistent:
            return None
        finding = Finding(report, self.best(report, consistent, stated), "match", stated=stated)
        finding.reported = difference
        return self.annotate(finding)

    def _other_model_exact(self, report):
        quantity = report.number.quantity
        # Whose number it is depends on the behaviour: the one named in words when there is one, else the ones the
        # sentence describes by meaning.
        named = {b for b, evidence in report.behaviours.items() if evidence >= CUE_EVIDENCE}
        behaviours = named or set(report.behaviours)
        models = set(report.subject.models)
        stating = self.stating(quantity)
        pool = [c for c in self.kb.claims.values()
                if c.id in stating and c.model not in models and (not behaviours or c.behaviour in behaviours)]
        return self.best(report, pool, {}) if pool and behaviours else None

