"""IMDb (Maas et al. 2011): 50,000 labelled movie reviews, positive or negative.

Protocols (then a seeded ``val_fraction`` of the pool is held out for validation):

    imdb/study          all 50,000 labelled reviews pooled, seeded shuffle, 40,000 pool / 10,000
                        test -> 28,000 / 12,000 / 10,000 with val_fraction 0.3
    imdb/canonical      the given 25,000 / 25,000 -> 17,500 / 7,500 / 25,000

Parsing: the archive is streamed with :mod:`tarfile` (nothing extracted); only
``aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt`` are read, sorted by (split, label, id) so the
order never depends on the archive; a review is the member's content, its label its folder
(:data:`PIPELINE`, which a deployed ticket's manifest carries).
"""
from __future__ import annotations

import re
import tarfile
import zlib
from pathlib import Path

from ..sources import SOURCES, CorruptSource, Source
from .entry import DATASETS, Dataset, Protocol, RawExample, StudyNumbers, given_split, pooled_split, read_files
from .pipeline import TextPart, TextPipeline

_IMDB_MEMBER = re.compile(r"(?:\./)?aclImdb/(?P<split>train|test)/(?P<polarity>pos|neg)/"
                          r"(?P<id>\d+)_(?P<rating>\d+)\.txt")
_ARCHIVE = "imdb/aclImdb_v1.tar.gz"


def _member_name(example: RawExample) -> str:
    label, ident, rating = example.key
    return f"aclImdb/{example.split}/{('neg', 'pos')[label]}/{ident}_{rating}.txt"


#: a review is one archive member's whole content (utf-8, undecodable bytes replaced); its label
#: the folder it is in (the tokenizer turns its ``<br />`` tags into spaces)
PIPELINE = TextPipeline(
    reader={"format": "tar_members", "archive": "tar.gz", "members": _IMDB_MEMBER.pattern,
            "encoding": "utf-8", "errors": "replace"},
    text=(TextPart("content"),), label_field="polarity", labels={"neg": 0, "pos": 1},
    row_id="the member's name in the archive, without a leading './'",
    identify=lambda example: (_ARCHIVE, _member_name(example)))


def read_imdb(path: Path) -> list[RawExample]:
    """The 50,000 labelled reviews of an aclImdb tar.gz, streamed (unsup and the rest ignored)."""
    out = []
    try:
        with tarfile.open(path, mode="r|gz") as archive:
            for member in archive:
                match = _IMDB_MEMBER.fullmatch(member.name)
                if not match or not member.isfile():
                    continue
                split, _, ident, rating = match.groups()
                content = archive.extractfile(member).read().decode(PIPELINE.reader["encoding"],
                                                                    errors=PIPELINE.reader["errors"])
                fields = {"content": content, **match.groupdict()}
                text, label = PIPELINE.text_of(fields), PIPELINE.label_of(fields)
                out.append(RawExample(text, label, split, (label, int(ident), int(rating))))
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        raise CorruptSource(f"{path} is not a readable aclImdb tar.gz archive ({type(error).__name__}: "
                            f"{error}); delete it and fetch it again") from error
    if not out:
        raise CorruptSource(f"{path} holds no aclImdb/{{train,test}}/{{pos,neg}}/<id>_<rating>.txt files")
    out.sort(key=lambda e: (e.split != "train", e.key))
    return out


SOURCES.register(Source("imdb", _ARCHIVE.split("/")[1], "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
                        md5="7c2ac02c03563afcf9b574c7e56c153a"))

DATASETS.register(Dataset(
    "imdb", "IMDb", classes=lambda cfg: ["neg", "pos"],
    read=read_files(lambda path, split: read_imdb(path)),
    protocols=(Protocol("study", (_ARCHIVE,), pooled_split(0.2)),
               Protocol("canonical", (_ARCHIVE,), given_split, "canonical 25k/25k")),
    paper_lr=5e-3, pipeline=PIPELINE, paper_epochs={"cnn": 20},
    # the quick profile's cut for time (its docstring gives the costs): 3,000 training reviews at
    # 160 tokens (a third of the reviews whole; the median review is 199 tokens), 1,000 evaluated
    quick={"train_subsample": 3_000, "eval_subsample": 1_000, "max_len": 160, "epochs": 50},
    study={"cnn": StudyNumbers(87.04, 87.55, 36.0, 5_120_801),
           "lstm": StudyNumbers(90.60, 90.24, 86.6, 4_810_857)},
    study_late_rewinding={"cnn": StudyNumbers(87.04, 87.64, 48.8, 5_120_801),
                          "lstm": StudyNumbers(89.96, 90.49, 86.6, 4_810_857)}))
