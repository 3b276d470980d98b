"""Rules that look across records: vocabulary ids, references, ranges, value texts, key context.

Each rule is a function `rule(kb, parts) -> iterable of Problem`, registered in RULES, so
a new integrity rule is added, not wired in (the pattern of Our World in Data's etl sweeps).
"""

from __future__ import annotations

import re
from collections import defaultdict

from kb import schema
from kb.problems import Problem, allowed_list, did_you_mean

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
def locked_fold_sealed(kb, parts):
    """The locked fold lives in statements/locked/ and only there: a folder that nothing but `kb eval --locked`
    reads, so no build, page or fit can see it by accident."""
    from kb.validate import LOCKED_DIR

    for statement in kb.statements.values():
        in_locked_dir = statement.file.startswith(LOCKED_DIR + "/")
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
        now = current_text(kb, claim, change.field)
        if (change.new or "") != now:
            yield _problem(change, "new", "E037", f"says {change.field} became {_quoted(change.new)}, but the claim "
                           f"now has {_quoted(now)}", "make 'new' what the data says now, or record a later change",
                           label)


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
