"""How results are named for a reader: datasets (with their split protocol), models, arms, and
the arms one comparison puts side by side.  Every name comes from a registry entry.

A dataset's label names its protocol when the protocol has a label of its own ("AG News
(official test set, re-split)"), so a number is never shown under a split it was not made on.
Tables key their rows by the registry names; ``protocols`` (dataset -> protocol) says which
protocol each dataset's rows come from, and defaults to a frame's ``protocol`` column, then to
the dataset's default protocol.
"""
from __future__ import annotations

from typing import Iterable, Mapping

import pandas as pd

from .arms import ARMS, TICKET, families
from .config import ConfigError
from .datasets import DATASETS
from .models import MODELS

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


def arm_label(arm: str) -> str:
    return ARMS.get(arm).display if arm in ARMS else arm


def arm_color(arm: str) -> str | None:
    return ARMS.get(arm).color if arm in ARMS else None


def all_arms() -> tuple[str, ...]:
    """Every registered arm in the report's order: the trunks, then the branches that hang off
    them, each in registration order."""
    return tuple(a.name for a in sorted(ARMS, key=lambda a: not a.is_trunk))


def comparison(family: str | None = None) -> tuple[str, ...]:
    """The arms one comparison shows: the winning-ticket trunk, the reference of every
    comparison, then the arms of ``family``; every arm (:func:`all_arms`) when ``family`` is
    'all'; every arm of the IMP study (all but the 'init' family, which notebook 06 reports
    on its own) when it is 'imp'."""
    if family == "all":
        return all_arms()
    if family == "imp":
        return tuple(name for name in all_arms() if ARMS.get(name).family != "init")
    members = families(family) if family else ()
    return (TICKET, *[name for name in members if name != TICKET])


def arm_names(arms: Iterable[str]) -> list[str]:
    """Arm names checked against the registry (an unknown one is a ConfigError listing them)."""
    return [ARMS.get(name).name for name in arms]
