"""kb serve under hostile requests: SQL that would allocate gigabytes, client mistakes, strange methods, open
redirects, forged Host headers, and a batch that would starve everyone else's one-line checks.

Requests go through the real ASGI app (Datasette with Caveat's plugins) over a real immutable database; raw
requests are sent as ASGI messages so that paths like `/\\evil.example/` and methods like TRACE reach the server
unchanged. The last tests run the real `kb serve` over loopback.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
from datasette.app import Datasette

from kb.publish.check_routes import CHECK_POOL
from kb.publish.datasette_config import metadata, settings
from kb.publish.security import BASE_URL_ENV, SECURITY_HEADERS
from kb.publish.serve import free_port, prepare
from live import wait_until_answering

ROOT = Path(__file__).resolve().parents[1]
DROPS_NUDGE = "o1 tried to disable its oversight mechanism 5% of the time."


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def served_files(built_db):
    return prepare(ROOT, built_db, echo=lambda *_: None)


@pytest.fixture(scope="module")
def app(served_files):
    ds = Datasette(immutables=[str(served_files.database)], inspect_data=json.loads(served_files.inspect.read_text()),
                   metadata=metadata(), settings=settings())
    asyncio.run(ds.invoke_startup())
    return ds.app()


def request(app, method: str, target: bytes | str, body: bytes = b"", headers: dict | None = None):
    """(status, headers, body) of one request sent to the ASGI app as raw messages (nothing normalises the path)."""
    return asyncio.run(send_request(app, method, target, body, headers))


async def send_request(app, method, target, body=b"", headers=None):
    target = target.encode("latin-1") if isinstance(target, str) else target
    raw_path, _, query = target.partition(b"?")
    head = {"host": "localhost", **(headers or {})}
    if body:
        head.setdefault("content-type", "application/json")
        head["content-length"] = str(len(body))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": unquote(raw_path.decode("latin-1")), "raw_path": raw_path, "query_string": query,
             "root_path": "", "headers": [(k.encode(), v.encode()) for k, v in head.items()],
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8001)}
    messages, delivered = [], False

    async def receive():
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)

    async def send(message):
        messages.append(message)

    await app(scope, receive, send)
    start = next(m for m in messages if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return start["status"], {k.decode().lower(): v.decode() for k, v in start["headers"]}, content


def sql(query: str) -> str:
    return "/kb.json?sql=" + quote(query)


# ---------------------------------------------------------------- SQL: one expression cannot allocate gigabytes

@pytest.mark.parametrize("query", ["select randomblob(20000000)", "select zeroblob(20000000)",
                                   "select length(randomblob(1000000000))", "select length(hex(zeroblob(3000000)))",
                                   "with recursive r(s) as (select 'xxxxxxxx' union all select s || s from r) "
                                   "select length(s) from r"])
def test_sql_that_would_build_a_huge_value_is_refused(app, query):
    status, _headers, body = request(app, "GET", sql(query))
    assert status == 400 and b"too big" in body, body[:300]


@pytest.mark.parametrize("query", ["select length(printf('%.*c', 1000000000, 'x'))",
                                   "select format('%.*c', '1000000000', 'x')", "select printf('%.1000000000c', 'x')",
                                   "select printf('%*s', 2000000000, '')"])
def test_sql_whose_one_function_call_would_loop_a_billion_times_is_refused(app, query):
    # SQLite's printf loops over its precision inside one VM step, where the time limit cannot stop it (it ran
    # 4-12 s, then answered 200 with NULL); the width or precision is now checked against the length limit first.
    status, _headers, body = request(app, "GET", sql(query))
    assert status == 400 and b"too big" in body, body[:300]


def test_printf_within_the_limits_is_sqlites_own():
    import sqlite3

    from kb.publish.security import prepare_connection

    plain, guarded = sqlite3.connect(":memory:"), sqlite3.connect(":memory:")
    prepare_connection(guarded)
    for query in ["select printf('%.1f%% of %d %s', 0.051, 100, 'runs')", "select format('%5d|%-4s|%%', 3, 'ab')",
                  "select printf('%.*c', 4, 'x')", "select printf('%*d', 2, 1000000000)", "select printf(NULL)",
                  "select printf('%s|%q|%w', 'a', 'it''s', 'b\"c')", "select printf('%!.3g %x %o', 1.23456, 255, 8)"]:
        assert guarded.execute(query).fetchone() == plain.execute(query).fetchone(), query


def test_ordinary_sql_still_works_under_the_limits(app):
    status, _headers, body = request(app, "GET", sql("select count(*) as n, length(group_concat(quote, ' ')) as chars "
                                                     "from claims") + "&_shape=array")
    assert status == 200 and json.loads(body)[0]["n"] >= 285


# ---------------------------------------------------------------- client mistakes: 404/405, no tracebacks

CLIENT_MISTAKES = [
    ("GET", "/-/graph/a/b", 404), ("GET", "/-/graph/../../etc/passwd", 404), ("GET", "/kb/claims/a/b/c/d", 404),
    ("GET", "/kb/claims?_sort=nope", 400), ("GET", "/kb/claims?_sort_desc=nope", 400),
    ("GET", "/kb/claims.json?_sort=nope", 400), ("GET", "/no/such/page", 404), ("GET", "/kb/nope", 404),
    ("TRACE", "/kb/claims", 405), ("TRACE", "/", 405), ("PUT", "/-/graph.json", 405), ("DELETE", "/-/check.json", 405),
    ("PATCH", "/-/bibtex.bib", 405), ("BREW", "/-/check", 405), ("POST", "/-/graph.json", 405),
    ("POST", "/kb/claims", 405), ("PUT", "/kb/claims/o1card-oversight", 405),
]


def test_client_mistakes_get_4xx_and_leave_no_traceback_in_the_log(app, capfd, caplog):
    caplog.set_level(logging.INFO)
    for method, path, expected in CLIENT_MISTAKES:
        status, headers, body = request(app, method, path)
        assert status == expected, (method, path, status, body[:200])
        assert b"Traceback" not in body and b"File \"" not in body
        if status == 405:
            assert "POST" not in headers["allow"] or path.startswith("/-/check"), headers["allow"]
    captured = capfd.readouterr()
    log = captured.out + captured.err + caplog.text
    assert "Traceback" not in log and "most recent call last" not in log, log[:2000]


UNREADABLE_ADDRESSES = ["/site/%00", "/site/index.html%00.js", "/site/" + "a" * 300, "/site/" + "a" * 5000,
                        "/site/" + "a/" * 2500, "/site/%00.json", "/-/graph/%00"]


@pytest.fixture(scope="module")
def site_app(served_files, tmp_path_factory):
    """The app serving a (tiny) explainer site, as `kb serve` does."""
    site = tmp_path_factory.mktemp("site")
    (site / "index.html").write_text("<p>The site</p>")
    (site / "404.html").write_text("<p>No such page</p>")
    ds = Datasette(immutables=[str(served_files.database)], inspect_data=json.loads(served_files.inspect.read_text()),
                   metadata=metadata(site), settings=settings())
    asyncio.run(ds.invoke_startup())
    return ds.app(), site


def compound_key_tables(served_files) -> list[str]:
    import sqlite3

    with sqlite3.connect(served_files.database) as conn:
        tables = [row[0] for row in conn.execute("select name from sqlite_master where type = 'table'")]
        return [t for t in tables if sum(c[5] > 0 for c in conn.execute(f"pragma table_info([{t}])")) > 1]


def test_unreadable_addresses_are_404s_without_traceback_or_server_path(site_app, served_files, capfd, caplog):
    app, site = site_app
    caplog.set_level(logging.INFO)
    tables = compound_key_tables(served_files)
    assert {"changes", "contrasts", "claim_context"} <= set(tables)
    addresses = UNREADABLE_ADDRESSES + [f"/kb/{table}/1" for table in tables] + [f"/kb/{t}/1.json" for t in tables]
    for path in addresses:
        status, _headers, body = request(app, "GET", path)
        assert status == 404, (path[:80], status, body[:300])
        assert b"Traceback" not in body and str(site).encode() not in body and str(ROOT).encode() not in body
        assert b"/tmp/" not in body and b"Errno" not in body, body[:300]
    assert request(app, "GET", "/site/")[0] == 200  # the site itself is still served
    captured = capfd.readouterr()
    log = captured.out + captured.err + caplog.text
    assert "Traceback" not in log and "most recent call last" not in log, log[:2000]


def test_allowed_methods_still_work(app):
    assert request(app, "GET", "/kb/claims")[0] == 200
    assert request(app, "HEAD", "/-/graph.json")[0] == 200
    status, headers, _body = request(app, "OPTIONS", "/-/check.json")
    assert status != 405


@pytest.mark.parametrize("path", ["/", "/kb", "/kb/claims", "/kb/claims/o1card-oversight", "/-/check", "/-/check.json",
                                  "/-/graph.json", "/site/", "/no/such/page", "/kb.json?sql=select+1"])
def test_options_answers_the_same_way_on_every_route(app, path):
    status, headers, body = request(app, "OPTIONS", path)
    assert status == 204 and body == b"" and "access-control-allow-origin" not in headers
    expected = "GET, HEAD, OPTIONS, POST" if path.startswith("/-/check") else "GET, HEAD, OPTIONS"
    assert headers["allow"] == expected and headers["x-content-type-options"] == "nosniff"


# ---------------------------------------------------------------- headers, redirects, paths

@pytest.mark.parametrize("method, path", [("GET", "/"), ("GET", "/kb/claims/o1card-oversight"), ("GET", "/-/check"),
                                          ("GET", "/-/graph.json"), ("GET", "/-/caveat/caveat.css"),
                                          ("GET", "/no/such/page"), ("TRACE", "/kb"), ("GET", "/kb/claims/"),
                                          ("GET", "/-/check.json"), ("GET", "/\\evil.example/")])
def test_every_response_carries_the_security_headers(app, method, path):
    _status, headers, _body = request(app, method, path)
    for name, value in SECURITY_HEADERS.items():
        assert headers.get(name) == value, (path, name, headers)
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


@pytest.mark.parametrize("path", ["/\\evil.example/", "//evil.example/", "/\\/evil.example/", "//evil.example/kb/"])
def test_no_redirect_leaves_the_site(app, path):
    status, headers, _body = request(app, "GET", path)
    assert status == 404 and "location" not in headers


def test_same_site_redirects_still_work(app):
    status, headers, _body = request(app, "GET", "/kb/claims/")
    assert status == 302 and headers["location"] == "/kb/claims"


def test_databases_json_does_not_show_the_servers_paths(app, served_files):
    for path in ("/-/databases.json", "/-/databases"):
        status, _headers, body = request(app, "GET", path)
        assert status == 200 and str(served_files.database.parent).encode() not in body
    status, _headers, body = request(app, "GET", "/-/databases.json")
    assert [row["path"] for row in json.loads(body)] == ["kb.db"]


def test_absolute_urls_come_from_the_base_url_not_the_host_header(app, monkeypatch, built_db):
    import sqlite3

    with sqlite3.connect(built_db) as conn:
        statement = conn.execute("select statement_id from checks order by statement_id limit 1").fetchone()[0]
    path = f"/-/claimreview/{quote(statement)}.jsonld"
    _status, _headers, body = request(app, "GET", path, headers={"host": "evil.example"})
    assert b"evil.example" not in body and b"http://127.0.0.1:8001/kb/" in body  # the address the server listens on
    monkeypatch.setenv(BASE_URL_ENV, "https://caveat.example.org")
    status, _headers, body = request(app, "GET", path, headers={"host": "evil.example"})
    review = json.loads(body)
    assert status == 200 and review["url"].startswith("https://caveat.example.org/kb/statements/")
    assert b"evil.example" not in body


# ---------------------------------------------------------------- the check pool: fair, bounded, thread-safe

def batch_body(count: int) -> bytes:
    texts = [f"In test {i}, o1 tried to disable its oversight mechanism 5% of the time." for i in range(count)]
    return json.dumps({"statements": texts}).encode()


@pytest.mark.slow
def test_a_one_line_check_does_not_wait_for_a_running_batch(app, checker):
    async def scenario():
        batch = asyncio.create_task(send_request(app, "POST", "/-/check.json", batch_body(100)))
        while CHECK_POOL.queued == 0:
            await asyncio.sleep(0.001)
        before = CHECK_POOL.pieces_done
        status, _headers, body = await send_request(app, "GET", "/-/check.json?text=" + quote(DROPS_NUDGE))
        waited = CHECK_POOL.pieces_done - before  # pieces finished while the one-line check was waiting
        batch_status, _h, batch_result = await batch
        return status, json.loads(body), waited, batch_status, json.loads(batch_result)

    status, result, waited, batch_status, batch = asyncio.run(scenario())
    pieces = -(-100 // CHECK_POOL.piece)
    assert status == 200 and result["verdict"] == "missing_context"
    assert waited <= CHECK_POOL.workers + 1 < pieces, (waited, pieces)
    assert batch_status == 200 and len(batch) == 100 and all(r["verdict"] == "missing_context" for r in batch)


@pytest.mark.slow
def test_a_full_queue_answers_429_with_retry_after(app, checker, monkeypatch):
    monkeypatch.setattr(CHECK_POOL, "max_queued", 50)

    async def scenario():
        batch = asyncio.create_task(send_request(app, "POST", "/-/check.json", batch_body(100)))
        while CHECK_POOL.queued == 0:
            await asyncio.sleep(0.001)
        refused = await send_request(app, "POST", "/-/check.json", batch_body(10))
        page = await send_request(app, "GET", "/-/check?text=" + quote(DROPS_NUDGE))
        await batch
        return refused, page

    (status, headers, body), (page_status, _page_headers, _page) = asyncio.run(scenario())
    answer = json.loads(body)
    assert status == 429 and int(headers["retry-after"]) >= 1
    assert answer["error"]["code"] == "busy" and answer["status"] == 429
    assert page_status == 200  # one-line checks queue in a lane of their own: a full batch lane never refuses them


@pytest.mark.slow
def test_checks_in_parallel_threads_agree_with_one_at_a_time(app, checker):
    texts = [row["text"] for row in checker_statements(checker)][:40]
    status, _headers, body = request(app, "POST", "/-/check.json", json.dumps({"statements": texts}).encode())
    parallel = json.loads(body)
    assert status == 200 and CHECK_POOL.workers >= 1
    for text, result in zip(texts, parallel):
        alone = checker.check(text, id=result["id"])
        assert result["verdict"] == alone["verdict"]
        assert [(f["claim"], f["tier"], f["missing_context"]) for f in result["findings"]] == \
            [(f["claim"], f["tier"], f["missing_context"]) for f in alone["findings"]]


def checker_statements(checker):
    return [{"text": s.text} for s in checker.kb.statements.values()] + [{"text": DROPS_NUDGE}]


# ---------------------------------------------------------------- the real server over loopback

@pytest.fixture(scope="module")
def real_server(built_db):
    port = free_port("127.0.0.1", 0)
    command = [sys.executable, "-m", "kb.cli", "--root", str(ROOT), "serve", "--db", str(built_db), "--port",
               str(port), "--base-url", "https://caveat.example.org"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_until_answering(f"http://127.0.0.1:{port}/-/versions.json", process, timeout=120)
        yield port, process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def raw_http(port: int, method: str, path: str, host: str = "127.0.0.1"):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    connection.putheader("Host", host)
    connection.endheaders()
    answer = connection.getresponse()
    return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()


@pytest.mark.slow
def test_kb_serve_uses_its_base_url_and_refuses_hostile_requests(real_server):
    port, process = real_server
    status, _headers, body = raw_http(port, "GET", "/-/claimreview.jsonld", host="evil.example")
    assert status == 200 and b"https://caveat.example.org/kb/claims/" in body and b"evil.example" not in body
    assert raw_http(port, "GET", "/\\evil.example/")[0] == 404
    assert raw_http(port, "TRACE", "/kb/claims")[0] == 405
    status, headers, _body = raw_http(port, "GET", "/-/graph/../../etc/passwd")
    assert status == 404 and headers["x-content-type-options"] == "nosniff"
    assert raw_http(port, "GET", sql("select zeroblob(1000000000)"))[0] == 400


def test_kb_serve_refuses_a_base_url_that_is_not_an_origin(built_db):
    result = subprocess.run([sys.executable, "-m", "kb.cli", "--root", str(ROOT), "serve", "--db", str(built_db),
                             "--port", "0", "--base-url", "https://example.org/some/path"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "--base-url" in result.stderr and "Traceback" not in result.stderr


def test_the_pool_serves_short_checks_first_without_starving_batches():
    import threading

    from kb.publish.check_pool import SHORT_BURST, FairPool

    pool, order, gate = FairPool(workers=1, piece=2, max_queued=1000), [], threading.Event()

    def work(piece):
        gate.wait()
        order.append(piece[0][0])
        return piece

    async def scenario():
        first = asyncio.create_task(pool.run(work, [("hold", 0)]))  # occupies the only thread until the gate opens
        while pool.queued == 0:
            await asyncio.sleep(0.001)
        batch = asyncio.create_task(pool.run(work, [("batch", i) for i in range(6)]))  # three pieces
        shorts = [asyncio.create_task(pool.run(work, [("short", i)])) for i in range(10)]
        await asyncio.sleep(0.05)
        gate.set()
        return await first, await batch, [await s for s in shorts]

    _first, batch, shorts = asyncio.run(scenario())
    assert batch == [("batch", i) for i in range(6)] and shorts == [[("short", i)] for i in range(10)]
    assert order[1] == "short"  # the short checks go ahead of the batch that came before them ...
    last_batch = len(order) - 1 - order[::-1].index("batch")
    runs = "".join("b" if kind == "batch" else "s" for kind in order[:last_batch]).split("b")
    assert max(len(run) for run in runs) == SHORT_BURST  # ... but the batch gets a piece every SHORT_BURST of them
    assert order.count("batch") == 3 and pool.pieces_done == 14


def test_queued_batches_never_refuse_a_one_line_check_which_has_its_own_cap():
    import threading

    from kb.publish.check_pool import FairPool, PoolBusy

    pool, gate = FairPool(workers=1, piece=8, max_queued=400, max_queued_short=3), threading.Event()

    def work(piece):
        gate.wait()
        return piece

    async def scenario():
        batches = [asyncio.create_task(pool.run(work, list(range(100)))) for _ in range(4)]  # the batch lane is full
        while pool.queued < 400:
            await asyncio.sleep(0.001)
        later = []
        for items in ([0] * 100, [0], [1], [2], [3]):  # a fifth batch, then one-line checks past the short cap
            later.append(asyncio.create_task(pool.run(work, items)))
            await asyncio.sleep(0.01)
        gate.set()
        outcomes = await asyncio.gather(*later, return_exceptions=True)  # PoolBusy is raised at once, not waited for
        await asyncio.gather(*batches)
        return ["busy" if isinstance(o, PoolBusy) else o for o in outcomes]

    outcomes = asyncio.run(scenario())
    assert outcomes == ["busy", [0], [1], [2], "busy"]  # the fifth batch and the fourth short check are refused
