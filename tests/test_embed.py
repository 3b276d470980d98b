"""The ONNX embedder: the torch model's vectors without torch, exported from whatever SentenceTransformer is given."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from kbtest import KB_COMMAND, ROOT

TEXTS = ["o1 tried to disable oversight 5% of the time", "", "a",
         "Claude 3 Opus faked alignment in 12% of cases when it believed its answers were used for training. " * 30,
         "héllo wörld — “quotes”, 日本語 and emoji 🙂"]


@pytest.fixture(scope="module")
def torch_embedder():
    from kb.check.embed import MiniLMEmbedder

    return MiniLMEmbedder()


@pytest.mark.slow
def test_kb_check_imports_no_torch():
    """A cold `kb check` embeds with ONNX Runtime: importtime lists onnxruntime and no module of torch,
    transformers or sentence-transformers. (thinc asks for torch and is refused: that refusal is a bare `torch`
    line with no submodule; a real import of torch loads dozens of torch.* modules.)"""
    from kb.check.embed import base_export

    base_export()  # in a fresh clone the first check makes the export, with torch: make it here, before timing imports
    done = subprocess.run([sys.executable, "-X", "importtime", KB_COMMAND, "check",
                           "o1 tried to disable oversight 5% of the time"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 1, done.stderr[-2000:]  # 1: the statement is flagged (missing context)
    assert "MISSING CONTEXT" in done.stdout
    modules = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")]
    assert "onnxruntime" in modules
    heavy = [m for m in modules if re.match(r"(torch\.|transformers|sentence_transformers)", m)]
    assert heavy == []


@pytest.mark.slow
def test_onnx_vectors_are_torchs(torch_embedder):
    from kb.check.embed import OnnxEmbedder, base_export

    onnx = OnnxEmbedder(base_export(), batch_size=2)  # batches of 2: padding and reordering across batches
    vectors, expected = onnx.encode(TEXTS), torch_embedder.encode(TEXTS)
    assert vectors.shape == expected.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    assert np.abs(vectors - expected).max() < 1e-5
    assert onnx.encode([]).shape == (0, 384)


@pytest.mark.slow
def test_an_adapted_encoder_exports_the_same_way(torch_embedder, tmp_path):
    """A fitted linear adapter added to the SentenceTransformer ends up in the export: the ONNX vectors are the
    adapted model's, not the base model's."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Dense

    from kb.check.embed import OnnxEmbedder, export_onnx

    base = torch_embedder.model
    torch.manual_seed(0)
    adapter = Dense(384, 384, bias=True, activation_function=torch.nn.Identity())
    adapted = SentenceTransformer(modules=[base[0], base[1], adapter, base[2]], device="cpu")
    onnx = OnnxEmbedder(export_onnx(adapted, tmp_path / "adapted", "adapted-test"))
    expected = adapted.encode(TEXTS, normalize_embeddings=True)
    assert onnx.name == "adapted-test"
    assert np.abs(onnx.encode(TEXTS) - expected).max() < 1e-5
    assert np.abs(expected - torch_embedder.encode(TEXTS)).max() > 0.1  # the adapter did change the vectors


@pytest.mark.slow
def test_without_an_export_it_embeds_with_torch_and_says_how_to_build_one(torch_embedder, tmp_path, monkeypatch,
                                                                          capsys):
    from kb.check import embed

    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setattr(embed, "export_root", lambda: tmp_path / "a-file" / "onnx")  # cannot be created
    embedder = embed.load_embedder()
    assert isinstance(embedder, embed.MiniLMEmbedder)
    message = capsys.readouterr().err
    assert "cannot be written" in message and embed.BUILD_HINT in message
