"""Reachability primitives the models' collapse hooks compose (:mod:`lthlib.nets.collapse`
asks each model's ``reach`` hook which output units of each weight tensor the input reaches).

``alive(name)`` is the mask of a parameter as a bool tensor on the CPU (all-True where the
tensor is not masked).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

Alive = Callable[[str], torch.Tensor]


def rows_reached(weight_alive: torch.Tensor, inputs_reached: torch.Tensor) -> torch.Tensor:
    """Output units (dim 0) keeping a weight on a reached input (dim 1, any further dims)."""
    connected = weight_alive & inputs_reached.reshape(1, -1, *([1] * (weight_alive.dim() - 2)))
    return connected.flatten(1).any(dim=1)


def embedding_reach(model: nn.Module, alive: Alive) -> dict[str, torch.Tensor]:
    """The embedding's reached dimensions: those any token keeps a weight in."""
    return {model.embedding_param: alive(model.embedding_param).any(dim=0)}


def output_reach(model: nn.Module, alive: Alive, features: torch.Tensor) -> dict[str, torch.Tensor]:
    """The output layer's reached logits, from the features its input reaches."""
    output = f"{model.output_prefix}weight"
    return {output: rows_reached(alive(output), features)}
