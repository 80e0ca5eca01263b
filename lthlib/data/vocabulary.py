"""Words: the tokenizer of every model trained from scratch (:func:`tokenize`, version
:data:`TOKENIZER_VERSION`), its description for a reader without lthlib (:func:`tokenizer_spec`),
the vocabulary (:class:`Vocab`) and its two special ids.  :mod:`lthlib.data.prepare` (whose
docstring gives the rules) counts, encodes and caches with them; a pretrained model's WordPiece
is :mod:`lthlib.data.pretrained`'s.
"""
from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Sequence

PAD, UNK = 0, 1
SPECIALS = ("<pad>", "<unk>")
TOKENIZER_VERSION = "regex-v1"

# ---------------------------------------------------------------------------------------------
# Tokenizer and vocabulary
# ---------------------------------------------------------------------------------------------

#: IMDb's line breaks, a space before any tokenizer (WordPiece's too)
BR_TAG = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TOKEN = re.compile(r"\w+(?:'\w+)*|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Lower-cased words (inner apostrophes kept) and single punctuation characters."""
    return _TOKEN.findall(BR_TAG.sub(" ", text).lower())


def tokenizer_spec() -> dict:
    """How :func:`tokenize` cuts text and ids are assigned, for a reader without lthlib (a
    deployed ticket's manifest): ``normalize`` is a list of :mod:`lthlib.data.datasets.pipeline`
    cleaning steps, then the tokens are the matches of ``token_pattern``."""
    return {"version": TOKENIZER_VERSION, "function": "lthlib.data.prepare.tokenize",
            "steps": ["replace every match of br_pattern (case-insensitive) by a space", "lower-case",
                      "the tokens are the matches of token_pattern (Python re), in order",
                      "id = the token's position in the vocabulary, unk_id if absent; "
                      "an example with no tokens is [unk_id]"],
            "normalize": [{"op": "replace", "pattern": BR_TAG.pattern, "flags": ["IGNORECASE"], "with": " "},
                          {"op": "lower"}],
            "br_pattern": BR_TAG.pattern, "token_pattern": _TOKEN.pattern, "pad_id": PAD, "unk_id": UNK,
            "empty": "an example with no tokens is the one id unk_id"}


@dataclass
class Vocab:
    itos: list[str]
    _stoi: dict[str, int] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def stoi(self) -> dict[str, int]:
        if self._stoi is None:
            self._stoi = {word: i for i, word in enumerate(self.itos)}
        return self._stoi

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens: Iterable[str]) -> list[int]:
        get = self.stoi.get
        return [get(token, UNK) for token in tokens]

    def fingerprint(self) -> str:
        return hashlib.sha256("\n".join(self.itos).encode()).hexdigest()[:16]

    @classmethod
    def build(cls, counts: Counter, max_vocab: int | None = None) -> "Vocab":
        """Most frequent first, ties broken by the word, capped at ``max_vocab``; specials on top."""
        words = sorted((w for w in counts if w not in SPECIALS), key=lambda w: (-counts[w], w))
        if max_vocab is not None:
            words = words[:max_vocab]
        return cls(list(SPECIALS) + words)

    @classmethod
    def shared(cls, counts: Sequence[Counter]) -> "Vocab":
        """One vocabulary for several training splits' ``counts``: words ranked by the sum of their
        relative frequencies (count / the split's tokens), ties broken by the word; specials on
        top.  Exact: each sum is compared scaled by the product of the splits' token totals."""
        totals = [sum(c.values()) or 1 for c in counts]
        product = math.prod(totals)
        score: Counter = Counter()
        for split_counts, total in zip(counts, totals):
            scale = product // total
            for word, n in split_counts.items():
                score[word] += n * scale
        return cls.build(score)
