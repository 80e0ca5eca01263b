"""lthlib's fast masked training equals the simplest correct masked training loop.

``train_model`` (device-resident length-bucketed Batcher, one fused ``_foreach_mul_`` of the
masks after each Adam step) is run against ``lthlib.baselines.reference_train`` (a plain list of
padded batches, ``p.data.mul_(mask)`` per parameter) on the CPU, with the same initial weights,
the same batches in the same order (the reference takes them from the same ``Batcher``, with the
epoch seeds ``train_model`` uses) and the same dropout seeds.  The final weights must agree to
floating-point noise and the pruned entries must be exactly zero in both.
"""
from __future__ import annotations

import copy

import pytest
import torch

from benchmarks import baselines as B
from lthlib.core.config import PruneConfig, derive_seed
from lthlib.experiment.train import Batcher, train_model
from lthlib.nets.masks import full_masks, magnitude_prune, prunable_names
from lthlib.nets.models import build_model

from helpers import tiny_data, tiny_model_config, tiny_train_config

SEED = 3


def _setup(model_name: str, n_classes: int, dropout: float):
    data = tiny_data(n_classes=n_classes, n_train=160, n_val=32, n_test=32, seed=1)
    cfg = tiny_model_config(model_name, dropout=dropout)
    model = build_model(cfg, len(data.vocab), data.n_classes, init_seed=11)
    names = prunable_names(model, PruneConfig())
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    masks = magnitude_prune(state, full_masks(model, names), 0.6, "local")
    return data, model, masks


def _reference_epochs(model, data, train_cfg, epochs: int):
    batcher = Batcher(data.train, train_cfg.batch_size, "cpu",
                      max_len=data.config.max_len,
                      lengths_on_cpu=getattr(model, "lengths_on_cpu", False))
    return [list(batcher.train_batches(derive_seed(SEED, "data_order", e))) for e in range(epochs)]


@pytest.mark.parametrize("model_name,n_classes,dropout", [
    ("cnn", 2, 0.0), ("cnn", 4, 0.3), ("lstm", 2, 0.3), ("lstm", 4, 0.0)])
def test_fast_path_matches_reference_loop(model_name, n_classes, dropout):
    data, model, masks = _setup(model_name, n_classes, dropout)
    train_cfg = tiny_train_config(epochs=2, lr=1e-2, batch_size=16)
    ref_model = copy.deepcopy(model)

    fast = train_model(model, masks, data, train_cfg, seed=SEED, progress=False)

    epochs = _reference_epochs(ref_model, data, train_cfg, 2)
    assert [len(b) for b in epochs] == [fast.iterations_per_epoch] * 2

    def reseed_dropout(epoch, index):  # what train_model does at the start of each epoch
        if index == 0:
            torch.manual_seed(derive_seed(SEED, "dropout", epoch))

    ref = B.reference_train(ref_model, masks, epochs, lr=train_cfg.lr, before_batch=reseed_dropout)

    fast_state = fast.final_state
    ref_state = {k: v.detach() for k, v in ref_model.state_dict().items()}
    assert fast_state.keys() == ref_state.keys()
    moved = 0
    for name, value in fast_state.items():
        assert torch.allclose(value, ref_state[name], rtol=1e-5, atol=1e-6), \
            f"{name}: max diff {(value - ref_state[name]).abs().max():.3g}"
        if name in masks:
            pruned = ~masks[name]
            assert torch.count_nonzero(value[pruned]) == 0, f"{name}: pruned weights in fast path"
            assert torch.count_nonzero(ref_state[name][pruned]) == 0, f"{name}: pruned weights in reference"
        moved += int(not torch.equal(value, build_model(tiny_model_config(model_name, dropout=dropout),
                                                        len(data.vocab), data.n_classes,
                                                        init_seed=11).state_dict()[name]))
    assert moved > 0  # training did something
    # the epoch losses agree too (train_model sums per example; batches are mean losses)
    for e, (row, batches) in enumerate(zip(fast.epochs, epochs)):
        n = sum(len(b[2]) for b in batches)
        per_batch = ref.losses[sum(len(x) for x in epochs[:e]):][:len(batches)]
        weighted = sum(loss * len(b[2]) for loss, b in zip(per_batch, batches)) / n
        assert row["train_loss"] == pytest.approx(weighted, rel=1e-5, abs=1e-6)


def test_masked_entries_stay_zero_under_baselines():
    """The comparison methods keep pruned weights at zero too (so the benchmark compares like with like)."""
    data, model, masks = _setup("cnn", 2, 0.0)
    train_cfg = tiny_train_config(batch_size=16)
    batches = _reference_epochs(model, data, train_cfg, 1)[0]

    study = copy.deepcopy(model)
    B.apply_masks_(study, masks)
    B.study_epoch(study, batches, torch.optim.Adam(study.parameters(), lr=1e-2), B.numpy_masks(study, masks))
    pruned_model = copy.deepcopy(model)
    B.apply_torch_prune(pruned_model, masks)
    B.torch_prune_epoch(pruned_model, batches, torch.optim.Adam(pruned_model.parameters(), lr=1e-2))
    for name, mask in masks.items():
        assert torch.count_nonzero(dict(study.named_parameters())[name][~mask]) == 0
        module_name, _, attr = name.rpartition(".")
        effective = getattr(pruned_model.get_submodule(module_name), attr)
        assert torch.count_nonzero(effective[~mask]) == 0
