"""The ways of choosing a level's mask: one small class each.

A mask strategy answers one question: the mask at ``context.level`` and what finding it cost,
``(masks, search)``, where ``search`` holds mask_search.json's fields (``mask_search_epochs``
always; ``mask_search_seconds`` where the search is computed here; an early-bird search adds
its own).  ``name`` is what tables and :func:`lthlib.experiment.arms.with_mask_from` call it.
Every mask but :class:`OwnTrunk`'s reads a trunk (:attr:`Context.trunk`).
"""
from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import torch

from ...core.config import derive_seed
from ...nets.early_bird import early_bird_search
from ...nets.masks import Masks, magnitude_prune, random_masks_like, remaining_fraction, transferred_masks
from ...nets.scores import prune_at_init
from ..batches import Batcher
from .context import Context


class MaskStrategy(ABC):
    """How one level's mask is chosen (see the module doc)."""
    name: ClassVar[str]
    #: whether it prunes its own lineage's previous level (the arm is then a trunk: IMP)
    prunes_own: ClassVar[bool] = False
    #: whether its trunk is another dataset's winning ticket (``cfg.source``)
    across_datasets: ClassVar[bool] = False

    @abstractmethod
    def find(self, context: Context) -> tuple[Masks, dict]:
        """The mask at ``context.level`` and what finding it cost (mask_search.json's fields)."""


def free() -> dict:
    """The price of a mask another run paid for, or of a random one: no training."""
    return {"mask_search_epochs": 0.0}


def timed(started: float, search: dict) -> dict:
    """``search`` with the seconds since ``started`` (a search computed at this level)."""
    return {"mask_search_epochs": search.pop("mask_search_epochs"),
            "mask_search_seconds": time.perf_counter() - started, **search}


@dataclass(frozen=True)
class OwnTrunk(MaskStrategy):
    """IMP: prune ``prune.fraction`` of its own level L - 1 trained weights by magnitude; its
    price is every epoch its lineage trained before (dense included)."""
    name: ClassVar[str] = "own_trunk"
    prunes_own: ClassVar[bool] = True

    def find(self, context: Context) -> tuple[Masks, dict]:
        previous, prune = context.level - 1, context.cfg.prune
        masks = magnitude_prune(context.trained_at(previous), context.mask_at(previous), prune.fraction, prune.scope)
        return masks, {"mask_search_epochs": context.search_epochs(context.level)}


@dataclass(frozen=True)
class TrunkMask(MaskStrategy):
    """The trunk's mask at this level, as it is; its price is the trunk's IMP."""
    name: ClassVar[str] = "trunk"

    def find(self, context: Context) -> tuple[Masks, dict]:
        trunk = context.the_trunk()
        return trunk.mask_at(context.level), {"mask_search_epochs": trunk.search_epochs(context.level)}


@dataclass(frozen=True)
class RandomMask(MaskStrategy):
    """A random mask with the trunk's per-tensor counts at this level (seeded per level)."""
    name: ClassVar[str] = "random"

    def find(self, context: Context) -> tuple[Masks, dict]:
        return random_masks_like(context.the_trunk().mask_at(context.level), seed=context.seed("random_mask")), free()


@dataclass(frozen=True)
class ScoreMask(MaskStrategy):
    """θ0 scored by ``score`` (:mod:`lthlib.nets.scores`; a few scoring passes, no epoch) and
    pruned to the trunk's remaining fraction at this level under ``init_scope``."""
    score: str

    @property
    def name(self) -> str:
        return f"score:{self.score}"

    def find(self, context: Context) -> tuple[Masks, dict]:
        started, cfg = time.perf_counter(), context.cfg
        ticket = context.the_trunk().mask_at(context.level)
        model = context.skeleton()
        model.load_state_dict(context.theta0())
        batches = None if self.score == "synflow" else score_batches(context, model)
        masks = prune_at_init(self.score, model, context.full_masks(), remaining_fraction(ticket),
                              batches=batches, scope=cfg.init_scope, rounds=cfg.synflow_rounds)
        return masks, timed(started, free())


def score_batches(context: Context, model: torch.nn.Module) -> list[tuple]:
    """The first ``score_batches`` training batches of their own seeded order, on the CPU."""
    data, cfg = context.data, context.cfg
    batcher = Batcher(data.train, cfg.train.batch_size, "cpu", max_len=data.config.max_len,
                      lengths_on_cpu=getattr(model, "lengths_on_cpu", False))
    return list(batcher.train_batches(derive_seed(cfg.seed, "score_batches")))[:cfg.score_batches]


@dataclass(frozen=True)
class EarlyMagnitude(MaskStrategy):
    """The early-bird mask (You et al. 2020): the magnitude mask at the trunk's remaining
    fraction, under the IMP ``scope``, of the first dense epoch after which those masks stopped
    moving (:func:`lthlib.nets.early_bird.early_bird_search`); its price, the epochs up to it."""
    name: ClassVar[str] = "early_magnitude"

    def find(self, context: Context) -> tuple[Masks, dict]:
        started, cfg = time.perf_counter(), context.cfg
        ticket, template = context.the_trunk().mask_at(context.level), context.full_masks()
        masks, search = early_bird_search(context.dense_epochs(), template, remaining_fraction(ticket),
                                          cfg.prune.scope, cfg.early_bird_epsilon, max(2, cfg.early_bird_window))
        return masks, timed(started, search)


@dataclass(frozen=True)
class TransferredMask(MaskStrategy):
    """Another dataset's winning-ticket mask at this level (the trunk: ``cfg.source``) on this
    network (:func:`lthlib.nets.masks.transferred_masks`): the embedding rows of words that
    dataset never trained on are masked at random.  The source paid for it: free here."""
    name: ClassVar[str] = "source"
    across_datasets: ClassVar[bool] = True

    def find(self, context: Context) -> tuple[Masks, dict]:
        return carried(context), free()


def carried(context: Context) -> Masks:
    trunk = context.the_trunk()
    seen = torch.zeros(len(context.data.vocab), dtype=torch.bool)
    seen[trunk.data.train.tokens.long().unique()] = True
    return transferred_masks(trunk.mask_at(context.level), context.full_masks(), context.shapes.embedding_param,
                             (~seen).nonzero().flatten(), seed=context.seed("unseen_rows"),
                             output_prefix=context.shapes.output_prefix)


@dataclass(frozen=True)
class TransferredRandomMask(MaskStrategy):
    """A random mask with the transferred mask's per-tensor counts (seeded per level)."""
    name: ClassVar[str] = "source_random"
    across_datasets: ClassVar[bool] = True

    def find(self, context: Context) -> tuple[Masks, dict]:
        return random_masks_like(carried(context), seed=context.seed("random_mask")), free()
