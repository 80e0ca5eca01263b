"""The synthetic corpora: generated in code, no files, for the smoke profile and the tests.

    synthetic/default   :func:`synthetic_corpus`: 3,000 pool + 1,000 test, two classes (or
                        ``synthetic_classes``)
    synthetic_short     the same words and task in short texts (as SST-2 is to IMDb)
    synthetic_topics    four topics (as AG News is to both): the smoke profile's transfer pairs
"""
from __future__ import annotations

import random

from ...core.config import derive_seed
from .entry import DATASETS, Dataset, Protocol, RawExample, given_split

SYNTHETIC_VERSION = "synthetic-v1"
SYNTHETIC_SIZES = (3_000, 1_000)   # train pool, test
SYNTHETIC_MIX = dict(noise_words=400, cue_share=(0.08, 0.2), true_cue=0.9, negated=0.1, label_noise=0.05)


def _pseudo_words(rng: random.Random, n: int, taken: set[str]) -> list[str]:
    consonants, vowels = "bcdfghjklmnprstvwz", "aeiou"
    words = []
    while len(words) < n:
        word = "".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(rng.randint(2, 3)))
        if word not in taken:
            taken.add(word)
            words.append(word)
    return words


def synthetic_corpus(n_classes: int = 2, seed: int = 0, sizes: tuple[int, int] = SYNTHETIC_SIZES,
                     lengths: tuple[int, int] = (5, 60), domain: str = "") -> tuple[list[RawExample], list[str]]:
    """A deterministic, learnable but not trivial text classification task.

    Each class owns 12 cue words; texts (5 to 60 tokens) are mostly noise words drawn from a
    Zipf-like list of 400, with 8-20% cues: 90% from the true class (a tenth of those as
    ``not <cue of another class>``), 10% from another class.  Short texts carry fewer cues, so
    length matters; 5% of labels are flipped.  A bag-of-words naive Bayes gets about 86% (74% on
    texts under 20 tokens, 92% on those over 40), so ~85-95% is the expected range, not 100%.

    ``domain`` names another corpus of the same words and task (the same cue and noise words,
    other texts, drawn with their own seed, of ``lengths`` tokens): a transfer pair's other side.
    """
    rng = random.Random(derive_seed(seed, "synthetic", n_classes, SYNTHETIC_VERSION))
    taken = {"not"}
    cues = [_pseudo_words(rng, 12, taken) for _ in range(n_classes)]
    mix = SYNTHETIC_MIX
    noise = _pseudo_words(rng, mix["noise_words"], taken)
    weights = [1.0 / (rank + 1) ** 1.05 for rank in range(len(noise))]
    if domain:  # the same words, other texts
        rng = random.Random(derive_seed(seed, "synthetic", n_classes, SYNTHETIC_VERSION, domain))
    out = []
    total = sum(sizes)
    for i in range(total):
        label = rng.randrange(n_classes)
        length = rng.randint(*lengths)
        tokens = rng.choices(noise, weights=weights, k=length)
        n_cues = max(1, round(length * rng.uniform(*mix["cue_share"])))
        for _ in range(n_cues):
            pos = rng.randrange(length)
            if rng.random() < mix["true_cue"]:
                if rng.random() < mix["negated"]:   # "not <other class cue>" also points to the true class
                    others = [c for c in range(n_classes) if c != label]
                    tokens[pos] = "not " + rng.choice(cues[rng.choice(others)])
                else:
                    tokens[pos] = rng.choice(cues[label])
            else:
                other = rng.choice([c for c in range(n_classes) if c != label])
                tokens[pos] = rng.choice(cues[other])
        others = [c for c in range(n_classes) if c != label]
        observed = label if rng.random() >= mix["label_noise"] else rng.choice(others)
        split = "train" if i < sizes[0] else "test"
        out.append(RawExample(" ".join(tokens), observed, split, (i,)))
    return out, [f"class_{c}" for c in range(n_classes)]


DATASETS.register(Dataset(
    "synthetic", "Synthetic", classes=lambda cfg: [f"class_{c}" for c in range(cfg.synthetic_classes)],
    read=lambda cfg, protocol, progress: synthetic_corpus(cfg.synthetic_classes, cfg.split_seed)[0],
    protocols=(Protocol("default", (), given_split),), version=SYNTHETIC_VERSION))

# the smoke profile's transfer pairs: a corpus of the same words and task in short texts (as
# SST-2 is to IMDb), and a four-topic one (as AG News is to both)
DATASETS.register(Dataset(
    "synthetic_short", "Synthetic (short texts)", classes=lambda cfg: ["class_0", "class_1"],
    read=lambda cfg, protocol, progress: synthetic_corpus(2, cfg.split_seed, lengths=(3, 15), domain="short")[0],
    protocols=(Protocol("default", (), given_split),), version=SYNTHETIC_VERSION + "-short"))
DATASETS.register(Dataset(
    "synthetic_topics", "Synthetic (4 topics)", classes=lambda cfg: [f"topic_{c}" for c in range(4)],
    read=lambda cfg, protocol, progress: synthetic_corpus(4, cfg.split_seed, domain="topics")[0],
    protocols=(Protocol("default", (), given_split),), version=SYNTHETIC_VERSION + "-topics"))

