"""The checker's verdicts on the knowledge base's own statements, as database tables (`checks`, `findings`).

`kb build` stores them next to the human labels so disagreements are visible in Datasette and on the site;
`stored_results` reads them back, for the server and the site alike.
"""

from __future__ import annotations

import json

from kb.database import PROVENANCE, Table

CHECK_TABLES = [
    Table("checks", "The checker's verdict on each statement, next to its human label.",
          [("statement_id", str, "The statement checked."),
           ("verdict", str, "The checker's verdict: ok, missing_context, misstated or no_claim."),
           ("label_verdict", str, "The human label's verdict, if labelled."),
           ("label_verdict_any", str, "Verdicts the label accepts (JSON list)."),
           ("agrees", int, "1 when the checker's verdict is one the label accepts, 0 when not, empty when unlabelled."),
           ("findings", int, "How many claims the checker found the statement reporting."),
           ("checker", str, "Which checker produced it (version and embedding model).")] + PROVENANCE,
          ("statement_id",), [("statement_id", "statements", "id")]),
    Table("findings", "Each claim the checker found a statement reporting, with what it drops or misstates.",
          [("statement_id", str, "The statement."), ("position", int, "Order of the finding in the statement's result."),
           ("claim_id", str, "The claim reported (empty when no claim covers the result)."),
           ("model", str, "The claim's model."), ("behaviour", str, "The claim's behaviour."),
           ("tier", str, "match (reported) or suggest (possibly reported)."),
           ("score", float, "How sure the checker is, 0 to 1."),
           ("value", float, "The claim's value."), ("reported_value", float, "The number the statement gives."),
           ("number", str, "match, mismatch, other_condition, unsupported or absent."),
           ("missing_context", str, "Key context the statement drops (JSON list of context keys)."),
           ("present_context", str, "Context the statement conveys (JSON list of context keys)."),
           ("problems", str, "What is wrong (JSON list of {kind, detail}, with claim: the other claim a problem names, "
                             "whose figure the statement gives)."),
           ("explanation", str, "The checker's explanation."), ("suggestion", str, "A faithful wording."),
           ("source", str, "The source of the claim."), ("locator", str, "Where in the source.")] + PROVENANCE,
          ("statement_id", "position"), [("statement_id", "statements", "id"), ("claim_id", "claims", "id")]),
]


def check_stage(root):
    """The build stage that stores the checker's verdicts (tables checks, findings), its embeddings cached under build/."""
    from kb.build import Stage

    def rows(knowledge_base):
        from kb.check.checker import Checker
        from kb.project import build_dir

        checker = Checker(knowledge_base, cache_path=build_dir(root) / "cache" / "embeddings.npz")
        return check_extras(knowledge_base, checker)[1]

    return Stage("checks", tuple(CHECK_TABLES), rows)


def check_extras(kb, checker=None):
    """(tables, rows): run the checker over every statement in statements/."""
    import kb as package
    from kb.check.checker import Checker
    from kb.check.embed import MODEL_NAME  # here: what reads CHECK_TABLES (is_stale, the server) needs no embedder

    checker = checker or Checker(kb)
    statements = list(kb.statements.values())
    results = list(checker.check_many((s.id, s.text) for s in statements))
    tag = f"caveat {package.__version__} / {MODEL_NAME}"
    checks, findings = [], []
    for statement, result in zip(statements, results):
        checks.append(_check_row(statement, result, tag))
        findings += [_finding_row(statement, i, f) for i, f in enumerate(result["findings"])]
    return CHECK_TABLES, {"checks": checks, "findings": findings}


def accepted_verdicts(verdict, verdict_any) -> set:
    """The checker verdicts a human label accepts: its verdict and any alternatives it lists (verdict_any)."""
    return ({verdict} | set(verdict_any or [])) - {None}


def _check_row(statement, result, tag) -> dict:
    label = statement.label
    accepted = accepted_verdicts(label.verdict, label.verdict_any) if label else None
    return {"statement_id": statement.id, "verdict": result["verdict"], "label_verdict": label.verdict if label else None,
            "label_verdict_any": json.dumps(label.verdict_any) if label and label.verdict_any else None,
            "agrees": int(result["verdict"] in accepted) if accepted else None,
            "findings": sum(f["tier"] == "match" for f in result["findings"]), "checker": tag,
            "file": statement.file, "line": statement.line}


def _finding_row(statement, position, finding) -> dict:
    row = {key: finding.get(key) for key in ("model", "behaviour", "tier", "score", "value", "reported_value", "number",
                                              "explanation", "suggestion", "source", "locator")}
    row.update(statement_id=statement.id, position=position, claim_id=finding["claim"],
               missing_context=json.dumps(finding["missing_context"]), present_context=json.dumps(finding["present_context"]),
               problems=json.dumps(finding["problems"], ensure_ascii=False), file=statement.file, line=statement.line)
    return row


# ---------------------------------------------------------------- reading them back

FINDING_COLUMNS = ("claim_id", "model", "behaviour", "score", "tier", "value", "reported_value", "number",
                   "missing_context", "present_context", "problems", "explanation", "suggestion", "source", "locator")


def stored_results(conn) -> dict[str, dict]:
    """statement id -> the `kb check` object (without its text) stored in `checks` and `findings`; {} without them."""
    tables = {row[0] for row in conn.execute("select name from sqlite_master where type = 'table'")}
    if not {"checks", "findings"} <= tables:
        return {}
    checks = conn.execute("select statement_id, verdict from checks order by rowid")
    results = {sid: {"id": sid, "verdict": verdict, "findings": []} for sid, verdict in checks}
    query = f"select statement_id, {', '.join(FINDING_COLUMNS)} from findings order by statement_id, position"
    for sid, *values in conn.execute(query):
        if sid in results:
            results[sid]["findings"].append(_stored_finding(dict(zip(FINDING_COLUMNS, values))))
    return results


def _stored_finding(row: dict) -> dict:
    finding = {("claim" if key == "claim_id" else key): value for key, value in row.items()}
    for key in ("missing_context", "present_context", "problems"):
        finding[key] = json.loads(finding[key] or "[]")
    return finding
