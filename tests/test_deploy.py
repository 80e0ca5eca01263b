"""Deployable tickets (lthlib.deploy, `lth export`): a tiny smoke store trained here, exported in
every form; each form reloaded and run on batches the test makes; bad input named."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lthlib import cli
from lthlib.data.prepare import PAD, forget_prepared, prepared
from lthlib.deploy import export, measure, sparse
from lthlib.deploy.forms import ort_runner, torch_runner, with_csr_linears
from lthlib.deploy.stored import find_level
from lthlib.experiment import profiles
from lthlib.experiment.grid import Grid
from lthlib.experiment.runner import run
from lthlib.experiment.store import Store
from lthlib.machine.files import load_torch
from lthlib.nets.models import KimCNN, RecurrentClassifier, predicted_class

SETTINGS = dict(epochs=2, levels=2)
SET_ARGS = ["--set", "epochs=2", "levels=2"]
#: int8 weights move a logit by a little: on these networks and batches at least this share of
#: predictions must stay the fp32 network's
INT8_AGREEMENT = 0.9


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """The smoke profile's winning ticket (CNN and BiLSTM, levels 0-2, seed 0) and one level of a
    branch (random pruning, CNN), trained into a store of the test's own."""
    root = tmp_path_factory.mktemp("results")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LTH_RESULTS_DIR", str(root))
        patch.setenv("LTH_DATA_DIR", str(tmp_path_factory.mktemp("data")))
        patch.delenv("LTH_DATA_MIRROR", raising=False)
        forget_prepared()
        smoke = Store(root / "smoke")
        for model in ("cnn", "lstm"):
            run(profiles.experiment("smoke", "synthetic", model, "winning_ticket", 0, **SETTINGS), smoke,
                progress=False)
        run(profiles.experiment("smoke", "synthetic", "cnn", "random_pruning", 0, **SETTINGS), smoke,
            max_level=1, progress=False)
        yield smoke
    forget_prepared()


def export_args(model: str, level: int, out, *extra: str) -> list[str]:
    return ["export", "--profile", "smoke", "--dataset", "synthetic", "--model", model, "--level", str(level),
            "--out", str(out), *SET_ARGS, *extra]


@pytest.fixture(scope="module", params=["cnn", "lstm"])
def exported(request, store, tmp_path_factory):
    """`lth export` of level 2 (64% of the weights remain) of each model: (folder, stored level)."""
    folder = tmp_path_factory.mktemp(f"ticket_{request.param}")
    assert cli.main(export_args(request.param, 2, folder)) == 0
    return folder, find_level("smoke", "synthetic", request.param, level=2, store=store, **SETTINGS)


def made_batch(vocab_size: int, batch: int = 48, steps: int = 30, seed: int = 7):
    """Token ids the test makes, lengths 1..steps (shorter than the CNN's widest filter too)."""
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(2, vocab_size, (batch, steps), generator=g)
    lengths = torch.randint(1, steps + 1, (batch,), generator=g)
    lengths[:3] = torch.tensor([1, 2, steps])
    tokens[torch.arange(steps)[None, :] >= lengths[:, None]] = PAD
    return tokens.numpy(), lengths.numpy()


# ---------------------------------------------------------------------------------------------
# The sparse checkpoint
# ---------------------------------------------------------------------------------------------

def test_each_tensor_takes_its_smallest_encoding_and_comes_back_bit_for_bit(tmp_path):
    g = torch.Generator().manual_seed(0)
    state = {"dense": torch.randn(40, 30, generator=g),
             "half": torch.randn(40, 30, generator=g) * (torch.rand(40, 30, generator=g) > 0.5),
             "few": torch.randn(300, 300, generator=g) * (torch.rand(300, 300, generator=g) > 0.99),
             "empty": torch.zeros(7)}
    header = sparse.save_sparse(state, tmp_path / "t.safetensors")
    assert {k: v["encoding"] for k, v in header.items()} == {
        "dense": "dense", "half": "bitmask", "few": "indices", "empty": "indices"}
    assert sparse.index_dtype(300 * 300) == np.uint32 and sparse.index_dtype(256) == np.uint8
    loaded = sparse.load_sparse(tmp_path / "t.safetensors")
    assert all(torch.equal(loaded[k], state[k]) for k in state)
    sparse.save_sparse(state, tmp_path / "h.safetensors", "float16")
    half = sparse.load_sparse(tmp_path / "h.safetensors")
    assert all(torch.equal(half[k], state[k].half().float()) for k in state)


def test_a_file_that_is_no_sparse_checkpoint_is_refused(tmp_path):
    from safetensors.numpy import save_file
    save_file({"x": np.zeros(3, dtype=np.float32)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="not an lthlib sparse checkpoint"):
        sparse.load_sparse(tmp_path / "other.safetensors")


# ---------------------------------------------------------------------------------------------
# lth export
# ---------------------------------------------------------------------------------------------

def test_export_writes_every_file_with_its_size_and_checksum(exported, store):
    folder, stored = exported
    manifest = json.loads((folder / export.MANIFEST).read_text())
    for form, (name, _) in export.FILES.items():
        entry = manifest["files"][form]
        data = (folder / name).read_bytes()
        assert entry["path"] == name and entry["bytes"] == len(data) and entry["sha256"] == export.sha256(data)
        packed = (folder / f"{name}.zst").read_bytes()
        assert entry["zstd"]["bytes"] == len(packed) and export.decompress(packed) == data
    run_entry = manifest["run"]
    assert (run_entry["dataset"], run_entry["model"], run_entry["arm"], run_entry["level"]) == (
        "synthetic", stored.cfg.model.name, "winning_ticket", 2)
    assert run_entry["weights"]["sha256"] == export.sha256(stored.weights.read_bytes())
    data = prepared(stored.cfg.data, progress=False)
    assert manifest["tokenizer"]["vocabulary"] == data.vocab.itos
    assert manifest["model"]["vocab_size"] == len(data.vocab) and set(manifest["how_to_load"]) >= {
        "pytorch", "onnxruntime"}
    # the sparse checkpoint is smaller than the dense one: 64% of the weights remain
    dense_bytes = manifest["reference"]["dense_fp32_checkpoint"]["bytes"]
    assert manifest["files"]["sparse_fp32"]["bytes"] < dense_bytes
    assert manifest["files"]["sparse_fp16"]["bytes"] < manifest["files"]["sparse_fp32"]["bytes"]
    assert manifest["files"]["onnx_int8"]["bytes"] < manifest["files"]["onnx_fp32"]["bytes"]


def test_every_form_predicts_as_the_stored_network(exported):
    folder, stored = exported
    stored_model = export.trained_model(stored)
    vocab_size = len(prepared(stored.cfg.data, progress=False).vocab)
    decide = lambda logits: predicted_class(torch.from_numpy(logits)).numpy()  # noqa: E731
    rebuilt = export.load_ticket(folder)
    state = load_torch(stored.weights)
    assert all(torch.equal(rebuilt.state_dict()[k], state[k]) for k in state)  # exactly its weights
    exact = torch_runner(rebuilt)
    close = (torch_runner(with_csr_linears(rebuilt)[0]), ort_runner(folder / "model.onnx"))
    moved = (torch_runner(export.load_ticket(folder, "fp16")), ort_runner(folder / "model_int8.onnx"))
    # a batch of many lengths, and one narrower than the CNN's widest filter (5)
    for tokens, lengths in (made_batch(vocab_size), made_batch(vocab_size, batch=4, steps=2)):
        reference = torch_runner(stored_model)(tokens, lengths)
        assert np.array_equal(exact(tokens, lengths), reference)  # so exactly its logits
        for runner in close:
            logits = runner(tokens, lengths)
            assert np.abs(logits - reference).max() < 1e-4
            assert np.array_equal(decide(logits), decide(reference))
        for runner in moved:
            assert (decide(runner(tokens, lengths)) == decide(reference)).mean() >= INT8_AGREEMENT


def test_a_ticket_loads_from_its_zstd_copies_alone(exported, tmp_path):
    folder, stored = exported
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    (shipped / export.MANIFEST).write_bytes((folder / export.MANIFEST).read_bytes())
    for name, _ in export.FILES.values():
        (shipped / f"{name}.zst").write_bytes((folder / f"{name}.zst").read_bytes())
    state = load_torch(stored.weights)
    assert all(torch.equal(export.load_ticket(shipped).state_dict()[k], state[k]) for k in state)


def test_level_0_is_the_shared_dense_network_and_a_branch_keeps_only_it(store, tmp_path):
    dense = find_level("smoke", "synthetic", "cnn", "random_pruning", level=0, store=store, **SETTINGS)
    assert dense.arm == "dense" and dense.weights.exists()
    assert cli.main(export_args("cnn", 0, tmp_path / "dense", "--arm", "random_pruning")) == 0


@pytest.mark.parametrize("change, words", [
    ({"--seed": "5"}, ["no trained run", "synthetic/cnn/winning_ticket seeds 0 levels 0-2",
                       "synthetic/cnn/random_pruning seeds 0 levels 0-1"]),
    ({"--level": "3"}, ["no level 3", "levels 0-2"]),
    ({"--level": "3", "--set": "levels=3"}, ["level 3 is not trained", "trained levels: 0, 1, 2"]),
    ({"--arm": "random_pruning"}, ["is a branch", "winning_ticket", "level 0"]),
    ({"--model": "gru"}, ["refuses model 'gru'", "not checked against PyTorch", "cnn, lstm"]),
    ({"--model": "minilm"}, ["refuses model 'minilm'", "WordPiece tokenizer", "cnn, lstm"]),
    ({"--dataset": "imbd"}, ["imbd", "imdb"]),
])
def test_bad_input_names_what_is_wrong_and_what_exists(store, tmp_path, capsys, change, words):
    given = {"--profile": "smoke", "--dataset": "synthetic", "--model": "cnn", "--level": "1",
             "--out": str(tmp_path / "x"), "--set": "epochs=2 levels=2", **change}
    settings = given.pop("--set").split() + ["epochs=2"]
    argv = ["export", *[part for pair in given.items() for part in pair], "--no-train", "--set", *settings]
    assert cli.main(argv) == 2
    message = capsys.readouterr().err
    assert all(word in message for word in words), message
    assert not (tmp_path / "x").exists()


def test_a_run_the_store_lacks_is_trained_first_unless_no_train(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LTH_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("LTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LTH_DATA_MIRROR", raising=False)
    forget_prepared()
    args = ["export", "--profile", "smoke", "--dataset", "synthetic", "--model", "cnn", "--seed", "1",
            "--level", "1", "--out", str(tmp_path / "ticket"), "--set", "epochs=1", "levels=1"]
    assert cli.main([*args, "--no-train"]) == 2 and "no trained run" in capsys.readouterr().err
    assert cli.main(args) == 0
    assert "training it first" in capsys.readouterr().out
    stored = find_level("smoke", "synthetic", "cnn", seed=1, level=1, epochs=1, levels=1)
    state = load_torch(stored.weights)
    assert all(torch.equal(export.load_ticket(tmp_path / "ticket").state_dict()[k], state[k]) for k in state)
    forget_prepared()


# ---------------------------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------------------------

def test_flops_count_each_weight_once_per_use():
    model = KimCNN(vocab_size=10, embed_dim=2, n_filters=1, filter_sizes=(3,), n_classes=2)
    lengths = torch.tensor([5, 1])  # 3 windows and 1 (a short example keeps its first window)
    uses = measure.weight_uses(model, lengths)
    assert uses == {"embedding.weight": 0.0, "convs.0.weight": 2.0, "convs.0.bias": 2.0,
                    "fc.weight": 1.0, "fc.bias": 1.0}
    state = {k: torch.ones_like(v) for k, v in model.state_dict().items()}
    state["convs.0.weight"][0, 0, 0] = 0.0  # 6 conv weights, one pruned
    assert measure.flops(state, uses, skip_zeros=False) == 2 * 6 * 2 + 1 * 2 + 2 * 1 + 1
    assert measure.flops(state, uses, skip_zeros=True) == 2 * 5 * 2 + 1 * 2 + 2 * 1 + 1
    lstm = RecurrentClassifier("lstm", 10, 2, 3, 1, True, 2)
    assert set(measure.weight_uses(lstm, torch.tensor([4, 2])).values()) == {0.0, 3.0, 1.0}


def test_measure_savings_fills_both_tables_and_the_bench_json(store, monkeypatch):
    monkeypatch.setattr(measure, "LATENCY_EXAMPLES", 2)
    monkeypatch.setattr(measure, "LATENCY_ROUNDS", 1)
    grid = Grid.of("smoke", models=["cnn"], **SETTINGS)
    savings = measure.measure_savings(grid, store=store, progress=False)
    levels, forms = savings.levels, savings.forms
    assert list(levels["level"]) == [0, 1, 2] and list(levels["arm"]) == ["dense", "winning_ticket", "winning_ticket"]
    assert (levels["flops_sparse"] <= levels["flops_dense"]).all()
    assert levels["n_nonzero_no_embedding"].is_monotonic_decreasing
    assert len(forms) == 3 * len(measure.FORMS)
    fp32 = forms[forms["form"].isin(measure.FP32_FORMS)]
    assert (fp32["agreement"] == 1.0).all()
    dense_runs = forms[forms["form"] == "dense_fp32"].merge(levels, on=["level"], suffixes=("", "_stored"))
    assert np.allclose(dense_runs["test_acc"], dense_runs["final_test_acc"])  # final.pt's own accuracy
    timed = forms[forms["form"].map(lambda f: measure.FORMS[f][2])]
    assert timed[["latency_b1_p50_ms", "latency_b64_p95_ms"]].notna().all().all()
    untimed = forms[~forms["form"].map(lambda f: measure.FORMS[f][2])]
    assert untimed["latency_b1_p50_ms"].isna().all()
    bench = json.loads((store.root.parent / "bench" / "deploy_smoke.json").read_text())
    assert len(bench["forms"]) == len(forms) and bench["settings"]["threads"] == 1
