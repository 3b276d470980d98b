"""Rules that look across records: vocabulary ids, references, ranges, value texts, key context.

Each rule is a function `rule(kb, parts) -> iterable of Problem`, registered in RULES, so
a new integrity rule is added, not wired in (the pattern of Our World in Data's etl sweeps).
"""

from __future__ import annotations

import re
from collections import defaultdict

from kb import schema
from kb.problems import Problem, allowed_list, did_you_mean
from kb.records import applies_to

RULES = []


def rule(fn):
    RULES.append(fn)
    return fn


def check_knowledge_base(kb, parts) -> list[Problem]:
    problems = []
    for fn in RULES:
        problems.extend(fn(kb, parts))
    return problems


def _problem(record, field, code, message, fix, kind=None) -> Problem:
    kind = kind or {"ContextKey": "context key"}.get(type(record).__name__, type(record).__name__.lower())
    return Problem(record.file, record.line_of(field), code, field, message, fix,
                   f"{kind} {getattr(record, 'id', '') or ''}".strip())


def _unknown(record, field, value, vocab: dict, what: str, where: str, kind=None) -> Problem:
    return _problem(record, field, "E020", f"unknown {what} '{value}'{did_you_mean(value, list(vocab))}; "
                    f"allowed: {allowed_list(vocab)}", f"use an id from {where}, or add '{value}' there", kind)


# ---------------------------------------------------------------- vocabulary ids

@rule
def claims_use_vocabulary(kb, parts):
    for claim in kb.claims.values():
        if claim.model is not None and claim.model not in kb.models:
            yield _unknown(claim, "model", claim.model, kb.models, "model", "vocabulary/models.yaml")
        if claim.behaviour is not None and claim.behaviour not in kb.behaviours:
            yield _unknown(claim, "behaviour", claim.behaviour, kb.behaviours, "behaviour", "vocabulary/behaviours.yaml")
        for key in claim.key_context or []:
            if key not in kb.context:
                yield _unknown(claim, "key_context", key, kb.context, "context key", "vocabulary/context.yaml")
        for contrast in claim.contrasts or []:
            by = contrast.differs_by
            if by is not None and by != "source" and by not in kb.context:
                yield _problem(contrast, "differs_by", "E020", f"unknown context key '{by}'{did_you_mean(by, list(kb.context))}; "
                               f"differs_by is a context key or 'source'", "use an id from vocabulary/context.yaml or 'source'",
                               f"contrast of claim {claim.id}")


@rule
def settings_use_vocabulary(kb, parts):
    for setting in kb.settings.values():
        for key, condition in (setting.conditions or {}).items():
            context = kb.context.get(key)
            if context is None:
                yield _problem(condition, "key", "E020", f"unknown context key '{key}'{did_you_mean(key, list(kb.context))}; "
                               f"allowed: {allowed_list(kb.context)}", "use an id from vocabulary/context.yaml, or add it there",
                               f"setting {setting.id}")
            elif context.scope == "claim":
                yield _problem(condition, "key", "E013", f"'{key}' is a property of the number, not of the setting "
                               "(its scope is 'claim')", "remove it from the setting; the claim's metric conveys it",
                               f"setting {setting.id}")
            for behaviour in condition.behaviours or []:
                if behaviour not in kb.behaviours:
                    yield _unknown(condition, "behaviours", behaviour, kb.behaviours, "behaviour",
                                   "vocabulary/behaviours.yaml", f"condition {key} of setting {setting.id}")
            for model in condition.models or []:
                if model not in kb.models:
                    yield _unknown(condition, "models", model, kb.models, "model", "vocabulary/models.yaml",
                                   f"condition {key} of setting {setting.id}")
            for claim_id in condition.claims or []:
                if claim_id not in kb.claims:
                    yield _problem(condition, "claims", "E022", f"claim '{claim_id}' does not exist"
                                   f"{did_you_mean(claim_id, list(kb.claims))}", "fix the id or add the claim",
                                   f"condition {key} of setting {setting.id}")
        for key in setting.defined_by or []:
            if key not in kb.context:
                yield _unknown(setting, "defined_by", key, kb.context, "context key", "vocabulary/context.yaml")
            elif key not in (setting.conditions or {}):
                yield _problem(setting, "defined_by", "E033", f"defined_by names '{key}', which the setting does not "
                               f"describe (it describes: {', '.join(setting.conditions or {}) or 'nothing'})",
                               f"add a '{key}' condition or remove '{key}' from defined_by")


@rule
def labels_use_vocabulary(kb, parts):
    for statement in kb.statements.values():
        label = statement.label
        if label is None:
            continue
        if label.verdict is None and not label.verdict_any:
            yield _problem(label, "verdict", "E011", "a label needs 'verdict' or 'verdict_any'", "add the expected verdict",
                           f"label of statement {statement.id}")
        for field in ("missing", "present"):
            for key in getattr(label, field) or []:
                if key not in kb.context:
                    yield _unknown(label, field, key, kb.context, "context key", "vocabulary/context.yaml",
                                   f"label of statement {statement.id}")
        for report in label.reports or []:
            if report.model is not None and report.model not in kb.models:
                yield _unknown(report, "model", report.model, kb.models, "model", "vocabulary/models.yaml",
                               f"report of statement {statement.id}")
            if report.behaviour is not None and report.behaviour not in kb.behaviours:
                yield _unknown(report, "behaviour", report.behaviour, kb.behaviours, "behaviour",
                               "vocabulary/behaviours.yaml", f"report of statement {statement.id}")


@rule
def context_implications_exist(kb, parts):
    for key in kb.context.values():
        for other in key.implied_by or []:
            if other not in kb.context:
                yield _unknown(key, "implied_by", other, kb.context, "context key", "vocabulary/context.yaml")


@rule
def lexicon_uses_vocabulary(kb, parts):
    lexicon = kb.lexicon
    for family, models in ((lexicon.families or {}) if lexicon else {}).items():
        for model in models:
            if model not in kb.models:
                yield _unknown(lexicon, "families", model, kb.models, f"model in family '{family}'", "vocabulary/models.yaml")


@rule
def aliases_are_unambiguous(kb, parts):
    owner = {}
    for model in kb.models.values():
        for alias in model.aliases or []:
            folded = alias.casefold()
            if folded in owner and owner[folded] != model.id:
                yield _problem(model, "aliases", "E021", f"alias '{alias}' is also an alias of '{owner[folded]}'; "
                               "the checker could not tell them apart", "keep the alias on one model only")
            owner.setdefault(folded, model.id)


# ---------------------------------------------------------------- references

@rule
def claims_files_name_their_source(kb, parts):
    for rel, (value, line) in sorted(parts.get("_file_source", {}).items()):
        if value is None:
            yield Problem(rel, 1, "E011", "source", "a claims file must name its source at the top ('source: <id>')",
                          "add 'source:' with the id of a file in sources/")
        elif value not in kb.sources:
            yield Problem(rel, line, "E022", "source", f"source '{value}' does not exist{did_you_mean(value, list(kb.sources))}",
                          f"add sources/{value}.yaml or use an existing source id")


@rule
def references_resolve(kb, parts):
    for claim in kb.claims.values():
        if claim.setting is not None and claim.setting not in kb.settings:
            yield _problem(claim, "setting", "E022", f"setting '{claim.setting}' does not exist"
                           f"{did_you_mean(claim.setting, list(kb.settings))}", "declare it under 'settings:' or fix the id")
        for contrast in claim.contrasts or []:
            if contrast.claim == claim.id:
                yield _problem(contrast, "claim", "E022", "a claim cannot contrast with itself", "name the other claim",
                               f"contrast of claim {claim.id}")
            elif contrast.claim is not None and contrast.claim not in kb.claims:
                yield _problem(contrast, "claim", "E022", f"claim '{contrast.claim}' does not exist"
                               f"{did_you_mean(contrast.claim, list(kb.claims))}", "fix the id or add the claim",
                               f"contrast of claim {claim.id}")
    for statement in kb.statements.values():
        for claim_id in statement.claims or []:
            if claim_id not in kb.claims:
                yield _problem(statement, "claims", "E022", f"claim '{claim_id}' does not exist"
                               f"{did_you_mean(claim_id, list(kb.claims))}", "fix the id or add the claim")
        if statement.source is not None and statement.source not in kb.sources:
            yield _problem(statement, "source", "E022", f"source '{statement.source}' does not exist"
                           f"{did_you_mean(statement.source, list(kb.sources))}", "add the file in sources/ or fix the id")


@rule
def pages_stay_in_one_fold(kb, parts):
    """One original page in two evaluation folds would let the checker be fitted on the page it is measured on."""
    from kb.folds import pages

    for key, members in pages(kb.statements.values()).items():
        folds = sorted({s.fold for s in members if s.fold})
        if len(folds) < 2:
            continue
        first = next(s for s in members if s.fold == folds[0])
        page = key.split(":", 1)[1] if key.startswith("url:") else f"{first.who} on {first.date or 'no date'}"
        for statement in members:
            if statement.fold and statement.fold != folds[0]:
                yield _problem(statement, "fold", "E050", f"fold '{statement.fold}', but statement {first.id} from the "
                               f"same page ({page}) is in '{folds[0]}' ({first.file}:{first.line_of('fold')}): one "
                               "page must not span two folds",
                               f"set 'fold: {folds[0]}' here, or remove the fold lines of this page's statements and "
                               "run `kb folds --assign`")


@rule
def statements_are_not_repeated(kb, parts):
    """A statement text labelled twice counts twice in every evaluation (and is fitted on twice): the same words,
    whatever their case, spacing or punctuation, are one statement."""
    first_of: dict = {}
    for statement in sorted(kb.statements.values(), key=lambda s: (s.file, s.line)):
        words = " ".join(re.findall(r"\w+", (statement.text or "").lower()))
        if not words:
            continue
        first = first_of.setdefault(words, statement)
        if first is not statement:
            yield _problem(statement, "text", "E051", f"the same text as statement {first.id} "
                           f"({first.file}:{first.line_of('text')}): it would be counted twice",
                           f"remove this statement, or {first.id} (keep the one whose who and url name the original)")


@rule
def locked_fold_sealed(kb, parts):
    """The locked fold lives in statements/locked/ and only there: a folder that nothing but `kb eval --locked`
    reads, so no build, page or fit can see it by accident."""
    for statement in kb.statements.values():
        in_locked_dir = statement.file.startswith(schema.LOCKED_DIR + "/")
        if statement.fold == "locked" and not in_locked_dir:
            yield _problem(statement, "fold", "E060", "fold 'locked', but the statement is outside statements/locked/",
                           "run `kb folds --assign` (it moves locked statements into statements/locked/)")
        elif in_locked_dir and statement.fold != "locked":
            yield _problem(statement, "fold", "E060", f"in statements/locked/ but its fold is '{statement.fold}'",
                           "set 'fold: locked', or move the statement to a file in statements/")


# ---------------------------------------------------------------- values

@rule
def values_in_range(kb, parts):
    for claim in kb.claims.values():
        if claim.metric == "qualitative" and claim.value is not None:
            yield _problem(claim, "value", "E030", f"a qualitative claim has no value, got {claim.value}",
                           "remove the value, or set the metric to what the number measures")
        low_high = schema.METRIC_RANGES.get(claim.metric)
        if low_high and isinstance(claim.value, (int, float)) and not low_high[0] <= claim.value <= low_high[1]:
            low, high = low_high
            yield _problem(claim, "value", "E030", f"{claim.metric} value {claim.value} is outside [{low:g}, {high:g}]",
                           "write rates as fractions (0.05 for 5%)" if claim.value > 1 else "check the sign and scale")
        if isinstance(claim.n, int) and claim.n < 1:
            yield _problem(claim, "n", "E030", f"n must be at least 1, got {claim.n}", "give the number of runs, or remove n")


@rule
def value_texts_agree(kb, parts):
    for claim in kb.claims.values():
        if isinstance(claim.value, (int, float)) and isinstance(claim.value_text, str):
            if not value_text_supports(claim.value, claim.value_text):
                yield _problem(claim, "value_text", "E031", f"value_text '{claim.value_text}' does not state the value "
                               f"{claim.value:g} ({claim.value:.1%})", "make value and value_text say the same number")


@rule
def claims_have_locators(kb, parts):
    for claim in kb.claims.values():
        if not (isinstance(claim.locator, str) and claim.locator.strip()):
            yield _problem(claim, "locator", "E032", "missing locator: where in the source is this number?",
                           "add 'locator:' with the section, table or figure")


@rule
def key_context_is_described(kb, parts):
    for claim in kb.claims.values():
        conditions = kb.conditions_of(claim)
        for key in claim.key_context or []:
            context = kb.context.get(key)
            if context is None or claim.setting not in kb.settings:
                continue  # reported by the vocabulary and reference rules
            if context.scope == "setting" and key not in conditions:
                yield _problem(claim, "key_context", "E033", f"key context '{key}' is not described by setting "
                               f"'{claim.setting}' (it describes: {', '.join(conditions) or 'nothing'})",
                               f"add a '{key}' condition to the setting, or remove '{key}' from key_context")
            if context.scope == "claim" and key not in schema.CLAIM_SCOPE_KEYS_BY_METRIC.get(claim.metric, set()):
                yield _problem(claim, "key_context", "E033", f"key context '{key}' does not fit metric '{claim.metric}'",
                               "fix the metric or remove the key")


@rule
def evaluation_conditions_are_scoped(kb, parts):
    """A condition that differs between evaluations (an oversight config) must say which it held for, once a
    setting's claims span several behaviours; otherwise every claim of the setting would claim it."""
    behaviours_of = defaultdict(set)
    for claim in kb.claims.values():
        behaviours_of[claim.setting].add(claim.behaviour)
    for setting in kb.settings.values():
        spanned = behaviours_of.get(setting.id, set())
        for key, condition in (setting.conditions or {}).items():
            context = kb.context.get(key)
            if context is None or not context.per_evaluation or condition.behaviours or len(spanned) < 2:
                continue
            yield _problem(condition, "behaviours", "E034", f"'{key}' differs between evaluations, and this setting's "
                           f"claims span {len(spanned)} behaviours ({', '.join(sorted(spanned))}); as written every one "
                           f"of them claims '{key}: {condition.value}'",
                           f"add 'behaviours: [...]' naming the behaviours measured under it, or split the setting",
                           f"condition {key} of setting {setting.id}")


@rule
def model_specific_conditions_are_scoped(kb, parts):
    """A condition whose words name a model of its setting ('hidden for o1') held for that model, not for every model
    of the setting: once the setting's claims span several models it must say which (`models` or `claims`)."""
    names = _model_names(kb)
    models_of = defaultdict(list)
    for claim in kb.claims.values():
        models_of[claim.setting].append(claim)
    for setting in kb.settings.values():
        for key, condition in (setting.conditions or {}).items():
            if condition.models or condition.claims:
                continue
            # A claim without a usable model is reported by its own rule; it cannot help name this condition's models.
            models = sorted({c.model for c in models_of[setting.id]
                             if isinstance(c.model, str) and applies_to(condition, c)})
            text = " ".join(str(getattr(condition, f) or "") for f in ("value", "description", "quote"))
            named = sorted(named_models(text, names) & set(models))
            if len(models) > 1 and named:
                yield _problem(condition, "description", "E038", f"'{key}: {condition.value}' names "
                               f"{', '.join(named)}, but the setting's claims span {len(models)} models "
                               f"({', '.join(models)}); as written every one of them claims it",
                               "add 'models: [...]' (or 'claims: [...]') naming those it held for, and give the others "
                               "their own setting where their value differs", f"condition {key} of setting {setting.id}")


def _model_names(kb) -> list:
    """(pattern, model ids) for every model id, alias and family name, longest first, matched as whole words."""
    names = {}
    for model in kb.models.values():
        for name in [model.id, *(model.aliases or [])]:
            names.setdefault(name.lower(), set()).add(model.id)
    for family, members in ((kb.lexicon.families or {}) if kb.lexicon else {}).items():
        names.setdefault(family.lower(), set()).update(members)
    return [(re.compile(rf"(?<![\w.-]){re.escape(name)}(?![\w-])", re.I), ids)
            for name, ids in sorted(names.items(), key=lambda item: -len(item[0])) if name]


def named_models(text: str, names: list) -> set:
    """The models a text names: 'Claude 3.7 Sonnet' is claude-3.7-sonnet, not every Claude (longest names first)."""
    found = set()
    for pattern, ids in names:
        if pattern.search(text):
            found |= ids
            text = pattern.sub(" ", text)
    return found


# A difference may print the two figures it is taken from ('51% vs 66%') when the source prints no difference itself.
FIGURES_ALLOWED = {"difference": 2}
# Words that say a figure was not read in the source: such a figure is not the claim's and belongs in notes.
UNREAD_WORDS = re.compile(r"\b(unverified|not verified|secondary (sources?|coverage|quote))\b", re.I)


@rule
def value_text_prints_the_claims_figure(kb, parts):
    """A value_text is the claim's result as the source prints it: one figure (a difference may print its two arms),
    or the source's words. Other results are claims of their own; p-values, intervals, margins and figures seen only
    in secondary sources belong in notes, or the checker reads them as this claim's numbers."""
    for claim in kb.claims.values():
        if not isinstance(claim.value_text, str):
            continue
        figures = printed_figures(claim.value_text)
        allowed = FIGURES_ALLOWED.get(claim.metric, 1)
        if len(figures) > allowed:
            yield _problem(claim, "value_text", "E039", f"value_text '{claim.value_text}' prints {len(figures)} figures "
                           f"({', '.join(figures)}); {'an' if claim.metric[0] in 'aeiou' else 'a'} {claim.metric}'s value_text is "
                           f"{'at most two figures' if allowed == 2 else 'one figure'} as the source prints it",
                           "keep this cell's figure; give every other result its own claim (linked as a contrast) and "
                           "move p-values, intervals and margins to notes")
        unread = UNREAD_WORDS.search(claim.value_text)
        if unread:
            yield _problem(claim, "value_text", "E039", f"value_text '{claim.value_text}' says '{unread.group(0)}': "
                           "a figure not read in the source is not the claim's result",
                           "keep the source's own figure or words in value_text; move the unread figure and where it "
                           "was seen to notes, and set verification to what was read")


@rule
def source_contrasts_are_the_same_measurement(kb, parts):
    """`differs_by: source` says two documents report one measurement: same model, behaviour, value and conditions.
    Anything else differs by a condition, which the contrast must name."""
    for claim in kb.claims.values():
        for contrast in claim.contrasts or []:
            other = kb.claims.get(contrast.claim)
            if contrast.differs_by != "source" or other is None:
                continue
            differences = measurement_differences(kb, claim, other)
            if differences:
                yield _problem(contrast, "differs_by", "E041", f"'source' links the same measurement in two documents, "
                               f"but {claim.id} and {other.id} differ in {'; '.join(differences)}",
                               "name the context key that differs (add one to vocabulary/context.yaml if none fits: a "
                               "checkpoint, a scenario, a run), or drop the link", f"contrast of claim {claim.id}")


def measurement_differences(kb, a, b) -> list[str]:
    """What tells two claims apart as measurements: model, behaviour, value, bound, and any condition both describe."""
    out = [f"{field} ({getattr(a, field)!r} vs {getattr(b, field)!r})" for field in ("model", "behaviour", "bound")
           if getattr(a, field) != getattr(b, field)]
    if (a.value is None) != (b.value is None) or (a.value is not None and abs(a.value - b.value) > 1e-9):
        out.append(f"value ({a.value:g} vs {b.value:g})" if None not in (a.value, b.value) else "value")
    ca, cb = kb.conditions_of(a), kb.conditions_of(b)
    for key in ca.keys() & cb.keys():
        if _normal(ca[key].value) != _normal(cb[key].value):
            out.append(f"{key} ({ca[key].value!r} vs {cb[key].value!r})")
    return out


def _normal(text) -> str:
    return " ".join(str(text or "").lower().split())


@rule
def verified_claims_rest_on_primary_text(kb, parts):
    """'verified' means the number was read in the primary text at its locator: a study's own document, not coverage."""
    for claim in kb.claims.values():
        if claim.verification != "verified":
            continue
        source = kb.sources.get(kb.claim_sources.get(claim.id))
        if source is not None and source.kind not in schema.PRIMARY_SOURCE_KINDS:
            yield _problem(claim, "verification", "E042", f"'verified' but its source {source.id} is a {source.kind}, "
                           f"not a primary text ({', '.join(schema.PRIMARY_SOURCE_KINDS)})",
                           "mark it 'secondary', or curate it from the study's own document")
        elif not (isinstance(claim.locator, str) and claim.locator.strip()):
            yield _problem(claim, "verification", "E042", "'verified' but no locator says where the number was read",
                           "add the locator (section, table, figure) or lower the verification")


@rule
def variants_keep_their_defining_condition(kb, parts):
    for setting in kb.settings.values():
        if setting.variant and not setting.defined_by:
            yield _problem(setting, "variant", "E011", "a variant setting must say which conditions make it one",
                           "add 'defined_by: [<context key>, ...]' naming them")
    for claim in kb.claims.values():
        setting = kb.settings.get(claim.setting)
        if setting is None or not setting.variant or claim.key_context is None:
            continue
        dropped = [key for key in setting.defined_by or [] if key not in claim.key_context]
        if dropped:
            yield _problem(claim, "key_context", "E035", f"setting '{setting.id}' is a variant defined by "
                           f"{', '.join(dropped)}, which key_context leaves out: a report of this number that drops it "
                           "would pass for the main result", f"add {', '.join(dropped)} to key_context")


@rule
def bounds_agree_with_value_texts(kb, parts):
    for claim in kb.claims.values():
        if not isinstance(claim.value, (int, float)) or not isinstance(claim.value_text, str):
            continue
        stated = stated_bound(claim.value, claim.value_text)
        if stated == claim.bound:
            continue
        if stated is None:
            message = (f"bound is '{claim.bound}' but value_text '{claim.value_text}' gives the value as the figure "
                       "itself, with no comparison sign")
            fix = "write the source's printed form with its sign (e.g. '<1%'), or remove 'bound'"
        else:
            sign = {"upper": "an upper bound ('<')", "lower": "a lower bound ('>')"}[stated]
            message = (f"value_text '{claim.value_text}' states {sign} but the claim's bound is "
                       f"{repr(claim.bound) if claim.bound else 'not set'}")
            fix = f"set 'bound: {stated}' (value keeps the number {claim.value:g})"
        yield _problem(claim, "value_text", "E036", message, fix)


@rule
def changes_match_the_data(kb, parts):
    claim_fields = [f.name for f in schema.CLAIM.fields if f.name != "id"]
    latest = {}  # a later correction of the same field supersedes an earlier one ('claim' records the value_text)
    for change in kb.changes:
        latest[(change.claim, "value_text" if change.field == "claim" else change.field)] = change
    for change in kb.changes:
        label = f"change of {change.claim}" if change.claim else "change"
        claim = kb.claims.get(change.claim) if change.claim else None
        if change.claim and claim is None:
            yield _problem(change, "claim", "E022", f"claim '{change.claim}' does not exist"
                           f"{did_you_mean(change.claim, list(kb.claims))}", "fix the id", label)
        if change.source is not None and change.source not in kb.sources:
            yield _problem(change, "source", "E022", f"source '{change.source}' does not exist"
                           f"{did_you_mean(change.source, list(kb.sources))}", "use an id from sources/", label)
        if change.field is None or claim is None:
            continue
        if not (change.field in claim_fields or change.field == "claim" or change.field.startswith("conditions.")):
            yield _problem(change, "field", "E013", f"'{change.field}' is not a claim field"
                           f"{did_you_mean(change.field, claim_fields)}; allowed: {', '.join(claim_fields)}, "
                           "conditions.<context key>, claim", "name the field that changed", label)
            continue
        if latest[(change.claim, "value_text" if change.field == "claim" else change.field)] is not change:
            continue
        now = current_text(kb, claim, change.field)
        if (change.new or "") != now:
            yield _problem(change, "new", "E037", f"says {change.field} became {_quoted(change.new)}, but the claim "
                           f"now has {_quoted(now)}", "make 'new' what the data says now, or record a later change",
                           label)


@rule
def notes_agree_with_the_verification_status(kb, parts):
    """A verification_note or notes that opens with a status word ('VERIFIED via copies…') states a status; it must be
    the claim's own, or a reader is told two things (a secondary claim whose note says VERIFIED)."""
    words = "|".join(schema.VERIFICATION)
    # A stamp is the status in capitals ('VERIFIED', 'SECONDARY ONLY') or a status word before 'via' or ':'; a note
    # that starts 'Secondary sources say…' describes a source, not the claim's status.
    opening = re.compile(rf"\W*(?:({words.upper()})\b|(?i:({words}))(?=\s+via\b|\s*:))")
    for claim in kb.claims.values():
        for field in ("verification_note", "notes"):
            said = opening.match(str(getattr(claim, field, None) or ""))
            stamp = said and (said.group(1) or said.group(2))
            if stamp and stamp.lower() != claim.verification:
                yield _problem(claim, field, "E044", f"{field} opens with '{stamp}' but the claim's verification "
                               f"is '{claim.verification}'", "say what was read and where, without a status word, or "
                               "set verification to the status the note gives")


# A share of the runs that took an action, or a drop in accuracy, is the number readers most often take for a plain
# frequency: a claim with such a metric always lists it as key context (the labelling guide, section 2).
METRIC_KEYS = ("conditional_rate", "accuracy_drop")


@rule
def metric_is_key_context(kb, parts):
    for claim in kb.claims.values():
        if claim.metric in METRIC_KEYS and claim.metric not in (claim.key_context or []):
            yield _problem(claim, "key_context", "E045", f"a {claim.metric} claim without '{claim.metric}' in its key "
                           "context: a report that gives the number as how often the model did it reads it wrongly",
                           f"add '{claim.metric}' to key_context (and drop 'rate', which it replaces)")


@rule
def one_change_per_claim_field_and_day(kb, parts):
    """The changes table's key is (claim, field, date): a second entry for the same claim and field on the same day
    would pass validation and then fail the build, so a same-day correction updates the first entry instead."""
    first = {}
    for change in kb.changes:
        if not (change.claim and change.field and change.date):
            continue
        key = (change.claim, change.field, str(change.date))
        if key not in first:
            first[key] = change
            continue
        earlier = first[key]
        yield _problem(change, "field", "E043", f"a second entry for {change.claim}'s {change.field} on {change.date} "
                       f"(the first is at {earlier.file}:{earlier.line}); one claim and field change at most once a day",
                       f"delete this entry and update the first one's 'new' and 'why' (line {earlier.line})",
                       f"change of {change.claim}")


def _quoted(text) -> str:
    return f"'{text}'" if text else "nothing"


def current_text(kb, claim, field: str) -> str:
    """A claim's field as a changes.yaml entry writes it: scalars as written, lists joined by ', ', a condition
    by its value, contrasts by the other claims' ids (either side may declare them), an added claim by its value_text,
    nothing as ''."""
    if field == "claim":
        return claim.value_text or ""
    if field.startswith("conditions."):
        condition = kb.conditions_of(claim).get(field.split(".", 1)[1])
        return condition.value if condition is not None else ""
    value = getattr(claim, field, None)
    if field == "contrasts":
        return ", ".join(other for other, _by, _note in kb.contrasts_of(claim.id))
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return "" if value is None else str(value)


# ---------------------------------------------------------------- value texts

# A comparison sign directly before a number: '<1%', '≤ 0.5', 'less than 20%'. '->' (from 13% -> 0.4%) is not one.
_SIGNED = re.compile(r"(?<![-=])(<=|>=|≤|≥|<|>|\bless than\b|\bfewer than\b|\bunder\b|\bbelow\b|\bmore than\b|"
                     r"\bover\b|\bat least\b|\bat most\b)\s*(?=[\d.])", re.I)
_UPPER_SIGNS = {"<", "<=", "≤", "less than", "fewer than", "under", "below", "at most"}


def stated_bound(value: float, text: str) -> str | None:
    """'upper' or 'lower' when value_text gives the value behind a comparison sign ('<1%' for 0.01), else None."""
    for match in _SIGNED.finditer(text):
        rest = text[match.end():]
        number = _AMOUNT.match(rest)
        if number and any(abs(n - value) <= t + 1e-9 for n, t in _candidates(number.group(0))):
            return "upper" if match.group(1).lower() in _UPPER_SIGNS else "lower"
    return None


_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+"
_RATIO = re.compile(rf"({_NUMBER})\s*(?:/|\bout of\b|\bof\b|\bin\b)\s*({_NUMBER})")
_AMOUNT = re.compile(rf"({_NUMBER})\s*(%|percent\b|per cent\b|pt\b|points?\b|percentage points?\b)?")
_ZERO_WORDS = re.compile(r"\b(no|none|never|zero|nil)\b", re.I)


def _decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def _candidates(text: str) -> list[tuple[float, float]]:
    """(number, tolerance) pairs a value text can state: as written, as a percentage, or as a ratio."""
    found = []
    for match in _AMOUNT.finditer(text):
        raw, unit = match.group(1), match.group(2)
        number = float(raw.replace(",", ""))
        tolerance = 0.5 * 10 ** -_decimals(raw)
        if unit:
            found.append((number / 100, tolerance / 100))
        else:
            found += [(number, tolerance), (number / 100, tolerance / 100)]
    for match in _RATIO.finditer(text):
        num, den = (float(g.replace(",", "")) for g in match.groups())
        if den:
            found.append((num / den, 0.005))
    return found


_RANGE = re.compile(rf"(?:\bbetween\s+)?({_NUMBER})\s*%?\s*(?:–|—|-|\bto\b|\band\b)\s*({_NUMBER})\s*"
                    r"(%|percent\b|per cent\b)?")


def printed_figures(text: str) -> list[str]:
    """The distinct figures a value text prints: '21 of 22 (95%)' is one (a count and its percentage), '1–2%' is one
    (a range), '13% (13.0%)' one, '13% -> 0.4%' two, '0.38 (p 0.002)' two."""
    figures = []  # (printed form, value, rounding tolerance, is a count)
    rest = text
    for pattern, read in ((_RATIO, _ratio_figure), (_RANGE, _range_figure), (_AMOUNT, _amount_figure)):
        figures += [(match.group(0).strip(), *read(match)) for match in pattern.finditer(rest)]
        rest = pattern.sub(lambda m: " " * len(m.group(0)), rest)  # a figure read once is not read again
    distinct = []
    for figure in figures:
        if not any(_same_figure(figure, other) for other in distinct):
            distinct.append(figure)
    return [printed for printed, *_rest in distinct]


def _same_figure(a, b) -> bool:
    """Equal as printed, or a count and its percentage, rounded or cut to the printed digits ('21 of 22' and '95%',
    '39/128' and '30.4%')."""
    (_pa, va, ta, count_a), (_pb, vb, tb, count_b) = a, b
    if count_a != count_b:
        return abs(va - vb) <= (tb if count_a else ta) + 1e-9
    return abs(va - vb) <= 1e-9


def _ratio_figure(match):
    num, den = (float(g.replace(",", "")) for g in match.groups())
    return (num / den if den else num), 0.0, True


def _range_figure(match):
    low = float(match.group(1).replace(",", ""))
    return low / (100 if match.group(3) else 1), 0.0, False


def _amount_figure(match):
    raw, unit = match.group(1), match.group(2)
    scale = 100 if unit and "%" in unit or unit and "percent" in unit.lower() else 1
    return float(raw.replace(",", "")) / scale, 10 ** -_decimals(raw) / scale, False


def value_text_supports(value: float, text: str) -> bool:
    """Does the source's wording state this value (directly, as a percentage, a ratio, or a difference of two numbers)?

    Lenient on purpose: it catches contradictions (value 0.5 with '5%'), not style.
    """
    if value == 0 and _ZERO_WORDS.search(text):
        return True
    candidates = _candidates(text)
    if any(abs(number - value) <= tolerance + 1e-9 for number, tolerance in candidates):
        return True
    # Accuracy drops and gaps are often written as the two accuracies ('0.99 vs 0.34', '51% vs 66%').
    numbers = [n for n, _ in candidates]
    return any(abs(abs(a - b) - abs(value)) <= 0.0051 for i, a in enumerate(numbers) for b in numbers[i + 1:])
