"""Hand-written pages (site/*.md) with placeholders filled from the data at build time.

Prose is written by people; numbers are not. A hand-written page says `{{caveat:value o1card-oversight}}`
and gets the value from the knowledge base, linked to its context card and flagged when not verified.
Placeholders (an unknown name or id stops the build, naming the file):

    {{caveat:value CLAIM}}          the claim's value, linked to its card
    {{caveat:sentence CLAIM}}       its faithful one-sentence wording
    {{caveat:quote CLAIM}}          the source's sentence stating it
    {{caveat:condition SETTING KEY}} the source's words for one condition of a setting
    {{caveat:chart CHART}}          a chart (and its table) by chart id, e.g. SETTING-vs-SETTING
    {{caveat:counts}}               how much the knowledge base holds
    {{caveat:verdicts}}             the checker's verdicts, from vocabulary/verdicts.yaml
    {{caveat:data-model}}           the field tables, generated from kb.schema
    {{caveat:accuracy}}             the checker's measured accuracy on real statements, from evaluation/
    {{caveat:example-source}}       the source of that claim as YAML
    {{caveat:example-claim}}        a real claim and its setting as YAML
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from kb import schema
from kb.check.evaluate import GOALS as EVAL_GOALS
from kb.check.published import assertion_text
from kb.format import percent
from kb.publish.sitegen import markup
from kb.publish.sitegen.contrast_charts import chart_section
from kb.publish.sitegen.site_data import SiteError
from kb.schema_doc import schema_markdown
from kb.wording import faithful_sentence

PLACEHOLDER = re.compile(r"\{\{\s*caveat:([a-z-]+)((?:[ \t]+[^\s}]+)*)\s*\}\}")
EXAMPLE_CLAIM = "palisade-with-o3"
FIGURE_MEANING = {
    "flag_accuracy": "How often the checker's decision to flag a statement or let it pass matches the human label.",
    "claim_recall": "Of the claims the human labels say a statement reports, the share the checker found.",
    "missing_context_recall": "Of the conditions the human labels say a statement dropped, the share the checker flagged.",
    "false_alarm_rate": "How often the checker raised a flag that the human labels do not support.",
    "misstated_recall": "Of the statements the human labels call misstated, the share the checker called misstated.",
    "verdict_accuracy": "How often the checker's verdict (ok, missing_context, misstated, no_claim) is one the human "
                        "label accepts.",
}
FIGURE_WORDS = {"flag_accuracy": "Flag accuracy", "claim_recall": "Claim recall",
                "missing_context_recall": "Missing-context recall", "false_alarm_rate": "False alarms",
                "misstated_recall": "Misstated recall", "verdict_accuracy": "Verdict accuracy"}
# The project's goals, as `kb eval` writes them.
GOALS_TEXT = {name: f"{op} {goal}" for name, (op, goal) in EVAL_GOALS.items()}
GOAL = re.compile(r"^\s*(<=|>=|<|>|=)\s*([0-9.]+)\s*$")
OPERATORS = {"<=": "at most", ">=": "at least", "<": "below", ">": "above", "=": "exactly"}


def expand(site, page: str, source: str, charts: dict, filename: str) -> str:
    """The page with every placeholder replaced; SiteError (naming the file) for an unknown placeholder or id."""
    def replace(match):
        name, args = match.group(1), match.group(2).split()
        handler = HANDLERS.get(name)
        if handler is None:
            raise SiteError(f"{filename}: unknown placeholder '{{{{caveat:{name}}}}}'; known: {', '.join(sorted(HANDLERS))}")
        try:
            return handler(site, page, charts, *args)
        except _Unknown as exc:
            raise SiteError(f"{filename}: placeholder '{match.group(0)}': {exc}") from None
        except TypeError:
            raise SiteError(f"{filename}: placeholder '{match.group(0)}' has the wrong number of arguments; "
                            f"see kb/publish/sitegen/handwritten.py") from None
    return PLACEHOLDER.sub(replace, source)


class _Unknown(Exception):
    """An id in a placeholder that the data does not have."""


def _lookup(records: dict, key: str, what: str, where: str):
    if key not in records:
        raise _Unknown(f"unknown {what} '{key}'; {what}s are listed in {where}")
    return records[key]


def _claim(site, claim_id):
    return _lookup(site.kb.claims, claim_id, "claim", "claims/ (and on the All claims page)")


def _value(site, page, charts, claim_id):
    return site.value_cell(_claim(site, claim_id), page)


def _sentence(site, page, charts, claim_id):
    return markup.text(faithful_sentence(site.kb, _claim(site, claim_id)))


def _quote(site, page, charts, claim_id):
    claim = _claim(site, claim_id)
    if not claim.quote:
        raise _Unknown(f"claim {claim_id} has no quote")
    return markup.text(claim.quote)


def _condition(site, page, charts, setting_id, key):
    setting = _lookup(site.kb.settings, setting_id, "setting", "the settings in claims/")
    condition = _lookup(setting.conditions or {}, key, "condition", f"setting {setting_id}'s conditions")
    return markup.text(condition.quote or condition.description)


def _chart(site, page, charts, chart_id):
    return chart_section(site, _lookup(charts, chart_id, "chart", "the Charts page (chart-<id> anchors)"), page)


def _counts(site, page, charts):
    kb = site.kb
    return (f"{len(kb.sources)} sources, {len(kb.settings)} settings (sets of experimental conditions), "
            f"{len(kb.claims)} claims and {len(kb.statements)} public statements")


def _verdicts(site, page, charts):
    rows = [[f"`{v.id}`", markup.text(v.label), markup.text(v.definition)] for v in site.kb.verdicts.values()]
    return markup.table(["Verdict", "Name", "When it is given"], rows)


def _data_model(site, page, charts):
    return schema_markdown(level=3)


def _accuracy(site, page, charts):
    """The checker's figures on real statements it was not fitted on, and two annotators' agreement, each dated: from
    the committed evaluation/ files (kb.check.published), never from invented or training sets."""
    data = site.evaluation or {}
    rows = []
    cv, locked, agreement = data.get("cv"), data.get("locked"), data.get("agreement")
    if cv:
        rows.append((f"Checker, cross-validated ({markup.text(cv.get('date'))})", cv))
    if locked:
        rows.append((f"Checker, locked test fold ({markup.text(locked.get('date'))}, "
                     f"commit {markup.text(locked.get('commit'))})", locked))
    if agreement:
        dated = f" ({markup.text(agreement['date'])})" if agreement.get("date") else ""
        rows.append((f"Two annotators, against each other{dated}", agreement))
    if not rows:
        return ("No measurement has been committed yet: `kb eval --cv --save evaluation/cv.json`, `kb eval --locked` "
                "and `kb eval --agreement --save evaluation/agreement.json` write the figures this section shows.\n")
    names = [n for n in FIGURE_WORDS if n != "verdict_accuracy"]
    table = [["Goal", "", *[_goal(GOALS_TEXT.get(n)) for n in names]]]
    table += [[label, markup.text(entry.get("statements", "?")),
               *[_figure((entry.get("figures") or {}).get(n)) for n in names]] for label, entry in rows]
    kappa = (agreement or {}).get("kappa")
    note = (f" The two annotators' Cohen's kappa over the verdict is {kappa:.2f}." if kappa is not None else "")
    meanings = "".join(f"- **{FIGURE_WORDS[n]}**: {markup.text(FIGURE_MEANING.get(n, ''))}\n" for n in names)
    return (markup.table(["Measured on", "Statements", *[FIGURE_WORDS[n] for n in names]], table)
            + f"\nThe human row is the ceiling: a second annotator, labelling blind under the same guide, scored against "
              f"the first.{note}\n\n" + _flags_to_verify(cv) + meanings)


def _flags_to_verify(cv: dict | None) -> str:
    """A paragraph: from which confidence the check page states a flag as a verdict (kb.check.published)."""
    if not cv:
        return ""
    return markup.text(assertion_text(cv.get("assert_from"), cv.get("tentative_flag_precision"))) + "\n\n"


def _figure(value) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1:
        return percent(value)
    return markup.text(value) if value is not None else "—"


def _goal(goal) -> str:
    """'>= 0.9' (as `kb eval` writes a goal) -> 'at least 90%'."""
    match = GOAL.match(goal) if isinstance(goal, str) else None
    if match:
        return f"{OPERATORS[match.group(1)]} {percent(float(match.group(2)))}"
    return _figure(goal)


def _example(site):
    return site.kb.claims.get(EXAMPLE_CLAIM) or next(iter(site.kb.claims.values()))


def _example_source(site, page, charts):
    source = site.kb.source_of(_example(site))
    record = _record(schema.SOURCE, source)
    record.pop("id")  # a source's id is its file name
    text = yaml.safe_dump(record, sort_keys=False, allow_unicode=True, width=100)
    return f"From `{source.file}`:\n\n" + markup.code_block(text, "yaml")


def _example_claim(site, page, charts):
    claim = _example(site)
    setting = site.kb.settings[claim.setting]
    document = {"source": site.kb.claim_sources.get(claim.id), "settings": [_record(schema.SETTING, setting)],
                "claims": [_record(schema.CLAIM, claim)]}
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    return f"From `{claim.file}` (claim `{claim.id}`, shortened to one setting and one claim):\n\n" + markup.code_block(text, "yaml")


def _record(rtype, record) -> dict:
    """A record as the YAML a curator writes: schema field order, empty fields left out."""
    out = {}
    for f in rtype.fields:
        value = getattr(record, f.name, None)
        if value is None or value == [] or value == {}:
            continue
        if f.kind == "mapping":
            value = {k: _record(schema.CONDITION, v) for k, v in value.items()}
        elif f.kind == "records":
            value = [_record(schema.RECORD_TYPES[f.target], v) for v in value]
        out[f.name] = value
    out.pop("key", None)  # a condition's key is the mapping key it sits under
    return out


def _check_how(site, page, charts):
    """How to run the checker, always both ways: the check page's address and the command."""
    url = markup.html_text(site.check_url)
    # No host or port here: the site is served by `kb serve` on whatever address it was given, or by another host
    # (mkdocs.yml's extra.caveat.check_url); a link relative to where the page is read always finds it.
    return (f'Paste your draft into the check page, <a href="{url}"><code>{url}</code></a> on the server that shows '
            f'this site (<code>make run</code> or <code>kb serve</code> serve both) — or run '
            f'<code>kb check "your sentence"</code> in a terminal (<code>kb check --help</code> lists the options).')


HANDLERS = {"check-how": _check_how, "value": _value, "sentence": _sentence, "quote": _quote, "condition": _condition, "chart": _chart,
            "counts": _counts, "verdicts": _verdicts, "data-model": _data_model, "accuracy": _accuracy, "example-source": _example_source, "example-claim": _example_claim}
