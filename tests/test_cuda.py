"""CUDA correctness, marked ``cuda`` and skipped without a GPU.  On a GPU machine:

    python -m pytest -m cuda tests/test_cuda.py

Paper shapes throughout: Kim CNN (50,002 x 100 embedding, 100 filters of widths 3, 4, 5) and the
BiLSTM (25,002 x 100 embedding, 2 layers of 256 units per direction), on random tokens with
class-signal words; the last test trains every arm on IMDb (a seeded subsample) when its archive
is at hand (``LTH_DATA_MIRROR``), else on the synthetic dataset.

Tolerances, stated here and asserted below:

- bf16 autocast against fp32: the same trained weights evaluated both ways differ by at most
  0.01 in mean loss and 0.01 in accuracy; trained both ways from the same θ0 for 3 epochs, by at
  most 0.05 in loss and 0.03 in accuracy at the end.
- cuDNN's packed BiLSTM against the CPU: in fp32 without TF32, |Δ logit| ≤ 1e-4 + 1e-4·|logit|;
  as training evaluates (cuDNN's default TF32 RNN math, bf16 autocast), ≤ 2e-2 + 2e-2·|logit|.
- Pruned weights: exactly zero after every optimiser step (no tolerance).
- A training killed (SIGKILL) and resumed: bit-identical to the uninterrupted one, with
  :func:`lthlib.machine.platform.enable` (deterministic kernels, ``CUBLAS_WORKSPACE_CONFIG=:4096:8``).
"""
import contextlib
import copy
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from lthlib.core.config import DataConfig, PruneConfig, TrainConfig
from lthlib.data.sources import files_missing
from lthlib.experiment import profiles
from lthlib.experiment import runner as lottery
from lthlib.experiment.arms import all_arms
from lthlib.experiment.runner import Runner
from lthlib.experiment.store import Store
from lthlib.experiment.train import Batcher, evaluate, make_optimizer, train_epoch, train_model
from lthlib.machine import platform as determinism
from lthlib.nets.masks import MaskApplier, full_masks, magnitude_prune, prunable_names
from lthlib.nets.models import MODELS, build_model, flatten_rnns

from helpers import TinyData, make_split

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]
# PyTorch sizes cuBLAS's workspace from this variable once, at its first matrix product: set it
# before any test runs one, so that the tests that ask for deterministic kernels get them.
os.environ.setdefault(determinism.CUBLAS_ENV, determinism.CUBLAS_DETERMINISTIC)

DEVICE = "cuda"
TESTS = Path(__file__).resolve().parent
N_TRAIN, N_EVAL, MAX_TOKENS = 4096, 1024, 100
VOCAB = {"cnn": 50_002, "lstm": 25_002}   # the paper's vocabularies, <pad> and <unk> included
MODEL_NAMES = ["cnn", "lstm"]


def paper_data(name: str, n_train: int = N_TRAIN, n_eval: int = N_EVAL, max_tokens: int = MAX_TOKENS) -> TinyData:
    """Random tokens over the paper's vocabulary, 1-3 class-signal words per example."""
    vocab = VOCAB[name]

    def split(n: int, seed: int):
        return make_split(n, 2, vocab, seed, min_len=5, max_len=max_tokens)
    return TinyData(config=DataConfig(dataset="synthetic", max_vocab=vocab - 2), train=split(n_train, 0),
                    val=split(n_eval, 1), test=split(n_eval, 2),
                    vocab=["<pad>", "<unk>"] + [f"w{i}" for i in range(2, vocab)], class_names=["c0", "c1"],
                    fingerprint=f"paper-shaped-{name}")


def paper_model(name: str, sparsity: float = 0.5):
    """The paper's architecture (random embedding: GloVe is data, not shape) and a magnitude mask."""
    model = build_model(replace(MODELS.get(name).paper, embedding="random"), VOCAB[name], 2, init_seed=0)
    state = {k: v.detach() for k, v in model.state_dict().items()}
    masks = magnitude_prune(state, full_masks(model, prunable_names(model, PruneConfig())), sparsity, "local")
    return model, masks


def train_config(**kw) -> TrainConfig:
    return TrainConfig(**{"lr": 1e-3, "batch_size": 64, "epochs": 3, "eval_batch_size": 512, "device": DEVICE, **kw})


# -- bf16 autocast -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", MODEL_NAMES)
def test_bf16_autocast_agrees_with_fp32_on_loss_and_accuracy(name):
    data = paper_data(name)

    def trained(bf16: bool):
        model, masks = paper_model(name)
        return model, train_model(model, masks, data, train_config(bf16=bf16), seed=0, progress=False)

    model, fp32 = trained(False)
    loss_32, acc_32 = evaluate(model, data.test, batch_size=512, bf16=False)
    loss_16, acc_16 = evaluate(model, data.test, batch_size=512, bf16=True)
    assert abs(loss_16 - loss_32) <= 0.01 and abs(acc_16 - acc_32) <= 0.01
    _, bf16 = trained(True)
    last_32, last_16 = fp32.epochs[-1], bf16.epochs[-1]
    assert last_32["val_acc"] > 0.6 and last_16["val_acc"] > 0.6  # both learned: not two chance-level nets
    for key, tolerance in (("val_loss", 0.05), ("test_loss", 0.05), ("val_acc", 0.03), ("test_acc", 0.03)):
        assert abs(last_16[key] - last_32[key]) <= tolerance, (key, last_16[key], last_32[key])


# -- masks through fused Adam under autocast ----------------------------------------------------

@pytest.mark.parametrize("name", MODEL_NAMES)
def test_pruned_weights_are_exactly_zero_after_every_step(name):
    data = paper_data(name, n_train=1024)
    model, masks = paper_model(name, sparsity=0.8)
    model.to(DEVICE)
    flatten_rnns(model)
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = make_optimizer(model.parameters(), 2e-3)
    apply = MaskApplier(model, masks)
    apply()
    params = dict(model.named_parameters())
    pruned = {n: ~m.to(DEVICE) for n, m in masks.items()}
    nonzero_after_step = []

    def after_step() -> None:
        nonzero_after_step.append(sum(int(torch.count_nonzero(params[n].detach()[dead])) for n, dead in pruned.items()))

    batcher = Batcher(data.train, 64, DEVICE, lengths_on_cpu=model.lengths_on_cpu)
    torch.manual_seed(0)
    train_epoch(model, optimizer, apply, batcher.train_batches(0), use_bf16=True, after_step=after_step)
    assert len(nonzero_after_step) == batcher.n_batches() and max(nonzero_after_step) == 0
    assert any(not torch.equal(params[n].detach()[~dead], start[n][~dead]) for n, dead in pruned.items())
    if name == "lstm":  # cuDNN reads its flat buffer: the masked parameters must be views of it
        rnn = model.rnn
        views = zip(rnn._flat_weights, rnn._flat_weights_names)
        assert all(weight.data_ptr() == getattr(rnn, n).data_ptr() for weight, n in views)


# -- cuDNN's packed BiLSTM against the CPU ------------------------------------------------------

@contextlib.contextmanager
def ieee_fp32():
    """fp32 math without TF32 in cuDNN's RNNs and cuBLAS (torch >= 2.9's settings, else the older flags)."""
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    new_api = hasattr(cudnn, "rnn") and hasattr(cudnn.rnn, "fp32_precision")
    saved = (cudnn.rnn.fp32_precision, matmul.fp32_precision) if new_api else (cudnn.allow_tf32, matmul.allow_tf32)
    try:
        if new_api:
            cudnn.rnn.fp32_precision = matmul.fp32_precision = "ieee"
        else:
            cudnn.allow_tf32 = matmul.allow_tf32 = False
        yield
    finally:
        if new_api:
            cudnn.rnn.fp32_precision, matmul.fp32_precision = saved
        else:
            cudnn.allow_tf32, matmul.allow_tf32 = saved


def test_cudnn_packed_bilstm_gives_the_cpu_logits():
    model, _ = paper_model("lstm")
    model.eval()
    data = paper_data("lstm", n_train=256, n_eval=8, max_tokens=400)
    mixed = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(0))[:64]  # not bucketed
    tokens, lengths, _ = next(Batcher(data.train, 64, "cpu", lengths_on_cpu=True).iterate([mixed]))
    assert int(lengths.min()) < 50 < 300 < int(lengths.max())  # packing really drops padding
    with torch.no_grad():
        expected = model(tokens, lengths)
        gpu = copy.deepcopy(model).to(DEVICE)
        flatten_rnns(gpu)
        with ieee_fp32():
            strict = gpu(tokens.to(DEVICE), lengths).float().cpu()
        with torch.autocast(device_type=torch.device(DEVICE).type, dtype=torch.bfloat16):
            as_trained = gpu(tokens.to(DEVICE), lengths).float().cpu()
    torch.testing.assert_close(strict, expected, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(as_trained, expected, atol=2e-2, rtol=2e-2)


# -- killed and resumed ------------------------------------------------------------------------

def child_main(argv: list[str]) -> None:
    """A training run in its own process: NAME DEVICE CHECKPOINT OUT PAUSE.  With PAUSE 'pause' it
    stops after epoch 2's work, before epoch 2's checkpoint, and waits to be killed."""
    global DEVICE
    name, DEVICE, checkpoint, out, pause = argv
    determinism.enable()
    model, masks = paper_model(name)

    def hold(epoch: int, _model) -> None:
        if pause == "pause" and epoch == 2:
            Path(f"{out}.paused").touch()
            time.sleep(600)

    result = train_model(model, masks, paper_data(name, n_train=2048), train_config(), seed=0, snapshot_at=40,
                         checkpoint_path=Path(checkpoint) if checkpoint else None, progress=False,
                         on_epoch_end=hold)
    torch.save({"epochs": [{k: v for k, v in row.items() if k != "seconds"} for row in result.epochs],
                "final": result.final_state, "best": result.best_state, "snapshot": result.snapshot_state}, out)


def start_child(name: str, checkpoint: Path | None, out: Path, pause: str) -> subprocess.Popen:
    env = {**os.environ, determinism.CUBLAS_ENV: determinism.CUBLAS_DETERMINISTIC,
           "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent), os.environ.get("PYTHONPATH", "")])}
    code = "import sys, test_cuda; test_cuda.child_main(sys.argv[1:])"
    return subprocess.Popen([sys.executable, "-c", code, name, DEVICE, str(checkpoint or ""), str(out), pause],
                            env=env, cwd=TESTS.parent)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_a_killed_and_resumed_training_gives_the_uninterrupted_numbers(tmp_path, name):
    reference, checkpoint, killed, resumed = (tmp_path / f for f in ("reference.pt", "checkpoint.pt",
                                                                       "killed.pt", "resumed.pt"))
    assert start_child(name, None, reference, "go").wait(timeout=600) == 0
    process, deadline = start_child(name, checkpoint, killed, "pause"), time.monotonic() + 600
    while not Path(f"{killed}.paused").exists():
        assert process.poll() is None and time.monotonic() < deadline, "the run ended before its pause"
        time.sleep(0.2)
    process.kill()
    process.wait()
    assert len(torch.load(checkpoint, weights_only=False)["progress"]["history"]) == 1  # epoch 2 was lost
    assert start_child(name, checkpoint, resumed, "go").wait(timeout=600) == 0
    want, got = torch.load(reference), torch.load(resumed)
    assert got["epochs"] == want["epochs"]
    for part in ("final", "best", "snapshot"):
        assert want[part].keys() == got[part].keys()
        assert all(torch.equal(want[part][k], got[part][k]) for k in want[part]), part


# -- θk and every arm at paper shapes ----------------------------------------------------------

def arm_data() -> tuple[str, dict]:
    """IMDb, subsampled, when its archive is at hand; else the synthetic dataset."""
    if not files_missing(["imdb/aclImdb_v1.tar.gz"]):
        return "imdb", {"train_subsample": 2000, "eval_subsample": 500, "max_len": 256}
    return "synthetic", {}


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_theta_k_snapshot_and_every_arm_run_one_level_at_paper_shapes(tmp_path, name):
    dataset, data_overrides = arm_data()
    settings = dict(epochs=2, levels=1, rewind_point="5it", early_bird_window=2, device=DEVICE,
                    embedding="random", **data_overrides)
    store = Store(tmp_path / "results")
    with determinism.deterministic():
        for arm in all_arms():
            rows = lottery.run(profiles.experiment("paper", dataset, name, arm, 0, **settings), store, progress=False)
            assert list(rows["level"]) == [0, 1], arm
            level_1 = rows[rows["level"] == 1].iloc[0]
            assert level_1["remaining"] == pytest.approx(0.8, abs=0.01) and 0 <= level_1["test_acc"] <= 1, arm
        runner = Runner(profiles.experiment("paper", dataset, name, "late_rewinding", 0, **settings), store,
                        progress=False)
        saved = runner.theta_k()
        runner.theta_k_path(runner.rewind_iteration).unlink()
        replayed = runner.theta_k()  # trained again from θ0 for exactly 5 iterations, on the GPU
    assert all(torch.equal(saved[k], replayed[k]) for k in saved)
    assert any(not torch.equal(saved[k], runner.theta0()[k]) for k in saved)
    level = runner.level(1)
    for key, mask in level.masks.items():
        assert torch.equal(level.start[key][mask], saved[key][mask]) and not level.start[key][~mask].any()
