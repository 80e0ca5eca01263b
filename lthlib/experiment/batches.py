"""Padded batches of one split, built on the device: :class:`Batcher`.

It keeps a split's token ids, offsets and labels on the device and cuts them into padded batches
with vectorised indexing (no DataLoader, no per-example Python).  Training batches are
length-bucketed: each epoch the examples are shuffled (seeded), sorted by length within chunks of
~50 batches, cut into batches and the batch order shuffled (seeded).  Evaluation batches are sorted
by length, unshuffled.  The training loop (:mod:`lthlib.experiment.train`) and the passes that
score a network on a split read them.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Iterator

import torch

from ..data.prepare import PAD

if TYPE_CHECKING:  # pragma: no cover
    from ..data.prepare import EncodedSplit

Batch = tuple  # (tokens (B, T) int64 padded with PAD, lengths (B,) int64, labels (B,) int64)


class Batcher:
    """Padded batches of one split, built on the device.

    ``lengths_on_cpu``: hand the batch lengths over as a CPU tensor (recurrent models);
    otherwise they are on the device.  ``max_len`` truncates every example to its first
    ``max_len`` ids (a no-op where the data layer truncated already).  Lengths are clamped to
    >= 1 for packing; an empty example is one PAD token.  ``pad_multiple``: the padded width is
    rounded up to a multiple of this (fewer distinct shapes: oneDNN on the CPU builds a kernel
    per convolution shape, cuDNN likes aligned sizes; the models ignore padding beyond each
    example's length).
    """

    def __init__(self, split: "EncodedSplit", batch_size: int, device: str | torch.device = "cpu",
                 *, max_len: int | None = None, lengths_on_cpu: bool = False,
                 chunk_batches: int = 50, pad_multiple: int = 8):
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        self.chunk_batches = int(chunk_batches)
        self.pad_multiple = max(int(pad_multiple), 1)
        self.lengths_on_cpu = lengths_on_cpu
        offsets = split.offsets.to("cpu", torch.int64)
        true_len = offsets[1:] - offsets[:-1]
        if max_len is not None:
            true_len = true_len.clamp(max=int(max_len))
        self.n = int(true_len.numel())
        self.true_len_cpu = true_len
        self.lengths_cpu = true_len.clamp(min=1)
        tokens = split.tokens.to("cpu", torch.int32)
        if tokens.numel() == 0:
            tokens = torch.full((1,), PAD, dtype=torch.int32)
        self.n_tokens = int(tokens.numel())
        self.tokens = tokens.to(self.device)
        self.starts = offsets[:-1].to(self.device)
        self.true_len = true_len.to(self.device)
        self.lengths = self.lengths_cpu.to(self.device)
        self.labels = split.labels.to(self.device, torch.int64)
        max_len_all = int(self.lengths_cpu.max()) if self.n else 1
        self.positions = torch.arange(self._width(max_len_all), device=self.device)

    def __len__(self) -> int:
        return self.n

    def _width(self, maxlen: int) -> int:
        return -(-max(maxlen, 1) // self.pad_multiple) * self.pad_multiple

    def n_batches(self, batch_size: int | None = None) -> int:
        return math.ceil(self.n / (batch_size or self.batch_size))

    # -- orders (on the CPU, seeded) --------------------------------------------------------
    def train_order(self, seed: int) -> list[torch.Tensor]:
        """The epoch's batches as CPU index tensors, in the order they are to be seen."""
        if self.n == 0:
            return []
        g = torch.Generator().manual_seed(int(seed))
        perm = torch.randperm(self.n, generator=g)
        chunk = self.batch_size * self.chunk_batches
        chunk_id = torch.arange(self.n) // chunk
        key = chunk_id * (int(self.lengths_cpu.max()) + 1) + self.lengths_cpu[perm]
        ordered = perm[torch.sort(key, stable=True).indices]
        batches = list(torch.split(ordered, self.batch_size))
        return [batches[i] for i in torch.randperm(len(batches), generator=g).tolist()]

    def eval_order(self, batch_size: int | None = None) -> list[torch.Tensor]:
        if self.n == 0:
            return []
        ordered = torch.sort(self.lengths_cpu, stable=True).indices
        return list(torch.split(ordered, batch_size or self.batch_size))

    # -- batches ----------------------------------------------------------------------------
    def iterate(self, order: list[torch.Tensor]) -> Iterator[Batch]:
        """Padded batches for index tensors (one host->device copy for the whole order)."""
        if not order:
            return
        sizes = [len(idx) for idx in order]
        maxlens = [self._width(int(self.lengths_cpu[idx].max())) for idx in order]
        flat_cpu = torch.cat(order)
        flat = flat_cpu.to(self.device, non_blocking=True)
        start = 0
        for size, maxlen in zip(sizes, maxlens):
            idx = flat[start:start + size]
            idx_cpu = flat_cpu[start:start + size]
            start += size
            yield self.gather(idx, maxlen, idx_cpu)

    def gather(self, idx: torch.Tensor, maxlen: int, idx_cpu: torch.Tensor | None = None) -> Batch:
        """The (B, maxlen) PAD-filled batch of examples ``idx`` (device indices)."""
        pos = self.positions[:maxlen]
        src = self.starts[idx][:, None] + pos[None, :]
        valid = pos[None, :] < self.true_len[idx][:, None]
        tokens = self.tokens[src.clamp_(max=self.n_tokens - 1)]
        tokens = torch.where(valid, tokens, torch.full_like(tokens, PAD)).long()
        if self.lengths_on_cpu:
            lengths = self.lengths_cpu[idx_cpu if idx_cpu is not None else idx.cpu()]
        else:
            lengths = self.lengths[idx]
        return tokens, lengths, self.labels[idx]

    def train_batches(self, seed: int) -> Iterator[Batch]:
        return self.iterate(self.train_order(seed))

    def eval_batches(self, batch_size: int | None = None) -> Iterator[Batch]:
        return self.iterate(self.eval_order(batch_size))
