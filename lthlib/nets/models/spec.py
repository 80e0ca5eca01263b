"""The model registry: one :class:`ModelSpec` entry per model, carrying the hooks the other wings
ask instead of testing a network's class (:func:`spec_of` finds a network's entry).

A network built here carries the attributes the rest of the library reads:

- ``model_name``       the name of its entry in :data:`MODELS`
- ``embedding_param``  name of the embedding matrix (``"embedding.weight"``)
- ``output_prefix``    prefix of the output layer's parameters (``"fc."``)
- ``n_out``, ``n_classes``
- ``lengths_on_cpu``   True where ``forward`` wants ``lengths`` on the CPU

The first three are all :func:`lthlib.nets.masks.prunable_names` and
:func:`lthlib.deploy.measure.parameter_counts` need of a model (no hook: every model has one
embedding and one output layer).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from ...core.config import ModelConfig
from ...core.registry import Registry
from .initialisation import InitRule, initialise
from .reach import Alive

#: (config, vocab size, classes) -> an uninitialised network
Builder = Callable[[ModelConfig, int, int], nn.Module]
#: (network, alive) -> for every weight tensor (embedding and output layer included), which of
#: its output units the input reaches (:mod:`lthlib.nets.collapse`)
Reach = Callable[[nn.Module, Alive], dict[str, torch.Tensor]]
#: (network, parameter name) -> the collapse kind of a weight tensor that is neither the
#: embedding nor the output layer ("conv", "recurrent_input", ...), None where it has no rule
LayerKind = Callable[[nn.Module, str], "str | None"]
#: (network, parameter name, tokens per example (float64, >= 1)) -> how many times the parameter
#: is applied per example, averaged (:mod:`lthlib.deploy.measure`'s FLOPs), for every parameter
#: but the embedding and the output layer; None where it has no rule
WeightUses = Callable[[nn.Module, str, torch.Tensor], "float | None"]
#: network -> the pretrained values of its parameters by name (those it has; the rest keep the
#: seeded draw): a pretrained model's θ0
Pretrained = Callable[[nn.Module], dict[str, torch.Tensor]]
#: (network, parameter name) -> whether pruning may touch the parameter at all
Prunable = Callable[[nn.Module, str], bool]
#: network (fp32) -> the module ONNX traces (eval mode): ``forward(tokens, lengths) -> logits``
#: with a dynamic batch and length (:mod:`lthlib.deploy.forms`)
Export = Callable[[nn.Module], nn.Module]


@dataclass(frozen=True)
class ModelSpec:
    """One model: how to build it, what the study trained, and its hooks."""
    name: str
    display: str
    build: Builder
    recurrent: bool                     # packed sequences: lengths wanted on the CPU
    paper: ModelConfig                  # the study's architecture
    paper_max_vocab: int                # the study's vocabulary (pad and unk come on top)
    init_rule: InitRule                 # every parameter's initial value but the embedding's
    reach: Reach                        # layer collapse
    layer_kind: LayerKind               # layer collapse: what each weight tensor is
    weight_uses: WeightUses             # FLOPs per tensor
    export: Export | None = None        # None: the exporter refuses it, saying ``export_refusal``
    export_refusal: str = "its ONNX graph is not checked against PyTorch (tests/test_deploy.py)"
    #: a pretrained model: its θ0 is these values over the seeded draw (``init_rule`` then draws
    #: the embedding too: it is a re-initialisation's start); None: trained from the draw
    pretrained: Pretrained | None = None
    #: the parameters pruning may touch (None: every one; ``PruneConfig.prunable`` narrows further)
    prunable: Prunable | None = None
    #: the tokenizer its data needs (``DataConfig.tokenizer``): "words", or a pretrained model's
    tokenizer: str = "words"


MODELS: Registry[ModelSpec] = Registry("model")


def spec_of(model: nn.Module) -> ModelSpec:
    """The entry a network was built from (by its ``model_name``)."""
    name = getattr(model, "model_name", None)
    if name is None:
        raise TypeError(f"{type(model).__name__} is no registered model: it has no model_name")
    return MODELS.get(name)


def exportable_models() -> tuple[str, ...]:
    """The models with an export hook: their ONNX graphs are checked in onnxruntime against
    PyTorch (tests/test_deploy.py)."""
    return tuple(spec.name for spec in MODELS if spec.export is not None)


def build_model(cfg: ModelConfig, vocab_size: int, n_classes: int, *, init_seed: int,
                embedding: torch.Tensor | None = None, pretrained: bool = True) -> nn.Module:
    """A freshly initialised network (on the CPU) for ``cfg``: the seeded draw, and over it a
    pretrained model's pretrained values (``pretrained=False``: the draw alone, a re-initialised
    pretrained model)."""
    spec = MODELS.get(cfg.name)
    model = initialise(spec.build(cfg, vocab_size, n_classes), init_seed, embedding, spec.init_rule,
                       embedding_by_rule=spec.pretrained is not None)
    if spec.pretrained is not None and pretrained:
        with torch.no_grad():
            for name, value in spec.pretrained(model).items():
                model.get_parameter(name).copy_(value)
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
