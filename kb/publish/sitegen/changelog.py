"""The data changelog: changelog.md lists every correction to a published claim, newest first; each claim's card
lists its own (the claim view's `corrections`, kb.publish.views).

A correction is never silent: its date, the field, the old and new values, why, and the source it rests on.
"""

from __future__ import annotations

from kb.publish.sitegen import markup

CHANGELOG = "changelog.md"

INTRO = ("Every correction to a published claim, newest first: which field changed, from what to what, why, and the "
         "source the correction rests on. A claim's own card lists its corrections too. To see which checked "
         "statements a correction re-judges, compare two builds with `kb diff OLD.db NEW.db`.\n\n")


def changelog_page(site) -> dict[str, str]:
    changes = sorted(site.kb.changes, key=lambda c: c.date or "", reverse=True)  # stable: file order within a day
    parts = [markup.front_matter(title="Data changelog"), "# Data changelog\n\n", INTRO]
    if not changes:
        parts.append("No corrections yet.\n")
        return {CHANGELOG: "".join(parts)}
    claims = len({c.claim for c in changes})
    parts.append(f"{len(changes)} corrections to {claims} claims.\n\n")
    rows = [[markup.text(c.date), _claim_link(site, c.claim), *change_cells(site, c, CHANGELOG)] for c in changes]
    parts.append(markup.table(["Date", "Claim", "Field", "Was", "Now", "Why", "Source"], rows))
    return {CHANGELOG: "".join(parts)}


def change_cells(site, change, page: str) -> list[str]:
    """Field, old, new, why, source (with locator) as Markdown cells, for the changelog and a claim's card."""
    source = markup.link(markup.text(site.source_title(change.source)), markup.relative(page, site.source_page(change.source)))
    if change.locator:
        source += f", {markup.text(change.locator)}"
    # A code span shows its text as written (Markdown escapes it; backslashes would show), so the field name goes in
    # bare, less any backtick; validation allows only claim fields, conditions.<context key> and 'claim' anyway.
    field = "(claim added)" if change.field == "claim" else f"`{change.field.replace('`', '')}`"
    return [field, markup.text(change.old or "—"), markup.text(change.new or "—"), markup.text(change.why), source]


def _claim_link(site, claim_id: str) -> str:
    return markup.link(f"`{markup.text(claim_id)}`", markup.relative(CHANGELOG, site.card_page(claim_id)))
