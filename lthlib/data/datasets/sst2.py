"""SST-2 (the GLUE version of the Stanford Sentiment Treebank): sentences and phrases, positive
or negative.

Protocol (then a seeded ``val_fraction`` of the pool is held out for validation):

    sst2/glue           GLUE's train.tsv (67,349 rows) the pool, its dev.tsv (872) the test set
                        -> 47,144 / 20,205 / 872.  train.tsv holds the treebank's phrases as well
                        as whole sentences (many rows are a few words long); dev.tsv holds whole
                        sentences and is, GLUE's test labels not being public, the labelled test
                        set in practice.

Parsing: the tar.gz is streamed; only ``SST-2/train.tsv`` and ``SST-2/dev.tsv`` are read
(``test.tsv`` is unlabelled), tab-separated with the header ``sentence\tlabel``, quoting off
(a ``"`` is text), label 0 negative and 1 positive (the classes in IMDb's order).
"""
from __future__ import annotations

import csv
import io
import re
import tarfile
import zlib
from pathlib import Path
from typing import Iterable

from ..sources import SOURCES, CorruptSource, Source
from .entry import DATASETS, Dataset, Protocol, RawExample, given_split, read_files
from .pipeline import TextPart, TextPipeline

_SST2_MEMBER = re.compile(r"(?:\./)?SST-2/(train|dev)\.tsv")
_SST2_SPLIT = {"train": "train", "dev": "test"}   # dev.tsv is the labelled test set
_SST2_FILE = {"train": "SST-2/train.tsv", "test": "SST-2/dev.tsv"}

#: a row of train.tsv or dev.tsv (tab-separated, no quoting, a header) -> its sentence, as it
#: is, and its label (0 negative, 1 positive)
PIPELINE = TextPipeline(
    reader={"format": "delimited", "delimiter": "\t", "quoting": "none", "header": True, "encoding": "utf-8",
            "archive": "tar.gz", "members": _SST2_MEMBER.pattern},
    text=(TextPart("0"),), label_field="1", labels={"0": 0, "1": 1},
    row_id="'<member>:<n>': the archive member's name (no leading './') and the record's number in it, "
           "from 1, the header being 1 (Python's csv.reader)",
    identify=lambda example: ("sst2/SST-2.tar.gz", f"{_SST2_FILE[example.split]}:{example.key[0]}"))


def _sst2_rows(path: Path, member: str, lines: Iterable[str]) -> list[RawExample]:
    """The rows of one SST-2 tsv: header ``sentence\tlabel``, then ``<sentence>\t<0|1>``."""
    rows = csv.reader(lines, delimiter=PIPELINE.reader["delimiter"], quoting=csv.QUOTE_NONE)
    header = next(rows, None)
    if header != ["sentence", "label"]:
        raise CorruptSource(f"{path}: {member} should start with the header 'sentence<TAB>label', got {header!r}")
    split = _SST2_SPLIT[_SST2_MEMBER.fullmatch(member).group(1)]
    out = []
    for line, row in enumerate(rows, start=2):
        if not row:
            continue
        if len(row) != 2 or row[1] not in ("0", "1"):
            raise CorruptSource(f"{path}: {member}, line {line}: expected sentence<TAB>label (0 or 1), "
                                f"got {len(row)} field(s) {row[:3]!r}")
        out.append(RawExample(PIPELINE.text_of(row), PIPELINE.label_of(row), split, (line,)))
    return out


def read_sst2(path: Path) -> list[RawExample]:
    """SST-2's labelled rows from the tar.gz, streamed: train.tsv ('train'), then dev.tsv ('test')."""
    found: dict[str, list[RawExample]] = {}
    try:
        with tarfile.open(path, mode="r|gz") as archive:
            for member in archive:
                if member.isfile() and _SST2_MEMBER.fullmatch(member.name):
                    text = archive.extractfile(member).read().decode("utf-8")
                    found[member.name.removeprefix("./")] = _sst2_rows(path, member.name, io.StringIO(text, newline=""))
    except (tarfile.TarError, EOFError, OSError, zlib.error, UnicodeDecodeError, csv.Error) as error:
        raise CorruptSource(f"{path} is not a readable SST-2 tar.gz archive ({type(error).__name__}: "
                            f"{error}); delete it and fetch it again") from error
    missing = [name for name in ("SST-2/train.tsv", "SST-2/dev.tsv") if name not in found]
    if missing:
        raise CorruptSource(f"{path} holds no {' or '.join(missing)}")
    return found["SST-2/train.tsv"] + found["SST-2/dev.tsv"]


SOURCES.register(Source(
    "sst2", "SST-2.tar.gz", "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip",
    sha256="01285bf157bf742afcc3417f3380ccf7539b269562c29ae5a7f6eae39ab3386f",
    note="This checksum is the offline mirror's: a deterministic tar.gz of GLUE's SST-2/ "
         "folder, whose train/dev/test.tsv are byte-identical to those in GLUE's SST-2.zip "
         "(the zip itself is not this file; see the mirror's SOURCES.md)."))

DATASETS.register(Dataset(
    "sst2", "SST-2", classes=lambda cfg: ["neg", "pos"],
    read=read_files(lambda path, split: read_sst2(path)),
    protocols=(Protocol("glue", ("sst2/SST-2.tar.gz",), given_split),),
    paper_lr=1e-3, pipeline=PIPELINE,
    # Tokens per row (tokenize(), the mirror's files): train.tsv mean 10.1, median 7, 95% <= 28,
    # 99% <= 38, max 56 (40% are phrases of <= 5 tokens); dev.tsv mean 20.8, median 20, 95% <= 37,
    # 99% <= 43, max 50.  max_len 50 keeps every dev sentence and all but 37 training rows whole.
    # train_subsample 20,000 of the 47,144 training rows: ~200k tokens an epoch, about a sixth
    # of IMDb quick's (6,000 reviews, ~1.2M tokens at <= 256), so a level costs well under an
    # IMDb one.  eval_subsample 2,000 caps the validation hold-out (20,205 rows, mostly phrases)
    # and leaves the test set (dev.tsv, 872) whole.  Not measured in training (no CPU to spare).
    # epochs 50 with the quick profile's patience (3): training that converges, as IMDb's and AG News'.
    quick={"train_subsample": 20_000, "eval_subsample": 2_000, "max_len": 50, "epochs": 50}))
