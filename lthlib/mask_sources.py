"""Where a branch's mask comes from, beyond the ticket's own: a score of θ0 (SNIP, GraSP,
SynFlow) or an early-bird mask drawn during dense training.

Each source returns the mask and what finding it cost (``search``): the epochs of training spent
(0 for pruning at initialisation: a few scoring passes only), the seconds, and for early-bird
tickets when the mask settled and the distance curve.  The runner saves ``search`` beside the
mask, so a resumed level still reports it.  Both prune to the winning-ticket trunk's sparsity at
the same level: a global fraction of the ticket's total survivors under ``init_scope`` (score
methods) or the IMP ``scope`` (early bird).
"""
from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from .config import derive_seed
from .early_bird import EarlyBirdTracker
from .masks import Masks, remaining_fraction
from .scores import prune_at_init
from .train import Batcher

if TYPE_CHECKING:  # pragma: no cover
    from .lottery import Runner

Search = dict  # mask_search_epochs, mask_search_seconds, and source-specific entries


def score_mask(runner: "Runner", index: int, ticket: Masks) -> tuple[Masks, Search]:
    """θ0 scored by the arm's method, pruned to the ticket's remaining fraction at ``index``."""
    cfg, start = runner.cfg, time.perf_counter()
    model = runner.skeleton()
    model.load_state_dict(runner.theta0())
    batches = None
    if runner.arm.score != "synflow":
        data = runner.data
        batcher = Batcher(data.train, cfg.train.batch_size, "cpu", max_len=data.config.max_len,
                          lengths_on_cpu=getattr(model, "lengths_on_cpu", False))
        batches = list(batcher.train_batches(derive_seed(cfg.seed, "score_batches")))[:cfg.score_batches]
    masks = prune_at_init(runner.arm.score, model, runner.full_masks(), remaining_fraction(ticket),
                          batches=batches, scope=cfg.init_scope, rounds=cfg.synflow_rounds)
    return masks, {"mask_search_epochs": 0.0, "mask_search_seconds": time.perf_counter() - start}


def early_bird_mask(runner: "Runner", index: int, ticket: Masks) -> tuple[Masks, Search]:
    """The first dense epoch's magnitude mask after which masks stop moving (You et al. 2020);
    the last epoch's when they never settle (said in ``early_bird_found``)."""
    cfg, start = runner.cfg, time.perf_counter()
    tracker = EarlyBirdTracker(remaining_fraction(ticket), cfg.prune.scope, cfg.early_bird_epsilon,
                               max(2, cfg.early_bird_window))
    template = runner.full_masks()
    epochs = runner.dense_epochs()
    for epoch, state in epochs:
        tracker.update(state, template, step=epoch)
    found = tracker.found
    mask = tracker.mask if found else tracker.recent[-1]
    return mask, {"mask_search_epochs": float(tracker.found_at if found else len(epochs)),
                  "mask_search_seconds": time.perf_counter() - start,
                  "early_bird_found": found, "early_bird_epoch": tracker.found_at or math.nan,
                  "mask_distance": [{**row, "target_remaining": tracker.target_remaining}
                                 for row in tracker.distances]}


SOURCES = {"score": score_mask, "early_magnitude": early_bird_mask}
