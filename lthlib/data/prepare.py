"""Text to tensors: tokenizer, vocabulary, encoded splits, and the fingerprinted cache.

Tokenizer (version :data:`TOKENIZER_VERSION`; it and :class:`Vocab` live in :mod:`lthlib.data.vocabulary`)
    Lower-case; IMDb's ``<br />`` tags become spaces; then one compiled regex,
    ``\\w+(?:'\\w+)*|[^\\w\\s]``: runs of word characters with inner apostrophes kept
    (``don't``, ``o'neill``), and every other non-space character as a token of its own
    (``!``, ``.``, ``(``).  No stemming, no stop words.

Vocabulary and encoding
    Counted on the training split only (after the validation hold-out), most frequent first,
    ties broken by the word, capped at ``max_vocab``; ids ``<pad>`` = 0 and ``<unk>`` = 1 come on
    top (so 50,002 / 25,002 for the study).  An example with no tokens becomes one ``<unk>``.

Shared vocabulary (``DataConfig.shared_vocab``, e.g. ``("imdb/study", "sst2/glue")``)
    One index space for several datasets, so a transfer pair reads the same embedding row for
    the same word: the vocabulary is built from the training splits of every member (each after
    its own validation hold-out, with the config's ``split_seed`` and ``val_fraction``), words
    ranked by the *sum over members of their relative frequency* in that member's training split
    (each dataset weighs the same whatever its size), ties broken by the word; specials on top,
    the cap at load as below.  Every member encodes with it, so id ``i`` is one word in each.
    Building it parses every member, so every member's cache is written at once.  ``()`` (the
    default) is the dataset's own vocabulary, as before.

Processed cache
    ``data/processed/<corpus fingerprint>/`` holds every split encoded with the *full* training
    vocabulary in frequency order (written to a temporary folder, renamed atomically).  The cap
    is then a clamp at load time (ids >= max_vocab + 2 -> ``<unk>``), so the CNN's 50,000 and
    the LSTM's 25,000 vocabularies share one tokenisation; the corpus fingerprint covers
    dataset, protocol, val_fraction, split_seed, synthetic_classes, tokenizer version and the
    source checksums, and with a shared vocabulary every member's such key (a config without
    one keeps the key it had).  :attr:`PreparedData.fingerprint` adds ``max_vocab``.  ``max_len``
    (truncation), ``train_subsample`` and ``eval_subsample`` (seeded subsets, compute reductions
    for the quick profile; the vocabulary is still that of the full training split) are applied
    on load and are in neither fingerprint.

WordPiece (``DataConfig.tokenizer``: a pretrained model's name)
    A pretrained Transformer reads its own ids: the text goes through the model's WordPiece
    tokenizer (:mod:`lthlib.data.pretrained`; ``[CLS] ... [SEP]``) and the vocabulary is the
    model's whole, in its id order (``[PAD]`` is 0 there too), whatever ``max_vocab`` says; the
    cache's key names the tokenizer file's checksum.  ``max_len`` keeps the first ids, ``[CLS]``
    among them (a long text loses its closing ``[SEP]``).

Where the examples come from (files, parsers, split protocols) is :mod:`lthlib.data.datasets`.
"""
from __future__ import annotations

import itertools
import json
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

import torch

from ..core.config import ConfigError, DataConfig, derive_seed, fingerprint
from ..machine import platform
from ..machine.files import atomic_folder
from .datasets import RawExample, dataset, load_examples, permutation
from .pretrained import pretrained, tokenizer_version, wordpiece_tokens, wordpiece_vocabulary
from .sources import source_identity

# the tokenizer and vocabulary lived here first; every name stays importable from this module
from .vocabulary import PAD, SPECIALS, TOKENIZER_VERSION, UNK, Vocab, tokenize, tokenizer_spec  # noqa: F401

CACHE_VERSION = 3  # 3: the stratified split is scikit-learn's


def processed_dir() -> Path:
    return platform.data_dir() / "processed"


# ---------------------------------------------------------------------------------------------
# Encoded splits
# ---------------------------------------------------------------------------------------------

def _gather(tokens: torch.Tensor, starts: torch.Tensor, lengths: torch.Tensor
            ) -> tuple[torch.Tensor, torch.Tensor]:
    offsets = torch.zeros(len(lengths) + 1, dtype=torch.int64)
    torch.cumsum(lengths, 0, out=offsets[1:])
    total = int(offsets[-1])
    shift = torch.repeat_interleave(starts - offsets[:-1], lengths, output_size=total)
    return tokens[torch.arange(total, dtype=torch.int64) + shift], offsets


@dataclass
class EncodedSplit:
    tokens: torch.Tensor   # int32, all examples' token ids concatenated
    offsets: torch.Tensor  # int64 (n+1,), example i is tokens[offsets[i]:offsets[i+1]]
    labels: torch.Tensor   # int64 (n,), classes 0..C-1

    def __len__(self) -> int:
        return int(self.labels.numel())

    def lengths(self) -> torch.Tensor:
        return self.offsets[1:] - self.offsets[:-1]

    def example(self, i: int) -> torch.Tensor:
        return self.tokens[int(self.offsets[i]):int(self.offsets[i + 1])]

    def subset(self, index: torch.Tensor) -> "EncodedSplit":
        index = torch.as_tensor(index, dtype=torch.int64)
        tokens, offsets = _gather(self.tokens, self.offsets[:-1][index], self.lengths()[index])
        return EncodedSplit(tokens, offsets, self.labels[index].clone())

    def truncated(self, max_len: int | None) -> "EncodedSplit":
        if max_len is None or len(self) == 0 or int(self.lengths().max()) <= max_len:
            return self
        if max_len < 1:
            raise ValueError(f"max_len must be >= 1, got {max_len}")
        tokens, offsets = _gather(self.tokens, self.offsets[:-1], self.lengths().clamp(max=max_len))
        return EncodedSplit(tokens, offsets, self.labels)

    def capped(self, n_ids: int) -> "EncodedSplit":
        """Ids >= ``n_ids`` become ``<unk>`` (a smaller vocabulary in the same frequency order)."""
        if len(self.tokens) == 0 or int(self.tokens.max()) < n_ids:
            return self
        tokens = torch.where(self.tokens >= n_ids, torch.tensor(UNK, dtype=self.tokens.dtype), self.tokens)
        return EncodedSplit(tokens, self.offsets, self.labels)

    def class_counts(self, n_classes: int) -> list[int]:
        return torch.bincount(self.labels, minlength=n_classes).tolist()

    @classmethod
    def encode(cls, docs: Sequence[list[str]], labels: Sequence[int], vocab: Vocab) -> "EncodedSplit":
        get = vocab.stoi.get
        lengths = [max(1, len(doc)) for doc in docs]
        flat = [get(t, UNK) for doc in docs for t in (doc or ("",))]  # "" is never a word -> <unk>
        offsets = torch.zeros(len(docs) + 1, dtype=torch.int64)
        torch.cumsum(torch.tensor(lengths, dtype=torch.int64), 0, out=offsets[1:])
        return cls(torch.tensor(flat, dtype=torch.int32), offsets, torch.tensor(list(labels), dtype=torch.int64))

    def to_dict(self) -> dict:
        return {"tokens": self.tokens, "offsets": self.offsets, "labels": self.labels}


@dataclass
class PreparedData:
    config: DataConfig
    train: EncodedSplit
    val: EncodedSplit
    test: EncodedSplit
    vocab: Vocab
    class_names: list[str]
    fingerprint: str
    corpus_fingerprint: str = ""
    timings: dict = field(default_factory=dict)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def splits(self) -> dict[str, EncodedSplit]:
        return {"train": self.train, "val": self.val, "test": self.test}

    def train_word_ids(self) -> torch.Tensor:
        """The sorted distinct ids (int64) of the loaded training split, after the cap, truncation
        and subsample: the embedding rows training reads (``<unk>`` among them when it occurs)."""
        return torch.unique(self.train.tokens).to(torch.int64)


# ---------------------------------------------------------------------------------------------
# prepare
# ---------------------------------------------------------------------------------------------

def vocab_members(cfg: DataConfig) -> list[DataConfig]:
    """The data configurations whose training splits make ``cfg``'s vocabulary when it is shared:
    one per ``shared_vocab`` entry, sorted, each with ``cfg``'s split settings (``[]`` for a
    vocabulary of its own).  ConfigError, before anything is read, for a malformed list or an
    unknown dataset or protocol."""
    if not cfg.shared_vocab:
        return []
    cfg.validate()
    members = []
    for entry in sorted(cfg.shared_vocab):
        name, protocol = entry.split("/")
        try:
            dataset(name).protocol(protocol)
        except ConfigError as error:
            raise ConfigError(f"shared_vocab entry {entry!r}: {error}") from None
        members.append(replace(cfg, dataset=name, protocol=protocol))
    return members


def _own_corpus_key(cfg: DataConfig) -> dict:
    entry = dataset(cfg.dataset)
    files = {relpath: source_identity(relpath) for relpath in entry.files(cfg.protocol)}
    key = {"cache_version": CACHE_VERSION, "dataset": cfg.dataset, "protocol": cfg.protocol,
           "val_fraction": cfg.val_fraction, "split_seed": cfg.split_seed,
           "synthetic_classes": cfg.synthetic_classes if entry.version else None,
           "synthetic_version": entry.version or None,
           "tokenizer": TOKENIZER_VERSION if cfg.tokenizer == "words" else tokenizer_version(cfg.tokenizer),
           "sources": files}
    return key


def corpus_key(cfg: DataConfig) -> dict:
    """Everything that fixes the cached encoding (not max_vocab, max_len, subsamples); with a
    shared vocabulary, every member's own key too (absent otherwise, so no existing key moves)."""
    key = _own_corpus_key(cfg)
    if cfg.shared_vocab:
        key["shared_vocab"] = [_own_corpus_key(member) for member in vocab_members(cfg)]
    return key


def data_fingerprint(cfg: DataConfig) -> str:
    return fingerprint({**corpus_key(cfg), "max_vocab": cfg.max_vocab}, length=16)


def split_indices(examples: Sequence[RawExample], cfg: DataConfig) -> dict[str, list[int]]:
    """Indices of train / val / test under the config's protocol (disjoint, seeded)."""
    pool, test = dataset(cfg.dataset).protocol(cfg.protocol).split(examples, cfg)
    order = permutation(len(pool), derive_seed(cfg.split_seed, "val_split", cfg.dataset, cfg.protocol))
    n_val = int(round(cfg.val_fraction * len(pool)))
    val = sorted(pool[i] for i in order[:n_val].tolist())
    train = sorted(pool[i] for i in order[n_val:].tolist())
    return {"train": train, "val": val, "test": test}


# the number of source parses; tests read it to see that a cache hit parses nothing
PARSE_COUNT = 0


@dataclass
class _Corpus:
    """One dataset's examples read, split and tokenised: what a vocabulary is counted on."""
    docs: list[list[str]]
    labels: list[int]
    index: dict[str, list[int]]     # train / val / test -> example indices
    timings: dict

    def train_counts(self) -> Counter:
        return Counter(itertools.chain.from_iterable(self.docs[i] for i in self.index["train"]))

    def encode(self, vocab: Vocab) -> dict[str, EncodedSplit]:
        return {name: EncodedSplit.encode([self.docs[i] for i in idx], [self.labels[i] for i in idx], vocab)
                for name, idx in self.index.items()}


def _tokenized(cfg: DataConfig, progress: bool) -> _Corpus:
    global PARSE_COUNT
    PARSE_COUNT += 1
    t0 = time.perf_counter()
    examples = load_examples(cfg, progress=progress)
    t1 = time.perf_counter()
    index = split_indices(examples, cfg)
    if cfg.tokenizer == "words":
        docs = [tokenize(e.text) for e in examples]
    else:
        docs = wordpiece_tokens(cfg.tokenizer, [e.text for e in examples])
    timings = {"read_s": t1 - t0, "tokenize_s": time.perf_counter() - t1}
    return _Corpus(docs, [e.label for e in examples], index, timings)


def _build(cfg: DataConfig, progress: bool) -> tuple[dict[str, EncodedSplit], list[str], dict]:
    corpus = _tokenized(cfg, progress)
    t0 = time.perf_counter()
    if cfg.tokenizer == "words":
        vocab = Vocab.build(corpus.train_counts())   # full training vocabulary; capped at load time
    else:
        vocab = Vocab(wordpiece_vocabulary(cfg.tokenizer))   # the pretrained model's, whole
    splits = corpus.encode(vocab)
    return splits, vocab.itos, {**corpus.timings, "encode_s": time.perf_counter() - t0}


def _build_shared(cfg: DataConfig, members: list[DataConfig], progress: bool
                  ) -> tuple[dict[str, EncodedSplit], list[str], dict]:
    """``cfg``'s splits encoded with the vocabulary shared by ``members``; the other members'
    caches are written on the way (their parsing is done)."""
    corpora = [_tokenized(member, progress) for member in members]
    t0 = time.perf_counter()
    vocab = Vocab.shared([corpus.train_counts() for corpus in corpora])
    own: dict[str, EncodedSplit] = {}
    for member, corpus in zip(members, corpora):
        splits = corpus.encode(vocab)
        if member.own_vocab_entry == cfg.own_vocab_entry:
            own = splits
        elif not (_cache_folder(member) / "data.pt").is_file():
            _write_cache(_cache_folder(member), splits, vocab.itos, corpus_key(member))
    timings = {name: sum(corpus.timings[name] for corpus in corpora) for name in ("read_s", "tokenize_s")}
    return own, vocab.itos, {**timings, "encode_s": time.perf_counter() - t0}


def _cache_folder(cfg: DataConfig) -> Path:
    return processed_dir() / fingerprint(corpus_key(cfg), length=16)


def _write_cache(folder: Path, splits: dict[str, EncodedSplit], itos: list[str], key: dict) -> None:
    def fill(tmp: Path) -> None:
        # tensors in data.pt; the vocabulary as text (tokens hold no whitespace), which loads far
        # faster than a pickled list through torch's weights-only unpickler
        torch.save({k: v.to_dict() for k, v in splits.items()}, tmp / "data.pt")
        (tmp / "vocab.txt").write_text("\n".join(itos), encoding="utf-8")
        (tmp / "meta.json").write_text(json.dumps({"key": key, "n": {k: len(v) for k, v in splits.items()},
                                                   "vocab_full": len(itos)}, indent=1))
    atomic_folder(folder, fill)


def _read_cache(folder: Path) -> tuple[dict[str, EncodedSplit], list[str]]:
    blob = torch.load(folder / "data.pt", weights_only=True)
    splits = {k: EncodedSplit(**v) for k, v in blob.items()}
    return splits, (folder / "vocab.txt").read_text(encoding="utf-8").split("\n")


def subsample_positions(size: int, n: int | None, seed: int, purpose: str = "train_subsample") -> torch.Tensor | None:
    """The positions (sorted) a seeded random ``n`` of ``size`` examples keep; None: all of them."""
    if n is None or n >= size:
        return None
    if n < 1:
        raise ConfigError(f"{purpose} must be positive, got {n}")
    return permutation(size, derive_seed(seed, purpose, n))[:n].sort().values


def subsample(split: EncodedSplit, n: int | None, seed: int, purpose: str = "train_subsample") -> EncodedSplit:
    """A seeded random ``n`` examples of ``split`` in their original order (all if n is None)."""
    keep = subsample_positions(len(split), n, seed, purpose)
    return split if keep is None else split.subset(keep)


def loaded_rows(cfg: DataConfig, *, progress: bool = False) -> tuple[list[RawExample], dict[str, list[int]]]:
    """The examples of ``cfg``'s files and, as indices into them, the rows each split of
    :func:`prepare` holds, in its order: ``train``, ``val`` and ``test`` as loaded (after the
    subsamples), ``pool`` (every row of the protocol's training and validation pool) and
    ``test_all`` (the protocol's test set before ``eval_subsample``).  Parses the files."""
    examples = load_examples(cfg, progress=progress)
    index = split_indices(examples, cfg)
    rows = {"pool": sorted(index["train"] + index["val"]), "test_all": list(index["test"])}
    for name, n in (("train", cfg.train_subsample), ("val", cfg.eval_subsample), ("test", cfg.eval_subsample)):
        keep = subsample_positions(len(index[name]), n, cfg.split_seed, f"{name}_subsample")
        rows[name] = list(index[name]) if keep is None else [index[name][i] for i in keep.tolist()]
    return examples, rows


_PREPARED: dict[str, PreparedData] = {}


def prepared(cfg: DataConfig, progress: bool = True) -> PreparedData:
    """:func:`prepare`, once per process for each data configuration."""
    key = fingerprint(cfg)
    if key not in _PREPARED:
        _PREPARED[key] = prepare(cfg, progress=progress)
    return _PREPARED[key]


def forget_prepared() -> None:
    """Empty :func:`prepared`'s cache (after ``LTH_DATA_DIR`` moved)."""
    _PREPARED.clear()


def prepare(cfg: DataConfig, *, progress: bool = True) -> PreparedData:
    """The encoded train / val / test splits and vocabulary for ``cfg`` (cached on disk); with
    ``cfg.shared_vocab``, the vocabulary of all its members (module docstring)."""
    cfg.validate()
    entry = dataset(cfg.dataset)
    entry.protocol(cfg.protocol)   # an unknown protocol is refused before anything is read
    if cfg.tokenizer != "words":
        pretrained(cfg.tokenizer)  # and so is an unknown tokenizer
    members = vocab_members(cfg)   # and so is a shared vocabulary naming one
    t0 = time.perf_counter()
    key = corpus_key(cfg)
    corpus_fp = fingerprint(key, length=16)
    folder = processed_dir() / corpus_fp
    timings: dict[str, float] = {}
    if (folder / "data.pt").is_file():
        splits, itos = _read_cache(folder)
        timings["cached"] = True
    else:
        splits, itos, timings = _build_shared(cfg, members, progress) if members else _build(cfg, progress)
        _write_cache(folder, splits, itos, key)
        timings["cached"] = False
    n_ids = min(len(itos), cfg.max_vocab + len(SPECIALS)) if cfg.tokenizer == "words" else len(itos)
    vocab = Vocab(itos[:n_ids])
    out = {name: split.capped(n_ids).truncated(cfg.max_len) for name, split in splits.items()}
    out["train"] = subsample(out["train"], cfg.train_subsample, cfg.split_seed, "train_subsample")
    for name in ("val", "test"):  # the quick profile evaluates on a seeded share
        out[name] = subsample(out[name], cfg.eval_subsample, cfg.split_seed, f"{name}_subsample")
    timings["total_s"] = time.perf_counter() - t0
    return PreparedData(cfg, out["train"], out["val"], out["test"], vocab, entry.classes(cfg),
                        fingerprint=data_fingerprint(cfg), corpus_fingerprint=corpus_fp, timings=timings)


if __name__ == "__main__":  # python -m lthlib.data.prepare [dataset] [protocol]: prepare and time it
    import sys
    args = sys.argv[1:]
    name = args[0] if args else "imdb"
    cfg = DataConfig(dataset=name, protocol=args[1] if len(args) > 1 else dataset(name).default_protocol)
    for attempt in ("first", "second"):
        start = time.perf_counter()
        data = prepare(cfg)
        print(f"{attempt} prepare: {time.perf_counter() - start:.2f} s {data.timings}; "
              f"train/val/test {len(data.train)}/{len(data.val)}/{len(data.test)}, vocab {len(data.vocab)}")
