"""kb scan's speed on a firehose-like corpus: texts/s end to end, the prefilter's pass rate, peak memory.

    python benchmarks/scan_throughput.py                      # 100,000 texts, local engine
    python benchmarks/scan_throughput.py --sizes 10000 100000 1000000 --ray
    python benchmarks/scan_throughput.py --files 1           # the corpus in one JSONL file

The corpus is kb.scan.corpus's deterministic mix: 1% statements that report results, 4% AI chatter that reports
none, 95% unrelated prose, in 4 JSONL files or --files N (generated first, not timed). Each run is the real `kb scan` command
with default flags, in a fresh process, timed from start to exit (loading the checker included); its peak RSS
comes from the operating system (wait4: the largest single process) and from sampling /proc (the scan and its
checker processes together). With --ray the same corpus is scanned with --engine ray (a local Ray
instance; its workers are other processes, so only texts/s is reported). --verify N runs the checker on N texts
the prefilter dropped and counts those it would have flagged (the gate's misses on this corpus; expect 0).
The load average is printed before and after: figures move when other work shares the machine.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# `python -m kb.cli` with this checkout first on the path: the `kb` script next to the interpreter imports whichever
# checkout it was installed from, which need not be the one being measured.
KB = [sys.executable, "-m", "kb.cli"]
LAST = re.compile(r"scanned ([\d,]+) texts in ([\d.]+) s \(([\d,]+) texts/s\); ([\d,]+) passed the prefilter; ([\d,]+) flagged")


def number(text: str) -> int:
    return int(text.replace(",", ""))


def _tree_rss_kb(root_pid: int) -> int:
    """Resident memory (kB) of a process and all its descendants, from /proc (0 where /proc is not there)."""
    children: dict = {}
    rss: dict = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            status = (entry / "status").read_text()
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
        rss[int(entry.name)] = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total


def run_scan(corpus: Path, out: Path, *extra) -> dict:
    """One `kb scan` in a fresh process: wall time, its last line, and peak memory: of the largest single process
    (wait4), and of the whole process tree (the scan and its checker processes, sampled 4 times a second)."""
    started = time.perf_counter()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    process = subprocess.Popen([*KB, "--root", str(ROOT), "scan", str(corpus), "--out", str(out), "--no-progress", *extra],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.wait(0.25):
            peak[0] = max(peak[0], _tree_rss_kb(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _pid, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    stdout, stderr = process.stdout.read(), process.stderr.read()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"kb scan failed ({status}):\n{stderr[-3000:]}")
    match = LAST.search(stdout.strip().splitlines()[-1])
    texts, passed, flagged = number(match[1]), number(match[4]), number(match[5])
    return {"texts": texts, "seconds": wall, "rate": texts / wall, "passed": passed, "flagged": flagged,
            "rss_mb": usage.ru_maxrss / 1024, "tree_mb": peak[0] / 1024, "cpu": usage.ru_utime + usage.ru_stime, "line": stdout.strip().splitlines()[-1]}


def verify(kb, count: int, sample: int) -> dict:
    """Among texts the prefilter drops (every reporting and chatter one, and `sample` of the rest): per kind, how
    many were checked and in how many the checker finds a result."""
    from kb.check import load_checker
    from kb.scan.corpus import generate
    from kb.scan.prefilter import Prefilter

    gate = Prefilter(kb)
    dropped = [(tid, text) for tid, _date, text in generate(kb, count) if not gate.passes(text)]
    chosen = random.Random(7).sample(dropped, min(sample, len(dropped)))
    # Every reporting and chatter text the gate dropped, plus a random sample of the rest.
    must = [(tid, text) for tid, text in dropped if int(tid[1:]) % 100 <= 4]
    chosen = list(dict(must + chosen).items())
    out = {"reporting": [0, 0], "chatter": [0, 0], "prose": [0, 0]}
    for result in load_checker(ROOT).check_many(chosen):
        slot = int(result["id"][1:]) % 100
        kind = "reporting" if slot == 0 else "chatter" if slot <= 4 else "prose"
        out[kind][0] += 1
        out[kind][1] += result["verdict"] in ("missing_context", "misstated", "ok")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--ray", action="store_true", help="also time --engine ray on the first size")
    parser.add_argument("--verify", type=int, default=1000, metavar="N",
                        help="check N dropped texts with the checker (0: skip)")
    parser.add_argument("--files", type=int, default=4, help="JSONL files the corpus is written in (1: one file)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from kb.build import load_valid
    from kb.scan.corpus import write_jsonl

    kb = load_valid(ROOT)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory(prefix="caveat-scan-bench-") as tmp:
        for index, size in enumerate(args.sizes):
            corpus = Path(tmp) / f"corpus-{size}"
            write_jsonl(kb, corpus, size, shards=args.files)
            local = run_scan(corpus, Path(tmp) / f"out-{size}")
            print(f"local {size:>9,} texts: {local['rate']:7,.0f} texts/s end to end ({local['seconds']:.1f} s); "
                  f"prefilter pass rate {local['passed'] / local['texts']:.2%} ({local['passed']:,}); "
                  f"{local['flagged']:,} flagged; peak RSS {local['rss_mb']:,.0f} MB largest process, "
                  f"{local['tree_mb']:,.0f} MB all processes; {local['cpu']:,.0f} CPU s")
            print(f"    kb scan said: {local['line']}")
            if args.ray and index == 0:
                ray = run_scan(corpus, Path(tmp) / f"ray-{size}", "--engine", "ray")
                print(f"ray   {size:>9,} texts: {ray['rate']:7,.0f} texts/s end to end ({ray['seconds']:.1f} s, "
                      f"starting Ray included); {ray['passed']:,} passed, {ray['flagged']:,} flagged")
    if args.verify:
        kinds = verify(kb, min(args.sizes), args.verify)
        print("texts the prefilter dropped, checked with the checker anyway (the checker's verdict is not no_claim in):")
        for kind, (checked, found) in kinds.items():
            note = {"reporting": "gate misses", "chatter": "checker false alarms the gate avoided",
                    "prose": "checker false alarms the gate avoided"}[kind]
            print(f"    {kind:9} {found} of {checked} dropped ({note})")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
