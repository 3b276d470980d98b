"""The checker: which claims a statement reports, which key conditions it drops, whether its numbers match.

    checker = load_checker(root)            # ~5 s: knowledge base, spaCy pipeline, embedding model
    checker.check("o1 tried to disable oversight 5% of the time")
    checker.check_many([(id, text), ...])   # batched: one encode per batch of statements

Each result is one `kb check --jsonl` object (see README "kb check").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from kb.check import inputs
from kb.check.analysis import analyse
from kb.check.conditions import scopes, stated_conditions
from kb.check.context import missing_keys, present_keys
from kb.check.detectors import MISSTATING, FindingCheck, run_detectors
from kb.check.embed import CachedEmbeddings, MiniLMEmbedder
from kb.check.nlp import build_nlp
from kb.check.reports import Lookup, find_reports
from kb.check.resolve import Evidence, Resolver, other_rates
from kb.format import claim_label, format_value
from kb.wording import faithful_sentence

# Thresholds, chosen on the labelled development statements (README "How the checker decides"): cosine
# similarity for a sentence to count as conveying a condition, and the finding score above which a claim is
# reported ("match") or only offered ("suggest"). Behaviours are found by cues and numbers, not by similarity:
# on the development sets a sentence's similarity to a behaviour's definition did not separate true from false.
CONTEXT_MEANING = 0.62
MATCH_SCORE = 0.60
SUGGEST_SCORE = 0.45
BATCH = 512  # statements per encode: the model sorts a batch by length, so bigger batches pad less
CHUNK_CHARS = 600  # sentences are embedded together up to this length: one encode for a typical statement
STOPWORDS = {"the", "and", "for", "with", "from", "that", "this", "are", "models", "model", "large", "language",
             "research", "frontier", "card", "system", "more", "recent", "into", "when", "their", "they", "paper"}


@dataclass
class KbTexts:
    """The knowledge base's texts the checker compares statements with, and their embeddings."""

    claim_ids: list
    claims: np.ndarray
    paraphrase_keys: list
    paraphrases: np.ndarray

    def __post_init__(self):
        self.claim_index = {cid: i for i, cid in enumerate(self.claim_ids)}
        self.paraphrase_columns: dict = {}
        for i, key in enumerate(self.paraphrase_keys):
            self.paraphrase_columns.setdefault(key, []).append(i)


def claim_text(kb, claim) -> str:
    model = kb.models[claim.model].name
    behaviour = kb.behaviours[claim.behaviour]
    return f"{model} {behaviour.phrase}: {claim.measure}."


class Checker:
    def __init__(self, kb, embedder=None, cache_path: Path | None = None, threads: int | None = None):
        self.kb = kb
        self.nlp = build_nlp(kb)
        self.embedder = embedder or MiniLMEmbedder(threads=threads)
        self.texts = self._embed_kb(cache_path)
        self.anaphor_keys = {by for cid in kb.claims for _o, by, _n in kb.contrasts_of(cid) if by in kb.context}
        self.lookup = Lookup(self._models_by_developer(), dict(kb.lexicon.families), tuple(kb.models))
        self.source_words = {sid: self._words(f"{s.title} {s.authors}") for sid, s in kb.sources.items()}
        self.other_rates = other_rates(kb)

    # ------------------------------------------------------------ set-up

    def _embed_kb(self, cache_path) -> KbTexts:
        kb = self.kb
        claims = list(kb.claims.values())
        pairs = [(k.id, p) for k in kb.context.values() for p in k.paraphrases or []]
        texts = [claim_text(kb, c) for c in claims] + [p for _, p in pairs]
        matrix = CachedEmbeddings(self.embedder, cache_path).matrix(texts)
        n = len(claims)
        return KbTexts([c.id for c in claims], matrix[:n], [k for k, _ in pairs], matrix[n:])

    def _models_by_developer(self) -> dict:
        out: dict = {}
        for model in self.kb.models.values():
            if model.developer:
                out.setdefault(model.developer, []).append(model.id)
        return out

    @staticmethod
    def _words(text: str) -> set:
        return {w for w in re.findall(r"[a-z][a-z0-9]+", text.lower()) if len(w) > 3 and w not in STOPWORDS}

    # ------------------------------------------------------------ checking

    def check(self, text, id: str | None = None) -> dict:
        return next(iter(self.check_many([(id, text)])))

    def check_many(self, items, batch_size: int = BATCH):
        """Results in input order, computed a batch at a time (constant memory on long inputs)."""
        batch = []
        for sid, text in items:
            batch.append(inputs.clean(text, sid) if not isinstance(text, inputs.InputError)
                         else inputs.Statement(sid, "", error=text))
            if len(batch) >= batch_size:
                yield from self._check_batch(batch)
                batch = []
        if batch:
            yield from self._check_batch(batch)

    def _check_batch(self, statements: list) -> list[dict]:
        usable = [s for s in statements if s.error is None and s.text]
        docs = dict(zip((id(s) for s in usable), self.nlp.pipe(s.text for s in usable)))
        analyses = {key: analyse(doc, self.anaphor_keys) for key, doc in docs.items()}
        chunked = {key: chunks(a) for key, a in analyses.items()}
        vectors = self.embedder.encode([text for parts in chunked.values() for text, _ in parts])
        results, offset = [], 0
        for statement in statements:
            analysis = analyses.get(id(statement))
            if analysis is None:
                results.append(self._unusable(statement))
                continue
            parts = chunked[id(statement)]
            # Each sentence takes the vector of the chunk it is in.
            rows = [offset + i for i, (_text, members) in enumerate(parts) for _ in members]
            results.append(self._check_one(statement, analysis, vectors[rows]))
            offset += len(parts)
        return results

    def _unusable(self, statement) -> dict:
        out = {"id": statement.id, "text": statement.text, "verdict": None if statement.error else "no_claim",
               "findings": []}
        if statement.error:
            out["error"] = {"code": statement.error.code, "message": statement.error.message}
        notices = statement.notices or ([] if statement.error else ["the statement is empty"])
        if notices:
            out["notices"] = notices
        return out

    def _check_one(self, statement, analysis, vectors) -> dict:
        sims = _Similarities(vectors @ self.texts.claims.T, vectors @ self.texts.paraphrases.T, self.texts)
        reports = find_reports(analysis, self.lookup)
        findings = self._resolve(analysis, reports, sims)
        for finding in findings:
            self._judge(finding, analysis, sims)
        findings = _merge(findings)
        out = {"id": statement.id, "text": statement.text, "verdict": verdict(findings),
               "findings": [self._as_dict(f) for f in findings]}
        if statement.notices:
            out["notices"] = statement.notices
        return out

    def _resolve(self, analysis, reports, sims) -> list:
        report_scopes = scopes(analysis, reports, self.anaphor_keys)
        stated = [stated_conditions(s) for s in report_scopes]
        words = self._words(analysis.text)
        evidence = Evidence(sims.claim, self._source_scores(words),
                            {m.id for m in analysis.mentions if m.label == "CONTEXT"})
        resolver = Resolver(self.kb, evidence, self.other_rates)
        # First the reports whose number identifies a claim; their sources then help choose the rest.
        first = [resolver.resolve(r, st) for r, st in zip(reports, stated) if r.number is not None]
        evidence.preferred_sources = {self.kb.claim_sources.get(f.claim.id) for f in first
                                      if f and f.number == "match" and f.claim}
        found = {}
        for report, scope, st in zip(reports, report_scopes, stated):
            finding = resolver.resolve(report, st)
            if finding is not None:
                finding.scope = scope
                found[id(report)] = finding
        self._differences(reports, report_scopes, stated, found, resolver)
        return _fold_sweeping(_one_subject_per_number([found[id(r)] for r in reports if id(r) in found]))

    @staticmethod
    def _differences(reports, report_scopes, stated, found, resolver):
        """Replace a 'from A to B' pair that matched no claim by the difference it states, when a claim has it."""
        for report, scope, st in zip(reports, report_scopes, stated):
            partner = report.partner
            if partner is None or reports.index(partner) < reports.index(report):
                continue
            pair = [found.get(id(report)), found.get(id(partner))]
            if any(f is not None and f.number == "match" and not f.secondary for f in pair):
                continue
            finding = resolver.resolve_difference(report, st)
            if finding is not None:
                finding.scope = scope
                found[id(report)] = finding
                found.pop(id(partner), None)

    def _source_scores(self, words: set) -> dict:
        scores = {sid: len(words & sw) for sid, sw in self.source_words.items()}
        top = max(scores.values(), default=0)
        return {sid: s / top for sid, s in scores.items()} if top else {}

    def _judge(self, finding, analysis, sims):
        kb, claim = self.kb, finding.claim
        if claim is None:
            finding.present, finding.missing = set(), []
        else:
            finding.present = present_keys(kb, finding, analysis, sims.means)
            finding.missing = missing_keys(claim, finding.present)
        run_detectors(FindingCheck(kb, finding, analysis))
        finding.score = finding_score(finding, sims)
        finding.tier = "match" if finding.score >= MATCH_SCORE else "suggest" if finding.score >= SUGGEST_SCORE else "drop"

    def _as_dict(self, finding) -> dict:
        kb, claim = self.kb, finding.claim
        target = finding.number_claim or claim
        source = kb.source_of(target) if target else None
        return {
            "claim": claim.id if claim else None,
            "model": _reported_model(finding),
            "behaviour": claim.behaviour if claim else next(iter(finding.report.behaviours), None),
            "score": round(finding.score, 3),
            "tier": finding.tier,
            "value": claim.value if claim else None,
            "reported_value": finding.quantity.value if finding.quantity is not None else None,
            "number": finding.number,
            "missing_context": list(finding.missing),
            "present_context": sorted(finding.present),
            "problems": list(finding.problems),
            "explanation": explanation(kb, finding),
            "suggestion": faithful_sentence(kb, target) if target else "",
            "source": source.title if source else "",
            "locator": target.locator if target else "",
        }


def chunks(analysis) -> list[tuple[str, list[int]]]:
    """Consecutive sentences grouped into texts of at most CHUNK_CHARS (a long sentence is a chunk of its own).

    The embedding model reads about 256 word pieces; chunking keeps long statements fully read while a short
    statement costs exactly one encode.
    """
    out: list = []
    for index, (start, end) in enumerate(analysis.sentences):
        if out and end - out[-1][2] <= CHUNK_CHARS:
            out[-1][1].append(index)
        else:
            out.append([start, [index], start])
    return [(analysis.text[start:analysis.sentences[members[-1]][1]], members) for start, members, _ in out]


def _reported_model(finding) -> str | None:
    """The claim's model; for a number given to the wrong model, the model the statement names."""
    subject = finding.report.subject
    if finding.claim is None or (finding.other_model_claim is not None and subject.named):
        return subject.models[0] if subject.models else None
    return finding.claim.model


class _Similarities:
    """Cosine similarities of one statement's sentences with the knowledge base's texts."""

    def __init__(self, claims, paraphrases, texts: KbTexts):
        self.claims, self.paraphrases, self.texts = claims, paraphrases, texts

    def claim(self, sentence: int, claim_id: str) -> float:
        return float(self.claims[sentence, self.texts.claim_index[claim_id]])

    def means(self, sentence: int, key: str) -> bool:
        columns = self.texts.paraphrase_columns.get(key)
        return bool(columns) and float(self.paraphrases[sentence, columns].max()) >= CONTEXT_MEANING


def finding_score(finding, sims) -> float:
    """How sure the checker is that the statement reports this claim, from 0 to 1."""
    report, claim = finding.report, finding.claim
    subject = {"named": 1.0, "family": 0.7, "developer": 0.7, "plural": 0.5, "generic": 0.5}.get(report.subject.how, 0.3)
    behaviour = max(report.behaviours.values(), default=0.5) if claim is None else report.behaviours.get(claim.behaviour, 0.5)
    number = {"match": 1.0, "other_condition": 0.9, "mismatch": 0.6, "unsupported": 0.5}.get(finding.number, 0.4)
    meaning = sims.claim(report.sentence, claim.id) if claim is not None else 0.3
    meaning = min(max((meaning - 0.15) / 0.5, 0.0), 1.0)
    return 0.25 * subject + 0.3 * behaviour + 0.2 * number + 0.25 * meaning


def _one_subject_per_number(findings: list) -> list:
    """When a number was offered to several models ('OpenAI's GPT-4o monitor flagged 0.17% of o1-preview's answers'),
    the model whose claim has that number keeps it; the others' readings of it are dropped."""
    matched = {id(f.report.number) for f in findings if f.report.number is not None and f.number == "match"}
    return [f for f in findings if f.report.number is None or f.number == "match" or id(f.report.number) not in matched]


def _fold_sweeping(findings: list) -> list:
    """A line without a number ('o3 was told to allow shutdown. It sabotaged it anyway, 79 times out of 100') that
    the statement goes on to quantify is not a result of its own: it is folded into the numbered findings. A sweeping
    one ('AI models lie to users') also marks them as generalised."""
    specific = [f for f in findings if f.report.number is not None and f.claim is not None]
    kept = []
    for f in findings:
        if f.report.number is not None:
            kept.append(f)
            continue
        models = set(f.report.subject.models)
        covered = [s for s in specific if s.claim.behaviour in f.report.behaviours
                   and (f.report.subject.how == "plural" or s.claim.model in models)]
        if not covered:
            kept.append(f)
        for s in covered:
            s.generalised |= f.report.subject.how == "plural"
    return kept


def _merge(findings: list) -> list:
    """One finding per claim (a statement may name the same result twice); dropped-tier findings go."""
    merged: dict = {}
    rank = {"match": 0, "other_condition": 1, "mismatch": 2, "unsupported": 3, "absent": 4}
    for f in findings:
        if f.tier == "drop":
            continue
        key = f.claim.id if f.claim else f"?{f.report.anchor}"
        kept = merged.get(key)
        if kept is None:
            merged[key] = f
            continue
        best, other = (f, kept) if (rank[f.number], -f.score) < (rank[kept.number], -kept.score) else (kept, f)
        best.present |= other.present
        best.missing = [k for k in best.missing if k not in other.present]
        for problem in other.problems:
            best.problem(problem["kind"], problem["detail"])
        merged[key] = best
    return list(merged.values())


def verdict(findings: list) -> str:
    matched = [f for f in findings if f.tier == "match"]
    if any(p["kind"] in MISSTATING for f in matched for p in f.problems):
        return "misstated"
    if any(f.missing or any(p["kind"] == "overgeneralisation" for p in f.problems) for f in matched):
        return "missing_context"
    return "ok" if matched else "no_claim"


def explanation(kb, finding) -> str:
    claim = finding.claim
    if claim is None:
        return "Reports a result that no claim in the knowledge base covers."
    parts = [f"Reports {claim.id}: {claim_label(kb, claim)}."]
    if finding.number == "match":
        parts.append(f"The number matches ({format_value(claim)}).")
    elif finding.number == "absent":
        parts.append("It gives no number.")
    missing = [kb.context[k].label.lower() for k in finding.missing if k in kb.context]
    if missing:
        parts.append("It drops: " + ", ".join(missing) + ".")
    if claim.verification != "verified":
        parts.append(f"Note: this number's verification status is '{claim.verification}'.")
    return " ".join(parts)


@lru_cache(maxsize=4)
def load_checker(root: str | Path | None = None) -> Checker:
    """The checker for the knowledge base at root (found from here if None), cached per process."""
    from kb.build import load_valid
    from kb.project import build_dir, find_root

    root = find_root(root)
    return Checker(load_valid(root), cache_path=build_dir(root) / "cache" / "embeddings.npz")
