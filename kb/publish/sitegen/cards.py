"""Context cards: one page per claim at claims/<claim-id>/ (a permalink: claim ids never change).

A card answers "what exactly does this number say?": the faithful sentence, the key conditions in plain
words, every condition of the setting, the source with locator and quote, verification status, contrasts
side by side, how the claim has been reported, and a BibTeX entry.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from kb.graph import neighbourhood, node_id
from kb.publish import views
from kb.publish.bibtex import bibtex_entry
from kb.publish.svg import graph_svg
from kb.publish.sitegen import markup
from kb.publish.sitegen.changelog import CHANGELOG
from kb.publish.sitegen.diagrams import graph_href
from kb.publish.sitegen.site_data import CLAIMS_INDEX, CONDITIONS, LEDGER


def card_pages(site) -> dict[str, str]:
    """docs path -> Markdown, for every claim and the claims index."""
    pages = {site.card_page(cid): card(site, claim) for cid, claim in sorted(site.kb.claims.items())}
    pages[CLAIMS_INDEX] = claims_index(site)
    return pages


def card_tags(site, claim) -> list[str]:
    source_id = site.kb.claim_sources.get(claim.id)
    return [markup.tag("model", site.model_name(claim.model)), markup.tag("behaviour", site.behaviour_label(claim.behaviour)),
            markup.tag("source", site.source_title(source_id)), markup.tag("status", claim.verification)]


class SiteLinks:
    """views.Links for the site: relative .md paths from `page` (mkdocs turns them into directory URLs)."""

    def __init__(self, site, page: str):
        self.site, self.page = site, page

    def _to(self, target: str, anchor: str = "") -> str:
        return markup.relative(self.page, target, anchor)

    def claim(self, claim_id):
        return self._to(self.site.card_page(claim_id))

    def source(self, source_id):
        return self._to(self.site.source_page(source_id))

    def model(self, model_id):
        return self._to(self.site.model_page(model_id))

    def behaviour(self, behaviour_id):
        return self._to(self.site.behaviour_page(behaviour_id))

    def setting(self, setting_id):
        return self._to(*self.site.setting_target(setting_id))

    def context_key(self, key):
        return self._to(CONDITIONS, f"key-{key}") if key in self.site.kb.context else None

    def statement(self, statement_id):
        return self._to(LEDGER, f"statement-{statement_id}")

    def graph(self, claim_id):
        return None  # the card draws its graph itself

    def bibtex(self, source_id):
        return None  # the card shows the entry itself

    def check(self):
        return self.site.check_url


TEMPLATES = Environment(loader=FileSystemLoader(str(Path(__file__).resolve().parents[1] / "templates" / "site")),
                        autoescape=False, keep_trailing_newline=True, undefined=StrictUndefined)
TEMPLATES.filters["md"] = markup.text


def card(site, claim) -> str:
    """The claim's context card: its view (kb.publish.views, as Datasette's claim page) rendered as Markdown."""
    page = site.card_page(claim.id)
    view = views.claim_view(site.kb, claim, SiteLinks(site, page), site_verdicts(site))

    def keylink(key: dict) -> str:
        return markup.link(markup.text(key["label"]), key["url"]) if key.get("url") else markup.text(key["label"])

    def side(row: dict, which: str) -> str:
        return contrast_side(site, site.kb.claims[row[which]["id"]], row["differs_by"], page, source_words=True)

    return TEMPLATES.get_template("claim.md").render(
        c=view, front_matter=markup.front_matter(tags=card_tags(site, claim)), keylink=keylink, side=side,
        flag=markup.status_flag_of, external=markup.external_link, ledger_url=markup.relative(page, LEDGER),
        changelog_url=markup.relative(page, CHANGELOG),
        bibtex=markup.code_block(bibtex_entry(site.kb.source_of(claim)), "bibtex"),
        diagram=_diagram(site, claim, page))


def site_verdicts(site) -> dict:
    """The checker's stored verdicts as the claim view takes them (statement id -> verdict, flagged keys per claim)."""
    return {sid: {"verdict": m.verdict, "agrees": None, "missing_by_claim": m.missing_by_claim}
            for sid, m in site.machine.items()}


def contrast_side(site, claim, differs_by, page, source_words: bool = False) -> str:
    """'strong: **5%**' — the condition that differs (or the source), then the value linked to its card, and with
    `source_words` the source's own wording of it (the words come from views.contrast_side, as on Datasette)."""
    side = views.contrast_side(site.kb, claim, differs_by, SiteLinks(site, page))
    cell = f"{markup.text(side['what'])}: {site.value_cell(claim, page)}"
    return cell + (f" ({markup.text(side['value_text'])})" if source_words else "")


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
