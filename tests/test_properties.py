"""Property-based tests (Hypothesis), each with a bounded number of examples so they run in the default test command.

- The YAML loader and validator: any bytes in a data file give a list of problems (file, line, fix) or records,
  never an exception.
- The quantity parser: any text gives well-formed, ordered, non-overlapping quantities that quote the text; a
  percentage or an "a out of b" written into filler text is found with its value.
- The check API: any JSON body gives a 200 or a 4xx carrying a known error code, never a 500.
- The check API against its own OpenAPI document (/-/check.openapi.json), fuzzed with Schemathesis.
"""

from __future__ import annotations

import asyncio
import json
import math
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb.check.quantities import BOUNDS, KINDS, parse_quantities
from kb.load import load_yaml
from kb.validate import load_knowledge_base
from kbtest import FIXTURES, ROOT, tiny_kb

BOUNDED = settings(max_examples=80, deadline=None, derandomize=True,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# YAML's building blocks, so that examples reach past the parser into the validator.
YAML_PIECES = ["source: tiny-paper-2024\n", "claims:\n", "settings:\n", "- id: x\n", "  model: o1\n", "  value: 0.05\n",
               "  value: 5\n", "  n: 99999999999999999999\n", "  key_context: [rate]\n", "  conditions: {}\n",
               "  setting: tiny-nudged\n", "- ", ": ", "\n", "  ", "[", "]", "{", "}", "&a ", "*a", "!!python/object ",
               "!!binary ", "? ", "'", '"', "#", "\t", "\x07", "\ufeff", "\u2028", "\x85", "\ud7ff", "%YAML 1.1\n",
               "---\n", "...\n", "yes", "no", "~", "null", "1e999", "0x1F", ".nan", "2024-01-01", "- - - -", "|\n",
               ">-\n", "9" * 5000]
yaml_texts = st.lists(st.sampled_from(YAML_PIECES), max_size=30).map("".join)
yaml_bytes = st.one_of(st.binary(max_size=400), yaml_texts.map(lambda t: t.encode("utf-8", "surrogatepass")),
                       st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")))


@pytest.fixture(scope="module")
def scratch_kb(tmp_path_factory) -> Path:
    return tiny_kb(tmp_path_factory.mktemp("props") / "kb")


def assert_problems_well_formed(problems, rel: str | None = None):
    assert isinstance(problems, list)
    for problem in problems:
        assert problem.line >= 1 and problem.code.startswith("E") and problem.message and problem.fix
        assert rel is None or problem.file


@BOUNDED
@given(data=yaml_bytes)
def test_any_bytes_load_as_data_or_problems(tmp_path, data):
    path = tmp_path / "x.yaml"
    path.write_bytes(data)
    loaded = load_yaml(path, "claims/x.yaml")
    assert_problems_well_formed(loaded.problems)


@settings(BOUNDED, max_examples=40)
@given(data=yaml_bytes)
def test_any_bytes_in_a_claims_file_validate_to_problems_never_an_exception(scratch_kb, data):
    (scratch_kb / "claims" / "fuzzed.yaml").write_bytes(data)
    knowledge_base, problems = load_knowledge_base(scratch_kb)
    assert_problems_well_formed(problems)


REAL_FILE = (FIXTURES / "tiny" / "claims" / "tiny-paper-2024.yaml").read_bytes()


@settings(BOUNDED, max_examples=40)
@given(edits=st.lists(st.tuples(st.integers(0, len(REAL_FILE)), st.integers(0, 3), st.binary(max_size=3)),
                      min_size=1, max_size=4))
def test_a_real_claims_file_with_random_edits_validates_to_problems_or_records(scratch_kb, edits):
    data = bytearray(REAL_FILE)
    for position, cut, insert in edits:
        data[position:position + cut] = insert
    target = scratch_kb / "claims" / "tiny-paper-2024.yaml"
    (scratch_kb / "claims" / "fuzzed.yaml").unlink(missing_ok=True)
    try:
        target.write_bytes(bytes(data))
        knowledge_base, problems = load_knowledge_base(scratch_kb)
        assert_problems_well_formed(problems)
        assert problems or set(knowledge_base.claims)
    finally:
        target.write_bytes(REAL_FILE)


# ---------------------------------------------------------------- the quantity parser

@settings(BOUNDED, max_examples=300)
@given(text=st.text(max_size=200) | st.lists(st.sampled_from(
    ["5", "%", " ", "of", "out", "100", "one", "in", "five", "-", "to", "from", "<", "~", ".", ",", "1/3", "½",
     "percent", "points", "times", "runs", "2024", "fewer than", "about", "0.5", "seventy-nine", "x", "\u2009",
     "\uff05", "\u2212"]), max_size=25).map(" ".join))
def test_quantities_are_well_formed_ordered_and_quote_the_text(text):
    found = parse_quantities(text)
    previous_end = 0
    for q in found:
        assert 0 <= q.start < q.end <= len(text) and q.text == text[q.start:q.end]
        assert q.start >= previous_end  # sorted, and no two overlap
        previous_end = q.end
        assert q.kind in KINDS and q.bound in BOUNDS and math.isfinite(q.value)


FILLER = st.sampled_from(["The model did it", "In the tests, o1 schemed", "Researchers saw this", "It happened"])


@settings(BOUNDED, max_examples=150)
@given(before=FILLER, number=st.integers(0, 100) | st.decimals(0, 100, places=1).map(float),
       after=st.sampled_from(["of the time.", "of runs", "in their tests", ""]))
def test_a_percentage_in_filler_text_is_found_with_its_value(before, number, after):
    shown = f"{number:g}"
    found = parse_quantities(f"{before} {shown}% {after}")
    assert [q.kind for q in found] == ["percent"]
    assert found[0].value == pytest.approx(float(shown) / 100) and found[0].text.startswith(shown)


@settings(BOUNDED, max_examples=150)
@given(before=FILLER, parts=st.integers(1, 1000).flatmap(lambda whole: st.tuples(st.integers(0, whole), st.just(whole))))
def test_a_count_out_of_a_total_is_found_as_a_ratio(before, parts):
    count, total = parts
    found = parse_quantities(f"{before} {count} out of {total} times.")
    assert [q.kind for q in found] == ["ratio"] and found[0].value == pytest.approx(count / total)


# ---------------------------------------------------------------- the check API

KNOWN_CODES = {"bad_json", "bad_request", "too_many", "too_large", "not_utf8", "busy", "checker_unavailable", "empty",
               "too_long", "not_text", "binary", "internal"}
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                       max_size=4), max_leaves=12)
statement_values = st.one_of(st.text(max_size=120), json_values,
                             st.sampled_from(["o1 tried to disable oversight 5% of the time", "", "  ", "\x00\x01"]))
api_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"text": statement_values}, optional={"id": json_values, "extra": json_values}),
    st.fixed_dictionaries({"statements": st.one_of(st.lists(statement_values, max_size=6), json_values)},
                          optional={"text": statement_values}),
    st.fixed_dictionaries({"statements": st.lists(st.fixed_dictionaries(
        {"text": statement_values}, optional={"id": json_values}), max_size=4)}))


@pytest.fixture(scope="module")
def check_app(built_db, checker):
    from datasette.app import Datasette

    from kb.publish.datasette_config import metadata, settings as datasette_settings
    from kb.publish.serve import prepare

    files = prepare(ROOT, built_db, echo=lambda *_: None)
    ds = Datasette(immutables=[str(files.database)], inspect_data=json.loads(files.inspect.read_text()),
                   metadata=metadata(), settings=datasette_settings())
    asyncio.run(ds.invoke_startup())
    return ds


def error_codes(answer) -> set:
    items = answer if isinstance(answer, list) else [answer]
    return {item["error"]["code"] for item in items if isinstance(item, dict) and item.get("error")}


@pytest.mark.slow
@settings(BOUNDED, max_examples=60)
@given(body=api_bodies)
def test_any_json_body_gets_200_or_4xx_with_a_known_code(check_app, body):
    raw = json.dumps(body).encode()
    response = asyncio.run(check_app.client.post("/-/check.json", content=raw,
                                                 headers={"content-type": "application/json"}))
    assert response.status_code in (200, 400), response.text[:300]
    answer = response.json()
    if response.status_code == 400:
        assert error_codes(answer) and error_codes(answer) <= KNOWN_CODES, answer
    else:
        assert error_codes(answer) <= KNOWN_CODES
        for item in answer if isinstance(answer, list) else [answer]:
            assert item["verdict"] in ("ok", "missing_context", "misstated", "no_claim", None)


@pytest.mark.slow
@settings(BOUNDED, max_examples=40)
@given(raw=st.binary(max_size=200) | st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_any_bytes_as_a_body_get_a_4xx_or_a_result(check_app, raw):
    response = asyncio.run(check_app.client.post("/-/check.json", content=raw,
                                                 headers={"content-type": "application/json"}))
    assert response.status_code in (200, 400)
    assert error_codes(response.json()) <= KNOWN_CODES


@pytest.mark.slow
def test_the_check_api_conforms_to_its_openapi_document(check_app):
    import schemathesis
    from schemathesis.checks import (content_type_conformance, negative_data_rejection, not_a_server_error,
                                     response_headers_conformance, response_schema_conformance,
                                     status_code_conformance)

    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
              response_schema_conformance, negative_data_rejection]

    schema = schemathesis.openapi.from_asgi("/-/check.openapi.json", check_app.app())
    assert {m.lower() for m in schema["/-/check.json"]} == {"get", "post"}
    failures, calls = [], []

    def fuzz(operation):
        @settings(BOUNDED, max_examples=25)
        @given(case=operation.as_strategy())
        def run(case):
            calls.append(case.method)
            try:
                case.call_and_validate(checks=checks)
            except AssertionError as failure:  # schemathesis' failures are AssertionErrors
                failures.append(str(failure)[:600])

        run()

    for result in schema.get_all_operations():
        fuzz(result.ok())
    assert failures == [] and {m.upper() for m in calls} == {"GET", "POST"} and len(calls) >= 20
