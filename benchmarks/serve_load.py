"""A bounded load on `kb serve`'s check API over loopback: a fixed number of requests from a few concurrent clients.

Starts `kb serve` on a free loopback port (or uses --url), waits for it, makes one check to load the checker
(reported separately: it is the cold start, not the load), then sends --requests POSTs of {"text": ...} to
/-/check.json from --clients threads, each on its own keep-alive connection. The texts are the knowledge base's
own statements (read from the server) and a few short headlines, in turn. Runs in the project's environment:
it builds the database (kb.build) when stale and picks the port as `kb serve` does.

    python benchmarks/serve_load.py [--requests 200] [--clients 4] [--url http://127.0.0.1:8001] [--db build/kb.db]

Prints requests/s, median and p99 latency and the error count (any answer other than 200, or a failed
connection); exits 1 if there was an error. The server checks one request at a time on its checker thread, so
more clients add queueing, not throughput. Figures depend on the machine and on what else runs on it.
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
    """`kb serve` on a free loopback port, stopped with Ctrl-C (SIGINT) when done; yields its base URL.

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
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def statement_texts(base: str) -> list[str]:
    with urllib.request.urlopen(base + "/kb/statements.json?_shape=array&_col=text&_size=max", timeout=60) as answer:
        return [row["text"] for row in json.load(answer)] + HEADLINES


class Client(threading.Thread):
    """One client on one keep-alive connection, taking request numbers from a shared counter until none are left."""

    def __init__(self, base: str, texts: list[str], counter, latencies: list, errors: list):
        super().__init__(daemon=True)
        self.url = urlparse(base)
        self.texts, self.counter, self.latencies, self.errors = texts, counter, latencies, errors
        self.connection = None

    def run(self):
        for number in iter(self.counter, None):
            self.latencies.append(self.one(self.texts[number % len(self.texts)]))

    def one(self, text: str) -> float:
        body = json.dumps({"text": text}).encode()
        start = time.perf_counter()
        try:
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.url.hostname, self.url.port, timeout=120)
            self.connection.request("POST", "/-/check.json", body, {"content-type": "application/json"})
            answer = self.connection.getresponse()
            payload = answer.read()
            if answer.status != 200 or "verdict" not in json.loads(payload):
                self.errors.append(f"{answer.status}: {payload[:200]!r}")
        except (OSError, http.client.HTTPException, ValueError) as exc:
            self.errors.append(repr(exc))
            self.connection = None  # reconnect for the next request
        return time.perf_counter() - start


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


def run_load(base: str, requests: int, clients: int) -> dict:
    texts = statement_texts(base)
    latencies, errors = [], []
    counter = request_counter(requests)
    threads = [Client(base, texts, counter, latencies, errors) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    return {"texts": len(texts), "wall": wall, "latencies": sorted(latencies), "errors": errors}


def report(figures: dict, requests: int, clients: int, cold: float) -> list[str]:
    latencies = figures["latencies"]
    p99 = statistics.quantiles(latencies, n=100, method="inclusive")[98] if len(latencies) > 1 else latencies[0]
    lines = [f"first check (loads the checker): {cold:.2f} s",
             f"{requests} requests from {clients} clients ({figures['texts']} distinct texts) "
             f"in {figures['wall']:.2f} s",
             f"requests/s {requests / figures['wall']:.1f}",
             f"latency median {statistics.median(latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
             f"max {latencies[-1] * 1000:.0f} ms",
             f"errors {len(figures['errors'])}"]
    lines += [f"  {error}" for error in figures["errors"][:5]]
    lines.append(f"(machine: {os.cpu_count()} CPUs, shared; figures are noisy when other work runs)")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="how many requests in all (default 200)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (default 4)")
    parser.add_argument("--url", help="an already running server (default: start kb serve on a free port)")
    parser.add_argument("--db", type=Path, help="the database kb serve serves (default build/kb.db)")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.clients < 1:
        parser.error("--requests and --clients must be at least 1")
    with (nullcontext(args.url.rstrip("/")) if args.url else kb_serve(args.db)) as base:
        cold = wait_for(base + "/-/check.json?text=" + quote("o1 schemed"), None, timeout=300)
        figures = run_load(base, args.requests, args.clients)
    print("\n".join(report(figures, args.requests, args.clients, cold)))
    return 1 if figures["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
