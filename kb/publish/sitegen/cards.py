"""Context cards: one page per claim at claims/<claim-id>/ (a permalink: claim ids never change).

A card answers "what exactly does this number say?": the faithful sentence, the key conditions in plain
words, every condition of the setting, the source with locator and quote, verification status, contrasts
side by side, how the claim has been reported, and a BibTeX entry.
"""

from __future__ import annotations

from kb.format import format_value
from kb.graph import neighbourhood, node_id
from kb.publish.bibtex import bibtex_entry
from kb.publish.svg import graph_svg
from kb.publish.sitegen import markup
from kb.publish.sitegen.changelog import CHANGELOG, change_cells
from kb.publish.sitegen.diagrams import graph_href
from kb.publish.sitegen.ledger import dropped_keys, human_verdict, machine_line
from kb.publish.sitegen.site_data import CLAIMS_INDEX, LEDGER
from kb.wording import faithful_sentence


def card_pages(site) -> dict[str, str]:
    """docs path -> Markdown, for every claim and the claims index."""
    pages = {site.card_page(cid): card(site, claim) for cid, claim in sorted(site.kb.claims.items())}
    pages[CLAIMS_INDEX] = claims_index(site)
    return pages


def card_tags(site, claim) -> list[str]:
    source_id = site.kb.claim_sources.get(claim.id)
    return [markup.tag("model", site.model_name(claim.model)), markup.tag("behaviour", site.behaviour_label(claim.behaviour)),
            markup.tag("source", site.source_title(source_id)), markup.tag("status", claim.verification)]


def card(site, claim) -> str:
    page = site.card_page(claim.id)
    title = f"{site.model_name(claim.model)} · {site.behaviour_label(claim.behaviour)} · {site.kb.settings[claim.setting].label}"
    parts = [markup.front_matter(tags=card_tags(site, claim)), f"# {markup.text(title)}\n\n",
             f"Claim `{claim.id}` · permanent link: `claims/{claim.id}/`\n\n",
             markup.status_admonition(claim), _faithful(site, claim), _number(site, claim, page),
             _key_conditions(site, claim, page), _setting(site, claim, page), _source(site, claim, page),
             _contrasts(site, claim, page), _reported(site, claim, page), corrections(site, claim, page),
             _bibtex(site, claim), _diagram(site, claim, page)]
    return "".join(parts)


def corrections(site, claim, page) -> str:
    """The claim's own entries in the data changelog (changes.yaml), oldest first."""
    changes = site.kb.changes_by_claim.get(claim.id, [])
    head = "## Corrections\n\n"
    if not changes:
        return head + f"None recorded ({markup.link('data changelog', markup.relative(page, CHANGELOG))}).\n\n"
    rows = [[markup.text(c.date), *change_cells(site, c, page)] for c in changes]
    return (head + markup.table(["Date", "Field", "Was", "Now", "Why", "Source"], rows)
            + f"\nAll corrections: {markup.link('data changelog', markup.relative(page, CHANGELOG))}.\n\n")


def _faithful(site, claim) -> str:
    sentence = markup.text(faithful_sentence(site.kb, claim))
    return f'!!! success "Say it like this"\n\n    {sentence}\n\n'


def _number(site, claim, page) -> str:
    facts = [("Value", f"**{markup.text(format_value(claim))}**{markup.status_flag(claim)}"),
             ("As the source writes it", site.source_words(claim)),
             ("What was measured", markup.text(claim.measure)),
             ("Kind of number", f"{markup.text(claim.metric)}: {markup.text(markup.METRIC_MEANING.get(claim.metric, ''))}")]
    if claim.denominator or claim.n is not None:
        facts.append(("Out of", markup.text(claim.denominator or f"{claim.n} runs")))
    facts += [("Model", markup.link(markup.text(site.model_name(claim.model)), markup.relative(page, site.model_page(claim.model)))),
              ("Model as the source names it", markup.text(claim.model_tested or "not stated")),
              ("Behaviour", markup.link(markup.text(site.behaviour_label(claim.behaviour)),
                                        markup.relative(page, site.behaviour_page(claim.behaviour)))),
              ("Verification", _verification(claim)),
              ("Rank", f"{markup.text(claim.rank)}: {markup.text(markup.RANK_MEANING.get(claim.rank, ''))}")]
    if claim.notes:
        facts.append(("Notes", markup.text(claim.notes)))
    return "## The number\n\n" + "".join(f"- **{name}:** {value}\n" for name, value in facts) + "\n"


def _verification(claim) -> str:
    text = f"{markup.text(claim.verification)}: {markup.text(markup.STATUS_MEANING.get(claim.verification, ''))}"
    text = f"**⚠ {text}**" if claim.verification != "verified" else text
    return text + (f" ({markup.text(claim.verification_note)})" if claim.verification_note else "")


def _key_conditions(site, claim, page) -> str:
    lines = [f"- **{site.key_link(key, page)}**: {markup.text(_key_meaning(site, claim, key))}"
             for key in dict.fromkeys(claim.key_context or [])]
    if not lines:
        lines = ["- The source states no conditions a report must keep for this claim."]
    intro = "A reader who does not know these would misread the number.\n\n"
    return "## Key conditions\n\n" + intro + "\n".join(lines) + "\n\n"


def _key_meaning(site, claim, key: str) -> str:
    """The setting's description of the condition; for keys the number itself carries (how often, of which
    runs, accuracy drop), what kind of number it is and what it counts."""
    condition = site.kb.conditions_of(claim).get(key)
    if condition is not None:
        return condition.description
    context = site.kb.context.get(key)
    if context is not None and context.scope == "claim" and claim.value is None:
        return f"The source gives no single number: {claim.value_text}"
    if context is not None and context.scope == "claim":
        counted = f" ({claim.denominator})" if claim.denominator else (f" (out of {claim.n} runs)" if claim.n else "")
        return f"{format_value(claim)} is {markup.METRIC_MEANING.get(claim.metric, claim.metric)}{counted}"
    return context.definition if context else ""


def _setting(site, claim, page) -> str:
    setting = site.kb.settings[claim.setting]
    target = markup.relative(page, *site.setting_target(setting.id))
    rows = [[site.key_link(key, page), markup.text(c.value), markup.text(c.description),
             f"“{markup.text(c.quote)}”" if c.quote else ""] for key, c in (setting.conditions or {}).items()]
    body = (f"Measured under {markup.link(markup.text(setting.label), target)}: {markup.text(setting.description)}\n\n"
            + markup.table(["Condition", "Value", "What it was", "The source's words"], rows))
    if setting.notes:
        body += f"\n{markup.text(setting.notes)}\n"
    return "## All conditions of this setting\n\n" + body + "\n"


def _source(site, claim, page) -> str:
    source = site.kb.source_of(claim)
    lines = [f"- {markup.link(markup.text(source.title), markup.relative(page, site.source_page(source.id)))}",
             f"- By {markup.text(source.authors)}, {markup.text(source.date)} ({markup.text(source.kind)})",
             f"- Where: {markup.text(claim.locator)}"]
    if source.url:
        lines.append(f"- Read it: {markup.external_link(source.url)}")
    quote = f"\n{markup.quote_block(claim.quote)}" if claim.quote else "\nNo sentence from the source is recorded for this claim.\n"
    return "## Source\n\n" + "\n".join(lines) + "\n" + quote + "\n"


def _contrasts(site, claim, page) -> str:
    rows = []
    for other_id, differs_by, note in site.kb.contrasts_of(claim.id):
        other = site.kb.claims[other_id]
        rows.append([site.key_link(differs_by, page), contrast_side(site, claim, differs_by, page, source_words=True),
                     contrast_side(site, other, differs_by, page, source_words=True), markup.text(note or "")])
    if not rows:
        return ""
    return ("## Compared with\n\nThe same measurement with one thing changed, side by side.\n\n"
            + markup.table(["Differs by", "This claim", "The other claim", "Note"], rows) + "\n")


def contrast_side(site, claim, differs_by, page, source_words: bool = False) -> str:
    """'strong: **5%**' — the condition that differs (or the source), then the value linked to its card, and with
    `source_words` the source's own wording of it."""
    if differs_by == "source":
        what = site.source_title(site.kb.claim_sources.get(claim.id))
    else:
        condition = site.kb.conditions_of(claim).get(differs_by)
        what = condition.value if condition is not None else "not stated"
    cell = f"{markup.text(what)}: {site.value_cell(claim, page)}"
    return cell + (f" ({markup.text(claim.value_text)})" if source_words else "")


def _reported(site, claim, page) -> str:
    statements = site.kb.statements_by_claim.get(claim.id, [])
    if not statements:
        return "## How it has been reported\n\nNo statement in the [discourse ledger](" + markup.relative(page, LEDGER) + \
            ") reports this claim yet.\n\n"
    blocks = [_statement_block(site, s, page, claim.id) for s in statements]
    return "## How it has been reported\n\n" + "\n".join(blocks) + "\n"


def _statement_block(site, statement, page, claim_id: str) -> str:
    anchor = markup.relative(page, LEDGER, f"statement-{statement.id}")
    head = f"- **{markup.text(statement.who)}**, {markup.text(statement.date or 'undated')} ({markup.link('ledger entry', anchor)})"
    lines = [head, f"    - Verdict (human label): {human_verdict(statement)}",
             f"    - Dropped: {dropped_keys(site, statement, page)}"]
    machine = machine_line(site, statement, page, claim_id)
    if machine:
        lines.append(f"    - {machine}")
    lines.append(f"    - Said: “{markup.text(statement.text)}”")
    return "\n".join(lines) + "\n"


def _bibtex(site, claim) -> str:
    return "## Cite the source\n\n" + markup.code_block(bibtex_entry(site.kb.source_of(claim)), "bibtex") + "\n"


def _diagram(site, claim, page) -> str:
    center = node_id("claim", claim.id)
    svg = graph_svg(neighbourhood(site.graph, center), center=center, href=graph_href(site, page),
                    title=f"Claim graph around {claim.id}")
    return ("## Where it sits in the claim graph\n\nWho reported it, the claim and its contrasts, what it depends on, "
            "where it comes from. Boxes are links.\n\n" + markup.raw_html_block(svg, "caveat-diagram") + "\n")


def claims_index(site) -> str:
    page = CLAIMS_INDEX
    parts = ["# All claims\n\n", f"{len(site.kb.claims)} claims, grouped by source. Each links to its context card.\n\n"]
    for source_id, source in sorted(site.kb.sources.items()):
        claims = site.kb.claims_by_source.get(source_id, [])
        if not claims:
            continue
        parts.append(f"## {markup.text(source.title)}\n\n")
        rows = [[markup.link(f"`{c.id}`", markup.relative(page, site.card_page(c.id))), markup.text(site.model_name(c.model)),
                 markup.text(site.behaviour_label(c.behaviour)), site.value_cell(c, page),
                 markup.text(site.kb.settings[c.setting].label)] for c in claims]
        parts.append(markup.table(["Claim", "Model", "Behaviour", "Value", "Conditions (setting)"], rows) + "\n")
    return "".join(parts)
