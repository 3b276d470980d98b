"""The local engine: one process (or --workers processes, one input file each), streaming in bounded memory.

A reader thread parses rows and runs the gate while the checker works on the previous batch (the embedding model
releases the GIL, so the two share the machine's cores). Output is written per input file: the file's findings go
to a hidden temporary Parquet file that is renamed into findings/ when the file is finished, and a marker in
DIR/_scan/done/ is written last. An interrupted scan run again with the same DIR skips finished files and redoes
the unfinished one, overwriting its part: no file is redone and no row is written twice.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import os
import queue
import threading
import time
from dataclasses import asdict
from pathlib import Path

from kb.scan import output
from kb.scan.options import ScanError, ScanOptions, ScanReport, UsageError
from kb.scan.readers import BadRow, InputFile, input_files, read_rows

STATE = "_scan"
QUEUE_BATCHES = 8  # batches of gated rows waiting for the checker: the reader's lead, and the memory bound


class State:
    """DIR/_scan: the options and knowledge base a scan was started with, and one marker per finished input file."""

    def __init__(self, out: Path, stamp: dict):
        self.out = Path(out)
        self.dir = self.out / STATE
        stamp_path = self.dir / "scan.json"
        if stamp_path.exists():
            before = json.loads(stamp_path.read_text(encoding="utf-8"))
            changed = [k for k in stamp if before.get(k) != stamp[k]]
            if changed:
                raise UsageError(f"{self.out} holds a scan made with other {', '.join(changed)} "
                                 f"({', '.join(f'{k}={before.get(k)!r}' for k in changed)}); resume it with the same "
                                 "options and knowledge base, or scan into a new --out folder")
        for sub in ("done", "errors"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        (self.out / "findings").mkdir(parents=True, exist_ok=True)
        stamp_path.write_text(json.dumps(stamp, indent=1, sort_keys=True) + "\n", encoding="utf-8")

    @staticmethod
    def key(source: InputFile) -> str:
        return hashlib.sha256(source.path.encode("utf-8")).hexdigest()[:16]

    def _marker(self, source) -> Path:
        return self.dir / "done" / f"{self.key(source)}.json"

    def done(self, source: InputFile) -> bool:
        marker = self._marker(source)
        if not marker.exists():
            return False
        record = json.loads(marker.read_text(encoding="utf-8"))
        return record.get("size") == source.size and record.get("mtime") == source.mtime

    def finish(self, source: InputFile, report: ScanReport):
        record = {"file": source.path, "size": source.size, "mtime": source.mtime, "texts": report.scanned,
                  "passed": report.passed, "flagged": report.flagged, "errors": report.errors}
        tmp = self._marker(source).with_suffix(".tmp")
        tmp.write_text(json.dumps(record) + "\n", encoding="utf-8")
        tmp.replace(self._marker(source))

    def findings_path(self, source) -> Path:
        return self.out / "findings" / f"part-{self.key(source)}.parquet"

    def errors_path(self, source, side: str) -> Path:
        return self.dir / "errors" / f"{self.key(source)}.{side}.jsonl"


def _atomic_writer(path: Path):
    import pyarrow.parquet as pq

    tmp = path.with_name("." + path.name + ".tmp")
    return tmp, pq.ParquetWriter(tmp, output.finding_schema())


class FileScanner:
    """Scans whole input files with one checker: gate, check in batches, write the file's parts."""

    def __init__(self, root, fields: dict, batch_size: int, gate, checker_loader):
        self.root, self.fields, self.batch_size = root, fields, batch_size
        self.gate = gate
        self._checker_loader = checker_loader
        self._checker = None

    @property
    def checker(self):
        if self._checker is None:
            self._checker = self._checker_loader()
        return self._checker

    def _produce(self, source, state, channel, position, stop):
        """Reader thread: rows -> gate -> batches of rows that passed; bad rows straight to the file's error part."""
        counts = ScanReport()
        batch = []
        try:
            with state.errors_path(source, "read").with_suffix(".tmp").open("w", encoding="utf-8") as errors:
                for row in read_rows(source, self.fields, position):
                    if stop.is_set():
                        return
                    if isinstance(row, BadRow):
                        counts.errors += 1
                        errors.write(json.dumps(output.error_dict(row), ensure_ascii=False) + "\n")
                        continue
                    counts.scanned += 1
                    if self.gate.passes(row.text):
                        counts.passed += 1
                        batch.append(row)
                        if len(batch) >= self.batch_size:
                            channel.put(("batch", batch))
                            batch = []
            if batch:
                channel.put(("batch", batch))
            channel.put(("end", counts))
        except BaseException as exc:  # handed to the consumer, which raises it
            channel.put(("failed", exc))

    def scan_file(self, source: InputFile, state: State, position=None) -> ScanReport:
        channel: queue.Queue = queue.Queue(maxsize=QUEUE_BATCHES)
        stop = threading.Event()
        reader = threading.Thread(target=self._produce, args=(source, state, channel, position, stop), daemon=True)
        reader.start()
        findings_path = state.findings_path(source)
        tmp, writer = _atomic_writer(findings_path)
        flagged = 0
        try:
            with state.errors_path(source, "check").with_suffix(".tmp").open("w", encoding="utf-8") as errors:
                while True:
                    kind, payload = channel.get()
                    if kind == "failed":
                        raise payload
                    if kind == "end":
                        counts = payload
                        break
                    flagged += self._check(payload, writer, errors)
        except BaseException:
            stop.set()
            _drain(channel)
            writer.close()
            tmp.unlink(missing_ok=True)
            raise
        writer.close()
        reader.join()
        counts.flagged = flagged
        counts.errors += sum(1 for _ in state.errors_path(source, "check").with_suffix(".tmp").open(encoding="utf-8"))
        tmp.replace(findings_path)
        for side in ("read", "check"):
            state.errors_path(source, side).with_suffix(".tmp").replace(state.errors_path(source, side))
        state.finish(source, counts)
        counts.files_done = 1
        return counts

    def _check(self, rows: list, writer, errors) -> int:
        """Run the checker's batch function on rows; write their findings; return how many were flagged."""
        found, flagged = [], 0
        results = self.checker.check_many([(row.id, row.text) for row in rows], batch_size=len(rows))
        for row, result in zip(rows, results):
            if result.get("error"):
                errors.write(json.dumps(output.checker_error(row.file, row.line, row.id, result), ensure_ascii=False) + "\n")
                continue
            flagged += output.is_flagged(result)
            found += output.finding_rows(result, output.date_text(row.date), output.week_of(row.date), row.file, row.line)
        if found:
            writer.write_table(output.findings_table(found))
        return flagged


def _drain(channel):
    try:
        while True:
            channel.get_nowait()
    except queue.Empty:
        pass


# ---------------------------------------------------------------- the whole scan

def stamp(options: ScanOptions, root: Path) -> dict:
    from kb.project import data_hash

    return {"text_field": options.text_field, "id_field": options.id_field, "time_field": options.time_field,
            "knowledge_base": data_hash(root)}


def load_gate(root: Path, knowledge_base=None):
    from kb.build import load_valid
    from kb.scan.prefilter import Prefilter

    return Prefilter(knowledge_base or load_valid(root))


def _load_checker(root):
    from kb.check import load_checker

    return load_checker(root)


def scan_local(options: ScanOptions, progress: bool = False) -> ScanReport:
    from kb.project import find_root

    options.check()
    started = time.perf_counter()
    root = find_root(options.root)
    files = input_files(options.inputs)
    if any("://" in str(options.out) for _ in [0]):
        raise UsageError(f"--out {options.out}: the local engine writes to a local folder; use --engine ray for URIs")
    state = State(Path(options.out), stamp(options, root))
    report = ScanReport(out=Path(options.out))
    todo = []
    for source in files:
        (report.files_skipped if state.done(source) else todo).append(source)
    report.files_skipped = [s.path for s in report.files_skipped]
    single = options.workers == 1 or len(todo) <= 1
    loading = None
    if single and todo:
        # Load the checker (seconds: spaCy, the embedding model) while the knowledge base loads and the reader
        # thread gates the first file.
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(1)
        loading = pool.submit(_load_checker, root)
        pool.shutdown(wait=False)
    from kb.build import load_valid

    knowledge_base = load_valid(root)
    bar = _progress_bar(todo, progress)
    try:
        if single:
            scanner = FileScanner(root, options.fields(), options.batch_size, load_gate(root, knowledge_base),
                                  loading.result if loading else lambda: _load_checker(root))
            for source in todo:
                report.add(scanner.scan_file(source, state, bar.position(source)))
                bar.file_done(source)
        else:
            _scan_parallel(todo, state, options, root, report, bar)
    finally:
        bar.close()
    finalise(state, files, knowledge_base)
    report.files_done = len(todo)
    report.seconds = time.perf_counter() - started
    return report


def finalise(state: State, files: list, knowledge_base):
    """errors.jsonl (every file's errors, in file and line order) and summary/ from all of findings/."""
    def errors():
        for source in files:
            parts = [state.errors_path(source, side) for side in ("read", "check")]
            streams = [(json.loads(line) for line in p.open(encoding="utf-8")) for p in parts if p.exists()]
            yield from heapq.merge(*streams, key=lambda e: (e.get("line") or 0))

    output.write_errors(state.out / "errors.jsonl", errors())
    output.Summary.from_findings(state.out / "findings").write(knowledge_base, state.out / "summary")


# ---------------------------------------------------------------- --workers N: one file per process

_WORKER: dict = {}


def _init_worker(root: str, fields: dict, batch_size: int, threads: int):
    import torch

    torch.set_num_threads(threads)
    root = Path(root)
    _WORKER["scanner"] = FileScanner(root, fields, batch_size, load_gate(root), lambda: _load_checker(root))


def _scan_one(source: InputFile, out: str, stamp_: dict) -> dict:
    state = State(Path(out), stamp_)
    return asdict(_WORKER["scanner"].scan_file(source, state))


def _scan_parallel(todo, state, options, root, report, bar):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    threads = max(1, (os.cpu_count() or 1) // options.workers)
    context = multiprocessing.get_context("spawn")  # torch and threads do not survive fork
    stamp_ = stamp(options, root)
    with ProcessPoolExecutor(options.workers, mp_context=context, initializer=_init_worker,
                             initargs=(str(root), options.fields(), options.batch_size, threads)) as pool:
        futures = {pool.submit(_scan_one, source, str(state.out), stamp_): source for source in todo}
        for future in as_completed(futures):
            try:
                counts = future.result()
            except UsageError:
                raise
            except Exception as exc:
                raise ScanError(f"scanning {futures[future].path} failed in a worker: {exc}") from exc
            report.add(ScanReport(**{k: v for k, v in counts.items() if k in ("scanned", "passed", "flagged", "errors")}))
            bar.file_done(futures[future])


class _progress_bar:
    """A bar over the input bytes (the size is known before reading), so it has a total and an ETA."""

    def __init__(self, todo: list, show: bool):
        self.sizes = {s.path: s.size for s in todo}
        self.done = 0
        self.bar = None
        if show and todo:
            import sys

            from tqdm import tqdm

            self.bar = tqdm(total=sum(self.sizes.values()), unit="B", unit_scale=True, unit_divisor=1024,
                            desc="scanning", file=sys.stderr, smoothing=0.1)

    def position(self, source):
        size = self.sizes.get(source.path, 0)

        def update(fraction: float):
            if self.bar is not None:
                self.bar.n = self.done + min(fraction, 1.0) * size
                self.bar.refresh()
        return update

    def file_done(self, source):
        self.done += self.sizes.get(source.path, 0)
        if self.bar is not None:
            self.bar.n = self.done
            self.bar.refresh()

    def close(self):
        if self.bar is not None:
            self.bar.close()
