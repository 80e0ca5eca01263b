"""The training loop: batches, masks through Adam, learning, determinism, resume, snapshots."""
import math

import pytest
import torch

import lthlib.experiment.train as T
from lthlib.core.config import PruneConfig, derive_seed
from lthlib.experiment.train import Batcher, TrainResult, evaluate, loss_and_correct, make_optimizer, train_model
from lthlib.nets.masks import full_masks, magnitude_prune, prunable_names
from lthlib.nets.models import PAD, build_model

from helpers import tiny_data, tiny_model_config, tiny_train_config


def _pruned(model, fraction=0.5, seed=0):
    """Masks pruning half of every tensor (random magnitudes, so the survivors mix signs)."""
    masks = full_masks(model, prunable_names(model, PruneConfig()))
    g = torch.Generator().manual_seed(seed)
    scores = {n: torch.randn(m.shape, generator=g) for n, m in masks.items()}
    return magnitude_prune(scores, masks, fraction, "local")


def _comparable(result: TrainResult):
    return [{k: v for k, v in e.items() if k != "seconds"} for e in result.epochs]


def _assert_same_state(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


# -- batches -------------------------------------------------------------------------------

def test_batches_are_padded_examples_in_a_seeded_bucketed_order():
    data = tiny_data(n_train=203)
    split = data.train
    b = Batcher(split, 16, "cpu", chunk_batches=3, pad_multiple=1)
    order = b.train_order(seed=5)
    assert [len(i) for i in order].count(16) == 12 and sum(len(i) for i in order) == 203
    assert torch.equal(torch.sort(torch.cat(order)).values, torch.arange(203))
    assert all(torch.equal(x, y) for x, y in zip(order, b.train_order(seed=5)))
    assert any(not torch.equal(x, y) for x, y in zip(order, b.train_order(seed=6)))
    lengths = split.offsets[1:] - split.offsets[:-1]
    for idx, (tokens, lens, labels) in zip(order, b.iterate(order)):
        assert tokens.dtype == torch.int64 and tokens.shape == (len(idx), int(lengths[idx].max()))
        assert torch.equal(lens, lengths[idx]) and torch.equal(labels, split.labels[idx])
        for row, i in zip(tokens, idx.tolist()):
            s, e = int(split.offsets[i]), int(split.offsets[i + 1])
            assert torch.equal(row[:e - s], split.tokens[s:e].long())
            assert (row[e - s:] == PAD).all()
    # bucketing: less padding than a plain shuffle
    padded = sum(len(i) * int(lengths[i].max()) for i in order)
    plain = sum(len(i) * int(lengths[i].max()) for i in torch.randperm(203).split(16))
    assert padded < plain
    wide = Batcher(split, 16, "cpu", pad_multiple=8)
    for tokens, _, _ in wide.iterate(order):
        assert tokens.shape[1] % 8 == 0


def test_batches_truncate_to_max_len_and_hand_cpu_lengths_to_recurrent_models():
    split = tiny_data().train
    b = Batcher(split, 32, "cpu", max_len=5, lengths_on_cpu=True)
    for tokens, lens, _ in b.eval_batches():
        assert tokens.shape[1] == 8  # 5, rounded up to the pad multiple
        assert (tokens[:, 5:] == PAD).all() and int(lens.max()) <= 5 and lens.device.type == "cpu"


def test_evaluate_matches_a_plain_computation():
    data = tiny_data(n_classes=4)
    model = build_model(tiny_model_config("lstm"), 60, 4, init_seed=0).eval()
    loss, acc = evaluate(model, data.val, batch_size=7)
    b = Batcher(data.val, 1, "cpu", lengths_on_cpu=True)
    losses, correct = [], 0
    with torch.no_grad():
        for tokens, lens, labels in b.eval_batches(1):
            batch_loss, c = loss_and_correct(model(tokens, lens), labels)
            losses.append(float(batch_loss))
            correct += int(c)
    assert loss == pytest.approx(sum(losses) / len(losses), rel=1e-5)
    assert acc == correct / len(losses)


@pytest.mark.parametrize("name", ["cnn", "lstm"])
def test_evaluating_in_slices_changes_no_number(name, monkeypatch):
    """On the CPU evaluation runs the model on slices of each batch, each at its own width
    (T.CPU_EVAL_SLICE): every logit, the loss, the accuracy and the predictions are bit-for-bit
    those of whole batches."""
    for n_classes in (2, 4):  # one logit and four
        data = tiny_data(n_classes=n_classes, n_val=330)
        model = build_model(tiny_model_config(name), 60, n_classes, init_seed=0).eval()
        b = Batcher(data.val, 128, "cpu", lengths_on_cpu=model.lengths_on_cpu)
        monkeypatch.setattr(T, "CPU_EVAL_SLICE", 10**9)
        whole = evaluate(model, b, batch_size=128), T.predict(model, b, 128)
        for size, least in ((40, 32), (24, 4), (256, 32)):  # 128 = 40 + 40 + 48; 74 = 40 + 34; ...
            monkeypatch.setattr(T, "CPU_EVAL_SLICE", size)
            monkeypatch.setattr(T, "CPU_EVAL_MIN_SLICE", least)
            assert evaluate(model, b, batch_size=128) == whole[0]
            assert torch.equal(T.predict(model, b, 128), whole[1])
            with torch.inference_mode():
                for tokens, lengths, _ in b.eval_batches(128):
                    sliced, full = T._eval_logits(model, b, tokens, lengths), model(tokens, lengths)
                    assert torch.equal(sliced.view(torch.int32), full.view(torch.int32)), (size, tokens.shape)


# -- masks through training ------------------------------------------------------------------

@pytest.mark.parametrize("name", ["cnn", "lstm"])
def test_pruned_weights_stay_zero_after_every_step_and_negative_survivors_move(name, monkeypatch):
    data = tiny_data()
    model = build_model(tiny_model_config(name, n_filters=16), 60, 2, init_seed=0)
    masks = _pruned(model, fraction=0.3)
    masks[model.output_prefix + "weight"][:] = True  # every unit reaches the output
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    params = dict(model.named_parameters())
    real_call, calls = T.MaskApplier.__call__, {"n": 0}

    def checked(self):
        real_call(self)
        calls["n"] += 1
        for n, m in masks.items():
            assert torch.count_nonzero(params[n].detach()[~m]) == 0, n

    monkeypatch.setattr(T.MaskApplier, "__call__", checked)
    result = train_model(model, masks, data, tiny_train_config(epochs=2), seed=0, progress=False)
    assert calls["n"] == 1 + 2 * result.iterations_per_epoch
    moved = total = 0
    for n, m in masks.items():
        if n == model.embedding_param or n.startswith(model.output_prefix):
            continue
        negative = m & (start[n] < 0)
        total += int(negative.sum())
        moved += int((params[n].detach()[negative] != start[n][negative]).sum())
        assert torch.count_nonzero(result.final_state[n][~m]) == 0
        assert torch.count_nonzero(result.best_state[n][~m]) == 0
    assert total > 0 and moved / total > 0.9  # negative survivors train (the study froze them)


# -- learning, determinism -----------------------------------------------------------------

@pytest.mark.parametrize("name, n_classes", [("cnn", 2), ("lstm", 4)])
def test_training_learns_a_learnable_task(name, n_classes):
    data = tiny_data(n_classes=n_classes, n_train=384)
    model = build_model(tiny_model_config(name, embed_dim=16, n_filters=8, hidden_dim=16),
                        60, n_classes, init_seed=0)
    masks = full_masks(model, prunable_names(model, PruneConfig()))
    result = train_model(model, masks, data, tiny_train_config(epochs=4), seed=0, progress=False)
    assert result.epochs_run == 4 and len(result.epochs) == 4
    assert result.test_acc > 0.5 + 0.5 / n_classes  # well above chance (1/C)
    assert result.test_acc == result.epochs[result.best_epoch - 1]["test_acc"]
    assert result.final_test_acc == result.epochs[-1]["test_acc"]
    assert result.best_val_loss == min(e["val_loss"] for e in result.epochs)
    assert result.iterations_per_epoch == math.ceil(384 / 16)
    # the model holds the final weights
    _assert_same_state({k: v.detach() for k, v in model.state_dict().items()}, result.final_state)


@pytest.mark.parametrize("name", ["cnn", "gru"])
def test_same_seed_same_numbers(name):
    data = tiny_data()
    runs = []
    for _ in range(2):
        model = build_model(tiny_model_config(name), 60, 2, init_seed=1)
        runs.append(train_model(model, _pruned(model), data, tiny_train_config(epochs=2), seed=3,
                                progress=False))
    assert _comparable(runs[0]) == _comparable(runs[1])
    _assert_same_state(runs[0].final_state, runs[1].final_state)
    model = build_model(tiny_model_config(name), 60, 2, init_seed=1)
    other = train_model(model, _pruned(model), data, tiny_train_config(epochs=2), seed=4,
                        progress=False)
    assert _comparable(other) != _comparable(runs[0])


def test_early_stopping_keeps_the_best_validation_state(monkeypatch):
    data = tiny_data()
    real_evaluate, calls = T.evaluate, {"n": 0}
    val_losses = [1.0, 0.5, 0.6, 0.7, 0.4]

    def fake(model, batcher, **kw):
        loss, acc = real_evaluate(model, batcher, **kw)
        calls["n"] += 1
        if calls["n"] % 2 == 1:  # validation, then test, each epoch
            return val_losses[calls["n"] // 2], acc
        return loss, acc

    monkeypatch.setattr(T, "evaluate", fake)
    model = build_model(tiny_model_config("cnn"), 60, 2, init_seed=0)
    masks = full_masks(model, prunable_names(model, PruneConfig()))
    result = train_model(model, masks, data, tiny_train_config(epochs=5, patience=1), seed=0,
                         progress=False)
    assert result.epochs_run == 3 and result.best_epoch == 2 and result.best_val_loss == 0.5
    assert any(not torch.equal(result.best_state[k], result.final_state[k]) for k in masks)


# -- resume, snapshots -----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["cnn", "lstm"])
def test_a_run_killed_after_an_epoch_resumes_bit_exactly(tmp_path, monkeypatch, name):
    data = tiny_data()
    cfg = tiny_train_config(epochs=3)
    k = 20  # a snapshot inside epoch 2, kept through the checkpoint

    def fresh():
        model = build_model(tiny_model_config(name), 60, 2, init_seed=0)
        return model, _pruned(model)

    model, masks = fresh()
    reference = train_model(model, masks, data, cfg, seed=0, snapshot_at=k, progress=False)

    real_save, saves = T.save_torch, {"n": 0}

    def crash_after_epoch_2(obj, path):
        real_save(obj, path)
        saves["n"] += 1
        if saves["n"] == 2:
            raise KeyboardInterrupt("simulated kill")

    monkeypatch.setattr(T, "save_torch", crash_after_epoch_2)
    ckpt = tmp_path / "checkpoint.pt"
    model, masks = fresh()
    with pytest.raises(KeyboardInterrupt):
        train_model(model, masks, data, cfg, seed=0, snapshot_at=k, checkpoint_path=ckpt,
                    progress=False)
    monkeypatch.setattr(T, "save_torch", real_save)
    model, masks = fresh()  # a new process: weights from scratch, the checkpoint on disk
    resumed = train_model(model, masks, data, cfg, seed=0, snapshot_at=k, checkpoint_path=ckpt,
                          progress=False)
    assert _comparable(resumed) == _comparable(reference)
    for field in ("best_epoch", "best_val_loss", "test_acc", "final_test_acc", "epochs_run"):
        assert getattr(resumed, field) == getattr(reference, field)
    _assert_same_state(resumed.final_state, reference.final_state)
    _assert_same_state(resumed.best_state, reference.best_state)
    _assert_same_state(resumed.snapshot_state, reference.snapshot_state)
    # a finished checkpoint trains nothing more
    model, masks = fresh()
    again = train_model(model, masks, data, cfg, seed=0, snapshot_at=k, checkpoint_path=ckpt,
                        progress=False)
    assert _comparable(again) == _comparable(reference)


def _manual_run(name, data, cfg, seed, steps):
    """A plain loop replicating train_model's order and seeds for ``steps`` optimiser steps."""
    model = build_model(tiny_model_config(name), 60, 2, init_seed=0)
    masks = _pruned(model)
    params = dict(model.named_parameters())
    with torch.no_grad():
        for n, m in masks.items():
            params[n].mul_(m)
    if steps == 0:
        return {k: v.detach().clone() for k, v in model.state_dict().items()}
    opt = make_optimizer(model.parameters(), cfg.lr)
    batcher = Batcher(data.train, cfg.batch_size, "cpu", lengths_on_cpu=model.lengths_on_cpu)
    done, epoch = 0, 0
    while True:
        torch.manual_seed(derive_seed(seed, "dropout", epoch))
        model.train()
        for tokens, lengths, labels in batcher.train_batches(derive_seed(seed, "data_order", epoch)):
            opt.zero_grad()
            loss, _ = loss_and_correct(model(tokens, lengths), labels)
            loss.backward()
            opt.step()
            with torch.no_grad():
                for n, m in masks.items():
                    params[n].mul_(m)
            done += 1
            if done == steps:
                return {k: v.detach().clone() for k, v in model.state_dict().items()}
        epoch += 1


@pytest.mark.parametrize("name, k", [("cnn", 0), ("cnn", 5), ("cnn", 19), ("lstm", 16)])
def test_snapshot_holds_the_weights_after_exactly_k_steps(name, k):
    data = tiny_data()
    cfg = tiny_train_config(epochs=2)  # 16 iterations per epoch: k = 19 is inside epoch 2
    model = build_model(tiny_model_config(name), 60, 2, init_seed=0)
    result = train_model(model, _pruned(model), data, cfg, seed=2, snapshot_at=k, progress=False)
    _assert_same_state(result.snapshot_state, _manual_run(name, data, cfg, seed=2, steps=k))


def test_snapshot_past_the_end_is_none():
    data = tiny_data()
    model = build_model(tiny_model_config("cnn"), 60, 2, init_seed=0)
    result = train_model(model, _pruned(model), data, tiny_train_config(epochs=1), seed=0,
                         snapshot_at=10_000, progress=False)
    assert result.snapshot_state is None
