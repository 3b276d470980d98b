"""`kb scan`: run the checker over a corpus (JSONL, JSONL.gz, Parquet, CSV) and aggregate what it finds.

    from kb.scan import ScanOptions, scan
    report = scan(ScanOptions(inputs=["posts/"], out="scan-out"))   # local engine; engine="ray" for Ray Data

A cheap gate built from the knowledge base (kb.scan.prefilter) drops texts that report nothing; every other text
goes to the checker's batch function, unchanged. Both engines write the same layout under `out`:
findings/ and summary/ (Parquet datasets) and errors.jsonl (see README "Monitoring at scale").
"""

from kb.scan.options import ScanError, ScanOptions, ScanReport, UsageError


def scan(options: ScanOptions, progress: bool = False) -> ScanReport:
    """Scan options.inputs into options.out with the chosen engine; raises UsageError for bad options or inputs."""
    if options.engine == "ray":
        from kb.scan.ray_engine import scan_ray

        return scan_ray(options)
    from kb.scan.local import scan_local

    return scan_local(options, progress=progress)


__all__ = ["ScanError", "ScanOptions", "ScanReport", "UsageError", "scan"]
