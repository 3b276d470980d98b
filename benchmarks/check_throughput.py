"""How fast `kb check` is, measured against the embedding model it would otherwise be bounded by: torch.

Builds 1,000+ distinct statements from the knowledge base (faithful wordings, bare numbers, headlines, pairs,
and the labelled statements), then in one run:
  - checks them in batch, as `kb check --jsonl` does (Checker.check_many, ONNX Runtime embedder), and
  - encodes the same texts with a bare torch `model.encode` (sentence-transformers),
alternating the two twice and keeping each one's best time, and prints the ratio.
Also prints the cold time of `kb check "text"` next to `python -c "import sentence_transformers"` (after one untimed
`kb check`, which builds the ONNX export and the start-up caches if they are missing), the warm per-statement
latency (median, p95) of single checks, and the time to check one 20,000-character statement (an article where 1
text in 10 reports a result, the rest AI chatter and unrelated prose from kb.scan.corpus; and the worst case, every
sentence a report) next to a bare encode of its text in 600-character pieces.

    python benchmarks/check_throughput.py [--statements N] [--skip-cold]

Goals: `ratio R` with R >= 1.5, `cold start: ... (xN)` with N <= 0.5, `warm ... median M ms` with M <= 10.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def statements(kb, wanted: int) -> list[str]:
    from kb.format import format_value
    from kb.wording import faithful_sentence

    claims = [c for c in kb.claims.values() if c.value is not None]
    texts = [s.text for s in kb.statements.values()]
    for c in kb.claims.values():
        model, behaviour = kb.models[c.model].name, kb.behaviours[c.behaviour]
        texts.append(faithful_sentence(kb, c))
        texts.append(f"{model} {behaviour.phrase}" + (f" {format_value(c)} of the time." if c.value is not None else "."))
        texts.append(f"BREAKING: {model.upper()} {behaviour.phrase.upper()}!")
        texts.append(f"{model}, {behaviour.label.lower()}: {c.value_text} ({c.locator}).")
    for a, b in zip(claims, claims[7:] + claims[:7]):
        texts.append(f"{kb.models[a.model].name}: {format_value(a)}. And {kb.models[b.model].name} "
                     f"{kb.behaviours[b.behaviour].phrase} in {format_value(b)} of tests.")
    for c in claims:  # the number moved to the wrong model or condition, as misreports do
        other = next(m for m in kb.models.values() if m.id != c.model)
        texts.append(f"According to {kb.source_of(c).title}, {other.name} {kb.behaviours[c.behaviour].phrase} "
                     f"{format_value(c)} of the time, researchers said.")
    distinct = list(dict.fromkeys(texts))
    return distinct[:wanted]


def long_statement(kb, chars: int, reporting_every: int) -> str:
    """A deterministic statement of `chars` characters: one text in `reporting_every` reports a result (1: all of
    them), the others AI chatter (one in four) and unrelated prose, as kb.scan.corpus mixes them."""
    from kb.scan.corpus import generate

    rng = random.Random(7)
    by_kind: dict = {"reporting": [], "chatter": [], "prose": []}
    for index, (_id, _date, text) in enumerate(generate(kb, 3000)):
        slot = index % 100
        by_kind["reporting" if slot == 0 else "chatter" if slot <= 4 else "prose"].append(text)
    parts, length, index = [], 0, 0
    while length < chars:
        kind = ("reporting" if index % reporting_every == 0 else "chatter" if index % 4 == 1 else "prose")
        parts.append(rng.choice(by_kind[kind]))
        length += len(parts[-1]) + 1
        index += 1
    return " ".join(parts)[:chars]


def best_of(fn, rounds: int = 2) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def cold(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--statements", type=int, default=1100)
    parser.add_argument("--skip-cold", action="store_true", help="skip the two subprocess start-up timings")
    args = parser.parse_args()

    if not args.skip_cold:
        kb_cmd = [str(Path(sys.executable).with_name("kb")), "check", "o1 tried to disable oversight 5% of the time"]
        subprocess.run(kb_cmd, cwd=ROOT, stdout=subprocess.DEVNULL, check=False)  # builds what a first use builds
        cold_check = cold(kb_cmd)
        cold_import = cold([sys.executable, "-c", "import sentence_transformers"])
        print(f"cold start: kb check \"text\" {cold_check:.2f} s; python -c 'import sentence_transformers' "
              f"{cold_import:.2f} s (x{cold_check / cold_import:.2f})")

    from kb.check import load_checker
    from kb.check.embed import _shared_model

    checker = load_checker(ROOT)
    print(f"checker's embedder: {type(checker.embedder).__name__}")
    texts = statements(checker.kb, args.statements)
    model = _shared_model()  # the torch model, for the bare encode
    encode = lambda: model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)  # noqa: E731
    check = lambda: list(checker.check_many((str(i), t) for i, t in enumerate(texts)))  # noqa: E731
    encode(), check()  # warm-up: first calls pay for allocation and caches
    encode_s = best_of(encode)
    check_s = best_of(check)

    latencies = []
    for text in texts[:200]:
        start = time.perf_counter()
        checker.check(text)
        latencies.append((time.perf_counter() - start) * 1000)
    p95 = statistics.quantiles(latencies, n=20)[-1]
    print(f"warm single-statement latency over {len(latencies)} checks: median {statistics.median(latencies):.1f} ms, "
          f"p95 {p95:.1f} ms")
    for every, what in ((10, "an article, 1 text in 10 reporting"), (1, "every sentence reporting")):
        text = long_statement(checker.kb, 20_000, every)
        pieces = [text[i:i + 600] for i in range(0, len(text), 600)]
        long_check = best_of(lambda: checker.check(text))  # noqa: B023
        long_encode = best_of(lambda: model.encode(pieces, batch_size=64, show_progress_bar=False))  # noqa: B023
        print(f"20,000-character statement ({what}): check {long_check:.2f} s, bare encode {long_encode:.2f} s")
    check_rate, encode_rate = len(texts) / check_s, len(texts) / encode_s
    print(f"{len(texts)} distinct statements; batch check {check_s:.2f} s, bare encode {encode_s:.2f} s")
    print(f"ratio {check_rate / encode_rate:.2f} (check {check_rate:.0f}/s, encode {encode_rate:.0f}/s)")


if __name__ == "__main__":
    main()
