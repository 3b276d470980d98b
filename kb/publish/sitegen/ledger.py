"""The discourse ledger: every public statement in statements/, its verdict, what it dropped, and per-claim
distortion statistics. The checker's machine verdicts sit next to the human labels once `kb build` stores them.
"""

from __future__ import annotations

from collections import Counter

from kb.check.flags import FLAGGED
from kb.publish import views
from kb.publish.sitegen import markup
from kb.publish.sitegen.checker_data import agrees
from kb.publish.sitegen.site_data import LEDGER


def verdict_words(site, verdict: str) -> str:
    """A verdict as readers see it ('Missing context'), never its id."""
    return markup.text(views.verdict_label(site.kb, verdict))


def claim_name(site, claim) -> str:
    """'OpenAI o3 · Shutdown resistance': a claim named in words (its id is in its card's address)."""
    return markup.text(f"{site.model_name(claim.model)} · {site.behaviour_label(claim.behaviour)}")


def human_verdict(statement, site=None) -> str:
    label = statement.label
    if label is None:
        return "not labelled yet"
    verdicts = list(dict.fromkeys(([label.verdict] if label.verdict else []) + list(label.verdict_any or [])))
    if not verdicts:
        return "not labelled yet"
    words = [verdict_words(site, v) if site else markup.text(v) for v in verdicts]
    return f"**{words[0]}**" + (f" (also acceptable: {', '.join(words[1:])})" if len(words) > 1 else "")


def is_flagged(statement) -> bool:
    """Flagged by its human label: misstated or missing context (every acceptable verdict, when several are)."""
    label = statement.label
    if label is None:
        return False
    if label.verdict:
        return label.verdict in FLAGGED
    return bool(label.verdict_any) and all(v in FLAGGED for v in label.verdict_any)


def dropped_keys(site, statement, page: str) -> str:
    missing = (statement.label.missing or []) if statement.label else []
    return ", ".join(site.key_link(k, page) for k in missing) or "nothing"


def machine_line(site, statement, page: str, claim_id: str | None = None) -> str:
    """'Checker: **missing_context** (agrees with the human label); flagged as dropped: Strong goal nudge', or ''
    when the checker has not run. With `claim_id`, only the conditions flagged for that claim."""
    machine = site.machine.get(statement.id)
    if machine is None:
        return ""
    agreement = {True: "agrees with the human label", False: "**disagrees** with the human label",
                 None: "no label to compare"}[agrees(statement, machine)]
    keys = machine.missing_by_claim.get(claim_id, []) if claim_id else machine.flagged_keys
    flagged = f"; flagged as dropped: {', '.join(site.key_link(k, page) for k in keys)}" if keys else ""
    return f"Checker: **{verdict_words(site, machine.verdict)}** ({agreement}){flagged}"


def ledger_page(site) -> dict[str, str]:
    statements = sorted(site.kb.statements.values(), key=lambda s: s.id)
    parts = ["# Discourse ledger\n\n", _intro(site, statements), _summary(site, statements),
             _claim_statistics(site), _key_statistics(site, statements), "## Every statement\n\n"]
    parts += [_entry(site, s) for s in statements]
    return {LEDGER: "".join(parts)}


def _intro(site, statements) -> str:
    checker = ("The checker's verdict is shown next to each human label." if site.machine else
               "Only human labels are shown: the checker's verdicts appear here once `kb build` stores them.")
    return (f"Public statements that report results in the knowledge base: posts, headlines, article sentences. "
            f"Each was judged by hand: would a reader who saw only this statement get the number right and know "
            f"the conditions it was measured under? {checker}\n\n")


def _summary(site, statements) -> str:
    counts = Counter((s.label.verdict or "") if s.label else None for s in statements)
    words = {"": "Several acceptable", None: "Not labelled"}
    rows = [[words[v] if v in words else verdict_words(site, v), str(n)]
            for v, n in sorted(counts.items(), key=lambda kv: str(kv[0]))]
    text = f"{len(statements)} statements; {sum(is_flagged(s) for s in statements)} flagged by their human label.\n\n"
    text += markup.table(["Human verdict", "Statements"], rows)
    if site.machine:
        compared = [agrees(s, site.machine.get(s.id)) for s in statements]
        text += (f"\nThe checker agrees with the human label on {compared.count(True)} of "
                 f"{compared.count(True) + compared.count(False)} labelled statements it has checked.\n")
    return "## Summary\n\n" + text + "\n"


def _claim_statistics(site) -> str:
    headers = ["Claim", "Value", "Times reported", "Times flagged", "Most-dropped conditions"]
    headers += ["Flagged by the checker"] if site.machine else []
    reporting = site.kb.statements_by_claim
    rows = [_claim_row(site, claim_id, reporting[claim_id]) for claim_id in sorted(reporting)]
    return ("## Distortion by claim\n\nHow often each claim has been reported, how often the report was flagged by its "
            "human label, and which conditions were dropped most.\n\n" + markup.table(headers, rows) + "\n")


def _claim_row(site, claim_id: str, reporting: list) -> list[str]:
    dropped = Counter(k for s in reporting if s.label for k in (s.label.missing or []))
    most = ", ".join(f"{site.key_link(k, LEDGER)} ({n})" for k, n in sorted(dropped.items(), key=lambda kv: (-kv[1], kv[0])))
    claim = site.kb.claims.get(claim_id)
    name = markup.link(claim_name(site, claim), markup.relative(LEDGER, site.card_page(claim_id))) if claim else markup.text(claim_id)
    row = [name, site.value_cell(claim, LEDGER) if claim else "", str(len(reporting)),
           str(sum(is_flagged(s) for s in reporting)), most or "—"]
    if site.machine:
        row.append(str(sum(site.machine[s.id].verdict in FLAGGED for s in reporting if s.id in site.machine)))
    return row


def _key_statistics(site, statements) -> str:
    dropped = Counter(k for s in statements if s.label for k in (s.label.missing or []))
    rows = [[site.key_link(k, LEDGER), str(n)] for k, n in sorted(dropped.items(), key=lambda kv: (-kv[1], kv[0]))]
    return ("## The conditions dropped most\n\n" + markup.table(["Condition", "Statements that dropped it"], rows) + "\n")


def _entry(site, statement) -> str:
    who = f"{statement.id}: {statement.who}"
    lines = [f"### {markup.text(who)} {{#statement-{statement.id}}}\n", markup.quote_block(statement.text)]
    facts = [f"- Date: {markup.text(statement.date or 'undated')}"]
    if statement.url:
        facts.append(f"- Link: {markup.external_link(statement.url)}")
    elif statement.where_seen:
        facts.append(f"- Seen: {markup.text(statement.where_seen)}")
    reports = ", ".join(_claim_link(site, cid) for cid in dict.fromkeys(statement.claims or [])) or "no claim in the knowledge base"
    facts += [f"- Reports: {reports}", f"- Verdict (human label): {human_verdict(statement, site)}",
              f"- Dropped: {dropped_keys(site, statement, LEDGER)}"]
    if statement.label and statement.label.present:
        facts.append(f"- Kept: {', '.join(site.key_link(k, LEDGER) for k in statement.label.present)}")
    machine = machine_line(site, statement, LEDGER)
    facts += [f"- {machine}"] if machine else []
    explanations = site.machine[statement.id].explanations if statement.id in site.machine else []
    facts += [f"    - {markup.text(e)}" for e in explanations]
    facts += [f"- Curator's note: {markup.text(statement.notes)}"] if statement.notes else []
    return "\n".join(lines) + "\n" + "\n".join(facts) + "\n\n"


def _claim_link(site, claim_id: str) -> str:
    claim = site.kb.claims.get(claim_id)
    if claim is None:
        return markup.text(claim_id)
    return f"{markup.link(claim_name(site, claim), markup.relative(LEDGER, site.card_page(claim_id)))} ({site.value_cell(claim, LEDGER)})"
