"""The text classifiers of the study: one module per model family, each ending with its
registration, and the pieces they share.

    spec            :class:`ModelSpec` (one entry per model, with its hooks), ``MODELS``,
                    :func:`spec_of` (a network's entry), :func:`build_model`
    outputs         logits -> classes, the loss (BCE on one logit for two classes, else CE)
    initialisation  the seeded initialisation (embedding; the rest by the model's rule), its
                    draws, the scale-matched embedding, cuDNN weight re-packing
    reach           reachability primitives the collapse hooks compose
    kim_cnn         Kim CNN (``cnn``)
    recurrent       the LSTM / GRU / RNN classifier (``lstm``, ``gru``, ``rnn``)
    transformer     a pretrained BERT encoder and a head (``minilm``), as Chen et al. 2020

Every model takes ``forward(tokens (B, T) int64 padded with PAD, lengths (B,) int64) -> logits
(B, n_out)`` and carries the attributes listed in :mod:`.spec` (``model_name``,
``embedding_param``, ``output_prefix``, ``n_out``, ``n_classes``, ``lengths_on_cpu``).

**The hooks live on the registry entry, not on the model class.**  The other wings already look
models up by name (grids, profiles, the exporter's check before anything is trained), one class
may serve several entries (the recurrent classifier: three cells, the LSTM's graph alone
exportable), and an analysis (collapse reach, FLOP uses, the export wrapper) then sits beside
the model in its module as a plain function without widening the ``nn.Module``'s interface.
Each entry carries:

- ``init_rule``    every parameter's initial value but the embedding's (drawn in parameter
                   order from the seed's generator: :func:`initialisation.initialise`)
- ``reach``        layer collapse: which output units of each weight tensor the input reaches
- ``layer_kind``   layer collapse: what each inner weight tensor is (``conv``, ...)
- ``weight_uses``  FLOPs: how many times each inner parameter is applied per example
- ``export``       the module ONNX traces, or None where the exporter refuses the model
- ``pretrained``   a pretrained model's θ0 values over the draw (None: trained from scratch)
- ``prunable``     which parameters pruning may touch (None: every one)

What is prunable needs no hook where every parameter may be (the study pruned every one):
:func:`lthlib.nets.masks.prunable_names` reads the model's ``embedding_param`` and
``output_prefix``, and so do the parameter counts of :mod:`lthlib.deploy.measure`; a pretrained
encoder's entry narrows it (``prunable``).  A new model is one module here that defines its network, its
hooks and its ``MODELS.register(ModelSpec(...))``, imported below (or a plugin module named in
``LTH_PLUGINS``).

Masks are applied by multiplying the parameters in place (:mod:`lthlib.nets.masks`), never with
``torch.nn.utils.prune``: re-parametrising an ``nn.LSTM`` breaks cuDNN's flat weight buffer.
"""
from ...data.prepare import PAD, UNK
from .initialisation import InitRule, flatten_rnns, initialise, scale_matched_embedding
from .kim_cnn import KimCNN
from .outputs import loss_and_correct, n_outputs, predicted_class
from .recurrent import RecurrentClassifier
from .spec import (
    MODELS,
    Builder,
    ModelSpec,
    build_model,
    count_parameters,
    exportable_models,
    spec_of,
)
from .transformer import PretrainedEncoderClassifier

__all__ = ["MODELS", "PAD", "UNK", "Builder", "InitRule", "KimCNN", "ModelSpec", "PretrainedEncoderClassifier",
           "RecurrentClassifier",
           "build_model", "count_parameters", "exportable_models", "flatten_rnns", "initialise",
           "loss_and_correct", "n_outputs", "predicted_class", "scale_matched_embedding", "spec_of"]
