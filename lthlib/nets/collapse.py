"""Layer collapse (Tanaka et al. 2020): masks whose surviving weights cannot carry the input.

Signal is traced as reachability in the graph of surviving weights, from the input tokens to
the logits:

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
from .models import KimCNN, RecurrentClassifier


def _alive(model: nn.Module, masks: Masks, name: str) -> torch.Tensor:
    """The mask of ``name`` (on the CPU), or all-True where the tensor is not masked."""
    if name in masks:
        return masks[name].detach().to("cpu", torch.bool)
    return torch.ones(model.get_parameter(name).shape, dtype=torch.bool)


def _rows_reached(weight_alive: torch.Tensor, inputs_reached: torch.Tensor) -> torch.Tensor:
    """Output units (dim 0) keeping a weight on a reached input (dim 1, any further dims)."""
    connected = weight_alive & inputs_reached.reshape(1, -1, *([1] * (weight_alive.dim() - 2)))
    return connected.flatten(1).any(dim=1)


def _cnn_reach(model: KimCNN, masks: Masks) -> dict[str, torch.Tensor]:
    reached = {model.embedding_param: _alive(model, masks, model.embedding_param).any(dim=0)}
    features = []
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv1d):
            filters = _rows_reached(_alive(model, masks, f"{name}.weight"), reached[model.embedding_param])
            reached[f"{name}.weight"] = filters
            features.append(filters)
    output = f"{model.output_prefix}weight"
    reached[output] = _rows_reached(_alive(model, masks, output), torch.cat(features))
    return reached


def _recurrent_direction(ih: torch.Tensor, hh: torch.Tensor,
                         inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(ih rows, hh rows, hidden units) reached in one direction of one layer, to a fixed point."""
    hidden_size = hh.shape[1]
    rows_ih = _rows_reached(ih, inputs)
    hidden = rows_ih.reshape(-1, hidden_size).any(dim=0)
    while True:
        rows_hh = _rows_reached(hh, hidden)
        grown = (rows_ih | rows_hh).reshape(-1, hidden_size).any(dim=0)
        if torch.equal(grown, hidden):
            return rows_ih, rows_hh, hidden
        hidden = grown


def _recurrent_reach(model: RecurrentClassifier, masks: Masks) -> dict[str, torch.Tensor]:
    reached = {model.embedding_param: _alive(model, masks, model.embedding_param).any(dim=0)}
    prefix = next(name for name, m in model.named_modules() if isinstance(m, nn.RNNBase))
    rnn = model.get_submodule(prefix)
    inputs = reached[model.embedding_param]
    for layer in range(rnn.num_layers):
        outputs = []
        for suffix in ("", "_reverse")[:2 if rnn.bidirectional else 1]:
            ih, hh = f"{prefix}.weight_ih_l{layer}{suffix}", f"{prefix}.weight_hh_l{layer}{suffix}"
            reached[ih], reached[hh], hidden = _recurrent_direction(
                _alive(model, masks, ih), _alive(model, masks, hh), inputs)
            outputs.append(hidden)
        inputs = torch.cat(outputs)
    output = f"{model.output_prefix}weight"
    reached[output] = _rows_reached(_alive(model, masks, output), inputs)
    return reached


def _reach(model: nn.Module, masks: Masks) -> dict[str, torch.Tensor]:
    """For every weight tensor, which of its output units the input reaches."""
    if isinstance(model, KimCNN):
        return _cnn_reach(model, masks)
    if isinstance(model, RecurrentClassifier):
        return _recurrent_reach(model, masks)
    raise TypeError(f"no layer-collapse analysis for {type(model).__name__}")


def _kind(model: nn.Module, name: str) -> str:
    leaf = name.rpartition(".")[2]
    if name == model.embedding_param:
        return "embedding"
    if is_bias(name):
        return "output_bias" if name.startswith(model.output_prefix) else "bias"
    if name.startswith(model.output_prefix):
        return "output"
    if leaf.startswith("weight_ih"):
        return "recurrent_input"
    if leaf.startswith("weight_hh"):
        return "recurrent_hidden"
    if isinstance(model.get_submodule(name.rpartition(".")[0]), nn.Conv1d):
        return "conv"
    raise ValueError(f"no collapse rule for parameter {name!r}")


def _units_without_weights(kind: str, alive: torch.Tensor) -> int:
    """Output units with no surviving incoming weight in this tensor (embedding: columns)."""
    if kind in ("bias", "output_bias"):
        return 0
    if kind == "embedding":
        return int((~alive.any(dim=0)).sum())
    return int((~alive.flatten(1).any(dim=1)).sum())


def collapsed_layers(model: nn.Module, masks: Masks) -> list[dict]:
    """One row per masked tensor, in mask order.

    - ``kind``: embedding, conv, recurrent_input, recurrent_hidden, output, bias, output_bias;
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
