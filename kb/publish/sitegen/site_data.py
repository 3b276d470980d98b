"""What every page family needs: the knowledge base, the claim graph, the checker's verdicts, and where pages live.

Page paths are docs-relative Markdown paths; with `use_directory_urls` they become the permalinks
`claims/<claim-id>/`, `sources/<source-id>/`, `models/<model-id>/` and `behaviours/<behaviour-id>/`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from kb.format import format_value
from kb.publish.sitegen import markup

HOME, LEDGER, CONDITIONS, CHARTS, TAGS = "index.md", "ledger.md", "conditions.md", "charts.md", "tags.md"
CLAIMS_INDEX, SOURCES_INDEX = "claims/index.md", "sources/index.md"
CHECK_URL = "/-/check"  # `kb serve` serves the check page here, next to the site under /site/
MODELS_INDEX, BEHAVIOURS_INDEX = "models/index.md", "behaviours/index.md"


@dataclass
class SiteData:
    kb: object
    graph: object
    machine: dict = field(default_factory=dict)  # statement id -> checker_data.MachineVerdict
    evaluation: dict | None = None  # the committed figures (kb.check.published), when there are any
    check_url: str = CHECK_URL  # where the check page is (mkdocs.yml: extra.caveat.check_url); a static host can change it
    scans: dict = field(default_factory=dict)  # claim id -> [(week, mentions, flagged, {key: share})] (kb build --scan)

    # ------------------------------------------------------------ where pages live
    @staticmethod
    def card_page(claim_id: str) -> str:
        return f"claims/{claim_id}.md"

    @staticmethod
    def source_page(source_id: str) -> str:
        return f"sources/{source_id}.md"

    @staticmethod
    def model_page(model_id: str) -> str:
        return f"models/{model_id}.md"

    @staticmethod
    def behaviour_page(behaviour_id: str) -> str:
        return f"behaviours/{behaviour_id}.md"

    def setting_target(self, setting_id: str) -> tuple[str, str]:
        """(page, anchor) of a setting: a section of its source's page."""
        return self.source_page(self.kb.setting_sources.get(setting_id, "")), f"setting-{setting_id}"

    # ------------------------------------------------------------ lookups
    @cached_property
    def setting_position(self) -> dict:
        """setting id -> its place in declaration order (the order contrasts put side by side follow)."""
        return {setting_id: position for position, setting_id in enumerate(self.kb.settings)}

    def model_name(self, model_id: str) -> str:
        model = self.kb.models.get(model_id)
        return model.name if model else model_id

    def behaviour_label(self, behaviour_id: str) -> str:
        behaviour = self.kb.behaviours.get(behaviour_id)
        return behaviour.label if behaviour else behaviour_id

    def key_label(self, key: str) -> str:
        if key == "source":
            return "Source"
        context = self.kb.context.get(key)
        return context.label if context else key

    # ------------------------------------------------------------ shared Markdown pieces
    def key_link(self, key: str, from_page: str) -> str:
        if key not in self.kb.context:
            return markup.text(self.key_label(key))
        return markup.link(markup.text(self.key_label(key)), markup.relative(from_page, CONDITIONS, f"key-{key}"))

    def value_cell(self, claim, from_page: str, bold: bool = True) -> str:
        """The value linked to its context card, with a flag when it is not verified."""
        shown = markup.text(format_value(claim))
        if bold:
            # A figure stays on one line (site CSS); a claim with no single number shows the source's sentence,
            # which must wrap, or it stretches the table's column (the ledger's Value column was 746 px wide).
            shown = f"**{shown}**" if claim.value is not None else f"**{shown}**{{.caveat-wrap}}"
        return markup.link(shown, markup.relative(from_page, self.card_page(claim.id))) + markup.status_flag(claim)

    def source_words(self, claim) -> str:
        """The source's own wording of the value, shown next to ours."""
        return markup.text(claim.value_text)

    def key_conditions_cell(self, claim) -> str:
        """'Strong goal nudge: strong; Constructed test: sandbox' — the key conditions, next to the number."""
        conditions = self.kb.conditions_of(claim)
        parts = [f"{markup.text(self.key_label(k))}: {markup.text(conditions[k].value)}"
                 for k in dict.fromkeys(claim.key_context or []) if k in conditions]
        return "; ".join(parts) or "—"

    def source_title(self, source_id: str) -> str:
        source = self.kb.sources.get(source_id)
        return source.title if source else source_id


class SiteError(Exception):
    """A problem in the site's hand-written pages (an unknown placeholder or id); the message says which file."""
