"""The checker's spaCy pipeline: a blank English pipeline with a sentencizer, a case-insensitive lookup
lemmatizer (spacy-lookups-data), two span_rulers whose patterns are generated from the vocabulary, and the
quantity extractor. No trained model is needed.

    sentencizer -> caveat_lemmatizer -> caveat_names (span_ruler, LOWER) -> caveat_cues (span_ruler, LEMMA)
                -> caveat_quantities

Names (models, families, labs, generic subjects) match on the lower-cased text, with typo-tolerant patterns for
multi-word model names; cues (behaviours, conditions, negators) match on lemmas as phrases, each with variants
that allow one small word between its words ("disable ITS oversight"). Phrase matching is a hash lookup per
token, so the rulers cost little however long the vocabulary grows.

Span labels written to doc.spans["caveat"] (the pattern id is the vocabulary id):
  MODEL, FAMILY, DEVELOPER, GENERIC, PLURAL   who the statement talks about
  BEHAVIOUR                                   what the model did
  CONTEXT, NEG_CONTEXT                        a condition stated, or stated as absent
  ANAPHOR_NEG                                 "without it": the condition named just before, absent
  ALL_RUNS, NEGATOR, REMOVAL, META            "of all runs"; "without", "not"; "remove"; "the figure", "the stat"
"""

from __future__ import annotations

import itertools
import json
import re
import warnings

import spacy
from spacy.language import Language
from spacy.pipeline import Lemmatizer
from spacy.tokens import Doc

import kb.check.quantities  # noqa: F401  (registers the caveat_quantities component)
from kb import schema

SPANS_KEY = "caveat"
# The small words that may sit between the words of a cue ("deactivate THIS oversight"), one at a time; a hyphen
# joins them into one word ("the ALLOW-SHUTDOWN instruction"), which the tokenizer splits into three.
GAP_WORDS = ("", "-", "the", "its", "a", "an", "this", "their", "it", "to", "that", "his", "her")
SHORT_GAP_WORDS = ("", "-", "the", "its", "a", "this", "their")  # for cues of three or more words
LEMMA_ROUNDS = 3


class LowercaseLemmatizer(Lemmatizer):
    """spaCy's lookup lemmatizer, keyed by the lower-cased token, applied until the lemma no longer changes.

    Lower-casing makes 'Tried' and 'tried' both 'try'. The fixed point makes a lemma and the words it comes from
    agree: the table maps 'matters' to 'matter' but 'matter' to 'matt', so a cue written 'matter' and a statement
    saying 'mattered' both end at 'matt'.
    """

    @classmethod
    def get_lookups_config(cls, mode: str):
        return (["lemma_lookup"], []) if mode == "lower" else super().get_lookups_config(mode)

    def lower_lemmatize(self, token) -> list[str]:
        table = self.lookups.get_table("lemma_lookup")
        lemma = token.lower_
        for _ in range(LEMMA_ROUNDS):
            lemma, previous = table.get(lemma, lemma), lemma
            if lemma == previous:
                break
        return [lemma]


@Language.factory("caveat_lemmatizer", default_config={"mode": "lower", "overwrite": True})
def make_lemmatizer(nlp, name, mode, overwrite):
    return LowercaseLemmatizer(nlp.vocab, None, name, mode=mode, overwrite=overwrite)


# ---------------------------------------------------------------- patterns from the vocabulary

def cue_variants(cue: str) -> list[str]:
    """The phrases a cue matches: its words as written, and with one small word between two of them."""
    words = cue.split()
    gaps = GAP_WORDS if len(words) <= 2 else SHORT_GAP_WORDS
    if len(words) > 3:
        return [cue]
    variants = []
    for fillers in itertools.product(gaps, repeat=len(words) - 1):
        parts = [words[0]]
        for filler, word in zip(fillers, words[1:]):
            parts += [filler, word] if filler else [word]
        variants.append(" ".join(parts))
    return variants


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


def name_patterns(kb, tokenize) -> list[dict]:
    """Who a statement is about: models (and their typos), families, labs, generic and sweeping subjects."""
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
    return patterns


def cue_patterns(kb) -> list[dict]:
    """What a statement says happened and under which conditions: behaviour and context cues, and lexicon words."""
    lex = kb.lexicon
    entries = [("ALL_RUNS", t, "all_runs") for t in lex.all_runs]
    entries += [("NEGATOR", t, "negator") for t in lex.negators]
    entries += [("REMOVAL", t, "removal") for t in lex.removal_verbs]
    entries += [("ANAPHOR_NEG", t, "anaphor") for t in [*lex.anaphora, *removal_anaphora(lex)]]
    entries += [("META", t, "meta") for t in lex.meta_words]
    entries += [("BEHAVIOUR", c, b.id) for b in kb.behaviours.values() for c in b.cues or []]
    entries += [("CONTEXT", c, k.id) for k in kb.context.values() for c in k.cues or []]
    entries += [("NEG_CONTEXT", c, k.id) for k in kb.context.values() for c in k.negations or []]
    entries += condition_phrase_cues(kb)
    seen, patterns = set(), []
    for label, cue, pid in entries:
        # An anaphor is a whole phrase already ("drop that line"); a small word inside it would make nonsense.
        for variant in [cue] if label == "ANAPHOR_NEG" else cue_variants(cue):
            if (label, variant, pid) not in seen:
                seen.add((label, variant, pid))
                patterns.append(_phrase(label, variant, pid))
    return patterns


def condition_phrase_cues(kb) -> list[tuple]:
    """The knowledge base's own words for each setting's conditions (the `phrase` a faithful report uses) are cues
    for their key: stated as so for a condition that held, as not so for one that was absent ("without the
    instruction"), since the phrase carries its own negation."""
    from kb.check.conditions import condition_state

    entries = []
    for setting in kb.settings.values():
        for key, condition in (setting.conditions or {}).items():
            state = condition_state(condition)
            if condition.phrase and state is not None and key in kb.context:
                entries.append(("NEG_CONTEXT" if state == "absent" else "CONTEXT", condition.phrase.lower(), key))
    return sorted(set(entries))


def removal_anaphora(lex) -> list[str]:
    """Each removal verb with each pointer as its object: "drop it", "remove that line", and for a verb with a
    particle both orders, "take that sentence out" and "take out that sentence"."""
    phrases = []
    for verb in lex.removal_verbs:
        head, *particle = verb.split()
        for pointer in lex.pointers:
            phrases += [f"{head} {pointer} {' '.join(particle)}", f"{verb} {pointer}"] if particle else [f"{verb} {pointer}"]
    return phrases


# ---------------------------------------------------------------- a bounded amount of work per text

# spaCy's tokenizer searches a whitespace-free run for prefixes and suffixes again after each one it strips, so its
# work grows with the square of the run's length: 20,000 emoji or '!?' took 50-80 s. Runs are cut into pieces of
# MAX_RUN characters first (a word or a URL is shorter; no cue or number is longer), which keeps the work linear.
MAX_RUN = 100
LONG_RUN = re.compile(rf"\S{{{MAX_RUN + 1},}}")
# The tokens of one text the pipeline runs over: a 20,000-character article has about 5,000; only a text of
# symbols or one-letter words has more, and nothing past this many is a report anyone reads.
MAX_TOKENS = 10_000


def tokenise(nlp, text: str) -> tuple[Doc, int]:
    """(the text's Doc, ready for nlp.pipe, and how many tokens it had): whitespace-free runs longer than MAX_RUN
    are tokenised in pieces (the Doc's text is still exactly the text), and a Doc over MAX_TOKENS tokens is cut
    there."""
    if LONG_RUN.search(text) is None:
        doc = nlp.make_doc(text)
    else:
        doc = Doc.from_docs([nlp.make_doc(piece) for piece in _pieces(text)], ensure_whitespace=False)
    tokens = len(doc)
    return (doc[:MAX_TOKENS].as_doc() if tokens > MAX_TOKENS else doc), tokens


def _pieces(text: str) -> list[str]:
    """The text in consecutive pieces: what lies between long runs, and each long run in MAX_RUN-character parts."""
    pieces, start = [], 0
    for run in LONG_RUN.finditer(text):
        pieces.append(text[start:run.start()])
        pieces += [text[i:min(i + MAX_RUN, run.end())] for i in range(run.start(), run.end(), MAX_RUN)]
        start = run.end()
    pieces.append(text[start:])
    return [piece for piece in pieces if piece]


def build_nlp(kb) -> Language:
    """The checker's pipeline, with patterns generated from the knowledge base's vocabulary."""
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("caveat_lemmatizer")
    nlp.get_pipe("caveat_lemmatizer").initialize()
    names = nlp.add_pipe("span_ruler", name="caveat_names",
                         config={"spans_key": SPANS_KEY, "phrase_matcher_attr": "LOWER", "overwrite": False})
    cues = nlp.add_pipe("span_ruler", name="caveat_cues",
                        config={"spans_key": SPANS_KEY, "phrase_matcher_attr": "LEMMA", "overwrite": False})
    with warnings.catch_warnings():
        # Phrase patterns pass through the lemmatizer on the way in; that is what the LEMMA ruler needs (spaCy W012).
        warnings.filterwarnings("ignore", message=r".*\[W012\]")
        names.add_patterns(name_patterns(kb, lambda text: [t.text for t in nlp.make_doc(text)]))
        cues.add_patterns(cue_patterns(kb))
    nlp.add_pipe("caveat_quantities")
    return nlp


def pipeline_key(kb) -> str:
    """Everything the pipeline is generated from (the models' names, the whole lexicon, the cue patterns): equal keys
    mean equal pipelines (the code is hashed apart)."""
    names = sorted((m.id, m.name, tuple(m.aliases or ())) for m in kb.models.values())
    lexicon = {name: getattr(kb.lexicon, name) for name in schema.LEXICON.names}
    return json.dumps([names, lexicon, cue_patterns(kb)], ensure_ascii=False, sort_keys=True, default=str)


def load_nlp(kb, cache_folder=None) -> Language:
    """The pipeline for kb: unpickled from cache_folder when an earlier run built the same one (about 8x faster than
    generating it), else built and stored there."""
    from kb.startup import cached

    return cached(cache_folder, "nlp", pipeline_key(kb), lambda: build_nlp(kb))


def pattern_lines(nlp) -> list[str]:
    """The generated patterns as JSONL lines (spaCy's own pattern format), for inspection and diffs."""
    return [json.dumps(pattern, ensure_ascii=False, sort_keys=True)
            for name in ("caveat_names", "caveat_cues") for pattern in nlp.get_pipe(name).patterns]
