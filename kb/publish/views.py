"""One presentation model per record, built once and rendered twice: by Datasette's Jinja templates (the claim,
source and statement pages, the check page) and by the site's Jinja templates (the context cards).

A view is plain data: words and numbers already written for people, and links made by a `Links` object, so the
two renderers differ only in their markup and in where their links point. The wording of verification statuses,
kinds of number, ranks and contrasts lives here and nowhere else (numbers and how they compare: kb.format).
"""

from __future__ import annotations

from typing import Protocol

from kb.format import confidence_words, format_number, format_value, number_words
from kb.wording import faithful_sentence, offered_rewrite

# ---------------------------------------------------------------- wording: one home

STATUS_MEANING = {
    "verified": "the number was read in the primary source",
    "parsed": "read from a badly extracted table: check the source before quoting it",
    "secondary": "seen only in secondary sources (reports about the source), not in the source itself",
    "partial": "only partly verified against the source",
    "unverified": "not verified against the source",
}
# Shown in a warning box and as a badge wherever claims are listed: a number that is not `verified` must never pass
# for one that is.
VERIFICATION_WARNINGS = {
    "parsed": "Parsed, not verified: this number was read from a badly extracted table. "
              "Check it against the source before quoting it.",
    "secondary": "Secondary, not verified: this number was seen only in secondary sources, not in the primary text. "
                 "Quote the primary source, not this number, if you can.",
    "partial": "Only partly verified: part of this number or its conditions could not be checked against the "
               "primary text.",
    "unverified": "Unverified: this number has not been checked against its source yet.",
}
METRIC_MEANING = {
    "rate": "a share of runs",
    "conditional_rate": "a share of only those runs in which an earlier event happened, not of all runs",
    "accuracy_drop": "a drop in accuracy between two test conditions, in percentage points (not how often)",
    "difference": "a difference between two rates, in percentage points",
    "score": "a score",
    "qualitative": "no single number, only the source's words",
}
RANK_MEANING = {"preferred": "the source's headline figure", "normal": "a figure from the source",
                "deprecated": "superseded or known to be wrong: do not quote it"}
RANK_WARNINGS = {"deprecated": "Deprecated: this claim is superseded or known to be wrong. Do not quote it."}
VERDICT_SYMBOLS = {"ok": "✓", "missing_context": "⚠", "misstated": "✗", "no_claim": "–"}
SOURCE_KEY = "source"  # a contrast that differs by source: the same measurement reported elsewhere


class Links(Protocol):
    """Where a renderer's links point (Datasette: its row pages; the site: its Markdown pages)."""

    def claim(self, claim_id: str) -> str | None: ...
    def source(self, source_id: str) -> str | None: ...
    def model(self, model_id: str) -> str | None: ...
    def behaviour(self, behaviour_id: str) -> str | None: ...
    def setting(self, setting_id: str) -> str | None: ...
    def context_key(self, key: str) -> str | None: ...
    def statement(self, statement_id: str) -> str | None: ...
    def graph(self, claim_id: str) -> str | None: ...
    def bibtex(self, source_id: str) -> str | None: ...
    def check(self) -> str: ...


def verification(claim) -> dict:
    status = claim.verification
    return {"status": status, "verified": status == "verified", "meaning": STATUS_MEANING.get(status, ""),
            "warning": VERIFICATION_WARNINGS.get(status), "note": claim.verification_note}


def key_label(kb, key: str) -> str:
    if key == SOURCE_KEY:
        return "Source"
    context = kb.context.get(key)
    return context.label if context else key


# ---------------------------------------------------------------- the claim view

def claim_view(kb, claim, links: Links, verdicts: dict | None = None) -> dict:
    """Everything a claim's page shows. `verdicts`: statement id -> {"verdict", "agrees"} from the stored checks."""
    source = kb.source_of(claim)
    setting = kb.setting_of(claim)
    model, behaviour = kb.models.get(claim.model), kb.behaviours.get(claim.behaviour)
    model_name = model.name if model else claim.model
    behaviour_name = behaviour.label if behaviour else claim.behaviour
    return {
        "id": claim.id, "claim": claim,
        "title": " · ".join([model_name, behaviour_name] + ([setting.label] if setting else [])),
        "sentence": faithful_sentence(kb, claim),
        "value": format_value(claim), "value_text": claim.value_text,
        "measure": claim.measure, "metric": claim.metric, "metric_meaning": METRIC_MEANING.get(claim.metric, ""),
        "out_of": claim.denominator or (f"{claim.n} runs" if claim.n is not None else None),
        "model": {"id": claim.model, "name": model_name, "url": links.model(claim.model), "tested": claim.model_tested},
        "behaviour": {"id": claim.behaviour, "name": behaviour_name, "url": links.behaviour(claim.behaviour)},
        "verification": verification(claim),
        "rank": {"value": claim.rank, "meaning": RANK_MEANING.get(claim.rank, ""), "warning": RANK_WARNINGS.get(claim.rank)},
        "key_conditions": [{"key": key, "label": key_label(kb, key), "url": links.context_key(key),
                            "meaning": _key_meaning(kb, claim, key)} for key in dict.fromkeys(claim.key_context or [])],
        "setting": _setting(setting, links),
        "conditions": _conditions(kb, claim, links),
        "source": source_view(source, links) if source else None,
        "locator": claim.locator, "quote": claim.quote, "notes": claim.notes,
        "file": claim.file if getattr(claim, "file", None) else None, "line": getattr(claim, "line", None),
        "contrasts": contrasts(kb, claim, links),
        "statements": _statements(kb, claim, links, verdicts or {}),
        "corrections": corrections(kb, claim, links),
        "graph_url": links.graph(claim.id), "check_url": links.check(),
    }


def corrections(kb, claim, links: Links) -> list[dict]:
    """The claim's entries in the data changelog (changes.yaml), oldest first."""
    return [{"date": c.date, "field": c.field, "added": c.field == "claim", "old": c.old, "new": c.new, "why": c.why,
             "locator": c.locator, "source": c.source, "source_url": links.source(c.source)}
            for c in kb.changes_by_claim.get(claim.id, [])]


def _key_meaning(kb, claim, key: str) -> str:
    """The setting's description of the condition; for keys the number itself carries (how often, of which runs,
    accuracy drop), what kind of number it is and what it counts."""
    condition = kb.conditions_of(claim).get(key)
    if condition is not None:
        return condition.description
    context = kb.context.get(key)
    if context is not None and context.scope == "claim" and claim.value is None:
        return f"The source gives no single number: {claim.value_text}"
    if context is not None and context.scope == "claim":
        counted = f" ({claim.denominator})" if claim.denominator else (f" (out of {claim.n} runs)" if claim.n else "")
        return f"{format_value(claim)} is {METRIC_MEANING.get(claim.metric, claim.metric)}{counted}"
    return context.definition if context else ""


def _setting(setting, links: Links) -> dict | None:
    if setting is None:
        return None
    return {"id": setting.id, "label": setting.label, "description": setting.description, "notes": setting.notes,
            "url": links.setting(setting.id)}


def _conditions(kb, claim, links: Links) -> list[dict]:
    key_context = set(claim.key_context or [])
    return [{"key": key, "label": key_label(kb, key), "url": links.context_key(key), "value": condition.value,
             "description": condition.description, "quote": condition.quote, "must_convey": key in key_context}
            for key, condition in kb.conditions_of(claim).items()]


def source_view(source, links: Links) -> dict:
    return {"id": source.id, "title": source.title, "authors": source.authors, "date": source.date,
            "kind": source.kind, "url": source.url, "page_url": links.source(source.id),
            "bibtex_url": links.bibtex(source.id)}


def contrast_side(kb, claim, differs_by: str, links: Links) -> dict:
    """One side of a contrast: what it was on the differing condition (or which source), and its value."""
    if differs_by == SOURCE_KEY:
        source = kb.sources.get(kb.claim_sources.get(claim.id))
        what = source.title if source else "another source"
    else:
        condition = kb.conditions_of(claim).get(differs_by)
        what = condition.value if condition is not None else "not stated"
    return {"id": claim.id, "url": links.claim(claim.id), "what": what, "value": format_value(claim),
            "value_text": claim.value_text, "verification": verification(claim)}


def contrasts(kb, claim, links: Links) -> list[dict]:
    """The claims that differ from this one by one condition, or report it from another source, side by side."""
    rows = []
    for other_id, differs_by, note in kb.contrasts_of(claim.id):
        rows.append({"differs_by": differs_by, "differs_label": key_label(kb, differs_by),
                     "differs_is_key": differs_by in kb.context, "differs_url": links.context_key(differs_by),
                     "this": contrast_side(kb, claim, differs_by, links),
                     "other": contrast_side(kb, kb.claims[other_id], differs_by, links), "note": note or ""})
    return rows


def verdict_label(kb, verdict: str | None) -> str:
    record = kb.verdicts.get(verdict) if verdict else None
    return record.label if record else (verdict or "unlabelled")


def _statements(kb, claim, links: Links, verdicts: dict) -> list[dict]:
    """The statements that report the claim, with their human label and the checker's stored verdict. `verdicts`
    values may carry "missing_by_claim" (claim id -> the keys the checker flagged for that claim)."""
    from kb.check.store import accepted_verdicts

    rows = []
    for statement in kb.statements_by_claim.get(claim.id, []):
        label = statement.label
        check = verdicts.get(statement.id) or {}
        machine = None
        if check.get("verdict"):
            agrees = check.get("agrees")
            if agrees is None and label and label.verdict:
                agrees = check["verdict"] in accepted_verdicts(label.verdict, label.verdict_any)
            flagged = (check.get("missing_by_claim") or {}).get(claim.id, [])
            machine = {"verdict": check["verdict"], "label": verdict_label(kb, check["verdict"]),
                       "disagrees": agrees is not None and not agrees, "flagged": [_key(kb, k, links) for k in flagged]}
        accepted = list(dict.fromkeys(([label.verdict] if label and label.verdict else [])
                                      + list(label.verdict_any or [] if label else [])))
        missing = list(label.missing or []) if label else []
        rows.append({"id": statement.id, "url": links.statement(statement.id), "text": statement.text,
                     "who": statement.who, "date": statement.date,
                     "label_verdict": accepted[0] if accepted else None,
                     "label_verdict_label": " or ".join(verdict_label(kb, v) for v in accepted),
                     "missing": missing, "missing_labels": [key_label(kb, k) for k in missing],
                     "missing_keys": [_key(kb, k, links) for k in missing], "machine": machine})
    return rows


def _key(kb, key: str, links: Links) -> dict:
    return {"key": key, "label": key_label(kb, key), "url": links.context_key(key)}


# ---------------------------------------------------------------- the verdict view (a `kb check` result)

def verdict_view(kb, result: dict, links: Links, trust=None) -> dict:
    """What the verdict card shows for one `kb check` object (a check on the page, or a statement's stored one).
    `trust` (kb.check.published.FlagTrust): a flag it finds tentative reads as one to verify, with why."""
    verdict = result.get("verdict")
    record = kb.verdicts.get(verdict) if verdict else None
    findings = result.get("findings", [])
    label = record.label if record else (verdict or "Not checked")
    tentative = trust is not None and trust.tentative(result)
    return {
        "verdict": verdict, "symbol": VERDICT_SYMBOLS.get(verdict, "!"),
        "label": tentative_label(label) if tentative else label,
        "tentative": tentative, "why": trust.why() if tentative else None,
        "definition": record.definition if record else "",
        "error": result.get("error"), "notices": result.get("notices", []),
        "matched": [finding_view(kb, f, links) for f in findings if f.get("tier") == "match"],
        "possible": [finding_view(kb, f, links) for f in findings if f.get("tier") == "suggest"],
        "links": {},
    }


def tentative_label(label: str) -> str:
    """'Missing context' -> 'Possibly missing context — check before relying on it': a flag below the confidence
    from which the checker's flags were measured right often enough to state them as verdicts."""
    return f"Possibly {label[:1].lower()}{label[1:]} — check before relying on it"


def finding_view(kb, finding: dict, links: Links) -> dict:
    finding = offered_rewrite(kb, finding)
    claim = kb.claims.get(finding.get("claim"))
    model, behaviour = kb.models.get(finding.get("model")), kb.behaviours.get(finding.get("behaviour"))
    return {
        "claim": claim.id if claim else None, "claim_url": links.claim(claim.id) if claim else None,
        "model": model.name if model else finding.get("model") or "an unnamed model",
        "behaviour": behaviour.label if behaviour else finding.get("behaviour") or "an unnamed behaviour",
        "value": format_value(claim) if claim else None,
        "number": number_view(finding, claim),
        "missing": [_missing(kb, claim, key) for key in finding.get("missing_context", [])],
        "problems": [{"kind": p.get("kind", ""), "label": p.get("kind", "").replace("_", " "), "detail": p.get("detail", "")}
                     for p in finding.get("problems", []) if p.get("kind") != "dropped_context"],
        "explanation": finding.get("explanation", ""), "suggestion": finding.get("suggestion", ""),
        "source": _finding_source(kb, claim, finding, links),
        "verification": verification(claim) if claim else None,
        "confidence": confidence_words(finding.get("confidence")) if finding.get("confidence") is not None else None,
    }


def number_view(finding: dict, claim) -> dict:
    """The number status in words, with the reported value written as the claim writes its own."""
    status, reported = finding.get("number"), finding.get("reported_value")
    metric = claim.metric if claim else None
    shown = format_number(reported, metric, finding.get("reported_bound")) if reported is not None else None
    return {"status": status, "words": number_words(status, claim, finding.get("reported_bound")), "reported": shown}


def _missing(kb, claim, key: str) -> dict:
    """A dropped condition: its name, what it means, and what it was for this claim."""
    context = kb.context.get(key)
    condition = kb.conditions_of(claim).get(key) if claim else None
    return {"key": key, "label": key_label(kb, key), "definition": context.definition if context else "",
            "here": condition.description if condition else None}


def finding_source(kb, claim, title: str | None):
    """The source a finding names by title: the claim's own, else the source of the claim its number is from."""
    own = kb.source_of(claim) if claim else None
    if own is not None and own.title == title:
        return own
    return next((s for s in kb.sources.values() if s.title == title), None) if title else None


def _finding_source(kb, claim, finding: dict, links: Links) -> dict | None:
    title = finding.get("source")
    if not title:
        return None
    source = finding_source(kb, claim, title)
    out = {"title": title, "locator": finding.get("locator", ""), "page_url": None, "url": None, "bibtex_url": None}
    if source is not None:
        out.update(page_url=links.source(source.id), url=source.url, bibtex_url=links.bibtex(source.id))
    return out
