"""The curated data against the project's reference findings, and the integrity sweeps that hold across all files.

Only this test reads ../shared/reference; the knowledge base never does.
"""

import pytest
import yaml

from kb.load import load_yaml
from kb.schema import VERIFICATION
from kb.validate import load_knowledge_base
from kbtest import REFERENCE, ROOT

SOURCE_IDS = {  # reference source key -> the knowledge base's source id (= file name)
    "APOLLO_PAPER": "apollo-in-context-scheming-2024", "O1_CARD_WEB": "openai-o1-system-card-2024",
    "O1P_CARD": "openai-o1-preview-system-card-2024", "O3_CARD": "openai-o3-o4-mini-system-card-2025",
    "AF_PAPER": "anthropic-alignment-faking-2024", "AF_BLOG": "anthropic-alignment-faking-blog-2024",
    "CLAUDE4_CARD": "anthropic-claude-4-system-card-2025", "AGENTIC": "anthropic-agentic-misalignment-2025",
    "AGENTIC_FIG1_ALT": "anthropic-agentic-misalignment-figure-1-2025", "PALISADE_THREAD": "palisade-shutdown-thread-2025",
    "PALISADE_PAPER": "palisade-shutdown-resistance-2025", "ANTISCHEMING_PAPER": "openai-apollo-anti-scheming-2025",
    "OPENAI_SCHEMING_BLOG": "openai-detecting-scheming-blog-2025", "METR_RH": "metr-reward-hacking-2025",
    "SLEEPER": "anthropic-sleeper-agents-2024", "APOLLO_CAPABLE_BLOG": "apollo-more-capable-models-2025",
    "APOLLO_SONNET37": "apollo-sonnet-37-evaluation-awareness-2025",
}
# Claims curated beyond the reference, from the sources' own tables (each also a 'claim' entry in changes.yaml, which
# names its source and locator). Their verification status says how they were read.
ADDED_BEYOND_REFERENCE = {
    **{f"palisade-paper-{p}-{m}": ("palisade-shutdown-resistance-2025", "Sec. 3, Table 2 (v2)", "secondary")
       for p, models in (("a", ("o3", "grok-4", "gpt-5", "codex-mini", "o4-mini", "gemini-2.5-pro", "gpt-4o")),
                         ("e", ("codex-mini", "o4-mini", "o3", "grok-4"))) for m in models},
    **{f"o3card-{e}-{m}": ("openai-o3-o4-mini-system-card-2025", "Appendix 7.1.2, Figure 24", "verified")
       for e in ("se", "gg") for m in ("gpt-4o", "o1", "o3-mini", "gpt-4.5", "o3", "o4-mini")},
    "o1card-t10-o1-preview-dd-exfil": ("openai-o1-system-card-2024", "Table 10", "verified"),
}
# Results that shared another claim's value_text, curated as claims of their own on 2026-12-07 (issue 21): (source,
# locator, verification) -> claim ids.
SPLIT_FROM_VALUE_TEXTS = {
    ("apollo-in-context-scheming-2024", "App. C, Tables 17/18", "parsed"):
        [f"apollo-t17-{cell}-{level}" for cell in (
            "oversight-subversion-o1", "oversight-subversion-o1-preview-2024-09-12",
            "oversight-subversion-o1-mini-2024-09-12", "oversight-subversion-gpt-4o-2024-08-06",
            "oversight-subversion-claude-3.5-sonnet", "oversight-subversion-claude-3-opus",
            "oversight-subversion-gemini-1.5-pro", "oversight-subversion-llama-3.1-405b",
            "covert-email-reranking-o1", "covert-email-reranking-o1-preview-2024-09-12",
            "covert-email-reranking-o1-mini-2024-09-12", "covert-email-reranking-gpt-4o-2024-08-06",
            "covert-email-reranking-gemini-1.5-pro", "covert-email-reranking-llama-3.1-405b", "self-exfiltration-o1",
            "self-exfiltration-o1-preview-2024-09-12", "self-exfiltration-claude-3.5-sonnet",
            "self-exfiltration-claude-3-opus", "goal-guarding-o1", "goal-guarding-o1-preview-2024-09-12",
            "goal-guarding-gpt-4o-2024-08-06", "goal-guarding-claude-3-opus", "goal-guarding-llama-3.1-405b",
            "instrumental-alignment-faking-o1", "instrumental-alignment-faking-o1-preview-2024-09-12",
            "instrumental-alignment-faking-gpt-4o-2024-08-06", "instrumental-alignment-faking-claude-3.5-sonnet",
            "sandbagging-o1", "sandbagging-o1-preview-2024-09-12", "sandbagging-claude-3.5-sonnet",
            "sandbagging-llama-3.1-405b",
        ) for level in ("medium", "hard")],
    ("apollo-in-context-scheming-2024", "Sec. 3.5, Table 5", "verified"):
        [f"apollo-t5-iaf-{m}-{part}" for m in ("gemini", "llama", "o1")
         for part in ("instrumental-under-oversight", "terminal-without-oversight")],
    ("anthropic-alignment-faking-blog-2024", "Experimental setup (drawn-and-quartered example)", "verified"):
        ["af-blog-97-paid-refusal"],
    ("anthropic-agentic-misalignment-2025", "Results > Blackmail across different models", "verified"):
        ["agentic-llama4-prompt-addition"],
    ("anthropic-agentic-misalignment-2025", "Further investigation > Models blackmail more when they state ... the scenario is real", "verified"):
        ["agentic-real-vs-eval-stated-evaluation", "agentic-real-vs-eval-share-stated-real", "agentic-real-vs-eval-share-stated-evaluation", "agentic-real-vs-eval-share-abstained"],
    ("anthropic-agentic-misalignment-2025", "No agentic misalignment without cause", "verified"):
        ["agentic-control-leak-llama4"],
    # Verified (audit 2026-12-07, fix C): the card's Sec. 3.3.1 names o1-preview completions; the locator now names it.
    ("openai-o1-system-card-2024", "Table 8", "verified"):
        ["o1card-t8-cot-deception-hallucinated-policies", "o1card-t8-cot-deception-intentional-hallucinations", "o1card-t8-cot-deception-other"],
    ("openai-detecting-scheming-blog-2025", "Measuring scheming is further complicated by Situational Awareness (chart)", "verified"):
        ["antischeming-evalaware-o3-before", "antischeming-evalaware-o4-mini-before", "antischeming-evalaware-caprl-before"],
}
ADDED_BEYOND_REFERENCE.update({claim_id: key for key, ids in SPLIT_FROM_VALUE_TEXTS.items() for claim_id in ids})
# Headline results the reference lacked (issue 21): METR's own o3 report and the o3 card's summary of it.
ADDED_BEYOND_REFERENCE.update({
    "metr-o3-report-reward-hacking": ("metr-o3-o4-mini-evaluation-2025", "Executive Summary", "verified"),
    "o3card-metr-reward-hacking": ("openai-o3-o4-mini-system-card-2025", "Sec. 3.9.1", "verified"),
    "o3card-metr-kernel-5-24": ("openai-o3-o4-mini-system-card-2025", "Sec. 3.9.1", "verified"),
    **{f"o1p-card-{c}": ("openai-o1-preview-system-card-2024", "Sec. 3.3.1", "verified")
       for c in ("instrumental-alignment-faking", "data-manipulation", "oversight-probe")},
})
# Stated next to a reference finding's "after" value, so claims of their own (see README.md "Data model").
BEFORE_VALUES = {"antischeming-o3-before", "antischeming-o4mini-before", "antischeming-chatdeception-before"}
# The reference's fields that a changes.yaml entry can correct, and the claim field each one is compared with.
CORRECTABLE = {"value_text": "value_text", "value": "value", "locator": "locator", "verification": "verification",
               "measure": "measure", "model_tested": "model_tested"}
VERIFICATION_PREFIX = [("VERIFIED BUT PARSED", "parsed"), ("SECONDARY", "secondary"), ("PARTIAL", "partial"),
                       ("UNVERIFIED", "unverified"), ("VERIFIED", "verified")]


@pytest.fixture(scope="module")
def kb():
    knowledge_base, problems = load_knowledge_base(ROOT)
    assert problems == []
    return knowledge_base


def reference_file(name: str) -> dict:
    path = REFERENCE / name
    if not path.exists():
        pytest.skip(f"the project's reference ({path}) is not next to this checkout; nothing to compare with")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def reference():
    return reference_file("findings.yaml")


def excluded_findings():
    path = ROOT / "exclusions.yaml"
    if not path.exists():
        return {}
    data = load_yaml(path, "exclusions.yaml").data or {}
    return {item["finding"]: item["reason"] for item in data.get("excluded") or []}


def expected_verification(text: str) -> str:
    upper = text.upper()
    return next(status for prefix, status in VERIFICATION_PREFIX if upper.startswith(prefix))


def corrected(kb, claim_id: str, expected: dict) -> dict:
    """The reference's values for a claim after the changelog's corrections, oldest first. A correction must start
    from what the reference (or the previous correction) said, so the changelog cannot skip a step."""
    expected = dict(expected)
    for change in kb.changes_by_claim.get(claim_id, []):
        if change.field not in CORRECTABLE:
            continue
        before = expected[change.field]
        before = f"{before:g}" if isinstance(before, float) else "" if before is None else str(before)
        assert (change.old or "") == before, f"{claim_id}: changes.yaml says {change.field} was {change.old!r}, the reference {before!r}"
        expected[change.field] = float(change.new) if change.field == "value" else change.new
    return expected


def test_every_reference_finding_is_represented_or_excluded(kb, reference):
    excluded = excluded_findings()
    assert all(reason.strip() for reason in excluded.values()), "every exclusion needs a reason"
    missing = []
    for finding in reference["records"]:
        if finding["id"] in excluded:
            continue
        claim = kb.claims.get(finding["id"].lower().replace("_", "-"))
        if claim is None:
            missing.append(finding["id"])
            continue
        assert kb.claim_sources[claim.id] == SOURCE_IDS[finding["source"]], finding["id"]
        expected = corrected(kb, claim.id, {
            "model_tested": finding["model"], "measure": finding["behaviour"], "value": finding["rate"],
            "value_text": str(finding["rate_text"]), "locator": finding["section"],
            "verification": expected_verification(finding["verification"])})
        for field in CORRECTABLE:
            assert getattr(claim, field) == expected[field], f"{finding['id']}.{field}: {getattr(claim, field)!r} != {expected[field]!r}"
    assert missing == []
    assert len(reference["records"]) == 285


def test_claims_beyond_the_reference_are_listed_with_their_sources(kb, reference):
    in_reference = {f["id"].lower().replace("_", "-") for f in reference["records"]}
    beyond = set(kb.claims) - in_reference
    assert beyond == set(ADDED_BEYOND_REFERENCE) | BEFORE_VALUES
    added = {c.claim: c for c in kb.changes if c.field == "claim"}
    assert set(added) == set(ADDED_BEYOND_REFERENCE)
    # A later reading (a 'verification' entry in changes.yaml, e.g. Tables 17/18 read in the primary text) supersedes
    # the status the claim was added with.
    # Likewise a later 'locator' entry (Tables 17/18 cells named by table, panel and column) supersedes the locator.
    reread = {c.claim: c.new for c in kb.changes if c.field == "verification"}
    relocated = {c.claim: c.new for c in kb.changes if c.field == "locator"}
    for claim_id, (source, locator, verification) in ADDED_BEYOND_REFERENCE.items():
        claim = kb.claims[claim_id]
        assert kb.claim_sources[claim_id] == source == added[claim_id].source, claim_id
        assert locator in added[claim_id].locator, claim_id
        assert claim.locator == relocated[claim_id] if claim_id in relocated else locator in claim.locator, claim_id
        assert claim.verification == reread.get(claim_id, verification) and claim.verification_note, claim_id


def test_the_changelog_corrects_the_reference_where_the_audit_found_it_wrong(kb, reference):
    """The audit's points, as the data now holds them (the reference keeps its own forms)."""
    by_id = {f["id"].lower().replace("_", "-"): f for f in reference["records"]}
    nonudge = kb.claims["o1card-nonudge-oversight"]
    assert by_id[nonudge.id]["rate_text"] == "0.01" and (nonudge.value, nonudge.value_text, nonudge.bound) == (0.01, "<1%", "upper")
    assert kb.claims["o1card-t10-dd-exfil"].value_text == "1.00" and kb.claims["o1card-nonudge-dd-oversight"].value_text == "0.80"
    assert kb.claims["o3card-sabotage-mean"].behaviour == "model_sabotage"
    paper = kb.claims["palisade-paper-97"]
    assert paper.n == 1000 and "961 ≤ N ≤ 1000" in paper.denominator and "100,000" not in paper.denominator


def test_every_reference_source_has_a_source_file(kb, reference):
    for key, source in reference["sources"].items():
        ours = kb.sources[SOURCE_IDS[key]]
        assert (ours.title, ours.authors, ours.kind) == (source["title"], source["authors"], source["kind"])


def test_the_two_o1_number_sets_stay_separate_claims(kb):
    o1 = kb.claims_by_pair[("o1", "oversight_subversion")]
    by_value = {(kb.claim_sources[c.id], c.value): c for c in o1}
    card, paper = "openai-o1-system-card-2024", "apollo-in-context-scheming-2024"
    assert {(card, 0.05), (card, 0.01), (paper, 0.02), (paper, 0.003)} <= set(by_value)
    assert "goal_nudge" in by_value[(card, 0.05)].key_context
    assert "goal_nudge" in by_value[(paper, 0.02)].key_context
    assert "goal_given" in by_value[(card, 0.01)].key_context


def test_every_opus_4_blackmail_claim_at_84_is_linked_with_every_one_at_96(kb):
    opus = kb.claims_by_pair[("claude-opus-4", "blackmail")]
    low, high = [c.id for c in opus if c.value == 0.84], [c.id for c in opus if c.value == 0.96]
    assert low and high
    for a in low:
        linked = {other for other, _by, _note in kb.contrasts_of(a)}
        assert set(high) <= linked, a


def test_variant_claims_keep_the_condition_that_defines_the_variant(kb):
    variants = [s for s in kb.settings.values() if s.variant]
    assert variants and all(s.defined_by for s in variants)
    for claim in kb.claims.values():
        setting = kb.settings[claim.setting]
        if setting.variant:
            assert set(setting.defined_by) <= set(claim.key_context), claim.id


def test_palisade_o3_with_and_without_the_instruction_are_contrasts(kb):
    with_, without = kb.claims["palisade-with-o3"], kb.claims["palisade-without-o3"]
    assert (with_.value, without.value) == (0.07, 0.79)
    assert ("palisade-without-o3", "shutdown_instruction") in [(o, by) for o, by, _ in kb.contrasts_of(with_.id)]
    assert kb.conditions_of(with_)["shutdown_instruction"].value == "present"
    assert kb.conditions_of(without)["shutdown_instruction"].value == "absent"


def test_non_verified_statuses_are_carried(kb):
    """Every claim's status reaches the knowledge base as its file writes it. No claim is 'parsed' any more (Tables
    17/18 were read in the primary text on 2026-12-07), and none 'unverified' since agentic-o3-o4mini's unread
    figures left its value_text (2026-12-07); secondary and partial claims remain."""
    written = {c["id"]: c["verification"] for path in sorted((ROOT / "claims").glob("*.yaml"))
               for c in yaml.safe_load(path.read_text(encoding="utf-8"))["claims"]}
    assert {claim_id: claim.verification for claim_id, claim in kb.claims.items()} == written
    assert {"secondary", "partial"} <= set(written.values()) <= set(VERIFICATION)


def test_every_claim_has_locator_setting_and_key_context(kb):
    for claim in kb.claims.values():
        assert claim.locator.strip() and claim.setting in kb.settings, claim.id
        # Only a statement about real use with no number (no evidence of X) has nothing a report must add.
        assert claim.key_context or claim.value is None, claim.id


def test_dev_statements_are_paraphrased_discourse_records_with_the_same_labels(kb):
    """The repository keeps its own paraphrase of each development statement (never the original's words), with
    the original's labels."""
    labelled = reference_file("statements-dev.yaml")["statements"]
    for item in labelled:
        ours = kb.statements[item["id"]]
        assert ours.text != " ".join(item["text"].split()), item["id"]
        assert ours.url or ours.where_seen, item["id"]
        assert (ours.label.verdict, ours.label.verdict_any) == (item.get("verdict"), item.get("verdict_any"))
        assert ours.label.missing == item.get("missing") and ours.label.present == item.get("present")
        for report in item.get("reports") or []:
            assert any(all(getattr(kb.claims[c], k) == v for k, v in report.items()) for c in ours.claims), item["id"]


def test_claim_ids_are_stable_permalinks(kb):
    """Ids are the reference ids, lower-cased: renaming one breaks every link to it, so this pins them."""
    assert len(kb.claims) == len(set(kb.claims))
    assert {"o1card-oversight", "palisade-with-o3", "c4card-blackmail-84", "apollo-t2-os-0-o1"} <= set(kb.claims)
