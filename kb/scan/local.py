"""The local engine: the gate in this process, the checker in worker processes, streaming in bounded memory.

This process reads the input files one after another, parses their rows and runs the gate (kb.scan.prefilter);
the texts that pass go, a batch at a time, to `--workers` checker processes (by default one per two cores, each
using the cores left to it for the embedding model). The workers start loading the checker (spaCy, the embedding
model, the knowledge base: seconds) at once, while this process builds the gate and reads: the two share the
machine's cores instead of taking turns. A scan in which no text passes the gate never waits for them.

Output is written per input file: the file's findings go to a hidden temporary Parquet file that is renamed into
findings/ when the file's last batch is back, and a marker in DIR/_scan/done/ is written last. An interrupted scan
run again with the same DIR skips finished files and redoes the unfinished ones, overwriting their parts: no file is
redone and no row is written twice.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import os
import queue
import threading
import time
from pathlib import Path

from kb.scan import output
from kb.scan.options import ScanError, ScanOptions, ScanReport, UsageError
from kb.scan.readers import BadRow, InputFile, input_files, read_rows

STATE = "_scan"
# Batches of gated texts sent to the checkers and not yet back: the reader's lead over them, and the memory bound
# (a batch is --batch-size short texts). A lead of many batches lets the reader finish a small corpus while the
# checkers are still loading, so that afterwards they have the machine to themselves.
IN_FLIGHT = 64
MEMO = 4096  # distinct texts whose results each checker process keeps for repeats (a few MB)
POLL = 0.5  # seconds between checks that the checker processes are still alive while waiting for them


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


# ---------------------------------------------------------------- the checker processes

def _checker_process(root: str, threads: int, tasks, results):
    """A worker: load the checker, then run its batch function on each (batch number, [(id, text)]) task."""
    import traceback

    try:
        from kb.check.embed import set_threads

        set_threads(threads)
        checker = _load_checker(Path(root))
    except BaseException as exc:  # noqa: BLE001 (reported to the scan, which exits 3)
        results.put(("failed", None, f"loading the checker failed: {exc!r}\n{traceback.format_exc()}"))
        return
    results.put(("ready", None, None))
    memo = Memo(MEMO)
    while True:
        task = tasks.get()
        if task is None:
            return
        number, items = task
        try:
            found, repeats = memo.check(checker, items)
        except BaseException as exc:  # noqa: BLE001
            results.put(("failed", number, f"the checker failed on a batch: {exc!r}\n{traceback.format_exc()}"))
            return
        results.put(("done", number, (found, repeats)))


class Memo:
    """The results of the last `size` distinct texts a checker process checked. A firehose repeats itself (reposts,
    syndicated copies, quotes): a text checked before gets the same result again, under its own id, without
    running the checker. The checker's result depends on the text alone (the id is only echoed), so this changes
    no verdict."""

    def __init__(self, size: int):
        from collections import OrderedDict

        self.size, self.results = size, OrderedDict()

    def check(self, checker, items: list) -> tuple[list, int]:
        """([result per (id, text) item, in order], how many were repeats of a text checked before)."""
        new = list(dict.fromkeys(text for _sid, text in items if text not in self.results))
        for text, result in zip(new, checker.check_many([(None, text) for text in new], batch_size=max(1, len(new)))):
            self.results[text] = _slim(result)
        out = []
        for sid, text in items:
            self.results.move_to_end(text)
            out.append(dict(self.results[text], id=sid))
        while len(self.results) > self.size:
            self.results.popitem(last=False)
        return out, len(items) - len(new)


def _slim(result: dict) -> dict:
    """What the scan writes from a result (kb.scan.output reads only these): no need to send the text back."""
    return {k: result[k] for k in ("verdict", "findings", "error") if k in result}


class Checkers:
    """`workers` checker processes fed from one task queue; results (in any order) come out of `result()`."""

    def __init__(self, root: Path, workers: int, threads: int):
        import multiprocessing

        context = multiprocessing.get_context("spawn")  # torch and threads do not survive fork
        self.tasks = context.Queue()
        self.queue = context.Queue()
        self.processes = [context.Process(target=_checker_process, args=(str(root), threads, self.tasks, self.queue),
                                          daemon=True, name=f"kb-scan-checker-{i}") for i in range(workers)]
        for process in self.processes:
            process.start()
        self.submitted = 0

    def submit(self, number: int, items: list):
        self.tasks.put((number, items))
        self.submitted += 1

    def result(self):
        """The next (batch number, (results, repeats)); raises ScanError when a worker failed or died."""
        while True:
            try:
                kind, number, payload = self.queue.get(timeout=POLL)
            except queue.Empty:
                dead = [p for p in self.processes if not p.is_alive()]
                if dead:
                    raise ScanError(f"a checker process stopped (exit code {dead[0].exitcode})") from None
                continue
            if kind == "failed":
                raise ScanError(payload)
            if kind == "done":
                return number, payload

    def close(self):
        """Stop the workers: told to when they did some work (they are idle now), ended at once when not (they may
        still be loading the checker, which nothing needs)."""
        for _ in self.processes:
            self.tasks.put(None)
        deadline = time.monotonic() + (2 if self.submitted else 0)
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.terminate()
                process.join()
        for channel in (self.tasks, self.queue):
            channel.cancel_join_thread()
            channel.close()


def _load_checker(root):
    from kb.check import load_checker

    return load_checker(root)


# ---------------------------------------------------------------- the whole scan

def stamp(options: ScanOptions, root: Path) -> dict:
    from kb.project import data_hash

    return {"text_field": options.text_field, "id_field": options.id_field, "time_field": options.time_field,
            "paragraphs": options.paragraphs, "knowledge_base": data_hash(root)}


def load_gate(root: Path, knowledge_base=None):
    from kb.build import load_valid
    from kb.scan.prefilter import Prefilter

    return Prefilter(knowledge_base or load_valid(root))


class _File:
    """One input file being scanned: its findings writer, its checker-error part, and how many batches are out."""

    def __init__(self, source: InputFile, state: State):
        import pyarrow.parquet as pq

        self.source, self.state = source, state
        self.path = state.findings_path(source)
        self.tmp = self.path.with_name("." + self.path.name + ".tmp")
        self.writer = pq.ParquetWriter(self.tmp, output.finding_schema())
        self.errors_tmp = state.errors_path(source, "check").with_suffix(".tmp")
        self.errors = self.errors_tmp.open("w", encoding="utf-8")
        self.rows: dict = {}  # batch number -> the rows sent (their file, line, date are not sent to the checkers)
        self.counts: ScanReport | None = None  # set when the reader has finished the file
        self.flagged = self.check_errors = 0

    def write(self, rows: list, results: list):
        found = []
        for row, result in zip(rows, results):
            if result.get("error"):
                self.errors.write(json.dumps(output.checker_error(row.file, row.line, row.id, result),
                                             ensure_ascii=False) + "\n")
                self.check_errors += 1
                continue
            self.flagged += output.is_flagged(result)
            found += output.finding_rows(result, output.date_text(row.date), output.week_of(row.date), row.file, row.line)
        if found:
            self.writer.write_table(output.findings_table(found))

    @property
    def finished(self) -> bool:
        return self.counts is not None and not self.rows

    def finish(self) -> ScanReport:
        self.writer.close()
        self.errors.close()
        counts = self.counts
        counts.flagged, counts.errors = self.flagged, counts.errors + self.check_errors
        self.tmp.replace(self.path)
        for side in ("read", "check"):
            self.state.errors_path(self.source, side).with_suffix(".tmp").replace(self.state.errors_path(self.source, side))
        self.state.finish(self.source, counts)
        counts.files_done = 1
        return counts

    def abandon(self):
        self.writer.close()
        self.errors.close()
        self.tmp.unlink(missing_ok=True)


class _Reader(threading.Thread):
    """Reads and gates every file in turn; sends each batch of texts that passed to the checkers; tells the scan
    (through `events`) which batches belong to which file and when a file is read to the end."""

    def __init__(self, todo, state, fields, batch_size, gate_loader, checkers, events):
        super().__init__(daemon=True, name="kb-scan-reader")
        self.todo, self.state, self.fields, self.batch_size = todo, state, fields, batch_size
        self.gate_loader, self.checkers, self.events = gate_loader, checkers, events
        self.slots = threading.Semaphore(IN_FLIGHT)
        self.stop = threading.Event()
        self.read_bytes = 0.0

    def run(self):
        try:
            gate = self.gate_loader()
            number, base = 0, 0
            for index, source in enumerate(self.todo):
                counts = ScanReport()
                batch: list = []

                def position(fraction, base=base, size=source.size):
                    self.read_bytes = base + min(fraction, 1.0) * size
                with self.state.errors_path(source, "read").with_suffix(".tmp").open("w", encoding="utf-8") as errors:
                    for row in read_rows(source, self.fields, position):
                        if isinstance(row, BadRow):
                            counts.errors += 1
                            errors.write(json.dumps(output.error_dict(row), ensure_ascii=False) + "\n")
                            continue
                        counts.scanned += 1
                        if gate.passes(row.text):
                            counts.passed += 1
                            batch.append(row)
                            if len(batch) >= self.batch_size:
                                number = self._send(index, number, batch)
                                batch = []
                        if self.stop.is_set():
                            return
                if batch:
                    number = self._send(index, number, batch)
                base += source.size
                self.read_bytes = base
                self.events.put(("read", index, counts))
            self.events.put(("all read", None, None))
        except BaseException as exc:  # handed to the scan, which raises it
            self.events.put(("failed", None, exc))

    def _send(self, index: int, number: int, rows: list) -> int:
        while not self.slots.acquire(timeout=POLL):
            if self.stop.is_set():
                raise SystemExit
        self.events.put(("sent", index, (number, rows, self.read_bytes)))
        self.checkers.submit(number, [(row.id, row.text) for row in rows])
        return number + 1


def scan_local(options: ScanOptions, progress: bool = False) -> ScanReport:
    from kb.project import find_root

    options.check()
    started = time.perf_counter()
    root = find_root(options.root)
    files = input_files(options.inputs)
    if "://" in str(options.out):
        raise UsageError(f"--out {options.out}: the local engine writes to a local folder; use --engine ray for URIs")
    state = State(Path(options.out), stamp(options, root))
    report = ScanReport(out=Path(options.out))
    todo = []
    for source in files:
        (report.files_skipped if state.done(source) else todo).append(source)
    report.files_skipped = [s.path for s in report.files_skipped]
    checkers = None
    knowledge_base = {}
    if todo:
        workers = options.checker_processes()
        checkers = Checkers(root, workers, max(1, (os.cpu_count() or 1) // workers))

    def gate():
        from kb.build import load_valid

        knowledge_base["kb"] = load_valid(root)
        return load_gate(root, knowledge_base["kb"])

    bar = _progress_bar(todo, progress)
    try:
        if todo:
            _scan_files(todo, state, options, checkers, gate, bar, report)
    finally:
        bar.close()
        if checkers is not None:
            checkers.close()
    if "kb" not in knowledge_base:
        from kb.build import load_valid

        knowledge_base["kb"] = load_valid(root)
    finalise(state, files, knowledge_base["kb"])
    report.files_done = len(todo)
    report.seconds = time.perf_counter() - started
    return report


def _scan_files(todo, state, options, checkers, gate, bar, report):
    """Take the reader's news and the checkers' results as they come; finish each file when its last batch is back."""
    events: queue.Queue = queue.Queue()
    reader = _Reader(todo, state, options.fields(), options.batch_size, gate, checkers, events)
    pending: dict = {}  # batch number -> (file index, bytes read when it was sent)
    open_files: dict = {}
    starts = [sum(s.size for s in todo[:i]) for i in range(len(todo))]

    def file(index):
        if index not in open_files:
            open_files[index] = _File(todo[index], state)
        return open_files[index]

    reader.start()
    status = {"all read": False}

    def take(kind, index, payload):
        if kind == "failed":
            raise payload
        if kind == "sent":
            number, rows, read = payload
            file(index).rows[number] = rows
            pending[number] = (index, read)
        elif kind == "read":
            file(index).counts = payload
        elif kind == "all read":
            status["all read"] = True

    try:
        while not (status["all read"] and not pending):
            # The reader's news first (it says which file a batch belongs to), then one result of the checkers.
            try:
                take(*events.get(timeout=0 if pending else POLL))
            except queue.Empty:
                if pending:
                    number, (found, repeats) = checkers.result()
                    reader.slots.release()
                    while number not in pending:  # back from a second checker before the reader's news of it
                        take(*events.get())
                    index, read = pending.pop(number)
                    open_files[index].write(open_files[index].rows.pop(number), found)
                    report.repeats += repeats
                    bar.reach(read)
            for index in sorted(open_files):
                if open_files[index].finished:
                    report.add(open_files.pop(index).finish())
                    bar.reach(starts[index] + todo[index].size)
    except BaseException:
        reader.stop.set()
        for current in open_files.values():
            current.abandon()
        raise
    reader.join()


def finalise(state: State, files: list, knowledge_base):
    """errors.jsonl (every file's errors, in file and line order) and summary/ from all of findings/."""
    def errors():
        for source in files:
            parts = [state.errors_path(source, side) for side in ("read", "check")]
            streams = [(json.loads(line) for line in p.open(encoding="utf-8")) for p in parts if p.exists()]
            yield from heapq.merge(*streams, key=lambda e: (e.get("line") or 0))

    output.write_errors(state.out / "errors.jsonl", errors())
    output.Summary.from_findings(state.out / "findings").write(knowledge_base, state.out / "summary")


class _progress_bar:
    """A bar over the input bytes (the size is known before reading), so it has a total and an ETA. It counts the
    bytes whose texts are checked (or dropped by the gate), not just read: the reader may be far ahead."""

    def __init__(self, todo: list, show: bool):
        self.bar = None
        if show and todo:
            import sys

            from tqdm import tqdm

            self.bar = tqdm(total=sum(s.size for s in todo), unit="B", unit_scale=True, unit_divisor=1024,
                            desc="scanning", file=sys.stderr, smoothing=0.1)

    def reach(self, done: float):
        if self.bar is not None and done > self.bar.n:
            self.bar.n = min(done, self.bar.total)
            self.bar.refresh()

    def close(self):
        if self.bar is not None:
            self.bar.close()
