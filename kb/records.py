"""Typed records of the knowledge base, generated from `kb.schema` so the two cannot drift apart.

Each record class has one attribute per schema field plus its provenance: `file` (path
relative to the root) and `line`. `KnowledgeBase` holds them all with the lookups the
graph, database, checker and publishers share.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, make_dataclass
from functools import cached_property
from pathlib import Path

from kb import schema


class Record:
    """What every record class shares: the provenance lookups."""

    def line_of(self, field_name: str) -> int:
        """The line `field_name` is written on, else the record's own line (e.g. for a field it leaves out)."""
        return self.lines.get(field_name, self.line) if self.lines else self.line


def _record_class(rtype: schema.RecordType):
    fields = [(f.name, object, field(default=None)) for f in rtype.fields]
    # Provenance: the file and line the record starts at, and the line of each of its fields.
    fields += [("file", str, field(default="")), ("line", int, field(default=0)), ("lines", dict, field(default_factory=dict))]
    cls = make_dataclass(rtype.name.title().replace("_", ""), fields, bases=(Record,), eq=False)
    cls.__module__ = __name__  # so pickle finds it here (kb.startup caches the loaded knowledge base)
    return cls


Source = _record_class(schema.SOURCE)
Condition = _record_class(schema.CONDITION)
Setting = _record_class(schema.SETTING)
Contrast = _record_class(schema.CONTRAST)
Claim = _record_class(schema.CLAIM)
Label = _record_class(schema.LABEL)
Report = _record_class(schema.REPORT)
Statement = _record_class(schema.STATEMENT)
Model = _record_class(schema.MODEL)
Behaviour = _record_class(schema.BEHAVIOUR)
ContextKey = _record_class(schema.CONTEXT_KEY)
Verdict = _record_class(schema.VERDICT)
Exclusion = _record_class(schema.EXCLUSION)
Lexicon = _record_class(schema.LEXICON)
Change = _record_class(schema.CHANGE)

CLASSES = {"source": Source, "condition": Condition, "setting": Setting, "contrast": Contrast, "claim": Claim,
           "label": Label, "report": Report, "statement": Statement, "model": Model, "behaviour": Behaviour,
           "context": ContextKey, "verdict": Verdict, "exclusion": Exclusion, "lexicon": Lexicon,
           "change": Change}
# Pickle looks a class up by its own name ("Context" for ContextKey).
globals().update({cls.__name__: cls for cls in CLASSES.values() if cls.__name__ not in globals()})


def applies_to(condition, claim) -> bool:
    """Whether a setting's condition held for this claim: its evaluation, model and the claim itself (see the
    condition's `behaviours`, `models` and `claims`; an empty list means every one)."""
    return all(not scope or value in scope for scope, value in ((condition.behaviours, claim.behaviour),
                                                                (getattr(condition, "models", None), claim.model),
                                                                (getattr(condition, "claims", None), claim.id)))


@dataclass
class KnowledgeBase:
    """Everything curated in the repository, keyed by id, in file order."""

    root: Path
    sources: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    claims: dict = field(default_factory=dict)
    statements: dict = field(default_factory=dict)
    models: dict = field(default_factory=dict)
    behaviours: dict = field(default_factory=dict)
    context: dict = field(default_factory=dict)
    verdicts: dict = field(default_factory=dict)
    exclusions: list = field(default_factory=list)
    changes: list = field(default_factory=list)  # corrections to published claims (changes.yaml), in file order
    lexicon: object = None
    claim_sources: dict = field(default_factory=dict)  # claim id -> source id (from the claims file it is in)
    setting_sources: dict = field(default_factory=dict)  # setting id -> source id

    def source_of(self, claim) -> object:
        return self.sources.get(self.claim_sources.get(claim.id))

    def setting_of(self, claim) -> object:
        return self.settings.get(claim.setting)

    def conditions_of(self, claim) -> dict:
        """The conditions the claim was measured under: its setting's, less those held only for other behaviours.
        The same dict each time for a claim of this knowledge base (read it, do not change it)."""
        if self.claims.get(claim.id) is claim:
            return self._conditions_by_claim[claim.id]
        return self._conditions_of(claim)

    @cached_property
    def _conditions_by_claim(self) -> dict:
        """claim id -> its conditions, worked out once: checking one statement asks for them thousands of times."""
        return {cid: self._conditions_of(claim) for cid, claim in self.claims.items()}

    def _conditions_of(self, claim) -> dict:
        setting = self.setting_of(claim)
        if not setting or not setting.conditions:
            return {}
        return {key: c for key, c in setting.conditions.items() if applies_to(c, claim)}

    @cached_property
    def changes_by_claim(self) -> dict:
        """claim id -> [its corrections], in file order."""
        index = defaultdict(list)
        for change in self.changes:
            index[change.claim].append(change)
        return dict(index)

    @cached_property
    def contrast_pairs(self) -> dict:
        """claim id -> [(other claim id, differs_by, note)], symmetric and de-duplicated."""
        pairs = defaultdict(dict)
        for claim in self.claims.values():
            for contrast in claim.contrasts or []:
                if contrast.claim not in self.claims:
                    continue
                pairs[claim.id].setdefault(contrast.claim, (contrast.differs_by, contrast.note))
                pairs[contrast.claim].setdefault(claim.id, (contrast.differs_by, contrast.note))
        return {cid: sorted((other, by, note) for other, (by, note) in others.items()) for cid, others in pairs.items()}

    def contrasts_of(self, claim_id: str) -> list:
        return self.contrast_pairs.get(claim_id, [])

    @cached_property
    def claims_by_pair(self) -> dict:
        """(model, behaviour) -> [claims], for lookups by what a statement names."""
        index = defaultdict(list)
        for claim in self.claims.values():
            index[(claim.model, claim.behaviour)].append(claim)
        return dict(index)

    @cached_property
    def claims_by_model(self) -> dict:
        """model id -> [claims], in file order (the checker's candidates for a report naming one model)."""
        index = defaultdict(list)
        for claim in self.claims.values():
            index[claim.model].append(claim)
        return dict(index)

    @cached_property
    def claims_by_source(self) -> dict:
        """source id -> [claims], in file order."""
        index = defaultdict(list)
        for claim in self.claims.values():
            index[self.claim_sources.get(claim.id)].append(claim)
        return dict(index)

    @cached_property
    def statements_by_claim(self) -> dict:
        """claim id -> [statements reporting it], in file order, each once."""
        index = defaultdict(list)
        for statement in self.statements.values():
            for claim_id in dict.fromkeys(statement.claims or []):
                index[claim_id].append(statement)
        return dict(index)
