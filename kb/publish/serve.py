"""`kb serve`: build the database and the explainer site if needed, then run Datasette on them: one server for the
claim pages, the check page, the graph views and the site (under /site/).

Datasette runs in this process (its own click command), so Ctrl-C reaches uvicorn directly and stops it
cleanly. `datasette_args` is the exact argument list, shared with the tests' `datasette ... --get` smoke list.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

import click

from kb.pipeline import ensure_database
from kb.project import default_database
from kb.publish.datasette_config import DATABASE, setting_options, write_metadata


class ServeError(Exception):
    """A problem the person running `kb serve` can fix; the message says how."""


@dataclass(frozen=True)
class ServeFiles:
    database: Path
    metadata: Path
    inspect: Path
    site: Path | None = None  # the built explainer site, served under /site/


def datasette_args(files: ServeFiles, host: str = "127.0.0.1", port: int = 8001) -> list[str]:
    """The `datasette` arguments: the immutable database, its inspect data, our metadata and settings."""
    return ["-i", str(files.database), "--inspect-file", str(files.inspect), "--metadata", str(files.metadata),
            "--host", host, "--port", str(port), *setting_options()]


def prepare(root: Path, db: Path | None = None, echo=click.echo, site: bool = False) -> ServeFiles:
    """Build the database if it is missing or stale, then write the metadata and inspect files next to it; with
    `site`, build the explainer site too when it is missing or older than the data.

    Raises InvalidData when the data has problems, ServeError when the database cannot be served as named.
    """
    database = Path(db) if db else default_database(root)
    if database.stem != DATABASE:
        raise ServeError(f"{database}: the database file must be called {DATABASE}.db (Datasette serves a file at "
                         f"/<file name>, and the claim pages live at /{DATABASE}/claims). Rename it or pass "
                         f"--db path/to/{DATABASE}.db.")
    ensure_database(root, database,
                    before_build=lambda path: echo(f"Building {path} (it is missing or older than the data)..."))
    built_site = ensure_site(root, database, echo) if site else None
    metadata = write_metadata(database.with_name("datasette-metadata.json"), built_site)
    inspect = write_inspect(database, database.with_name(f"{database.stem}-inspect.json"))
    return ServeFiles(database.resolve(), metadata.resolve(), inspect.resolve(), built_site)


def ensure_site(root: Path, database: Path, echo=click.echo) -> Path:
    """The built site next to the database (build/site), rebuilt first when it is missing or older than the data."""
    from kb.publish.site import build_site, site_is_stale

    out = database.parent / "site"
    if site_is_stale(root, out, database):
        echo(f"Building the site in {out} (it is missing or older than the data)...")
        build_site(root, out, database)
    return out.resolve()


def write_inspect(database: Path, path: Path) -> Path:
    """`datasette inspect`: table counts and the file hash, so an immutable database starts without counting rows."""
    run_datasette(["inspect", str(database), "--inspect-file", str(path)])
    return path


def run_datasette(args: list[str]):
    """Run a datasette command in this process (the same interpreter and plugins as `kb`)."""
    from datasette.cli import cli as datasette_cli

    datasette_cli.main(args=args, prog_name="datasette", standalone_mode=False)


def free_port(host: str, port: int) -> int:
    """`port` if it can be bound on `host` (0: any free one); ServeError with the fix when it is taken."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ServeError(f"cannot listen on {host}:{port} ({exc.strerror}). Another server may be using it: "
                             f"stop it, or pass --port N (--port 0 picks a free port).") from None
        return probe.getsockname()[1]


def serve(root: Path, host: str = "127.0.0.1", port: int = 8001, db: Path | None = None, site: bool = True,
          echo=click.echo, base_url: str | None = None):
    """Serve the knowledge base (and the site under /site/) until Ctrl-C.

    `base_url` (default http://HOST:PORT) is the origin absolute URLs are made from (kb.publish.security), never
    a request's Host header. Raises InvalidData when the data has problems and ServeError when it cannot serve;
    the CLI prints them.
    """
    from kb.publish.security import BASE_URL_ENV, check_base_url

    port = free_port(host, port)  # before building, so a busy port fails fast
    shown = f"[{host}]" if ":" in host else host
    try:
        os.environ[BASE_URL_ENV] = check_base_url(base_url or f"http://{shown}:{port}")
    except ValueError as exc:
        raise ServeError(str(exc)) from None
    files = prepare(root, db, echo, site=site)
    shown = f"[{host}]" if ":" in host else host
    for line in urls_lines(f"http://{shown}:{port}", files.site is not None):
        echo(line)
    run_datasette(["serve", *datasette_args(files, host, port)])


def urls_lines(base: str, site: bool = True) -> list[str]:
    """What `kb serve` prints first: the three front doors, then how to stop."""
    lines = [f"Check a statement:  {base}/-/check", f"Browse the data:    {base}/"]
    if site:
        lines.append(f"Explainer site:     {base}/site/")
    return lines + ["(Ctrl-C stops the server.)"]
