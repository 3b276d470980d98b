"""The served knowledge base's defences: hostile requests are refused cheaply and never cost other users.

A Datasette plugin of its own (the `datasette` entry point `caveat_security`), so the pages' plugin stays about
pages. It adds, for every request:

- security headers on every response: `X-Content-Type-Options: nosniff`, no framing (`X-Frame-Options` and CSP
  `frame-ancestors`), a Content-Security-Policy that allows only this origin (the pages load nothing from other
  sites), and `Referrer-Policy`;
- methods: GET, HEAD and OPTIONS everywhere, POST only where something takes it (the check page and API, and
  Datasette's own `/-/` forms); anything else is a 405 with `Allow`, before any page code runs;
- no open redirect: a path starting `//` or `/\\` is a 404 (Datasette would redirect `/\\evil.example/` to
  `/\\evil.example`, which browsers read as another site), and no response may redirect to another site;
- absolute URLs (ClaimReview) from the configured base URL (`kb serve --base-url`, else the address the server
  listens on), never from the request's `Host` header: the scope's host and scheme are replaced by the base URL's;
- SQLite length limits on every connection, so one expression (`randomblob(1000000000)`) cannot allocate more
  than a few MB — the SQL time limit cannot stop a single allocation;
- client mistakes (404s, a bad `_sort`) answered without printing a traceback to the log;
- `/-/databases.json` without the database file's absolute path.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
from urllib.parse import urlsplit

import pluggy

# Datasette's marker, made here rather than imported: importing datasette loads its plugins, this module among
# them, and a module that imports datasette at its top would be registered half-initialised, with no hooks, whenever
# it is imported first (as `kb serve` does). Datasette itself is imported inside the hooks.
hookimpl = pluggy.HookimplMarker("datasette")

BASE_URL_ENV = "CAVEAT_BASE_URL"  # set by `kb serve`: the origin absolute URLs are built from
MAX_VALUE_BYTES = 5_000_000  # the longest string or blob one SQL expression may build (the database is ~5 MB)
MAX_SQL_CHARS = 100_000  # the longest SQL text
SQLITE_LIMITS = {sqlite3.SQLITE_LIMIT_LENGTH: MAX_VALUE_BYTES, sqlite3.SQLITE_LIMIT_SQL_LENGTH: MAX_SQL_CHARS,
                 sqlite3.SQLITE_LIMIT_EXPR_DEPTH: 200, sqlite3.SQLITE_LIMIT_COMPOUND_SELECT: 100,
                 sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH: 1_000, sqlite3.SQLITE_LIMIT_FUNCTION_ARG: 100,
                 sqlite3.SQLITE_LIMIT_ATTACHED: 0}

# Only this origin: Datasette's and Caveat's pages use inline scripts and styles of their own and load nothing else.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self' 'unsafe-inline'", "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:", "font-src 'self' data:", "connect-src 'self'", "worker-src 'self' blob:",
    "object-src 'none'", "base-uri 'self'", "form-action 'self'", "frame-ancestors 'none'"])
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
}

READ = ("GET", "HEAD", "OPTIONS")
# Paths that take POST: the check page's form, the check APIs, and Datasette's own forms (log out, messages, ...).
POST_PATHS = re.compile(r"^/-/(check|check\.json|check\.jsonld|logout|messages|permissions|allow-debug)$")
NOT_FOUND_TEXT = "Not found: nothing is served at this address."
log = logging.getLogger("caveat.security")
CLIENT_MISTAKES = re.compile(r"^Cannot (sort table by |use _sort and _sort_desc)")


# ---------------------------------------------------------------- SQLite

@hookimpl
def prepare_connection(conn):
    """Bound what one SQL statement can allocate, on every connection Datasette opens."""
    for limit, value in SQLITE_LIMITS.items():
        conn.setlimit(limit, value)


# ---------------------------------------------------------------- errors without tracebacks

@hookimpl
def startup():
    """Datasette's default error handler prints a traceback with every local variable for each handled exception,
    404s included, whenever the `rich` package is importable (test tools install it): a log flooded by every
    mistyped URL. The handler still renders every error page; only that print goes."""
    import datasette.handle_exception as datasette_errors

    datasette_errors.rich = None


@hookimpl
def handle_exception(request, exception):
    """Server errors (not client mistakes) are logged once with their traceback; Datasette renders the page.

    Datasette's table view reports a bad `_sort` as a server error (500); it is the request's mistake, so a 400."""
    from datasette.utils.asgi import Base400
    from datasette.views.base import DatasetteError

    if isinstance(exception, DatasetteError) and exception.status == 500 and CLIENT_MISTAKES.match(exception.message):
        exception.status = 400
    status = getattr(exception, "status", 500) if isinstance(exception, (Base400, DatasetteError)) else 500
    if status >= 500:
        log.error("error answering %s %s", request.method, request.path, exc_info=exception)
    return None


# ---------------------------------------------------------------- the ASGI layer

def base_url(scope) -> str:
    """The origin absolute URLs are made from: the configured base URL, else the address the server listens on."""
    configured = os.environ.get(BASE_URL_ENV)
    if configured:
        return configured.rstrip("/")
    host, port = scope.get("server") or ("localhost", None)
    host = f"[{host}]" if ":" in str(host) else host
    return f"http://{host}" if port in (None, 80) else f"http://{host}:{port}"


def check_base_url(url: str) -> str:
    """The base URL as an origin (scheme://host[:port]); ValueError saying what is wrong otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/") \
            or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(f"--base-url {url!r} must be an origin such as https://caveat.example.org "
                         "(http or https, a host, an optional port, no path)")
    return f"{parts.scheme}://{parts.netloc}"


def _with_base_url(scope) -> dict:
    parts = urlsplit(base_url(scope))
    headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"host"]
    return {**scope, "scheme": parts.scheme, "headers": [*headers, (b"host", parts.netloc.encode("latin-1"))]}


def _off_site(location: bytes) -> bool:
    target = location.strip().replace(b"\\", b"/")
    return target.startswith(b"//") or bool(re.match(rb"^[a-zA-Z][a-zA-Z0-9+.-]*:", target))


async def _plain(send, status: int, text: str, headers: dict | None = None):
    body = text.encode("utf-8")
    head = {"content-type": "text/plain; charset=utf-8", **SECURITY_HEADERS, **(headers or {})}
    await send({"type": "http.response.start", "status": status,
                "headers": [(k.encode(), v.encode()) for k, v in head.items()]})
    await send({"type": "http.response.body", "body": body})


def allowed_methods(path: str) -> tuple:
    return (*READ, "POST") if POST_PATHS.match(path) else READ


def wrap(app):
    """The ASGI app with Caveat's request checks and response headers around it."""
    ours = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def caveat_security(scope, receive, send):
        if scope.get("type") != "http":
            return await app(scope, receive, send)
        raw = scope.get("raw_path") or scope.get("path", "").encode("utf-8")
        path = raw.partition(b"?")[0]
        if path.startswith((b"//", b"/\\")):
            return await _plain(send, 404, NOT_FOUND_TEXT)
        allowed = allowed_methods(scope.get("path", ""))
        if scope.get("method") not in allowed:
            return await _plain(send, 405, f"Method {scope.get('method')} is not allowed here; allowed: "
                                f"{', '.join(allowed)}.", {"allow": ", ".join(allowed)})
        blocked = False

        async def send_guarded(message):
            nonlocal blocked
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in SECURITY_HEADER_KEYS]
                location = next((v for k, v in headers if k.lower() == b"location"), None)
                if 300 <= message["status"] < 400 and location is not None and _off_site(location):
                    blocked = True
                    return await _plain(send, 404, NOT_FOUND_TEXT)
                message = {**message, "headers": headers + ours}
            elif blocked:
                return None
            await send(message)

        await app(_with_base_url(scope), receive, send_guarded)

    return caveat_security


SECURITY_HEADER_KEYS = {k.encode() for k in SECURITY_HEADERS}


@hookimpl
def asgi_wrapper():
    return wrap


# ---------------------------------------------------------------- /-/databases.json without the server's paths

def databases(datasette) -> list[dict]:
    """Datasette's /-/databases list, with each file's name instead of its absolute path on the server."""
    rows = []
    for name, db in sorted(datasette.databases.items()):
        if name == "_internal":
            continue
        rows.append({"name": name, "path": os.path.basename(db.path) if db.path else None, "size": db.size,
                     "is_mutable": db.is_mutable, "is_memory": db.is_memory, "hash": db.hash})
    return rows


async def databases_view(datasette, request):
    from datasette.views.special import JsonDataView

    return await JsonDataView(datasette, "databases.json", lambda: databases(datasette)).get(request)


@hookimpl
def register_routes():
    return [(r"^/-/databases(?P<format>\.json)?$", databases_view)]
