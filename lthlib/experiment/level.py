"""One level: what it trains (:class:`Level`) and the ``metrics.json`` it leaves once trained.

The runner (:mod:`lthlib.experiment.runner`) builds a level from its arm's two strategies, trains
it, and records what :func:`level_metrics` makes of the result: the level's runs.csv row (who it
is, how sparse, how accurate, what its mask cost), its epochs, layers, collapse and test
predictions.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

from ..data.prepare import PreparedData
from ..machine.platform import cpu_fingerprint
from ..nets.collapse import collapsed_layers, network_collapsed
from ..nets.masks import Masks, layer_table, remaining_fraction
from .store import encode_classes
from .train import TrainResult


@dataclass
class Level:
    """What one level trains: a mask, the weights it starts from, and for how long."""
    index: int
    masks: Masks
    start: dict[str, torch.Tensor]
    epochs: int


def masked(state: dict[str, torch.Tensor], masks: Masks) -> dict[str, torch.Tensor]:
    return {name: value * masks[name].to(value.dtype) if name in masks else value.clone()
            for name, value in state.items()}


def theta0_share(start: dict[str, torch.Tensor], theta0: dict[str, torch.Tensor], masks: Masks) -> float:
    """The share of a level's surviving weights whose starting value is θ0's (1 for the winning
    ticket, about 0 for a full re-initialisation: the zero biases are all that stay)."""
    same = kept = 0
    for name, mask in masks.items():
        survivors = mask.bool()
        kept += int(survivors.sum())
        same += int(((start[name] == theta0[name]) & survivors).sum())
    return same / kept if kept else float("nan")


def level_metrics(level: Level, result: TrainResult, *, identity: dict, data: PreparedData, data_hash: str,
                  shapes: torch.nn.Module, theta0: dict[str, torch.Tensor], search: dict) -> dict:
    """A trained level's ``metrics.json``; ``identity`` (who it is) and ``search`` (what its
    mask cost: mask_search.json's fields) enter its row."""
    final = result.final_state
    params = [k for k, v in final.items() if k in level.masks or v.is_floating_point()]
    # cpu_fingerprint: the code this process's CPU libraries ran (README: bit for bit)
    row = {**identity, **cpu_fingerprint(), "shared_from": "",
           "remaining": remaining_fraction(level.masks),
           "remaining_without_embedding": remaining_fraction(
               {k: m for k, m in level.masks.items() if k != shapes.embedding_param}),
           "n_params": sum(final[k].numel() for k in params),
           "n_nonzero": sum(int(torch.count_nonzero(final[k])) for k in params),
           "best_epoch": result.best_epoch, "best_val_loss": result.best_val_loss,
           "best_val_acc": result.best_val_acc, "test_acc": result.test_acc,
           "final_test_acc": result.final_test_acc, "epochs_run": result.epochs_run,
           "train_seconds": result.train_seconds, "data_hash": data_hash,
           "theta0_share": theta0_share(level.start, theta0, level.masks),
           "n_train": len(data.train), "n_val": len(data.val), "n_test": len(data.test)}
    search = dict(search)
    row.update(mask_search_epochs=search.pop("mask_search_epochs", math.nan),
               mask_search_seconds=search.pop("mask_search_seconds", math.nan),
               early_bird_found=float(search.pop("early_bird_found", math.nan)),
               early_bird_epoch=search.pop("early_bird_epoch", math.nan),
               collapsed=network_collapsed(shapes, level.masks))
    return {"row": row, "epochs": result.epochs, "layers": layer_table(level.masks),
            "collapse": collapsed_layers(shapes, level.masks), "mask_distance": search.pop("mask_distance", []),
            "test_predictions": encode_classes(result.test_predictions),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
