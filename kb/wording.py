"""Faithful one-sentence wordings of claims, built from the data (conditions' phrases), never from templates per claim.

Used by the checker's suggestions, the server's verdict cards and the site's context cards.
"""

from __future__ import annotations

from kb.format import ABSENT_VALUES, format_value

MAX_CHARS = 280


def condition_phrase(kb, claim, key: str) -> str | None:
    """The words for one of the claim's conditions: the setting's own phrase, else the key's default."""
    condition = kb.conditions_of(claim).get(key)
    if condition is not None and condition.phrase:
        return condition.phrase
    context = kb.context.get(key)
    if context is None or context.scope == "claim":
        return None
    return context.phrase if condition is None or condition.value not in ABSENT_VALUES else None


def _setting_phrases(kb, claim) -> tuple[str | None, list[str], list[str]]:
    """(test-setting phrase, key-condition phrases in the claim's key_context order, phrases of the conditions its
    contrasts differ by that are not key — before or after training — which tell it apart from those siblings)."""
    test, keys, extra = None, [], []
    for key in claim.key_context or []:
        phrase = condition_phrase(kb, claim, key)
        if key == "test_setting" and phrase:
            test = phrase
        elif phrase and phrase not in keys:
            keys.append(phrase)
    for key in distinguishing_keys(kb, claim):
        condition = kb.conditions_of(claim).get(key)
        phrase = condition.phrase if condition is not None else None  # its own words, never the key's generic ones
        if phrase and phrase != test and phrase not in keys + extra:
            extra.append(phrase)
    return test, keys, extra


def distinguishing_keys(kb, claim) -> list[str]:
    """The context keys the claim's contrasts differ by (not 'source': that is the same measurement), outside its
    key_context, in the order the contrasts name them."""
    keys = []
    for _other, by, _note in kb.contrasts_of(claim.id):
        if by in kb.context and by not in (claim.key_context or []) and by not in keys:
            keys.append(by)
    return keys


def measure_detail(kb, claim) -> str | None:
    """What exactly was counted, when the claim's source reports the same model's behaviour under the same setting
    as several measures (Table 2's 'deleted successor model' and 'copied itself onto other server' rows): the
    claim's measure, less a leading 'behaviour:' label. None when no such sibling exists."""
    source = kb.claim_sources.get(claim.id)
    if not claim.measure or not any(
            c.id != claim.id and kb.claim_sources.get(c.id) == source and c.setting == claim.setting
            and c.measure != claim.measure for c in kb.claims_by_pair.get((claim.model, claim.behaviour), ())):
        return None
    return claim.measure.split(": ", 1)[1] if ": " in claim.measure else claim.measure


def _core(kb, claim, short: bool = False, detail: str | None = None) -> str:
    """'OpenAI o1 tried to ... (deleted successor model) in 5% of runs'. `short`: the behaviour by its label ('showed
    instrumental alignment faking'), for a sentence that does not fit with the behaviour's phrase."""
    model = kb.models[claim.model].name if claim.model in kb.models else claim.model
    behaviour = kb.behaviours.get(claim.behaviour)
    does = behaviour.phrase if behaviour else claim.measure
    if short and behaviour is not None and behaviour.label:
        label = behaviour.label.split(" (")[0]  # 'Alignment faking (training)': the parenthesis is the kb's own note
        does = f"showed {label[0].lower()}{label[1:]}"
    value = format_value(claim)
    if claim.value is None:
        # A result in the source's words: one parenthesis with what was counted and those words ('n/a' says nothing).
        words = claim.value_text if (claim.value_text or "").strip().lower() not in ABSENT_VALUES else None
        said = ": ".join(filter(None, [detail, words])) or claim.measure
        return f"{model} {does} ({said})"
    if detail:
        does = f"{does} ({detail})"
    if claim.metric == "rate":
        return f"{model} {does} in {value} of runs"
    if claim.metric == "conditional_rate":
        return f"{model} {does} in {value} of cases, counting only runs where it had already taken the action"
    if claim.metric == "accuracy_drop":
        return f"{model} {does}: its accuracy changed by {value} between the two test conditions"
    if claim.metric == "difference":
        return f"{model} showed a gap of {value} ({claim.measure})"
    return f"{model} scored {value} ({claim.measure})"


def contrast_clause(kb, claim) -> str | None:
    """'; without that nudge: 1%' — the contrasting claim for one of this claim's key conditions, if any."""
    keys = set(claim.key_context or [])
    same_source = kb.claim_sources.get(claim.id)
    options = [(other, by) for other, by, _note in kb.contrasts_of(claim.id) if by in keys and other in kb.claims]
    options.sort(key=lambda o: (kb.claim_sources.get(o[0]) != same_source, o[0]))
    for other_id, key in options:
        other = kb.claims[other_id]
        phrase = kb.conditions_of(other).get(key)
        words = phrase.phrase if phrase is not None and phrase.phrase else None
        if words and other.value is not None:
            return f"{words}: {format_value(other)}"
    return None


def faithful_sentence(kb, claim, with_contrast: bool = True, limit: int = MAX_CHARS) -> str:
    """A sentence of at most `limit` characters that keeps the claim's key context, what tells it apart from its
    siblings (the measure, the conditions its contrasts differ by) and its main contrast."""
    test, keys, extra = _setting_phrases(kb, claim)
    contrast = contrast_clause(kb, claim) if with_contrast else None
    detail = measure_detail(kb, claim)
    text = ""
    for parts in _shortenings(keys, extra, contrast, detail):
        text = _assemble(kb, claim, test, *parts)
        if len(text) <= limit:
            return text
    return text[: limit - 1].rstrip() + "…"


def _shortenings(keys: list, extra: list, contrast, detail):
    """(condition phrases, contrast, short behaviour, measure detail), longest first. What goes to fit, in order:
    the contrast, the non-key distinguishing conditions (last first), the measure detail, the behaviour's long
    phrase (for its label, which the checker's cues may not know), and only then key conditions (last first) — a
    key dropped to fit is one the sentence no longer conveys."""
    yield keys + extra, contrast, False, detail
    for keep in range(len(extra), -1, -1):
        yield keys + extra[:keep], None, False, detail
    yield keys, None, False, None
    for keep in range(len(keys), -1, -1):
        yield keys[:keep], None, True, None


def _assemble(kb, claim, test, others, contrast, short: bool = False, detail: str | None = None) -> str:
    """'In a sandboxed test, even when told to allow itself to be shut down, OpenAI o3 sabotaged ... in 7% of runs;
    when not told to allow the shutdown: 79%.' The conditions come first, so the number is read under them."""
    lead = ", ".join(filter(None, [test, *others]))
    core = _core(kb, claim, short, detail)
    text = f"{lead[0].upper() + lead[1:]}, {core}" if lead else core
    if contrast:
        text += f"; {contrast}"
    return text + "."


def offered_rewrite(kb, finding: dict) -> dict:
    """The `kb check` finding as it may be shown: its faithful wording withheld (and the explanation saying why) when
    withheld_rewrite gives a reason. Idempotent."""
    note = withheld_rewrite(kb, finding)
    explanation = finding.get("explanation") or ""
    if note is None or (not finding.get("suggestion") and note in explanation):
        return finding
    return {**finding, "suggestion": "", "explanation": f"{explanation} {note}".strip()}


def withheld_rewrite(kb, finding: dict) -> str | None:
    """Why the finding's faithful wording must not be offered, or None. It is withheld when it would come from a
    control or variant result (a `variant: true` setting: goals reversed, easy difficulty, control prompts) whose
    defining condition the statement does not convey: such a match is the likeliest result, not a known one, and its
    sentence would put a number the statement never meant (a control's 0%) into print.

    A finding whose number belongs to another claim (`other_condition`) keeps its wording: that sentence is the
    statement's own number with its real conditions, not a number it did not print.
    """
    claim = kb.claims.get(finding.get("claim") or "")
    if claim is None or finding.get("number") == "other_condition":
        return None
    setting = kb.setting_of(claim)
    if not (setting and setting.variant) or set(setting.defined_by or []) & set(finding.get("present_context") or []):
        return None
    source = kb.source_of(claim)
    where = ", ".join(filter(None, [source.title if source else None, claim.locator]))
    return (f"No rewording is offered: this result was measured under a control or variant setting ({setting.label}) "
            f"that the statement does not mention, so it may not be the result the statement means. Verify the figure "
            f"in the source{f' ({where})' if where else ''} before printing one.")
