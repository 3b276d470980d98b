"""The explainer site's page generator: Markdown from the knowledge base, one module per page family.

    cards            claims/<id>.md      context cards, and the claims index
    sources          sources/<id>.md     results tables, contrasts, charts and claim graph per source
    entities         models/, behaviours/ and the conditions glossary
    ledger           ledger.md           statements, verdicts, distortion statistics
    contrast_charts  charts.md           charts chosen from the contrasts in the data
    changelog        changelog.md        every correction to a published claim (changes.yaml)
    handwritten      site/*.md           hand-written pages with placeholders filled from the data

The output is plain Markdown with YAML front matter, so the site engine (mkdocs today) can change
without touching this package. Same data, same bytes: everything is sorted, nothing is timestamped.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from kb.graph import build_graph
from kb.publish.sitegen.cards import card_pages
from kb.publish.sitegen.changelog import changelog_page
from kb.check.published import published_in
from kb.publish.sitegen.checker_data import machine_verdicts
from kb.publish.sitegen.contrast_charts import charts_page, contrast_charts
from kb.publish.sitegen.entities import entity_pages
from kb.publish.sitegen.handwritten import expand
from kb.publish.sitegen.ledger import ledger_page
from kb.publish.sitegen.site_data import SiteData, SiteError
from kb.publish.sitegen.sources import source_pages

HANDWRITTEN = "site"

__all__ = ["SiteData", "SiteError", "generate_pages", "generated_pages", "site_data"]


def site_data(knowledge_base, db_path: Path | None = None, eval_path: Path | None = None) -> SiteData:
    from kb.scan.store import claim_weeks

    return SiteData(knowledge_base, build_graph(knowledge_base), machine_verdicts(db_path) if db_path else {},
                    published_in(eval_path) if eval_path else None, scans=claim_weeks(db_path) if db_path else {})


def generated_pages(site: SiteData, charts: list) -> dict[str, str]:
    """docs path -> Markdown for every generated page."""
    pages: dict[str, str] = {}
    for family in (card_pages(site), source_pages(site, charts), entity_pages(site), ledger_page(site),
                   charts_page(site, charts), changelog_page(site)):
        clash = pages.keys() & family.keys()
        if clash:
            raise SiteError(f"two page families both generate {sorted(clash)}")
        pages.update(family)
    return pages


def generate_pages(root: Path, docs_dir: Path, site: SiteData) -> list[Path]:
    """Copy site/ to docs_dir (emptied first), fill its placeholders, then write the generated pages next to it."""
    root, docs_dir = Path(root), Path(docs_dir)
    if docs_dir.exists():
        shutil.rmtree(docs_dir)
    shutil.copytree(root / HANDWRITTEN, docs_dir)
    charts = contrast_charts(site.kb)
    by_id = {c.id: c for c in charts}
    for path in sorted(docs_dir.rglob("*.md")):
        page = path.relative_to(docs_dir).as_posix()
        text = path.read_text(encoding="utf-8")
        path.write_text(expand(site, page, text, by_id, f"{HANDWRITTEN}/{page}"), encoding="utf-8", newline="\n")
    written = []
    for page, text in sorted(generated_pages(site, charts).items()):
        path = docs_dir / page
        if path.exists():
            raise SiteError(f"{HANDWRITTEN}/{page} is hand-written, but the generator also makes {page}; rename one of them")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.rstrip("\n") + "\n", encoding="utf-8", newline="\n")
        written.append(path)
    return written
