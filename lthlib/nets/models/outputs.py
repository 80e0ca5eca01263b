"""What every model's logits mean: the number of outputs, the predicted class, the loss.

A model returns ``n_out = 1`` logit for two classes (binary cross-entropy on one logit) and
``n_out = C`` otherwise (cross-entropy).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ...core.config import ConfigError


def n_outputs(n_classes: int) -> int:
    """One logit for a binary task, one per class otherwise."""
    if n_classes < 2:
        raise ConfigError(f"need at least 2 classes, got {n_classes}")
    return 1 if n_classes == 2 else n_classes


def predicted_class(logits: torch.Tensor) -> torch.Tensor:
    """The class a network's outputs vote for: one logit > 0 for two classes, else the argmax."""
    return (logits.squeeze(-1) > 0).long() if logits.shape[-1] == 1 else logits.argmax(dim=-1)


def loss_and_correct(logits: torch.Tensor, labels: torch.Tensor, reduction: str = "mean"):
    """Loss (BCE-with-logits on one logit, else cross-entropy; in fp32) and #correct (tensor)."""
    logits = logits.float()
    if logits.shape[-1] == 1:
        z = logits.squeeze(-1)
        loss = F.binary_cross_entropy_with_logits(z, labels.to(z.dtype), reduction=reduction)
    else:
        loss = F.cross_entropy(logits, labels, reduction=reduction)
    return loss, (predicted_class(logits) == labels).sum()
