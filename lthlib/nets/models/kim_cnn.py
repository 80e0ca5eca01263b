"""Kim CNN (Kim 2014): embedding -> Conv1d per filter width -> ReLU -> max over time ->
concatenate -> dropout -> Linear; its hooks and its registry entry (``cnn``)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...core.config import ModelConfig
from ...data.prepare import PAD
from .initialisation import no_rule, xavier_normal, zeros
from .outputs import n_outputs
from .reach import Alive, embedding_reach, output_reach, rows_reached
from .spec import MODELS, ModelSpec


class KimCNN(nn.Module):
    model_name = "cnn"
    embedding_param = "embedding.weight"
    output_prefix = "fc."
    lengths_on_cpu = False

    def __init__(self, vocab_size: int, embed_dim: int, n_filters: int,
                 filter_sizes: tuple[int, ...], n_classes: int, dropout: float = 0.5):
        super().__init__()
        self.n_classes, self.n_out = n_classes, n_outputs(n_classes)
        self.filter_sizes = tuple(int(k) for k in filter_sizes)
        self.min_len = max(self.filter_sizes)
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
        self.convs = nn.ModuleList(nn.Conv1d(embed_dim, n_filters, k) for k in self.filter_sizes)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(n_filters * len(self.filter_sizes), self.n_out)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if tokens.shape[1] < self.min_len:  # every convolution needs at least its width
            tokens = F.pad(tokens, (0, self.min_len - tokens.shape[1]), value=PAD)
        # (B, E, T), made contiguous once here: each convolution copies a non-contiguous input
        # for itself, forward and backward (six strided copies a step instead of one)
        x = self.embedding(tokens).transpose(1, 2).contiguous()
        lengths = lengths.to(tokens.device, non_blocking=True)
        pooled = []
        for k, conv in zip(self.filter_sizes, self.convs):
            h = F.relu(conv(x))  # (B, F, T - k + 1)
            # Windows that start past an example's last token (in its padding) are left out of
            # the max, so an example's logits do not depend on how long its batch-mates are.
            # An example shorter than k keeps its first window (padded, as Kim's).
            n_valid = (lengths - k + 1).clamp(min=1)
            pos = torch.arange(h.shape[2], device=h.device)
            invalid = (pos[None, :] >= n_valid[:, None])[:, None, :]
            pooled.append(h.masked_fill(invalid, 0.0).amax(dim=2))  # ReLU outputs are >= 0
        return self.fc(self.dropout(torch.cat(pooled, dim=1)))


# ---------------------------------------------------------------------------------------------
# Hooks
# ---------------------------------------------------------------------------------------------

def init_rule(name: str, shape: torch.Size, g: torch.Generator) -> torch.Tensor:
    """Zero biases; Xavier-normal convolutions and output layer."""
    if name.rpartition(".")[2].startswith("bias"):
        return zeros(shape)
    if len(shape) >= 2:
        return xavier_normal(shape, g)
    raise no_rule(name)


def reach(model: KimCNN, alive: Alive) -> dict[str, torch.Tensor]:
    """A filter is reached if it keeps a weight on a reached embedding dimension; a logit if it
    keeps a weight on a reached filter."""
    reached = embedding_reach(model, alive)
    features = []
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv1d):
            filters = rows_reached(alive(f"{name}.weight"), reached[model.embedding_param])
            reached[f"{name}.weight"] = filters
            features.append(filters)
    return {**reached, **output_reach(model, alive, torch.cat(features))}


def layer_kind(model: KimCNN, name: str) -> str | None:
    return "conv" if isinstance(model.get_submodule(name.rpartition(".")[0]), nn.Conv1d) else None


def weight_uses(model: KimCNN, name: str, n: torch.Tensor) -> float | None:
    """A convolution of width k is applied once per window: ``max(n - k + 1, 1)``."""
    if not name.startswith("convs."):
        return None
    width = model.filter_sizes[int(name.split(".")[1])]
    return float((n - width + 1).clamp(min=1).mean())


class _PaddedToWidestFilter(nn.Module):
    """A CNN whose input gets ``min_len - 1`` PAD tokens appended, so every convolution has a
    window whatever the length: the traced graph cannot keep the model's Python ``if`` that pads
    short batches.  The logits are the model's: windows that start past an example's last token
    are left out of its max (see :class:`KimCNN`)."""

    def __init__(self, model: KimCNN):
        super().__init__()
        self.model = model

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.model(F.pad(tokens, (0, self.model.min_len - 1), value=PAD), lengths)


def export(model: KimCNN) -> nn.Module:
    return _PaddedToWidestFilter(model).eval()


def build(cfg: ModelConfig, vocab_size: int, n_classes: int) -> KimCNN:
    return KimCNN(vocab_size, cfg.embed_dim, cfg.n_filters, tuple(cfg.filter_sizes), n_classes,
                  cfg.dropout)


MODELS.register(ModelSpec(
    "cnn", "CNN", build, recurrent=False, paper_max_vocab=50_000,
    paper=ModelConfig(name="cnn", embed_dim=100, embedding="random", n_filters=100),
    init_rule=init_rule, reach=reach, layer_kind=layer_kind, weight_uses=weight_uses, export=export))
