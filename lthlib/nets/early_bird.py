"""Early-bird tickets (You et al. 2020, "Drawing Early-Bird Tickets", ICLR 2020).

During dense training the magnitude mask at the target sparsity is drawn after each epoch (or
each k iterations); once it stops moving, the ticket is drawn early.  Stopping rule, as the
authors' code (GATECH-EIC/Early-Bird-Tickets, ``main.py``, class ``EarlyBird``): keep the last
``window`` masks (their ``epoch_keep = 5``), take the normalised Hamming distance from the
newest mask to each of the ``window - 1`` older ones, and declare the early bird found when
none exceeds ``epsilon`` (their 0.1; their test is ``dist > 0.1`` -> not yet), i.e. the
maximum distance over the window is ``<= epsilon``.  The paper pruned BN channels globally;
here the masks are over the study's prunable weights, one-shot from full masks, in the scope
asked for.  Everything runs on the CPU.

:class:`EarlyBirdTracker` only scores (``|w|``); :func:`lthlib.nets.masks.masks_from_scores`
draws each mask.  :func:`early_bird_search` runs the tracker over the dense epochs' weights and
says what the search cost.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .masks import Masks, magnitudes, masks_from_scores


def mask_distance(m1: Masks, m2: Masks) -> float:
    """Normalised Hamming distance: the fraction of all masked entries on which m1 and m2 differ."""
    if list(m1) != list(m2):
        raise ValueError(f"masks cover different tensors: {sorted(set(m1) ^ set(m2))}")
    differ = total = 0
    for name, a in m1.items():
        b = m2[name]
        if tuple(a.shape) != tuple(b.shape):
            raise ValueError(f"mask {name} has shapes {tuple(a.shape)} and {tuple(b.shape)}")
        differ += int((a.detach().cpu().bool() != b.detach().cpu().bool()).sum())
        total += a.numel()
    return differ / total if total else 0.0


class EarlyBirdTracker:
    """Draws the magnitude mask after each update and watches for it to settle.

    ``distances`` holds, for every update after the first, ``step``, ``distance`` (to the
    previous mask: the curve to plot) and ``window_max`` (the stopping statistic: the largest
    distance from the newest mask to the older masks of the window; NaN until the window is
    full).  ``found_at`` is the first step with ``window_max <= epsilon`` and ``mask`` the mask
    drawn then (both None before); later updates keep recording distances.
    """

    def __init__(self, target_remaining: float, scope: str, epsilon: float = 0.1, window: int = 5):
        if window < 2:
            raise ValueError(f"window must hold at least 2 masks, got {window}")
        self.target_remaining = float(target_remaining)
        self.scope = scope
        self.epsilon = float(epsilon)
        self.window = int(window)
        self.recent: list[Masks] = []
        self.distances: list[dict] = []
        self.n_updates = 0
        self.found_at: int | None = None
        self.mask: Masks | None = None

    @property
    def found(self) -> bool:
        return self.found_at is not None

    def magnitude_mask(self, params: dict[str, torch.Tensor], template: Masks) -> Masks:
        """One-shot magnitude mask at the target: the largest |w| among the template's tensors.

        Only the template's names and shapes are read; the mask starts from full masks.
        """
        full = {n: torch.ones(m.shape, dtype=torch.bool) for n, m in template.items()}
        return masks_from_scores(magnitudes(params, template), full, self.scope,
                                 remaining=self.target_remaining)

    def update(self, params: dict[str, torch.Tensor], template: Masks, step: int | None = None) -> None:
        """Record the mask of the current weights (a state dict will do) at ``step``.

        ``step`` defaults to the number of updates so far, counting this one (epochs from 1).
        """
        self.n_updates += 1
        step = self.n_updates if step is None else int(step)
        mask = self.magnitude_mask(params, template)
        if self.recent:
            window_max = self._window_max(mask)  # NaN (never <= epsilon) until the window fills
            self.distances.append({"step": step, "distance": mask_distance(self.recent[-1], mask),
                                   "window_max": window_max})
            if not self.found and window_max <= self.epsilon:
                self.found_at, self.mask = step, mask
        self.recent = (self.recent + [mask])[-self.window:]

    def _window_max(self, mask: Masks) -> float:
        """Max distance from ``mask`` to the window's older masks, once it holds ``window`` masks."""
        older = self.recent[-(self.window - 1):]
        if len(older) < self.window - 1:
            return math.nan
        return max(mask_distance(old, mask) for old in older)


def early_bird_search(dense_epochs: Sequence[tuple[int, dict[str, torch.Tensor]]], template: Masks,
                      target_remaining: float, scope: str, epsilon: float = 0.1,
                      window: int = 5) -> tuple[Masks, dict]:
    """The early-bird mask of a dense run and what finding it cost.

    ``dense_epochs`` holds ``(epoch, weights after it)`` in order.  The mask is the first
    epoch's magnitude mask after which masks stop moving, or the last epoch's when they never
    settle.  The dict holds ``mask_search_epochs`` (the epoch found, else every epoch),
    ``early_bird_found``, ``early_bird_epoch`` (NaN when not found) and ``mask_distance`` (the
    tracker's distance rows, each with ``target_remaining``).
    """
    if not dense_epochs:
        raise ValueError("an early-bird search needs at least one dense epoch")
    tracker = EarlyBirdTracker(target_remaining, scope, epsilon, window)
    for epoch, state in dense_epochs:
        tracker.update(state, template, step=epoch)
    found = tracker.found
    mask = tracker.mask if found else tracker.recent[-1]
    return mask, {"mask_search_epochs": float(tracker.found_at if found else len(dense_epochs)),
                  "early_bird_found": found, "early_bird_epoch": tracker.found_at or math.nan,
                  "mask_distance": [{**row, "target_remaining": tracker.target_remaining}
                                    for row in tracker.distances]}
