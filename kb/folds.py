"""Evaluation folds: which statements the checker may be fitted on and which it is measured on.

Every labelled statement sits in one of five cross-validation folds (cv1–cv5) or in the locked test fold. Statements
go together when they come from the same original page — its `url`, else its `who` and `date` — or when their texts
are near-duplicates (one article copied on several sites: MiniLM cosine >= NEAR_DUPLICATE), so no text sits on both
sides of a train/test split. A group's fold comes from a stable hash of its first page key under the draw's SEAL:
anyone assigning the same pages gets the same folds, on any branch, in any order, and adding statements never moves
the ones already assigned. The development statements the checker was first built on are never locked.

`assign_folds(root, kb)` writes `fold: …` into the statement files in place, one inserted line per statement, leaving
every other line (comments, quoting, wrapping) as it was, and moves each locked statement, whole, into the file of
the same name under statements/locked/ — the sealed folder that only `kb eval --locked` reads.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from kb import schema

CV_FOLDS = tuple(f for f in schema.FOLDS if f != "locked")
LOCKED = "locked"
LOCKED_SHARE = 0.3  # of groups; the rest is spread evenly over the cv folds
# The draw: changing it redraws every fold. The 2026-12 draw sealed the locked fold in its own folder after the
# earlier one had been run, shared pages with cross-validation and held development statements.
SEAL = "sealed-2026-12"
LOCKED_DIR = schema.LOCKED_DIR
NEAR_DUPLICATE = 0.9  # cosine of two statements' MiniLM vectors above which they are copies of one text
DEVELOPMENT_FILE = "statements/labelled-development-set.yaml"  # what the checker was first built on: never locked



class FoldError(Exception):
    """A statement file that cannot take a fold line as it is written (the message names file, line and fix)."""


def page_key(statement) -> str:
    """The original page a statement comes from: its url (without fragment or trailing slash), else who + date."""
    url = getattr(statement, "url", None)
    if isinstance(url, str) and url.strip():
        url = url.strip().split("#", 1)[0].rstrip("/")
        scheme, _, rest = url.partition("://")
        host, slash, path = rest.partition("/")
        return f"url:{scheme.lower()}://{host.lower()}{slash}{path}"
    return f"who:{(getattr(statement, 'who', None) or '').strip()}|date:{getattr(statement, 'date', None) or ''}"


def fold_for(key: str, lockable: bool = True) -> str:
    """The fold a page key hashes to: about LOCKED_SHARE locked, the rest spread over cv1–cv5 (all of it, when the
    group may not be locked)."""
    point = int.from_bytes(hashlib.sha256(f"{SEAL}|{key}".encode("utf-8")).digest()[:8], "big") / 2 ** 64
    if not lockable:
        return CV_FOLDS[min(int(point * len(CV_FOLDS)), len(CV_FOLDS) - 1)]
    if point < LOCKED_SHARE:
        return LOCKED
    index = int((point - LOCKED_SHARE) / (1 - LOCKED_SHARE) * len(CV_FOLDS))
    return CV_FOLDS[min(index, len(CV_FOLDS) - 1)]


def pages(statements) -> dict[str, list]:
    """page key -> its statements, in file order."""
    grouped = defaultdict(list)
    for statement in statements:
        grouped[page_key(statement)].append(statement)
    return dict(grouped)


def groups(statements, vectors=None) -> list[list]:
    """Statements that must share a fold: one page's statements, joined with any near-duplicate texts (`vectors`:
    one normalised embedding per statement, in order; without them, pages alone)."""
    statements = list(statements)
    parent = list(range(len(statements)))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_of_page = {}
    for i, statement in enumerate(statements):
        parent[root(i)] = root(first_of_page.setdefault(page_key(statement), i))
    if vectors is not None and len(statements):
        import numpy as np

        similar = np.argwhere(np.triu(np.asarray(vectors) @ np.asarray(vectors).T, k=1) >= NEAR_DUPLICATE)
        for i, j in similar:
            parent[root(int(j))] = root(int(i))
    grouped = defaultdict(list)
    for i, statement in enumerate(statements):
        grouped[root(i)].append(statement)
    return list(grouped.values())


def planned_folds(statements, vectors=None) -> dict[str, str]:
    """statement id -> fold for every statement without one. A new statement takes its page's fold when the page
    has one; otherwise its group's: the locked fold when any member is locked (a copy of a locked text must never
    be trained on), else the fold a member already has, else the fold its first page key hashes to — never the
    locked one for a group holding a development statement."""
    plan = {}
    for members in groups(statements, vectors):
        given = {s.fold for s in members if s.fold}
        lockable = not any(s.file == DEVELOPMENT_FILE for s in members)
        group_fold = (LOCKED if LOCKED in given else min(given) if given
                      else fold_for(min(page_key(s) for s in members), lockable))
        page_folds = {}
        for s in members:
            if s.fold:
                page_folds.setdefault(page_key(s), s.fold)
        plan.update({s.id: page_folds.get(page_key(s), group_fold) for s in members if not s.fold})
    return plan


# ---------------------------------------------------------------- writing the fold into the files

_KEY_LINE = re.compile(r"^(?P<lead>\s*(?:-\s+)?)(?P<key>url|who)\s*:")


def fold_line_edits(text: str, statements: list, plan: dict, rel: str) -> str:
    """The file's text with a `fold:` line after each planned statement's `url:` (else `who:`) line and its
    continuation lines; nothing else changes."""
    lines = text.splitlines(keepends=True)
    inserts = {}  # line index after which to insert -> text
    for statement in statements:
        if statement.id not in plan:
            continue
        key = "url" if statement.url else "who"
        number = statement.line_of(key)
        match = _KEY_LINE.match(lines[number - 1]) if 0 < number <= len(lines) else None
        if match is None or match.group("key") != key:
            raise FoldError(f"{rel}:{number}: statement {statement.id}: its '{key}:' is not on a line of its own, so a "
                            f"fold line cannot be added there\n    fix: write the statement in block style (one "
                            f"'field: value' per line), or add 'fold: {plan[statement.id]}' by hand")
        indent = " " * len(match.group("lead"))
        end = number  # the last line of the value: continuation lines are indented deeper than the key
        while end < len(lines) and _continues(lines[end], len(indent)):
            end += 1
        newline = "\r\n" if lines[end - 1].endswith("\r\n") else "\n"
        if not lines[end - 1].endswith(("\n", "\r")):
            lines[end - 1] += newline
        inserts[end] = f"{indent}fold: {plan[statement.id]}{newline}"
    out = []
    for index, line in enumerate(lines, start=1):
        out.append(line)
        if index in inserts:
            out.append(inserts[index])
    return "".join(out)


def _continues(line: str, key_indent: int) -> bool:
    stripped = line.lstrip(" ")
    return bool(stripped.strip()) and not stripped.startswith("#") and len(line) - len(stripped) > key_indent


@dataclass
class FoldReport:
    """What `kb folds` shows: statements per fold and verdict, how many pages, and what --assign wrote."""

    counts: dict = field(default_factory=dict)  # fold (or None) -> Counter of verdicts
    pages: dict = field(default_factory=dict)  # fold (or None) -> number of pages
    assigned: dict = field(default_factory=dict)  # file -> number of fold lines written


def fold_counts(statements) -> FoldReport:
    report = FoldReport()
    for statement in statements:
        label = statement.label
        verdict = (label.verdict or "verdict_any") if label is not None else "unlabelled"
        report.counts.setdefault(statement.fold, Counter())[verdict] += 1
    by_fold = defaultdict(set)
    for key, members in pages(statements).items():
        for statement in members:
            by_fold[statement.fold].add(key)
    report.pages = {fold: len(keys) for fold, keys in by_fold.items()}
    return report


_STATEMENT_START = re.compile(r"^- id\s*:", re.M)

LOCKED_HEADER = ("# The locked test fold: statements that only `kb eval --locked` reads (never the build, the site,\n"
                 "# the server or training). `kb folds --assign` moves a statement here when its group draws the fold.\n"
                 "statements:\n")


def split_statements(text: str) -> tuple[str, list[str]]:
    """A statements file's text as (everything before the first statement, one block of text per statement)."""
    starts = [m.start() for m in _STATEMENT_START.finditer(text)]
    if not starts:
        return text, []
    return text[:starts[0]], [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)])]


def move_locked(texts: dict, statements: list, plan: dict, root: Path) -> dict:
    """The files' texts after moving every statement planned for the locked fold, block by block, into the file of
    the same name under statements/locked/ (created with a header when new)."""
    out = dict(texts)
    for rel in sorted({s.file for s in statements if plan.get(s.id) == LOCKED}):
        source = root / rel
        head, blocks = split_statements(out.get(source) or source.read_text(encoding="utf-8"))
        moving = {s.id for s in statements if s.file == rel and plan.get(s.id) == LOCKED}
        ids = [re.match(r"- id\s*:\s*['\"]?([^'\"\s#]+)", b).group(1) for b in blocks]
        kept = [b for b, i in zip(blocks, ids) if i not in moving]
        moved = [b if b.endswith("\n") else b + "\n" for b, i in zip(blocks, ids) if i in moving]
        out[source] = head + "".join(kept)
        target = root / LOCKED_DIR / Path(rel).name
        existing = out.get(target) or (target.read_text(encoding="utf-8") if target.exists() else LOCKED_HEADER)
        out[target] = existing + ("" if existing.endswith("\n") else "\n") + "".join(moved)
    return out


def assign_folds(root: Path, kb, vectors=None) -> FoldReport:
    """Give every statement without a fold its group's fold, writing the files in place, and move the locked ones
    into statements/locked/; returns the new counts.

    `kb` is the validated knowledge base at root (the caller validates first: nothing is written for invalid data);
    `vectors`, one embedding per statement of kb in order, joins near-duplicate texts. Raises FoldError when a
    statement is written so that a line cannot be inserted (nothing is written then)."""
    root = Path(root)
    statements = list(kb.statements.values())
    plan = planned_folds(statements, vectors)
    by_file = defaultdict(list)
    for statement in statements:
        by_file[statement.file].append(statement)
    texts = {}
    for rel, members in by_file.items():
        if any(s.id in plan for s in members):
            path = root / rel
            texts[path] = fold_line_edits(path.read_text(encoding="utf-8"), members, plan, rel)
    texts = move_locked(texts, statements, plan, root)
    for path, text in texts.items():  # every file edited in memory first: a FoldError leaves all of them untouched
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for statement in statements:
        statement.fold = statement.fold or plan.get(statement.id)
    report = fold_counts(statements)
    report.assigned = {rel: sum(s.id in plan for s in members) for rel, members in by_file.items()
                       if any(s.id in plan for s in members)}
    return report


def report_lines(report: FoldReport) -> list[str]:
    """A table: one row per fold (and 'none'), one column per verdict, then statements and pages."""
    columns = [*schema.VERDICTS, "verdict_any", "unlabelled"]
    columns = [c for c in columns if c in schema.VERDICTS or any(c in n for n in report.counts.values())]
    order = [*schema.FOLDS, None]
    rows = [f for f in order if f in report.counts]
    widths = [max(len(c), 4) for c in columns]
    lines = ["fold    " + " ".join(f"{c:>{w}}" for c, w in zip(columns, widths)) + f" {'statements':>10} {'pages':>6}"]
    totals = Counter()
    for fold in rows:
        counts = report.counts[fold]
        totals.update(counts)
        lines.append(f"{fold or 'none':<8}" + " ".join(f"{counts.get(c, 0):>{w}}" for c, w in zip(columns, widths))
                     + f" {sum(counts.values()):>10} {report.pages.get(fold, 0):>6}")
    lines.append(f"{'all':<8}" + " ".join(f"{totals.get(c, 0):>{w}}" for c, w in zip(columns, widths))
                 + f" {sum(totals.values()):>10} {sum(report.pages.values()):>6}")
    return lines
