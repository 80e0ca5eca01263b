"""Seeded initialisation, shared by every model: the embedding here, every other tensor by the
rule its model's entry carries (:attr:`lthlib.nets.models.spec.ModelSpec.init_rule`), built
from the draws below.  Also the scale-matched embedding of the re-initialisation arms and the
re-packing of cuDNN's RNN weights.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ...core.config import ConfigError
from ...data.prepare import PAD, UNK

#: (parameter name, shape, generator) -> its initial value (float32, on the CPU), drawn from the
#: generator; every parameter but the embedding, in ``named_parameters`` order
InitRule = Callable[[str, torch.Size, torch.Generator], torch.Tensor]


def _draw(shape, fill: Callable[[torch.Tensor, torch.Generator], None], g: torch.Generator) -> torch.Tensor:
    t = torch.empty(shape, dtype=torch.float32)
    fill(t, g)
    return t


def zeros(shape) -> torch.Tensor:
    return torch.zeros(shape)


def xavier_normal(shape, g: torch.Generator) -> torch.Tensor:
    """Xavier-normal over the whole tensor (a recurrent ``weight_ih``: the gates' rows together,
    as Keras' glorot kernel)."""
    return _draw(shape, lambda t, g: nn.init.xavier_normal_(t, generator=g), g)


def orthogonal_blocks(shape, g: torch.Generator) -> torch.Tensor:
    """A (gates * H, H) matrix of orthogonal (H, H) blocks, one drawn per gate in row order."""
    rows, hidden = shape
    return torch.cat([_draw((hidden, hidden), lambda t, g: nn.init.orthogonal_(t, generator=g), g)
                      for _ in range(rows // hidden)], dim=0)


def no_rule(name: str) -> ConfigError:
    return ConfigError(f"no initialisation rule for parameter {name!r}")


def initialise(model: nn.Module, seed: int, embedding: torch.Tensor | None, rule: InitRule,
               embedding_by_rule: bool = False) -> nn.Module:
    """Seeded initialisation, in place, independent of the global RNG and of the device.

    - embedding (``model.embedding_param``): N(0, 1), or a copy of ``embedding`` (e.g. a GloVe
      matrix), then the ``PAD`` and ``UNK`` rows zeroed;
    - every other parameter: ``rule(name, shape, generator)``, the model's own (its entry's
      ``init_rule``); the embedding too where ``embedding_by_rule`` (a pretrained model's, whose
      rule is its own pretraining's: BERT's ``_init_weights``).

    Values are drawn on the CPU from one ``torch.Generator(seed)`` in parameter order and copied
    into the parameters, so a seed gives the same network on any device.
    """
    g = torch.Generator().manual_seed(int(seed))
    emb_name = getattr(model, "embedding_param", "embedding.weight")
    with torch.no_grad():
        for name, p in model.named_parameters():
            own = name == emb_name and not embedding_by_rule
            value = _embedding_value(p, embedding, g) if own else rule(name, p.shape, g)
            p.copy_(value.to(p.dtype))
    flatten_rnns(model)
    return model


def _embedding_value(p: torch.Tensor, embedding: torch.Tensor | None, g: torch.Generator) -> torch.Tensor:
    if embedding is not None:
        if tuple(embedding.shape) != tuple(p.shape):
            raise ConfigError(f"embedding matrix has shape {tuple(embedding.shape)}, "
                              f"the model wants {tuple(p.shape)}")
        value = embedding.detach().to("cpu", torch.float32).clone()
    else:
        value = _draw(p.shape, lambda t, g: t.normal_(0.0, 1.0, generator=g), g)
    value[PAD] = 0.0
    if value.shape[0] > UNK:
        value[UNK] = 0.0
    return value


def scale_matched_embedding(pretrained: torch.Tensor, seed: int) -> torch.Tensor:
    """Random vectors of a pretrained matrix's scale, to re-initialise what it initialised: each
    coordinate d drawn from N(mean_d, std_d), the mean and standard deviation of column d over
    the matrix's word rows (``PAD`` and ``UNK``, zero rows, left out; they stay zero)."""
    words = pretrained[UNK + 1:].to(torch.float32)
    g = torch.Generator().manual_seed(int(seed))
    noise = torch.randn(pretrained.shape, generator=g)
    drawn = words.mean(dim=0) + noise * words.std(dim=0)
    drawn[PAD] = 0.0
    drawn[UNK] = 0.0
    return drawn


def flatten_rnns(model: nn.Module) -> None:
    """Re-pack cuDNN's flat weight buffer of every RNN (after loading weights or moving)."""
    for module in model.modules():
        if isinstance(module, nn.RNNBase):
            module.flatten_parameters()
