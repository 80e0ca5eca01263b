"""The one training loop: device-resident length-bucketed batches, masks, checkpoints.

- :class:`~lthlib.experiment.batches.Batcher` (imported here, where it used to live) keeps a
  split's token ids, offsets and labels on the device and cuts them into padded batches:
  length-bucketed and seeded for training, sorted by length for evaluation.
- :func:`train_model` runs Adam (AdamW with weight decay; a constant learning rate, or BERT's
  warm-up and linear decay; gradient clipping where asked: :class:`~lthlib.core.config.TrainConfig`)
  with the masks re-applied after every step by one fused :class:`lthlib.nets.masks.MaskApplier`
  call, evaluates validation and test after every epoch, keeps the best-validation state, stops
  early on ``patience``, can snapshot the weights after exactly ``k`` iterations (θk, for late
  rewinding), and checkpoints each epoch atomically so a killed run resumes to the same numbers.

Seeds: the data order of epoch ``e`` (0-based) comes from ``derive_seed(seed, "data_order", e)``
and dropout from ``torch.manual_seed(derive_seed(seed, "dropout", e))`` at the start of the
epoch, so no RNG state needs saving.  Note that this sets torch's global seed.

On CUDA the loop runs bf16 autocast when ``TrainConfig.bf16`` (the CPU trains in fp32), fused
Adam, and no host syncs inside an epoch (loss and accuracy are summed on the device and read
once per epoch).  Recurrent models get their lengths on the CPU (packed sequences need host
lengths), so they cost no sync either.
"""
from __future__ import annotations

import copy
import dataclasses
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import torch
from torch import nn

from ..core.config import ConfigError, TrainConfig, derive_seed
from ..machine.files import DamagedFile, cpu_state, load_torch, save_torch
from ..machine.platform import resolve_device
from ..nets.masks import MaskApplier, Masks
from ..nets.models import flatten_rnns, loss_and_correct, predicted_class
from .batches import Batcher

if TYPE_CHECKING:  # pragma: no cover
    from ..data.prepare import PreparedData

CHECKPOINT_VERSION = 2


# ---------------------------------------------------------------------------------------------
# Evaluation (the loss: lthlib.nets.models.loss_and_correct)
# ---------------------------------------------------------------------------------------------

#: On the CPU, evaluation runs the model on slices of this many examples of a batch (a last slice
#: under :data:`CPU_EVAL_MIN_SLICE` joins the one before), each cut to its own padded width, and
#: scores the batch's logits together, so the loss is summed over the same batches as before.  A
#: 256-example slice's activations stay in cache, where a 1,024-example batch's do not: the quick
#: profile's validation + test passes took 0.55-0.7x the time (benchmarks/bench_epoch_profile.py).
#: Each example's logits are bit-for-bit the whole batch's: the convolutions and recurrences
#: compute an example alone at any batch size and width, and MKL's matrix product gives a row the
#: same bits in any number of rows but a handful (1 row takes another kernel; 2-7 trailing rows
#: did for some shapes), hence the minimum; tests/test_train.py checks the whole.  On a GPU a batch
#: runs whole.
CPU_EVAL_SLICE = 256
CPU_EVAL_MIN_SLICE = 32


def _eval_logits(model: nn.Module, batcher: Batcher, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The model's logits for one evaluation batch (see :data:`CPU_EVAL_SLICE`)."""
    n = tokens.shape[0]
    if batcher.device.type != "cpu" or n <= CPU_EVAL_SLICE:
        return model(tokens, lengths)
    starts = list(range(0, n, CPU_EVAL_SLICE))
    if n - starts[-1] < CPU_EVAL_MIN_SLICE:
        starts.pop()
    pieces = []
    for start, stop in zip(starts, [*starts[1:], n]):
        lens = lengths[start:stop]
        width = min(tokens.shape[1], batcher._width(int(lens.max())))
        pieces.append(model(tokens[start:stop, :width], lens))
    return torch.cat(pieces)


def _autocast(device: torch.device, bf16: bool):
    enabled = bool(bf16) and device.type == "cuda"
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled)


def evaluate(model: nn.Module, batcher_or_split, *, batch_size: int = 1024,
             device: str | torch.device | None = None, bf16: bool = False,
             max_len: int | None = None) -> tuple[float, float]:
    """(mean loss, accuracy) of ``model`` on a :class:`Batcher` or an ``EncodedSplit``.

    Runs in eval mode under ``torch.inference_mode``, batches sorted by length (on the CPU, the
    model sees each in slices: :data:`CPU_EVAL_SLICE`); restores the model's train/eval mode
    afterwards.  An empty split gives (nan, nan).
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    if isinstance(batcher_or_split, Batcher):
        batcher = batcher_or_split
    else:
        batcher = Batcher(batcher_or_split, batch_size, device, max_len=max_len,
                          lengths_on_cpu=getattr(model, "lengths_on_cpu", False))
    if len(batcher) == 0:
        return float("nan"), float("nan")
    was_training = model.training
    model.eval()
    total_loss = torch.zeros((), device=batcher.device)
    total_correct = torch.zeros((), dtype=torch.int64, device=batcher.device)
    with torch.inference_mode(), _autocast(batcher.device, bf16):
        for tokens, lengths, labels in batcher.eval_batches(batch_size):
            loss, correct = loss_and_correct(_eval_logits(model, batcher, tokens, lengths), labels, reduction="sum")
            total_loss += loss
            total_correct += correct
    model.train(was_training)
    n = len(batcher)
    return total_loss.item() / n, total_correct.item() / n


def predict(model: nn.Module, batcher: Batcher, batch_size: int = 1024, bf16: bool = False) -> torch.Tensor:
    """The predicted class of every example of ``batcher``'s split, in the split's order (CPU int64)."""
    out = torch.empty(len(batcher), dtype=torch.int64)
    if len(batcher) == 0:
        return out
    was_training = model.training
    model.eval()
    order = batcher.eval_order(batch_size)
    with torch.inference_mode(), _autocast(batcher.device, bf16):
        for idx, (tokens, lengths, _) in zip(order, batcher.iterate(order)):
            out[idx] = predicted_class(_eval_logits(model, batcher, tokens, lengths).float()).cpu()
    model.train(was_training)
    return out


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------

def make_optimizer(params, lr: float, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Adam with its fused kernel, on the CPU too (torch >= 2.4); AdamW (decoupled weight decay)
    where ``weight_decay`` > 0.  Besides being one pass per tensor, the fused kernel keeps its
    speed on a pruned network: the default path's ``sqrt`` of the second moments runs ~10x slower
    on the exact zeros that pruned, gradient-free weights leave there.  Pruned weights stay zero
    under decay too (the masks are re-applied after every step)."""
    if weight_decay > 0:
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=True)
    return torch.optim.Adam(params, lr=lr, fused=True)


def lr_factor(cfg: TrainConfig, step: int, total_steps: int) -> float:
    """The learning rate's multiplier for the optimiser step that follows ``step`` steps taken, of
    ``total_steps`` (the epoch cap's): 1 for ``constant``; for ``linear``, Hugging Face's
    ``get_linear_schedule_with_warmup`` (``step / warmup`` steps, then down to 0 at the cap)."""
    if cfg.lr_schedule == "constant":
        return 1.0
    warmup = round(cfg.warmup_fraction * total_steps)
    if step < warmup:
        return step / warmup
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup))


def before_update(cfg: TrainConfig, model: nn.Module, optimizer: torch.optim.Optimizer, lr: float,
                  total_steps: int, steps_taken: Callable[[], int]) -> Callable[[], None] | None:
    """What runs between ``backward`` and the optimiser step: the learning rate of the schedule
    and the clipping of :class:`TrainConfig`; None where the configuration asks for neither
    (the study's training)."""
    if cfg.lr_schedule == "constant" and cfg.clip_grad_norm is None:
        return None
    params = [p for p in model.parameters() if p.requires_grad]

    def hook() -> None:
        if cfg.lr_schedule != "constant":
            for group in optimizer.param_groups:
                group["lr"] = lr * lr_factor(cfg, steps_taken(), total_steps)
        if cfg.clip_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(params, cfg.clip_grad_norm, foreach=True)
    return hook


def train_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, apply: MaskApplier,
                batches, use_bf16: bool, after_step=None, before_step=None) -> tuple[torch.Tensor, torch.Tensor]:
    """One pass of masked training over ``batches``: forward, backward, ``before_step`` (the
    schedule's learning rate, clipping: :func:`before_update`), Adam, re-mask.

    Returns the summed loss and the number correct as device tensors (no host sync inside).
    """
    model.train()
    device = next(model.parameters()).device
    loss_sum = torch.zeros((), device=device)
    correct_sum = torch.zeros((), dtype=torch.int64, device=device)
    for tokens, lengths, labels in batches:
        optimizer.zero_grad(set_to_none=True)
        with _autocast(device, use_bf16):
            logits = model(tokens, lengths)
        loss, correct = loss_and_correct(logits, labels)
        loss.backward()
        if before_step is not None:
            before_step()
        optimizer.step()
        apply()
        loss_sum += loss.detach() * labels.shape[0]
        correct_sum += correct
        if after_step is not None:
            after_step()
    return loss_sum, correct_sum


@dataclass
class TrainResult:
    best_state: dict[str, torch.Tensor]        # CPU weights at the best validation loss
    final_state: dict[str, torch.Tensor]       # CPU weights after the last epoch run
    snapshot_state: dict[str, torch.Tensor] | None  # CPU weights after `snapshot_at` steps
    epochs: list[dict] = field(default_factory=list)  # one row per epoch run
    best_epoch: int = 0                        # 1-based epoch of best_state
    best_val_loss: float = float("nan")
    best_val_acc: float = float("nan")
    test_acc: float = float("nan")             # test accuracy of best_state
    final_test_acc: float = float("nan")       # test accuracy after the last epoch
    epochs_run: int = 0
    train_seconds: float = 0.0
    iterations_per_epoch: int = 0
    test_predictions: torch.Tensor | None = None  # best_state's predicted class of every test example


@dataclass
class _Progress:
    """Everything a checkpoint holds besides the model and optimiser states."""
    history: list[dict] = field(default_factory=list)
    best_state: dict[str, torch.Tensor] | None = None
    best_epoch: int = 0
    best_val_loss: float = math.inf
    bad_epochs: int = 0
    snapshot_state: dict[str, torch.Tensor] | None = None
    iteration: int = 0
    train_seconds: float = 0.0
    stopped: bool = False


def _checkpoint_meta(seed: int, lr: float, epochs: int, cfg: TrainConfig, snapshot_at,
                     masks: Masks) -> dict:
    return {"version": CHECKPOINT_VERSION, "seed": int(seed), "lr": float(lr), "epochs": int(epochs),
            "batch_size": cfg.batch_size, "patience": cfg.patience, "snapshot_at": snapshot_at,
            "mask_names": list(masks), "mask_kept": [int(m.sum()) for m in masks.values()],
            **({"weight_decay": cfg.weight_decay} if cfg.weight_decay else {}),
            **({"lr_schedule": cfg.lr_schedule, "warmup_fraction": cfg.warmup_fraction}
               if cfg.lr_schedule != "constant" else {}),
            **({"clip_grad_norm": cfg.clip_grad_norm} if cfg.clip_grad_norm is not None else {})}


def _resume(path: Path | None, meta: dict, model: nn.Module, optimizer) -> _Progress:
    """The progress of an interrupted run of the same training, or a fresh start."""
    if path is None or not Path(path).exists():
        return _Progress()
    try:
        ckpt = load_torch(path)
    except DamagedFile as error:  # e.g. a partial copy between hosts: the level restarts, same numbers
        warnings.warn(f"{error}; training this level again from its start", stacklevel=3)
        return _Progress()
    if not isinstance(ckpt, dict) or ckpt.get("meta") != meta:
        warnings.warn(f"checkpoint {path} belongs to another run; starting afresh", stacklevel=3)
        return _Progress()
    model.load_state_dict(ckpt["model"])
    flatten_rnns(model)
    optimizer.load_state_dict(ckpt["optimizer"])
    return _Progress(**ckpt["progress"])


def _save_checkpoint(path: Path, meta: dict, model: nn.Module, optimizer, progress: _Progress) -> None:
    save_torch({"meta": meta, "model": cpu_state(model), "optimizer": optimizer.state_dict(),
                "progress": dataclasses.asdict(progress)}, Path(path))


def _record_epoch(progress: _Progress, row: dict, model: nn.Module, patience: int | None) -> None:
    """Add an epoch's row; keep the best-validation weights; decide on early stopping."""
    progress.history.append(row)
    if row["val_loss"] < progress.best_val_loss or progress.best_epoch == 0:
        progress.best_val_loss, progress.best_epoch, progress.bad_epochs = row["val_loss"], row["epoch"], 0
        progress.best_state = cpu_state(model)
    else:
        progress.bad_epochs += 1
        progress.stopped = patience is not None and progress.bad_epochs >= patience


def _result(progress: _Progress, model: nn.Module, iters_per_epoch: int) -> TrainResult:
    history = progress.history
    best = history[progress.best_epoch - 1] if progress.best_epoch else {}
    return TrainResult(
        best_state=progress.best_state, final_state=cpu_state(model),
        snapshot_state=progress.snapshot_state, epochs=copy.deepcopy(history),
        best_epoch=progress.best_epoch, best_val_loss=float(best.get("val_loss", math.nan)),
        best_val_acc=float(best.get("val_acc", math.nan)), test_acc=float(best.get("test_acc", math.nan)),
        final_test_acc=float(history[-1]["test_acc"]) if history else math.nan,
        epochs_run=len(history), train_seconds=progress.train_seconds, iterations_per_epoch=iters_per_epoch)


EpochHook = Callable[[int, nn.Module], None]


def train_model(model: nn.Module, masks: Masks, data: "PreparedData", cfg: TrainConfig, *,
                seed: int, checkpoint_path: Path | None = None, snapshot_at: int | None = None,
                lr: float | None = None, epochs: int | None = None, progress: bool = True,
                desc: str = "", on_epoch_end: EpochHook | None = None) -> TrainResult:
    """Train ``model`` (its weights as given, masked) on ``data.train``; see the module docstring.

    ``lr`` / ``epochs`` override ``cfg``'s.  ``snapshot_at=k`` keeps a CPU copy of the weights
    right after ``k`` optimiser steps (k = 0: the masked starting weights); it stays None if
    training stops before step k.  ``on_epoch_end(epoch, model)`` runs after each epoch (1-based)
    and before its checkpoint.  The model is moved to the device and left holding the FINAL
    weights (``result.best_state`` holds the best-validation ones).
    """
    cfg.validate()
    lr = cfg.lr if lr is None else float(lr)
    n_epochs = cfg.epochs if epochs is None else int(epochs)
    if n_epochs < 1 or lr <= 0:
        raise ConfigError(f"need epochs >= 1 and lr > 0, got {n_epochs}, {lr}")
    if snapshot_at is not None and snapshot_at < 0:
        raise ConfigError(f"snapshot_at must be >= 0, got {snapshot_at}")
    device = resolve_device(cfg.device)
    model.to(device)
    flatten_rnns(model)
    batchers = _batchers(model, data, cfg, device)
    optimizer = make_optimizer(model.parameters(), lr, cfg.weight_decay)
    meta = _checkpoint_meta(seed, lr, n_epochs, cfg, snapshot_at, masks)
    state = _resume(checkpoint_path, meta, model, optimizer)
    apply = MaskApplier(model, masks)
    apply()
    if snapshot_at == 0 and state.snapshot_state is None:
        state.snapshot_state = cpu_state(model)
    if state.best_state is None:  # no epoch yet: the starting weights stand in
        state.best_state = cpu_state(model)
    before_step = before_update(cfg, model, optimizer, lr, n_epochs * batchers["train"].n_batches(),
                                lambda: state.iteration)
    for e in range(len(state.history), n_epochs):
        if state.stopped:
            break
        row = _run_epoch(model, optimizer, apply, batchers, cfg, state, e, before_step,
                         seed=seed, snapshot_at=snapshot_at, bar_desc=f"{desc} ep {e + 1}/{n_epochs}".strip(),
                         progress=progress)
        _record_epoch(state, row, model, cfg.patience)
        if on_epoch_end is not None:
            on_epoch_end(e + 1, model)
        if checkpoint_path is not None:
            _save_checkpoint(checkpoint_path, meta, model, optimizer, state)
    result = _result(state, model, batchers["train"].n_batches())
    result.test_predictions = _best_predictions(model, state.best_state, batchers["test"], cfg)
    return result


def _best_predictions(model: nn.Module, best_state: dict, batcher: Batcher, cfg: TrainConfig) -> torch.Tensor:
    """The best-validation weights' test predictions; the model is left holding its final weights."""
    final = cpu_state(model)
    model.load_state_dict(best_state)
    flatten_rnns(model)
    use_bf16 = cfg.bf16 and next(model.parameters()).device.type == "cuda"
    predictions = predict(model, batcher, cfg.eval_batch_size, use_bf16)
    model.load_state_dict(final)
    flatten_rnns(model)
    return predictions


def _batchers(model: nn.Module, data: "PreparedData", cfg: TrainConfig, device) -> dict[str, Batcher]:
    max_len = getattr(getattr(data, "config", None), "max_len", None)
    on_cpu = getattr(model, "lengths_on_cpu", False)
    sizes = {"train": cfg.batch_size, "val": cfg.eval_batch_size, "test": cfg.eval_batch_size}
    return {name: Batcher(getattr(data, name), size, device, max_len=max_len, lengths_on_cpu=on_cpu)
            for name, size in sizes.items()}


def _run_epoch(model, optimizer, apply: MaskApplier, batchers: dict[str, Batcher], cfg: TrainConfig,
               state: _Progress, e: int, before_step: Callable[[], None] | None, *, seed: int,
               snapshot_at: int | None, bar_desc: str, progress: bool) -> dict:
    """One epoch of training, then validation and test; returns the epoch's history row."""
    from tqdm.auto import tqdm
    start = time.perf_counter()
    torch.manual_seed(derive_seed(seed, "dropout", e))  # seeds CUDA too
    use_bf16 = cfg.bf16 and next(model.parameters()).device.type == "cuda"
    train_b = batchers["train"]
    bar = tqdm(total=train_b.n_batches(), desc=bar_desc, disable=not progress, leave=True)

    def after_step() -> None:
        state.iteration += 1
        if snapshot_at is not None and state.iteration == snapshot_at:
            state.snapshot_state = cpu_state(model)
        bar.update(1)

    loss_sum, correct_sum = train_epoch(model, optimizer, apply,
                                        train_b.train_batches(derive_seed(seed, "data_order", e)),
                                        use_bf16, after_step, before_step)
    n_train = max(len(train_b), 1)
    row = {"epoch": e + 1, "train_loss": loss_sum.item() / n_train, "train_acc": correct_sum.item() / n_train}
    for split in ("val", "test"):
        row[f"{split}_loss"], row[f"{split}_acc"] = evaluate(
            model, batchers[split], batch_size=cfg.eval_batch_size, bf16=use_bf16)
    row.update(seconds=time.perf_counter() - start, iteration=state.iteration)
    state.train_seconds += row["seconds"]
    bar.set_postfix_str(f"loss {row['train_loss']:.4f} acc {row['train_acc']:.3f} | val {row['val_loss']:.4f} "
                        f"{row['val_acc']:.3f} | test {row['test_acc']:.3f}")
    bar.close()
    return row
