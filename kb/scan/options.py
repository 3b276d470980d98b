"""What a scan is asked to do, what it reports, and the two ways it can fail."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

# The checker refuses longer texts (README "kb check": too_long over 20,000 characters); the scan says so per row
# before spending anything on them.
MAX_CHARS = 20_000
DEFAULT_BATCH = 256


class UsageError(Exception):
    """Bad options or unusable inputs: `kb scan` exits 2 with this message."""


class ScanError(Exception):
    """Something broke inside the scan (not the input's fault): `kb scan` exits 3."""


@dataclass
class ScanOptions:
    inputs: list
    out: Path | str
    text_field: str = "text"
    id_field: str = "id"
    time_field: str = "date"
    engine: str = "local"
    workers: int | None = None  # checker processes (Ray: actors); None: one per two cores, at least one
    batch_size: int = DEFAULT_BATCH
    root: Path | None = None
    paragraphs: bool = False  # .txt: texts separated by blank lines (else one text per line)

    def checker_processes(self) -> int:
        """--workers, or by default one checker per two cores: each uses two threads for the embedding model, and
        the local engine's reader (parsing, the gate) runs beside them."""
        if self.workers is not None:
            return self.workers
        return max(1, (os.cpu_count() or 1) // 2)

    def fields(self) -> dict:
        """How records are read: the three field names, and how a .txt file is cut into texts."""
        return {"text": self.text_field, "id": self.id_field, "time": self.time_field, "paragraphs": self.paragraphs}

    def check(self):
        if self.engine not in ("local", "ray"):
            raise UsageError(f"--engine {self.engine!r} is not known; use local or ray")
        if self.workers is not None and self.workers < 1:
            raise UsageError(f"--workers {self.workers} must be at least 1")
        if self.batch_size < 1:
            raise UsageError(f"--batch-size {self.batch_size} must be at least 1")
        if not self.inputs:
            raise UsageError("give at least one INPUT: a JSONL (.jsonl, .jsonl.gz), Parquet, CSV or text (.txt) file, "
                             "or a folder")
        for name in ("text", "id", "time"):
            if not self.fields()[name]:
                raise UsageError(f"--{name}-field must not be empty")


@dataclass
class ScanReport:
    scanned: int = 0  # texts read (unreadable rows are counted in `errors`, not here)
    passed: int = 0  # texts that passed the prefilter and went to the checker
    flagged: int = 0  # texts the checker flagged (missing_context or misstated)
    errors: int = 0  # rows written to errors.jsonl
    repeats: int = 0  # texts that passed the gate and repeated one already checked (answered without the checker)
    seconds: float = 0.0
    files_done: int = 0
    files_skipped: list = field(default_factory=list)  # already finished by an earlier, interrupted run
    out: Path | None = None

    def add(self, other: "ScanReport"):
        self.scanned += other.scanned
        self.passed += other.passed
        self.flagged += other.flagged
        self.errors += other.errors

    def line(self) -> str:
        rate = self.scanned / self.seconds if self.seconds > 0 else 0.0
        return (f"scanned {self.scanned:,} texts in {self.seconds:.1f} s ({rate_text(rate)} texts/s); "
                f"{self.passed:,} passed the prefilter; {self.flagged:,} flagged")


def rate_text(rate: float) -> str:
    """A rate with the digits that say something: 1,234 or 12.3 or 0.239 (never "0" for a slow, small scan)."""
    return f"{rate:,.0f}" if rate >= 100 or rate == 0 else f"{rate:.3g}"
