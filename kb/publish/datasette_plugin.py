"""Caveat's Datasette plugin: the front page, the navigation bar, claim pages, graph views, the explainer site and
exports over the served database.

Registered through the `datasette` entry point group (pyproject.toml), so it loads in any Datasette run in
this environment. Everything is read from the served SQLite file (kb.publish.web reads the records back into a
`KnowledgeBase` once per process); what a page shows is the record's view from kb.publish.views, the same view
the site's context cards render.

URLs (one family per concern):
  /                          Caveat's home page: the check page, the site, the claims, the graph, the canned queries
  /kb/claims/<id>            the claim's row page, with its conditions, source, contrasts and statements
  /kb/sources/<id>           the source's row page, with its BibTeX entry (.bib: the entry alone)
  /kb/statements/<id>        the statement's row page, with the checker's stored verdict card (.jsonld: its ClaimReview)
  /-/graph                   the graph's front page: open a claim's graph by id, the headline figures
  /-/graph/<claim id>        the claim's neighbourhood as a server-rendered SVG; add .json for node-link JSON
  /-/graph.json              the whole graph as node-link JSON
  /-/bibtex/<source id>.bib  one BibTeX entry; /-/bibtex.bib all of them
  /-/check, /-/check.json    check any text: a form with a verdict card, and the API (kb.publish.check_routes)
  /-/check.openapi.json      the check API as an OpenAPI document (kb.publish.check_openapi)
  /-/check.jsonld, /-/claimreview/...  schema.org ClaimReview JSON-LD (kb.publish.claimreview)
  /site/...                  the built explainer site (directory URLs served with their index.html)
Imports run one way: this module imports the route modules, which import kb.publish.web and never this module.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import quote, unquote

from datasette import hookimpl
from datasette.version import __version__ as datasette_version
from datasette.utils import urlsafe_components
from datasette.utils.asgi import Response, asgi_static
from jinja2 import ChoiceLoader, FileSystemLoader
from markupsafe import Markup

from kb.graph import neighbourhood, node_id, to_json
from kb.publish import check_openapi, check_routes, claimreview, views
from kb.publish.bibtex import bibtex_entry
from kb.format import claim_label
from kb.publish.datasette_config import DATABASE, PLUGIN, canned_queries
from kb.publish.svg import graph_svg
from kb.publish.web import (DatasetteLinks, Served, site_folder, _cache_headers, graph_url, bibtex_url, inert_json, json_response,
                            no_database, node_url, not_found, row_url, served, url_id)
from kb.wording import faithful_sentence

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
OVERRIDES = TEMPLATES / "overrides"  # Datasette templates we replace (each extends its default)
STATIC = HERE / "static"
CSS = "-/caveat/caveat.css"

# ---------------------------------------------------------------- claim, source and statement pages

def claim_page(datasette, data: Served, claim_id: str) -> dict | None:
    """The claim's view (kb.publish.views) with Datasette's links: what its row page shows beyond its columns."""
    claim = data.kb.claims.get(claim_id)
    if claim is None:
        return None
    view = views.claim_view(data.kb, claim, DatasetteLinks(datasette), data.verdicts)
    view["site_url"] = datasette.urls.path(f"site/claims/{quote(claim.id)}/") if site_folder(datasette) else None
    return view


def source_page(datasette, data: Served, source_id: str) -> dict | None:
    source = data.kb.sources.get(source_id)
    if source is None:
        return None
    claims = len(data.kb.claims_by_source.get(source_id, []))
    return {**views.source_view(source, DatasetteLinks(datasette)), "bibtex": bibtex_entry(source), "claims": claims,
            "claims_url": datasette.urls.table(DATABASE, "claims") + f"?source_id={quote(source.id)}"}


async def statement_page(datasette, request, data: Served, statement_id: str) -> dict | None:
    """The checker's stored verdict card for a statement, and its ClaimReview (linked, and embedded as JSON-LD)."""
    result = data.results.get(statement_id)
    if result is None or statement_id not in data.kb.statements:
        return None
    review = claimreview.statement_review(datasette, request, data.kb, result)
    statement = data.kb.statements[statement_id]
    return {"text": statement.text, "who": statement.who, "date": statement.date,
            "card": check_routes.verdict_card(datasette, data.kb, result, trust=data.flag_trust),
            "jsonld": Markup(inert_json(review)),
            "claimreview_url": datasette.urls.path(f"-/claimreview/{quote(statement_id, safe='')}.jsonld"),
            "check_url": DatasetteLinks(datasette).check()}


# ---------------------------------------------------------------- routes

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
            "verification_warning": views.VERIFICATION_WARNINGS.get(claim.verification),
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


# ---------------------------------------------------------------- the graph's front page and the site

async def graph_index(datasette, request) -> Response:
    """/-/graph: what the graph views are, a form to open one claim's graph, and the headline claims' graphs."""
    data = await served(datasette)
    if data is None:
        return no_database()
    wanted = (request.args.get("claim") or "").strip()
    if wanted:
        if wanted in data.kb.claims:
            return Response.redirect(graph_url(datasette, wanted))
        return await not_found(datasette, request, "claim", wanted, data.kb.claims,
                               lambda cid: graph_url(datasette, cid))
    headline = [{"id": c.id, "label": claim_label(data.kb, c), "url": graph_url(datasette, c.id)}
                for c in data.kb.claims.values() if c.rank == "preferred"]
    context = {"database": DATABASE, "headline": headline, "claims": len(data.kb.claims),
               "nodes": data.graph.number_of_nodes(), "edges": data.graph.number_of_edges(),
               "all_json_url": datasette.urls.path("-/graph.json"), "claim_ids": sorted(data.kb.claims)}
    html = await datasette.render_template("caveat_graph_index.html", context, request=request, view_name="caveat")
    return Response.html(html, headers=_cache_headers(datasette))


async def site_view(datasette, request) -> Response:
    """/site/...: the built explainer site. Its links are directory URLs (use_directory_urls), which Datasette's
    --static mounts refuse, so this serves <dir>/index.html itself (and redirects /site/x to /site/x/)."""
    folder = site_folder(datasette)
    if folder is None or not (folder / "index.html").is_file():
        return Response.text("The explainer site is not served here: run kb serve without --no-site (it builds "
                             "build/site/ first), or kb site --serve to preview it alone.", status=404)
    path = unquote(request.url_vars.get("path") or "")
    target = (folder / path.lstrip("/")).resolve()
    if not target.is_relative_to(folder.resolve()):
        return Response.text("Not found", status=404)
    if target.is_dir():
        if not request.path.endswith("/"):
            return Response.redirect(request.path + "/")
        target = target / "index.html"
    if not target.is_file():
        missing = folder / "404.html"
        body = missing.read_bytes() if missing.is_file() else b"Not found"
        return Response(body, status=404, content_type="text/html; charset=utf-8")
    content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if content_type.startswith("text/") or content_type in ("application/javascript", "application/json"):
        content_type += "; charset=utf-8"
    return Response(target.read_bytes(), content_type=content_type, headers=_cache_headers(datasette))


# ---------------------------------------------------------------- exports on row pages (.bib, .jsonld)

def _row_ids(rows, column: str = "id") -> list[str]:
    return [row[column] for row in rows if column in row.keys()]


async def render_bibtex(datasette, rows, table):
    """`.bib` on source and claim row (and table) pages: the BibTeX of the sources they show."""
    data = await served(datasette)
    ids = _row_ids(rows) if table == "sources" else [data.kb.claim_sources.get(cid) for cid in _row_ids(rows)]
    sources = [data.kb.sources[sid] for sid in dict.fromkeys(ids) if sid in data.kb.sources]
    return Response("\n".join(bibtex_entry(source) for source in sources),
                    content_type="text/plain; charset=utf-8", headers=_cache_headers(datasette))


async def render_claimreview(datasette, rows, request):
    """`.jsonld` on statement row pages: the statement's ClaimReview, as /-/claimreview/<id>.jsonld gives it."""
    data = await served(datasette)
    reviews = [claimreview.statement_review(datasette, request, data.kb, data.results[sid])
               for sid in _row_ids(rows) if sid in data.results and sid in data.kb.statements]
    body = reviews[0] if len(reviews) == 1 else {"@context": claimreview.context(claimreview.base_url(datasette, request)),
                                                 "@graph": reviews}
    return json_response(body, content_type=claimreview.CONTENT_TYPE, headers=_cache_headers(datasette))


# ---------------------------------------------------------------- hooks

CHECK_API_PATHS = ("/-/check.json", "/-/check.jsonld")


@hookimpl
def register_routes():
    return [
        (r"^/-/graph/?$", graph_index),
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
        (r"^/site(?P<path>/.*)?$", site_view),
    ]


@hookimpl
def register_output_renderer(datasette):
    def on(tables, view_names=("row", "table")):
        return lambda database, table, view_name: database == DATABASE and table in tables and view_name in view_names

    return [
        {"extension": "bib", "render": render_bibtex, "can_render": on(("sources", "claims"))},
        {"extension": "jsonld", "render": render_claimreview, "can_render": on(("statements",), ("row",))},
    ]


@hookimpl
def skip_csrf(scope):
    # The check API has no side effects and takes JSON, which a cross-site form cannot send; CSRF tokens would only
    # stop API clients that happen to hold Datasette's cookie. The HTML form keeps its token.
    return scope.get("path", "").endswith(CHECK_API_PATHS)


@hookimpl
def prepare_jinja2_environment(env):
    # Datasette only finds a plugin's templates/ inside a package; ours is a module, so add the folders here: the
    # overrides (home page, navigation bar, collapsed column descriptions; each extends "default:<name>") before
    # Datasette's own, our new pages after them (their names are new, so nothing is shadowed).
    env.loader = ChoiceLoader([FileSystemLoader(str(OVERRIDES)), env.loader, FileSystemLoader(str(TEMPLATES))])


@hookimpl
def extra_css_urls(datasette):
    return [{"url": datasette.urls.path(CSS)}]  # every page: the navigation bar is on every page


PAGE_TABLES = ("claims", "sources", "statements")  # row pages with Caveat's panel above the columns


@hookimpl
def extra_template_vars(view_name, database, table, request, datasette):
    async def page_vars():
        # Datasette passes its version to its own views only: the footer of our pages said "Datasette v".
        out = {"caveat_nav": navigation(datasette), "datasette_version": datasette_version}
        if view_name == "index":
            out["caveat_home"] = {"queries": [{"name": name, "title": query["title"],
                                               "description": query["description"],
                                               "url": datasette.urls.query(DATABASE, name)}
                                              for name, query in canned_queries().items()],
                                  "served": DATABASE in datasette.databases,
                                  "site": site_folder(datasette) is not None,
                                  "tables": await all_table_names(datasette)}
        if view_name != "row" or database != DATABASE or table not in PAGE_TABLES or request is None:
            return out
        data = await served(datasette)
        pks = urlsafe_components(request.url_vars.get("pks", ""))
        if data is None or len(pks) != 1:
            return out
        if table == "claims":
            out["caveat_claim"] = claim_page(datasette, data, pks[0])
        elif table == "statements":
            out["caveat_statement"] = await statement_page(datasette, request, data, pks[0])
        else:
            out["caveat_source"] = source_page(datasette, data, pks[0])
        return out

    return page_vars


async def all_table_names(datasette) -> dict:
    """Each served database's tables, then its views, by name (Datasette's internal database left out)."""
    names = {}
    for name, db in datasette.databases.items():
        if name != "_internal":
            hidden = set(await db.hidden_table_names())
            names[name] = [t for t in await db.table_names() if t not in hidden] + await db.view_names()
    return names


def navigation(datasette) -> list[dict]:
    """The bar on every page: the five places a reader moves between (root-relative links)."""
    path = datasette.urls.path
    return [{"label": "Caveat", "url": path("/")}, {"label": "Check a statement", "url": path("-/check")},
            {"label": "Claims", "url": datasette.urls.table(DATABASE, "claims")},
            {"label": "Claim graph", "url": path("-/graph")}, {"label": "Explainer site", "url": path("site/")}]


BADGE_WARNINGS = {"verification": views.VERIFICATION_WARNINGS, "rank": views.RANK_WARNINGS}  # column -> warnings
# Canned query columns that hold claim ids (one, or a comma-separated list), and those that hold statement ids.
CLAIM_COLUMNS = {"claim", "other_claim", "claim_id", "other_claim_id"}
CLAIM_LIST_COLUMNS = {"claims"}


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    """A warning badge for any verification status other than `verified` (or a deprecated rank), wherever claims
    are listed; in canned query results, claim (and statement) ids linked to their pages."""
    if database != DATABASE:
        return None
    if table is None and isinstance(value, str):
        return _query_cell_links(datasette, row, value, column)
    warnings = BADGE_WARNINGS.get(column) if table == "claims" else None
    if warnings is None or value not in warnings:  # other columns' values may be unhashable (foreign-key dicts)
        return None
    badge = Markup('<span class="caveat-badge caveat-badge-warn" title="{}">⚠ {}</span>')
    return badge.format(warnings[value], value)


def _id_kind(row, column: str) -> str | None:
    """What the ids in a query result's column are: 'claim', 'claims' (a list), 'statement', or None."""
    keys = set(row.keys())
    if column in CLAIM_COLUMNS or (column == "id" and "value_display" in keys):
        return "claim"
    if column in CLAIM_LIST_COLUMNS:
        return "claims"
    if column == "id" and {"text", "who"} <= keys:
        return "statement"
    return None


def _query_cell_links(datasette, row, value: str, column: str):
    kind = _id_kind(row, column)
    if kind is None:
        return None

    async def links():
        data = await served(datasette)
        if data is None:
            return None
        if kind == "statement":
            known, table = data.kb.statements, "statements"
        else:
            known, table = data.kb.claims, "claims"
        ids = [part.strip() for part in value.split(",")] if kind == "claims" else [value]
        if not ids or any(i not in known for i in ids):
            return None
        link = Markup('<a href="{}">{}</a>')
        return Markup(", ").join(link.format(row_url(datasette, table, i), i) for i in ids)

    return links
