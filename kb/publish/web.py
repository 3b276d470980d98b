"""What every Caveat route shares: the served knowledge base (read once per process), links into Datasette, JSON
responses and helpful 404s. The route modules (datasette_plugin, check_routes, claimreview) import this one and
never each other's helpers, so the imports run one way.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import sqlite3
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote

from datasette.utils import tilde_decode, tilde_encode
from datasette.utils.asgi import Response

from kb.check.published import FlagTrust, stored_accuracy
from kb.check.store import stored_results
from kb.graph import build_graph
from kb.publish.datasette_config import DATABASE, PLUGIN
from kb.readback import read_knowledge_base
from kb.records import KnowledgeBase

TABLE_OF_NODE_TYPE = {"claim": "claims", "source": "sources", "setting": "settings", "model": "models",
                      "behaviour": "behaviours", "statement": "statements"}
CHECK_PATH = "/-/check"

def machine_verdicts(conn: sqlite3.Connection) -> dict[str, dict]:
    """statement id -> {"verdict", "agrees"}: the checker's verdict from the `checks` table `kb build` writes.

    Empty for a database built without the checker; `agrees` (with the human label, allowing its alternatives)
    is None when the table does not say.
    """
    columns = {row[1] for row in conn.execute("pragma table_info(checks)")}
    if not {"statement_id", "verdict"} <= columns:
        return {}
    agrees = "agrees" if "agrees" in columns else "null"
    query = f"select statement_id, verdict, {agrees} from checks order by rowid"
    return {sid: {"verdict": verdict, "agrees": agree} for sid, verdict, agree in conn.execute(query)}


# ---------------------------------------------------------------- the per-process cache

@dataclass
class Served:
    """What one served Caveat database holds, read once: the records, the claim graph, the checker's verdicts."""

    kb: KnowledgeBase
    graph: object
    verdicts: dict = field(default_factory=dict)  # statement id -> {"verdict", "agrees"} (machine_verdicts)
    results: dict = field(default_factory=dict)  # statement id -> the stored `kb check` object (_checked_statements)
    accuracy: dict = field(default_factory=dict)  # kind -> the checker's measured accuracy (kb.check.published)

    @property
    def flag_trust(self) -> FlagTrust:
        """From which confidence a flag reads as a verdict, as the cross-validation measured it."""
        return FlagTrust.of(self.accuracy.get("cv"))


_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # Datasette instance -> {"lock", "served"}


def _load(conn) -> Served:
    knowledge_base = read_knowledge_base(conn)
    return Served(knowledge_base, build_graph(knowledge_base), machine_verdicts(conn),
                  _checked_statements(conn, knowledge_base), stored_accuracy(conn))


def _checked_statements(conn, knowledge_base) -> dict[str, dict]:
    """statement id -> the `kb check` object `kb build` stored for it, with the statement's text (as `kb check`)."""
    results = stored_results(conn)
    for statement_id, result in results.items():
        statement = knowledge_base.statements.get(statement_id)
        result["text"] = statement.text if statement else ""
    return results


async def served(datasette) -> Served | None:
    """The Caveat database's records and graph, loaded on first use (None when no database `kb` is served)."""
    if DATABASE not in datasette.databases:
        return None
    state = _CACHE.setdefault(datasette, {"lock": asyncio.Lock(), "served": None})
    async with state["lock"]:  # concurrent first requests wait for one load instead of each loading
        if state["served"] is None:
            state["served"] = await datasette.get_database(DATABASE).execute_fn(_load)
    return state["served"]


# ---------------------------------------------------------------- links

def site_folder(datasette) -> Path | None:
    """The built explainer site `kb serve` passes in its metadata (None: served without it)."""
    folder = (datasette.plugin_config(PLUGIN) or {}).get("site_dir")
    return Path(folder) if folder else None


def row_url(datasette, table: str, record_id: str) -> str:
    return datasette.urls.row(DATABASE, table, tilde_encode(record_id))


def node_url(datasette, node: str, data: dict) -> str | None:
    table = TABLE_OF_NODE_TYPE.get(data.get("type"))
    return row_url(datasette, table, data.get("id") or node.split(":", 1)[1]) if table else None


def url_id(request, name: str) -> str:
    """An id from the path: Datasette matches routes on the raw path, so undo %-escapes and its ~-escapes."""
    return tilde_decode(unquote(request.url_vars[name]))


def graph_url(datasette, claim_id: str, json_format: bool = False) -> str:
    return datasette.urls.path(f"-/graph/{quote(claim_id, safe='')}" + (".json" if json_format else ""))


def bibtex_url(datasette, source_id: str) -> str:
    return datasette.urls.path(f"-/bibtex/{quote(source_id, safe='')}.bib")


class DatasetteLinks:
    """views.Links for Datasette: row pages, the graph view, the BibTeX export and the check page."""

    def __init__(self, datasette):
        self.datasette = datasette

    def claim(self, claim_id):
        return row_url(self.datasette, "claims", claim_id)

    def source(self, source_id):
        return row_url(self.datasette, "sources", source_id)

    def model(self, model_id):
        return row_url(self.datasette, "models", model_id)

    def behaviour(self, behaviour_id):
        return row_url(self.datasette, "behaviours", behaviour_id)

    def setting(self, setting_id):
        return row_url(self.datasette, "settings", setting_id)

    def context_key(self, key):
        return row_url(self.datasette, "context_keys", key) if key != "source" else None

    def statement(self, statement_id):
        return row_url(self.datasette, "statements", statement_id)

    def graph(self, claim_id):
        return graph_url(self.datasette, claim_id)

    def bibtex(self, source_id):
        return bibtex_url(self.datasette, source_id)

    def check(self):
        return self.datasette.urls.path(CHECK_PATH.lstrip("/"))


def _cache_headers(datasette) -> dict:
    return {"cache-control": f"max-age={datasette.setting('default_cache_ttl')}"}


def inert_json(data) -> str:
    """JSON with <, > and & escaped as \\u003c etc.: still valid JSON, inert if a browser sniffs it as HTML, and safe
    inside a <script type="application/ld+json"> element."""
    body = json.dumps(data, ensure_ascii=False)
    return body.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def json_response(data, status: int = 200, headers: dict | None = None,
                  content_type: str = "application/json; charset=utf-8") -> Response:
    return Response(inert_json(data), status=status, headers=headers or {}, content_type=content_type)


NO_DATABASE = f"No Caveat database is served here (expected /{DATABASE}). Run kb serve."


def no_database() -> Response:
    """The 404 of every Caveat route when the server was started without the knowledge base's database."""
    return Response.text(NO_DATABASE, status=404)


# kind -> (table, query argument that searches it): claims have full-text search, sources a substring filter.
SEARCHES = {"claim": ("claims", "_search"), "source": ("sources", "id__contains"),
            "statement": ("statements", "_search")}


def _closest(wanted: str, ids) -> list[str]:
    return difflib.get_close_matches(wanted, list(ids), n=5, cutoff=0.6)


async def not_found(datasette, request, kind: str, wanted: str, ids, link, json_format: bool = False) -> Response:
    """A 404 that says what was not found and what to do next: close ids, a search, the full list.

    `kind` is "claim" or "source"; `link(id)` gives the page a suggested id leads to.
    """
    table, search_arg = SEARCHES[kind]
    suggestions = _closest(wanted, ids)
    search = datasette.urls.table(DATABASE, table) + f"?{search_arg}=" + quote(wanted, safe="")
    if json_format:
        message = f"No {kind} with id {wanted!r}. Search the {table} at {search}"
        return json_response({"ok": False, "status": 404, "error": message, "suggestions": suggestions}, 404)
    context = {"database": DATABASE, "kind": kind, "table": table, "wanted": wanted, "search_url": search,
               "suggestions": [{"id": s, "url": link(s)} for s in suggestions],
               "list_url": datasette.urls.table(DATABASE, table)}
    html = await datasette.render_template("caveat_not_found.html", context, request=request, view_name="caveat")
    return Response.html(html, status=404)


