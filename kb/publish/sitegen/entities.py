"""One page per model (models/<id>/) and per behaviour (behaviours/<id>/), plus their indexes and the
glossary of conditions (context keys) that every other page links to.
"""

from __future__ import annotations

from kb.publish.sitegen import markup
from kb.publish.sitegen.site_data import BEHAVIOURS_INDEX, CONDITIONS, MODELS_INDEX


def entity_pages(site) -> dict[str, str]:
    pages = {site.model_page(mid): model_page(site, m) for mid, m in sorted(site.kb.models.items())}
    pages |= {site.behaviour_page(bid): behaviour_page(site, b) for bid, b in sorted(site.kb.behaviours.items())}
    pages[MODELS_INDEX] = _index(site, "Models", "The AI models that claims are about.", site.kb.models, "model")
    pages[BEHAVIOURS_INDEX] = _index(site, "Behaviours", "The kinds of behaviour the evaluations measure.",
                                     site.kb.behaviours, "behaviour")
    pages[CONDITIONS] = conditions_page(site)
    return pages


def _claims_table(site, claims, page, first_column: str) -> str:
    """Every claim with its value, its key conditions and its setting: numbers never travel alone."""
    name = {"model": lambda c: site.behaviour_label(c.behaviour), "behaviour": lambda c: site.model_name(c.model)}[first_column]
    ordered = sorted(claims, key=lambda c: (name(c), site.source_title(site.kb.claim_sources.get(c.id)), c.id))
    rows = [[markup.text(name(c)), markup.text(c.measure), site.value_cell(c, page), site.key_conditions_cell(c),
             markup.link(markup.text(site.kb.settings[c.setting].label), markup.relative(page, *site.setting_target(c.setting))),
             markup.link(markup.text(site.source_title(site.kb.claim_sources.get(c.id))),
                         markup.relative(page, site.source_page(site.kb.claim_sources.get(c.id))))] for c in ordered]
    header = "Behaviour" if first_column == "model" else "Model"
    return markup.table([header, "Measure", "Value", "Key conditions", "Setting", "Source"], rows)


def model_page(site, model) -> str:
    page = site.model_page(model.id)
    claims = [c for c in site.kb.claims.values() if c.model == model.id]
    facts = [f"- **Developer:** {markup.text(model.developer or 'not stated')}"]
    facts += [f"- **Also called:** {markup.text(', '.join(model.aliases))}"] if model.aliases else []
    facts += [f"- **Note:** {markup.text(model.note)}"] if model.note else []
    body = _claims_table(site, claims, page, "model") if claims else "No claims about this model yet.\n"
    return (f"# {markup.text(model.name)}\n\n" + "\n".join(facts) + "\n\n"
            + f"## Claims about {markup.text(model.name)}\n\n{len(claims)} claims. Each number holds only under the "
            "conditions next to it; the value links to the full context card.\n\n" + body)


def behaviour_page(site, behaviour) -> str:
    page = site.behaviour_page(behaviour.id)
    claims = [c for c in site.kb.claims.values() if c.behaviour == behaviour.id]
    facts = [f"**What counts:** {markup.text(behaviour.definition)}"]
    facts += [f"**Note:** {markup.text(behaviour.note)}"] if behaviour.note else []
    body = _claims_table(site, claims, page, "behaviour") if claims else "No claims about this behaviour yet.\n"
    return (f"# {markup.text(behaviour.label)}\n\n" + "\n\n".join(facts) + "\n\n"
            + f"## Claims\n\n{len(claims)} claims, by model.\n\n" + body)


def _index(site, title, intro, records, kind) -> str:
    page = MODELS_INDEX if kind == "model" else BEHAVIOURS_INDEX
    target = site.model_page if kind == "model" else site.behaviour_page
    counts = {rid: 0 for rid in records}
    for claim in site.kb.claims.values():
        rid = claim.model if kind == "model" else claim.behaviour
        counts[rid] = counts.get(rid, 0) + 1
    rows = []
    for rid, record in sorted(records.items(), key=lambda kv: (getattr(kv[1], "name", None) or kv[1].label).lower()):
        name = record.name if kind == "model" else record.label
        extra = (record.developer or "") if kind == "model" else record.definition
        rows.append([markup.link(markup.text(name), markup.relative(page, target(rid))), markup.text(extra), str(counts[rid])])
    column = "Developer" if kind == "model" else "What counts"
    return f"# {title}\n\n{intro}\n\n" + markup.table([title[:-1], column, "Claims"], rows)


def conditions_page(site) -> str:
    """The glossary of context keys: what each condition is and when a statement counts as keeping it."""
    parts = ["# The conditions that matter\n\n",
             "A number from an evaluation holds only under the conditions it was measured under. These are the kinds of "
             "condition the knowledge base records (its *context keys*). A claim's **key conditions** are the ones a "
             "faithful report must keep.\n\n"]
    for key, context in site.kb.context.items():
        parts.append(f"## {markup.text(context.label)} {{#key-{key}}}\n\n")
        parts.append(f"`{key}` · {'a condition of the experiment' if context.scope == 'setting' else 'conveyed by the number itself'}\n\n")
        parts.append(f"{markup.text(context.definition)}\n\n")
        if context.present_when:
            parts.append(f"**A report keeps it when:** {markup.text(context.present_when)}\n\n")
        if context.phrase:
            parts.append(f"**Words a faithful report can use:** “{markup.text(context.phrase)}”\n\n")
        if context.note:
            parts.append(f"**Note:** {markup.text(context.note)}\n\n")
    return "".join(parts)
