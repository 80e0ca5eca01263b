"""Pruning masks: which tensors are prunable, masks from scores (magnitude among them), random
masks, fused application, summaries.

A mask set is ``Masks = dict[str, torch.Tensor]``: for each prunable parameter (by its name in
``model.named_parameters()``) a bool tensor of its shape, True where the weight survives.
Masks live on the CPU (they are saved with each level); :class:`MaskApplier` moves them to the
parameters' device and dtype once.

Every pruner here and in :mod:`lthlib.nets.scores` / :mod:`lthlib.nets.early_bird` only computes
per-tensor scores (magnitude pruning: ``|w|``); :func:`masks_from_scores` alone turns scores into
masks: local or global, counted as a fraction of the survivors or of the whole, lowest scores
dropped, ties by position.

Masked training multiplies the parameters by their masks in place after every optimiser step
(and once before training), one fused ``torch._foreach_mul_`` over all of them.  Pruned weights
are therefore exactly zero at every forward pass and after every step.  Gradients are never
thresholded by value (the reproduced study's bug zeroed the gradient of every weight <= 0, which
froze all negative weights).  With Adam a pruned weight does receive a (nonzero) update from
its moment estimates; it is re-zeroed straight after the step, so it never reaches a forward
pass, and its gradient is zero while it is pruned except through Adam's momentum.  Because the
parameters stay the same tensors, an ``nn.LSTM``'s cuDNN flat weight buffer stays valid.
"""
from __future__ import annotations

import math

import torch
from torch import nn

Masks = dict[str, torch.Tensor]


# ---------------------------------------------------------------------------------------------
# Which tensors
# ---------------------------------------------------------------------------------------------

def is_bias(name: str) -> bool:
    return name.rpartition(".")[2].startswith("bias")


def prunable_names(model: nn.Module, prune_cfg) -> list[str]:
    """The parameters a mask covers, in ``named_parameters`` order.

    The model's registry entry may limit them first (``prunable``: a pretrained encoder's linear
    weights, :mod:`lthlib.nets.models.transformer`).  ``prune_cfg.prunable``: ``"all"`` every
    parameter (weights, biases and the embedding, as the study pruned), ``"weights"`` no biases;
    ``include_embedding`` / ``include_output`` drop the embedding matrix / the output layer when
    False.
    """
    prunable = getattr(prune_cfg, "prunable", "all")
    if prunable not in ("all", "weights"):
        raise ValueError(f"unknown prunable set {prunable!r}; valid: all, weights")
    embedding = getattr(model, "embedding_param", "embedding.weight")
    output = getattr(model, "output_prefix", "fc.")
    names = []
    may_prune = _model_prunable(model)
    for name, _ in model.named_parameters():
        if not may_prune(name):
            continue
        if prunable == "weights" and is_bias(name):
            continue
        if name == embedding and not getattr(prune_cfg, "include_embedding", True):
            continue
        if name.startswith(output) and not getattr(prune_cfg, "include_output", True):
            continue
        names.append(name)
    return names


def _model_prunable(model: nn.Module):
    """The model entry's own limit on what may be pruned (a pretrained encoder's: its linear
    weights); every parameter for a model without one, or a network of no entry."""
    from .models import MODELS
    name = getattr(model, "model_name", None)
    hook = MODELS.get(name).prunable if name in MODELS else None
    return (lambda _: True) if hook is None else (lambda parameter: hook(model, parameter))


def full_masks(model: nn.Module, names: list[str]) -> Masks:
    """All-True masks (on the CPU) for the named parameters."""
    params = dict(model.named_parameters())
    missing = [n for n in names if n not in params]
    if missing:
        raise KeyError(f"no such parameters: {missing}")
    return {n: torch.ones(params[n].shape, dtype=torch.bool) for n in names}


# ---------------------------------------------------------------------------------------------
# Masks from scores (magnitude: |w| as the score), random masks
# ---------------------------------------------------------------------------------------------

Scores = dict[str, torch.Tensor]
SCOPES = ("local", "global")


def _round(x: float) -> int:
    return int(math.floor(x + 0.5))  # half up, unlike Python's banker's round


def _drop_lowest(scores: torch.Tensor, alive: torch.Tensor, n_drop: int) -> torch.Tensor:
    """Of the flat ``alive`` entries, mark the ``n_drop`` lowest-scored dead.

    A stable sort of the survivors' scores breaks ties by position (the earlier entry goes
    first), so the result is deterministic.  Returns the new flat alive mask.
    """
    alive = alive.clone()
    if n_drop <= 0:
        return alive
    idx = torch.nonzero(alive, as_tuple=True)[0]
    order = torch.sort(scores[idx], stable=True).indices
    alive[idx[order[:n_drop]]] = False
    return alive


def _n_drop(alive: torch.Tensor, remaining: float | None, prune_fraction: float | None) -> int:
    """How many of a group's survivors go: ``round(prune_fraction * survivors)``, or all but
    ``round(remaining * size)`` (the group's whole size, pruned entries included)."""
    survivors = int(alive.sum())
    if prune_fraction is not None:
        return _round(prune_fraction * survivors)
    n_keep = _round(remaining * alive.numel())
    if n_keep > survivors:
        raise ValueError(f"cannot keep {n_keep} entries: only {survivors} survive")
    return survivors - n_keep


def _check_counts(remaining: float | None, prune_fraction: float | None, scope: str) -> None:
    if (remaining is None) == (prune_fraction is None):
        raise ValueError("give exactly one of remaining and prune_fraction")
    if remaining is not None and not 0.0 <= remaining <= 1.0:
        raise ValueError(f"remaining must lie in [0, 1], got {remaining}")
    if prune_fraction is not None and not 0.0 <= prune_fraction < 1.0:
        raise ValueError(f"fraction must lie in [0, 1), got {prune_fraction}")
    if scope not in SCOPES:
        raise ValueError(f"unknown prune scope {scope!r}; valid: {', '.join(SCOPES)}")


def _flat_inputs(scores: Scores, masks: Masks) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Each masked tensor's scores (float64, CPU, flat; shape and finiteness checked) and mask."""
    flat_scores, flat_alive = [], []
    for name, mask in masks.items():
        score = scores[name].detach().to("cpu", torch.float64)
        if tuple(score.shape) != tuple(mask.shape):
            raise ValueError(f"scores of {name} have shape {tuple(score.shape)}, "
                             f"its mask {tuple(mask.shape)}")
        if not bool(torch.isfinite(score).all()):
            raise ValueError(f"scores of {name} are not all finite")
        flat_scores.append(score.reshape(-1))
        flat_alive.append(mask.detach().to("cpu", torch.bool).reshape(-1))
    return flat_scores, flat_alive


def masks_from_scores(scores: Scores, masks: Masks, scope: str = "global", *,
                      remaining: float | None = None, prune_fraction: float | None = None) -> Masks:
    """New masks that drop the lowest-scored survivors of ``masks``: the one way scores become masks.

    Give exactly one count.  ``prune_fraction``: ``round(prune_fraction * survivors)`` go (half
    rounds up), so L rounds keep about ``(1 - prune_fraction) ** L``.  ``remaining``: exactly
    ``round(remaining * n)`` stay, ``n`` the whole size (pruned entries included), a fraction of
    the network rather than of its survivors; asking to keep more than survive raises ValueError.
    ``local`` counts (and ranks) each tensor alone; ``global`` counts all masked entries together
    and ranks them by one threshold.  Already-pruned entries never come back.  Scores are
    compared as float64 and must be finite and of the masks' shapes.  Ties are broken by
    position (a stable sort; globally in mask order, then position): equal scores drop the
    earlier entry first.
    """
    _check_counts(remaining, prune_fraction, scope)
    flat_scores, flat_alive = _flat_inputs(scores, masks)
    if scope == "local":
        kept = [_drop_lowest(s, a, _n_drop(a, remaining, prune_fraction))
                for s, a in zip(flat_scores, flat_alive)]
    else:
        alive = torch.cat(flat_alive)
        joint = _drop_lowest(torch.cat(flat_scores), alive, _n_drop(alive, remaining, prune_fraction))
        kept = list(torch.split(joint, [a.numel() for a in flat_alive]))
    return {name: k.reshape(masks[name].shape).clone() for name, k in zip(masks, kept)}


def magnitudes(params: dict[str, torch.Tensor], names) -> Scores:
    """|w| of the named tensors (a state dict will do) as scores: float64 on the CPU."""
    return {n: params[n].detach().to("cpu", torch.float64).abs() for n in names}


def magnitude_prune(params: dict[str, torch.Tensor], masks: Masks, fraction: float,
                    scope: str = "local") -> Masks:
    """Prune ``fraction`` of the remaining weights, smallest |w| first: :func:`masks_from_scores`
    with ``|w|`` as the score and ``prune_fraction=fraction``.

    ``params`` holds at least the masked tensors (a state dict will do).  ``local``: each tensor
    loses ``round(fraction * its survivors)`` (half rounds up), so after L levels it keeps about
    ``(1 - fraction) ** L`` of itself.  ``global``: ``round(fraction * all survivors)`` go, by one
    threshold across every masked tensor.  Already-pruned weights never come back; ties go by
    position.
    """
    return masks_from_scores(magnitudes(params, masks), masks, scope, prune_fraction=fraction)


def random_masks_like(masks: Masks, seed: int) -> Masks:
    """Random masks with exactly the same number of survivors in each tensor (seeded)."""
    g = torch.Generator().manual_seed(int(seed))
    out = {}
    for name, mask in masks.items():
        n_keep = int(mask.sum())
        flat = torch.zeros(mask.numel(), dtype=torch.bool)
        flat[torch.randperm(mask.numel(), generator=g)[:n_keep]] = True
        out[name] = flat.reshape(mask.shape)
    return out


def transferred_masks(source: Masks, target: Masks, embedding: str, unseen_rows: torch.Tensor,
                      seed: int, output_prefix: str = "fc.") -> Masks:
    """A source network's masks carried to a target network of the same vocabulary.

    - A tensor whose shape differs (an output layer with another number of classes) keeps the
      target's mask (dense at level 0): Chen et al. (2020) never prune the classifier either.
    - The embedding rows of ``unseen_rows`` (words the source never trained on) are masked at
      random, at the embedding's remaining share (seeded): magnitude pruning kept or dropped
      them by their untrained θ0 values, which says nothing the source learned.
    """
    other = [n for n, m in target.items() if n not in source or source[n].shape != m.shape]
    if any(not n.startswith(output_prefix) for n in other):
        raise ValueError(f"a mask moves only between networks of one shape but the output layer; "
                         f"these differ: {[n for n in other if not n.startswith(output_prefix)]}")
    out = {name: (mask if name in other else source[name]).clone() for name, mask in target.items()}
    if embedding in out and len(unseen_rows):
        rows = out[embedding][unseen_rows]
        share = float(out[embedding].float().mean())
        g = torch.Generator().manual_seed(int(seed))
        keep = torch.zeros(rows.numel(), dtype=torch.bool)
        keep[torch.randperm(rows.numel(), generator=g)[:_round(share * rows.numel())]] = True
        out[embedding][unseen_rows] = keep.reshape(rows.shape).to(out[embedding].dtype)
    return out


# ---------------------------------------------------------------------------------------------
# Application
# ---------------------------------------------------------------------------------------------

class MaskApplier:
    """Multiplies a model's masked parameters by their masks, in place, in one fused call.

    The parameter list and the masks (converted once to each parameter's dtype and device) are
    built at construction; ``applier()`` is then a single ``torch._foreach_mul_`` under
    ``no_grad``.  Build it after the model is on its device.
    """

    def __init__(self, model: nn.Module, masks: Masks):
        params = dict(model.named_parameters())
        missing = [n for n in masks if n not in params]
        if missing:
            raise KeyError(f"masks name parameters the model lacks: {missing}")
        self.names = list(masks)
        self.params: list[torch.Tensor] = []
        self.masks: list[torch.Tensor] = []
        for name in self.names:
            p, m = params[name], masks[name]
            if tuple(m.shape) != tuple(p.shape):
                raise ValueError(f"mask {name} has shape {tuple(m.shape)}, parameter {tuple(p.shape)}")
            if bool(m.all()):  # a full mask changes nothing: skip it
                continue
            self.params.append(p)
            self.masks.append(m.to(device=p.device, dtype=p.dtype))

    @torch.no_grad()
    def __call__(self) -> None:
        if self.params:
            torch._foreach_mul_(self.params, self.masks)


def apply_masks(model: nn.Module, masks: Masks) -> MaskApplier:
    """Zero the pruned weights of ``model`` in place; returns the applier, to reuse."""
    applier = MaskApplier(model, masks)
    applier()
    return applier


# ---------------------------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------------------------

def n_total(masks: Masks) -> int:
    return int(sum(m.numel() for m in masks.values()))


def n_nonzero(masks: Masks) -> int:
    """Survivors over all masked tensors."""
    return int(sum(int(m.sum()) for m in masks.values()))


def remaining_fraction(masks: Masks) -> float:
    total = n_total(masks)
    return n_nonzero(masks) / total if total else 1.0


def layer_table(masks: Masks) -> list[dict]:
    """One row per masked tensor: name, size, remaining fraction."""
    return [{"tensor": n, "size": int(m.numel()),
             "remaining": float(m.sum()) / m.numel() if m.numel() else 1.0}
            for n, m in masks.items()]


def jaccard(m1: Masks, m2: Masks) -> float:
    """|A ∩ B| / |A ∪ B| of the survivors over all entries of the tensors both masks cover."""
    inter = union = 0
    for name in m1:
        if name not in m2:
            continue
        a, b = m1[name].bool().cpu(), m2[name].bool().cpu()
        inter += int((a & b).sum())
        union += int((a | b).sum())
    return inter / union if union else 1.0
