"""The checker's fitted weights: a small JSON file (`kb/check/weights.json`) written by `kb train`.

Two logistic models, each a weight per named feature of `kb.check.evidence` plus an intercept:
  finding  P(the statement reports this claim's model and behaviour | its evidence record)
  key      P(the statement conveys this key condition for this claim | its evidence record)
the open-set head, a logistic model over the statement's own embedding (its best similarity to any claim, and the
vote of the labelled statements nearest it, from the memory stored beside it: kb.check.memory):
  reporting  P(the statement reports any stored result at all)
the claim-choice head, a logistic model over the finding's evidence record too, which ranks the candidate claims
of a report (sibling claims of one model and behaviour: another table cell, condition or difficulty):
  choice  P(this is the claim the statement reports | its evidence record)
one detector per context key, a logistic model over the statement's embedding and the key's cues (its output is one
of the key model's features):
  key_detectors[key]  P(the statement conveys this key)
and the probability cut-offs for the tiers. Checking needs only numpy: no training library is imported here.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kb.check.adapter import QueryAdapter
from kb.check.evidence import FINDING_FEATURES, KEY_FEATURES, EvidenceRecord
from kb.check.memory import LabelledMemory
from kb.check.retrieve import RETRIEVAL_FEATURES

WEIGHTS_PATH = Path(__file__).with_name("weights.json")
FORMAT = 1


class WeightsError(Exception):
    pass


@dataclass(frozen=True)
class LogisticModel:
    features: tuple
    weights: np.ndarray
    intercept: float

    def probability(self, record: EvidenceRecord) -> float:
        if record.names != self.features:
            raise WeightsError("the evidence record's features are not those the weights were fitted on; run `kb train`")
        return _logistic(float(np.dot(self.weights, record.values)) + self.intercept)

    def probabilities(self, matrix: np.ndarray, features: tuple) -> list[float]:
        """probability() of each row of a feature matrix whose columns are `features`, without building a record
        per row. Each row takes the same dot product as its record would, so the results are the same floats."""
        if features != self.features:
            raise WeightsError("the evidence record's features are not those the weights were fitted on; run `kb train`")
        return [_logistic(float(np.dot(self.weights, row)) + self.intercept) for row in matrix]

    @classmethod
    def from_json(cls, data: dict, features: tuple, name: str) -> "LogisticModel":
        weights = data.get("weights", {})
        if set(weights) != set(features):
            raise WeightsError(f"weights file: the {name} model's features differ from the checker's "
                               f"({sorted(set(weights) ^ set(features))}); run `kb train` to refit")
        return cls(features, np.array([weights[f] for f in features], dtype=float), float(data.get("intercept", 0.0)))


def _logistic(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


def neutral_dict() -> dict:
    """The weights file's content with every weight 0 (and no open-set or retrieval head)."""
    zero = lambda names: {"weights": {n: 0.0 for n in names}, "intercept": 0.0}  # noqa: E731
    return {"format": FORMAT, "finding": zero(FINDING_FEATURES), "key": zero(KEY_FEATURES), "meta": {"neutral": True}}


@dataclass(frozen=True)
class VectorModel:
    """A logistic model over a plain feature vector (the open-set head and the key detectors read the statement's
    embedding)."""

    weights: np.ndarray
    intercept: float

    def probability(self, features: np.ndarray) -> float:
        if features.shape != self.weights.shape:
            raise WeightsError("a head over the statement's embedding was fitted on another embedding size; "
                              "run `kb train`")
        return _logistic(float(np.dot(self.weights, features)) + self.intercept)

    @classmethod
    def from_json(cls, data: dict | None) -> "VectorModel | None":
        if not data:
            return None
        return cls(np.asarray(data["weights"], dtype=float), float(data.get("intercept", 0.0)))


@dataclass(frozen=True)
class FittedWeights:
    finding: LogisticModel
    key: LogisticModel
    match: float  # a finding at least this probable is reported (it decides the verdict)
    suggest: float  # at least this probable: offered as "possibly also about"
    missing: float  # a key whose probability of being conveyed is below this is reported as dropped
    meta: dict
    reporting: VectorModel | None = None  # the open-set head; None: every statement may report a result
    retrieval: LogisticModel | None = None  # P(a (model, behaviour) pair is reported); None: no retrieval by meaning
    key_detectors: dict | None = None  # key -> VectorModel: P(the statement conveys the key), per key
    choice: LogisticModel | None = None  # ranks a report's candidate claims; None: the finding model ranks them
    adapter: QueryAdapter | None = None  # maps statement vectors for retrieval; None: the encoder's own vectors
    reporting_memory: LabelledMemory | None = None  # the open-set head's nearest labelled statements (kb.check.memory)

    @classmethod
    def load(cls, path: Path | None = None) -> "FittedWeights":
        path = Path(path or WEIGHTS_PATH)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise WeightsError(f"{path}: cannot read the checker's weights ({exc}); run `kb train`") from exc
        return cls.from_dict(data)

    @classmethod
    def neutral(cls) -> "FittedWeights":
        """Every candidate equally likely (weights 0): what fitting starts from, since the examples it fits on are
        every candidate the checker considers, whichever it would choose."""
        return cls.from_dict(neutral_dict())

    @classmethod
    def from_dict(cls, data: dict) -> "FittedWeights":
        if data.get("format") != FORMAT:
            raise WeightsError(f"weights file format {data.get('format')!r}, expected {FORMAT}; run `kb train`")
        tiers = data.get("tiers", {})
        return cls(LogisticModel.from_json(data["finding"], FINDING_FEATURES, "finding"),
                   LogisticModel.from_json(data["key"], KEY_FEATURES, "key"),
                   float(tiers.get("match", 0.5)), float(tiers.get("suggest", 0.25)), float(tiers.get("missing", 0.5)),
                   data.get("meta", {}), VectorModel.from_json(data.get("reporting")),
                   LogisticModel.from_json(data["retrieval"], RETRIEVAL_FEATURES, "retrieval")
                   if data.get("retrieval") else None,
                   {key: VectorModel.from_json(head) for key, head in (data.get("key_detectors") or {}).items()},
                   LogisticModel.from_json(data["choice"], FINDING_FEATURES, "choice") if data.get("choice") else None,
                   QueryAdapter.from_json(data.get("adapter")), LabelledMemory.from_json(data.get("reporting_memory")))
