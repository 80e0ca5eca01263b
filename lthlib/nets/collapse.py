"""Layer collapse (Tanaka et al. 2020): masks whose surviving weights cannot carry the input.

Signal is traced as reachability in the graph of surviving weights, from the input tokens to
the logits, by each model's ``reach`` hook (:mod:`lthlib.nets.models`; the rules below are the
study's models'):

- an **embedding** dimension is reached if any token keeps a weight in it;
- a **conv** filter is reached if it keeps a weight on a reached embedding dimension;
- a **recurrent** gate row is reached if it keeps a ``weight_ih`` entry on a reached input
  feature or a ``weight_hh`` entry on a reached hidden unit of its own direction; a hidden unit
  is reached if any of its gate rows (LSTM i, f, g, o; GRU r, z, n) is, iterated to a fixed
  point over time; the next layer reads the reached units of both directions;
- an **output** logit is reached if it keeps a weight on a reached feature.

Biases carry no input and nonlinearities are ignored, so reachability is necessary, not
sufficient, for signal (e.g. an LSTM unit reached only through its output gate, with zero
biases, outputs 0).  Tensors outside the masks count as fully kept.

Biases and the output layer are reported like every other masked tensor.  A pruned bias is
never a collapse: its unit loses its offset, the signal still flows.  In a binary task the
output bias ``fc.bias`` has one element: once pruned, the logit loses its offset (the decision
threshold sits at logit 0, with no learned prior) but still depends on the input.  Such a
one-element tensor goes early under local remaining-of-total counts
(:func:`lthlib.nets.masks.masks_from_scores` keeps ``round(remaining * 1) = 0`` once remaining
< 0.5), while local magnitude pruning at 20% per level never removes it (``round(0.2) = 0``).
"""
from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from .masks import Masks, is_bias
from .models import spec_of


def _alive(model: nn.Module, masks: Masks, name: str) -> torch.Tensor:
    """The mask of ``name`` (on the CPU), or all-True where the tensor is not masked."""
    if name in masks:
        return masks[name].detach().to("cpu", torch.bool)
    return torch.ones(model.get_parameter(name).shape, dtype=torch.bool)


def _reach(model: nn.Module, masks: Masks) -> dict[str, torch.Tensor]:
    """For every weight tensor, which of its output units the input reaches (the model's hook)."""
    return spec_of(model).reach(model, lambda name: _alive(model, masks, name))


def _kind(model: nn.Module, name: str) -> str:
    if name == model.embedding_param:
        return "embedding"
    if is_bias(name):
        return "output_bias" if name.startswith(model.output_prefix) else "bias"
    if name.startswith(model.output_prefix):
        return "output"
    kind = spec_of(model).layer_kind(model, name)
    if kind is None:
        raise ValueError(f"no collapse rule for parameter {name!r}")
    return kind


def _units_without_weights(kind: str, alive: torch.Tensor) -> int:
    """Output units with no surviving incoming weight in this tensor (embedding: columns)."""
    if kind in ("bias", "output_bias"):
        return 0
    if kind == "embedding":
        return int((~alive.any(dim=0)).sum())
    return int((~alive.flatten(1).any(dim=1)).sum())


def collapsed_layers(model: nn.Module, masks: Masks) -> list[dict]:
    """One row per masked tensor, in mask order.

    - ``kind``: embedding, output, bias, output_bias, or what the model's ``layer_kind`` hook
      names (conv, recurrent_input, recurrent_hidden);
    - ``n``, ``n_alive``: entries and survivors;
    - ``n_units``: output units (embedding dimensions, filters, gate rows, logits; for a bias
      the units it offsets); ``dead_units``: those with no surviving weight *in this tensor*
      (a filter whose whole kernel is pruned, an empty gate row); always 0 for a bias;
    - ``fully_pruned``: no survivor at all;
    - ``collapsed``: a weight tensor none of whose units the input reaches (every unit dead, or
      everything upstream cut; a ``weight_hh`` collapses when the recurrence carries nothing,
      though the input still reaches the layer through ``weight_ih``); never for a bias.
    """
    reached = _reach(model, masks)
    rows = []
    for name, mask in masks.items():
        kind = _kind(model, name)
        alive = mask.detach().to("cpu", torch.bool)
        weight = kind not in ("bias", "output_bias")
        n_units = alive.shape[1] if kind == "embedding" else alive.shape[0]
        rows.append({"tensor": name, "kind": kind, "n": alive.numel(), "n_alive": int(alive.sum()),
                     "n_units": int(n_units), "dead_units": _units_without_weights(kind, alive),
                     "fully_pruned": not bool(alive.any()),
                     "collapsed": weight and not bool(reached[name].any())})
    return rows


def network_collapsed(model: nn.Module, masks: Masks) -> bool:
    """True where no logit is reached from the input: the network is disconnected."""
    return not bool(_reach(model, masks)[f"{model.output_prefix}weight"].any())


def critical_sparsity(rows_by_level: Iterable[dict]) -> float:
    """The largest ``remaining`` fraction at which a level is ``collapsed``; NaN if none is.

    ``rows_by_level``: one row per pruning level with keys ``remaining`` and ``collapsed``
    (dicts, or a pandas DataFrame with those columns).  Levels shrink the network, so this is
    the first level at which collapse happens.
    """
    if hasattr(rows_by_level, "to_dict"):
        rows_by_level = rows_by_level.to_dict("records")
    collapsed = [float(row["remaining"]) for row in rows_by_level if bool(row["collapsed"])]
    return max(collapsed) if collapsed else math.nan
