"""What a strategy may read at one level of one configuration: :class:`Context`.

The runner hands one to each strategy.  Weights and masks are functions: they are read, or
trained (θk replayed, the dense epochs kept), only when a strategy asks for them, so a level
costs what its strategies need and no more.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from ...core.config import ExperimentConfig, derive_seed
from ...data.prepare import PreparedData
from ...nets.masks import Masks, full_masks, prunable_names

State = dict[str, torch.Tensor]


@dataclass(frozen=True)
class Context:
    """One lineage (:mod:`lthlib.experiment.lineage`) at level ``level``: its data, the dense
    network it grew from, its own earlier levels, and its trunk's context at the same level."""
    cfg: ExperimentConfig
    level: int
    data: PreparedData
    #: a network of the right shape, for names and shapes (embedding, output layer) only
    shapes: torch.nn.Module
    #: a network of the right shape whose weights the caller overwrites
    skeleton: Callable[[], torch.nn.Module]
    #: a network drawn from θ0's distribution: ``(init seed, keep a pretrained embedding)``
    new_network: Callable[[int, bool], torch.nn.Module]
    theta0: Callable[[], State]
    #: the dense weights at ``cfg.rewind_point``
    theta_k: Callable[[], State]
    #: the end of dense training
    dense_final: Callable[[], State]
    #: ``(epoch, weights after it)`` of dense training, in order
    dense_epochs: Callable[[], list[tuple[int, State]]]
    #: this lineage's mask at a level (every prunable weight at level 0)
    mask_at: Callable[[int], Masks]
    #: this lineage's trained weights at a level (the dense network at level 0)
    trained_at: Callable[[int], State]
    #: the epochs this lineage trained before a level (dense included): IMP's price for its mask
    search_epochs: Callable[[int], float]
    #: the trunk's context at the same level, its levels trained up to it; None for a trunk
    trunk: "Context | None" = None

    def seed(self, purpose: str) -> int:
        """This level's seed for ``purpose`` (a label of :func:`~lthlib.core.config.derive_seed`:
        renaming one changes the numbers)."""
        return derive_seed(self.cfg.seed, purpose, self.level)

    def full_masks(self) -> Masks:
        """Level 0's mask: every prunable weight kept."""
        return full_masks(self.shapes, prunable_names(self.shapes, self.cfg.prune))

    def the_trunk(self) -> "Context":
        """The trunk's context; a strategy that needs one refuses a configuration without it."""
        if self.trunk is None:
            raise ValueError(f"{self.cfg.arm!r} at level {self.level}: this strategy reads a trunk, "
                             f"and a trunk arm has none")
        return self.trunk
