"""What a scan writes, the same for both engines:

    DIR/findings/   Parquet: one row per finding of every text whose verdict is not no_claim
    DIR/summary/    Parquet: one row per claim and ISO week (mentions, flagged, misstated, share dropping each key)
    DIR/errors.jsonl  one object per unreadable row: file, line, id, code, message

The rows come only from the checker's `kb check --jsonl` result fields (verdict, findings[].claim, model,
behaviour, number, tier, score, missing_context, problems[].kind, and confidence when the checker gives one).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from pathlib import Path

from kb.check.flags import FLAGGED

# Problem kinds that only make a statement missing_context (README "How it decides", 6); every other kind misstates.
CONTEXT_ONLY = {"dropped_context", "overgeneralisation"}
ERROR_FIELDS = ("file", "line", "id", "code", "message")


def finding_schema():
    import pyarrow as pa

    return pa.schema([
        ("id", pa.string()), ("date", pa.string()), ("week", pa.string()), ("verdict", pa.string()),
        ("claim", pa.string()), ("model", pa.string()), ("behaviour", pa.string()), ("number", pa.string()),
        ("missing_context", pa.list_(pa.string())), ("confidence", pa.float64()), ("tier", pa.string()),
        ("score", pa.float64()), ("problems", pa.list_(pa.string())), ("file", pa.string()), ("line", pa.int64()),
    ])


FINDING_COLUMNS = [
    "id", "date", "week", "verdict", "claim", "model", "behaviour", "number", "missing_context", "confidence", "tier",
    "score", "problems", "file", "line"]


# ---------------------------------------------------------------- dates

ISO_DAY = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})")


def date_text(value) -> str | None:
    """The input's date as text (datetimes in ISO form); None when there is none."""
    if value is None or value == "":
        return None
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return str(value)


def week_of(value) -> str | None:
    """The ISO week ('2025-W03') of a date given as an ISO date or datetime (text or value), a Unix time in
    seconds, or None when no day can be read from it (a month alone names no week)."""
    if isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1e11:
        day = dt.datetime.fromtimestamp(value, dt.timezone.utc).date()
    elif isinstance(value, str) and (m := ISO_DAY.match(value)):
        try:
            day = dt.date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            return None
    else:
        return None
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


# ---------------------------------------------------------------- findings

def finding_rows(result: dict, shown: str | None, week: str | None, file: str, line: int | None) -> list[dict]:
    """The rows of one checked text: one per finding, none when its verdict is no_claim (or it has an error).
    `shown` and `week` are the text's date as text and its ISO week (`date_text`, `week_of`)."""
    verdict = result.get("verdict")
    if verdict in (None, "no_claim"):
        return []
    rows = []
    for finding in result.get("findings") or []:
        confidence = finding.get("confidence")
        rows.append({
            "id": str(result.get("id")), "date": shown, "week": week, "verdict": verdict,
            "claim": finding.get("claim"), "model": finding.get("model"), "behaviour": finding.get("behaviour"),
            "number": finding.get("number"), "missing_context": list(finding.get("missing_context") or []),
            "confidence": float(confidence) if isinstance(confidence, (int, float)) else None,
            "tier": finding.get("tier"), "score": finding.get("score"),
            "problems": [p.get("kind") for p in finding.get("problems") or [] if isinstance(p, dict)],
            "file": file, "line": line,
        })
    return rows


def is_flagged(result: dict) -> bool:
    return result.get("verdict") in FLAGGED


def checker_error(file, line, rid, result: dict) -> dict:
    """An errors.jsonl entry for a text the checker refused (binary data, for instance)."""
    error = result.get("error") or {}
    return {"file": file, "line": line, "id": rid, "code": error.get("code", "error"),
            "message": error.get("message", "the checker could not check this text")}


def error_dict(bad) -> dict:
    return {"file": bad.file, "line": bad.line, "id": bad.id, "code": bad.code, "message": bad.message}


def findings_table(rows: list[dict]):
    import pyarrow as pa

    return pa.Table.from_pylist(rows, schema=finding_schema())


# ---------------------------------------------------------------- summary

class Summary:
    """Per claim and ISO week: mentions (texts with a matched finding of the claim), flagged (those whose finding has
    a problem), misstated (a problem that misstates), and how many mentions dropped each key context.

    Only 'match' findings count: suggestions ('possibly also about') do not decide a verdict, so they are not
    mentions. The share dropping a key is over the claim's mentions that week."""

    def __init__(self):
        self.cells: dict = defaultdict(lambda: [0, 0, 0, defaultdict(int)])

    def add(self, claim, week, missing, problems):
        cell = self.cells[(claim, week)]
        cell[0] += 1
        cell[1] += bool(missing) or bool(problems)
        cell[2] += any(kind not in CONTEXT_ONLY for kind in problems or [])
        for key in missing or []:
            cell[3][key] += 1

    def add_table(self, table):
        data = table.select(["claim", "week", "tier", "missing_context", "problems"]).to_pydict()
        for claim, week, tier, missing, problems in zip(*data.values()):
            if tier == "match" and claim:
                self.add(claim, week, missing, problems)

    @classmethod
    def from_findings(cls, folder, filesystem=None) -> "Summary":
        """The summary of a findings/ dataset (a local folder, or a path on `filesystem`), read a batch at a time."""
        import pyarrow.dataset as ds

        summary = cls()
        if filesystem is None and not (Path(folder).is_dir() and any(Path(folder).glob("*.parquet"))):
            return summary
        dataset = ds.dataset(str(folder), format="parquet", filesystem=filesystem)
        for batch in dataset.to_batches(columns=["claim", "week", "tier", "missing_context", "problems"]):
            summary.add_table(batch)
        return summary

    def rows(self, kb) -> list[dict]:
        """One row per (claim, week); `dropped_<key>` for every context key: the share of the claim's mentions that
        dropped it, null when the key is not among the claim's key context."""
        keys = sorted(kb.context)
        out = []
        for (claim, week), (mentions, flagged, misstated, dropped) in sorted(
                self.cells.items(), key=lambda item: (item[0][0], item[0][1] or "")):
            key_context = set(getattr(kb.claims.get(claim), "key_context", None) or []) | set(dropped)
            row = {"claim": claim, "week": week, "mentions": mentions, "flagged": flagged, "misstated": misstated}
            for key in keys:
                row[f"dropped_{key}"] = round(dropped.get(key, 0) / mentions, 6) if key in key_context else None
            out.append(row)
        return out

    def table(self, kb):
        import pyarrow as pa

        fields = [("claim", pa.string()), ("week", pa.string()), ("mentions", pa.int64()), ("flagged", pa.int64()),
                  ("misstated", pa.int64())] + [(f"dropped_{k}", pa.float64()) for k in sorted(kb.context)]
        return pa.Table.from_pylist(self.rows(kb), schema=pa.schema(fields))

    def write(self, kb, folder: Path) -> Path:
        import pyarrow.parquet as pq

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.parquet"):
            old.unlink()
        path = folder / "part-0.parquet"
        tmp = folder / ".part-0.parquet.tmp"
        pq.write_table(self.table(kb), tmp)
        tmp.replace(path)
        return path


def write_errors(path: Path, errors) -> int:
    """errors.jsonl from error dicts (written next to it first, then moved into place); returns how many."""
    path = Path(path)
    tmp = path.with_name("." + path.name + ".tmp")
    count = 0
    with tmp.open("w", encoding="utf-8") as handle:
        for error in errors:
            handle.write(json.dumps({k: error.get(k) for k in ERROR_FIELDS}, ensure_ascii=False) + "\n")
            count += 1
    tmp.replace(path)
    return count
