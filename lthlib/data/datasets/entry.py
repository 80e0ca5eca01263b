"""What a dataset is: the :class:`Dataset` entry and its registry, the examples a parser reads,
split protocols, and reading a protocol's files.

A :class:`Dataset` is everything the library knows about one corpus; nothing else names a
dataset.  Adding one is registering an entry (see README, "Adding a dataset or a model").
A protocol splits the examples into a pool and a test set; then a seeded ``val_fraction`` of the
pool is held out for validation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import torch

from ...core.config import DataConfig, derive_seed
from ...core.registry import Registry
from ..sources import fetch

if TYPE_CHECKING:
    from .pipeline import TextPipeline


@dataclass
class RawExample:
    text: str
    label: int
    split: str          # the source's own split: train | test
    key: tuple = ()     # a sort key that fixes the order (e.g. label, id)


Split = tuple[list[int], list[int]]  # (pool for train + validation, test) as example indices


@dataclass(frozen=True)
class Protocol:
    name: str
    files: tuple[str, ...]                                        # source relpaths it reads
    split: Callable[[Sequence[RawExample], DataConfig], Split]
    label: str = ""       # shown after the dataset's name wherever its results appear


#: The reproduced study's two tables: its winning tickets (rewound to θ0), and the same with
#: "late rewinding" (to the end of dense training: this code's dense rewinding).
STUDY_TABLES = ("without_late_rewinding", "with_late_rewinding")


@dataclass(frozen=True)
class StudyNumbers:
    """The reproduced study's published row: test accuracy in %, the best ticket's sparsity (%
    of weights pruned), and the dense parameter count."""
    dense_acc: float
    ticket_acc: float
    ticket_sparsity: float
    n_params: int


@dataclass(frozen=True)
class Dataset:
    name: str
    display: str
    classes: Callable[[DataConfig], list[str]]
    read: Callable[[DataConfig, Protocol, bool], list[RawExample]]  # (cfg, protocol, progress)
    protocols: tuple[Protocol, ...]
    paper_lr: float = 1e-3                                        # the study's Adam learning rate
    paper_epochs: dict[str, int] = field(default_factory=dict)    # model -> epochs (default 10)
    study: dict[str, StudyNumbers] = field(default_factory=dict)  # model -> the study's row
    # model -> the study's row of its table *with* late rewinding (to the end of dense training)
    study_late_rewinding: dict[str, StudyNumbers] = field(default_factory=dict)
    quick: dict[str, Any] = field(default_factory=dict)  # the quick profile's settings (parameter names)
    quick_by_model: dict[str, dict[str, Any]] = field(default_factory=dict)  # model -> its own, on top
    version: str = ""                                             # enters the cache key
    #: how a row of its files becomes text and label (:mod:`.pipeline`), for a deployed ticket's
    #: manifest; None for a corpus with no files (generated in code)
    pipeline: "TextPipeline | None" = None

    @property
    def default_protocol(self) -> str:
        return self.protocols[0].name

    def protocol(self, name: str) -> Protocol:
        for protocol in self.protocols:
            if protocol.name == name:
                return protocol
        from ...core.config import ConfigError
        raise ConfigError(f"unknown protocol {name!r} for {self.name}; valid: "
                          f"{', '.join(p.name for p in self.protocols)}")

    def study_numbers(self, table: str) -> dict[str, StudyNumbers]:
        """model -> the study's row of one of its :data:`STUDY_TABLES` (an arm names the one
        it reproduces: :attr:`lthlib.experiment.arms.Arm.study_table`)."""
        if table not in STUDY_TABLES:
            from ...core.config import ConfigError
            raise ConfigError(f"unknown study table {table!r}; valid: {', '.join(STUDY_TABLES)}")
        return self.study_late_rewinding if table == STUDY_TABLES[1] else self.study

    def display_name(self, protocol: str | None = None) -> str:
        label = self.protocol(protocol).label if protocol else ""
        return f"{self.display} ({label})" if label else self.display

    def files(self, protocol: str | None = None) -> tuple[str, ...]:
        return self.protocol(protocol or self.default_protocol).files

    def n_classes(self, cfg: DataConfig) -> int:
        return len(self.classes(cfg))


DATASETS: Registry[Dataset] = Registry("dataset")


def dataset(name: str) -> Dataset:
    return DATASETS.get(name)


def permutation(n: int, seed: int) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))


def given_split(examples: Sequence[RawExample], cfg: DataConfig) -> Split:
    """The source's own train / test split."""
    return ([i for i, e in enumerate(examples) if e.split == "train"],
            [i for i, e in enumerate(examples) if e.split == "test"])


def pooled_split(test_share: float) -> Callable[[Sequence[RawExample], DataConfig], Split]:
    """Every example pooled, a seeded ``test_share`` of them the test set."""
    def split(examples: Sequence[RawExample], cfg: DataConfig) -> Split:
        perm = permutation(len(examples), derive_seed(cfg.split_seed, "study_split", cfg.dataset)).tolist()
        n_test = int(len(examples) * test_share)
        return perm[n_test:], sorted(perm[:n_test])
    return split


def stratified_split(test_share: float) -> Callable[[Sequence[RawExample], DataConfig], Split]:
    """A seeded ``test_share`` of each class the test set, the rest the pool (scikit-learn's
    stratified ``train_test_split``)."""
    def split(examples: Sequence[RawExample], cfg: DataConfig) -> Split:
        from sklearn.model_selection import train_test_split
        seed = derive_seed(cfg.split_seed, "stratified_split", cfg.dataset, cfg.protocol) % 2**32
        pool, test = train_test_split(range(len(examples)), test_size=test_share, random_state=seed,
                                      stratify=[e.label for e in examples])
        return sorted(pool), sorted(test)
    return split


def read_files(reader: Callable[[Path, str], list[RawExample]]):
    """A ``Dataset.read`` that reads each of a protocol's files with ``reader(path, split)``, the
    split named by the file ('train.csv' -> 'train')."""
    def read(cfg: DataConfig, protocol: Protocol, progress: bool) -> list[RawExample]:
        out: list[RawExample] = []
        for relpath in protocol.files:
            out += reader(fetch(relpath, progress=progress), Path(relpath).stem)
        return out
    return read


def load_examples(cfg: DataConfig, *, progress: bool = True) -> list[RawExample]:
    """Every labelled example a dataset's protocol reads (source split in ``.split``)."""
    entry = dataset(cfg.dataset)
    return entry.read(cfg, entry.protocol(cfg.protocol), progress)
