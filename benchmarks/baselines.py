"""The usual ways of masked training, kept for comparison only (benchmarks and tests).

lthlib trains a pruned network through :func:`lthlib.experiment.train.train_model`: device-resident,
length-bucketed batches, and after every optimiser step one fused ``torch._foreach_mul_`` that
re-applies all masks (:class:`lthlib.nets.masks.MaskApplier`).  This module holds the alternatives
it is measured against, each a small function that runs one epoch over a given list of batches:

- :func:`dense_epoch`          no masks at all: the speed ceiling.
- :func:`torch_prune_epoch`    ``torch.nn.utils.prune.custom_from_mask`` on every prunable
  tensor (a forward pre-hook recomputes ``weight = weight_orig * mask`` each forward).
- :func:`study_epoch`          the reproduced study's method: after ``backward`` every gradient
  goes to numpy, its pruned entries are zeroed, and it is copied back before ``step``.
- :func:`reference_train`      the simplest correct masked training, for the fast-path test:
  a plain Python list of padded batches, Adam, and ``p.data.mul_(mask)`` per parameter after
  every step.

A batch is a tuple ``(tokens (B, T) int64 padded with 0, lengths (B,) int64, labels (B,))``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

Batch = tuple  # (tokens, lengths, labels)
Masks = dict  # parameter name -> bool/float tensor of the parameter's shape


def loss_of(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy for (B, 1) logits, mean cross-entropy for (B, C)."""
    if logits.shape[-1] == 1:
        return F.binary_cross_entropy_with_logits(logits.squeeze(-1), labels.to(logits.dtype))
    return F.cross_entropy(logits, labels.long())


def _sync(device: torch.device | str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _params(model: torch.nn.Module) -> dict[str, torch.nn.Parameter]:
    return dict(model.named_parameters())


def apply_masks_(model: torch.nn.Module, masks: Masks) -> None:
    """Zero the pruned entries of the model's parameters in place (one parameter at a time)."""
    params = _params(model)
    with torch.no_grad():
        for name, mask in masks.items():
            params[name].mul_(mask.to(device=params[name].device, dtype=params[name].dtype))


# ---------------------------------------------------------------------------------------------
# (a) dense
# ---------------------------------------------------------------------------------------------

def dense_epoch(model: torch.nn.Module, batches: Iterable[Batch],
                optimizer: torch.optim.Optimizer, loss_fn: Callable = loss_of) -> float:
    """One epoch with no masks; returns the summed loss (a Python float, one sync at the end)."""
    model.train()
    total = None
    for tokens, lengths, labels in batches:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(tokens, lengths), labels)
        loss.backward()
        optimizer.step()
        total = loss.detach() if total is None else total + loss.detach()
    return float(total) if total is not None else 0.0


# ---------------------------------------------------------------------------------------------
# (c) torch.nn.utils.prune
# ---------------------------------------------------------------------------------------------

class PruneUnsupported(RuntimeError):
    """torch.nn.utils.prune could not be applied to (or run with) this model."""


def apply_torch_prune(model: torch.nn.Module, masks: Masks) -> torch.nn.Module:
    """Reparametrise every masked parameter with ``prune.custom_from_mask`` (in place).

    Parameters are addressed by name, so an ``nn.LSTM``'s ``weight_ih_l0`` etc. are pruned
    one by one.  Raises :class:`PruneUnsupported` if torch refuses.
    """
    import torch.nn.utils.prune as prune
    try:
        for name, mask in masks.items():
            module_name, _, attr = name.rpartition(".")
            module = model.get_submodule(module_name) if module_name else model
            device = getattr(module, attr).device
            prune.custom_from_mask(module, attr, mask.to(device=device, dtype=torch.bool))
    except Exception as exc:  # noqa: BLE001 - any refusal is recorded, not raised further
        raise PruneUnsupported(f"{type(exc).__name__}: {exc}") from exc
    return model


def torch_prune_epoch(model: torch.nn.Module, batches: Iterable[Batch],
                      optimizer: torch.optim.Optimizer, loss_fn: Callable = loss_of) -> float:
    """One epoch of a model already passed through :func:`apply_torch_prune`.

    The optimiser must hold the ``*_orig`` parameters (build it after pruning).  The masks are
    enforced by the forward pre-hooks, so the step itself is the dense one.
    """
    try:
        return dense_epoch(model, batches, optimizer, loss_fn)
    except Exception as exc:  # noqa: BLE001
        raise PruneUnsupported(f"{type(exc).__name__}: {exc}") from exc


# ---------------------------------------------------------------------------------------------
# (d) the study's numpy-gradient method
# ---------------------------------------------------------------------------------------------

def numpy_masks(model: torch.nn.Module, masks: Masks) -> dict[str, np.ndarray]:
    """The masks as float32 numpy arrays, as the study kept them."""
    return {name: mask.detach().to("cpu", torch.float32).numpy() for name, mask in masks.items()}


def study_epoch(model: torch.nn.Module, batches: Iterable[Batch],
                optimizer: torch.optim.Optimizer, masks_np: dict[str, np.ndarray],
                loss_fn: Callable = loss_of) -> float:
    """One epoch as the study trained: gradients round-trip through numpy to be masked."""
    model.train()
    params = [(p, masks_np[name]) for name, p in model.named_parameters() if name in masks_np]
    total = 0.0
    for tokens, lengths, labels in batches:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(tokens, lengths), labels)
        loss.backward()
        for p, mask_np in params:
            if p.grad is not None:
                p.grad = torch.from_numpy(p.grad.cpu().numpy() * mask_np).to(p.device)
        optimizer.step()
        total += loss.item()  # the study logged every batch's loss
    return total


# ---------------------------------------------------------------------------------------------
# the reference loop
# ---------------------------------------------------------------------------------------------

@dataclass
class ReferenceResult:
    losses: list[float] = field(default_factory=list)        # every batch's loss, in order
    epoch_losses: list[float] = field(default_factory=list)  # mean batch loss per epoch
    seconds: float = 0.0


def reference_train(model: torch.nn.Module, masks: Masks, epochs: Sequence[Sequence[Batch]],
                    *, lr: float, loss_fn: Callable = loss_of,
                    optimizer: torch.optim.Optimizer | None = None,
                    before_batch: Callable[[int, int], None] | None = None) -> ReferenceResult:
    """The simplest correct masked training.

    ``epochs`` is a list (one entry per epoch) of lists of padded batches, in the order they are
    to be seen.  The network starts masked; after every Adam step each masked parameter is
    multiplied by its mask, one at a time.  ``before_batch(epoch, index)`` is an optional hook
    (e.g. to reseed dropout the way the code under test does).
    """
    apply_masks_(model, masks)
    params = _params(model)
    device = next(model.parameters()).device
    pairs = [(params[name], mask.to(device=device, dtype=params[name].dtype))
             for name, mask in masks.items()]
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=lr)
    result = ReferenceResult()
    start = time.perf_counter()
    for e, batches in enumerate(epochs):
        model.train()
        epoch_losses = []
        for i, (tokens, lengths, labels) in enumerate(batches):
            if before_batch is not None:
                before_batch(e, i)
            optimizer.zero_grad()
            loss = loss_fn(model(tokens, lengths), labels)
            loss.backward()
            optimizer.step()
            for p, mask in pairs:
                p.data.mul_(mask)
            epoch_losses.append(loss.item())
        result.losses.extend(epoch_losses)
        result.epoch_losses.append(sum(epoch_losses) / max(len(epoch_losses), 1))
    _sync(device)
    result.seconds = time.perf_counter() - start
    return result
