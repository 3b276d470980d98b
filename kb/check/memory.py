"""The labelled statements the open-set head remembers: a nearest-neighbour vote on "does it report a stored result?".

The open-set head (kb.check.fitted, "reporting") is a logistic model over the statement's embedding: one direction in
the embedding space for "reports a result". Statements are not spread that simply. Benchmark news, commentary on a
study and descriptions of a method sit near the reports they resemble, and the statements most like a new one, with
their labels, say more about it than one direction does. So the head reads one more feature: the share of the
labelled training statements nearest the new one (its NEIGHBOURS nearest, each weighed by its cosine to the power
SHARPNESS, so the few nearest dominate) that report a result.

Chosen by cross-validation on the 744 cv statements (2026-12-08, the head alone, out of fold): AUC of the open-set
decision 0.788 with the embedding alone, 0.825 adding this vote with cosines to the power 4, 0.843 to the power 16
(over 20 to 80 neighbours, 0.843-0.844); its accuracy 0.72 -> 0.79.

A training statement's own vote leaves out itself and its near-copies (cosine >= NEAR_COPY, the threshold at which
`kb folds` keeps copies of one text in one fold): a statement checked later has no copy among them either.
(Leaving out the other statements of its page too, which `kb folds` also keeps in one fold, measured the same: AUC
0.843.)

The memory (the training statements' vectors, as float16, and whether each reports a result) is stored in
`weights.json` with the heads, so checking reads no labelled statement: the locked fold is never among them.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import numpy as np

NEIGHBOURS = 40
SHARPNESS = 16
NEAR_COPY = 0.9
VOTE_SCALE = 3.0  # the vote enters the head's features on about the scale of the embedding's larger components


@dataclass(frozen=True)
class LabelledMemory:
    vectors: np.ndarray  # (n, dim) float32 unit vectors of the training statements
    labels: np.ndarray  # (n,) 1.0 where the statement reports a stored result
    neighbours: int = NEIGHBOURS  # as fitted (weights.json keeps them with the vectors)
    sharpness: int = SHARPNESS

    def vote(self, vector: np.ndarray) -> float:
        """The weighted share of the nearest remembered statements that report a result."""
        nearest, weights = self._neighbours(self._similarities(vector), exclude_copies=False)
        return float(self._share(nearest, weights, self.labels)[0])

    def own_votes(self) -> np.ndarray:
        """Each remembered statement's vote among the others, leaving out itself and its near-copies."""
        nearest, weights = self._neighbours(self.vectors @ self.vectors.T, exclude_copies=True)
        return self._share(nearest, weights, self.labels)

    def _similarities(self, vector: np.ndarray) -> np.ndarray:
        if vector.shape != (self.vectors.shape[1],):
            raise ValueError(f"the open-set head's memory holds {self.vectors.shape[1]}-dimensional vectors, the "
                             f"embedder gives {vector.shape[0]}: run `kb train`")
        return self.vectors @ vector[:, None]

    def _neighbours(self, similarities: np.ndarray, exclude_copies: bool) -> tuple[np.ndarray, np.ndarray]:
        """similarities: (remembered, queries) -> (each query's `neighbours` nearest, their weights)."""
        sims = similarities.T
        if exclude_copies:
            sims = np.where(sims >= NEAR_COPY, -1.0, sims)
        k = min(self.neighbours, sims.shape[1])
        nearest = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < sims.shape[1] else np.argsort(-sims, axis=1)
        return nearest, np.clip(np.take_along_axis(sims, nearest, 1), 0.0, None) ** self.sharpness

    @staticmethod
    def _share(nearest: np.ndarray, weights: np.ndarray, values: np.ndarray) -> np.ndarray:
        """The weighted mean of `values` over each query's neighbours; 0.5 (no opinion) for a query with no neighbour
        nearer than orthogonal."""
        total = weights.sum(axis=1)
        share = (weights * values[nearest]).sum(axis=1) / np.where(total > 0, total, 1.0)
        return np.where(total > 0, share, 0.5)

    def to_json(self) -> dict:
        return {"neighbours": self.neighbours, "sharpness": self.sharpness, "dimension": int(self.vectors.shape[1]),
                "labels": [int(v) for v in self.labels],
                "vectors": base64.b64encode(self.vectors.astype("<f2").tobytes()).decode("ascii")}

    @classmethod
    def from_json(cls, data: dict | None) -> "LabelledMemory | None":
        if not data:
            return None
        labels = np.asarray(data["labels"], dtype=np.float32)
        raw = np.frombuffer(base64.b64decode(data["vectors"]), dtype="<f2").astype(np.float32)
        return cls(raw.reshape(len(labels), int(data["dimension"])), labels,
                   int(data.get("neighbours", NEIGHBOURS)), int(data.get("sharpness", SHARPNESS)))

    @classmethod
    def of(cls, vectors: list, labels: list) -> "LabelledMemory":
        """A memory as checking will read it: the vectors rounded to float16, as stored."""
        stored = np.asarray(vectors, dtype=np.float32).astype("<f2").astype(np.float32)
        return cls(stored, np.asarray(labels, dtype=np.float32))
