"""The ways of choosing where a level's survivors start: one small class each.

A start strategy answers one question: the weights the level's network starts from at
``context.level`` (the runner multiplies them by the level's mask, so only the survivors'
values matter).  ``name`` is what tables and reports call it.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from ...core.config import ExperimentConfig, NotApplicable
from ...machine.files import cpu_state
from .context import Context, State


class StartStrategy(ABC):
    """Where one level's survivors start (see the module doc)."""
    name: ClassVar[str]
    #: whether it reads its own lineage's previous trained level, which only a trunk keeps
    reads_own_levels: ClassVar[bool] = False
    #: whether it reads the trunk (a branch only)
    reads_trunk: ClassVar[bool] = False

    @abstractmethod
    def weights(self, context: Context) -> State:
        """The weights the survivors start from at ``context.level``."""

    def check(self, arm: str, cfg: ExperimentConfig) -> None:
        """Refuse a configuration this start cannot mean anything on (before any training);
        most starts apply to every configuration."""
        return None


@dataclass(frozen=True)
class Theta0(StartStrategy):
    """The dense network's initialisation θ0."""
    name: ClassVar[str] = "theta0"

    def weights(self, context: Context) -> State:
        return context.theta0()


@dataclass(frozen=True)
class ThetaK(StartStrategy):
    """θk, the dense weights after ``rewind_point`` of training."""
    name: ClassVar[str] = "theta_k"

    def weights(self, context: Context) -> State:
        return context.theta_k()


@dataclass(frozen=True)
class DenseFinal(StartStrategy):
    """The end of dense training (what the study called "late rewinding")."""
    name: ClassVar[str] = "dense_final"

    def weights(self, context: Context) -> State:
        return context.dense_final()


@dataclass(frozen=True)
class Trained(StartStrategy):
    """The previous level's trained weights (LR rewinding, fine-tuning)."""
    name: ClassVar[str] = "trained"
    reads_own_levels: ClassVar[bool] = True

    def weights(self, context: Context) -> State:
        return context.trained_at(context.level - 1)


@dataclass(frozen=True)
class FreshInit(StartStrategy):
    """Every weight drawn afresh (seeded per level) from the distribution θ0 came from (a
    pretrained encoder: from its own initialisation, BERT's ``_init_weights``); a GloVe
    embedding replaced by random vectors of its scale
    (:func:`lthlib.nets.models.scale_matched_embedding`), or its rows kept as in θ0
    (``keep_pretrained``)."""
    keep_pretrained: bool = False

    @property
    def name(self) -> str:
        return "fresh_init_keep_pretrained" if self.keep_pretrained else "fresh_init"

    def weights(self, context: Context) -> State:
        return cpu_state(context.new_network(context.seed("reinit"), self.keep_pretrained))

    def check(self, arm: str, cfg: ExperimentConfig) -> None:
        if self.keep_pretrained and cfg.model.embedding == "pretrained":
            raise NotApplicable(f"arm {arm!r} keeps a pretrained embedding and re-draws the rest; a pretrained "
                                f"encoder's embedding comes with the encoder, whose re-initialisation is "
                                f"random_reinit (the encoder by its own _init_weights)")
        if self.keep_pretrained and cfg.model.embedding == "random":
            raise NotApplicable(f"arm {arm!r} keeps a pretrained embedding, and this model's "
                                f"embedding is learned from random (embedding='random'): it would be "
                                f"random_reinit; run it on a model with embedding='glove'")


@dataclass(frozen=True)
class TrunkTheta0(StartStrategy):
    """The trunk's θ0 (a transfer's: the source dataset's); a tensor of another shape (an output
    layer with another number of classes) is this network's own θ0."""
    name: ClassVar[str] = "source_theta0"
    reads_trunk: ClassVar[bool] = True

    def weights(self, context: Context) -> State:
        source, own = context.the_trunk().theta0(), context.theta0()
        return {name: source[name] if name in source and source[name].shape == value.shape else value
                for name, value in own.items()}
