"""The checker's spaCy pipeline: a blank English pipeline with a sentencizer, a case-insensitive lookup
lemmatizer (spacy-lookups-data), a span_ruler whose patterns are generated from the vocabulary, and the
quantity extractor. No trained model is needed.

Span labels written to doc.spans["caveat"] (the pattern id is the vocabulary id):
  MODEL, FAMILY, DEVELOPER, GENERIC, PLURAL   who the statement talks about
  BEHAVIOUR                                   what the model did
  CONTEXT, NEG_CONTEXT                        a condition stated, or stated as absent
  ANAPHOR_NEG                                 "without it": the condition named just before, absent
  ALL_RUNS, NEGATOR, META                     "of all runs"; "without", "not"; "the figure", "the stat"
"""

from __future__ import annotations

import json
import warnings

import spacy
from spacy.language import Language
from spacy.pipeline import Lemmatizer

import kb.check.quantities  # noqa: F401  (registers the caveat_quantities component)

SPANS_KEY = "caveat"
# Small words that may sit between the words of a cue ("deactivate THIS 'oversight mechanism'").
GAP_WORDS = ["the", "its", "this", "that", "a", "an", "their", "his", "her", "own", "'", '"', "‘", "’", "“", "”",
             "so-called", "his/her", "it", "to"]


class LowercaseLemmatizer(Lemmatizer):
    """spaCy's lookup lemmatizer, keyed by the lower-cased token so 'Tried' and 'tried' both give 'try'."""

    @classmethod
    def get_lookups_config(cls, mode: str):
        return (["lemma_lookup"], []) if mode == "lower" else super().get_lookups_config(mode)

    def lower_lemmatize(self, token) -> list[str]:
        table = self.lookups.get_table("lemma_lookup")
        return [table.get(token.lower_, token.lower_)]


@Language.factory("caveat_lemmatizer", default_config={"mode": "lower", "overwrite": True})
def make_lemmatizer(nlp, name, mode, overwrite):
    return LowercaseLemmatizer(nlp.vocab, None, name, mode=mode, overwrite=overwrite)


# ---------------------------------------------------------------- patterns from the vocabulary

def _cue_pattern(cue: str, lemmatize) -> list[dict]:
    """A lemma phrase as a token pattern that tolerates small words between its words ('disable (its) oversight').

    `lemmatize(text)` gives (token, lemma) for the tokens the pipeline makes of a word ('goal-directed' -> goal, -,
    directed/direct). Cues are written as lemmas, but the lookup table maps some lemmas elsewhere ('matter' -> 'matt'),
    so a token matches when its lemma is either the cue word or that word's lemma.
    """
    pattern = []
    for i, word in enumerate(w for w in cue.split() if w):
        if i:
            pattern.append({"LOWER": {"IN": GAP_WORDS}, "OP": "*"})
        pattern += [{"LEMMA": {"IN": sorted({token.lower(), lemma})}} for token, lemma in lemmatize(word)]
    return pattern


def _phrase(label: str, text: str, pid: str) -> dict:
    return {"label": label, "pattern": text, "id": pid}


def _fuzzy_name(name: str, model_id: str, tokenize) -> dict | None:
    """A typo-tolerant pattern for a multi-word model name ('o1-preivew', 'Claude 3.5 Sonet'): its long words may be
    misspelled, its short ones (version numbers, '-') must be exact, so 'o1' never turns into 'o3'."""
    tokens = tokenize(name)
    if len(tokens) < 2 or not any(len(t) >= 5 and t.isalpha() for t in tokens):
        return None
    pattern = [{"LOWER": {"FUZZY": t.lower()}} if len(t) >= 5 and t.isalpha() else {"LOWER": t.lower()} for t in tokens]
    return {"label": "MODEL", "pattern": pattern, "id": model_id}


def vocabulary_patterns(kb, lemmatize, tokenize=None) -> list[dict]:
    """All span_ruler patterns, generated from vocabulary/ (models, behaviours, context, lexicon)."""
    lex = kb.lexicon
    patterns = []
    for model in kb.models.values():
        names = dict.fromkeys([model.name, *(model.aliases or [])])
        patterns += [_phrase("MODEL", name, model.id) for name in names]
        patterns += [p for name in names if (p := _fuzzy_name(name, model.id, tokenize))]
    patterns += [_phrase("FAMILY", name, name) for name in lex.families]
    patterns += [_phrase("DEVELOPER", alias, dev) for dev, aliases in lex.developers.items() for alias in aliases]
    patterns += [_phrase("GENERIC", t, "generic") for t in lex.generic_models]
    patterns += [_phrase("PLURAL", t, "plural") for t in lex.plural_models]
    patterns += [_phrase("ALL_RUNS", t, "all_runs") for t in lex.all_runs]
    patterns += [_phrase("NEGATOR", t, "negator") for t in lex.negators]
    patterns += [_phrase("ANAPHOR_NEG", t, "anaphor") for t in lex.anaphora]
    patterns += [_phrase("META", t, "meta") for t in lex.meta_words]
    for behaviour in kb.behaviours.values():
        patterns += [{"label": "BEHAVIOUR", "pattern": _cue_pattern(c, lemmatize), "id": behaviour.id}
                     for c in behaviour.cues or []]
    for key in kb.context.values():
        patterns += [{"label": "CONTEXT", "pattern": _cue_pattern(c, lemmatize), "id": key.id} for c in key.cues or []]
        patterns += [{"label": "NEG_CONTEXT", "pattern": _cue_pattern(c, lemmatize), "id": key.id}
                     for c in key.negations or []]
    return patterns


def _lemmatizer_for(nlp):
    """Lemmatize one cue word the way the pipeline will lemmatize the statement's tokens."""
    component = nlp.get_pipe("caveat_lemmatizer")

    def lemmatize(word: str) -> list[tuple[str, str]]:
        return [(token.text, component.lower_lemmatize(token)[0]) for token in nlp.make_doc(word)]

    return lemmatize


def build_nlp(kb) -> Language:
    """The checker's pipeline, with patterns generated from the knowledge base's vocabulary."""
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("caveat_lemmatizer")
    nlp.get_pipe("caveat_lemmatizer").initialize()
    ruler = nlp.add_pipe("span_ruler", config={"spans_key": SPANS_KEY, "phrase_matcher_attr": "LOWER",
                                               "overwrite": False, "validate": True})
    with warnings.catch_warnings():
        # Phrase patterns pass through the lemmatizer on the way in; harmless for LOWER matching (spaCy W012).
        warnings.filterwarnings("ignore", message=r".*\[W012\]")
        ruler.add_patterns(vocabulary_patterns(kb, _lemmatizer_for(nlp), lambda text: [t.text for t in nlp.make_doc(text)]))
    nlp.add_pipe("caveat_quantities")
    return nlp


def pattern_lines(nlp) -> list[str]:
    """The generated patterns as JSONL lines (spaCy's own pattern format), for inspection and diffs."""
    return [json.dumps(pattern, ensure_ascii=False, sort_keys=True) for pattern in nlp.get_pipe("span_ruler").patterns]
