"""kb serve, phase 2: /-/check (the form and its verdict card), /-/check.json (the API), ClaimReview JSON-LD,
and the database addition that lets the served file alone run the checker (the `lexicon` table).

Every request goes through Datasette's own test client to the real checker (real spaCy pipeline and embedding
model, loaded once per test run by the `checker` fixture), over a real immutable database built from the
repository's data. Expected values come from the checker itself or from the YAML knowledge base.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import pytest
from datasette.app import Datasette
from markupsafe import escape

from kb import schema
from kb.build import load_valid
from kb.check.render import render
from kb.pipeline import build
from kb.publish.check_routes import MAX_BATCH_CHARS, MAX_BODY_BYTES, MAX_CHARS, MAX_STATEMENTS, verdict_card
from kb.publish.claimreview import TERMS
from kb.publish.datasette_config import metadata, settings
from kb.readback import read_knowledge_base
from kb.publish.serve import datasette_args, prepare

ROOT = Path(__file__).resolve().parents[1]
DROPS_NUDGE = "o1 tried to disable its oversight mechanism 5% of the time."  # drops the goal nudge and the test setting
WRONG_CONDITION = "o3 sabotaged shutdown in 79% of runs, even when told to allow it."  # 79% was without it
UNRELATED = "The weather in Lisbon was lovely this weekend."
PAYLOADS = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", '"><svg onload=alert(1)>']

pytestmark = pytest.mark.slow  # every test here needs the real checker (loaded once, ~5 s)


def html(text) -> str:
    return str(escape(text))


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def knowledge_base():
    return load_valid(ROOT)


@pytest.fixture(scope="module")
def served_files(built_db):
    return prepare(ROOT, built_db, echo=lambda *_: None)


@pytest.fixture(scope="module")
def datasette(served_files, loop, checker):
    """Datasette as `kb serve` runs it; `checker` first, so the server finds the test run's checker loaded."""
    inspect_data = json.loads(served_files.inspect.read_text())
    ds = Datasette(immutables=[str(served_files.database)], inspect_data=inspect_data, metadata=metadata(),
                   settings=settings())
    loop.run_until_complete(ds.invoke_startup())
    return ds


@pytest.fixture(scope="module")
def get(datasette, loop):
    return lambda path, **kw: loop.run_until_complete(datasette.client.get(path, **kw))


@pytest.fixture(scope="module")
def post(datasette, loop):
    """POST as a browser on the check page does (a form carries the page's CSRF token and cookie) and as an API
    client does (a body is JSON)."""
    async def send(path, **kw):
        if "data" in kw:
            form = await datasette.client.get("/-/check")
            token = form.text.split('name="csrftoken" value="')[1].split('"')[0]
            kw["data"] = {"csrftoken": token, **kw["data"]}
            kw["headers"] = {"cookie": f"ds_csrftoken={form.cookies['ds_csrftoken']}", **kw.get("headers", {})}
        elif "content" in kw and "headers" not in kw:  # a raw body is sent as JSON unless the test says otherwise
            kw["headers"] = {"content-type": "application/json"}
        return await datasette.client.post(path, **kw)

    return lambda path, **kw: loop.run_until_complete(send(path, **kw))


@pytest.fixture(scope="module")
def heading(built_db, knowledge_base):
    """The verdict card's heading for a `kb check` object as the served database's measured trust in flags makes it:
    a flag below assert_from reads as one to verify (tests/test_published_flags.py tests that rule on its own)."""
    from kb.check.published import FlagTrust, stored_accuracy
    from kb.publish.views import tentative_label

    with sqlite3.connect(built_db) as conn:
        trust = FlagTrust.of(stored_accuracy(conn).get("cv"))

    def heading_of(result: dict) -> str:
        label = knowledge_base.verdicts[result["verdict"]].label
        return (tentative_label(label) if trust.tentative(result) else label) + "</h2>"

    return heading_of


def check_url(text: str, path: str = "/-/check") -> str:
    return f"{path}?{urlencode({'text': text})}"


def section(page: str, css_class: str) -> str:
    """The HTML of the first element with this class, up to the end of its section (enough for assertions)."""
    start = page.index(f'class="{css_class}')
    return page[start:page.index("</section>", start)]


# ---------------------------------------------------------------- the database alone can run the checker

def test_lexicon_is_stored_and_read_back(built_db, knowledge_base):
    with sqlite3.connect(built_db) as conn:
        lexicon = read_knowledge_base(conn).lexicon
        names = [row[0] for row in conn.execute("select name from lexicon order by rowid")]
    assert names == [f.name for f in schema.LEXICON.fields]
    for name in names:
        assert getattr(lexicon, name) == getattr(knowledge_base.lexicon, name), name


def test_lexicon_table_is_browsable_with_its_descriptions(get):
    rows = get("/kb/lexicon.json?_shape=array").json()
    assert sorted(r["name"] for r in rows) == sorted(f.name for f in schema.LEXICON.fields)
    assert all(r["description"] == schema.LEXICON.field(r["name"]).description for r in rows)


def test_builds_stay_byte_identical_with_the_lexicon_table(tmp_path):
    first = build(ROOT, tmp_path / "a" / "kb.db", checks=False).path.read_bytes()
    second = build(ROOT, tmp_path / "b" / "kb.db", checks=False).path.read_bytes()
    assert hashlib.sha256(first).digest() == hashlib.sha256(second).digest()


def test_served_checker_agrees_with_the_verdicts_kb_build_stored(post, built_db):
    """The checker built from the database gives, for every statement, what the checker built from YAML gave."""
    with sqlite3.connect(built_db) as conn:
        stored = dict(conn.execute("select statement_id, verdict from checks"))
        texts = dict(conn.execute("select id, text from statements"))
        claims = {}
        for sid, claim, tier in conn.execute("select statement_id, claim_id, tier from findings order by position"):
            claims.setdefault(sid, []).append((claim, tier))
    ids = sorted(stored)
    assert ids, "kb build stores the checker's verdicts"
    for start in range(0, len(ids), MAX_STATEMENTS):
        chunk = ids[start:start + MAX_STATEMENTS]
        response = post("/-/check.json", json={"statements": [{"id": sid, "text": texts[sid]} for sid in chunk]})
        assert response.status_code == 200
        for result in response.json():
            assert result["verdict"] == stored[result["id"]], result["id"]
            assert [(f["claim"], f["tier"]) for f in result["findings"]] == claims.get(result["id"], [])


def test_a_database_without_the_lexicon_says_to_rebuild(built_db, tmp_path, loop):
    old = tmp_path / "kb.db"
    old.write_bytes(built_db.read_bytes())
    with sqlite3.connect(old) as conn:
        conn.execute("drop table lexicon")  # as built before the table existed
    ds = Datasette(immutables=[str(old)], metadata=metadata(), settings=settings())
    api, page = (loop.run_until_complete(ds.client.get(check_url(DROPS_NUDGE, path)))
                 for path in ("/-/check.json", "/-/check"))
    assert api.status_code == 503 and "Run kb build, then kb serve again" in api.json()["error"]["message"]
    assert page.status_code == 503 and "Run kb build, then kb serve again" in page.text


# ---------------------------------------------------------------- /-/check: the page

def test_check_page_shows_a_form_that_works_without_javascript(get):
    response = get("/-/check")
    page = response.text
    assert response.status_code == 200
    assert '<form class="caveat-check-form" action="/-/check" method="post">' in page
    assert '<textarea id="caveat-text" name="text"' in page and 'name="csrftoken"' in page
    assert "caveat-card" not in page  # no verdict before a text is given


def test_check_page_loads_no_external_asset(get):
    page = get(check_url(DROPS_NUDGE)).text
    assets = re.findall(r'<(?:script|link|img|iframe)[^>]* (?:src|href)="([^"]+)"', page)
    assert assets and all(url.startswith("/") and not url.startswith("//") for url in assets), assets


def test_claim_and_statement_pages_link_to_the_check_page(get):
    for path in ("/kb/claims/o1card-oversight", "/kb/statements/d01"):
        assert '<a href="/-/check">' in get(path).text, path


def test_a_statement_that_drops_the_goal_nudge(get, checker, knowledge_base, heading):
    result = checker.check(DROPS_NUDGE)
    finding = next(f for f in result["findings"] if f["tier"] == "match")
    assert result["verdict"] == "missing_context" and "goal_nudge" in finding["missing_context"]
    card = section(get(check_url(DROPS_NUDGE)).text, "caveat-card ")
    assert '<span aria-hidden="true">⚠</span> ' + heading(result) in card
    claim = knowledge_base.claims[finding["claim"]]
    assert f'<a href="/kb/claims/{claim.id}">{claim.id}</a>' in card
    goal_nudge = knowledge_base.context["goal_nudge"]
    assert f"<strong>{html(goal_nudge.label)}</strong> <code>goal_nudge</code>: {html(goal_nudge.definition)}" in card
    assert html(knowledge_base.conditions_of(claim)["goal_nudge"].description) in card
    assert f'<p class="caveat-copy" tabindex="0">{html(finding["suggestion"])}</p>' in card
    source = knowledge_base.source_of(claim)
    assert f'<a href="/kb/sources/{source.id}">{html(source.title)}</a> — {html(claim.locator)}' in card
    assert f'href="/-/bibtex/{source.id}.bib"' in card
    assert "5%: matches the source" in card


def test_a_number_from_another_condition_is_misstated(get, checker, heading):
    result = checker.check(WRONG_CONDITION)
    finding = next(f for f in result["findings"] if f["tier"] == "match")
    card = section(get(check_url(WRONG_CONDITION)).text, "caveat-card ")
    assert result["verdict"] == "misstated" and "caveat-card-misstated" in card
    assert "✗</span> " + heading(result) in card
    assert "79%: belongs to another condition (the claim: 7%)" in card
    for problem in finding["problems"]:
        assert html(problem["detail"]) in card


@pytest.mark.parametrize("said, row", [("under 1%", "under 1%: matches the source"),
                                       ("<1%", "under 1%: matches the source")])
def test_a_bounded_number_keeps_its_bound_on_the_card(get, checker, said, row):
    # The claim is '<1%' (bound: upper): the card once said "1%: matches the source".
    text = f"Without the strong goal nudge, o1 tried to disable oversight in {said} of runs."
    finding = next(f for f in checker.check(text)["findings"] if f["claim"] == "o1card-nonudge-oversight")
    assert finding["number"] == "match" and finding["reported_bound"] == "lt"
    card = section(get(check_url(text)).text, "caveat-card ")
    assert row in card and re.findall(r">([^<>]*)1%: matches", card) == ["under "]


def test_a_bounded_claim_matched_by_a_stored_finding_names_its_bound(knowledge_base):
    from kb.publish.views import number_view

    claim = knowledge_base.claims["o1card-nonudge-oversight"]
    stored = {"number": "match", "reported_value": 0.01}  # the database keeps no reported_bound
    assert number_view(stored, claim) == {"status": "match", "reported": "1%",
                                          "words": "matches the source (under 1%)"}


def test_a_faithful_statement(get, checker, knowledge_base):
    from kb.wording import faithful_sentence

    text = faithful_sentence(knowledge_base, knowledge_base.claims["o1card-oversight"])
    assert checker.check(text)["verdict"] == "ok"
    card = section(get(check_url(text)).text, "caveat-card ")
    assert "✓</span> Faithful</h2>" in card and "Missing conditions" not in card


def test_a_statement_that_reports_no_claim(get):
    card = section(get(check_url(UNRELATED)).text, "caveat-card ")
    assert "No claim</h2>" in card and "No result of the knowledge base is reported here" in card


def test_an_unverified_number_is_flagged_on_the_card(get, checker, knowledge_base):
    from kb.wording import faithful_sentence

    claim = knowledge_base.claims["palisade-with-o3"]  # read in press copies of the thread, not the thread itself
    assert claim.verification == "secondary"
    card = section(get(check_url(faithful_sentence(knowledge_base, claim))).text, "caveat-card ")
    assert "<strong>⚠ Not verified (secondary).</strong>" in card


def test_notices_are_shown(get):
    card = section(get(check_url("<p>" + DROPS_NUDGE + "</p>")).text, "caveat-card ")
    assert "Note: HTML markup was removed; only the text was checked" in card


def test_possible_claims_are_listed_as_possibly_also_about(datasette, loop, checker, knowledge_base):
    # The real checker rarely offers a claim without reporting it; mark one finding as offered to see it shown.
    result = checker.check(DROPS_NUDGE)
    result["findings"][0]["tier"] = "suggest"
    card = verdict_card(datasette, knowledge_base, result)
    page = loop.run_until_complete(datasette.render_template("_caveat_verdict.html", {"card": card}))
    claim = result["findings"][0]["claim"]
    assert f'Possibly also about:\n    <a href="/kb/claims/{claim}">{claim}</a>' in page


def test_links_to_this_checks_json_and_claimreview(get):
    card = section(get(check_url(DROPS_NUDGE)).text, "caveat-card ")
    assert f'<a href="{html(check_url(DROPS_NUDGE, "/-/check.jsonld"))}">ClaimReview JSON-LD</a>' in card
    assert f'<a href="{html(check_url(DROPS_NUDGE, "/-/check.json"))}">JSON</a>' in card


def test_the_form_posts_with_its_csrf_token(datasette, loop, checker, heading):
    async def submit():
        form = await datasette.client.get("/-/check")
        token = form.text.split('name="csrftoken" value="')[1].split('"')[0]
        cookie = {"cookie": f"ds_csrftoken={form.cookies['ds_csrftoken']}"}
        accepted = await datasette.client.post("/-/check", data={"text": DROPS_NUDGE, "csrftoken": token},
                                               headers=cookie)
        refused = await datasette.client.post("/-/check", data={"text": DROPS_NUDGE}, headers=cookie)
        return accepted, refused

    accepted, refused = loop.run_until_complete(submit())
    assert accepted.status_code == 200 and heading(checker.check(DROPS_NUDGE)) in accepted.text
    assert refused.status_code == 403  # a cross-site form without the token


def test_a_long_text_is_checked_by_post_and_offers_claimreview_by_post(post, checker, heading):
    text = (DROPS_NUDGE + " ") * 150  # about 8,500 characters: too long for links
    page = post("/-/check", data={"text": text}).text
    assert heading(checker.check(text)) in page and "caveat-card-links" not in page
    assert '<form class="caveat-inline-form" action="/-/check.jsonld" method="post">' in page


@pytest.mark.parametrize("method", ["get", "post"])
def test_text_over_the_limit_is_a_400_with_the_limit_in_words(get, post, method):
    text = "x" * (MAX_CHARS + 1)
    response = get(check_url(text)) if method == "get" else post("/-/check", data={"text": text})
    assert response.status_code == 400
    assert f"the text has {MAX_CHARS + 1:,} characters; the limit is {MAX_CHARS:,}" in response.text
    assert "caveat-card-error" in response.text


def test_an_empty_text_shows_the_form_again(get, post):
    for response in (get("/-/check?text=+"), post("/-/check", data={"text": ""})):
        assert response.status_code == 200 and "caveat-card" not in response.text


def test_posting_json_to_the_page_says_where_json_goes(post):
    response = post("/-/check", json={"text": DROPS_NUDGE})
    assert response.status_code == 400 and "for JSON, use /-/check.json" in response.text


# ---------------------------------------------------------------- /-/check.json: the API

def test_api_get_returns_exactly_the_kb_check_object(get, checker):
    response = get(check_url(DROPS_NUDGE, "/-/check.json") + "&id=draft-1")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    assert response.json() == checker.check(DROPS_NUDGE, id="draft-1")


def test_api_post_text_returns_the_object(post, checker):
    response = post("/-/check.json", json={"text": WRONG_CONDITION})
    assert response.status_code == 200 and response.json() == checker.check(WRONG_CONDITION)


def test_api_post_statements_returns_the_objects_in_order(post, checker):
    statements = [DROPS_NUDGE, {"id": "b", "text": WRONG_CONDITION}, {"id": 7, "text": UNRELATED}]
    response = post("/-/check.json", json={"statements": statements})
    expected = list(checker.check_many([("1", DROPS_NUDGE), ("b", WRONG_CONDITION), ("7", UNRELATED)]))
    assert response.status_code == 200 and response.json() == expected


def test_api_batch_item_over_the_limit_gets_its_error_and_the_rest_are_checked(post):
    response = post("/-/check.json", json={"statements": ["x" * (MAX_CHARS + 1), DROPS_NUDGE]})
    too_long, checked = response.json()
    assert response.status_code == 200
    assert too_long["verdict"] is None and too_long["error"]["code"] == "too_long" and too_long["findings"] == []
    assert checked["verdict"] == "missing_context"


@pytest.mark.parametrize("request_of", ["get", "post"])
def test_api_single_text_over_the_limit_is_a_400(get, post, request_of):
    text = "x" * (MAX_CHARS + 1)
    if request_of == "get":
        response = get(check_url(text, "/-/check.json"))
    else:
        response = post("/-/check.json", json={"text": text})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "too_long" and f"the limit is {MAX_CHARS:,}" in error["message"]


def test_api_text_with_a_lone_surrogate_is_not_utf8(post):
    # Valid JSON, but not text: "\ud800" alone encodes to no UTF-8. Alone, a 400; in a batch, that item's error.
    single = post("/-/check.json", content=b'{"text": "o1 schemed \\ud800"}')
    batch = post("/-/check.json", content=b'{"statements": ["o1 schemed \\ud800", "o1 tried to disable oversight"]}')
    assert single.status_code == 400 and single.json()["error"]["code"] == "not_utf8"
    assert batch.status_code == 200 and [r["verdict"] for r in batch.json()][0] is None
    assert batch.json()[0]["error"]["code"] == "not_utf8" and batch.json()[1]["verdict"] is not None


def test_api_binary_text_is_a_400(post):
    response = post("/-/check.json", json={"text": "\x00\x01\x02 binary"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "binary"


@pytest.mark.parametrize("body, code, message", [
    (b"{not json", "bad_json", "the body is not valid JSON (Expecting property name"),
    (b"\xff\xfe{", "bad_json", "the body is not valid JSON"),
    (b"[" * 100_000, "bad_json", "the body is not valid JSON"),
    (b"[]", "bad_request", 'either "text" (one statement) or "statements"'),
    (b"{}", "bad_request", 'either "text" (one statement) or "statements"'),
    (b'{"text": "a", "statements": []}', "bad_request", "not both"),
    (b'{"text": 5}', "bad_request", "text must be a string, got int"),
    (b'{"text": "a", "id": [1]}', "bad_request", "id must be a string or a number, got list"),
    (b'{"statements": "a"}', "bad_request", '"statements" must be a list, got str'),
    (b'{"statements": ["a", 5]}', "bad_request", 'statements[1] must be a string or an object with a "text" string'),
    (b'{"statements": [{"id": "a"}]}', "bad_request", 'statements[0] must be a string or an object'),
    (b'{"statements": [{"text": null}]}', "bad_request", "statements[0].text must be a string, got NoneType"),
    (b'{"text": "a", "id": "\\udfff"}', "bad_request", "id has a lone surrogate"),
])
def test_api_malformed_requests_are_400s_that_say_what_is_valid(post, body, code, message):
    response = post("/-/check.json", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code and message in response.json()["error"]["message"]


def test_api_get_without_text_says_how_to_ask(get):
    response = get("/-/check.json")
    assert response.status_code == 400 and "?text=" in response.json()["error"]["message"]


def test_api_refuses_methods_other_than_get_and_post(datasette, loop):
    response = loop.run_until_complete(datasette.client.request("PUT", "/-/check.json"))
    assert response.status_code == 405 and set(response.headers["allow"].split(", ")) >= {"GET", "POST"}


def test_api_batch_over_the_statement_cap_is_a_400(post):
    response = post("/-/check.json", json={"statements": ["a"] * (MAX_STATEMENTS + 1)})
    assert response.status_code == 400 and response.json()["error"]["code"] == "too_many"
    assert f"up to {MAX_STATEMENTS}" in response.json()["error"]["message"]


def test_api_batch_over_the_character_cap_is_a_400(post):
    statements = ["y" * MAX_CHARS] * (MAX_BATCH_CHARS // MAX_CHARS + 1)
    response = post("/-/check.json", json={"statements": statements})
    assert response.status_code == 400 and f"up to {MAX_BATCH_CHARS:,}" in response.json()["error"]["message"]


def test_api_body_over_the_byte_cap_is_refused_unread(post):
    response = post("/-/check.json", content=b" " * (MAX_BODY_BYTES + 1), headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "too_large"


def test_api_post_needs_no_csrf_token_even_with_the_cookie(datasette, loop):
    async def call():
        cookie = (await datasette.client.get("/-/check")).cookies["ds_csrftoken"]
        return await datasette.client.post("/-/check.json", json={"text": DROPS_NUDGE},
                                           headers={"cookie": f"ds_csrftoken={cookie}"})

    assert loop.run_until_complete(call()).status_code == 200


# ---------------------------------------------------------------- escaping, read-only

@pytest.mark.parametrize("payload", PAYLOADS)
def test_script_payloads_come_back_inert_on_the_page(get, post, payload):
    text = f"{payload} {DROPS_NUDGE} {payload}"
    for response in (get(check_url(text)), post("/-/check", data={"text": text}),
                     get(check_url(payload * (MAX_CHARS // len(payload) + 1)))):
        assert payload not in response.text and "<script>alert" not in response.text
    assert html(payload) in get(check_url(text)).text  # echoed as text in the form, not dropped


@pytest.mark.parametrize("payload", PAYLOADS)
def test_script_payloads_come_back_inert_in_json(get, post, payload):
    responses = [post("/-/check.json", json={"id": payload, "text": f"{DROPS_NUDGE} {payload}"}),
                 post("/-/check.json", json={"statements": [{"id": payload, "text": payload}]}),
                 get(check_url(f"{DROPS_NUDGE} {payload}", "/-/check.jsonld")),
                 post("/-/check.json", content=payload.encode())]
    for response in responses:
        assert "<" not in response.text and ">" not in response.text, response.text[:200]
    assert responses[0].json()["id"] == payload  # still the same string once parsed


def test_checking_never_writes_the_database(post, served_files):
    before = hashlib.sha256(served_files.database.read_bytes()).hexdigest()
    post("/-/check.json", json={"statements": [DROPS_NUDGE, WRONG_CONDITION]})
    post("/-/check", data={"text": "drop table claims; " + DROPS_NUDGE})
    assert hashlib.sha256(served_files.database.read_bytes()).hexdigest() == before


# ---------------------------------------------------------------- ClaimReview

def caveat_terms(value) -> set:
    """Every caveat: property used anywhere in a JSON-LD document."""
    if isinstance(value, dict):
        return {k.split(":", 1)[1] for k in value if k.startswith("caveat:")} | set().union(
            *(caveat_terms(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(caveat_terms(v) for v in value)) if value else set()
    return set()


def test_claimreview_of_a_checked_text(get, checker):
    result = checker.check(DROPS_NUDGE)
    response = get(check_url(DROPS_NUDGE, "/-/check.jsonld"))
    review = response.json()
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/ld+json")
    assert review["@type"] == "ClaimReview" and review["claimReviewed"] == DROPS_NUDGE
    assert review["@context"] == {"@vocab": "https://schema.org/", "caveat": "http://localhost/-/claimreview/terms#"}
    assert review["author"] == {"@type": "Organization", "name": "Caveat", "url": "http://localhost/"}
    assert review["itemReviewed"]["@type"] == "Claim"
    assert review["url"] == "http://localhost" + check_url(DROPS_NUDGE, "/-/check.jsonld")
    assert review["reviewRating"] | {"ratingExplanation": None} == {
        "@type": "Rating", "alternateName": "Missing context", "ratingValue": 2, "worstRating": 1, "bestRating": 3,
        "ratingExplanation": None}
    matched = [f for f in result["findings"] if f["tier"] == "match"]
    assert review["caveat:claims"] == [f["claim"] for f in matched]
    assert review["caveat:droppedContext"] == list(dict.fromkeys(k for f in matched for k in f["missing_context"]))
    assert "goal_nudge" in review["caveat:droppedContext"]
    assert review["isBasedOn"] == [f"http://localhost/kb/claims/{f['claim']}" for f in matched]


@pytest.mark.parametrize("text, label, value", [
    (WRONG_CONDITION, "Misstated", 1), (DROPS_NUDGE, "Missing context", 2), (UNRELATED, "No claim", None)])
def test_claimreview_rating_scale(get, text, label, value):
    rating = get(check_url(text, "/-/check.jsonld")).json()["reviewRating"]
    assert rating["alternateName"] == label and rating.get("ratingValue") == value


def test_claimreview_of_a_faithful_text_rates_best(get, knowledge_base):
    from kb.wording import faithful_sentence

    text = faithful_sentence(knowledge_base, knowledge_base.claims["o1card-oversight"])
    assert get(check_url(text, "/-/check.jsonld")).json()["reviewRating"]["ratingValue"] == 3


def test_every_caveat_term_is_defined_at_the_namespace(get):
    review = get(check_url(WRONG_CONDITION, "/-/check.jsonld")).json()
    terms = get("/-/claimreview/terms").json()
    defined = {node["@id"].split(":", 1)[1] for node in terms["@graph"]}
    assert defined == set(TERMS) and caveat_terms(review) <= defined
    assert terms["@context"]["caveat"] == review["@context"]["caveat"]


@pytest.mark.parametrize("path", ["/-/check", "/-/check.jsonld"])
def test_a_cross_site_form_without_the_token_is_refused(datasette, loop, get, path):
    # What a page on another site can make a visitor's browser send: a form without Caveat's cookie (SameSite=Lax
    # keeps it home) or without the token. Datasette's own CSRF check lets a POST without any cookie through.
    async def forged():
        cookie = (await datasette.client.get("/-/check")).cookies["ds_csrftoken"]
        return [await datasette.client.post(path, data={"text": DROPS_NUDGE}),
                await datasette.client.post(path, data={"text": DROPS_NUDGE, "csrftoken": "guess"}),
                await datasette.client.post(path, data={"text": DROPS_NUDGE, "csrftoken": cookie})]

    for response in loop.run_until_complete(forged()):
        assert response.status_code == 403, (path, response.status_code, response.text[:200])
    assert get(check_url(DROPS_NUDGE, path)).status_code == 200  # links still work without a token


@pytest.mark.parametrize("path", ["/-/check.json", "/-/check.jsonld"])
@pytest.mark.parametrize("kind", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None])
def test_the_api_takes_posted_json_only(post, path, kind):
    body = json.dumps({"text": DROPS_NUDGE}).encode()
    if kind == "application/x-www-form-urlencoded" and path.endswith(".jsonld"):
        return  # the page's own ClaimReview form: covered by the CSRF test above
    response = post(path, content=body, headers={"content-type": kind} if kind else {})
    answer = response.json()
    assert response.status_code == 415 and answer["error"]["code"] == "unsupported_media_type"
    assert "application/json" in answer["error"]["message"]
    assert post(path, content=body, headers={"content-type": "application/json; charset=utf-8"}).status_code == 200


def test_claimreview_by_post(post):
    for response in (post("/-/check.jsonld", data={"text": DROPS_NUDGE}),
                     post("/-/check.jsonld", json={"text": DROPS_NUDGE})):
        assert response.status_code == 200 and response.json()["reviewRating"]["alternateName"] == "Missing context"


def test_claimreview_errors(get, post):
    assert get(check_url("x" * (MAX_CHARS + 1), "/-/check.jsonld")).json()["error"]["code"] == "too_long"
    assert get("/-/check.jsonld").status_code == 400
    response = post("/-/check.jsonld", json={"statements": [DROPS_NUDGE]})
    assert response.status_code == 400 and "a ClaimReview is of one statement" in response.json()["error"]["message"]


def test_claimreview_of_a_knowledge_base_statement(get, built_db, knowledge_base):
    with sqlite3.connect(built_db) as conn:
        verdict = conn.execute("select verdict from checks where statement_id = 'd01'").fetchone()[0]
        dropped = [json.loads(m) for (m,) in conn.execute(
            "select missing_context from findings where statement_id = 'd01' and tier = 'match' order by position")]
    statement = knowledge_base.statements["d01"]
    review = get("/-/claimreview/d01.jsonld").json()
    assert review["url"] == "http://localhost/kb/statements/d01" and review["claimReviewed"] == statement.text
    assert review["caveat:verdict"] == verdict
    assert review["caveat:droppedContext"] == list(dict.fromkeys(k for keys in dropped for k in keys))
    assert review["itemReviewed"]["author"] == {"name": statement.who}
    if statement.url:
        assert review["itemReviewed"]["appearance"]["url"] == statement.url


def test_claimreviews_of_all_knowledge_base_statements(get, built_db):
    with sqlite3.connect(built_db) as conn:
        checked = [sid for (sid,) in conn.execute("select statement_id from checks order by rowid")]
    graph = get("/-/claimreview.jsonld").json()
    assert [r["url"].rsplit("/", 1)[1] for r in graph["@graph"]] == checked
    assert "@context" in graph and all("@context" not in r for r in graph["@graph"])


def test_unknown_statement_claimreview_is_a_json_404(get):
    response = get("/-/claimreview/d01x.jsonld")
    assert response.status_code == 404 and "/kb/statements?_search=d01x" in response.json()["error"]
    assert response.json()["suggestions"][0] == "d01"


def test_statement_page_shows_its_stored_verdict_and_embeds_its_claimreview(get, built_db, heading):
    from kb.check.store import stored_results

    page = get("/kb/statements/d01").text
    review = get("/-/claimreview/d01.jsonld").json()
    assert '<a href="/-/claimreview/d01.jsonld">ClaimReview JSON-LD</a>' in page
    with sqlite3.connect(built_db) as conn:
        stored = stored_results(conn)["d01"]
    # The card reads the stored verdict as the check page would (one to verify below assert_from); the ClaimReview
    # rates the verdict itself.
    assert heading(stored) in page and heading(stored).startswith(
        ("Possibly " + review['reviewRating']['alternateName'].lower(), review['reviewRating']['alternateName']))
    embedded = page.split('<script type="application/ld+json">')[1].split("</script>")[0]
    assert json.loads(embedded) == review


# ---------------------------------------------------------------- the real datasette command

def test_the_check_api_through_the_datasette_command(served_files, checker):
    path = check_url(DROPS_NUDGE, "/-/check.json")
    command = [sys.executable, "-m", "datasette", *datasette_args(served_files), "--get", path]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-500:]
    # The same verdict and findings as in this process (exact equality is tested in-process above; a separate
    # process would also see edits made to the checker's wording while the tests run).
    served, expected = json.loads(result.stdout), checker.check(DROPS_NUDGE)
    assert served["verdict"] == expected["verdict"] == "missing_context"
    assert [(f["claim"], f["missing_context"]) for f in served["findings"]] == \
        [(f["claim"], f["missing_context"]) for f in expected["findings"]]


def test_the_measured_accuracy_line_sits_under_the_verdict(get):
    page = get(check_url(DROPS_NUDGE)).text
    assert page.index('class="caveat-card ') < page.index('class="caveat-accuracy"') < page.index("For programs")
    assert "real statements the checker was not fitted on (cross-validated" in page


# ---------------------------------------------------------------- no rewrite from a result the statement does not name

# Made up: a sweeping statement the checker reads as Anthropic's control prompts (0%), which it never names.
GENERIC_CONTROL = "Most AI models turned to blackmail when their goals were threatened."


def unnamed_variant_findings(checker, knowledge_base, text) -> list[dict]:
    """The text's matched findings whose claim is a control or variant whose defining condition it does not convey."""
    findings = [f for f in checker.check(text)["findings"] if f["tier"] == "match" and f["claim"]]
    out = []
    for finding in findings:
        setting = knowledge_base.setting_of(knowledge_base.claims[finding["claim"]])
        if setting.variant and not set(setting.defined_by) & set(finding["present_context"]):
            out.append(finding)
    return out


@pytest.mark.parametrize("text", [GENERIC_CONTROL, "statement rb078"])
def test_no_rewrite_is_offered_from_a_control_or_variant_the_statement_does_not_name(get, checker, knowledge_base,
                                                                                     text):
    from kb.wording import faithful_sentence

    if text.startswith("statement "):  # a real statement of the knowledge base (not the locked fold)
        text = knowledge_base.statements[text.split()[1]].text
    findings = unnamed_variant_findings(checker, knowledge_base, text)
    assert findings, "the checker no longer matches a control or variant here: pick another example"
    card = section(get(check_url(text)).text, "caveat-card ")
    for finding in findings:  # kb check --jsonl withholds it too, and says why
        assert finding["suggestion"] == "" and "No rewording is offered" in finding["explanation"]
        wording = faithful_sentence(knowledge_base, knowledge_base.claims[finding["claim"]])
        assert html(wording) not in card  # the control's own sentence is not shown
    assert "A faithful wording" not in card
    assert "No rewording is offered" in card and "Verify the figure in the source" in card
    printed = render(checker.check(text), checker.kb, color=False)  # kb check's own output says the same
    assert "No rewording is offered" in printed and wording[:60] not in printed


def test_a_rewrite_is_withheld_only_for_an_unnamed_control_or_variant(knowledge_base):
    from kb.wording import offered_rewrite

    def finding(claim, present=(), number="match"):
        return {"claim": claim, "suggestion": "A sentence.", "explanation": "Why.", "present_context": list(present),
                "number": number}

    control = knowledge_base.settings["agentic-control"]
    assert control.variant and "goal_given" in control.defined_by
    withheld = offered_rewrite(knowledge_base, finding("agentic-control"))
    assert withheld["suggestion"] == "" and withheld["explanation"].startswith("Why. No rewording is offered")
    assert "Verify the figure in the source" in withheld["explanation"]
    assert offered_rewrite(knowledge_base, withheld) == withheld  # idempotent
    kept = [finding("agentic-control", present=["goal_given"]),  # the statement names what makes it a control
            finding("agentic-control", number="other_condition"),  # the wording is of the number it printed
            finding("o1card-oversight")]  # a main setting
    for case in kept:
        assert offered_rewrite(knowledge_base, case) == case
