"""The served knowledge base's defences: hostile requests are refused cheaply and never cost other users.

A Datasette plugin of its own (the `datasette` entry point `caveat_security`), so the pages' plugin stays about
pages. It adds, for every request:

- security headers on every response: `X-Content-Type-Options: nosniff`, no framing (`X-Frame-Options` and CSP
  `frame-ancestors`), a Content-Security-Policy that allows only this origin (the pages load nothing from other
  sites), and `Referrer-Policy`;
- methods: GET, HEAD and OPTIONS everywhere, POST only where something takes it (the check page and API, and
  Datasette's own `/-/` forms); anything else is a 405 with `Allow`, before any page code runs; OPTIONS is answered
  here, the same on every path: a 204 with `Allow` (and no CORS permission);
- no open redirect: a path starting `//` or `/\\` is a 404 (Datasette would redirect `/\\evil.example/` to
  `/\\evil.example`, which browsers read as another site), and no response may redirect to another site;
- absolute URLs (ClaimReview) from the configured base URL (`kb serve --base-url`, else the address the server
  listens on), never from the request's `Host` header: the scope's host and scheme are replaced by the base URL's;
- SQLite length limits on every connection, so one expression (`randomblob(1000000000)`) cannot allocate more
  than a few MB — the SQL time limit cannot stop a single allocation; and the built-in functions whose work is set
  by an argument rather than by a value's length (printf's width and precision: `printf('%.*c', 1000000000, 'x')`
  loops a billion times inside one step, where neither the time limit nor the length limit can stop it) checked
  before they run;
- client mistakes (404s, a bad `_sort`) answered without printing a traceback to the log, and any exception a page
  did not expect answered without a traceback or a server path (a 404 for a request the page cannot read, such as a
  null byte in a path or a row URL with too few keys; a 500 with a plain message otherwise, logged once);
- `/-/databases.json` without the database file's absolute path.
"""

from __future__ import annotations

import logging
import math
import os
import re
import sqlite3
import threading
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
    """Bound what one SQL statement can allocate, and the work of one function call, on every connection Datasette
    opens."""
    limit_connection(conn)
    for name in ARGUMENT_BOUND_FUNCTIONS:
        conn.create_function(name, -1, bounded_printf, deterministic=True)


def limit_connection(conn):
    for limit, value in SQLITE_LIMITS.items():
        conn.setlimit(limit, value)


# SQLite's printf (alias format) loops over its width and precision one character at a time, in one VM step, and
# only then finds the result over the length limit (a billion-character precision: 4-12 s, then NULL). So each
# call's widths and precisions are read first; within the length limit, SQLite's own printf runs on a private
# in-memory connection (same limits), so results are exactly SQLite's.
ARGUMENT_BOUND_FUNCTIONS = ("printf", "format")
PRINTF_SPEC = re.compile(r"%([-+ #0,!]*)(\*|\d*)(?:\.(\*|\d*))?(l{0,2})(.?)", re.S)
_printf_connections = threading.local()


def printf_sizes(fmt: str, args: tuple) -> list[int]:
    """Every width and precision a printf format asks for, reading `*` from the arguments in order."""
    sizes, next_arg = [], 0
    for match in PRINTF_SPEC.finditer(fmt):
        if match[5] == "%":
            continue
        for part in (match[2], match[3]):
            if part == "*":
                value = args[next_arg] if next_arg < len(args) else 0
                next_arg += 1
                sizes.append(abs(_sql_integer(value)))
            elif part:
                sizes.append(int(part))
        next_arg += 1  # the value converted
    return sizes


def _sql_integer(value) -> int:
    """The integer SQLite reads from a value given for `*`: text and blobs by their leading digits."""
    if isinstance(value, bool) or value is None:
        return int(value or 0)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else MAX_VALUE_BYTES + 1
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    digits = re.match(r"\s*([-+]?\d+)", value)
    return int(digits[1][:20]) if digits else 0


def bounded_printf(fmt=None, *args):
    """SQLite's printf, refused as SQLite refuses any other oversized value ("string or blob too big") when a
    width or precision is over the length limit."""
    if not isinstance(fmt, str):
        return _sqlite_printf(fmt, args)
    if any(size > MAX_VALUE_BYTES for size in printf_sizes(fmt, args)):
        # Returning a value one byte over the limit makes SQLite raise its own SQLITE_TOOBIG error, so the refusal
        # reads like every other oversized value's (a Python exception would only say "user-defined function raised
        # exception"). It costs one 5 MB string, not a billion steps.
        return "x" * (MAX_VALUE_BYTES + 1)
    return _sqlite_printf(fmt, args)


def _sqlite_printf(fmt, args: tuple):
    conn = getattr(_printf_connections, "conn", None)
    if conn is None:
        conn = _printf_connections.conn = sqlite3.connect(":memory:", check_same_thread=False)
        limit_connection(conn)
    placeholders = ", ".join("?" * (len(args) + 1))
    return conn.execute(f"select printf({placeholders})", (fmt, *args)).fetchone()[0]


# ---------------------------------------------------------------- errors without tracebacks

@hookimpl
def startup():
    """Datasette's default error handler prints a traceback with every local variable for each handled exception,
    404s included, whenever the `rich` package is importable (test tools install it): a log flooded by every
    mistyped URL. The handler still renders every error page; only that print goes."""
    import datasette.handle_exception as datasette_errors

    datasette_errors.rich = None
    # Its handler also prints the traceback of any other exception; handle_exception below logs those once.
    datasette_errors.traceback = _NoTracebackPrint


class _NoTracebackPrint:
    @staticmethod
    def print_exc(*_args, **_kwargs):
        return None


# Exceptions a page raises when the request itself cannot be read as an address of something served: a null byte
# or an over-long name in a path (ValueError, OSError), a row URL with fewer keys than the table's primary key
# (sqlite3.ProgrammingError: a parameter left unbound), a lookup of a part the URL does not have (LookupError).
UNREADABLE_REQUEST = (ValueError, OSError, LookupError, sqlite3.ProgrammingError, sqlite3.InterfaceError)
SERVER_ERROR_TEXT = "The server could not answer this request; the error is logged."


@hookimpl
def handle_exception(datasette, request, exception):
    """The one place errors become answers. Datasette's own HTTP errors keep their status (a bad `_sort`, which its
    table view calls a server error, becomes the client's 400); any other exception is answered here without its
    message, which may hold a traceback or a server path: a 404 when the request could not be read as an address
    (see UNREADABLE_REQUEST), else a 500. Server errors are logged once with their traceback."""
    from datasette.utils.asgi import Base400
    from datasette.views.base import DatasetteError

    if isinstance(exception, DatasetteError) and exception.status == 500 and CLIENT_MISTAKES.match(exception.message):
        exception.status = 400
    if isinstance(exception, (Base400, DatasetteError)):
        if getattr(exception, "status", 500) >= 500:
            log.error("error answering %s %s", request.method, request.path, exc_info=exception)
        return None  # Datasette renders its own page
    if isinstance(exception, UNREADABLE_REQUEST):
        log.info("404 for %s %.200r: %s", request.method, request.path, type(exception).__name__)
        return _error_page(datasette, request, 404, NOT_FOUND_TEXT)
    log.error("error answering %s %s", request.method, request.path, exc_info=exception)
    return _error_page(datasette, request, 500, SERVER_ERROR_TEXT)


def _error_page(datasette, request, status: int, message: str):
    """Datasette's error page (or its JSON for .json addresses) with our message and no exception text."""
    from datasette.utils.asgi import Response

    info = {"ok": False, "error": message, "status": status, "title": None}

    async def render():
        if request.path.endswith(".json"):
            return Response.json(info, status=status)
        template = datasette.jinja_env.select_template([f"{status}.html", "error.html"])
        html = await template.render_async({**info, "urls": datasette.urls, "app_css_hash": datasette.app_css_hash(),
                                            "menu_links": lambda: []})
        return Response.html(html, status=status)

    return render


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
    head = {**({"content-type": "text/plain; charset=utf-8"} if body else {}), **SECURITY_HEADERS, **(headers or {})}
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
        if scope.get("method") == "OPTIONS":  # answered here, the same way everywhere (pages answered it each their own)
            return await _plain(send, 204, "", {"allow": ", ".join(allowed)})
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
