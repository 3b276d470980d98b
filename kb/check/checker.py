"""The checker: which claims a statement reports, which key conditions it drops, whether its numbers match.

    checker = load_checker(root)            # ~5 s: knowledge base, spaCy pipeline, embedding model
    checker.check("o1 tried to disable oversight 5% of the time")
    checker.check_many([(id, text), ...])   # batched: one encode per batch of statements

Each result is one `kb check --jsonl` object (see README "kb check").
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from kb.check import inputs
from kb.check.analysis import analyse
from kb.check.conditions import scopes, stated_conditions
from kb.check.context import detector_features, key_evidence, present_keys
from kb.check.detectors import FindingCheck, run_detectors
from kb.check.flags import verdict_of
from kb.check.embed import CachedEmbeddings, load_embedder
from kb.check.evidence import FINDING_FEATURES, NUMBER_KINDS, SUBJECT_KINDS, EvidenceRecord, one_hot
from kb.check.fitted import FittedWeights
from kb.check.memory import VOTE_SCALE
from kb.check.nlp import load_nlp, tokenise
from kb.check.reports import Lookup, find_reports
from kb.check.resolve import Evidence, Resolver, other_rates
from kb.check.retrieve import (RETRIEVAL_FEATURES, PairIndex, best_sentence, claim_text, pair_feature_matrix,
                               pair_features)
from kb.check.reports import Report, Subject
from kb.format import claim_label, format_value
from kb.wording import faithful_sentence, offered_rewrite

# Candidate generation only (what is considered, not what is decided): a sentence without a behaviour cue is
# read as describing the behaviours whose knowledge-base descriptions it is this similar to, at most two of them.
# Whether such a candidate is reported is decided by the fitted weights (kb/check/weights.json, `kb train`).
BEHAVIOUR_MEANING_FLOOR = 0.45
BEHAVIOUR_MEANING_TOP = 2
RETRIEVED = 5  # the most likely (model, behaviour) pairs that always become candidates (kb.check.retrieve)
SPECIFIC_SUBJECT = 3  # a report whose subject has at most this many candidate models names its pairs specifically
BATCH = 128  # statements per encode; the next batch is encoded while one is judged (Checker._pipelined): 1,100
# statements took 11.0 s in batches of 128, 11.2 s of 64, 13.0 s of 512 without the overlap
SPACY_TURN = threading.Lock()  # one spaCy memory zone at a time in this process (see Checker._analyses)
LONG_CHARS = 2000  # longer than any statement or post the checker is fitted on: an article (see chunks)
CHUNK_CHARS = 600  # sentences are embedded together up to this length: one encode for a typical statement
STOPWORDS = {"the", "and", "for", "with", "from", "that", "this", "are", "models", "model", "large", "language",
             "research", "frontier", "card", "system", "more", "recent", "into", "when", "their", "they", "paper"}


@dataclass
class KbTexts:
    """The knowledge base's texts the checker compares statements with, and their embeddings.

    Besides one text per claim and the context keys' paraphrases: how the knowledge base describes each behaviour
    (its definition and phrase, and every claim's measure and quote: a labelled corpus of ways to say it) and each
    setting's conditions (their phrase and quote).
    """

    claim_ids: list
    claims: np.ndarray
    paraphrase_keys: list
    paraphrases: np.ndarray
    behaviour_ids: list = None
    behaviours: np.ndarray = None
    condition_ids: list = None  # (setting id, key) per row
    conditions: np.ndarray = None

    def __post_init__(self):
        self.claim_index = {cid: i for i, cid in enumerate(self.claim_ids)}
        self.paraphrase_columns = _columns(self.paraphrase_keys)
        self.behaviour_columns = _columns(self.behaviour_ids or [])
        self.behaviour_order = sorted(self.behaviour_columns)
        # The behaviour texts' columns grouped behaviour by behaviour, in behaviour_order, and where each group
        # starts: a sentence's best match per behaviour is then one np.maximum.reduceat (see _Similarities).
        self.behaviour_grouping = [i for b in self.behaviour_order for i in self.behaviour_columns[b]]
        self.behaviour_starts = np.cumsum([0] + [len(self.behaviour_columns[b]) for b in self.behaviour_order[:-1]])
        if self.behaviour_grouping == list(range(len(self.behaviour_grouping))):
            self.behaviour_grouping = None  # already grouped (behaviour_texts is sorted): no reordering needed
        self.condition_columns = _columns(self.condition_ids or [])


def warm_vocabulary(nlp, texts: list[str]) -> None:
    """Tokenise the knowledge base's own texts once, outside any memory zone, so their words stay in the pipeline.

    Each statement is parsed in a memory zone (Checker._analyses), which frees every word the zone added, so a word
    was re-created, with its tokenizer cache entry, in every statement that used it: a third of a short statement's
    parsing. The words the knowledge base itself uses to describe its results (its ~1,100 retrieval texts: ~940 words
    beyond the patterns', ~35 ms at load) are the ones statements about them use most; kept, each statement creates
    only its others. Tokens are the same either way: the vocabulary and the cache only remember what the tokenizer
    computes."""
    for text in texts:
        nlp.make_doc(text)


def _columns(labels: list) -> dict:
    out: dict = {}
    for i, label in enumerate(labels):
        out.setdefault(label, []).append(i)
    return out


def behaviour_texts(kb) -> list[tuple[str, str]]:
    """(behaviour id, text) pairs: each behaviour's own description and cue phrases, and how every claim of it was
    measured and quoted."""
    pairs = set()
    for b in kb.behaviours.values():
        pairs |= {(b.id, t) for t in (b.definition, b.phrase, *(b.cues or [])) if t}
    for c in kb.claims.values():
        pairs |= {(c.behaviour, t) for t in (c.measure, c.quote) if t and len(t) < 400}
    return sorted(pairs)


def condition_texts(kb) -> list[tuple[tuple, str]]:
    """((setting id, key), text) pairs: each setting's conditions as a faithful report or the source words them."""
    pairs = set()
    for setting in kb.settings.values():
        for key, condition in (setting.conditions or {}).items():
            pairs |= {((setting.id, key), t) for t in (condition.phrase, condition.quote) if t and len(t) < 400}
    return sorted(pairs)




class Checker:
    def __init__(self, kb, embedder=None, cache_path: Path | None = None, threads: int | None = None,
                 weights: FittedWeights | None = None):
        self.kb = kb
        self.weights = weights or FittedWeights.load()
        self.nlp = load_nlp(kb, Path(cache_path).parent if cache_path else None)
        self.embedder = embedder or load_embedder(threads=threads)
        self.texts = self._embed_kb(cache_path)
        self.pairs = PairIndex.of(kb)
        self.pair_vectors = CachedEmbeddings(self.embedder, cache_path).matrix(self.pairs.texts)
        warm_vocabulary(self.nlp, self.pairs.texts)
        self.anaphor_keys = {by for cid in kb.claims for _o, by, _n in kb.contrasts_of(cid) if by in kb.context}
        self.lookup = Lookup(self._models_by_developer(), dict(kb.lexicon.families), tuple(kb.models))
        self.source_words = {sid: self._words(f"{s.title} {s.authors}") for sid, s in kb.sources.items()}
        self.other_rates = other_rates(kb)
        self.vectors_seen: dict | None = None  # text -> vector, while fitting (see remembering_vectors)
        # statement text -> {key: probability}: while fitting, each training statement's out-of-fold detector outputs
        self.key_detection_memo: dict | None = None
        # statement text -> P(reports a result): while fitting, each training statement's out-of-fold open-set output
        self.reporting_memo: dict | None = None
        # statement text -> QueryAdapter: while fitting, each training statement's adapter fitted without it
        self.adapter_memo: dict | None = None

    # ------------------------------------------------------------ set-up

    def with_weights(self, weights: FittedWeights) -> "Checker":
        """The same checker (pipeline, model, embedded texts shared) deciding with other weights: for fitting."""
        other = object.__new__(Checker)
        other.__dict__.update(self.__dict__)
        other.weights = weights
        return other

    def _embed_kb(self, cache_path) -> KbTexts:
        kb = self.kb
        claims = list(kb.claims.values())
        groups = [[(c.id, claim_text(kb, c)) for c in claims],
                  [(k.id, p) for k in kb.context.values() for p in k.paraphrases or []],
                  behaviour_texts(kb), condition_texts(kb)]
        matrix = CachedEmbeddings(self.embedder, cache_path).matrix([t for group in groups for _, t in group])
        parts, offset = [], 0
        for group in groups:
            parts.append(([label for label, _ in group], matrix[offset:offset + len(group)]))
            offset += len(group)
        (claim_ids, claim_m), (keys, para_m), (behaviours, beh_m), (conditions, cond_m) = parts
        return KbTexts(claim_ids, claim_m, keys, para_m, behaviours, beh_m, conditions, cond_m)

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
        cleaned = (inputs.clean(text, sid) if not isinstance(text, inputs.InputError)
                   else inputs.Statement(sid, "", error=text) for sid, text in items)
        yield from self._pipelined(_batched(cleaned, batch_size), final=True)

    def judged(self, items, batch_size: int = BATCH):
        """Per statement, (chosen findings before merging and dropping, other candidates considered), each with its
        evidence: for fitting."""
        cleaned = (inputs.clean(text, sid) for sid, text in items)
        yield from self._pipelined(_batched(cleaned, batch_size), final=False)

    def _pipelined(self, batches, final: bool):
        """Each batch's results, the next batch encoded on a second thread while this one is judged.

        Encoding (ONNX Runtime, which releases the GIL) and judging (spaCy's reading, retrieval, the fitted heads:
        Python) take turns otherwise; overlapping them checked 1,100 statements in 11.0 s instead of 13.0 s on this
        2-core machine (2026-12-08, benchmarks/check_throughput.py's statements, the same results). The first batch
        is encoded in the caller's thread, so a single statement never starts a thread."""
        pool, pending = None, None
        try:
            for statements in batches:
                prepared = self._prepare(statements)
                if pending is None:
                    pending = (statements, prepared, self._encode(prepared.texts))
                    continue
                pool = pool or ThreadPoolExecutor(max_workers=1, thread_name_prefix="caveat-encode")
                upcoming = (statements, prepared, pool.submit(self._encode, prepared.texts))
                yield from self._decide_batch(*pending, final)
                pending = upcoming
            if pending is not None:
                yield from self._decide_batch(*pending, final)
        finally:
            if pool is not None:
                pool.shutdown(wait=True)

    def _decide_batch(self, statements: list, prepared: "_Prepared", vectors, final: bool) -> list:
        vectors = vectors.result() if isinstance(vectors, Future) else vectors
        results = []
        for statement, read in zip(statements, self._assemble(statements, prepared, vectors)):
            if read is None:
                results.append(self._unusable(statement) if final else ([], []))
                continue
            findings, considered = self._findings(*read)
            results.append(self._result(statement, findings) if final else (findings, considered))
        return results

    def read(self, statements: list) -> list:
        """Per statement, (analysis, sentence vectors, statement vector), or None when it has no usable text: the
        spaCy reading and one encode for the whole batch."""
        prepared = self._prepare(statements)
        return self._assemble(statements, prepared, self._encode(prepared.texts))

    def _prepare(self, statements: list) -> "_Prepared":
        """The batch's spaCy reading and the texts to encode (consecutive sentences in chunks, see chunks)."""
        usable = [s for s in statements if s.error is None and s.text]
        analyses = self._analyses(usable)
        chunked = {key: chunks(a) for key, a in analyses.items()}
        return _Prepared(analyses, chunked, [text for parts in chunked.values() for text, _ in parts])

    @staticmethod
    def _assemble(statements: list, prepared: "_Prepared", vectors: np.ndarray) -> list:
        """Per statement, (analysis, sentence vectors, statement vector), or None, from the batch's encoded texts."""
        out, offset = [], 0
        for statement in statements:
            analysis = prepared.analyses.get(id(statement))
            if analysis is None:
                out.append(None)
                continue
            parts = prepared.chunked[id(statement)]
            # Each sentence takes the vector of the chunk it is in; a sentence left out (see chunks) a zero vector.
            sentence_vectors = np.zeros((len(analysis.sentences), vectors.shape[1]), dtype=np.float32)
            for i, (_text, members) in enumerate(parts):
                sentence_vectors[members] = vectors[offset + i]
            whole = _normalised(vectors[offset:offset + len(parts)].mean(axis=0)) if parts else None
            out.append((analysis, sentence_vectors, whole))
            offset += len(parts)
        return out

    def _analyses(self, statements: list) -> dict:
        """id(statement) -> its Analysis (plain data: no spaCy object outlives this call).

        spaCy adds every new word it sees to the pipeline's vocabulary and keeps it, so a server that checks text
        after text grew without bound (about 1 KB per new word: +130 MB over 2,400 statements). The docs are made in
        a memory zone, which frees what they added once they are read; zones cannot overlap, so the server's
        checking threads take turns for this part (the cheap part: encoding, the costly one, runs in parallel)."""
        with SPACY_TURN, self.nlp.memory_zone():
            docs = zip((id(s) for s in statements), self.nlp.pipe(self._tokenised(s) for s in statements))
            return {key: analyse(doc, self.anaphor_keys, self.kb.lexicon) for key, doc in docs}

    def _tokenised(self, statement):
        """The statement's Doc within the work budget (kb.check.nlp.tokenise), saying so when it was cut."""
        doc, tokens = tokenise(self.nlp, statement.text)
        if tokens > len(doc):
            statement.notices.append(f"the text has {tokens:,} words and symbols; only the first {len(doc):,} were "
                                     "checked — check one statement (a post, a headline, a paragraph) at a time")
        return doc

    def remembering_vectors(self) -> "Checker":
        """A copy of this checker (pipeline and model shared) that keeps every text's vector, and shares them with
        the checkers `with_weights` makes from it: fitting checks the same statements with new weights again and again (two passes per fit, five fits per
        `kb eval --cv`), and the weights change nothing the embedding model computes."""
        if self.vectors_seen is not None:
            return self
        other = object.__new__(Checker)
        other.__dict__.update(self.__dict__)
        other.vectors_seen = {}
        return other

    def _encode(self, texts: list) -> np.ndarray:
        """Each distinct text encoded once (a batch or a long statement may repeat itself; a remembering checker,
        once ever)."""
        seen = self.vectors_seen if self.vectors_seen is not None else {}
        todo = [t for t in dict.fromkeys(texts) if t not in seen]
        if todo:
            seen.update(zip(todo, self.embedder.encode(todo)))
        return np.stack([seen[t] for t in texts]) if texts else self.embedder.encode([])

    def _unusable(self, statement) -> dict:
        out = {"id": statement.id, "text": statement.text, "verdict": None if statement.error else "no_claim",
               "findings": []}
        if statement.error:
            out["error"] = {"code": statement.error.code, "message": statement.error.message}
        notices = statement.notices or ([] if statement.error else ["the statement is empty"])
        if notices:
            out["notices"] = notices
        return out

    def _findings(self, analysis, vectors, statement_vector=None) -> tuple[list, list]:
        """The findings chosen for one statement, judged (tier, confidence, dropped keys) but not yet merged, and
        the other candidates considered (with their evidence), for fitting."""
        sims = _Similarities(vectors, self.texts)
        query = self.query(analysis, vectors, statement_vector)
        sims.retrieval = self.retrieval(analysis, vectors, statement_vector, sims, query)
        sims.best_retrieval = max(sims.retrieval.values(), default=0.0)
        sims.reporting = self.reporting_probability(statement_vector, analysis.text)
        reports = find_reports(analysis, self.lookup, sims.described_behaviours)
        reports += self._retrieved_reports(analysis, reports, sims.retrieval, query[0])
        findings, considered = self._resolve(analysis, reports, sims)
        facts = _StatementFacts(analysis, self.anaphor_keys)
        detected = self.key_detection(analysis, sims, statement_vector)
        for finding in findings:
            self._judge(finding, analysis, sims, facts, detected)
        return findings, considered

    def key_detection(self, analysis, sims, statement_vector) -> dict:
        """key -> P(the statement conveys it), from each key's detector (those with one)."""
        memo = self.key_detection_memo
        if memo is not None and analysis.text in memo:
            return memo[analysis.text]
        detectors = self.weights.key_detectors or {}
        if statement_vector is None or not detectors:
            return {}
        return {key: head.probability(detector_features(statement_vector, sims, analysis, key))
                for key, head in detectors.items()}

    def retrieval_records(self, analysis, vectors, statement_vector, sims) -> list:
        """One evidence record per (model, behaviour) pair of the knowledge base (kb.check.retrieve): for fitting."""
        return pair_features(self.pairs, self.pair_vectors, analysis, *self.query(analysis, vectors, statement_vector),
                             sims.best_behaviour_anywhere)

    def query(self, analysis, vectors, statement_vector) -> tuple:
        """(sentence vectors, statement vector) as retrieval reads them: through the fitted adapter
        (kb.check.adapter), if any; while fitting, each training statement's own out-of-fold adapter."""
        memo = self.adapter_memo
        adapter = memo.get(analysis.text) if memo else None
        adapter = adapter or self.weights.adapter
        if adapter is None:
            return vectors, statement_vector
        return adapter.apply(vectors), adapter.apply(statement_vector)  # apply() passes None and empty through

    def retrieval(self, analysis, vectors, statement_vector, sims, query: tuple | None = None) -> dict:
        """(model, behaviour) -> P(the statement reports it), from the retrieval head; empty without one. `query`:
        self.query()'s answer, when the caller has it."""
        head = self.weights.retrieval
        if head is None:
            return {}
        sentences, statement = query or self.query(analysis, vectors, statement_vector)
        matrix = pair_feature_matrix(self.pairs, self.pair_vectors, analysis, sentences, statement,
                                     sims.best_behaviour_anywhere)
        return dict(zip(self.pairs.pairs, head.probabilities(matrix, RETRIEVAL_FEATURES)))

    def _retrieved_reports(self, analysis, reports, retrieval: dict, query_vectors) -> list:
        """A report for each of the RETRIEVED most likely pairs (and any at least as likely as a suggestion) that no
        report read off the sentences names specifically: the behaviour said in other words, or a subject the rules
        did not bind. Whether it is reported is then the finding head's decision, like any other candidate."""
        covered = {(m, b) for r in reports if len(r.subject.models) <= SPECIFIC_SUBJECT for m in r.subject.models
                   for b in r.behaviours}
        used = {id(r.number) for r in reports if r.number is not None}
        ranked = sorted(retrieval.items(), key=lambda kv: -kv[1])
        out = []
        for rank, (pair, probability) in enumerate(ranked):
            if (rank >= RETRIEVED and probability < self.weights.suggest) or pair in covered:
                continue
            model, behaviour = pair
            sentence = best_sentence(self.pairs, self.pair_vectors, query_vectors, self.pairs.pairs.index(pair))
            numbers = [n for n in analysis.numbers if n.sent == sentence and n.quantity.is_rate and id(n) not in used]
            subject = Subject((model,), self._subject_kind(analysis, model))
            start = analysis.sentences[sentence][0]
            out.append(Report(sentence, subject, {behaviour: round(probability, 3)}, numbers[0] if numbers else None,
                              numbers[0].start if numbers else start, retrieved=True))
        return out

    def _subject_kind(self, analysis, model: str) -> str:
        if model in {m.id for m in analysis.of("MODEL")}:
            return "named"
        developer = self.kb.models[model].developer
        if developer and developer in {m.id for m in analysis.of("DEVELOPER")}:
            return "developer"
        if any(model in self.lookup.families.get(m.id, ()) for m in analysis.of("FAMILY")):
            return "family"
        return "plural" if analysis.of("PLURAL") else "generic"

    def reporting_features(self, statement_vector, vote: float | None = None, memory=None) -> np.ndarray:
        """What the open-set head reads: the statement's embedding, its best cosine with any claim's text and, with a
        memory of labelled statements (kb.check.memory; `memory`: the one being fitted, else the weights'), their
        nearest neighbours' vote (`vote`: a training statement's own, which leaves it out)."""
        memory = memory or self.weights.reporting_memory
        features = [statement_vector, [float((self.texts.claims @ statement_vector).max())]]
        if memory is not None:
            features.append([VOTE_SCALE * (memory.vote(statement_vector) if vote is None else vote)])
        return np.concatenate(features)

    def reporting_probability(self, statement_vector, text: str | None = None) -> float:
        """P(the statement reports any stored result), from the open-set head; 1 without one."""
        memo = self.reporting_memo
        if memo is not None and text in memo:
            return memo[text]
        head = self.weights.reporting
        if head is None or statement_vector is None:
            return 1.0
        return head.probability(self.reporting_features(statement_vector))

    def _result(self, statement, findings) -> dict:
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
        named: dict = {}
        for m in analysis.of("MODEL"):
            named.setdefault(m.sent, set()).add(m.id)
        evidence = Evidence(sims.claim, self._source_scores(words),
                            {m.id for m in analysis.mentions if m.label == "CONTEXT"}, named_models=named)
        resolver = Resolver(self.kb, evidence, self.other_rates, lambda f: self._rank(f, analysis, sims))
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
        chosen = _fold_sweeping(_one_subject_per_number([found[id(r)] for r in reports if id(r) in found]))
        picked = {(id(f.report), f.claim.id) for f in chosen if f.claim is not None}
        return chosen, [f for key, f in resolver.considered.items() if key not in picked]

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

    def _judge(self, finding, analysis, sims, facts, detected: dict | None = None):
        kb, claim, weights = self.kb, finding.claim, self.weights
        finding.missing_confidence = {}
        if claim is None:
            finding.present, finding.missing = set(), []
        else:
            finding.present = present_keys(kb, finding, analysis, sims.means, facts)
            finding.cued = set(finding.present)
            finding.key_evidence = key_evidence(kb, finding, analysis, sims, facts, detected)
            conveyed = {key: weights.key.probability(record) for key, record in finding.key_evidence.items()}
            finding.missing = [key for key, p in conveyed.items() if p < weights.missing]
            finding.present = (finding.present | {k for k, p in conveyed.items() if p >= weights.missing}) - set(finding.missing)
            finding.missing_confidence = {key: round(1.0 - conveyed[key], 3) for key in finding.missing}
        run_detectors(FindingCheck(kb, finding, analysis))
        finding.evidence = self.finding_evidence(finding, analysis, sims)
        # Whether the statement reports anything at all (the open-set head) is one of the finding head's features.
        finding.score = weights.finding.probability(finding.evidence)
        finding.tier = "match" if finding.score >= weights.match else "suggest" if finding.score >= weights.suggest else "drop"

    def _rank(self, finding, analysis, sims) -> float:
        """How the resolver orders a report's candidate claims: by the claim-choice head, fitted on which claim
        labelled statements report (the finding head's labels are the model and behaviour, which sibling claims
        share), and by the finding head without one."""
        finding.evidence = self.finding_evidence(finding, analysis, sims)
        return (self.weights.choice or self.weights.finding).probability(finding.evidence)

    def finding_evidence(self, finding, analysis, sims) -> EvidenceRecord:
        """The typed evidence that the statement reports this finding's claim (see kb.check.evidence)."""
        kb, report, claim = self.kb, finding.report, finding.claim
        number = ("wrong_model" if finding.other_model_claim is not None else
                  "secondary" if finding.secondary and finding.number == "match" else finding.number)
        values = {**one_hot("subject", SUBJECT_KINDS, report.subject.how), **one_hot("number", NUMBER_KINDS, number),
                  "quoted": report.quoted, "generalised": finding.generalised,
                  "meta_sentence": bool(analysis.of("META", report.sentence))}
        if claim is not None:
            cue = report.behaviours.get(claim.behaviour, 0.0)
            meaning = sims.behaviour(report.sentence, claim.behaviour)
            similarity = sims.claim(report.sentence, claim.id)
            values.update({
                "model_named_in_statement": claim.model in analysis.once("ids", "MODEL",
                                                                         lambda: {m.id for m in analysis.of("MODEL")}),
                "behaviour_cue": cue if cue >= 0.8 else 0.0,
                "behaviour_meaning": meaning,
                "behaviour_meaning_gap": meaning - sims.best_behaviour(report.sentence),
                "claim_similarity": similarity,
                "claim_similarity_gap": similarity - sims.best_claim(report.sentence),
                "source_named": finding.source_score,
                "same_source_as_numbered": finding.same_source,
                "preferred_rank": claim.rank == "preferred",
                "deprecated_rank": claim.rank == "deprecated",
                "zero_without_number": report.number is None and claim.value == 0,
                "many_models_claim": claim.model == "multiple-models",
                "many_models_for_sweeping_subject": claim.model == "multiple-models" and report.subject.how == "plural",
                "not_verified": claim.verification != "verified",
                "unstated_variant": finding.unstated_variant,
                "condition_conflict": bool(finding.conflicting),
                **retrieval_evidence(sims.retrieval.get((claim.model, claim.behaviour), 0.0), sims.best_retrieval),
            })
        values["reporting"] = sims.reporting
        return EvidenceRecord.of(FINDING_FEATURES, values)

    def _as_dict(self, finding) -> dict:
        kb, claim = self.kb, finding.claim
        target = finding.number_claim or claim
        source = kb.source_of(target) if target else None
        # A control's or variant's wording is withheld when the statement does not name it (kb.wording).
        return offered_rewrite(kb, {
            "claim": claim.id if claim else None,
            "model": reported_model(finding),
            "behaviour": claim.behaviour if claim else next(iter(finding.report.behaviours), None),
            "score": round(finding.score, 3),
            "confidence": round(finding.score, 3),
            "tier": finding.tier,
            "value": claim.value if claim else None,
            "reported_value": finding.quantity.value if finding.quantity is not None else None,
            "reported_bound": finding.quantity.bound if finding.quantity is not None else None,
            "number": finding.number,
            "missing_context": list(finding.missing),
            "missing_confidence": dict(finding.missing_confidence),
            "present_context": sorted(finding.present),
            "problems": list(finding.problems),
            "explanation": explanation(kb, finding),
            "suggestion": faithful_sentence(kb, target) if target else "",
            "source": source.title if source else "",
            "locator": target.locator if target else "",
        })


def retrieval_evidence(p: float, top: float) -> dict:
    """How likely the retrieval head finds this pair (p), alone and against the statement's best pair (top): a
    statement reports its best pair far more often than a pair a tenth as likely, however low both probabilities are."""
    return {"retrieval": p, "retrieval_relative": p / top if top else 0.0,
            "retrieval_top": bool(top) and p >= top}


def _normalised(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector


@dataclass(frozen=True)
class _Prepared:
    """A batch read by spaCy, waiting for its vectors."""

    analyses: dict  # id(statement) -> Analysis
    chunked: dict  # id(statement) -> [(text, sentence indexes)]
    texts: list  # every chunk's text, in order: what is encoded


def _batched(iterable, size: int):
    batch = []
    for item in iterable:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def chunks(analysis) -> list[tuple[str, list[int]]]:
    """Consecutive sentences grouped into texts of at most CHUNK_CHARS (a long sentence is a chunk of its own).

    The embedding model reads about 256 word pieces; chunking keeps long statements fully read while a short
    statement costs exactly one encode. In a statement longer than LONG_CHARS only the sentences that name a
    subject or a behaviour, and their neighbours, are embedded: the others give a similarity nothing to
    decide, and encoding is most of the cost of checking an article.
    """
    kept = evidence_sentences(analysis) if len(analysis.text) > LONG_CHARS else range(len(analysis.sentences))
    out: list = []
    previous = None
    for index in kept:
        start, end = analysis.sentences[index]
        if out and previous == index - 1 and end - out[-1][2] <= CHUNK_CHARS:
            out[-1][1].append(index)
        else:
            out.append([start, [index], start])
        previous = index
    return [(analysis.text[start:analysis.sentences[members[-1]][1]], members) for start, members, _ in out]


ANCHORS = {"MODEL", "FAMILY", "DEVELOPER", "GENERIC", "PLURAL", "BEHAVIOUR"}  # who did what: a report needs both


def evidence_sentences(analysis) -> list[int]:
    """Sentences naming a subject (a model, family, lab, "the AI", "AI models") or a behaviour, and the sentence on
    either side of each (a subject carried over, a number or condition stated next to it). A number or a condition
    word with neither nearby ("the repairs ran 5% over budget") is the article's own business."""
    anchored = {m.sent for m in analysis.mentions if m.label in ANCHORS}
    near = {i + step for i in anchored for step in (-1, 0, 1)}
    return [i for i in range(len(analysis.sentences)) if i in near]


def reported_model(finding) -> str | None:
    """The claim's model; for a number given to the wrong model, the model the statement names."""
    subject = finding.report.subject
    if finding.claim is None or (finding.other_model_claim is not None and subject.named):
        return subject.models[0] if subject.models else None
    return finding.claim.model


class _Similarities:
    """Cosine similarities of one statement's sentences with the knowledge base's texts, computed once."""

    def __init__(self, vectors, texts: KbTexts):
        self.texts = texts
        self.claims = vectors @ texts.claims.T
        self.paraphrases = vectors @ texts.paraphrases.T
        self.conditions = vectors @ texts.conditions.T
        by_behaviour = vectors @ texts.behaviours.T
        if texts.behaviour_grouping is not None:
            by_behaviour = by_behaviour[:, texts.behaviour_grouping]
        # A sentence's similarity to a behaviour is its best match among the behaviour's descriptions.
        self.behaviours = (np.maximum.reduceat(by_behaviour, texts.behaviour_starts, axis=1) if len(vectors)
                           else np.zeros((0, len(texts.behaviour_order)), dtype=by_behaviour.dtype))
        self.behaviour_index = {b: i for i, b in enumerate(texts.behaviour_order)}
        self._per_key, self._per_condition = {}, {}
        self._best_anywhere = None  # per behaviour, its best similarity over all sentences (best_behaviour_anywhere)
        self._best_claim = self._best_behaviour = None  # per sentence, its best claim and behaviour similarity
        self._best_of_sentences: dict = {}  # (label, sentences) -> best similarity (see _best)
        self.retrieval: dict = {}  # (model, behaviour) -> probability, when the checker has a retrieval head
        self.best_retrieval = 0.0  # the highest of those probabilities (computed once per statement)
        self.reporting = 1.0  # P(the statement reports any stored result), when the checker has an open-set head

    def claim(self, sentence: int, claim_id: str) -> float:
        return float(self.claims[sentence, self.texts.claim_index[claim_id]])

    def best_claim(self, sentence: int) -> float:
        if self._best_claim is None:  # every sentence's at once: findings ask again and again
            self._best_claim = self.claims.max(axis=1).tolist()
        return self._best_claim[sentence]

    def behaviour(self, sentence: int, behaviour: str) -> float:
        index = self.behaviour_index.get(behaviour)
        return 0.0 if index is None else float(self.behaviours[sentence, index])

    def best_behaviour(self, sentence: int) -> float:
        if self._best_behaviour is None:
            self._best_behaviour = self.behaviours.max(axis=1).tolist()
        return self._best_behaviour[sentence]

    def best_behaviour_anywhere(self, behaviour: str) -> float:
        """The best similarity of any sentence to the behaviour's descriptions (0 without sentences or a
        description)."""
        if self._best_anywhere is None:  # one maximum per behaviour column, worked out once per statement
            self._best_anywhere = self.behaviours.max(axis=0).tolist() if len(self.behaviours) else []
        index = self.behaviour_index.get(behaviour)
        return 0.0 if index is None or not self._best_anywhere else self._best_anywhere[index]

    def described_behaviours(self, sentence: int) -> dict:
        """The behaviours a sentence describes in other words: the best ones above the floor."""
        row = self.behaviours[sentence]
        best = np.argsort(-row)[:BEHAVIOUR_MEANING_TOP]
        return {self.texts.behaviour_order[i]: round(float(row[i]), 3) for i in best if row[i] >= BEHAVIOUR_MEANING_FLOOR}

    def paraphrase(self, sentences, key: str) -> float:
        """The best similarity of any of `sentences` (one index or several) to the key's paraphrases."""
        return self._best_remembered(self._per_key, self.texts.paraphrase_columns, self.paraphrases, key, sentences)

    def condition(self, sentences, setting_id: str, key: str) -> float:
        """The best similarity of any of `sentences` to how the setting words its condition `key`."""
        return self._best_remembered(self._per_condition, self.texts.condition_columns, self.conditions,
                                     (setting_id, key), sentences)

    def _best_remembered(self, memo: dict, columns: dict, matrix, label, sentences) -> float:
        # Findings of one statement mostly share a scope: each (key, sentences) question is answered once.
        question = (id(memo), label, sentences if isinstance(sentences, int) else tuple(sentences))
        answer = self._best_of_sentences.get(question)
        if answer is None:
            answer = self._best_of_sentences[question] = self._best(memo, columns, matrix, label, sentences)
        return answer

    @staticmethod
    def _best(memo: dict, columns: dict, matrix, label, sentences) -> float:
        # One column per label (its best text), made once per statement: a finding's scope may span a whole
        # article, and findings x sentences x texts would make checking quadratic in its length.
        column = memo.get(label)
        if column is None:
            where = columns.get(label)
            column = memo[label] = matrix[:, where].max(axis=1) if where else None
        if column is None:
            return 0.0
        if isinstance(sentences, int):
            return float(column[sentences])
        return float(column[list(sentences)].max()) if len(sentences) else 0.0

    def means(self, sentences, key: str, threshold: float = 0.62) -> bool:
        """The rule-based reading of 'these sentences say that': kept for keys outside a claim's key context."""
        return self.paraphrase(sentences, key) >= threshold


class _StatementFacts:
    """Statement-wide facts, computed once per statement however many findings ask (linear in the text)."""

    def __init__(self, analysis, distinguishing: set):
        from kb.check.context import over_trials

        self.over_trials = any(over_trials(n) for n in analysis.numbers)
        self.distinguishing = distinguishing  # keys results are contrasted on


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


NUMBER_PROBLEMS = {"unsupported_number", "number_mismatch"}


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
            # Once the statement gives this claim's own number, another number read onto it is about something
            # else (another result, a different quantity), not a misquote of it.
            if best.number == "match" and problem["kind"] in NUMBER_PROBLEMS:
                continue
            best.problem(problem["kind"], problem["detail"], problem.get("claim"))
        merged[key] = best
    return list(merged.values())


def verdict(findings: list) -> str:
    return verdict_of([(f.missing, f.problems) for f in findings if f.tier == "match"])


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
def load_checker(root: str | Path | None = None, untrained: bool = False) -> Checker:
    """The checker for the knowledge base at root (found from here if None), cached per process. `untrained`:
    with neutral weights instead of the fitted file, for fitting new ones (`kb train`)."""
    from kb.build import load_valid
    from kb.project import build_dir, find_root
    from kb.startup import cached, data_state

    root = find_root(root)
    cache = build_dir(root) / "cache"
    # Invalid data raises here before anything is cached; valid data is validated once per change of a file.
    knowledge_base = cached(cache, "kb", data_state(root), lambda: load_valid(root))
    return Checker(knowledge_base, cache_path=cache / "embeddings.npz",
                   weights=FittedWeights.neutral() if untrained else None)
