"""`kb serve`: build the database if needed, then run Datasette on it, read-only, with our configuration.

Datasette runs in this process (its own click command), so Ctrl-C reaches uvicorn directly and stops it
cleanly. `datasette_args` is the exact argument list, shared with the tests' `datasette ... --get` smoke list.
"""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from kb.build import InvalidData, ensure_database
from kb.project import default_database
from kb.publish.datasette_config import DATABASE, setting_options, write_metadata


class ServeError(Exception):
    """A problem the person running `kb serve` can fix; the message says how."""


@dataclass(frozen=True)
class ServeFiles:
    database: Path
    metadata: Path
    inspect: Path


def datasette_args(files: ServeFiles, host: str = "127.0.0.1", port: int = 8001) -> list[str]:
    """The `datasette` arguments: the immutable database, its inspect data, our metadata and settings."""
    return ["-i", str(files.database), "--inspect-file", str(files.inspect), "--metadata", str(files.metadata),
            "--host", host, "--port", str(port), *setting_options()]


def prepare(root: Path, db: Path | None = None, echo=click.echo) -> ServeFiles:
    """Build the database if it is missing or stale, then write the metadata and inspect files next to it.

    Raises InvalidData when the data has problems, ServeError when the database cannot be served as named.
    """
    database = Path(db) if db else default_database(root)
    if database.stem != DATABASE:
        raise ServeError(f"{database}: the database file must be called {DATABASE}.db (Datasette serves a file at "
                         f"/<file name>, and the claim pages live at /{DATABASE}/claims). Rename it or pass "
                         f"--db path/to/{DATABASE}.db.")
    ensure_database(root, database,
                    before_build=lambda path: echo(f"Building {path} (it is missing or older than the data)..."))
    metadata = write_metadata(database.with_name("datasette-metadata.json"))
    inspect = write_inspect(database, database.with_name(f"{database.stem}-inspect.json"))
    return ServeFiles(database.resolve(), metadata.resolve(), inspect.resolve())


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


def serve(root: Path, host: str = "127.0.0.1", port: int = 8001, db: Path | None = None, base_url: str | None = None):
    """Serve the knowledge base until Ctrl-C. Exits with status 1 (and the reasons) when it cannot.

    `base_url` (default http://HOST:PORT) is the origin absolute URLs are made from (kb.publish.security)."""
    from kb.cli import print_problems
    from kb.publish.security import BASE_URL_ENV, check_base_url

    try:
        port = free_port(host, port)  # before building, so a busy port fails fast
        shown = f"[{host}]" if ":" in host else host
        try:
            os.environ[BASE_URL_ENV] = check_base_url(base_url or f"http://{shown}:{port}")
        except ValueError as exc:
            raise ServeError(str(exc)) from None
        files = prepare(root, db)
    except InvalidData as exc:
        print_problems(exc.problems)
        click.echo("Fix the data (kb validate lists the same problems), then run kb serve again.", err=True)
        sys.exit(1)
    except ServeError as exc:
        click.secho(f"Error: {exc}", fg="red", err=True)
        sys.exit(1)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"Serving {files.database.name} at http://{shown}:{port}/ (Ctrl-C to stop). "
               f"Claims: http://{shown}:{port}/{DATABASE}/claims")
    run_datasette(["serve", *datasette_args(files, host, port)])
