"""Does the ONNX embedder give the checker the torch embedder's answers?

Checks every statement in statements/*.yaml with each embedder (no embedding cache: each embeds the knowledge base
itself), and prints how many verdicts and findings differ, the largest difference in a finding's confidence, the
largest difference between the two embedders' vectors, and the labelled statements' figures (kb eval's, with the
fitted weights) side by side. With --int8 it also measures a dynamically quantised (int8) copy of the export, with
one scale per output channel of each weight matrix (one per matrix, the quantiser's default, moves vectors much
further), encoding one text a run: the int8 graph quantises activations with one scale per run, so in a batch a
text's vector moves with its neighbours'. The weights are the fp32 vectors' (README, Speed: refitted on int8 vectors,
the cross-validated figures).

With --int8 --cv it also cross-validates the checker on each export's vectors, as `kb eval --cv` does (every head
and the retrieval adapter refitted per split, on that embedder's vectors): the fair comparison (a few minutes each).

    python benchmarks/embedder_parity.py [--int8 [--cv]]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def quantised_copy(folder: Path, into: Path) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    into.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.json", "embedder.json"):
        shutil.copy(folder / name, into / name)
    quantize_dynamic(str(folder / "model.onnx"), str(into / "model.onnx"), weight_type=QuantType.QInt8,
                     per_channel=True)
    return into


def run(kb, embedder):
    from kb.check.checker import Checker
    from kb.check.evaluate import evaluate, kb_statements

    checker = Checker(kb, embedder=embedder)
    texts = [(s.id, s.text) for s in kb.statements.values()]
    results = {r["id"]: r for r in checker.check_many(texts)}
    return results, evaluate(checker, kb_statements(kb)).figures


def cross_validated(kb, embedder) -> dict:
    """kb eval --cv's pooled figures and stages with every split fitted on this embedder's vectors."""
    from kb.check.checker import Checker
    from kb.check.evaluate import cross_validate, kb_statements, stage_json
    from kb.check.fitted import FittedWeights
    from kb.check.train import fitted_fit

    checker = Checker(kb, embedder=embedder, weights=FittedWeights.neutral())
    pooled = cross_validate(kb_statements(kb), fitted_fit(checker)).pooled
    stages = stage_json(pooled)
    return {**pooled.figures, **{k: v for k, v in stages.items() if isinstance(v, (int, float))},
            "ece": (pooled.calibration or {}).get("ece")}


def findings(result) -> dict:
    return {(f.get("claim"), f.get("tier")): f for f in result.get("findings") or []}


def compare(name, base, other, texts):
    (base_results, base_figures), (results, figures) = base, other
    verdicts = sum(base_results[i]["verdict"] != results[i]["verdict"] for i in base_results)
    changed = sum(findings(base_results[i]).keys() != findings(results[i]).keys() for i in base_results)
    gaps = [abs(f["confidence"] - findings(results[i])[key]["confidence"])
            for i in base_results for key, f in findings(base_results[i]).items()
            if key in findings(results[i]) and isinstance(f.get("confidence"), (int, float))]
    print(f"{name}: {verdicts} of {len(base_results)} verdicts differ from torch's, {changed} statements' findings "
          f"differ; largest confidence difference {max(gaps, default=0):.4f}")
    for figure, value in base_figures.items():
        if isinstance(value, (int, float)) and isinstance(figures.get(figure), (int, float)):
            print(f"  {figure}: torch {value:.4f}, {name} {figures[figure]:.4f} "
                  f"(difference {abs(value - figures[figure]):.4f})")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--int8", action="store_true", help="also measure a dynamically quantised copy")
    parser.add_argument("--cv", action="store_true", help="with --int8: cross-validate on each export's vectors")
    args = parser.parse_args()

    from kb.build import load_valid
    from kb.check.embed import MiniLMEmbedder, OnnxEmbedder, base_export

    kb = load_valid(ROOT)
    texts = [s.text for s in kb.statements.values()]
    torch_embedder, onnx_embedder = MiniLMEmbedder(), OnnxEmbedder(base_export())
    gap = np.abs(torch_embedder.encode(texts) - onnx_embedder.encode(texts)).max()
    print(f"{len(texts)} statements; largest difference between torch's and ONNX's vector components {gap:.2e}")
    base = run(kb, torch_embedder)
    compare("onnx", base, run(kb, onnx_embedder), texts)
    if args.int8:
        with tempfile.TemporaryDirectory() as tmp:
            int8 = OnnxEmbedder(quantised_copy(base_export(), Path(tmp)), batch_size=1)
            int8.name += "-int8"
            cosines = (torch_embedder.encode(texts) * int8.encode(texts)).sum(axis=1)
            print(f"int8: smallest cosine between a statement's torch and int8 vectors {cosines.min():.4f}")
            compare("int8", base, run(kb, int8), texts)
            if args.cv:
                fp32, quantised = cross_validated(kb, onnx_embedder), cross_validated(kb, int8)
                print("cross-validated, each export's own fit:")
                for figure, value in fp32.items():
                    if isinstance(value, (int, float)) and isinstance(quantised.get(figure), (int, float)):
                        print(f"  {figure}: fp32 {value:.4f}, int8 {quantised[figure]:.4f} "
                              f"(difference {quantised[figure] - value:+.4f})")


if __name__ == "__main__":
    main()
