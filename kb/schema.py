"""The one schema of the knowledge base.

Every record type and field is declared here once, with a description. Validation
(`kb.validate`), the SQLite columns (`kb.database`), Datasette's column descriptions and
the explainer site's glossary are all generated from these declarations, so a field
added here shows up everywhere and a field described nowhere cannot exist.

The model follows Wikidata's statement model: a claim is a value with qualifiers (the
conditions of its setting) and references (its source and locator), plus a rank.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")
DATE_PATTERN = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")
URL_PATTERN = re.compile(r"^https?://[^\s]+$")

SOURCE_KINDS = ("paper", "system-card", "blog", "social-post", "news", "figure", "forum-post", "video", "other")
# The kinds written by the people who ran the study: a claim read in one of them can be `verified`. News stories,
# forum posts and videos report others' results, so a figure read there is `secondary`.
PRIMARY_SOURCE_KINDS = ("paper", "system-card", "blog", "social-post", "figure")
METRICS = ("rate", "conditional_rate", "accuracy_drop", "difference", "score", "qualitative")
VERIFICATION = ("verified", "parsed", "secondary", "partial", "unverified")
RANKS = ("preferred", "normal", "deprecated")
SCOPES = ("setting", "claim")
VERDICTS = ("ok", "missing_context", "misstated", "no_claim")
# A value the source gives only as a bound: '<1%' is an upper bound (value 0.01), '>85%' a lower one (value 0.85).
BOUNDS = ("upper", "lower")
# Evaluation folds: five for cross-validation and one locked test fold that no decision is made on.
# The locked fold lives in its own folder, read by `kb eval --locked` (and `kb folds`, which places statements) alone.
LOCKED_DIR = "statements/locked"
# A statement's fold is stored with it; one original page (url) never spans two folds.
FOLDS = ("cv1", "cv2", "cv3", "cv4", "cv5", "locked")
REGISTERS = ("headline", "lede", "article", "post", "comment", "newsletter", "video", "primary", "other")

# The closed interval a claim's value must lie in, by metric. Rates are fractions of runs;
# an accuracy drop can be negative (the model did *better* when told to do badly).
METRIC_RANGES = {
    "rate": (0.0, 1.0),
    "conditional_rate": (0.0, 1.0),
    "score": (0.0, 1.0),
    "accuracy_drop": (-1.0, 1.0),
    "difference": (-1.0, 1.0),
}

# Claim-scope context keys are conveyed by the number itself; the metric says which apply.
CLAIM_SCOPE_KEYS_BY_METRIC = {
    "rate": {"rate"},
    "conditional_rate": {"rate", "conditional_rate"},
    "accuracy_drop": {"accuracy_drop"},
    "difference": set(),
    "score": set(),
    "qualitative": {"rate"},
}


@dataclass(frozen=True)
class Field:
    """One field of a record: its YAML key, type, whether required, and what it means.

    kind is one of: id, text, date, url, number, count, flag (true/false), enum, enums, ref, refs, texts,
    record, records, mapping (of context key -> record), groups (of name -> list of ids or texts).
    """

    name: str
    kind: str
    description: str
    required: bool = False
    choices: tuple[str, ...] = ()
    target: str = ""  # for ref/refs: the record type referred to; for record(s)/mapping: the nested type
    nullable: bool = False

    @property
    def sql_type(self) -> type:
        return {"number": float, "count": int, "flag": int}.get(self.kind, str)


@dataclass(frozen=True)
class RecordType:
    name: str
    description: str
    fields: tuple[Field, ...]
    table: str = ""
    label_column: str = ""
    id_from_file: bool = False  # sources: the id is the file name
    extra: dict = field(default_factory=dict)

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]


def _f(name, kind, description, **kw) -> Field:
    return Field(name, kind, description, **kw)


SOURCE = RecordType(
    "source",
    "A document that results or statements come from: a paper, a system card, a blog post, a social post, a news story.",
    (
        _f("id", "id", "The source's id; equal to its file name in sources/ (without .yaml).", required=True),
        _f("kind", "enum", "What kind of document it is.", required=True, choices=SOURCE_KINDS),
        _f("title", "text", "The document's title.", required=True),
        _f("authors", "text", "Who wrote or published it.", required=True),
        _f("date", "date", "Publication date: YYYY, YYYY-MM or YYYY-MM-DD.", required=True),
        _f("version", "text", "Which version was read (arXiv version, PDF name)."),
        _f("url", "url", "Where to read it."),
        _f("notes", "text", "Anything a reader of this source should know (where the results sit, caveats)."),
    ),
    table="sources",
    label_column="title",
    id_from_file=True,
)

CONDITION = RecordType(
    "condition",
    "The value one context key takes in a setting: a qualifier of every claim measured under that setting.",
    (
        _f("key", "ref", "The context key this condition sets.", required=True, target="context"),
        _f("value", "text", "The condition's short value ('strong', 'none', 'present', 'absent', 'hard', 'system prompt').", required=True),
        _f("description", "text", "What the condition was, in plain words.", required=True),
        _f("quote", "text", "The source's own words for it, where available."),
        _f("phrase", "text", "Words a faithful report can use for it; the checker's suggestions use them."),
        _f("behaviours", "refs", "The evaluations (by behaviour) this condition held for, when the setting's runs span "
           "several evaluations and it held for only some of them; empty means every claim of the setting. A claim "
           "about another behaviour is not measured under it.", target="behaviour"),
        _f("models", "refs", "The models this condition held for, when the setting's claims span several models and it "
           "held for only some (o1's hidden reasoning, a checkpoint); empty means every model. A claim about another "
           "model is not measured under it.", target="model"),
        _f("claims", "refs", "The claims this condition held for, when it held for only some of the setting's claims "
           "(one table of a report, not another); empty means every claim of the setting.", target="claim"),
    ),
    table="conditions",
    label_column="value",
)

SETTING = RecordType(
    "setting",
    "A named set of experimental conditions shared by many claims (e.g. Apollo's strong-goal-nudge runs).",
    (
        _f("id", "id", "The setting's id, unique in the knowledge base.", required=True),
        _f("label", "text", "A short name for the setting.", required=True),
        _f("description", "text", "What was done in these runs, in a sentence or two.", required=True),
        _f("conditions", "mapping", "The conditions, by context key.", required=True, target="condition"),
        _f("variant", "flag", "True for a variant or control of a main setting (goals reversed, easy difficulty): the "
           "checker matches its claims only when a statement states what makes it different."),
        _f("defined_by", "refs", "For a variant: the context keys whose conditions make it a variant (goal_given for "
           "goals reversed); every claim measured under it keeps them in its key_context.", target="context"),
        _f("notes", "text", "Further details of the setup (prompts, baselines, caveats)."),
    ),
    table="settings",
    label_column="label",
)

CONTRAST = RecordType(
    "contrast",
    "A link between two claims that differ by one condition (with vs without nudge, with vs without the "
    "allow-shutdown instruction) or that report the same measurement from two sources.",
    (
        _f("claim", "ref", "The other claim.", required=True, target="claim"),
        _f("differs_by", "text", "The context key whose condition differs, or 'source' for the same measurement in another document.",
           required=True),
        _f("note", "text", "What differs, in words."),
    ),
    table="contrasts",
)

CLAIM = RecordType(
    "claim",
    "One quantitative (or explicitly qualitative) finding: a model's behaviour measured under a setting, "
    "with its value, source and locator.",
    (
        _f("id", "id", "The claim's id, unique in the knowledge base and stable (it is the claim's permalink).", required=True),
        _f("locator", "text", "Where in the source the value is (section, table, figure).", required=True),
        _f("model", "ref", "The model, by vocabulary id.", required=True, target="model"),
        _f("model_tested", "text", "The model or checkpoint exactly as the source names it."),
        _f("behaviour", "ref", "The behaviour, by vocabulary id.", required=True, target="behaviour"),
        _f("measure", "text", "Exactly what was measured, in the source's terms.", required=True),
        _f("metric", "enum", "What kind of number the value is: rate (share of runs), conditional_rate (share of runs "
           "in which an earlier event happened), accuracy_drop (difference in accuracy), difference (between two rates, in "
           "points), score, or qualitative (no number).",
           required=True, choices=METRICS),
        _f("value", "number", "The value as a fraction (0.05 for 5%) or number; empty when the source gives no single number.",
           nullable=True),
        _f("value_text", "text", "The value as the source prints it ('<1%', '7/100', '0.05', '1.00').", required=True),
        _f("bound", "enum", "upper when the source gives the value only as a ceiling ('<1%': value 0.01, at most), "
           "lower when only as a floor ('>85%'); empty when the value is the figure itself.", choices=BOUNDS,
           nullable=True),
        _f("n", "count", "The number of runs in this cell (the value's denominator), when the source gives it or a "
           "fixed count per cell.", nullable=True),
        _f("denominator", "text", "The runs or cases this cell's value is a share of, as the source gives it."),
        _f("setting", "ref", "The setting (conditions) the value was measured under.", required=True, target="setting"),
        _f("key_context", "refs", "The context keys a faithful report must convey (statements/LABELLING.md).", required=True,
           target="context"),
        _f("contrasts", "records", "Claims that differ from this one by one condition, or report it from another source.",
           target="contrast"),
        _f("verification", "enum", "How sure the number is: verified (primary text read), parsed (read from a badly "
           "extracted table), secondary (seen only in secondary sources), partial, unverified.", required=True,
           choices=VERIFICATION),
        _f("verification_note", "text", "How the number was verified, in words."),
        _f("rank", "enum", "preferred (the source's headline figure), normal, or deprecated (superseded or known wrong).",
           required=True, choices=RANKS),
        _f("quote", "text", "The source's sentence stating the result, where captured."),
        _f("notes", "text", "Anything else a reader of this claim should know."),
    ),
    table="claims",
    label_column="label",
)

LABEL = RecordType(
    "label",
    "A human judgement of a statement under the labelling guide (statements/LABELLING.md).",
    (
        _f("verdict", "enum", "The expected verdict.", choices=VERDICTS),
        _f("verdict_any", "enums", "Acceptable verdicts when more than one is defensible.", choices=VERDICTS),
        _f("missing", "refs", "Key context the statement drops.", target="context"),
        _f("present", "refs", "Context the statement conveys (must not be reported as dropped).", target="context"),
        _f("reports", "records", "The (model, behaviour) pairs it reports; a missing model or behaviour means any.",
           target="report"),
    ),
)

REPORT = RecordType(
    "report",
    "A (model, behaviour) pair a labelled statement reports.",
    (
        _f("model", "ref", "The model reported, or empty for any.", target="model"),
        _f("behaviour", "ref", "The behaviour reported, or empty for any.", target="behaviour"),
        _f("missing", "refs", "Key context dropped for this report alone, when the statement conveys it for another "
           "report (the label's own `missing` still lists it).", target="context"),
        _f("present", "refs", "Context conveyed for this report alone, when another report in the same statement "
           "drops it.", target="context"),
    ),
)

STATEMENT = RecordType(
    "statement",
    "A public statement (post, headline, article sentence) that reports results, with its human label when one exists.",
    (
        _f("id", "id", "The statement's id, unique in the knowledge base.", required=True),
        _f("text", "text", "The statement's text: a close paraphrase of the original that keeps what decides its label.",
           required=True),
        _f("who", "text", "Who said it, and where (outlet, platform).", required=True),
        _f("date", "date", "When it was said."),
        _f("url", "url", "Where it can be read."),
        _f("where_seen", "text", "Where it was seen, when there is no stable URL."),
        _f("source", "ref", "The discourse source it comes from, when that has a file in sources/.", target="source"),
        _f("claims", "refs", "The claims it reports.", target="claim"),
        _f("label", "record", "Its human label, when one exists.", target="label"),
        _f("register", "enum", "The kind of text the original was: headline, lede, post, comment…", choices=REGISTERS),
        _f("fold", "enum", "Its evaluation fold: cv1–cv5 for cross-validation, or locked (the test fold, run rarely).",
           choices=FOLDS),
        _f("notes", "text", "Curator's notes."),
    ),
    table="statements",
    label_column="text",
)

MODEL = RecordType(
    "model",
    "An AI model that claims are about.",
    (
        _f("id", "id", "The model's id (public contract: the checker reports it).", required=True),
        _f("name", "text", "The model's name.", required=True),
        _f("developer", "text", "The lab that made it.", nullable=True),
        _f("aliases", "texts", "How statements name it."),
        _f("note", "text", "What a reader should know about this model id."),
    ),
    table="models",
    label_column="name",
)

BEHAVIOUR = RecordType(
    "behaviour",
    "A kind of behaviour that evaluations measure.",
    (
        _f("id", "id", "The behaviour's id (public contract: the checker reports it).", required=True),
        _f("label", "text", "Its name.", required=True),
        _f("definition", "text", "What counts as this behaviour.", required=True),
        _f("phrase", "text", "How a faithful report says what the model did (past tense verb phrase).", required=True),
        _f("cues", "texts", "Lemma phrases by which the checker recognises it in a statement."),
        _f("note", "text", "What a reader should know about this behaviour id."),
    ),
    table="behaviours",
    label_column="label",
)

CONTEXT_KEY = RecordType(
    "context",
    "A kind of condition a number depends on (a context key).",
    (
        _f("id", "id", "The context key (public contract: the checker reports it).", required=True),
        _f("label", "text", "Its name.", required=True),
        _f("scope", "enum", "setting: described by a setting's conditions; claim: conveyed by the claim's metric.",
           required=True, choices=SCOPES),
        _f("definition", "text", "What the condition is.", required=True),
        _f("present_when", "text", "When a statement counts as conveying it."),
        _f("phrase", "text", "Default words a faithful report can use for it."),
        _f("implied_by", "refs", "Context keys whose presence implies this one.", target="context"),
        _f("cues", "texts", "Lemma phrases that convey the condition."),
        _f("negations", "texts", "Lemma phrases that state the condition was absent."),
        _f("paraphrases", "texts", "Sentences that convey the condition, compared by meaning."),
        _f("per_evaluation", "flag", "True when the condition differs between the evaluations of one setting (an "
           "oversight config exists only in the oversight-subversion runs): a setting whose claims span several "
           "behaviours must name the behaviours it held for."),
        _f("note", "text", "What a reader should know about this key."),
    ),
    table="context_keys",
    label_column="label",
)

VERDICT = RecordType(
    "verdict",
    "A verdict `kb check` can give a statement.",
    (
        _f("id", "enum", "The verdict.", required=True, choices=VERDICTS),
        _f("label", "text", "Its name.", required=True),
        _f("definition", "text", "When it is given.", required=True),
    ),
    table="verdicts",
    label_column="label",
)

LEXICON = RecordType(
    "lexicon",
    "Words the checker needs that are not models, behaviours or context keys (see vocabulary/lexicon.yaml).",
    (
        _f("families", "groups", "A bare family name and the models it could mean.", required=True, target="model"),
        _f("developers", "groups", "A lab and the ways statements name it.", required=True),
        _f("generic_models", "texts", "Singular words for an unnamed model ('the AI').", required=True),
        _f("plural_models", "texts", "Plural or sweeping subjects ('AI models').", required=True),
        _f("model_nouns", "texts", "Nouns that make a percentage a share of models.", required=True),
        _f("all_runs", "texts", "Phrases that present a rate as a share of all runs.", required=True),
        _f("negators", "texts", "Words that negate a following context cue.", required=True),
        _f("removal_verbs", "texts", "Verbs that negate the context cue that is their object ('remove the nudge').",
           required=True),
        _f("anaphora", "texts", "Negated references to the condition mentioned just before ('without it').", required=True),
        _f("pointers", "texts", "Objects of a removal verb that point back at that condition ('drop IT').", required=True),
        _f("meta_words", "texts", "Words that make a sentence about a result's reporting rather than a report of it.",
           required=True),
        _f("run_nouns", "texts", "What a rate can be a share of and still be a result ('5% of RUNS', '96% of MODELS'); "
           "singular, lower case.", required=True),
        _f("test_nouns", "texts", "Nouns after a number that say it counts test runs ('in 84% of TRIALS'); singular, "
           "lower case.", required=True),
    ),
)

EXCLUSION = RecordType(
    "exclusion",
    "A reference finding deliberately left out of the knowledge base, with the reason.",
    (
        _f("finding", "text", "The id of the finding in the reference file.", required=True),
        _f("reason", "text", "Why it is left out.", required=True),
    ),
)

# A claim's fields a correction can name, besides "conditions.<context key>" (the claim's condition for that key).
CHANGE = RecordType(
    "change",
    "A correction to a published claim: which field changed, from what to what, when, why and on whose authority.",
    (
        _f("date", "date", "When the correction was made: YYYY-MM-DD.", required=True),
        _f("claim", "ref", "The claim corrected.", required=True, target="claim"),
        _f("field", "text", "The claim's field that changed (value, value_text, bound, n, denominator, setting, behaviour, "
           "key_context, contrasts, …), or 'conditions.<context key>' for one of the conditions it was measured under, "
           "or 'claim' for a claim added.", required=True),
        _f("old", "text", "The field's value before, as written in the data (empty when it had none)."),
        _f("new", "text", "The field's value after, as written in the data now (empty when it has none)."),
        _f("why", "text", "Why it changed, in a sentence.", required=True),
        _f("source", "ref", "The source the correction rests on.", required=True, target="source"),
        _f("locator", "text", "Where in that source."),
    ),
    table="changes",
)

RECORD_TYPES = {t.name: t for t in (SOURCE, CONDITION, SETTING, CONTRAST, CLAIM, LABEL, REPORT, STATEMENT, MODEL,
                                    BEHAVIOUR, CONTEXT_KEY, VERDICT, LEXICON, EXCLUSION, CHANGE)}

# What each kind of file holds: its top-level keys and the record type of each.
# A "list" entry holds a list of records; "ref" a single id; "record" a single record.
FILE_LAYOUTS = {
    "vocabulary/models.yaml": {"models": ("list", "model")},
    "vocabulary/behaviours.yaml": {"behaviours": ("list", "behaviour")},
    "vocabulary/context.yaml": {"context": ("list", "context")},
    "vocabulary/verdicts.yaml": {"verdicts": ("list", "verdict")},
    "vocabulary/lexicon.yaml": {"lexicon": ("record", "lexicon")},
    "claims": {"source": ("ref", "source"), "settings": ("list", "setting"), "claims": ("list", "claim")},
    "statements": {"statements": ("list", "statement")},
    "exclusions.yaml": {"excluded": ("list", "exclusion")},
    "changes.yaml": {"changes": ("list", "change")},
}

# Which record type a reference (ref/refs field) points at, and the word used in messages.
REF_TARGETS = {
    "source": "sources/<id>.yaml",
    "setting": "the settings declared in claims/",
    "claim": "the claims in claims/",
    "model": "vocabulary/models.yaml",
    "behaviour": "vocabulary/behaviours.yaml",
    "context": "vocabulary/context.yaml",
}
