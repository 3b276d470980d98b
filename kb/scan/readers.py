"""Input rows, one at a time, from JSONL (.jsonl, .ndjson, also .gz), Parquet, CSV and plain text (.txt: a text per
line, or per paragraph) files or folders of them.

Every row comes out as a `Row` (file, line, id, date, text) or a `BadRow` (file, line, id, code, message): a bad
row never stops the file. Lines are parsed here, not by a JSON library's file reader, so one broken line costs
that line only. Paths may be local or any URI pyarrow's filesystems read (s3://, gs://, hdfs://, file://).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from kb.scan.options import MAX_CHARS, UsageError
from kb.scan.output import week_of

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".jsonl.gz": "jsonl", ".ndjson.gz": "jsonl",
           ".parquet": "parquet", ".csv": "csv", ".csv.gz": "csv", ".txt": "txt", ".txt.gz": "txt"}


class Row(NamedTuple):
    file: str
    line: int
    id: str
    date: object
    text: str


class BadRow(NamedTuple):
    file: str
    line: int
    id: str | None
    code: str
    message: str


@dataclass(frozen=True)
class InputFile:
    path: str  # as the user gave it (a local path or a URI)
    format: str
    size: int
    mtime: float


def format_of(name: str) -> str | None:
    lower = name.lower()
    for suffix in sorted(FORMATS, key=len, reverse=True):
        if lower.endswith(suffix):
            return FORMATS[suffix]
    return None


def _filesystem(path: str):
    import pyarrow.fs as pafs

    if "://" in path:
        try:
            return pafs.FileSystem.from_uri(path)
        except Exception as exc:  # pyarrow raises several types for unknown schemes and bad URIs
            raise UsageError(f"{path}: cannot open this URI ({exc}); use a local path or a URI pyarrow reads") from None
    return pafs.LocalFileSystem(), str(Path(path).absolute())


def input_files(inputs) -> list[InputFile]:
    """The files to scan, in a stable order: each file given, and every JSONL, Parquet, CSV or text file under each
    folder."""
    import pyarrow.fs as pafs

    files: list[InputFile] = []
    for given in map(str, inputs):
        fs, path = _filesystem(given)
        info = fs.get_file_info(path)
        if info.type == pafs.FileType.NotFound:
            raise UsageError(f"{given}: no such file or folder")
        if info.type == pafs.FileType.Directory:
            found = [i for i in fs.get_file_info(pafs.FileSelector(path, recursive=True))
                     if i.type == pafs.FileType.File and format_of(i.path) and not Path(i.path).name.startswith((".", "_"))]
            for item in sorted(found, key=lambda i: i.path):
                shown = given.rstrip("/") + "/" + item.path[len(path.rstrip("/")) + 1:]
                files.append(InputFile(shown, format_of(item.path), item.size or 0, _mtime(item)))
            continue
        fmt = format_of(path)
        if fmt is None:
            raise UsageError(f"{given}: unknown file type; scan reads .jsonl, .ndjson (also .gz), .parquet, .csv and .txt")
        files.append(InputFile(given, fmt, info.size or 0, _mtime(info)))
    if not files:
        raise UsageError(f"no .jsonl, .ndjson, .parquet, .csv or .txt files in {', '.join(map(str, inputs))}")
    return files


def _mtime(info) -> float:
    return info.mtime.timestamp() if info.mtime is not None else 0.0


def open_binary(path: str):
    fs, resolved = _filesystem(path)
    stream = fs.open_input_file(resolved) if "://" in path else open(resolved, "rb")
    return gzip.GzipFile(fileobj=stream) if path.lower().endswith(".gz") else stream, stream


# ---------------------------------------------------------------- one row

def make_row(file: str, line: int, record, fields: dict):
    """A Row, or a BadRow saying why the record cannot be checked."""
    rid = record.get(fields["id"]) if isinstance(record, dict) else None
    rid = f"{file}:{line}" if rid is None or rid == "" else str(rid)
    if not isinstance(record, dict):
        return BadRow(file, line, rid, "bad_json", f"line {line} is JSON but not an object ({{\"text\": ...}})")
    text = record.get(fields["text"])
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            return BadRow(file, line, rid, "not_utf8", f"the {fields['text']!r} value is not valid UTF-8 "
                          f"(bad byte at offset {exc.start}); convert the input to UTF-8")
    if isinstance(text, str) and not text.strip():
        return BadRow(file, line, rid, "empty_text", f"the {fields['text']!r} value is empty: there is no text to check")
    if text is None:
        return BadRow(file, line, rid, "no_text", f"no {fields['text']!r} value; give the text field with "
                      f"--text-field (the record has: {', '.join(map(str, list(record)[:8])) or 'nothing'})")
    if not isinstance(text, str):
        return BadRow(file, line, rid, "not_text", f"the {fields['text']!r} value is a {type(text).__name__}, not text")
    if len(text) > MAX_CHARS:
        return BadRow(file, line, rid, "too_long", f"the text has {len(text):,} characters; the limit is "
                      f"{MAX_CHARS:,}: split it into statements (posts, paragraphs)")
    if _has_surrogates(text):
        return BadRow(file, line, rid, "not_utf8", "the text holds bytes that are not valid UTF-8; convert the input to UTF-8")
    date = record.get(fields["time"])
    if not readable_date(date):
        return BadRow(file, line, rid, "bad_date", f"the {fields['time']!r} value {str(date)[:60]!r} is not a date; "
                      "give an ISO date (2025-01-15) or datetime, a Unix time in seconds, or no date")
    return Row(file, line, rid, date, text)


YEAR_OR_MONTH = re.compile(r"^\s*\d{4}(-\d{2})?\s*$")  # a date, but of no single week


def readable_date(value) -> bool:
    """Whether a date value is absent or can be read (as a day, or as a year or month that names no week)."""
    if value is None or value == "" or week_of(value) is not None:
        return True
    return isinstance(value, str) and bool(YEAR_OR_MONTH.match(value))


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def parse_line(file: str, number: int, raw: bytes, fields: dict):
    """A Row or BadRow from one JSONL line; None for a blank line."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return BadRow(file, number, f"{file}:{number}", "not_utf8",
                      f"line {number} is not valid UTF-8 (bad byte at offset {exc.start}); convert the file to UTF-8")
    if not line.strip():
        return None
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return BadRow(file, number, f"{file}:{number}", "bad_json",
                      f"line {number} is not valid JSON ({exc.msg} at column {exc.colno}); one JSON object per line")
    except RecursionError:
        return BadRow(file, number, f"{file}:{number}", "bad_json", f"line {number} nests JSON too deeply")
    return make_row(file, number, record, fields)


# ---------------------------------------------------------------- whole files

def read_rows(source: InputFile, fields: dict, position=None):
    """Every Row and BadRow of one file, in order. `position(done_fraction)` is told how far the file is read.

    A file that cannot be read on (a broken .gz, a file that is not Parquet) ends with a BadRow naming it, after
    the rows read before the damage: one corrupt file never stops a scan of many."""
    reader = {"jsonl": _jsonl, "parquet": _parquet, "csv": _csv, "txt": _txt}[source.format]
    yield from _until_unreadable(source.path, reader(source, fields, position or (lambda _fraction: None)))


def _until_unreadable(path: str, rows):
    read = 0
    try:
        for row in rows:
            read += 1
            yield row
    except UsageError:
        raise  # the user's options, not the file: the whole scan stops with the fix
    except Exception as exc:  # noqa: BLE001 - gzip, zlib, pyarrow and the OS each raise their own types
        yield unreadable_file(path, read, exc)


def unreadable_file(path: str, read: int, exc: BaseException) -> BadRow:
    reason = str(exc).strip() or type(exc).__name__
    where = "after its first {:,} rows".format(read) if read else "at all"
    return BadRow(path, None, None, "unreadable_file", f"{path} cannot be read {where} ({type(exc).__name__}: "
                  f"{reason[:300]}); the rest of it was skipped. Is it damaged, or not the format its name says "
                  "(.gz, .parquet, .csv, .jsonl)?")


def _jsonl(source, fields, position):
    stream, raw = open_binary(source.path)
    with stream:
        for number, line in enumerate(stream, start=1):
            row = parse_line(source.path, number, line, fields)
            if row is not None:
                yield row
            if number % 1024 == 0 and source.size:
                position(raw.tell() / source.size)


def rows_from_bytes(path: str, data: bytes, fields: dict) -> list:
    """Rows of a whole JSONL or CSV file held in memory (the Ray engine's reader hands files over this way)."""
    def rows():
        whole = gzip.decompress(data) if path.lower().endswith(".gz") else data
        if format_of(path) in ("csv", "txt"):
            yield from (_csv_rows if format_of(path) == "csv" else _text_rows)(path, io.BytesIO(whole), fields)
            return
        for number, line in enumerate(whole.splitlines(keepends=True), start=1):
            if (row := parse_line(path, number, line, fields)) is not None:
                yield row

    return list(_until_unreadable(path, rows()))


def _parquet(source, fields, position):
    import pyarrow.parquet as pq

    stream, _raw = open_binary(source.path)
    with stream:
        parquet = pq.ParquetFile(stream)
        names = set(parquet.schema_arrow.names)
        if fields["text"] not in names:
            raise UsageError(f"{source.path}: no column {fields['text']!r} (columns: {', '.join(sorted(names))}); "
                             "name the text column with --text-field")
        columns = [c for c in dict.fromkeys(fields[name] for name in ("text", "id", "time")) if c in names]
        total, number = parquet.metadata.num_rows or 1, 0
        for batch in parquet.iter_batches(batch_size=4096, columns=columns):
            for record in batch.to_pylist():
                number += 1
                yield make_row(source.path, number, record, fields)
            position(number / total)


def _csv(source, fields, position):
    yield from _streamed(source, fields, position, _csv_rows)


def _txt(source, fields, position):
    yield from _streamed(source, fields, position, _text_rows)


def _streamed(source, fields, position, rows_of):
    """The rows `rows_of(path, stream, fields)` reads from the (possibly compressed) file, reporting how far in it is."""
    stream, raw = open_binary(source.path)
    with stream:
        for index, row in enumerate(rows_of(source.path, stream, fields)):
            yield row
            if index % 1024 == 0 and source.size:
                position(raw.tell() / source.size)


def _text_rows(path, stream, fields):
    """A plain text file's texts: one per line, or with `paragraphs` one per run of lines between blank lines (its
    lines joined by spaces). A text's id is file:line of its first line; it has no date."""
    paragraph, first = [], None
    for number, raw in enumerate(stream, start=1):
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError as exc:
            yield BadRow(path, number, f"{path}:{number}", "not_utf8", f"line {number} is not valid UTF-8 (bad byte "
                         f"at offset {exc.start}); convert the file to UTF-8")
            continue
        if not fields.get("paragraphs"):
            if line:
                yield make_row(path, number, {fields["text"]: line}, fields)
            continue
        if line:
            paragraph.append(line)
            first = first or number
        elif paragraph:
            yield make_row(path, first, {fields["text"]: " ".join(paragraph)}, fields)
            paragraph, first = [], None
    if paragraph:
        yield make_row(path, first, {fields["text"]: " ".join(paragraph)}, fields)


def _csv_problem(start: int, end: int, exc: csv.Error) -> str:
    if "unexpected end of data" in str(exc):
        return (f"line {start} opens a quoted field that is never closed, so lines {start}-{end} (to the end of the "
                "file) could not be read as rows; close the quote, or double any quote inside a field (\"\")")
    return f"line {start} cannot be read as CSV ({exc})"


def _csv_rows(path, stream, fields):
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline="")
    # strict: a quote opened and never closed is an error at the end of the file, not the rest of the file
    # silently read into one text.
    reader = csv.reader(text, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        yield BadRow(path, 1, None, "bad_csv", f"the header line cannot be read as CSV ({exc})")
        return
    if fields["text"] not in header:
        raise UsageError(f"{path}: no column {fields['text']!r} in the header ({', '.join(header[:12])}); "
                         "name the text column with --text-field")
    start = reader.line_num + 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield BadRow(path, start, f"{path}:{start}", "bad_csv", _csv_problem(start, reader.line_num, exc))
            start = reader.line_num + 1
            continue
        if values:
            record = dict(zip(header, values))
            if len(values) < len(header) and fields["text"] not in record:
                record = {}
            yield make_row(path, start, record, fields)
        start = reader.line_num + 1
