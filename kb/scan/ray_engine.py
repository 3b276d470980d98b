"""The Ray engine: the same gate and the same checker batch function, run by Ray Data.

    read_binary_files (JSONL, CSV: lines parsed here, so one bad line costs that line, not the file)
    read_parquet      (Parquet: Ray's reader; the id column is required, as Ray does not keep row numbers)
      -> map_batches(gate)            tasks; the gate is built once per worker process
      -> map_batches(CheckBatch)      actors: the checker (knowledge base, spaCy, embedding model) loads once
                                      per actor; `--workers` actors, `--batch-size` texts per batch
      -> write_parquet(findings/); errors.jsonl and summary/ written by the driver

`ray.init()` starts a local Ray instance; with RAY_ADDRESS set the same command runs on that cluster (every node
needs this package installed and the knowledge base at the same path, or CAVEAT_ROOT set). Paths may be any URI
pyarrow reads. Install with `pip install -e '.[scale]'`.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from kb.scan import output
from kb.scan.options import ScanOptions, ScanReport, UsageError
from kb.scan.readers import BadRow, input_files, make_row, rows_from_bytes, unreadable_file

GATE_BATCH = 4096


def _row_schema():
    import pyarrow as pa

    return pa.schema([("kind", pa.string()), ("file", pa.string()), ("line", pa.int64()), ("id", pa.string()),
                      ("date", pa.string()), ("week", pa.string()), ("text", pa.string()), ("code", pa.string()),
                      ("message", pa.string()), ("scanned", pa.int64()), ("passed", pa.int64()),
                      ("flagged", pa.int64())])


def _result_schema():
    import pyarrow as pa

    extra = [f for f in _row_schema() if f.name in ("kind", "code", "message", "scanned", "passed", "flagged")]
    return pa.schema(list(output.finding_schema()) + extra)


def _unified(row) -> dict:
    if isinstance(row, BadRow):
        return {"kind": "error", "file": row.file, "line": row.line, "id": row.id, "code": row.code,
                "message": row.message}
    return {"kind": "text", "file": row.file, "line": row.line, "id": row.id, "date": output.date_text(row.date),
            "week": output.week_of(row.date), "text": row.text}


# ---------------------------------------------------------------- stages (run in Ray workers)

class _Files:
    """flat_map over read_binary_files: the rows of one JSONL or CSV file, parsed line by line."""

    def __init__(self, fields: dict, shown: dict):
        self.fields, self.shown = fields, shown

    def __call__(self, item: dict) -> list[dict]:
        path = self.shown.get(_plain(item["path"]), item["path"])
        return [_unified(row) for row in rows_from_bytes(path, item["bytes"], self.fields)]


class _ParquetRows:
    """map_batches over read_parquet: validate each record as the local reader does."""

    def __init__(self, fields: dict, shown: dict):
        self.fields, self.shown = fields, shown

    def __call__(self, batch):
        import pyarrow as pa

        rows = [_unified(make_row(self.shown.get(_plain(r.get("path", "")), r.get("path", "")), None, r, self.fields))
                for r in batch.to_pylist()]
        return pa.Table.from_pylist(rows, schema=_row_schema())


_GATES: dict = {}


def _conform(batch):
    """The batch with exactly the row schema's columns and types (flat_map infers types; an all-null column has none)."""
    import pyarrow as pa

    schema = _row_schema()
    columns = [batch[f.name].cast(f.type) if f.name in batch.column_names else pa.nulls(batch.num_rows, f.type)
               for f in schema]
    return pa.Table.from_arrays(columns, schema=schema)


def _gate(batch, root: str):
    """Texts that pass the gate go on; rows with errors go on; one count row per batch says how many were seen."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if root not in _GATES:
        from kb.scan.local import load_gate

        _GATES[root] = load_gate(Path(root))
    gate = _GATES[root]
    batch = _conform(batch)
    texts = batch.filter(pc.equal(batch["kind"], "text"))
    keep = [gate.passes(t) for t in texts["text"].to_pylist()]
    passed = texts.filter(pa.array(keep, type=pa.bool_()))
    count = pa.Table.from_pylist([{"kind": "count", "scanned": texts.num_rows, "passed": passed.num_rows}],
                                 schema=_row_schema())
    return pa.concat_tables([passed, batch.filter(pc.equal(batch["kind"], "error")), count])


class CheckBatch:
    """The checker, loaded once per actor; each call runs its batch function on the texts of one batch, through the
    same memory of repeated texts as the local engine's checker processes (kb.scan.local.Memo)."""

    def __init__(self, root: str):
        from kb.check import load_checker
        from kb.scan.local import MEMO, Memo

        self.checker = load_checker(root)
        self.memo = Memo(MEMO)

    def __call__(self, batch):
        import pyarrow as pa

        out, flagged = [], 0
        rows = batch.to_pylist()
        texts = [r for r in rows if r["kind"] == "text"]
        results, _repeats = self.memo.check(self.checker, [(r["id"], r["text"]) for r in texts])
        for row, result in zip(texts, results):
            if result.get("error"):
                out.append({"kind": "error", **output.checker_error(row["file"], row["line"], row["id"], result)})
                continue
            flagged += output.is_flagged(result)
            out += [{"kind": "finding", **f} for f in output.finding_rows(result, row["date"], row["week"],
                                                                         row["file"], row["line"])]
        for row in rows:
            if row["kind"] == "error":
                out.append({k: row[k] for k in ("kind", "file", "line", "id", "code", "message")})
            elif row["kind"] == "count":
                out.append({"kind": "count", "scanned": row["scanned"], "passed": row["passed"]})
        out.append({"kind": "count", "scanned": 0, "passed": 0, "flagged": flagged})
        return pa.Table.from_pylist(out, schema=_result_schema())


def _only(batch, kind: str, columns: list):
    import pyarrow.compute as pc

    return batch.filter(pc.equal(batch["kind"], kind)).select(columns)


# ---------------------------------------------------------------- driver

def _plain(path: str) -> str:
    """A path without its URI scheme, as Ray reports it ('bucket/key' for 's3://bucket/key')."""
    return path.split("://", 1)[1] if "://" in path else str(Path(path).absolute())


def start_ray():
    import ray

    if not ray.is_initialized():
        if os.environ.get("RAY_ADDRESS"):
            ray.init()  # joins the cluster at RAY_ADDRESS
        else:
            ray.init(include_dashboard=False, log_to_driver=False)
    return ray


def _source_datasets(ray, files, fields: dict) -> list:
    import pyarrow.parquet as pq

    from kb.scan.readers import open_binary

    shown = {_plain(f.path): f.path for f in files}
    datasets, unreadable = [], []
    lines = [f.path for f in files if f.format in ("jsonl", "csv", "txt")]
    if lines:
        datasets.append(ray.data.read_binary_files(lines, include_paths=True).flat_map(
            _Files(fields, shown)))
    tables = []
    for path in [f.path for f in files if f.format == "parquet"]:
        try:
            stream, _raw = open_binary(path)
            with stream:
                names = set(pq.read_schema(stream).names)
        except Exception as exc:  # noqa: BLE001 - as the local reader: one damaged file is an error row, not the end
            unreadable.append(output.error_dict(unreadable_file(path, 0, exc)))
            continue
        tables.append(path)
        if fields["text"] not in names or fields["id"] not in names:
            missing = fields["text"] if fields["text"] not in names else fields["id"]
            raise UsageError(f"{path}: no column {missing!r} (columns: {', '.join(sorted(names))}); the Ray engine "
                             "needs the text and id columns of Parquet input (--text-field, --id-field)")
    if tables:
        columns = list(dict.fromkeys(fields[name] for name in ("text", "id", "time")))
        present = [c for c in columns if c in set(pq.read_schema(open_binary(tables[0])[0]).names)]
        datasets.append(ray.data.read_parquet(tables, columns=present, include_paths=True).map_batches(
            _ParquetRows(fields, shown), batch_format="pyarrow"))
    return datasets, unreadable


def scan_ray(options: ScanOptions) -> ScanReport:
    from kb.project import find_root

    options.check()
    started = time.perf_counter()
    root = find_root(options.root)
    files = input_files(options.inputs)
    try:
        ray = start_ray()
    except ImportError:
        raise UsageError("--engine ray needs Ray: pip install -e '.[scale]'") from None
    datasets, unreadable = _source_datasets(ray, files, options.fields())
    if not datasets:  # every input was unreadable: nothing to scan
        raise UsageError("no input could be read: " + "; ".join(e["message"] for e in unreadable))
    rows = datasets[0].union(*datasets[1:]) if len(datasets) > 1 else datasets[0]
    checked = (rows.map_batches(_gate, fn_kwargs={"root": str(root)}, batch_size=GATE_BATCH, batch_format="pyarrow")
               .map_batches(CheckBatch, fn_constructor_kwargs={"root": str(root)}, concurrency=options.checker_processes(),
                            batch_size=options.batch_size, batch_format="pyarrow")
               .materialize())
    out = str(options.out)
    fs, base = _output_filesystem(out)
    checked.map_batches(_only, fn_kwargs={"kind": "finding", "columns": output.FINDING_COLUMNS},
                        batch_format="pyarrow").write_parquet(f"{out.rstrip('/')}/findings",
                                                              mode=ray.data.SaveMode.OVERWRITE)
    report = ScanReport(out=Path(out) if "://" not in out else None)
    errors = list(unreadable)
    for batch in checked.iter_batches(batch_format="pyarrow", batch_size=65536):
        counts = _only(batch, "count", ["scanned", "passed", "flagged"]).to_pydict()
        report.scanned += sum(v or 0 for v in counts["scanned"])
        report.passed += sum(v or 0 for v in counts["passed"])
        report.flagged += sum(v or 0 for v in counts["flagged"])
        errors += _only(batch, "error", list(output.ERROR_FIELDS)).to_pylist()
    errors.sort(key=lambda e: (e["file"] or "", e["line"] or 0))
    report.errors = len(errors)
    _finish(fs, base, errors, root)
    report.files_done = len(files)
    report.seconds = time.perf_counter() - started
    return report


def _output_filesystem(out: str):
    import pyarrow.fs as pafs

    if "://" in out:
        return pafs.FileSystem.from_uri(out)
    Path(out).mkdir(parents=True, exist_ok=True)
    return pafs.LocalFileSystem(), str(Path(out).absolute())


def _finish(fs, base: str, errors: list, root: Path):
    """errors.jsonl and summary/ next to findings/, on whatever filesystem the output lives on."""
    import pyarrow.parquet as pq

    from kb.build import load_valid

    with fs.open_output_stream(f"{base}/errors.jsonl") as handle:
        for error in errors:
            handle.write((json.dumps(error, ensure_ascii=False) + "\n").encode("utf-8"))
    summary = output.Summary.from_findings(f"{base}/findings", filesystem=fs)
    fs.create_dir(f"{base}/summary", recursive=True)
    pq.write_table(summary.table(load_valid(root)), f"{base}/summary/part-0.parquet", filesystem=fs)
