"""A deterministic firehose-like corpus for `benchmarks/scan_throughput.py` and the scan tests.

Three kinds of text, mixed in a fixed order from a seeded generator:

  1%  statements that report results: the faithful wording of each claim (kb.wording), and headline-style
      paraphrases built from a claim's model, behaviour phrase and value, some without their conditions;
  4%  AI chatter that reports none: product news, benchmark scores, funding, opinions, naming the same models
      and labs, often with a percentage;
  95% unrelated prose: weather, sport, cooking, finance, travel, with numbers of their own.

Nothing here is copied from anywhere; the chatter and prose are templates filled from small word lists.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import random
from pathlib import Path

PROSE_SUBJECTS = ["The city council", "Our local bakery", "The regional rail operator", "A small fishing town",
                  "The school's robotics club", "The museum", "Farmers in the valley", "The weather service",
                  "The home team", "A neighbourhood library", "The central bank", "Hotel owners on the coast",
                  "The county hospital", "Commuters", "The orchestra", "A family-run vineyard", "The marathon organisers"]
PROSE_VERBS = ["reported", "announced", "expects", "celebrated", "warned about", "is planning", "measured",
               "published", "recorded", "voted on", "reviewed", "finished"]
PROSE_OBJECTS = ["a record harvest", "new opening hours", "rainfall well above the seasonal average",
                 "a four-day festival", "ticket prices for the spring season", "repairs to the old bridge",
                 "the quarterly budget", "a recipe contest", "a delay on the northern line", "a new cycling path",
                 "its annual report", "the final match of the season", "a drop in heating costs", "the summer programme"]
PROSE_TAILS = ["Attendance was up {n}% on last year.", "Around {n} volunteers helped out over the weekend.",
               "Prices rose {n} percent, the third rise this year.", "Temperatures reached {n} degrees by noon.",
               "The team won {a} out of {b} games this month.", "About {n}% of residents said they were satisfied.",
               "Bake the loaf for {n} minutes, then let it cool.", "The trip takes {n} hours by coach.",
               "Shares closed {n}% higher on Friday.", "Only one in {a} tickets is still available.",
               "Organisers expect {n} thousand visitors.", "The vote passed with {n} percent in favour."]
CHATTER = ["{model} scored {n}% on the new coding benchmark, {lab} said in a blog post.",
           "{lab} cut the price of {model} by {n}% for developers starting next month.",
           "Hands-on with {model}: it writes decent unit tests and answers {n}% faster than last year's version.",
           "{lab} raised another round; {n}% of its revenue now comes from API customers using {model}.",
           "A survey found {n}% of software teams use {model} or a similar assistant every day.",
           "{model} tops the math leaderboard with {n}% accuracy, up from {m}% for its predecessor.",
           "Is {model} worth the upgrade? I switched my newsletter drafts to it and saved about {n} minutes a day.",
           "{lab} opens a new office in Dublin and plans to hire {n} engineers to work on {model}.",
           "AI adoption among small businesses grew {n}% this year, with chatbots the most common use.",
           "Thread: my favourite prompts for {model} when planning a trip, from packing lists to train times.",
           "{model} now supports a context window {n} times larger, and image input in {a} out of {b} regions.",
           "Benchmarks aren't everything: {model} got {n}% on the reading test but still can't count the r's in strawberry."]
HEADLINES = ["{model} {phrase} in {value} of tests, researchers say.",
             "New research: {model} {phrase} {value} of the time.",
             "Wow. {model} {phrase} in {value} of cases according to the latest safety report.",
             "Safety researchers found that {model} {phrase}."]
START = dt.date(2024, 12, 2)
DAYS = 365


def _value(value: float) -> str:
    percent = value * 100
    return f"{percent:.0f}%" if abs(percent - round(percent)) < 1e-9 else f"{percent:.1f}%"


def reporting_texts(kb) -> list[str]:
    """Texts that report a result: each claim's faithful wording, and headlines built from its parts."""
    from kb.wording import faithful_sentence

    out = []
    for claim in sorted(kb.claims.values(), key=lambda c: c.id):
        out.append(faithful_sentence(kb, claim))
        if claim.value is None or claim.metric not in ("rate", "conditional_rate"):
            continue
        model, phrase = kb.models[claim.model].name, kb.behaviours[claim.behaviour].phrase
        for template in HEADLINES:
            out.append(template.format(model=model, phrase=phrase, value=_value(claim.value)))
    return out


def generate(kb, count: int, seed: int = 13):
    """(id, date, text) for `count` texts: 1 in 100 reports a result, 4 in 100 are AI chatter, the rest prose."""
    rng = random.Random(seed)
    reporting = reporting_texts(kb)
    models = sorted(m.name for m in kb.models.values() if m.developer)
    labs = sorted(kb.lexicon.developers)
    for index in range(count):
        slot = index % 100
        date = (START + dt.timedelta(days=rng.randrange(DAYS))).isoformat()
        n, m, a = rng.randint(2, 95), rng.randint(2, 95), rng.randint(2, 9)
        b = a + rng.randint(1, 20)
        if slot == 0:
            text = rng.choice(reporting)
        elif slot <= 4:
            text = rng.choice(CHATTER).format(model=rng.choice(models), lab=rng.choice(labs), n=n, m=m, a=a, b=b)
        else:
            text = " ".join([f"{rng.choice(PROSE_SUBJECTS)} {rng.choice(PROSE_VERBS)} {rng.choice(PROSE_OBJECTS)}.",
                             rng.choice(PROSE_TAILS).format(n=n, a=a, b=b),
                             rng.choice(PROSE_TAILS).format(n=m, a=a, b=b)])
        yield f"t{index:07d}", date, text


def write_jsonl(kb, folder: Path, count: int, shards: int = 4, seed: int = 13, compress: bool = False) -> list[Path]:
    """The corpus as `shards` JSONL files (gzip-compressed with compress) under folder; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".jsonl.gz" if compress else ".jsonl"
    paths = [folder / f"part-{i:03d}{suffix}" for i in range(shards)]
    handles = [gzip.open(p, "wt", encoding="utf-8") if compress else p.open("w", encoding="utf-8") for p in paths]
    try:
        per_shard = -(-count // shards)
        for index, (tid, date, text) in enumerate(generate(kb, count, seed)):
            handles[index // per_shard].write(json.dumps({"id": tid, "date": date, "text": text}) + "\n")
    finally:
        for handle in handles:
            handle.close()
    return paths
