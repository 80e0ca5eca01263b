"""Datasets: official sources, fetching, parsing, splits, tokenizer, vocabulary and encoding.

Sources and checksums
    IMDb ``aclImdb_v1.tar.gz`` (Maas et al. 2011) and AG News ``train.csv`` / ``test.csv`` (the
    CharCnn_Keras copies torchtext used) are pinned in :data:`SOURCES` with their official
    checksums.  :func:`fetch` finds a file in this order:

    1. the offline mirror ``$LTH_DATA_MIRROR/<dataset>/<file>`` when that folder's ``SHA256SUMS``
       lists it (the mirror's checksum is authoritative: its IMDb archive is a rebuilt one with a
       different md5); the file is verified and read in place, not copied;
    2. the download cache ``data/raw/<dataset>/<file>`` (under :func:`lthlib.config.data_dir`),
       verified against the official checksum;
    3. a download of the official URL (urllib, tqdm progress bar) to a temporary name in the same
       folder, verified, then moved into place with ``os.replace``.

    A checksum mismatch raises :class:`ChecksumError` naming the file, expected and got (the
    temporary file is removed).  No mirror and no network raises :class:`DataUnavailable`, which
    names the file, its URL and ``LTH_DATA_MIRROR``; the report catches it to skip a dataset.

Parsing
    IMDb: the archive is streamed with :mod:`tarfile` (nothing extracted); only
    ``aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt`` are read, sorted by (split, label, id)
    so the order never depends on the archive.  AG News: no header, quoted fields
    ``class (1-4), title, description``; text = title + " " + description, with the files'
    escapes undone (:func:`clean_ag_news`): ``\\$`` -> ``$``, any other backslash run (the
    files' line breaks, ``\\`` paragraph marks) -> a space, and HTML entities whose ``&`` was
    lost and left a space (``isn #39;t`` -> ``isn't``, `` #36;10`` -> ``$10``) and ordinary
    HTML entities (``&lt;``) decoded.

Split protocols (then a seeded ``val_fraction`` of train is held out for validation)
    imdb/study      all 50,000 labelled reviews pooled, seeded shuffle, 40,000 train / 10,000 test
                    -> 28,000 / 12,000 / 10,000 with val_fraction 0.3
    imdb/canonical  the given 25,000 / 25,000 -> 17,500 / 7,500 / 25,000
    ag_news/official the given 120,000 / 7,600 -> 84,000 / 36,000 / 7,600
    synthetic/default generated in code (:func:`synthetic_corpus`): 3,000 train pool + 1,000 test

Tokenizer (version :data:`TOKENIZER_VERSION`)
    Lower-case; IMDb's ``<br />`` tags become spaces; then one compiled regex,
    ``\\w+(?:'\\w+)*|[^\\w\\s]``: runs of word characters with inner apostrophes kept
    (``don't``, ``o'neill``), and every other non-space character as a token of its own
    (``!``, ``.``, ``(``).  No stemming, no stop words.

Vocabulary and encoding
    Counted on the training split only (after the validation hold-out), most frequent first,
    ties broken by the word, capped at ``max_vocab``; ids ``<pad>`` = 0 and ``<unk>`` = 1 come on
    top (so 50,002 / 25,002 for the study).  An example with no tokens becomes one ``<unk>``.

Processed cache
    ``data/processed/<corpus fingerprint>/`` holds every split encoded with the *full* training
    vocabulary in frequency order (written to a temporary folder, renamed atomically).  The cap
    is then a clamp at load time (ids >= max_vocab + 2 -> ``<unk>``), so the CNN's 50,000 and
    the LSTM's 25,000 vocabularies share one tokenisation; the corpus fingerprint covers
    dataset, protocol, val_fraction, split_seed, synthetic_classes, tokenizer version and the
    source checksums.  :attr:`PreparedData.fingerprint` adds ``max_vocab``.  ``max_len``
    (truncation) and ``train_subsample`` (a seeded subset of the training split, a compute
    reduction for the quick profile; the vocabulary is still that of the full training split)
    are applied on load and are in neither fingerprint.
"""
from __future__ import annotations

import csv
import hashlib
import html
import io
import itertools
import json
import os
import random
import re
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import torch

from . import config as _config
from .config import ConfigError, DataConfig, derive_seed, fingerprint

PAD, UNK = 0, 1
SPECIALS = ("<pad>", "<unk>")
TOKENIZER_VERSION = "regex-v1"
CACHE_VERSION = 2
MIRROR_ENV = "LTH_DATA_MIRROR"


class DataUnavailable(RuntimeError):
    """A source file can be neither found (cache, mirror) nor downloaded; the message says how."""


class ChecksumError(RuntimeError):
    """A file whose checksum differs from the pinned one."""


class CorruptSource(RuntimeError):
    """A source file that cannot be parsed (a truncated or damaged archive, a malformed CSV)."""


# ---------------------------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Source:
    dataset: str        # folder under data/raw and in the mirror
    filename: str
    url: str
    md5: str | None = None
    sha256: str | None = None

    @property
    def relpath(self) -> str:
        return f"{self.dataset}/{self.filename}"

    @property
    def identity(self) -> str:
        """The pinned official checksum ('sha256:...' preferred)."""
        return f"sha256:{self.sha256}" if self.sha256 else f"md5:{self.md5}"


_AG = "https://raw.githubusercontent.com/mhjabreel/CharCnn_Keras/master/data/ag_news_csv/"
SOURCES: dict[str, Source] = {s.relpath: s for s in (
    Source("imdb", "aclImdb_v1.tar.gz", "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
           md5="7c2ac02c03563afcf9b574c7e56c153a"),
    Source("ag_news", "train.csv", _AG + "train.csv", md5="b1a00f826fdfbd249f79597b59e1dc12",
           sha256="76a0a2d2f92b286371fe4d4044640910a04a803fdd2538e0f3f29a5c6f6b672e"),
    Source("ag_news", "test.csv", _AG + "test.csv", md5="d52ea96a97a2d943681189a97654912d",
           sha256="521465c2428ed7f02f8d6db6ffdd4b5447c1c701962353eb2c40d548c3c85699"),
    # GloVe 6B (Pennington et al. 2014): the md5 is the one published alongside the file by
    # mirrors of it; it could not be checked offline here.
    Source("glove", "glove.6B.zip", "https://nlp.stanford.edu/data/glove.6B.zip",
           md5="056ea991adb4740ac6bf1b6d9b50408b"),
)}

DATASET_FILES = {"imdb": ("imdb/aclImdb_v1.tar.gz",),
                 "ag_news": ("ag_news/train.csv", "ag_news/test.csv"),
                 "synthetic": ()}
CLASS_NAMES = {"imdb": ["neg", "pos"], "ag_news": ["World", "Sports", "Business", "Sci/Tech"]}


def raw_dir() -> Path:
    return _config.data_dir() / "raw"


def processed_dir() -> Path:
    return _config.data_dir() / "processed"


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(path: Path, identity: str, name: str | None = None) -> None:
    """Raise :class:`ChecksumError` unless ``path`` has checksum ``identity`` ('sha256:<hex>')."""
    algorithm, expected = identity.split(":", 1)
    got = file_digest(path, algorithm)
    if got != expected.lower():
        raise ChecksumError(f"checksum mismatch for {name or path}: expected {algorithm} {expected}, "
                            f"got {got} ({path})")


def mirror_dir() -> Path | None:
    value = os.environ.get(MIRROR_ENV, "").strip()
    return Path(value).expanduser() if value else None


def mirror_checksums(mirror: Path) -> dict[str, str]:
    """``SHA256SUMS`` of a mirror: relative path -> sha256 (empty when the file is missing)."""
    sums = mirror / "SHA256SUMS"
    if not sums.is_file():
        return {}
    out = {}
    for line in sums.read_text().splitlines():
        parts = line.strip().split(maxsplit=1)
        if len(parts) == 2:
            out[parts[1].lstrip("*").strip()] = parts[0].lower()
    return out


def _mirror_entry(relpath: str) -> tuple[Path, str] | None:
    mirror = mirror_dir()
    if mirror is None:
        return None
    sha = mirror_checksums(mirror).get(relpath)
    if sha is None or not (mirror / relpath).is_file():
        return None
    return mirror / relpath, f"sha256:{sha}"


def source_identity(relpath: str) -> str:
    """The checksum the file used for ``relpath`` will have: the mirror's when it lists the file,
    else the official one.  Known without reading the file, so a cache hit needs no source."""
    entry = _mirror_entry(relpath)
    return entry[1] if entry else SOURCES[relpath].identity


def download(url: str, dest: Path, *, progress: bool = True) -> None:
    """urllib download of ``url`` to ``dest`` with a tqdm bar (``dest`` is written directly:
    :func:`fetch` passes a temporary name)."""
    from tqdm import tqdm
    request = urllib.request.Request(url, headers={"User-Agent": "lthlib"})
    with urllib.request.urlopen(request, timeout=60) as response, open(dest, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name.split(".part")[0],
                  disable=not progress) as bar:
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
                bar.update(len(block))


def _unavailable_message(source: Source, error: BaseException | None) -> str:
    mirror = mirror_dir()
    where = (f"{MIRROR_ENV}={mirror} has no {source.relpath} listed in its SHA256SUMS"
             if mirror else f"{MIRROR_ENV} is not set")
    msg = (f"{source.relpath} is unavailable: not in {raw_dir() / source.dataset}, {where}, "
           f"and downloading {source.url} failed ({error}). Put the file at "
           f"{raw_dir() / source.relpath}, or set {MIRROR_ENV} to a folder holding "
           f"{source.relpath} and SHA256SUMS"
           + (f" (e.g. set {MIRROR_ENV}=../shared/data)." if source.dataset != "glove" else "."))
    if source.relpath == "ag_news/train.csv":
        msg += (" Note: the shared offline mirror has no AG News train.csv (120,000 rows, md5 "
                f"{source.md5}); AG News cannot be prepared without it.")
    return msg


def local_files_missing(dataset: str) -> list[str]:
    """The source files of ``dataset`` found neither in LTH_DATA_MIRROR nor the download cache
    (they would have to be downloaded).  Looks only; downloads nothing."""
    return [relpath for relpath in DATASET_FILES[dataset]
            if _mirror_entry(relpath) is None and not (raw_dir() / relpath).is_file()]


def require_prepared(unavailable: dict[str, str]) -> None:
    """Stop (data prep notebook) when a selected dataset could not be had, saying how to go on."""
    if not unavailable:
        return
    reasons = "\n".join(f"- {dataset}: {reason}" for dataset, reason in unavailable.items())
    raise DataUnavailable(
        f"{len(unavailable)} selected dataset(s) could not be prepared:\n{reasons}\n"
        "Provide the files, or leave the dataset(s) out with the datasets parameter, "
        "e.g. ./run_all.sh -p datasets '[\"imdb\"]'.")


def fetch(relpath: str, *, progress: bool = True) -> Path:
    """The verified local path of a source file: mirror (in place), download cache, or download."""
    source = SOURCES[relpath]
    entry = _mirror_entry(relpath)
    if entry is not None:
        path, identity = entry
        verify(path, identity, name=f"{relpath} in {MIRROR_ENV}")
        return path
    dest = raw_dir() / relpath
    if dest.is_file():
        verify(dest, source.identity, name=relpath)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".part", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        try:
            download(source.url, tmp, progress=progress)
        except (urllib.error.URLError, OSError, TimeoutError) as error:
            raise DataUnavailable(_unavailable_message(source, error)) from error
        verify(tmp, source.identity, name=f"{relpath} downloaded from {source.url}")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


# ---------------------------------------------------------------------------------------------
# Parsers
# ---------------------------------------------------------------------------------------------

_IMDB_MEMBER = re.compile(r"(?:\./)?aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt")


@dataclass
class RawExample:
    text: str
    label: int
    split: str          # the source's own split: train | test
    key: tuple = ()     # a sort key that fixes the order (e.g. label, id)


def read_imdb(path: Path) -> list[RawExample]:
    """The 50,000 labelled reviews of an aclImdb tar.gz, streamed (unsup and the rest ignored)."""
    out = []
    try:
        with tarfile.open(path, mode="r|gz") as archive:
            for member in archive:
                match = _IMDB_MEMBER.fullmatch(member.name)
                if not match or not member.isfile():
                    continue
                split, polarity, ident, rating = match.groups()
                text = archive.extractfile(member).read().decode("utf-8", errors="replace")
                label = 1 if polarity == "pos" else 0
                out.append(RawExample(text, label, split, (label, int(ident), int(rating))))
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        raise CorruptSource(f"{path} is not a readable aclImdb tar.gz archive ({type(error).__name__}: "
                            f"{error}); delete it and fetch it again") from error
    if not out:
        raise CorruptSource(f"{path} holds no aclImdb/{{train,test}}/{{pos,neg}}/<id>_<rating>.txt files")
    out.sort(key=lambda e: (e.split != "train", e.key))
    return out


_BACKSLASH = re.compile(r"\\+(\$)?")
_LOST_ENTITY = re.compile(r"(?:^| )#(\d{1,5});")   # the lost "&" left a space: "isn #39;t"


def clean_ag_news(text: str) -> str:
    """Undo the AG News escapes: ``\\$`` -> ``$``; other backslash runs -> a space;
    `` #39;``-style entities whose ``&`` became a space -> the character; HTML entities decoded."""
    text = _BACKSLASH.sub(lambda m: "$" if m.group(1) else " ", text)
    text = _LOST_ENTITY.sub(lambda m: chr(int(m.group(1))) if int(m.group(1)) < 0x110000 else m.group(0), text)
    return html.unescape(text)


def read_ag_news(path: Path, split: str) -> list[RawExample]:
    """AG News CSV rows: class (1-4), title, description; text = title + " " + description."""
    out = []
    with open(path, newline="", encoding="utf-8") as f:
        for row_number, row in enumerate(csv.reader(f), start=1):
            if not row:
                continue
            if len(row) < 3 or not row[0].strip().isdigit() or not 1 <= int(row[0]) <= 4:
                raise CorruptSource(f"{path}, row {row_number}: expected class (1-4), title, "
                                    f"description; got {row[:3]!r}")
            text = clean_ag_news(row[1]) + " " + clean_ag_news(" ".join(row[2:]))
            out.append(RawExample(text, int(row[0]) - 1, split, (row_number,)))
    if not out:
        raise CorruptSource(f"{path} holds no rows")
    return out


# ---------------------------------------------------------------------------------------------
# Synthetic data
# ---------------------------------------------------------------------------------------------

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


def synthetic_corpus(n_classes: int = 2, seed: int = 0, sizes: tuple[int, int] = SYNTHETIC_SIZES
                     ) -> tuple[list[RawExample], list[str]]:
    """A deterministic, learnable but not trivial text classification task.

    Each class owns 12 cue words; texts (5 to 60 tokens) are mostly noise words drawn from a
    Zipf-like list of 400, with 8-20% cues: 90% from the true class (a tenth of those as
    ``not <cue of another class>``), 10% from another class.  Short texts carry fewer cues, so
    length matters; 5% of labels are flipped.  A bag-of-words naive Bayes gets about 86% (74% on
    texts under 20 tokens, 92% on those over 40), so ~85-95% is the expected range, not 100%.
    """
    rng = random.Random(derive_seed(seed, "synthetic", n_classes, SYNTHETIC_VERSION))
    taken = {"not"}
    cues = [_pseudo_words(rng, 12, taken) for _ in range(n_classes)]
    mix = SYNTHETIC_MIX
    noise = _pseudo_words(rng, mix["noise_words"], taken)
    weights = [1.0 / (rank + 1) ** 1.05 for rank in range(len(noise))]
    out = []
    total = sum(sizes)
    for i in range(total):
        label = rng.randrange(n_classes)
        length = rng.randint(5, 60)
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
        observed = label if rng.random() >= mix["label_noise"] else rng.choice([c for c in range(n_classes) if c != label])
        split = "train" if i < sizes[0] else "test"
        out.append(RawExample(" ".join(tokens), observed, split, (i,)))
    return out, [f"class_{c}" for c in range(n_classes)]


# ---------------------------------------------------------------------------------------------
# Tokenizer and vocabulary
# ---------------------------------------------------------------------------------------------

_BR_TAG = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TOKEN = re.compile(r"\w+(?:'\w+)*|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Lower-cased words (inner apostrophes kept) and single punctuation characters."""
    return _TOKEN.findall(_BR_TAG.sub(" ", text).lower())


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


# ---------------------------------------------------------------------------------------------
# prepare
# ---------------------------------------------------------------------------------------------

def corpus_key(cfg: DataConfig) -> dict:
    """Everything that fixes the cached encoding (not max_vocab, max_len, train_subsample)."""
    files = {relpath: source_identity(relpath) for relpath in DATASET_FILES[cfg.dataset]}
    return {"cache_version": CACHE_VERSION, "dataset": cfg.dataset, "protocol": cfg.protocol,
            "val_fraction": cfg.val_fraction, "split_seed": cfg.split_seed,
            "synthetic_classes": cfg.synthetic_classes if cfg.dataset == "synthetic" else None,
            "synthetic_version": SYNTHETIC_VERSION if cfg.dataset == "synthetic" else None,
            "tokenizer": TOKENIZER_VERSION, "sources": files}


def data_fingerprint(cfg: DataConfig) -> str:
    return fingerprint({**corpus_key(cfg), "max_vocab": cfg.max_vocab}, length=16)


def load_raw(cfg: DataConfig, *, progress: bool = True) -> tuple[list[RawExample], list[str]]:
    """All labelled examples of a dataset (source split in ``.split``) and its class names."""
    if cfg.dataset == "imdb":
        return read_imdb(fetch("imdb/aclImdb_v1.tar.gz", progress=progress)), list(CLASS_NAMES["imdb"])
    if cfg.dataset == "ag_news":
        train = read_ag_news(fetch("ag_news/train.csv", progress=progress), "train")
        test = read_ag_news(fetch("ag_news/test.csv", progress=progress), "test")
        return train + test, list(CLASS_NAMES["ag_news"])
    if cfg.dataset == "synthetic":
        return synthetic_corpus(cfg.synthetic_classes, cfg.split_seed)
    raise ConfigError(f"unknown dataset {cfg.dataset!r}; valid: {', '.join(_config.DATASETS)}")


def _permutation(n: int, seed: int) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))


def split_indices(examples: Sequence[RawExample], cfg: DataConfig) -> dict[str, list[int]]:
    """Indices of train / val / test under the config's protocol (disjoint, seeded)."""
    if cfg.dataset == "imdb" and cfg.protocol == "study":
        perm = _permutation(len(examples), derive_seed(cfg.split_seed, "study_split", cfg.dataset)).tolist()
        n_test = len(examples) // 5                          # 50,000 -> 40,000 / 10,000
        pool, test = perm[n_test:], sorted(perm[:n_test])
    else:
        pool = [i for i, e in enumerate(examples) if e.split == "train"]
        test = [i for i, e in enumerate(examples) if e.split == "test"]
    order = _permutation(len(pool), derive_seed(cfg.split_seed, "val_split", cfg.dataset, cfg.protocol))
    n_val = int(round(cfg.val_fraction * len(pool)))
    val = sorted(pool[i] for i in order[:n_val].tolist())
    train = sorted(pool[i] for i in order[n_val:].tolist())
    return {"train": train, "val": val, "test": test}


# the number of source parses; tests read it to see that a cache hit parses nothing
PARSE_COUNT = 0


def _build(cfg: DataConfig, progress: bool) -> tuple[dict[str, EncodedSplit], list[str], list[str], dict]:
    global PARSE_COUNT
    PARSE_COUNT += 1
    timings = {}
    t0 = time.perf_counter()
    examples, class_names = load_raw(cfg, progress=progress)
    timings["read_s"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    index = split_indices(examples, cfg)
    docs = [tokenize(e.text) for e in examples]
    timings["tokenize_s"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    counts = Counter(itertools.chain.from_iterable(docs[i] for i in index["train"]))
    vocab = Vocab.build(counts)            # full training vocabulary; capped at load time
    splits = {name: EncodedSplit.encode([docs[i] for i in idx], [examples[i].label for i in idx], vocab)
              for name, idx in index.items()}
    timings["encode_s"] = time.perf_counter() - t2
    return splits, vocab.itos, class_names, timings


def _write_cache(folder: Path, splits: dict[str, EncodedSplit], itos: list[str],
                 class_names: list[str], key: dict) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".tmp", dir=folder.parent))
    try:
        # tensors in data.pt; the vocabulary as text (tokens hold no whitespace), which loads far
        # faster than a pickled list through torch's weights-only unpickler
        torch.save({k: v.to_dict() for k, v in splits.items()}, tmp / "data.pt")
        (tmp / "vocab.txt").write_text("\n".join(itos), encoding="utf-8")
        (tmp / "meta.json").write_text(json.dumps({"key": key, "class_names": class_names,
                                                   "n": {k: len(v) for k, v in splits.items()},
                                                   "vocab_full": len(itos)}, indent=1))
        try:
            os.replace(tmp, folder)
        except OSError:  # another process wrote it first: theirs is the same
            if not (folder / "data.pt").is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _read_cache(folder: Path):
    blob = torch.load(folder / "data.pt", weights_only=True)
    splits = {k: EncodedSplit(**v) for k, v in blob.items()}
    itos = (folder / "vocab.txt").read_text(encoding="utf-8").split("\n")
    meta = json.loads((folder / "meta.json").read_text())
    return splits, itos, meta["class_names"]


def subsample(split: EncodedSplit, n: int | None, seed: int, purpose: str = "train_subsample"
              ) -> EncodedSplit:
    """A seeded random ``n`` examples of ``split`` in their original order (all if n is None)."""
    if n is None or n >= len(split):
        return split
    if n < 1:
        raise ConfigError(f"{purpose} must be positive, got {n}")
    keep = _permutation(len(split), derive_seed(seed, purpose, n))[:n].sort().values
    return split.subset(keep)


def subsample_train(train: EncodedSplit, n: int | None, seed: int) -> EncodedSplit:
    return subsample(train, n, seed, "train_subsample")


def prepare(cfg: DataConfig, *, progress: bool = True) -> PreparedData:
    """The encoded train / val / test splits and vocabulary for ``cfg`` (cached on disk)."""
    cfg.validate()
    t0 = time.perf_counter()
    key = corpus_key(cfg)
    corpus_fp = fingerprint(key, length=16)
    folder = processed_dir() / corpus_fp
    timings: dict[str, float] = {}
    if (folder / "data.pt").is_file():
        splits, itos, class_names = _read_cache(folder)
        timings["cached"] = True
    else:
        splits, itos, class_names, timings = _build(cfg, progress)
        _write_cache(folder, splits, itos, class_names, key)
        timings["cached"] = False
    n_ids = min(len(itos), cfg.max_vocab + len(SPECIALS))
    vocab = Vocab(itos[:n_ids])
    out = {name: split.capped(n_ids).truncated(cfg.max_len) for name, split in splits.items()}
    out["train"] = subsample_train(out["train"], cfg.train_subsample, cfg.split_seed)
    for name in ("val", "test"):  # the quick profile evaluates on a seeded share
        out[name] = subsample(out[name], cfg.eval_subsample, cfg.split_seed, f"{name}_subsample")
    timings["total_s"] = time.perf_counter() - t0
    return PreparedData(cfg, out["train"], out["val"], out["test"], vocab, class_names,
                        fingerprint=data_fingerprint(cfg), corpus_fingerprint=corpus_fp, timings=timings)


# ---------------------------------------------------------------------------------------------
# Summaries for the data notebook
# ---------------------------------------------------------------------------------------------

def model_columns(model: str, data: PreparedData, model_cfg) -> dict[str, Any]:
    """What one model of a profile uses of a prepared dataset: vocabulary size, embedding, and
    for GloVe the coverage (NaN with the reason when the vectors are unavailable)."""
    cols: dict[str, Any] = {f"vocab_{model}": len(data.vocab),
                            f"embedding_{model}": (f"glove {model_cfg.embed_dim}d" if model_cfg.embedding == "glove"
                                                   else f"random {model_cfg.embed_dim}d")}
    if model_cfg.embedding == "glove":
        from .embeddings import glove_matrix
        try:
            _, coverage = glove_matrix(data.vocab, model_cfg.embed_dim)
            cols[f"coverage_{model}"] = round(float(coverage), 4)
        except DataUnavailable as error:
            cols[f"coverage_{model}"] = float("nan")
            cols[f"coverage_note_{model}"] = str(error)
    return cols


def summarise(prepared: Mapping[str, PreparedData], model_info: Mapping[str, Mapping[str, Any]] | None = None,
              unavailable: Mapping[str, str] | None = None):
    """One row per dataset x split: n, n per class, token length mean / median / p95 (as the
    models see them: after max_len and train_subsample), plus ``model_info[dataset]`` columns
    (vocabulary sizes, GloVe coverage); datasets in ``unavailable`` get one row with the reason."""
    import pandas as pd
    rows = []
    for dataset, data in prepared.items():
        for split_name, split in data.splits().items():
            lengths = split.lengths().double()
            row = {"dataset": dataset, "split": split_name, "n": len(split)}
            for c, count in enumerate(split.class_counts(data.n_classes)):
                row[f"n_class_{c}"] = count
            row["class_names"] = "|".join(data.class_names)
            row.update(mean_len=round(float(lengths.mean()), 1), median_len=float(lengths.median()),
                       p95_len=round(float(torch.quantile(lengths, 0.95)), 1), max_len=data.config.max_len,
                       protocol=data.config.protocol, status="prepared")
            row.update((model_info or {}).get(dataset, {}))
            rows.append(row)
    for dataset, reason in (unavailable or {}).items():
        rows.append({"dataset": dataset, "split": "-", "n": None, "status": f"unavailable: {reason}"})
    table = pd.DataFrame(rows)
    for column in table.columns:
        if column in ("n", "max_len") or column.startswith(("n_class_", "vocab_")):
            table[column] = table[column].astype("Int64")   # integers, blank where missing
    return table


def plot_lengths(prepared: Mapping[str, PreparedData]):
    """A histogram of token lengths per dataset (log x), one colour per split; returns the Figure."""
    import matplotlib.pyplot as plt
    import pandas as pd
    import seaborn as sns
    fig, axes = plt.subplots(1, max(1, len(prepared)), figsize=(5.5 * max(1, len(prepared)), 3.8), squeeze=False)
    for ax, (dataset, data) in zip(axes[0], prepared.items()):
        frame = pd.concat([pd.DataFrame({"tokens": s.lengths().numpy(), "split": name})
                           for name, s in data.splits().items()], ignore_index=True)
        sns.histplot(data=frame, x="tokens", hue="split", log_scale=True, element="step", stat="density",
                     common_norm=False, bins=40, ax=ax)
        ax.set_title(f"{dataset} ({data.config.protocol})")
        ax.set_xlabel("length in tokens" + (f" (truncated at {data.config.max_len})" if data.config.max_len else ""))
    if not prepared:
        axes[0][0].set_axis_off()
    fig.tight_layout()
    return fig


if __name__ == "__main__":  # python -m lthlib.data [dataset] [protocol]: prepare and time it
    import sys
    args = sys.argv[1:]
    cfg = DataConfig(dataset=args[0] if args else "imdb",
                     protocol=args[1] if len(args) > 1 else {"imdb": "study", "ag_news": "official"}.get(
                         args[0] if args else "imdb", "default"))
    for attempt in ("first", "second"):
        start = time.perf_counter()
        data = prepare(cfg)
        print(f"{attempt} prepare: {time.perf_counter() - start:.2f} s {data.timings}; "
              f"train/val/test {len(data.train)}/{len(data.val)}/{len(data.test)}, vocab {len(data.vocab)}")
