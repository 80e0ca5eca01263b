"""The two text classifiers of the study and their seeded initialisation.

- :class:`KimCNN` (Kim 2014): embedding -> Conv1d per filter width -> ReLU -> max over time ->
  concatenate -> dropout -> Linear.
- :class:`RecurrentClassifier`: embedding -> (Bi)LSTM / GRU / RNN over packed sequences -> the last
  layer's final forward (and backward) hidden states -> dropout -> Linear.

Both take ``forward(tokens (B, T) int64 padded with PAD, lengths (B,) int64) -> logits (B, n_out)``
with ``n_out = 1`` for two classes (binary cross-entropy on one logit) and ``n_out = C`` otherwise.
:func:`loss_and_correct` is that loss (and the number right) of a batch's logits.

Every model carries attributes the pruning code reads:

- ``embedding_param``  name of the embedding matrix (``"embedding.weight"``)
- ``output_prefix``    prefix of the output layer's parameters (``"fc."``)
- ``n_out``, ``n_classes``
- ``lengths_on_cpu``   True where ``forward`` wants ``lengths`` on the CPU (packed sequences
  need their lengths on the host; handing them over there avoids a device->host sync per batch)

Masks are applied by multiplying the parameters in place (:mod:`lthlib.nets.masks`), never with
``torch.nn.utils.prune``: re-parametrising an ``nn.LSTM`` breaks cuDNN's flat weight buffer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import (
    _VF,  # the recurrent kernels nn.LSTM / nn.GRU / nn.RNN call
    nn,
)
from torch.nn.utils.rnn import pack_padded_sequence

from ..core.config import ConfigError, ModelConfig
from ..core.registry import Registry
from ..data.prepare import PAD, UNK


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


class KimCNN(nn.Module):
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
        x = self.embedding(tokens).transpose(1, 2)  # (B, E, T)
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


_CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


class RecurrentClassifier(nn.Module):
    embedding_param = "embedding.weight"
    output_prefix = "fc."
    lengths_on_cpu = True

    def __init__(self, cell: str, vocab_size: int, embed_dim: int, hidden_dim: int,
                 n_layers: int, bidirectional: bool, n_classes: int, dropout: float = 0.5):
        super().__init__()
        if cell not in _CELLS:
            raise ConfigError(f"unknown recurrent cell {cell!r}; valid: {', '.join(_CELLS)}")
        self.cell = cell
        self.n_classes, self.n_out = n_classes, n_outputs(n_classes)
        self.bidirectional = bidirectional
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
        self.rnn = _CELLS[cell](embed_dim, hidden_dim, num_layers=n_layers, batch_first=True,
                                bidirectional=bidirectional,
                                dropout=dropout if n_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden_dim * (2 if bidirectional else 1), self.n_out)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = self.embedding(tokens).float()
        lengths = lengths.to("cpu", torch.int64).clamp(min=1)
        # The recurrence runs in fp32 even under bf16 autocast: autocast's cuDNN-RNN wrapper
        # casts to fp16 (no loss scaling here), and cuDNN takes bf16 RNNs only from 9.13 on.
        with torch.autocast(device_type=x.device.type, enabled=False):
            last = self._last_states_packed(x, lengths) if x.is_cuda else self._last_states_padded(x, lengths)
        return self.fc(self.dropout(last))

    def _last_states_packed(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The last layer's final state(s) through cuDNN's packed sequences (on a GPU)."""
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        _, hidden = self.rnn(packed)
        if isinstance(hidden, tuple):  # LSTM: (h_n, c_n)
            hidden = hidden[0]
        # h_n: (layers * directions, B, H), in the batch's original order (enforce_sorted=False)
        return torch.cat([hidden[-2], hidden[-1]], dim=1) if self.bidirectional else hidden[-1]

    def _last_states_padded(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The same states without packing, for the CPU, where packed sequences of unequal
        lengths run ~10x slower (a BiLSTM over 256 tokens: 0.76 s a batch against 0.08).

        Each direction of each layer runs alone over right-padded sequences, the reverse one
        over every sequence reversed within its own length, so padding comes after the last
        real token in both and never reaches a state that is read: a state at position
        ``length - 1`` is exactly the packed run's final state.  The weights are the module's
        own (``self.rnn``), so masks, initialisation and names are unchanged."""
        x = x.to(self.rnn._flat_weights[0].dtype)  # a float64 copy (SynFlow's scores) runs in float64
        batch, steps, _ = x.shape
        positions = torch.arange(steps, device=x.device)
        ends = lengths.to(x.device)[:, None]
        reverse = torch.where(positions[None, :] < ends, ends - 1 - positions[None, :], positions[None, :])
        last_index = (ends[:, 0] - 1, torch.arange(batch, device=x.device))
        directions = 2 if self.bidirectional else 1
        per_direction = len(self.rnn._flat_weights) // (self.rnn.num_layers * directions)
        inputs, finals = x, []
        for layer in range(self.rnn.num_layers):
            outputs, finals = [], []
            for direction in range(directions):
                first = per_direction * (layer * directions + direction)
                weights = self.rnn._flat_weights[first:first + per_direction]
                seq = inputs if direction == 0 else _flip_within(inputs, reverse)
                out = _run_one_direction(self.cell, seq, weights, self.rnn.hidden_size, self.training)
                finals.append(out[last_index[1], last_index[0]])
                outputs.append(out if direction == 0 else _flip_within(out, reverse))
            inputs = torch.cat(outputs, dim=2)
            if self.training and self.rnn.dropout > 0 and layer < self.rnn.num_layers - 1:
                inputs = F.dropout(inputs, self.rnn.dropout, training=True)
        return torch.cat(finals, dim=1)


def _flip_within(seq: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``seq`` (B, T, F) with each sequence's first ``length`` steps in reverse order."""
    return seq.gather(1, index[:, :, None].expand_as(seq))


def _run_one_direction(cell: str, seq: torch.Tensor, weights: list[torch.Tensor], hidden: int,
                       training: bool) -> torch.Tensor:
    """One direction of one recurrent layer over ``seq`` (B, T, F) from a zero state: the
    outputs (B, T, H), by the kernel ``nn.LSTM``/``nn.GRU``/``nn.RNN`` themselves call."""
    h0 = seq.new_zeros(1, seq.shape[0], hidden)
    args = (True, 1, 0.0, training, False, True)  # biases, 1 layer, no dropout, train, 1 direction, batch_first
    if cell == "lstm":
        return _VF.lstm(seq, (h0, h0), weights, *args)[0]
    return (_VF.gru if cell == "gru" else _VF.rnn_tanh)(seq, h0, weights, *args)[0]


# ---------------------------------------------------------------------------------------------
# Initialisation
# ---------------------------------------------------------------------------------------------

def _draw(shape, fill: Callable[[torch.Tensor, torch.Generator], None], g: torch.Generator) -> torch.Tensor:
    t = torch.empty(shape, dtype=torch.float32)
    fill(t, g)
    return t


def initialise(model: nn.Module, seed: int, embedding: torch.Tensor | None = None) -> nn.Module:
    """Seeded initialisation, in place, independent of the global RNG and of the device.

    - conv, linear and recurrent ``weight_ih``: Xavier-normal over the whole tensor (for the
      recurrent input weights the gates' rows together, as Keras' glorot kernel);
    - recurrent ``weight_hh``: orthogonal, drawn separately for each gate's (H, H) block;
    - every bias: zero;
    - embedding: N(0, 1), or a copy of ``embedding`` (e.g. a GloVe matrix), then the ``PAD``
      and ``UNK`` rows zeroed.

    Values are drawn on the CPU from one ``torch.Generator(seed)`` in parameter order and copied
    into the parameters, so a seed gives the same network on any device.
    """
    g = torch.Generator().manual_seed(int(seed))
    emb_name = getattr(model, "embedding_param", "embedding.weight")
    with torch.no_grad():
        for name, p in model.named_parameters():
            leaf = name.rpartition(".")[2]
            if name == emb_name:
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
            elif leaf.startswith("bias"):
                value = torch.zeros(p.shape)
            elif leaf.startswith("weight_hh"):
                rows, hidden = p.shape
                blocks = [_draw((hidden, hidden), lambda t, g: nn.init.orthogonal_(t, generator=g), g)
                          for _ in range(rows // hidden)]
                value = torch.cat(blocks, dim=0)
            elif p.dim() >= 2:  # conv, linear, weight_ih
                value = _draw(p.shape, lambda t, g: nn.init.xavier_normal_(t, generator=g), g)
            else:
                raise ConfigError(f"no initialisation rule for parameter {name!r}")
            p.copy_(value.to(p.dtype))
    flatten_rnns(model)
    return model


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


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------

Builder = Callable[[ModelConfig, int, int], nn.Module]


@dataclass(frozen=True)
class ModelSpec:
    """One model: how to build it and what the study trained."""
    name: str
    display: str
    build: Builder                      # (config, vocab size, classes) -> an uninitialised network
    recurrent: bool                     # packed sequences: lengths wanted on the CPU
    paper: ModelConfig                  # the study's architecture
    paper_max_vocab: int                # the study's vocabulary (pad and unk come on top)


MODELS: Registry[ModelSpec] = Registry("model")


def _cnn(cfg: ModelConfig, vocab_size: int, n_classes: int) -> nn.Module:
    return KimCNN(vocab_size, cfg.embed_dim, cfg.n_filters, tuple(cfg.filter_sizes), n_classes,
                  cfg.dropout)


def _recurrent(cell: str) -> Builder:
    def build(cfg: ModelConfig, vocab_size: int, n_classes: int) -> nn.Module:
        return RecurrentClassifier(cell, vocab_size, cfg.embed_dim, cfg.hidden_dim, cfg.n_layers,
                                   cfg.bidirectional, n_classes, cfg.dropout)
    return build


MODELS.register(ModelSpec("cnn", "CNN", _cnn, recurrent=False, paper_max_vocab=50_000,
                          paper=ModelConfig(name="cnn", embed_dim=100, embedding="random", n_filters=100)))
# The study's recurrent net is a bidirectional LSTM (ModelConfig.bidirectional, True in the study
# and every profile), so it is shown as "BiLSTM" wherever a model is named.
for _cell, _display in (("lstm", "BiLSTM"), ("gru", "GRU"), ("rnn", "RNN")):
    MODELS.register(ModelSpec(_cell, _display, _recurrent(_cell), recurrent=True, paper_max_vocab=25_000,
                              paper=ModelConfig(name=_cell, embed_dim=100, embedding="glove",
                                                hidden_dim=256, n_layers=2)))


def build_model(cfg: ModelConfig, vocab_size: int, n_classes: int, *, init_seed: int,
                embedding: torch.Tensor | None = None) -> nn.Module:
    """A freshly initialised network (on the CPU) for ``cfg``."""
    model = MODELS.get(cfg.name).build(cfg, vocab_size, n_classes)
    return initialise(model, init_seed, embedding)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
