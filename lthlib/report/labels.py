"""How results are named for a reader: datasets (with their split protocol), models and arms.
Every name comes from a registry entry.

A dataset's label names its protocol when the protocol has a label of its own ("AG News
(official test set, re-split)"), so a number is never shown under a split it was not made on.
Tables key their rows by the registry names; ``protocols`` (dataset -> protocol) says which
protocol each dataset's rows come from, and defaults to a frame's ``protocol`` column, then to
the dataset's default protocol.
"""
from __future__ import annotations

from typing import Mapping

import pandas as pd

from ..core.config import ConfigError, DataConfig
from ..data.datasets import DATASETS
from ..experiment.arms import ARMS
from ..nets.models import MODELS

Protocols = Mapping[str, str]


def protocols_of(frame: pd.DataFrame | None) -> dict[str, str]:
    """dataset -> protocol from a frame's ``protocol`` column (empty when it has none)."""
    if frame is None or frame.empty or "protocol" not in frame or "dataset" not in frame:
        return {}
    known = frame.dropna(subset=["protocol"]).drop_duplicates("dataset")
    return dict(zip(known["dataset"], known["protocol"]))


def dataset_label(dataset: str, protocol: str | None = None) -> str:
    """'IMDb', 'AG News (official test set, re-split)'; an unregistered name as it is."""
    if dataset not in DATASETS:
        return dataset
    entry = DATASETS.get(dataset)
    try:
        return entry.display_name(protocol or entry.default_protocol)
    except ConfigError:  # a protocol this build does not know: say which it was
        return f"{entry.display} ({protocol})"


def model_label(model: str) -> str:
    return MODELS.get(model).display if model in MODELS else model


def pair_label(dataset: str, model: str, protocols: Protocols | None = None) -> str:
    """'IMDb CNN': one dataset × model, the dataset under its protocol."""
    return f"{dataset_label(dataset, (protocols or {}).get(dataset))} {model_label(model)}"


def class_names(dataset: str, n_classes: int) -> list[str]:
    """The dataset's class names ('World', 'Sports', ...) when it has ``n_classes`` of them;
    else the class indices as text."""
    if dataset in DATASETS:
        try:
            names = DATASETS.get(dataset).classes(DataConfig(dataset=dataset, synthetic_classes=n_classes))
        except ConfigError:
            names = []
        if len(names) == n_classes:
            return list(names)
    return [str(c) for c in range(n_classes)]


def arm_label(arm: str) -> str:
    return ARMS.get(arm).display if arm in ARMS else arm


def arm_color(arm: str) -> str | None:
    return ARMS.get(arm).color if arm in ARMS else None
