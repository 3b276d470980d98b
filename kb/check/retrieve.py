"""Retrieval by meaning: which (model, behaviour) results of the knowledge base a statement may report.

Every pair the knowledge base holds is scored for every statement — no cue word, number or model name gates it — by
a logistic model fitted on the labelled statements (`weights.json` "retrieval", `kb train`) over named features:

- dense: cosines of the statement's sentences (and of the whole statement) with the pair's rich texts — each claim's
  text, measure, faithful wording and quote, and the behaviour's definition and cue phrases;
- lexical: BM25 (the maintained `bm25s` library) of the statement against the same texts, one document per pair;
- mentions: the pair's model named, its lab or family named, a cue word for its behaviour, a number in the statement
  that is one of the pair's values, a plural subject for a several-models result.

Mentions are features, not gates: a statement that says the behaviour in other words, or names no model, still
gets candidates. The checker turns retrieved pairs that its reading of the sentences missed into reports of their
own, and every finding carries its pair's retrieval probability as evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from kb.check.evidence import EvidenceRecord

RETRIEVAL_FEATURES = (
    "dense_best",  # best cosine of a sentence with one of the pair's texts
    "dense_gap",  # minus the best pair's (0 for the best pair)
    "dense_statement",  # cosine of the whole statement with the pair's best text
    "behaviour_meaning",  # best cosine of a sentence with the behaviour's descriptions
    "bm25",  # BM25 of the statement against the pair's texts, over the best pair's
    "model_named",  # the pair's model is named
    "lab_named",  # its developer is named
    "family_named",  # a family it belongs to is named ("Claude", "Gemini")
    "other_model_named",  # a model is named, but not this one
    "behaviour_cue",  # a cue word for the pair's behaviour
    "number_matches",  # a number in the statement is one of the pair's values
    "has_number",  # the statement has a rate-like number at all
    "plural_for_many_models",  # a plural subject ("AI models") and a several-models result
    "many_models_pair",
    "dense_rank",  # 1 / the pair's rank by dense_best among all pairs (1 for the best)
    "named_and_cue",  # its model named and a cue word for its behaviour: both halves of the pair said outright
    "named_and_meaning",  # its model named, times the behaviour's meaning similarity
    "lab_or_family_and_meaning",  # its lab or family named, times the behaviour's meaning similarity
    "number_and_cue",  # one of its values stated and a cue word for its behaviour: "resorts to blackmail 84% of the time"
    "number_and_meaning",  # one of its values stated, times the behaviour's meaning similarity
    "number_specificity",  # 1 / how many pairs have a value the statement states (0 if this pair has none): 84% is
    # one pair's figure, 5% many pairs'
)
NUMBER_TOLERANCE = 0.006  # half a percentage point: "5%" is 0.05, "0.3%" is 0.003
TOKEN = re.compile(r"[a-z0-9][a-z0-9.\-]*[a-z0-9]|[a-z0-9]")
STOP = frozenset("the a an of to in and or for on at by with from that this it its is was were be been as than into "
                 "when while which who what their they them its his her our we you i not no".split())


def tokens(text: str) -> list[str]:
    return [t for t in TOKEN.findall(text.lower()) if t not in STOP]


def claim_text(kb, claim) -> str:
    model = kb.models[claim.model].name
    behaviour = kb.behaviours[claim.behaviour]
    return f"{model} {behaviour.phrase}: {claim.measure}."


@dataclass
class PairIndex:
    """The knowledge base's (model, behaviour) pairs with their rich texts, embedded once, and a BM25 index."""

    pairs: list  # (model id, behaviour id)
    texts: list  # every text, each belonging to one pair
    owner: np.ndarray  # pair index of each text
    values: list  # per pair: the claims' values (fractions)
    developers: list  # per pair: the model's developer
    families: list  # per pair: the families the model belongs to
    bm25: object = None

    def __post_init__(self):
        """Per-pair lists and arrays that every statement's features read (see pair_features)."""
        self.models = [m for m, _b in self.pairs]
        self.behaviours = [b for _m, b in self.pairs]
        self.many_models = np.array([m == "multiple-models" for m in self.models], dtype=bool)
        self.value_array = np.array([x for values in self.values for x in values], dtype=float)
        self.value_owner = np.array([i for i, values in enumerate(self.values) for _x in values], dtype=int)
        # Which pairs each model, lab, family and behaviour id marks: a statement's mentions then select pairs with
        # a few array ORs instead of a Python loop over every pair per feature.
        self.model_masks = _masks(self.models)
        self.developer_masks = _masks(self.developers)
        self.behaviour_masks = _masks(self.behaviours)
        self.family_masks = _masks([tuple(sorted(group)) for group in self.families], each_of=True)
        # The texts are stored pair by pair (see of): each pair's best text is the maximum over one slice.
        self.text_starts, self.pairs_with_texts = _segments(self.owner, len(self.pairs))

    @classmethod
    def of(cls, kb) -> "PairIndex":
        from kb.wording import faithful_sentence

        by_pair: dict = {}
        for claim in sorted(kb.claims.values(), key=lambda c: c.id):
            entry = by_pair.setdefault((claim.model, claim.behaviour), {"texts": [], "values": set()})
            behaviour = kb.behaviours[claim.behaviour]
            for text in (claim_text(kb, claim), claim.measure, faithful_sentence(kb, claim), claim.quote,
                         behaviour.definition, behaviour.phrase):
                if text and len(text) < 400 and text not in entry["texts"]:
                    entry["texts"].append(text)
            if claim.value is not None:
                entry["values"].add(float(claim.value))
        pairs = sorted(by_pair)
        texts, owner = [], []
        for i, pair in enumerate(pairs):
            texts += by_pair[pair]["texts"]
            owner += [i] * len(by_pair[pair]["texts"])
        families = {}
        for family, members in (kb.lexicon.families or {}).items():
            for member in members:
                families.setdefault(member, set()).add(family)
        index = cls(pairs, texts, np.asarray(owner), [sorted(by_pair[p]["values"]) for p in pairs],
                    [kb.models[m].developer for m, _b in pairs], [families.get(m, set()) for m, _b in pairs])
        index.bm25 = _bm25([" ".join(by_pair[p]["texts"]) for p in pairs])
        return index


def _bm25(documents: list[str]):
    import bm25s

    retriever = bm25s.BM25()
    retriever.index([tokens(d) for d in documents], show_progress=False)
    return retriever


def pair_features(index: PairIndex, text_vectors: np.ndarray, analysis, sentence_vectors: np.ndarray,
                  statement_vector: np.ndarray | None, behaviour_meaning) -> list[EvidenceRecord]:
    """One evidence record per pair of the index, for one statement (what fitting reads; checking reads the
    matrix itself, see pair_feature_matrix)."""
    matrix = pair_feature_matrix(index, text_vectors, analysis, sentence_vectors, statement_vector, behaviour_meaning)
    return [EvidenceRecord(RETRIEVAL_FEATURES, tuple(row)) for row in matrix.tolist()]


def pair_feature_matrix(index: PairIndex, text_vectors: np.ndarray, analysis, sentence_vectors: np.ndarray,
                        statement_vector: np.ndarray | None, behaviour_meaning) -> np.ndarray:
    """(pairs, RETRIEVAL_FEATURES) feature values for one statement: each feature is computed for every pair at
    once (a loop over the pairs cost more than the rest of checking a short statement)."""
    n = len(index.pairs)
    dense = _per_pair_max(sentence_vectors @ text_vectors.T, index) if len(sentence_vectors) else np.zeros(n)
    whole = (_per_pair_max((statement_vector[None, :] @ text_vectors.T), index)
             if statement_vector is not None else np.zeros(n))
    query = tokens(analysis.text)
    bm25 = np.asarray(index.bm25.get_scores(query), dtype=float) if query else np.zeros(n)
    bm25 = bm25 / bm25.max() if bm25.max() > 0 else bm25
    named_ids = {m.id for m in analysis.of("MODEL")}
    named = _marked(index.model_masks, named_ids, n)
    lab = _marked(index.developer_masks, {m.id for m in analysis.of("DEVELOPER")}, n)
    family = _marked(index.family_masks, {m.id for m in analysis.of("FAMILY")}, n)
    cue = _marked(index.behaviour_masks, {m.id for m in analysis.of("BEHAVIOUR")}, n)
    numbers = [num.quantity.value for num in analysis.numbers if num.quantity.is_rate]
    meanings = {b: behaviour_meaning(b) for b in dict.fromkeys(index.behaviours)}  # one per behaviour, not per pair
    meaning = np.array([meanings[b] for b in index.behaviours], dtype=float)
    rank = np.empty(n)
    rank[np.argsort(-dense)] = np.arange(1, n + 1)
    number = _number_matches(index, numbers)
    columns = {
        "dense_best": dense, "dense_gap": dense - (float(dense.max()) if n else 0.0), "dense_statement": whole,
        "behaviour_meaning": meaning, "bm25": bm25, "model_named": named, "lab_named": lab, "family_named": family,
        "other_model_named": ~named if named_ids else False, "behaviour_cue": cue,
        "number_matches": number, "has_number": bool(numbers),
        "plural_for_many_models": index.many_models & bool(analysis.of("PLURAL")), "many_models_pair": index.many_models,
        "dense_rank": 1.0 / rank, "named_and_cue": named & cue, "named_and_meaning": named * meaning,
        "lab_or_family_and_meaning": (lab | family) * meaning,
        "number_and_cue": number & cue, "number_and_meaning": number * meaning,
        "number_specificity": number / max(int(number.sum()), 1),
    }
    matrix = np.empty((n, len(RETRIEVAL_FEATURES)))
    for j, name in enumerate(RETRIEVAL_FEATURES):
        matrix[:, j] = columns[name]
    return matrix


def _masks(labels: list, each_of: bool = False) -> dict:
    """label -> boolean array over the pairs: which pairs carry it (`each_of`: each entry is a group of labels)."""
    out: dict = {}
    for i, entry in enumerate(labels):
        for label in (entry if each_of else (entry,)):
            out.setdefault(label, np.zeros(len(labels), dtype=bool))[i] = True
    return out


def _marked(masks: dict, wanted: set, pairs: int) -> np.ndarray:
    """The pairs that carry any of the `wanted` labels."""
    out = np.zeros(pairs, dtype=bool)
    for label in wanted:
        mask = masks.get(label)
        if mask is not None:
            out |= mask
    return out


def _segments(owner: np.ndarray, pairs: int) -> tuple[np.ndarray, np.ndarray]:
    """(where each run of one pair's texts starts, which pair each run is), for texts stored pair by pair."""
    if not len(owner):
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    if np.unique(owner[starts]).size != starts.size:
        raise ValueError("the pair index's texts must be stored pair by pair")
    return starts, owner[starts]


def _number_matches(index: PairIndex, numbers: list) -> np.ndarray:
    """Per pair: a number of the statement is within NUMBER_TOLERANCE of one of the pair's values."""
    hit = np.zeros(len(index.value_owner), dtype=bool)
    for number in numbers:
        hit |= np.abs(number - index.value_array) <= NUMBER_TOLERANCE
    return np.bincount(index.value_owner[hit], minlength=len(index.pairs)) > 0


def _per_pair_max(similarities: np.ndarray, index: PairIndex) -> np.ndarray:
    """The best similarity of any row with any of each pair's texts (at least -1; -1 for a pair without texts)."""
    best_per_text = similarities.max(axis=0)
    out = np.full(len(index.pairs), -1.0)
    if len(index.text_starts):
        # One maximum per pair's slice of texts (exact, as maxima are): np.maximum.at was a slow scatter.
        per_pair = np.maximum.reduceat(best_per_text, index.text_starts)
        out[index.pairs_with_texts] = np.maximum(out[index.pairs_with_texts], per_pair)
    return out


def best_sentence(index: PairIndex, text_vectors: np.ndarray, sentence_vectors: np.ndarray, pair: int) -> int:
    """The sentence most similar to one pair's texts: where a retrieved report is anchored."""
    columns = np.flatnonzero(index.owner == pair)
    return int((sentence_vectors @ text_vectors[columns].T).max(axis=1).argmax())
