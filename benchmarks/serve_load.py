"""A bounded, mixed load on `kb serve` over loopback: one-line checks, 100-statement batches and ad-hoc SQL at once.

Starts `kb serve` on a free loopback port (or uses --url), waits for it, makes one check to load the checker
(reported separately: it is the cold start, not the load), notes the server's memory (RSS), then sends --requests
requests from --clients threads, each on its own keep-alive connection. Request i is, in turn: a one-line check
(POST {"text": ...} to /-/check.json) seven times in ten, a 100-statement batch once, ad-hoc SQL twice (ordinary
queries, plus hostile ones that must be refused with a 400: a gigabyte blob, a runaway recursive query). Texts are
the knowledge base's own statements (read from the server) and a few short headlines. Runs in the project's
environment: it builds the database (kb.build) when stale and picks the port as `kb serve` does.

    python benchmarks/serve_load.py [--requests 320] [--clients 16] [--url http://127.0.0.1:8001] [--db build/kb.db]

Prints, per kind of request, the count, statuses, median and p99 latency; the 429s (the server's deliberate
"busy, retry after" answers when too many statements wait) apart from errors (any other unexpected answer, or a
failed connection); and the server's RSS growth after the first check (sampled every 0.2 s; only when it started
the server). Exits 1 on an error or a growth over 300 MB. Figures depend on the machine and what else runs on it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager, nullcontext
from pathlib import Path
from urllib.parse import quote, urlparse

from kb.pipeline import ensure_database
from kb.publish.serve import free_port

ROOT = Path(__file__).resolve().parent.parent
HEADLINES = ["o1 tried to disable its oversight mechanism 5% of the time.",
             "o3 sabotaged shutdown in 79% of runs, even when told to allow it.",
             "Claude blackmailed an engineer 96% of the time.",
             "AI models lie to their users.",
             "The weather in Lisbon was lovely this weekend."]


def wait_for(url: str, process: subprocess.Popen | None, timeout: float) -> float:
    """Seconds until `url` answers 200 (the server may build the database first, then load the checker)."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if process is not None and process.poll() is not None:
            sys.exit(f"kb serve exited with status {process.returncode}; run it by hand to see why")
        try:
            with urllib.request.urlopen(url, timeout=timeout):
                return time.perf_counter() - start
        except OSError:
            time.sleep(0.2)
    sys.exit(f"{url} did not answer within {timeout:.0f} s")


@contextmanager
def kb_serve(db: Path | None):
    """`kb serve` on a free loopback port, stopped with Ctrl-C (SIGINT) when done; yields its base URL and pid.

    The database is built first when stale, so the server starts cold and the first check loads the checker (a
    `kb serve` that rebuilds would load the model while building, and the cold figure would hide it).
    """
    ensure_database(ROOT, db, before_build=lambda path: print(f"Building {path} (it is missing or older than the "
                                                              "data)...", flush=True))
    port = free_port("127.0.0.1", 0)
    command = [sys.executable, "-m", "kb.cli", "--root", str(ROOT), "serve", "--port", str(port)]
    command += ["--db", str(db)] if db else []
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(base + "/-/versions.json", process, timeout=600)
        yield base, process.pid
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def statement_texts(base: str) -> list[str]:
    with urllib.request.urlopen(base + "/kb/statements.json?_shape=array&_col=text&_size=max", timeout=60) as answer:
        return [row["text"] for row in json.load(answer)] + HEADLINES


SQL = [  # (query, the status it must get)
    ("select id, model, value from claims order by value desc limit 20", 200),
    ("select c.id, s.title from claims c join sources s on s.id = c.source_id where c.metric = 'rate'", 200),
    ("select behaviour, count(*) as n, avg(value) from claims group by behaviour", 200),
    ("select randomblob(1000000000)", 400),  # a gigabyte in one expression: refused by the length limit
    ("with recursive r(n) as (select 1 union all select n + 1 from r) select count(*) from r", 400),  # time limit
]
KINDS = ["one-line"] * 7 + ["batch"] + ["sql"] * 2
BATCH = 100
MEMORY_LIMIT_MB = 300


class Client(threading.Thread):
    """One client on one keep-alive connection, taking request numbers from a shared counter until none are left."""

    def __init__(self, base: str, texts: list[str], counter, results: list):
        super().__init__(daemon=True)
        self.url = urlparse(base)
        self.texts, self.counter, self.results = texts, counter, results
        self.connection = None

    def run(self):
        for number in iter(self.counter, None):
            kind = KINDS[number % len(KINDS)]
            self.results.append((kind, *self.one(kind, number)))

    def request(self, number: int, kind: str) -> tuple[str, str, bytes | None, int]:
        """(method, path, body, the status it must get)."""
        if kind == "sql":
            query, expected = SQL[number // len(KINDS) % len(SQL)]
            return "GET", "/kb.json?_shape=array&sql=" + quote(query), None, expected
        if kind == "batch":
            texts = [self.texts[(number + i) % len(self.texts)] for i in range(BATCH)]
            return "POST", "/-/check.json", json.dumps({"statements": texts}).encode(), 200
        return "POST", "/-/check.json", json.dumps({"text": self.texts[number % len(self.texts)]}).encode(), 200

    def one(self, kind: str, number: int) -> tuple[float, int | None, str | None]:
        """(seconds, status, error or None) of one request."""
        method, path, body, expected = self.request(number, kind)
        start = time.perf_counter()
        status, error = None, None
        try:
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.url.hostname, self.url.port, timeout=300)
            headers = {"content-type": "application/json"} if body else {}
            self.connection.request(method, path, body, headers)
            answer = self.connection.getresponse()
            payload, status = answer.read(), answer.status
            if status == 429 and kind != "sql":
                if not answer.getheader("retry-after", "").isdigit():
                    error = "429 without a Retry-After"
            elif status != expected:
                error = f"{kind} {status} (expected {expected}): {payload[:200]!r}"
            elif kind != "sql" and "verdict" not in payload.decode("utf-8"):
                error = f"{kind} {status} without a verdict: {payload[:200]!r}"
        except (OSError, http.client.HTTPException, ValueError) as exc:
            error = f"{kind}: {exc!r}"
            self.connection = None  # reconnect for the next request
        return time.perf_counter() - start, status, error


class MemorySampler(threading.Thread):
    """The server process's resident memory, sampled until stopped (Linux /proc; nothing elsewhere)."""

    def __init__(self, pid: int | None):
        super().__init__(daemon=True)
        self.pid, self.samples, self.stopped = pid, [], threading.Event()

    def run(self):
        while not self.stopped.wait(0.2):
            self.samples.append(rss_mb(self.pid))

    def stop(self) -> list[float]:
        self.stopped.set()
        self.join()
        return [s for s in self.samples if s is not None]


def rss_mb(pid: int | None) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmRSS:"))
    except (OSError, StopIteration, TypeError):
        return None


def request_counter(total: int):
    """A thread-safe source of request numbers 0..total-1, then None."""
    lock, state = threading.Lock(), {"next": 0}

    def take():
        with lock:
            if state["next"] >= total:
                return None
            state["next"] += 1
            return state["next"] - 1

    return take


def run_load(base: str, requests: int, clients: int, pid: int | None) -> dict:
    texts = statement_texts(base)
    results: list = []
    counter = request_counter(requests)
    threads = [Client(base, texts, counter, results) for _ in range(clients)]
    baseline = rss_mb(pid)
    sampler = MemorySampler(pid)
    sampler.start()
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    samples = sampler.stop()
    return {"texts": len(texts), "wall": wall, "results": results, "rss_baseline": baseline,
            "rss_peak": max(samples, default=None), "rss_end": rss_mb(pid)}


def percentile(values: list[float], fraction: float) -> float:
    values = sorted(values)
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(fraction * 100) - 1]


def report(figures: dict, requests: int, clients: int, cold: float) -> tuple[list[str], bool]:
    results = figures["results"]
    errors = [error for _kind, _s, _status, error in results if error]
    lines = [f"first check (loads the checker): {cold:.2f} s",
             f"{requests} requests from {clients} clients ({figures['texts']} distinct texts) in {figures['wall']:.1f} s"]
    for kind in ("one-line", "batch", "sql"):
        mine = [(seconds, status) for k, seconds, status, _error in results if k == kind]
        if not mine:
            continue
        done = [seconds for seconds, status in mine if status != 429]
        statuses = ", ".join(f"{status}: {n}" for status, n in sorted(
            {s: sum(1 for _x, t in mine if t == s) for _x, s in mine}.items(), key=lambda item: str(item[0])))
        timing = (f"median {statistics.median(done) * 1000:.0f} ms, p99 {percentile(done, 0.99) * 1000:.0f} ms, "
                  f"max {max(done) * 1000:.0f} ms" if done else "none answered")
        lines.append(f"{kind:9} {len(mine):4} requests ({statuses}); answered: {timing}")
    busy = sum(1 for _k, _s, status, _e in results if status == 429)
    lines.append(f"deliberate 429s (busy, with Retry-After): {busy}")
    lines.append(f"errors (anything else unexpected): {len(errors)}")
    lines += [f"  {error}" for error in errors[:5]]
    baseline, peak, end = figures["rss_baseline"], figures["rss_peak"], figures["rss_end"]
    too_big = False
    if baseline is not None and peak is not None:
        growth = peak - baseline
        too_big = growth > MEMORY_LIMIT_MB
        lines.append(f"server RSS after the first check {baseline:.0f} MB; peak under load {peak:.0f} MB "
                     f"(growth {growth:+.0f} MB, limit {MEMORY_LIMIT_MB}); at the end {end:.0f} MB")
    else:
        lines.append("server RSS: not measured (a server given with --url, or no /proc)")
    lines.append(f"(machine: {os.cpu_count()} CPUs, shared; figures are noisy when other work runs)")
    return lines, bool(errors) or too_big


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=320, help="how many requests in all (default 320)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--url", help="an already running server (default: start kb serve on a free port)")
    parser.add_argument("--db", type=Path, help="the database kb serve serves (default build/kb.db)")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.clients < 1:
        parser.error("--requests and --clients must be at least 1")
    with (nullcontext((args.url.rstrip("/"), None)) if args.url else kb_serve(args.db)) as (base, pid):
        cold = wait_for(base + "/-/check.json?text=" + quote("o1 schemed"), None, timeout=300)
        figures = run_load(base, args.requests, args.clients, pid)
    lines, failed = report(figures, args.requests, args.clients, cold)
    print("\n".join(lines))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
