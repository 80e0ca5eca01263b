"""A pretrained Transformer encoder with a classification head, as Chen et al. 2020 ("The Lottery
Ticket Hypothesis for Pre-trained BERT Networks") fine-tune it: Hugging Face ``BertModel``
(embeddings, encoder, the tanh pooler over ``[CLS]``) -> dropout -> Linear; its hooks and its
registry entry (``minilm``).

θ0 is the *pretrained* encoder (:mod:`lthlib.data.pretrained`, loaded by path, offline) plus a
seeded head: :func:`pretrained_state` gives the values :func:`lthlib.nets.models.build_model`
copies over the seeded draw.  The draw itself is BERT's own initialisation (``_init_weights``:
N(0, ``initializer_range``) for linear and embedding weights, the padding row zeroed, zero
biases, LayerNorm 1 and 0), which is what a re-initialised encoder starts from.

What is prunable (:func:`prunable`), as Chen et al.: the weight matrices of the encoder's linear
layers (query, key, value, attention output, intermediate, output: the parameters that hold the
computation) and the pooler's.  Not the embeddings (a lookup table, which Chen et al. leave dense
too), not the biases and LayerNorm parameters (under 0.5% of the weights), not the head (new,
trained from a seed; every ticket needs all of it).

``ModelConfig.n_layers`` keeps the first layers of the pretrained encoder (the quick profile's
cut); ``dropout`` is BERT's hidden and attention dropout and the head's.
"""
from __future__ import annotations

import functools

import torch
from torch import nn

from ...core.config import ConfigError, ModelConfig
from ...data.prepare import PAD
from ...data.pretrained import MINILM, PretrainedPackage
from .initialisation import no_rule, zeros
from .outputs import n_outputs
from .reach import Alive, output_reach, rows_reached
from .spec import MODELS, ModelSpec

#: the parameter-name suffixes of the encoder's prunable weight matrices (Chen et al.'s set)
PRUNABLE_SUFFIXES = ("attention.self.query.weight", "attention.self.key.weight", "attention.self.value.weight",
                     "attention.output.dense.weight", "intermediate.dense.weight", "output.dense.weight")
POOLER_WEIGHT = "bert.pooler.dense.weight"


def bert_config(package: PretrainedPackage, cfg: ModelConfig):
    """The package's ``BertConfig`` with ``cfg``'s cuts: its first ``n_layers`` layers, its dropout."""
    from transformers import BertConfig
    config = BertConfig.from_json_file(str(package.file("config.json")))
    if cfg.embed_dim != config.hidden_size:
        raise ConfigError(f"{package.name} has hidden size {config.hidden_size}; set embed_dim={config.hidden_size} "
                          f"(got {cfg.embed_dim}): a pretrained encoder's width is its own")
    if not 1 <= cfg.n_layers <= config.num_hidden_layers:
        raise ConfigError(f"{package.name} has {config.num_hidden_layers} layers; n_layers keeps the first of "
                          f"them and must lie in 1..{config.num_hidden_layers}, got {cfg.n_layers}")
    config.num_hidden_layers = cfg.n_layers
    config.hidden_dropout_prob = config.attention_probs_dropout_prob = cfg.dropout
    return config


class PretrainedEncoderClassifier(nn.Module):
    output_prefix = "fc."
    embedding_param = "bert.embeddings.word_embeddings.weight"
    lengths_on_cpu = False

    def __init__(self, package: PretrainedPackage, cfg: ModelConfig, vocab_size: int, n_classes: int):
        super().__init__()
        from transformers import BertModel
        config = bert_config(package, cfg)
        if vocab_size != config.vocab_size:
            raise ConfigError(f"{package.name} reads its own WordPiece ids ({config.vocab_size}), and the data has "
                              f"{vocab_size}: set the data's tokenizer={package.name!r}")
        self.model_name = cfg.name
        self.package = package
        self.n_classes, self.n_out = n_classes, n_outputs(n_classes)
        # the default attention (PyTorch's scaled_dot_product_attention), chosen without the Hub
        self.bert = BertModel(config, add_pooling_layer=True)
        self.dropout = nn.Dropout(cfg.dropout)
        self.fc = nn.Linear(config.hidden_size, self.n_out)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        attention_mask = (positions[None, :] < lengths.to(tokens.device)[:, None]).to(torch.int64)
        pooled = self.bert(input_ids=tokens, attention_mask=attention_mask).pooler_output
        return self.fc(self.dropout(pooled))


@functools.cache
def _package_state(package_name: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    from ...data.pretrained import pretrained
    return load_file(str(pretrained(package_name).file("model.safetensors")))


def pretrained_state(model: PretrainedEncoderClassifier) -> dict[str, torch.Tensor]:
    """The pretrained values of every parameter of ``model.bert`` (the first ``n_layers``
    layers'), by the model's parameter names; the head has none."""
    state = _package_state(model.package.name)
    own = {name for name, _ in model.named_parameters()}
    values = {f"bert.{name}": value for name, value in state.items() if f"bert.{name}" in own}
    missing = sorted(name for name in own if name.startswith("bert.") and name not in values)
    if missing:
        raise ConfigError(f"{model.package.requirement} lacks {len(missing)} of the encoder's parameters "
                          f"(e.g. {missing[0]}): not the model this entry expects")
    return values


# ---------------------------------------------------------------------------------------------
# Hooks
# ---------------------------------------------------------------------------------------------

def init_rule_for(initializer_range: float):
    def init_rule(name: str, shape: torch.Size, g: torch.Generator) -> torch.Tensor:
        """BERT's ``_init_weights``: N(0, initializer_range) weights and embeddings (the padding
        row zero), zero biases, LayerNorm weight 1 and bias 0."""
        leaf = name.rpartition(".")[2]
        if "LayerNorm" in name:
            return torch.ones(shape) if leaf == "weight" else zeros(shape)
        if leaf == "bias":
            return zeros(shape)
        if leaf == "weight" and len(shape) == 2:
            value = torch.empty(shape).normal_(0.0, initializer_range, generator=g)
            if name.endswith("word_embeddings.weight"):
                value[PAD] = 0.0
            return value
        raise no_rule(name)
    return init_rule


def prunable(model: PretrainedEncoderClassifier, name: str) -> bool:
    return name == POOLER_WEIGHT or (name.startswith("bert.encoder.layer.") and name.endswith(PRUNABLE_SUFFIXES))


def reach(model: PretrainedEncoderClassifier, alive: Alive) -> dict[str, torch.Tensor]:
    """The residual stream carries every hidden dimension from the (unpruned) embeddings through
    every layer, so a query, key, value or intermediate row is reached if it keeps any weight;
    an attention-output row if it keeps one on a reached value row, a layer-output row if on a
    reached intermediate unit; the pooler's rows if they keep any weight, and a logit if it keeps
    one on a reached pooler unit (a pooler pruned whole disconnects the head)."""
    hidden = torch.ones(model.bert.config.hidden_size, dtype=torch.bool)
    reached: dict[str, torch.Tensor] = {}
    for index in range(model.bert.config.num_hidden_layers):
        layer = f"bert.encoder.layer.{index}."
        for part in ("attention.self.query", "attention.self.key", "attention.self.value", "intermediate.dense"):
            reached[f"{layer}{part}.weight"] = rows_reached(alive(f"{layer}{part}.weight"), hidden)
        reached[f"{layer}attention.output.dense.weight"] = rows_reached(
            alive(f"{layer}attention.output.dense.weight"), reached[f"{layer}attention.self.value.weight"])
        reached[f"{layer}output.dense.weight"] = rows_reached(
            alive(f"{layer}output.dense.weight"), reached[f"{layer}intermediate.dense.weight"])
    reached[POOLER_WEIGHT] = rows_reached(alive(POOLER_WEIGHT), hidden)
    return {**reached, **output_reach(model, alive, reached[POOLER_WEIGHT])}


def layer_kind(model: PretrainedEncoderClassifier, name: str) -> str | None:
    if name == POOLER_WEIGHT:
        return "pooler"
    if not prunable(model, name):
        return None
    return "attention" if ".attention." in name else "feed_forward"


def weight_uses(model: PretrainedEncoderClassifier, name: str, n: torch.Tensor) -> float | None:
    """A weight matrix of a layer is applied once per token; the pooler's once per example."""
    if name == POOLER_WEIGHT:
        return 1.0
    return float(n.mean()) if name.startswith("bert.encoder.") else None


def pretrained_entry(name: str, display: str, package: PretrainedPackage, paper: ModelConfig, vocab_size: int,
                     initializer_range: float = 0.02) -> ModelSpec:
    """The registry entry of a pretrained BERT encoder from ``package`` (``vocab_size`` and
    ``initializer_range``: its config's; the second for the re-initialisation's draw)."""
    def build(cfg: ModelConfig, vocab_size: int, n_classes: int) -> PretrainedEncoderClassifier:
        return PretrainedEncoderClassifier(package, cfg, vocab_size, n_classes)
    return ModelSpec(name, display, build, recurrent=False, paper_max_vocab=vocab_size - 2, paper=paper,
                     init_rule=init_rule_for(initializer_range), reach=reach, layer_kind=layer_kind,
                     weight_uses=weight_uses, pretrained=pretrained_state, prunable=prunable, tokenizer=package.name,
                     export_refusal="a deployed encoder needs its WordPiece tokenizer in the export's standalone "
                                    "pipeline and its attention's ONNX graph checked against PyTorch, and neither "
                                    "is built yet")


# Chen et al.'s network is BERT-base (12 layers, hidden 768); the study's size here is the
# package's whole MiniLM (6 layers, hidden 384); the quick profile keeps fewer of its layers.
MODELS.register(pretrained_entry(
    "minilm", "MiniLM-L6", MINILM,
    ModelConfig(name="minilm", embed_dim=384, embedding="pretrained", hidden_dim=384, n_layers=6, dropout=0.1),
    vocab_size=30_522))
