"""`kb site`: generate the explainer site's pages from the knowledge base, then build them with mkdocs.

    build_site(root)   -> build/site/     (pages generated into build/site-src/, then `mkdocs build --strict`)
    serve_site(root)   -> builds, then serves build/site/ on http://127.0.0.1:8000 (or --port) until Ctrl-C
    site_is_stale(...) -> whether build/site/ was built from other data, pages or code than now (kb serve asks)

Our generator (`kb.publish.sitegen`) writes plain Markdown; mkdocs-material only renders it. Only
`run_mkdocs` and mkdocs.yml know the engine, so it can be replaced without touching the pages.
Nothing is fetched from the network: fonts, search and charts are all served by the site itself.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
from pathlib import Path

import kb
from kb.build import build_meta

from kb.build import load_valid
from kb.pipeline import ensure_database
from kb.check.published import EVALUATION_DIR
from kb.project import build_dir
from kb.publish.sitegen import generate_pages, site_data

CONFIG = "mkdocs.yml"
STAMP = ".caveat-build.json"  # in the built site: what it was built from, so `kb serve` knows when to rebuild


def docs_dir_for(out: Path) -> Path:
    """Where the generated Markdown goes: next to the built site (build/site -> build/site-src)."""
    return out.with_name(out.name + "-src")


def build_site(root: Path, out: Path | None = None, database: Path | None = None,
               evaluation: Path | None = None) -> Path:
    """Generate the pages and build the site (strict: any mkdocs warning fails). Returns the built folder.

    `database` (default build/kb.db, rebuilt first when stale) supplies the checker's verdicts once it stores
    them; `evaluation` (default evaluation/, committed) the checker's measured accuracy on real statements it was not
    fitted on: cross-validated, the locked fold's latest run, and the human agreement (kb.check.published).
    Raises kb.build.InvalidData when the data has problems, and mkdocs' Abort when the strict build warns.
    """
    root = Path(root)
    out = Path(out) if out else build_dir(root) / "site"
    knowledge_base = load_valid(root)
    database = Path(database) if database else ensure_database(root)
    evaluation = Path(evaluation) if evaluation else root / EVALUATION_DIR
    site = site_data(knowledge_base, database, evaluation)
    site.check_url = caveat_settings(root).get("check_url", site.check_url)
    docs = docs_dir_for(out)
    generate_pages(root, docs, site)
    run_mkdocs(root, docs, out)
    (out / STAMP).write_text(json.dumps(site_inputs(root, database, evaluation),
                                        sort_keys=True) + "\n", encoding="utf-8")
    return out


def site_inputs(root: Path, database: Path, evaluation: Path) -> dict:
    """What a built site depends on: the database's data, the hand-written pages, the mkdocs configuration, the saved
    evaluation and the version of the code that generates the pages."""
    digest = hashlib.sha256()
    root = Path(root)
    for path in sorted([root / CONFIG, *(p for p in (root / "site").rglob("*") if p.is_file())]):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    meta = build_meta(database)
    evaluation = Path(evaluation)
    return {"data_hash": meta.get("data_hash"), "layout_hash": meta.get("layout_hash"), "pages": digest.hexdigest(),
            "evaluation": _folder_hash(evaluation),
            "caveat_version": kb.__version__}


def _folder_hash(folder: Path) -> str | None:
    files = sorted(p for p in Path(folder).glob("*") if p.is_file()) if Path(folder).is_dir() else []
    if not files:
        return None
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def site_is_stale(root: Path, out: Path, database: Path, evaluation: Path | None = None) -> bool:
    """True when the built site is missing or was built from other inputs than the current ones."""
    stamp = Path(out) / STAMP
    if not stamp.is_file() or not (Path(out) / "index.html").is_file():
        return True
    try:
        built = json.loads(stamp.read_text(encoding="utf-8"))
    except ValueError:
        return True
    return built != site_inputs(root, database, evaluation or Path(root) / EVALUATION_DIR)


def caveat_settings(root: Path) -> dict:
    """mkdocs.yml's extra.caveat: where the check page, the data and the graph are (see mkdocs.yml)."""
    import yaml

    config = yaml.safe_load((Path(root) / CONFIG).read_text(encoding="utf-8")) or {}
    return ((config.get("extra") or {}).get("caveat")) or {}


def run_mkdocs(root: Path, docs: Path, out: Path) -> None:
    """`mkdocs build --strict` in-process, with our docs and site folders."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    config = load_config(config_file=str(Path(root) / CONFIG), docs_dir=str(docs), site_dir=str(out), strict=True)
    build(config)


def serve_site(root: Path, host: str = "127.0.0.1", port: int = 8000, out: Path | None = None, echo=print) -> None:
    """Build, then serve the built folder with Python's http.server (a static preview; nothing is fetched).

    The check page is not part of a static site: its links lead to `kb serve`'s /-/check (mkdocs.yml,
    extra.caveat.check_url), which this preview does not serve."""
    out = build_site(root, out)
    handler = functools.partial(QuietHandler, directory=str(out))
    with http.server.ThreadingHTTPServer((host, port), handler) as server:
        echo(f"Serving {out} at http://{host}:{server.server_port}/ (Ctrl-C to stop). This preview is the site alone: "
             f"its links to the check page and the data lead to kb serve, which serves all of them (the site at /site/).")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder without logging each request (also the browser tests' server)."""

    def log_message(self, format, *args):  # one line per request is noise in a preview
        pass
