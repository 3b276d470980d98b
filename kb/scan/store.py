"""Scan summaries in build/kb.db: `kb build --scan DIR` (repeatable) loads each DIR's summary/ into three tables.

    scan_runs          one row per scan folder: what it holds
    scan_claim_weeks   per run, claim and ISO week: mentions, flagged, misstated
    scan_dropped       per run, claim, week and key context: how many mentions dropped it, and the share

The site's claim pages and the Datasette query "how each claim is reported over time" read them.
"""

from __future__ import annotations

import json
from pathlib import Path

from kb.database import Table
from kb.scan.options import UsageError

# A small scan shipped with the repository, so the scan tables and charts show something after `make run`: made with
# `kb scan examples/scan/texts.jsonl --out examples/scan/example` from texts written for the example (none is a real
# post). `kb build` loads it when given no --scan folder of its own.
EXAMPLE_SCAN = Path("examples") / "scan" / "example"
UNDATED = "undated"  # the week of texts without a readable date (null in the Parquet summary)

SCAN_TABLES = [
    Table("scan_runs", "Corpus scans loaded with kb build --scan DIR (by default the example scan in examples/scan/, "
          "made from invented texts): one row per scan folder.",
          [("run_id", str, "The scan's id: its folder's name (with a number when two folders share a name)."),
           ("folder", str, "The scan folder as given to kb build --scan."),
           ("texts", int, "Texts scanned (from the scan's own records; empty for a Ray scan, which keeps none)."),
           ("passed", int, "Texts that passed the prefilter and were checked."),
           ("flagged", int, "Texts the checker flagged."),
           ("errors", int, "Unreadable rows (errors.jsonl)."),
           ("mentions", int, "Matched findings of known claims, all weeks."),
           ("first_week", str, "The earliest ISO week with a mention."),
           ("last_week", str, "The latest ISO week with a mention."),
           ("unknown_claims", int, "Summary rows about claims this knowledge base no longer has (not loaded).")],
          ("run_id",)),
    Table("scan_claim_weeks", "How often each claim was reported per ISO week in a scan, and how often flagged.",
          [("run_id", str, "The scan."), ("claim_id", str, "The claim reported."),
           ("week", str, f"ISO week, e.g. 2025-W03 ('{UNDATED}' for texts without a readable date)."),
           ("mentions", int, "Texts with a matched finding of the claim that week."),
           ("flagged", int, "Of those, how many dropped key context or misstated it."),
           ("misstated", int, "Of those, how many misstated it (a wrong number, model or condition)."),
           ("flagged_share", float, "flagged / mentions.")],
          ("run_id", "claim_id", "week"), [("run_id", "scan_runs", "run_id"), ("claim_id", "claims", "id")]),
    Table("scan_dropped", "Per scan, claim and week: how many mentions dropped each of the claim's key context.",
          [("run_id", str, "The scan."), ("claim_id", str, "The claim."), ("week", str, "ISO week (or 'undated')."),
           ("key", str, "A key context of the claim."),
           ("dropped", int, "Mentions that dropped it."), ("share", float, "dropped / mentions.")],
          ("run_id", "claim_id", "week", "key"),
          [("run_id", "scan_runs", "run_id"), ("claim_id", "claims", "id"), ("key", "context_keys", "id")]),
]


def read_summary(folder: Path) -> list[dict]:
    import pyarrow.parquet as pq

    summary = Path(folder) / "summary"
    if not summary.is_dir() or not any(summary.glob("*.parquet")):
        raise UsageError(f"{folder}: no summary/ with Parquet files in it; run `kb scan INPUT --out {folder}` first")
    return pq.read_table(summary).to_pylist()


def _run_counts(folder: Path) -> dict:
    done = sorted((Path(folder) / "_scan" / "done").glob("*.json"))
    records = [json.loads(p.read_text(encoding="utf-8")) for p in done]
    errors_file = Path(folder) / "errors.jsonl"
    errors = sum(1 for _ in errors_file.open(encoding="utf-8")) if errors_file.exists() else None
    if not records:
        return {"texts": None, "passed": None, "flagged": None, "errors": errors}
    return {k: sum(r.get(k, 0) for r in records) for k in ("texts", "passed", "flagged")} | {"errors": errors}


def scan_extras(kb, folders) -> tuple[list, dict]:
    """The scan tables and their rows for `kb.build.build` (its `extras` hook)."""
    rows: dict = {t.name: [] for t in SCAN_TABLES}
    used: set = set()
    for folder in map(Path, folders):
        run_id = folder.resolve().name or "scan"
        while run_id in used:
            run_id = f"{run_id}-{len(used) + 1}"
        used.add(run_id)
        summary = read_summary(folder)
        known = [r for r in summary if r["claim"] in kb.claims]
        weeks = sorted(r["week"] for r in known if r["week"])
        rows["scan_runs"].append({"run_id": run_id, "folder": str(folder), **_run_counts(folder),
                                  "mentions": sum(r["mentions"] for r in known),
                                  "first_week": weeks[0] if weeks else None, "last_week": weeks[-1] if weeks else None,
                                  "unknown_claims": len(summary) - len(known)})
        for r in sorted(known, key=lambda r: (r["claim"], r["week"] or "")):
            week = r["week"] or UNDATED
            rows["scan_claim_weeks"].append({"run_id": run_id, "claim_id": r["claim"], "week": week,
                                             "mentions": r["mentions"], "flagged": r["flagged"],
                                             "misstated": r["misstated"],
                                             "flagged_share": round(r["flagged"] / r["mentions"], 6) if r["mentions"] else None})
            for key in kb.claims[r["claim"]].key_context or []:
                share = r.get(f"dropped_{key}")
                if share is None or key not in kb.context:
                    continue
                rows["scan_dropped"].append({"run_id": run_id, "claim_id": r["claim"], "week": week, "key": key,
                                             "dropped": round(share * r["mentions"]), "share": share})
    return SCAN_TABLES, rows


def scan_stage(folders=()):
    """The build stage (kb.build.Stage) that writes the scan tables, with the summaries of `folders`."""
    from kb.build import Stage

    folders = tuple(folders)
    return Stage("scan", tuple(SCAN_TABLES), lambda kb: scan_extras(kb, folders)[1])


HOW_CLAIMS_ARE_REPORTED = """
-- Leave claim empty for every claim; run is a scan_runs.run_id (empty: every scan).
select w.run_id, w.claim_id, c.label, w.week, w.mentions, w.flagged, w.misstated, w.flagged_share,
  (select group_concat(d.key || ' ' || cast(round(d.share * 100) as integer) || '%', ', ')
     from scan_dropped d where d.run_id = w.run_id and d.claim_id = w.claim_id and d.week = w.week and d.dropped > 0)
    as dropped_context
from scan_claim_weeks w join claims c on c.id = w.claim_id
where (:claim = '' or w.claim_id = :claim) and (:run = '' or w.run_id = :run)
order by w.claim_id, w.run_id, w.week
"""


def claim_weeks(db_path: Path) -> dict:
    """claim id -> [(week, mentions, flagged, {key: share})], summed over every scan in the database ({} if none)."""
    import sqlite3

    if not db_path or not Path(db_path).is_file():
        return {}
    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
            weeks = conn.execute("select claim_id, week, sum(mentions), sum(flagged) from scan_claim_weeks "
                                 "group by claim_id, week order by claim_id, week").fetchall()
            dropped = conn.execute("select claim_id, week, key, sum(dropped) from scan_dropped "
                                   "group by claim_id, week, key").fetchall()
    except sqlite3.Error:
        return {}  # a database built without --scan has no scan tables
    by_cell: dict = {}
    for claim, week, key, count in dropped:
        by_cell.setdefault((claim, week), {})[key] = count
    out: dict = {}
    for claim, week, mentions, flagged in weeks:
        shares = {k: v / mentions for k, v in by_cell.get((claim, week), {}).items()} if mentions else {}
        out.setdefault(claim, []).append((week, mentions, flagged, shares))
    return out
