"""The peer Caveat has to beat: embedding nearest-claim matching, every match flagged.

Each claim is one text (model, behaviour phrase, measure, value text, setting label), embedded with the same
all-MiniLM-L6-v2 the checker uses (kb.check.embed). Each sentence of a statement takes its nearest claim by cosine;
when that cosine reaches the threshold the claim is a match-tier finding and the statement is flagged
`missing_context` (the peer knows nothing about conditions, so it names no dropped key and never says `ok`);
a statement with no match is `no_claim`.

The threshold is fitted per split on the training folds only (the one that maximises flag accuracy + claim recall
there), and the held-out fold is scored by the same `kb eval` code (kb.check.evaluate) on the same folds:

    python benchmarks/baseline_matching.py              # 5-fold cross-validation, the table of `kb eval --cv`
    python benchmarks/baseline_matching.py --locked L.yaml   # the locked fold of a labels file (the knowledge base's
                                                             # own locked fold is read by `kb eval --locked` alone)
    python benchmarks/baseline_matching.py [--root KB] [--save FILE] [--json] [LABELS.yaml ...]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
THRESHOLDS = [round(0.20 + 0.01 * i, 2) for i in range(71)]  # 0.20 ... 0.90, the grid the fit searches
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[\"'‘“(A-Z0-9])")


def claim_text(kb, claim) -> str:
    model = kb.models[claim.model].name if claim.model in kb.models else claim.model
    behaviour = kb.behaviours.get(claim.behaviour)
    setting = kb.settings.get(claim.setting)
    return (f"{model} {behaviour.phrase if behaviour else claim.behaviour}: {claim.measure}, {claim.value_text}"
            f" ({setting.label if setting else claim.setting}).")


def sentences(text: str) -> list[str]:
    return [s for s in (part.strip() for part in SENTENCE.split(text or "")) if s] or [text or ""]


class ClaimIndex:
    """The claims' vectors, and each sentence's nearest claim (sentence vectors are kept: every fit and every fold
    asks about the same statements)."""

    def __init__(self, kb, embedder=None, cache_path: Path | None = None):
        from kb.check.embed import CachedEmbeddings, load_embedder

        self.kb = kb
        self.embedder = embedder or load_embedder()
        self.claims = list(kb.claims.values())
        self.matrix = CachedEmbeddings(self.embedder, cache_path).matrix([claim_text(kb, c) for c in self.claims])
        self._nearest: dict[str, tuple[int, float]] = {}

    def nearest(self, texts: list[str]) -> list[list[tuple[object, float]]]:
        """For each text, (claim, cosine) of each sentence's nearest claim."""
        wanted = sorted({s for t in texts for s in sentences(t)} - set(self._nearest))
        if wanted:
            sims = self.embedder.encode(wanted) @ self.matrix.T
            best = sims.argmax(axis=1)
            self._nearest.update({s: (int(i), float(sims[row, i])) for row, (s, i) in enumerate(zip(wanted, best))})
        return [[(self.claims[self._nearest[s][0]], self._nearest[s][1]) for s in sentences(t)] for t in texts]


class NearestClaimChecker:
    """A kb.check.evaluate.StatementChecker: the nearest claims at or above `threshold`, every one flagged."""

    def __init__(self, index: ClaimIndex, threshold: float):
        self.index, self.threshold = index, threshold

    def check_many(self, items):
        items = list(items)
        for (sid, text), nearest in zip(items, self.index.nearest([text for _sid, text in items])):
            found = {}
            for claim, cosine in nearest:
                if cosine >= self.threshold and cosine > found.get(claim.id, (None, -1))[1]:
                    found[claim.id] = (claim, cosine)
            findings = [self._finding(claim, cosine) for claim, cosine in found.values()]
            yield {"id": sid, "text": text, "verdict": "missing_context" if findings else "no_claim",
                   "findings": findings}

    def _finding(self, claim, cosine: float) -> dict:
        source = self.index.kb.source_of(claim)
        return {"claim": claim.id, "model": claim.model, "behaviour": claim.behaviour, "score": round(cosine, 3),
                "tier": "match", "value": claim.value, "reported_value": None, "number": "absent",
                "missing_context": [], "present_context": [],
                "problems": [{"kind": "similar_claim", "detail": f"nearest claim by meaning (cosine {cosine:.2f})"}],
                "explanation": f"Similar to {claim.id}.", "suggestion": "", "source": source.title if source else "",
                "locator": claim.locator}


def fit_threshold(index: ClaimIndex, train: list[dict]) -> float:
    """The threshold with the best flag accuracy + claim recall on the training statements (the middle one of a
    tie, so the choice does not sit on the edge of a plateau)."""
    from kb.check.evaluate import evaluate

    index.nearest([s["text"] for s in train])  # encode once for the whole grid

    def objective(threshold):
        figures = evaluate(NearestClaimChecker(index, threshold), train).figures
        return (figures["flag_accuracy"] or 0) + (figures["claim_recall"] or 0)

    scores = [objective(t) for t in THRESHOLDS]
    best = [t for t, score in zip(THRESHOLDS, scores) if score >= max(scores) - 1e-9]
    return best[len(best) // 2]


def measure(kb, statements: list[dict], locked: bool = False, embedder=None, cache_path: Path | None = None):
    """(FoldedEvaluation, {held-out fold: fitted threshold}): the peer measured by kb eval's code on the folds."""
    from kb.check.evaluate import cross_validate, locked_test

    index = ClaimIndex(kb, embedder, cache_path)
    thresholds = []

    def fit(train):
        thresholds.append(fit_threshold(index, train))
        return NearestClaimChecker(index, thresholds[-1])

    result = (locked_test if locked else cross_validate)(statements, fit)
    return result, dict(zip([fold for fold, _e in result.folds], thresholds))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("labels", nargs="*", type=Path, help="label files with folds (default: the knowledge base's statements/)")
    parser.add_argument("--locked", action="store_true", help="score the locked test fold (run rarely)")
    parser.add_argument("--root", type=Path, default=None, help="the knowledge base (default: this checkout)")
    parser.add_argument("--save", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of text")
    args = parser.parse_args(argv)
    if args.locked and not args.labels:
        print("the knowledge base's locked fold (statements/locked/) is read by `kb eval --locked` alone; "
              "give label files to score their locked fold", file=sys.stderr)
        return 2

    from kb.build import InvalidData, load_valid
    from kb.check.evaluate import (LabelsError, folded_json, folded_report_lines, kb_statements, load_labels,
                                   require_folds)
    from kb.project import RootNotFound, build_dir, find_root

    try:
        root = find_root(args.root or ROOT)
        kb = load_valid(root)
        statements = ([s for path in args.labels for s in load_labels(path)] if args.labels else kb_statements(kb))
        require_folds(statements)
    except InvalidData as exc:
        print("\n".join(str(p) for p in exc.problems), file=sys.stderr)
        return 2
    except (LabelsError, RootNotFound) as exc:
        print(exc, file=sys.stderr)
        return 2
    result, thresholds = measure(kb, statements, args.locked, cache_path=build_dir(root) / "cache" / "embeddings.npz")
    what = "Baseline: nearest-claim matching, every match flagged"
    data = folded_json(result, what=what)
    data["thresholds"] = thresholds
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True))
        return 0
    where = ", ".join(str(p) for p in args.labels) or "statements/*.yaml"
    print("\n".join(folded_report_lines(result, what=what, source=where)))
    print("cosine threshold fitted on the training folds: "
          + ", ".join(f"{fold} {t:.2f}" for fold, t in data["thresholds"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
