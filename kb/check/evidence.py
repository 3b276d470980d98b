"""Typed evidence records: what the checker knows about one (statement, candidate claim) pair and about one
(candidate claim, context key) pair, as named numeric features.

The features are read off the statement (its reports, numbers, conditions and embeddings); nothing here decides.
`kb.check.fitted` turns a record into a probability with weights fitted on labelled statements (`kb train`), so
how much each kind of evidence counts is learnt, not set by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat

SUBJECT_KINDS = ("named", "family", "developer", "plural", "generic", "unknown")
NUMBER_KINDS = ("match", "secondary", "other_condition", "mismatch", "unsupported", "absent", "wrong_model")

# One feature per kind of evidence that a statement reports a claim; every value lies in [0, 1] or [-1, 1].
FINDING_FEATURES = (
    *(f"subject_{kind}" for kind in SUBJECT_KINDS),
    "model_named_in_statement",  # the claim's model is named somewhere in the statement
    "behaviour_cue",  # a cue word for the claim's behaviour in the report's sentence (1), inherited (0.8)
    "behaviour_meaning",  # the sentence's similarity to how the knowledge base describes that behaviour
    "behaviour_meaning_gap",  # that similarity minus the best behaviour's (0 when it is the best)
    *(f"number_{kind}" for kind in NUMBER_KINDS),
    "claim_similarity",  # cosine of the sentence with the claim's text
    "claim_similarity_gap",  # minus the best claim's cosine for that sentence (0 when it is the best)
    "source_named",  # overlap of the statement's words with the source's title and authors (0..1)
    "same_source_as_numbered",  # the claim's source is that of a claim another number in the statement matched
    "preferred_rank",
    "deprecated_rank",
    "not_verified",
    "zero_without_number",  # a 0% result, for a statement that says the model did it but gives no number
    "many_models_claim",  # a result the source states for a group of models
    "many_models_for_sweeping_subject",  # ... reported of "AI models" in general
    "unstated_variant",  # a control or variant whose defining condition the statement never mentions
    "condition_conflict",  # a condition stated with the opposite polarity to the claim's
    "quoted",  # subject and behaviour only inside a quotation
    "meta_sentence",  # the sentence talks about the reporting ("the figure", "the headline")
    "generalised",  # a sweeping subject elsewhere generalises the result
    "retrieval",  # the retrieval head's probability that the statement reports this model and behaviour
    "retrieval_relative",  # that probability over the statement's most likely pair's: 1 for the best pair
    "retrieval_top",  # this model and behaviour is the statement's most likely pair
    "reporting",  # the open-set head's probability that the statement reports any stored result at all
)

# Evidence that a statement conveys one key condition of a claim it reports.
KEY_FEATURES = (
    "stated",  # a cue states the condition with the claim's polarity
    "stated_opposite",  # a cue states it with the opposite polarity
    "paraphrase_similarity",  # best cosine of a sentence in scope with the key's paraphrases
    "condition_similarity",  # best cosine of a sentence in scope with this claim's own condition wording
    "implied",  # implied by another key that is affirmed (a goal nudge implies a goal was given)
    "number_conveys",  # the number itself conveys it (a rate, a count over trials, points of accuracy)
    "key_rate_like",  # rate, conditional_rate, accuracy_drop: conveyed by numbers
    "key_framing",  # a framing condition (test setting, forced choice): holds for the whole statement
    "statement_numbers",  # the statement gives a number at all
    "detector",  # the key's own detector: P(the statement conveys this key), from every labelled statement with it
    "detector_fitted",  # the key has a detector (enough labelled statements convey and drop it)
)


@dataclass(frozen=True)
class EvidenceRecord:
    """Named feature values, in the order of `names`."""

    names: tuple
    values: tuple

    @classmethod
    def of(cls, names: tuple, values: dict) -> "EvidenceRecord":
        unknown = values.keys() - _name_set(names)
        if unknown:
            raise ValueError(f"unknown evidence features: {sorted(unknown)}")
        return cls(names, tuple(map(float, map(values.get, names, repeat(0.0)))))  # values.get(name, 0.0), each

    def as_dict(self) -> dict:
        return dict(zip(self.names, self.values))


@lru_cache(maxsize=16)
def _name_set(names: tuple) -> frozenset:
    """A record type's feature names as a set, made once (records are built thousands of times per statement)."""
    return frozenset(names)


def one_hot(prefix: str, kinds: tuple, kind: str | None) -> dict:
    return {f"{prefix}_{k}": 1.0 for k in kinds if k == kind}
