"""The recurrent classifier: embedding -> (Bi)LSTM / GRU / RNN over packed sequences -> the last
layer's final forward (and backward) hidden states -> dropout -> Linear; its hooks and its
registry entries (``lstm``, ``gru``, ``rnn``: one per cell, the LSTM's graph alone exportable).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import (
    _VF,  # the recurrent kernels nn.LSTM / nn.GRU / nn.RNN call
    nn,
)
from torch.nn.utils.rnn import pack_padded_sequence

from ...core.config import ConfigError, ModelConfig
from ...data.prepare import PAD
from .initialisation import no_rule, orthogonal_blocks, xavier_normal, zeros
from .outputs import n_outputs
from .reach import Alive, embedding_reach, output_reach, rows_reached
from .spec import MODELS, Builder, ModelSpec

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
        self.model_name = cell  # its registry entry: one per cell
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
        # as row numbers of the (B * T, F) view: each sequence's steps reversed within its length
        reverse = (reverse + torch.arange(batch, device=x.device)[:, None] * steps).reshape(-1)
        last_index = (ends[:, 0] - 1, torch.arange(batch, device=x.device))
        directions = 2 if self.bidirectional else 1
        per_direction = len(self.rnn._flat_weights) // (self.rnn.num_layers * directions)
        inputs, finals = x, []
        for layer in range(self.rnn.num_layers):
            outputs, finals = [], []
            last_layer = layer == self.rnn.num_layers - 1
            for direction in range(directions):
                first = per_direction * (layer * directions + direction)
                weights = self.rnn._flat_weights[first:first + per_direction]
                seq = inputs if direction == 0 else _flip_within(inputs, reverse)
                out = _run_one_direction(self.cell, seq, weights, self.rnn.hidden_size, self.training)
                finals.append(out[last_index[1], last_index[0]])
                if not last_layer:  # the last layer's outputs are read at their final states only
                    outputs.append(out if direction == 0 else _flip_within(out, reverse))
            if last_layer:
                break
            inputs = torch.cat(outputs, dim=2)
            if self.training and self.rnn.dropout > 0:
                inputs = F.dropout(inputs, self.rnn.dropout, training=True)
        return torch.cat(finals, dim=1)


def _flip_within(seq: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``seq`` (B, T, F) with each sequence's first ``length`` steps in reverse order; ``rows``
    (B * T,) is the row of the (B * T, F) view each output row copies.  Whole rows through
    ``index_select`` (its backward adds each row's gradient once, into zeros, as ``gather``'s
    did), not ``gather`` element by element with an expanded index: ~5x less time a batch."""
    return seq.reshape(-1, seq.shape[2]).index_select(0, rows).view(seq.shape)


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
# Hooks
# ---------------------------------------------------------------------------------------------

def init_rule(name: str, shape: torch.Size, g: torch.Generator) -> torch.Tensor:
    """Zero biases; ``weight_hh`` orthogonal, drawn separately for each gate's (H, H) block;
    ``weight_ih`` (the gates' rows together) and the output layer Xavier-normal."""
    leaf = name.rpartition(".")[2]
    if leaf.startswith("bias"):
        return zeros(shape)
    if leaf.startswith("weight_hh"):
        return orthogonal_blocks(shape, g)
    if len(shape) >= 2:
        return xavier_normal(shape, g)
    raise no_rule(name)


def _direction_reach(ih: torch.Tensor, hh: torch.Tensor,
                     inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(ih rows, hh rows, hidden units) reached in one direction of one layer, to a fixed point."""
    hidden_size = hh.shape[1]
    rows_ih = rows_reached(ih, inputs)
    hidden = rows_ih.reshape(-1, hidden_size).any(dim=0)
    while True:
        rows_hh = rows_reached(hh, hidden)
        grown = (rows_ih | rows_hh).reshape(-1, hidden_size).any(dim=0)
        if torch.equal(grown, hidden):
            return rows_ih, rows_hh, hidden
        hidden = grown


def reach(model: RecurrentClassifier, alive: Alive) -> dict[str, torch.Tensor]:
    """A gate row is reached if it keeps a ``weight_ih`` entry on a reached input feature or a
    ``weight_hh`` entry on a reached hidden unit of its own direction; a hidden unit if any of
    its gate rows is, iterated to a fixed point over time; the next layer (and the output) reads
    the reached units of both directions."""
    reached = embedding_reach(model, alive)
    prefix = next(name for name, m in model.named_modules() if isinstance(m, nn.RNNBase))
    rnn = model.get_submodule(prefix)
    inputs = reached[model.embedding_param]
    for layer in range(rnn.num_layers):
        outputs = []
        for suffix in ("", "_reverse")[:2 if rnn.bidirectional else 1]:
            ih, hh = f"{prefix}.weight_ih_l{layer}{suffix}", f"{prefix}.weight_hh_l{layer}{suffix}"
            reached[ih], reached[hh], hidden = _direction_reach(alive(ih), alive(hh), inputs)
            outputs.append(hidden)
        inputs = torch.cat(outputs)
    return {**reached, **output_reach(model, alive, inputs)}


def layer_kind(model: RecurrentClassifier, name: str) -> str | None:
    leaf = name.rpartition(".")[2]
    if leaf.startswith("weight_ih"):
        return "recurrent_input"
    if leaf.startswith("weight_hh"):
        return "recurrent_hidden"
    return None


def weight_uses(model: RecurrentClassifier, name: str, n: torch.Tensor) -> float | None:
    """A recurrent weight is applied once per time step and direction's pass: ``n``."""
    return float(n.mean()) if name.startswith("rnn.") else None


def export(model: RecurrentClassifier) -> nn.Module:
    """The network itself: its CPU path (each direction through ``_VF.lstm``) traces with a
    dynamic batch and length."""
    return model.eval()


def builder(cell: str) -> Builder:
    def build(cfg: ModelConfig, vocab_size: int, n_classes: int) -> RecurrentClassifier:
        return RecurrentClassifier(cell, vocab_size, cfg.embed_dim, cfg.hidden_dim, cfg.n_layers,
                                   cfg.bidirectional, n_classes, cfg.dropout)
    return build


# The study's recurrent net is a bidirectional LSTM (ModelConfig.bidirectional, True in the study
# and every profile), so it is shown as "BiLSTM" wherever a model is named.  Only the LSTM's ONNX
# graph is checked against PyTorch (tests/test_deploy.py), so only it is exportable.
for _cell, _display in (("lstm", "BiLSTM"), ("gru", "GRU"), ("rnn", "RNN")):
    MODELS.register(ModelSpec(
        _cell, _display, builder(_cell), recurrent=True, paper_max_vocab=25_000,
        paper=ModelConfig(name=_cell, embed_dim=100, embedding="glove", hidden_dim=256, n_layers=2),
        init_rule=init_rule, reach=reach, layer_kind=layer_kind, weight_uses=weight_uses,
        export=export if _cell == "lstm" else None))
