"""`kb site`: generate the explainer site's pages from the knowledge base, then build them with mkdocs.

    build_site(root)   -> build/site/     (pages generated into build/site-src/, then `mkdocs build --strict`)
    serve_site(root)   -> builds, then serves build/site/ on http://127.0.0.1:8000 until Ctrl-C

Our generator (`kb.publish.sitegen`) writes plain Markdown; mkdocs-material only renders it. Only
`run_mkdocs` and mkdocs.yml know the engine, so it can be replaced without touching the pages.
Nothing is fetched from the network: fonts, search and charts are all served by the site itself.
"""

from __future__ import annotations

import functools
import http.server
from pathlib import Path

from kb.build import ensure_database, load_valid
from kb.project import build_dir
from kb.publish.sitegen import generate_pages, site_data

CONFIG = "mkdocs.yml"


def docs_dir_for(out: Path) -> Path:
    """Where the generated Markdown goes: next to the built site (build/site -> build/site-src)."""
    return out.with_name(out.name + "-src")


def build_site(root: Path, out: Path | None = None, database: Path | None = None,
               evaluation: Path | None = None) -> Path:
    """Generate the pages and build the site (strict: any mkdocs warning fails). Returns the built folder.

    `database` (default build/kb.db, rebuilt first when stale) supplies the checker's verdicts once it stores
    them; `evaluation` (default build/eval.json, from `kb eval --save`) the checker's measured accuracy.
    Raises kb.build.InvalidData when the data has problems, and mkdocs' Abort when the strict build warns.
    """
    root = Path(root)
    out = Path(out) if out else build_dir(root) / "site"
    knowledge_base = load_valid(root)
    database = Path(database) if database else ensure_database(root)
    site = site_data(knowledge_base, database, Path(evaluation) if evaluation else build_dir(root) / "eval.json")
    docs = docs_dir_for(out)
    generate_pages(root, docs, site)
    run_mkdocs(root, docs, out)
    return out


def run_mkdocs(root: Path, docs: Path, out: Path) -> None:
    """`mkdocs build --strict` in-process, with our docs and site folders."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    config = load_config(config_file=str(Path(root) / CONFIG), docs_dir=str(docs), site_dir=str(out), strict=True)
    build(config)


def serve_site(root: Path, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Build, then serve the built folder with Python's http.server (a static preview; nothing is fetched)."""
    out = build_site(root)
    handler = functools.partial(QuietHandler, directory=str(out))
    with http.server.ThreadingHTTPServer((host, port), handler) as server:
        print(f"Serving {out} at http://{host}:{server.server_port}/ (Ctrl-C to stop)", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder without logging each request (also the browser tests' server)."""

    def log_message(self, format, *args):  # one line per request is noise in a preview
        pass
