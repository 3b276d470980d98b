"""/-/check.openapi.json: the check API (/-/check.json) described as OpenAPI 3.1, for clients and for fuzzing.

The limits and error codes come from the code that enforces them (kb.publish.check_routes, kb.check.inputs), so
the document cannot drift from the API. tests/test_serve_hardening.py fuzzes the API against it with Schemathesis.
"""

from __future__ import annotations

from kb.check.inputs import MAX_CHARS
from kb.publish.check_routes import MAX_BATCH_CHARS, MAX_STATEMENTS
from kb.publish.web import json_response

# Every error code the API answers with: request errors (the body is not a request the API takes), and a
# statement's own errors (the checker's, as in `kb check --jsonl`).
REQUEST_ERRORS = ("bad_json", "bad_request", "too_many", "too_large", "not_utf8", "busy", "checker_unavailable")
STATEMENT_ERRORS = ("empty", "too_long", "not_utf8", "not_text", "binary", "bad_json", "internal")
ERROR_CODES = tuple(dict.fromkeys(REQUEST_ERRORS + STATEMENT_ERRORS))


def openapi() -> dict:
    ident = {"oneOf": [{"type": "string"}, {"type": "number"}]}
    statement = {"type": "string", "maxLength": MAX_CHARS, "description": "The statement to check."}
    error = {"type": "object", "required": ["code", "message"],
             "properties": {"code": {"type": "string", "enum": list(ERROR_CODES)}, "message": {"type": "string"}}}
    result = {"type": "object", "required": ["id", "text", "verdict", "findings"],
              "description": "Exactly one object of `kb check --jsonl`.",
              "properties": {"id": {"type": ["string", "null"]}, "text": {"type": "string"},
                             "verdict": {"type": ["string", "null"],
                                         "enum": ["ok", "missing_context", "misstated", "no_claim", None]},
                             "findings": {"type": "array", "items": {"type": "object"}},
                             "notices": {"type": "array", "items": {"type": "string"}}, "error": error}}
    problem = {"type": "object", "required": ["ok", "status", "error"],
               "properties": {"ok": {"const": False}, "status": {"type": "integer"}, "error": error}}
    refused = {"description": "Not a request the API takes, or a statement it cannot check (then the body is the "
                              "statement's result, with `error`).",
               "content": {"application/json": {"schema": {"oneOf": [problem, result]}}}}
    busy = {"description": "Too many statements are waiting; try again after Retry-After seconds.",
            "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
            "content": {"application/json": {"schema": problem}}}
    not_json = {"description": "The body is not sent as JSON (content-type application/json): refused, so that pages "
                                "on other sites cannot make their visitors' browsers send checks.",
                "content": {"application/json": {"schema": problem}}}
    one = {"description": "The statement's result.", "content": {"application/json": {"schema": result}}}
    many = {"description": "One result per statement, in order (a statement that cannot be checked has `error`).",
            "content": {"application/json": {"schema": {"oneOf": [result, {"type": "array", "items": result}]}}}}
    body = {"oneOf": [
        {"type": "object", "required": ["text"], "properties": {"text": statement, "id": ident}},
        {"type": "object", "required": ["statements"], "properties": {"statements": {
            "type": "array", "maxItems": MAX_STATEMENTS,
            "description": f"At most {MAX_STATEMENTS} statements and {MAX_BATCH_CHARS:,} characters in all.",
            "items": {"oneOf": [statement, {"type": "object", "required": ["text"],
                                            "properties": {"text": statement, "id": ident}}]}}}}]}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Caveat check API", "version": "1",
                 "description": "Check statements that report AI-safety evaluation results: which claims they "
                                "report, which key conditions they drop, which numbers they misstate."},
        "paths": {"/-/check.json": {
            "get": {"operationId": "checkOne", "summary": "Check one statement",
                    "parameters": [{"name": "text", "in": "query", "required": True, "schema": statement},
                                   {"name": "id", "in": "query", "required": False, "schema": {"type": "string"}}],
                    "responses": {"200": one, "400": refused, "429": busy}},
            "post": {"operationId": "checkMany", "summary": "Check one statement or a batch",
                     "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
                     "responses": {"200": many, "400": refused, "415": not_json, "429": busy}}}},
    }


async def openapi_view(datasette, request):
    return json_response(openapi())
