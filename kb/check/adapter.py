"""The encoder's adapter for retrieval: a low-rank linear map on a statement's sentence vectors, fitted on the labelled
statements so that each lands nearer the texts of the (model, behaviour) pairs it reports than those of their
siblings.

all-MiniLM-L6-v2 was trained for general sentence similarity; "the assistant used a manager's secret as leverage"
and a claim text about blackmail are near, but so are a dozen sibling pairs. The adapter is the identity plus a
rank-`RANK` correction, x' = normalise(x + (x U) V), applied to the statement's side only (the knowledge base's
texts keep their vectors, so nothing is re-embedded when it changes). It is fitted with a softmax over every pair of
the knowledge base, each pair scored by its best cosine with any sentence (as the `dense_best` retrieval feature
reads it), so the negatives a statement learns from are the pairs that come nearest to it: its siblings. In training
"best" is a smooth maximum (a log-sum-exp at SMOOTHING): with a hard one, a near-tie between two sentences or texts
that the encoder's last digits (another CPU, another thread count) decide sent the whole fit down another path, and
a refit on the same statements on another machine gave an adapter whose vectors differed by up to 0.1 (see also
ADAM_EPS and canonical_factors: with all three, the written weights of two fits whose inputs differ by 1e-7 are
5e-6 apart).

It lives in `weights.json` ("adapter") with a manifest (the training data's hash, seed, library version, and the
dense retrieval recall with and without it, cross-validated inside the training statements); `kb train` refits it,
and in `kb eval --cv` each split fits its own. While the retrieval head is fitted, each training statement reads an
adapter fitted without it (five folds), as the key detectors' outputs are: an adapter ranks the statements it was
fitted on far better than new ones. Fitting needs torch (the training extra); applying it is a numpy product, so
checking imports no torch and the ONNX export of the encoder is unchanged.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

# Chosen by cross-validation on the 745 cv statements (2026-12-07), dense ranking alone: recall@1 of a reported pair
# 0.718 with the encoder's vectors; 0.773 with this query-side rank-16 adapter, 0.761 with rank 16 applied to both
# sides, 0.773 with rank 32 on both sides. The query side alone needs no re-embedding and half the parameters.
RANK = 16
EPOCHS = 60  # full-batch steps
LEARNING_RATE = 0.01
WEIGHT_DECAY = 0.01
TEMPERATURE = 0.05  # the softmax over pairs reads cosines / TEMPERATURE
SEED = 0
# The smooth maximum's temperature, on cosines: near the hard maximum, and smooth enough that 1e-7 noise on the
# inputs moves the fitted map's outputs by ~1e-6 (a hard maximum: up to 0.1). Held out (one split of the 476
# training statements, dense recall@1): 0.82 with the hard maximum, 0.81 at 0.02, 0.81 at 0.01, 0.78 at 0.05.
SMOOTHING = 0.02
# AdamW divides each step by the gradient's running size; with its usual 1e-8 floor, directions the statements'
# vectors barely reach (gradients ~1e-9) took full-size steps whose sign the inputs' last digits decided, so the
# fitted map (not only its factors) differed by 0.07 after 1e-7 noise on the inputs. A floor of 1e-3 makes those
# steps proportional to their gradient: 3e-6 apart, and held-out recall@1 0.811 / @5 0.952 (five splits of the
# training statements) against 0.807 / 0.950 with the usual floor.
ADAM_EPS = 1e-3
DIGITS = 6  # the written adapter's rounding: weights.json stays text, and a refit on the same data is byte-identical


@dataclass(frozen=True)
class QueryAdapter:
    u: np.ndarray  # (dimension, RANK)
    v: np.ndarray  # (RANK, dimension)

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """The adapted, unit-length vectors (rows); a zero row (no text) stays zero."""
        if vectors is None or not len(vectors):
            return vectors
        single = vectors.ndim == 1
        x = np.atleast_2d(vectors).astype(np.float32)
        y = x + (x @ self.u) @ self.v
        norms = np.linalg.norm(y, axis=1, keepdims=True)
        y = np.divide(y, norms, out=np.zeros_like(y), where=norms > 0)
        return y[0] if single else y

    @classmethod
    def from_json(cls, data: dict | None) -> "QueryAdapter | None":
        if not data:
            return None
        return cls(np.asarray(data["u"], dtype=np.float32), np.asarray(data["v"], dtype=np.float32))


def fit_adapter(examples: "AdapterExamples", text_vectors: np.ndarray, owner: np.ndarray) -> dict | None:
    """The adapter's `weights.json` entry, fitted on statements (each: its sentence vectors, and the indices of the
    pairs it reports) against the knowledge base's pair texts (`owner`: each text's pair); None without examples."""
    import torch

    data = [(s, g) for s, g in zip(examples.sentences, examples.gold) if len(s) and len(g)]
    if not data:
        return None
    u, v = canonical_factors(*_train(torch, data, text_vectors, owner))
    return {"rank": RANK, "u": np.round(u, DIGITS).tolist(), "v": np.round(v, DIGITS).tolist(),
            "manifest": {"statements": len(data), "training_data": examples.fingerprint(), "seed": SEED,
                         "epochs": EPOCHS, "learning_rate": LEARNING_RATE, "weight_decay": WEIGHT_DECAY,
                         "temperature": TEMPERATURE, "smoothing": SMOOTHING, "adam_eps": ADAM_EPS,
                         "torch": torch.__version__}}


def canonical_factors(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same map x U V written in one canonical way. U V is all the adapter computes, but training leaves it split
    between U and V arbitrarily (U A and A⁻¹ V compute the same; two fits whose maps agree to 1e-6 had factors 0.1
    apart): as U = P √S and V = √S Qᵀ from the product's singular value decomposition, each column of P signed so
    its largest entry is positive, the written weights follow from the map alone."""
    p, s, qt = np.linalg.svd(u.astype(np.float64) @ v.astype(np.float64), full_matrices=False)
    p, s, qt = p[:, :u.shape[1]], s[:u.shape[1]], qt[:u.shape[1]]
    signs = np.sign(p[np.abs(p).argmax(axis=0), np.arange(p.shape[1])])
    root = np.sqrt(s)
    return ((p * signs) * root).astype(np.float32), ((qt * signs[:, None]) * root[:, None]).astype(np.float32)


def _train(torch, data: list, text_vectors: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Full-batch AdamW on the mean softmax loss of the reported pairs, on one thread so a refit is reproducible."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        generator = torch.Generator().manual_seed(SEED)
        dimension = text_vectors.shape[1]
        u = torch.zeros(dimension, RANK, requires_grad=True)  # starts as the identity map
        v = (torch.randn(RANK, dimension, generator=generator) * 0.01).requires_grad_(True)
        sentences = torch.tensor(np.concatenate([s for s, _g in data]), dtype=torch.float32)
        statement_of = torch.tensor(np.repeat(np.arange(len(data)), [len(s) for s, _g in data]))
        texts = torch.tensor(text_vectors, dtype=torch.float32)
        owner_t = torch.tensor(owner, dtype=torch.int64)
        gold = torch.zeros(len(data), int(owner.max()) + 1, dtype=torch.bool)
        for row, (_s, pairs) in enumerate(data):
            gold[row, list(pairs)] = True
        optimiser = torch.optim.AdamW([u, v], lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY, eps=ADAM_EPS)
        for _ in range(EPOCHS):
            optimiser.zero_grad()
            scores = _pair_scores(torch, _adapt(sentences, u, v), statement_of, len(data), texts, owner_t) / TEMPERATURE
            reported = torch.logsumexp(scores.masked_fill(~gold, float("-inf")), dim=1)
            loss = (torch.logsumexp(scores, dim=1) - reported).mean()
            loss.backward()
            optimiser.step()
        return u.detach().numpy(), v.detach().numpy()
    finally:
        torch.set_num_threads(threads)


def _adapt(x, u, v):
    y = x + (x @ u) @ v
    return y / y.norm(dim=-1, keepdim=True)


def _pair_scores(torch, sentences, statement_of, statements: int, texts, owner):
    """(statements, pairs): each pair's smooth best cosine between any of a statement's sentences and any of its
    texts (see SMOOTHING)."""
    sims = sentences @ texts.T  # (sentences, texts)
    per_statement = _smooth_group_max(torch, sims, statement_of, statements, dim=0)
    return _smooth_group_max(torch, per_statement, owner, int(owner.max()) + 1, dim=1)


def _smooth_group_max(torch, values, groups, size: int, dim: int):
    """The log-sum-exp maximum of `values` along `dim` within each group (`groups`: each row's or column's group, none
    empty: a statement has sentences, a pair texts). Each group is shifted by its own hard maximum first, so nothing
    underflows; the shift cancels out, and the result is as smooth as the log-sum-exp."""
    shape = (size, values.shape[1]) if dim == 0 else (values.shape[0], size)
    index = groups[:, None].expand_as(values) if dim == 0 else groups[None, :].expand_as(values)
    top = torch.full(shape, float("-inf")).scatter_reduce(dim, index, values.detach(), reduce="amax")
    spread = values - (top[groups] if dim == 0 else top[:, groups])
    summed = torch.zeros(shape).index_add(dim, groups, torch.exp(spread / SMOOTHING))
    return top + SMOOTHING * torch.log(summed)


@dataclass
class AdapterExamples:
    """The statements an adapter learns from: per statement its text, sentence vectors and reported pairs (as the
    texts' (model, behaviour) and as indices into the knowledge base's pair list)."""

    texts: list
    sentences: list
    pairs: list  # per statement: sorted (model, behaviour) pairs
    gold: list  # per statement: their indices
    folds: list = field(default_factory=list)  # per statement: its corpus fold, when it has one

    def fingerprint(self) -> str:
        """The training data's hash: the statements' texts and the pairs they report (not their vectors, which move
        in the last digits between the ONNX and torch encoders)."""
        digest = hashlib.sha256()
        for text, pairs in sorted(zip(self.texts, self.pairs)):
            digest.update(text.encode("utf-8") + b"\0" + repr(pairs).encode("utf-8") + b"\n")
        return digest.hexdigest()[:16]

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, rows) -> "AdapterExamples":
        rows = list(rows)
        return AdapterExamples(*([getattr(self, f)[i] for i in rows] for f in ("texts", "sentences", "pairs", "gold")),
                               [self.folds[i] for i in rows] if self.folds else [])


def dense_recall(adapter: QueryAdapter | None, examples: AdapterExamples, text_vectors: np.ndarray,
                 owner: np.ndarray) -> tuple[float, float]:
    """Recall@1 and @5 of a reported pair by the best cosine alone (the `dense_best` feature's ranking)."""
    pairs = int(owner.max()) + 1
    hits1 = hits5 = total = 0
    for sentences, gold in zip(examples.sentences, examples.gold):
        if not len(sentences) or not gold:
            continue
        query = adapter.apply(sentences) if adapter else sentences
        best = np.full(pairs, -2.0)
        np.maximum.at(best, owner, (query @ text_vectors.T).max(axis=0))
        top = np.argsort(-best, kind="stable")[:5]
        total += 1
        hits1 += int(top[0] in gold)
        hits5 += int(bool(set(top.tolist()) & set(gold)))
    return (hits1 / total, hits5 / total) if total else (0.0, 0.0)
