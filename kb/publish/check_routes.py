"""/-/check (a form and a verdict card) and /-/check.json (the same as an API) over the served database.

The checker is built from the served database alone (the knowledge base is read back from its tables), once per
database file per process, on first use. Checks run on a fair pool of threads sharing that checker
(kb.publish.check_pool): CPU-bound work stays off the event loop, a batch is cut into small pieces taken in turn
with other requests' pieces, so a one-line check is not stuck behind a 100-statement batch, and when too many
statements wait a request gets a 429 with Retry-After at once. `Checker.check_many` must therefore stay safe to
call from several threads at a time (it keeps no per-call state on the checker; a test holds it to that).

API (`/-/check.json`), answering with exactly the objects `kb check --jsonl` writes:
  GET  ?text=...[&id=...]                      one object
  POST {"text": "...", "id"?: ...}             one object
  POST {"statements": ["...", {"id", "text"}]}  a JSON list of objects, in order (ids: given, else 1, 2, ...)
A single text the checker cannot take (empty, over 20,000 characters, binary, not valid Unicode) is a 400 whose
body is still that object, with its `error`. In a batch such an item gets its error object and the rest are
checked (200). When too many statements wait, any request is a 429 with Retry-After (code `busy`).
Requests that are not one of the shapes above, or over the batch limits, are a 400
`{"ok": false, "status": 400, "error": {"code", "message"}}`; a POST whose content-type is not JSON a 415 (code
`unsupported_media_type`), so no page on another site can make its visitors' browsers send checks. The page's form
POST needs the CSRF token the page gives it (403 otherwise); GET links need nothing.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import threading
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from datasette.utils.asgi import Response

from kb import schema
from kb.check.inputs import MAX_CHARS, InputError
from kb.check.published import FlagTrust, accuracy_sentence
from kb.publish import views
from kb.publish.check_pool import FairPool, PoolBusy
from kb.publish.datasette_config import DATABASE
from kb.publish.web import NO_DATABASE, DatasetteLinks, json_response, no_database, served, site_folder
from kb.readback import read_knowledge_base

MAX_STATEMENTS = 100  # per batch request
MAX_BATCH_CHARS = 200_000  # all texts of a batch together
MAX_BODY_BYTES = 2_000_000  # enough for a full batch even if every character arrives \u-escaped
LINK_CHARS = 2_000  # texts up to this length also get shareable GET links (longer URLs break in some servers)

VERDICT_SYMBOLS = views.VERDICT_SYMBOLS


class BadRequest(Exception):
    """A request that is not one the API takes; the message says what is valid."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


class Busy(BadRequest):
    """Too many statements are waiting to be checked: a 429 with Retry-After, not an unbounded wait."""

    status = 429

    def __init__(self, busy: PoolBusy):
        super().__init__("busy", f"{busy}; the server checks a limited number of statements at a time")
        self.retry_after = busy.retry_after


class CheckerUnavailable(Exception):
    """The served database cannot run the checker; the message says how to fix it."""


# ---------------------------------------------------------------- the checker, once per database file

CHECK_POOL = FairPool()  # threads sized to the machine, sharing the one checker
# One intra-op thread for the embedding model: a statement is a few dozen word pieces, too little to share out,
# and with two threads on a busy two-core machine every encode waits for a descheduled thread (p99 of 0.7-2 s
# against 45-130 ms with one; measured with torch, benchmarks/serve_load.py).
EMBEDDER_THREADS = 1
_CHECKERS: dict = {}  # resolved database path -> Checker
_CHECKERS_LOCK = threading.Lock()


def checker_for_database(database: Path, knowledge_base=None):
    """The checker over a built database's knowledge base, built on first call and kept for the process.

    Thread-safe; pass `knowledge_base` when it is already read from that database (it is read here otherwise).
    """
    key = str(Path(database).resolve())
    with _CHECKERS_LOCK:
        if key not in _CHECKERS:
            _CHECKERS[key] = _build_checker(Path(key), knowledge_base)
        return _CHECKERS[key]


def _build_checker(database: Path, knowledge_base):
    from kb.check.checker import Checker

    if knowledge_base is None:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
            knowledge_base = read_knowledge_base(conn)
    require_lexicon(database, knowledge_base.lexicon)
    return Checker(knowledge_base, cache_path=embedding_cache(database), threads=EMBEDDER_THREADS)


def require_lexicon(database: Path, lexicon):
    """CheckerUnavailable, with the fix, when the database was built before its lexicon had every entry."""
    missing = [f.name for f in schema.LEXICON.fields if f.required and getattr(lexicon, f.name, None) is None]
    if missing:
        what = "no lexicon table" if lexicon is None else f"no lexicon entries {', '.join(missing)}"
        raise CheckerUnavailable(f"{database.name} has {what}: it was built by an older version of Caveat. "
                                 "Run kb build, then kb serve again.")


def embedding_cache(database: Path) -> Path | None:
    """Where the knowledge base's embeddings are cached: cache/ next to the database, as `kb build` does.

    None (embed at start-up, keep in memory) when that folder cannot be written, e.g. a read-only deployment.
    """
    folder = database.parent / "cache"
    writable = os.access(folder, os.W_OK) if folder.exists() else os.access(database.parent, os.W_OK)
    return folder / "embeddings.npz" if writable else None


async def run_checks(datasette, items: list) -> list[dict]:
    """`kb check --jsonl` objects for (id, text) pairs, computed on the checker's thread."""
    data = await served(datasette)
    if data is None:
        raise CheckerUnavailable(NO_DATABASE)
    database = Path(datasette.get_database(DATABASE).path)

    def work(piece: list) -> list[dict]:
        return list(checker_for_database(database, data.kb).check_many(piece))

    try:
        return await CHECK_POOL.run(work, items)
    except PoolBusy as busy:
        raise Busy(busy) from None


# ---------------------------------------------------------------- reading requests

async def read_body(request) -> bytes:
    """The request body, refused once it passes MAX_BODY_BYTES (before reading it, when the length is declared)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large()
    body, more = bytearray(), True
    while more:
        message = await request.receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
        if len(body) > MAX_BODY_BYTES:
            raise _too_large()
    return bytes(body)


def _too_large() -> BadRequest:
    return BadRequest("too_large", f"the request body is over {MAX_BODY_BYTES:,} bytes; a statement may have up to "
                      f"{MAX_CHARS:,} characters and a batch up to {MAX_STATEMENTS} statements and "
                      f"{MAX_BATCH_CHARS:,} characters in all")


def parse_json_body(body: bytes) -> tuple[list, bool]:
    """([(id, text)], single) from a POSTed JSON body: {"text": ...} or {"statements": [...]}."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise BadRequest("bad_json", f"the body is not valid JSON ({_reason(exc)}); send "
                         '{"text": "..."} or {"statements": ["...", ...]} with content-type application/json') from None
    if not isinstance(data, dict) or ("text" in data) == ("statements" in data):
        raise BadRequest("bad_request", 'send a JSON object with either "text" (one statement) or "statements" '
                         '(a list of strings or {"id", "text"} objects), not both')
    if "text" in data:
        return [(_id(data.get("id"), "id"), _text(data["text"], "text"))], True
    return batch_items(data["statements"]), False


def _reason(exc) -> str:
    return f"{exc.msg} at line {exc.lineno} column {exc.colno}" if hasattr(exc, "msg") else type(exc).__name__


def _id(value, where: str):
    if isinstance(value, str) and not isinstance(_text(value, where), str):
        raise BadRequest("bad_request", f"{where} has a lone surrogate, which is not valid Unicode")
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise BadRequest("bad_request", f"{where} must be a string or a number, got {type(value).__name__}")


def _text(value, where: str):
    """The text, or the checker's not_utf8 error for it: JSON can carry lone surrogates, which are not text."""
    if not isinstance(value, str):
        raise BadRequest("bad_request", f"{where} must be a string, got {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return InputError("not_utf8", f"the text has a lone surrogate (\\u{ord(value[exc.start]):04x}) at character "
                          f"{exc.start}, which is not valid Unicode; send the text as valid UTF-8")
    return value


def batch_items(statements) -> list:
    """(id, text) pairs from a "statements" list; ids as `kb check --jsonl` gives them (given, else 1, 2, ...)."""
    if not isinstance(statements, list):
        raise BadRequest("bad_request", f'"statements" must be a list, got {type(statements).__name__}')
    if len(statements) > MAX_STATEMENTS:
        raise BadRequest("too_many", f"{len(statements)} statements; a request may have up to {MAX_STATEMENTS}. "
                         "Split the batch, or run kb check --jsonl on the command line for large sets")
    items = [_batch_item(number, item) for number, item in enumerate(statements, start=1)]
    total = sum(len(text) for _id_, text in items if isinstance(text, str))
    if total > MAX_BATCH_CHARS:
        raise BadRequest("too_many", f"the statements have {total:,} characters in all; a request may have up to "
                         f"{MAX_BATCH_CHARS:,}. Split the batch")
    return items


def _batch_item(number: int, item) -> tuple:
    where = f"statements[{number - 1}]"
    if isinstance(item, str):
        return str(number), _text(item, where)
    if not isinstance(item, dict) or "text" not in item:
        raise BadRequest("bad_request", f'{where} must be a string or an object with a "text" string')
    given = _id(item.get("id"), f"{where}.id")
    return (given if given is not None else str(number)), _text(item["text"], f"{where}.text")


def parse_form(body: bytes) -> dict:
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, encoding="utf-8", errors="strict"))
    except UnicodeDecodeError:
        raise BadRequest("not_utf8", "the form data is not valid UTF-8; send the page's form as UTF-8") from None


# ---------------------------------------------------------------- cross-site requests
# A page on another site can make its visitors' browsers POST a form (urlencoded, multipart or text/plain) here,
# but not a JSON body: that needs a CORS preflight, which this server never answers with permission. So the APIs
# take POSTed JSON only, and the page's forms must carry the token Datasette sets in its `ds_csrftoken` cookie.
# Datasette's own CSRF check lets a POST without any cookie through, and its cookie is SameSite=Lax, so a
# cross-site form arrives without one: the forms here refuse that themselves. GET links (/-/check?text=) need nothing.
FORM_TYPE = "application/x-www-form-urlencoded"
CSRF_COOKIE, CSRF_FIELD = "ds_csrftoken", "csrftoken"


class Refused(BadRequest):
    """A request refused for its kind, not its content: a status other than 400."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(code, message)
        self.status = status


def content_type(request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def is_json_type(kind: str) -> bool:
    return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


def require_json(request):
    """415 unless a POST says its body is JSON."""
    kind = content_type(request)
    if not is_json_type(kind):
        raise Refused(415, "unsupported_media_type", f"the body must be JSON, sent with the header "
                      f"'content-type: application/json' (this request said {kind or 'nothing'!r}); "
                      "to check a text without JSON, use GET ?text=...")


def form_fields(request, body: bytes) -> dict:
    """The fields of a POSTed page form, once its CSRF token matches the cookie (403 otherwise)."""
    fields = parse_form(body)
    token, cookie = fields.get(CSRF_FIELD, ""), request.cookies.get(CSRF_COOKIE, "")
    if not (token and cookie and secrets.compare_digest(token, cookie)):
        raise Refused(403, "csrf", "this form can only be sent from Caveat's own check page (its security token is "
                      "missing or out of date): open /-/check, paste the text and press Check again; links such "
                      "as /-/check?text=... work without a token")
    return fields


async def page_text(request) -> str | None:
    """The statement a /-/check request carries: ?text= on GET, the form's text field on POST (None: no text)."""
    if request.method != "POST":
        return request.args.get("text")
    if content_type(request) != FORM_TYPE:
        raise BadRequest("bad_request", "post the page's form (application/x-www-form-urlencoded with a text field); "
                         "for JSON, use /-/check.json")
    return form_fields(request, await read_body(request)).get("text")


# ---------------------------------------------------------------- responses

def error_json(error: BadRequest | CheckerUnavailable, status: int = 400) -> Response:
    code = getattr(error, "code", "checker_unavailable")
    status = getattr(error, "status", status)
    return json_response({"ok": False, "status": status, "error": {"code": code, "message": str(error)}}, status,
                         headers=retry_headers(error))


def retry_headers(error) -> dict:
    return {"retry-after": str(error.retry_after)} if hasattr(error, "retry_after") else {}


def result_status(result: dict) -> int:
    return 400 if result.get("error") else 200


async def check_api(datasette, request) -> Response:
    """/-/check.json: GET ?text= or POST JSON; the objects of `kb check --jsonl` (see the module docstring)."""
    try:
        items, single = await _api_items(request)
        results = await run_checks(datasette, items)
    except BadRequest as error:
        return error_json(error)
    except CheckerUnavailable as error:
        return error_json(error, 503)
    if single:
        return json_response(results[0], status=result_status(results[0]))
    return json_response(results)


async def _api_items(request) -> tuple[list, bool]:
    if request.method == "POST":
        require_json(request)
        return parse_json_body(await read_body(request))
    if request.method not in ("GET", "HEAD"):
        raise BadRequest("bad_request", f"{request.method} is not supported: use GET ?text= or POST JSON")
    text = request.args.get("text")
    if text is None:
        raise BadRequest("bad_request", 'give the statement as ?text=..., or POST {"text": "..."} or '
                         '{"statements": [...]} as JSON')
    return [(request.args.get("id"), text)], True


async def check_page(datasette, request) -> Response:
    """/-/check: the form, and the verdict card for the text it was given (GET ?text= or the POSTed form)."""
    data = await served(datasette)
    if data is None:
        return no_database()
    context, status = {"database": DATABASE, "text": "", "max_chars": MAX_CHARS, "card": None, "problem": None,
                       "accuracy": accuracy_sentence(data.accuracy), "accuracy_url": accuracy_url(datasette)}, 200
    headers = {}
    try:
        text = await page_text(request)
        if text is not None and text.strip():
            context["text"] = text
            result = (await run_checks(datasette, [(None, text)]))[0]
            context["card"] = verdict_card(datasette, data.kb, result, text, data.flag_trust)
            status = result_status(result)
    except BadRequest as error:
        context["problem"], status, headers = error.message, getattr(error, "status", 400), retry_headers(error)
    except CheckerUnavailable as error:
        context["problem"], status = str(error), 503
    html = await datasette.render_template("caveat_check.html", context, request=request, view_name="caveat")
    return Response.html(html, status=status, headers=headers)


def accuracy_url(datasette) -> str | None:
    """The site's "Measured accuracy" section, when this server serves the site."""
    return datasette.urls.path(f"site/{ACCURACY_PAGE}") if site_folder(datasette) else None


ACCURACY_PAGE = "checker/#measured-accuracy"  # site/checker.md's section, as mkdocs builds it (directory URLs)


# ---------------------------------------------------------------- the verdict card

def check_links(datasette, text: str) -> dict:
    """GET links to this text's JSON and ClaimReview (only for texts short enough for a URL)."""
    if len(text) > LINK_CHARS:
        return {}
    query = urlencode({"text": text})
    return {name: datasette.urls.path(f"-/{path}?{query}")
            for name, path in (("page", "check"), ("json", "check.json"), ("jsonld", "check.jsonld"))}


def verdict_card(datasette, kb, result: dict, text: str | None = None, trust: FlagTrust | None = None) -> dict:
    """The verdict view (kb.publish.views) of one `kb check` object with Datasette's links, and for a checked text
    its shareable GET links (also used for the stored verdicts of statements). `trust`: the served database's
    measured trust in flags, so a flag below it reads as one to verify."""
    card = views.verdict_view(kb, result, DatasetteLinks(datasette), trust)
    card["links"] = check_links(datasette, text) if text is not None else {}
    return card
