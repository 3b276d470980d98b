"""Caveat's Datasette plugin: claim pages, graph views and BibTeX exports over the served database.

Registered through the `datasette` entry point group (pyproject.toml), so it loads in any Datasette run in
this environment. Everything is read from the served SQLite file — the records are read back into a
`KnowledgeBase` once per process, so the server needs no YAML and the shared helpers (faithful wordings,
`kb.graph.build_graph`, the SVG renderer, BibTeX) work unchanged. The database is immutable while served,
which is what makes the once-per-process cache correct.

URLs (one family per concern):
  /kb/claims/<id>            the claim's row page, with its conditions, source, contrasts and statements
  /kb/sources/<id>           the source's row page, with its BibTeX entry
  /-/graph/<claim id>        the claim's neighbourhood as a server-rendered SVG; add .json for node-link JSON
  /-/graph.json              the whole graph as node-link JSON
  /-/bibtex/<source id>.bib  one BibTeX entry; /-/bibtex.bib all of them
  /kb/statements/<id>        the statement's row page, with the checker's stored verdict card and its ClaimReview
  /-/check, /-/check.json    check any text: a form with a verdict card, and the API (kb.publish.check_routes)
  /-/check.openapi.json      the check API as an OpenAPI document (kb.publish.check_openapi)
  /-/check.jsonld, /-/claimreview/...  schema.org ClaimReview JSON-LD (kb.publish.claimreview)
The checker is loaded once per database file per process, on first use (kb.publish.check_routes), from the
records read back here — which is why the database carries the checker's lexicon too.
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

from datasette import hookimpl
from datasette.utils import tilde_decode, tilde_encode, urlsafe_components
from datasette.utils.asgi import Response, asgi_static
from jinja2 import ChoiceLoader, FileSystemLoader
from markupsafe import Markup

from kb.check.store import accepted_verdicts, stored_results
from kb.format import format_value
from kb.graph import build_graph, neighbourhood, node_id, to_json
from kb.publish.bibtex import bibtex_entry
from kb.publish.datasette_config import DATABASE
from kb.publish.svg import graph_svg
from kb.readback import read_knowledge_base
from kb.records import KnowledgeBase
from kb.wording import faithful_sentence

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
CSS = "-/caveat/caveat.css"

TABLE_OF_NODE_TYPE = {"claim": "claims", "source": "sources", "setting": "settings", "model": "models",
                      "behaviour": "behaviours", "statement": "statements"}

# Shown in a warning box on claim pages and as a badge in tables: a number that is not `verified` must never
# pass for one that is.
VERIFICATION_WARNINGS = {
    "parsed": "Parsed, not verified: this number was read from a badly extracted table. "
              "Check it against the source before quoting it.",
    "secondary": "Secondary, not verified: this number was seen only in secondary sources, not in the primary text. "
                 "Quote the primary source, not this number, if you can.",
    "partial": "Only partly verified: part of this number or its conditions could not be checked against the "
               "primary text.",
    "unverified": "Unverified: this number has not been checked against its source yet.",
}
RANK_WARNINGS = {"deprecated": "Deprecated: this claim is superseded or known to be wrong. Do not quote it."}
BADGE_WARNINGS = {"verification": VERIFICATION_WARNINGS, "rank": RANK_WARNINGS}  # claims column -> its warnings


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


_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # Datasette instance -> {"lock", "served"}


def _load(conn) -> Served:
    knowledge_base = read_knowledge_base(conn)
    return Served(knowledge_base, build_graph(knowledge_base), machine_verdicts(conn),
                  _checked_statements(conn, knowledge_base))


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


# ---------------------------------------------------------------- claim and source pages

def claim_page(datasette, data: Served, claim_id: str) -> dict | None:
    """Everything the claim's row page shows beyond its columns."""
    kb = data.kb
    claim = kb.claims.get(claim_id)
    if claim is None:
        return None
    source = kb.source_of(claim)
    return {
        "id": claim.id, "sentence": faithful_sentence(kb, claim), "claim": claim,
        "value_display": format_value(claim),
        "verification_warning": VERIFICATION_WARNINGS.get(claim.verification),
        "rank_warning": RANK_WARNINGS.get(claim.rank),
        "model": _named(datasette, "models", claim.model, kb.models.get(claim.model), "name"),
        "behaviour": _named(datasette, "behaviours", claim.behaviour, kb.behaviours.get(claim.behaviour), "label"),
        "setting": _setting(datasette, kb, claim),
        "conditions": _conditions(kb, claim),
        "source": _source(datasette, source) if source else None,
        "contrasts": _contrasts(datasette, kb, claim),
        "statements": _statements(datasette, data, claim),
        "corrections": _corrections(datasette, kb, claim),
        "graph_url": graph_url(datasette, claim.id),
    }


def _named(datasette, table, record_id, record, attribute) -> dict:
    name = getattr(record, attribute, None) if record else None
    return {"id": record_id, "name": name or record_id, "url": row_url(datasette, table, record_id)}


def _setting(datasette, kb, claim) -> dict | None:
    setting = kb.setting_of(claim)
    if setting is None:
        return None
    return {"id": setting.id, "label": setting.label, "description": setting.description, "notes": setting.notes,
            "url": row_url(datasette, "settings", setting.id)}


def _conditions(kb, claim) -> list[dict]:
    key_context = set(claim.key_context or [])
    rows = []
    for key, condition in kb.conditions_of(claim).items():
        context = kb.context.get(key)
        rows.append({"key": key, "label": context.label if context else key, "value": condition.value,
                     "description": condition.description, "quote": condition.quote,
                     "must_convey": key in key_context})
    return rows


def _source(datasette, source) -> dict:
    return {"id": source.id, "title": source.title, "authors": source.authors, "date": source.date,
            "kind": source.kind, "url": source.url, "row_url": row_url(datasette, "sources", source.id),
            "bibtex_url": bibtex_url(datasette, source.id)}


def _contrasts(datasette, kb, claim) -> list[dict]:
    rows = []
    for other_id, differs_by, note in kb.contrasts_of(claim.id):
        other = kb.claims[other_id]  # contrasts_of lists only claims that exist
        here, there = kb.conditions_of(claim).get(differs_by), kb.conditions_of(other).get(differs_by)
        context = kb.context.get(differs_by)
        rows.append({"id": other.id, "url": row_url(datasette, "claims", other.id),
                     "value_display": format_value(other), "differs_by": differs_by,
                     "differs_label": context.label if context else differs_by,
                     "this_condition": here.value if here else None, "other_condition": there.value if there else None,
                     "note": note, "source_id": kb.claim_sources.get(other.id), "verification": other.verification,
                     "verification_warning": VERIFICATION_WARNINGS.get(other.verification)})
    return rows


def _corrections(datasette, kb, claim) -> list[dict]:
    """The claim's entries in the data changelog (the `changes` table), oldest first."""
    return [{"date": c.date, "field": c.field, "old": c.old, "new": c.new, "why": c.why, "locator": c.locator,
             "source": c.source, "source_url": row_url(datasette, "sources", c.source)}
            for c in kb.changes_by_claim.get(claim.id, [])]


def _statements(datasette, data: Served, claim) -> list[dict]:
    rows = []
    for statement in data.kb.statements_by_claim.get(claim.id, []):
        label = statement.label
        rows.append({"id": statement.id, "url": row_url(datasette, "statements", statement.id),
                     "text": statement.text, "who": statement.who, "date": statement.date,
                     "label_verdict": label.verdict if label else None,
                     "missing": list(label.missing or []) if label else [],
                     "machine": _machine(data.verdicts.get(statement.id), label)})
    return rows


def _machine(check: dict | None, label) -> dict | None:
    """The checker's verdict, and whether it disagrees with the human label (when the label has a verdict)."""
    if not check or not check.get("verdict"):
        return None
    agrees = check.get("agrees")
    if agrees is None and label and label.verdict:
        agrees = check["verdict"] in accepted_verdicts(label.verdict, label.verdict_any)
    return {"verdict": check["verdict"], "disagrees": agrees is not None and not agrees}


def source_page(datasette, data: Served, source_id: str) -> dict | None:
    source = data.kb.sources.get(source_id)
    if source is None:
        return None
    claims = len(data.kb.claims_by_source.get(source_id, []))
    return {"id": source.id, "bibtex": bibtex_entry(source), "bibtex_url": bibtex_url(datasette, source.id),
            "claims": claims, "claims_url": datasette.urls.table(DATABASE, "claims") + f"?source_id={quote(source.id)}"}


async def statement_page(datasette, request, data: Served, statement_id: str) -> dict | None:
    """The checker's stored verdict card for a statement, and its ClaimReview (linked, and embedded as JSON-LD)."""
    from kb.publish import check_routes, claimreview

    result = data.results.get(statement_id)
    if result is None or statement_id not in data.kb.statements:
        return None
    review = claimreview.statement_review(datasette, request, data.kb, result)
    statement = data.kb.statements[statement_id]
    return {"text": statement.text, "who": statement.who, "date": statement.date,
            "card": check_routes.verdict_card(datasette, data.kb, result), "jsonld": Markup(inert_json(review)),
            "claimreview_url": datasette.urls.path(f"-/claimreview/{quote(statement_id, safe='')}.jsonld"),
            "check_url": datasette.urls.path("-/check")}


# ---------------------------------------------------------------- routes

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


async def graph_view(datasette, request) -> Response:
    """/-/graph/<claim id>: the claim's neighbourhood, drawn on the server; .json gives it as node-link JSON."""
    data = await served(datasette)
    if data is None:
        return no_database()
    claim_id, json_format = url_id(request, "claim_id"), bool(request.url_vars.get("format"))
    center = node_id("claim", claim_id)
    if center not in data.graph:
        return await not_found(datasette, request, "claim", claim_id, data.kb.claims,
                               lambda cid: graph_url(datasette, cid), json_format)
    sub = neighbourhood(data.graph, center)
    if json_format:
        return json_response(to_json(sub), headers=_cache_headers(datasette))
    html = await datasette.render_template("caveat_graph.html", _graph_context(datasette, data, claim_id, sub),
                                           request=request, view_name="caveat")
    return Response.html(html, headers=_cache_headers(datasette))


def _graph_context(datasette, data: Served, claim_id: str, sub) -> dict:
    claim = data.kb.claims[claim_id]
    href = lambda node, attrs: node_url(datasette, node, attrs)  # noqa: E731 - the renderer's callback
    svg = graph_svg(sub, center=node_id("claim", claim_id), href=href, title=f"Claim graph of {claim_id}")
    nodes = [{"type": attrs.get("type"), "label": attrs.get("label") or node, "url": href(node, attrs)}
             for node, attrs in sub.nodes(data=True)]
    nodes.sort(key=lambda n: (n["type"] != "claim", n["type"], str(n["label"])))  # the claims first
    return {"database": DATABASE, "claim_id": claim_id, "claim_url": row_url(datasette, "claims", claim_id),
            "sentence": faithful_sentence(data.kb, claim), "svg": Markup(svg), "nodes": nodes,
            "verification_warning": VERIFICATION_WARNINGS.get(claim.verification),
            "json_url": graph_url(datasette, claim_id, json_format=True),
            "all_json_url": datasette.urls.path("-/graph.json")}


async def whole_graph_json(datasette) -> Response:
    data = await served(datasette)
    if data is None:
        return no_database()
    return json_response(to_json(data.graph), headers=_cache_headers(datasette))


def _bibtex_response(text: str, filename: str, datasette) -> Response:
    headers = {"content-disposition": f'inline; filename="{filename}"', **_cache_headers(datasette)}
    return Response(text, headers=headers, content_type="text/plain; charset=utf-8")


async def bibtex_view(datasette, request) -> Response:
    """/-/bibtex/<source id>.bib: the source's BibTeX entry (as text, so a browser shows it)."""
    data = await served(datasette)
    if data is None:
        return no_database()
    source_id = url_id(request, "source_id")
    source = data.kb.sources.get(source_id)
    if source is None:
        return await not_found(datasette, request, "source", source_id, data.kb.sources,
                               lambda sid: bibtex_url(datasette, sid))
    return _bibtex_response(bibtex_entry(source), f"{source.id}.bib", datasette)


async def all_bibtex(datasette) -> Response:
    data = await served(datasette)
    if data is None:
        return no_database()
    entries = [bibtex_entry(data.kb.sources[sid]) for sid in sorted(data.kb.sources)]
    return _bibtex_response("\n".join(entries), "caveat.bib", datasette)


# ---------------------------------------------------------------- hooks

CHECK_API_PATHS = ("/-/check.json", "/-/check.jsonld")


@hookimpl
def register_routes():
    from kb.publish import check_openapi, check_routes, claimreview  # they import this module's helpers

    return [
        (r"^/-/graph\.json$", whole_graph_json),
        (r"^/-/graph/(?P<claim_id>[^/]+?)(?P<format>\.json)?$", graph_view),
        (r"^/-/bibtex\.bib$", all_bibtex),
        (r"^/-/bibtex/(?P<source_id>[^/]+)\.bib$", bibtex_view),
        (r"^/-/caveat/(?P<path>.*)$", asgi_static(str(STATIC))),
        (r"^/-/check$", check_routes.check_page),
        (r"^/-/check\.json$", check_routes.check_api),
        (r"^/-/check\.openapi\.json$", check_openapi.openapi_view),
        (r"^/-/check\.jsonld$", claimreview.check_view),
        (r"^/-/claimreview\.jsonld$", claimreview.all_statements_view),
        (r"^/-/claimreview/terms$", claimreview.terms_view),
        (r"^/-/claimreview/(?P<statement_id>[^/]+)\.jsonld$", claimreview.statement_view),
    ]


@hookimpl
def skip_csrf(scope):
    # The check API has no side effects and takes JSON, which a cross-site form cannot send; CSRF tokens would only
    # stop API clients that happen to hold Datasette's cookie. The HTML form keeps its token.
    return scope.get("path", "").endswith(CHECK_API_PATHS)


@hookimpl
def prepare_jinja2_environment(env):
    # Datasette only finds a plugin's templates/ inside a package; ours is a module, so add the folder here,
    # after the built-in and --template-dir folders (our names are new, so nothing is shadowed).
    env.loader = ChoiceLoader([env.loader, FileSystemLoader(str(TEMPLATES))])


@hookimpl
def extra_css_urls(database, datasette):
    return [{"url": datasette.urls.path(CSS)}] if database == DATABASE else []


PAGE_TABLES = ("claims", "sources", "statements")  # row pages with Caveat's panel above the columns


@hookimpl
def extra_template_vars(view_name, database, table, request, datasette):
    if view_name != "row" or database != DATABASE or table not in PAGE_TABLES or request is None:
        return {}

    async def page_vars():
        data = await served(datasette)
        pks = urlsafe_components(request.url_vars.get("pks", ""))
        if data is None or len(pks) != 1:
            return {}
        if table == "claims":
            return {"caveat_claim": claim_page(datasette, data, pks[0])}
        if table == "statements":
            return {"caveat_statement": await statement_page(datasette, request, data, pks[0])}
        return {"caveat_source": source_page(datasette, data, pks[0])}

    return page_vars


@hookimpl
def render_cell(value, column, table, database):
    """A warning badge for any verification status other than `verified` (or a deprecated rank), wherever claims
    are listed."""
    warnings = BADGE_WARNINGS.get(column) if database == DATABASE and table == "claims" else None
    if warnings is None or value not in warnings:  # other columns' values may be unhashable (foreign-key dicts)
        return None
    badge = Markup('<span class="caveat-badge caveat-badge-warn" title="{}">⚠ {}</span>')
    return badge.format(warnings[value], value)

