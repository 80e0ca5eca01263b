"""Several independent CNN trainings at once, as one vectorised network (optional speed-up).

Runs that see the same batches in the same order but start from different weights and masks
(e.g. the ``random_reinit`` levels of one seed, or the random-pruning controls) can be trained
together: their parameters are stacked along a new leading dimension with
``torch.func.stack_module_state`` and the forward is ``vmap(functional_call)`` over it.  Adam is
elementwise, so one Adam over the stacked tensors is R independent Adams; the summed loss gives
each run exactly its own gradient.  On a GPU this turns R small kernels into one large one.

Only the forward/backward is shared; the result for run r is (to floating-point noise) what
:func:`lthlib.train.train_model` gives for it alone, with the same ``seed``.  Dropout draws
differ from independent runs (``vmap(randomness="different")``), so equality is exact only
without dropout; statistically the runs are the same.  Recurrent models are not supported
(packed sequences do not vmap).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from .config import ConfigError, TrainConfig, derive_seed
from .masks import Masks
from .train import Batcher, _autocast, loss_and_correct, resolve_device


@dataclass
class ConcurrentResult:
    final_states: list[dict[str, torch.Tensor]]        # CPU state dict per run
    train_losses: list[list[float]] = field(default_factory=list)  # per epoch, per run
    epochs_run: int = 0


def train_concurrent(models: list[nn.Module], masks: list[Masks], data, cfg: TrainConfig, *,
                     seed: int, epochs: int | None = None, lr: float | None = None) -> ConcurrentResult:
    """Train ``models`` (same architecture, CNN) together on ``data.train``; see the module doc."""
    if not models or len(models) != len(masks):
        raise ConfigError("need one mask set per model, and at least one model")
    if getattr(models[0], "lengths_on_cpu", False):
        raise ConfigError("train_concurrent supports the CNN only (packed sequences do not vmap)")
    cfg.validate()
    device = resolve_device(cfg.device)
    n_epochs = cfg.epochs if epochs is None else int(epochs)
    lr = cfg.lr if lr is None else float(lr)
    runs = [copy.deepcopy(m).to(device) for m in models]
    params, buffers = stack_module_state(runs)  # leaves of shape (R, ...) requiring grad
    base = copy.deepcopy(runs[0]).to("meta")
    names = list(masks[0])
    for m in masks:
        if list(m) != names:
            raise ConfigError("every run must mask the same tensors")
    stacked_masks = {n: torch.stack([m[n] for m in masks]).to(device, params[n].dtype) for n in names}
    targets = [params[n] for n in names]
    factors = [stacked_masks[n] for n in names]

    def forward(p, b, tokens, lengths):
        return functional_call(base, (p, b), (tokens, lengths))

    batched = vmap(forward, in_dims=(0, 0, None, None), randomness="different")
    with torch.no_grad():
        torch._foreach_mul_(targets, factors)
    optimizer = torch.optim.Adam(params.values(), lr=lr, fused=True)
    max_len = getattr(getattr(data, "config", None), "max_len", None)
    batcher = Batcher(data.train, cfg.batch_size, device, max_len=max_len)
    use_bf16 = cfg.bf16 and device.type == "cuda"
    result = ConcurrentResult(final_states=[])
    for m in runs:
        m.train()
    base.train()
    for e in range(n_epochs):
        torch.manual_seed(derive_seed(seed, "dropout", e))
        loss_sum = torch.zeros(len(runs), device=device)
        for tokens, lengths, labels in batcher.train_batches(derive_seed(seed, "data_order", e)):
            optimizer.zero_grad(set_to_none=True)
            with _autocast(device, use_bf16):
                logits = batched(params, buffers, tokens, lengths)  # (R, B, out)
            losses = torch.stack([loss_and_correct(logits[r], labels)[0] for r in range(len(runs))])
            losses.sum().backward()
            optimizer.step()
            with torch.no_grad():
                torch._foreach_mul_(targets, factors)
            loss_sum += losses.detach() * labels.shape[0]
        result.train_losses.append((loss_sum / max(len(batcher), 1)).tolist())
        result.epochs_run += 1
    for r in range(len(runs)):
        state = {}
        for name, value in runs[r].state_dict().items():
            source = params.get(name, buffers.get(name))
            state[name] = (source[r] if source is not None else value).detach().to("cpu", copy=True)
        result.final_states.append(state)
    return result
