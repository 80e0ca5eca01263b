"""Helpers shared by test modules (fixtures live in conftest.py):

- tiny synthetic data for the model, mask and training tests: real ``EncodedSplit`` splits in a
  small container that has what the training loop reads (splits, ``config.max_len``,
  ``n_classes``), and tiny configurations;
- the executors' small smoke grid (test_executors.py, test_slurm_cluster.py) and how two stores
  of it are compared.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch

from lthlib.core.config import DataConfig, ModelConfig, TrainConfig
from lthlib.data.prepare import EncodedSplit
from lthlib.experiment.arms import TICKET
from lthlib.experiment.grid import Grid
from lthlib.experiment.store import Store

N_SIGNAL = 3  # signal tokens per class


@dataclass
class TinyData:
    config: DataConfig
    train: EncodedSplit
    val: EncodedSplit
    test: EncodedSplit
    vocab: list
    class_names: list
    fingerprint: str = "tiny"

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


def make_split(n: int, n_classes: int, vocab_size: int, seed: int,
               min_len: int = 2, max_len: int = 24) -> EncodedSplit:
    """Examples of random lengths: background words plus 1-3 words that name the class."""
    g = torch.Generator().manual_seed(seed)
    first_background = 2 + N_SIGNAL * n_classes
    labels = torch.randint(0, n_classes, (n,), generator=g)
    lengths = torch.randint(min_len, max_len + 1, (n,), generator=g)
    pieces = []
    for i in range(n):
        length = int(lengths[i])
        ids = torch.randint(first_background, vocab_size, (length,), generator=g)
        n_signal = int(torch.randint(1, 4, (1,), generator=g))
        where = torch.randperm(length, generator=g)[:n_signal]
        signal = 2 + N_SIGNAL * int(labels[i]) + torch.randint(0, N_SIGNAL, (len(where),), generator=g)
        ids[where] = signal
        pieces.append(ids)
    tokens = torch.cat(pieces).to(torch.int32)
    offsets = torch.zeros(n + 1, dtype=torch.int64)
    offsets[1:] = torch.cumsum(lengths, 0)
    return EncodedSplit(tokens=tokens, offsets=offsets, labels=labels.to(torch.int64))


def tiny_data(n_classes: int = 2, n_train: int = 256, n_val: int = 64, n_test: int = 64,
              vocab_size: int = 60, seed: int = 0, max_len: int | None = None) -> TinyData:
    return TinyData(
        config=DataConfig(dataset="synthetic", protocol="default", max_vocab=vocab_size - 2,
                          max_len=max_len, synthetic_classes=n_classes if n_classes in (2, 4) else 2),
        train=make_split(n_train, n_classes, vocab_size, seed),
        val=make_split(n_val, n_classes, vocab_size, seed + 1),
        test=make_split(n_test, n_classes, vocab_size, seed + 2),
        vocab=["<pad>", "<unk>"] + [f"w{i}" for i in range(2, vocab_size)],
        class_names=[f"c{i}" for i in range(n_classes)],
        fingerprint=f"tiny-{n_classes}-{seed}")


def tiny_model_config(name: str = "cnn", **kw) -> ModelConfig:
    base = dict(name=name, embed_dim=8, n_filters=4, hidden_dim=8, n_layers=1, dropout=0.3)
    base.update(kw)
    return ModelConfig(**base)


def tiny_train_config(**kw) -> TrainConfig:
    base = dict(lr=1e-2, batch_size=16, epochs=3, eval_batch_size=64, device="cpu", bf16=True)
    base.update(kw)
    return TrainConfig(**base)



# ---------------------------------------------------------------------------------------------
# The executors' small smoke grid: one model, two arms, two seeds, one epoch, one level (two
# (dataset, model, seed) groups).  conftest.py's grid_reference is its local executor's store.
# ---------------------------------------------------------------------------------------------

GRID_ARMS = [TICKET, "random_reinit"]
GRID_SEEDS = [0, 1]
#: the same grid as ``lth run`` arguments
CLI_GRID = ["--profile", "smoke", "--models", "cnn", "--arms", ",".join(GRID_ARMS),
            "--seeds", ",".join(map(str, GRID_SEEDS)), "--set", "epochs=1", "levels=1"]
TIMING = ("train_seconds", "mask_search_seconds", "seconds")


def small_grid() -> Grid:
    return Grid.of("smoke", models=["cnn"], arms=GRID_ARMS, seeds=GRID_SEEDS, epochs=1, levels=1)


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    keep = [c for c in frame.columns if c not in TIMING]
    return frame[keep].sort_values(["config_hash", "level"]).reset_index(drop=True)


def same_rows(store: Store, reference: Store) -> None:
    """The runs, epochs and layers tables of two stores agree, timing columns aside."""
    for name in ("runs", "epochs", "layers"):
        pd.testing.assert_frame_equal(comparable(store.table(name)), comparable(reference.table(name)))
