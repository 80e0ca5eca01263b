"""The arms, rewinding, resumability and the store, on the synthetic dataset."""
import json
import math
import multiprocessing

import pandas as pd
import pytest
import torch

from lthlib.core.config import ConfigError
from lthlib.data.prepare import forget_prepared
from lthlib.experiment import profiles
from lthlib.experiment import runner as lottery
from lthlib.experiment.arms import ARMS, Arm, all_arms
from lthlib.experiment.branches.mask_sources import OwnTrunk, TrunkMask
from lthlib.experiment.branches.starts import Theta0, Trained, TrunkTheta0
from lthlib.experiment.runner import Runner
from lthlib.experiment.store import TABLES, Store, decode_classes
from lthlib.machine import platform as determinism
from lthlib.machine.files import load_torch

FAST = dict(epochs=2, levels=2)


@pytest.fixture(autouse=True)
def _tmp_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LTH_DATA_DIR", str(tmp_path / "data"))
    forget_prepared()


def smoke(arm="winning_ticket", model="cnn", seed=0, **overrides):
    return profiles.experiment("smoke", "synthetic", model, arm, seed, **{**FAST, **overrides})


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    keep = [c for c in frame.columns if c not in ("train_seconds", "seconds")]
    return frame[keep].sort_values(["config_hash", "level"]).reset_index(drop=True)


@pytest.fixture
def fake_glove(monkeypatch):
    """A stand-in for a pretrained (GloVe) embedding: a fixed matrix of another scale than N(0, 1)."""
    def load(cfg, data, seed):
        if cfg.model.embedding != "glove":
            return None
        g = torch.Generator().manual_seed(1234)
        return 0.4 * torch.randn(len(data.vocab), cfg.model.embed_dim, generator=g) + 0.1
    monkeypatch.setattr(lottery, "load_embedding", load)


def keeps_pretrained(arm: str) -> bool:
    return ARMS.get(arm).reset_to == "fresh_init_keep_pretrained"


@pytest.mark.parametrize("arm", all_arms())
def test_every_arm_follows_the_pruning_schedule_and_learns(tmp_path, arm, fake_glove):
    cfg = smoke(arm, embedding="glove") if keeps_pretrained(arm) else smoke(arm)
    rows = lottery.run(cfg, Store(tmp_path / "results"), progress=False)
    assert list(rows["level"]) == [0, 1, 2]
    for _, row in rows.iterrows():
        assert row["remaining"] == pytest.approx(0.8 ** row["level"], abs=0.01)
        assert row["n_nonzero"] <= row["n_params"]
    dense = rows[rows["level"] == 0].iloc[0]
    assert dense["test_acc"] > 0.7  # chance is 0.5 on the binary synthetic task


def test_all_arms_share_one_dense_network(tmp_path):
    store = Store(tmp_path / "results")
    for arm in ("winning_ticket", "late_rewinding", "random_pruning"):
        lottery.run(smoke(arm), store, max_level=0, progress=False)
    dense = store.runs().query("level == 0")
    assert dense["test_acc"].nunique() == 1 and dense["shared_from"].nunique() == 1


def test_winning_ticket_rewinds_survivors_to_theta0_bit_exactly(tmp_path):
    runner = Runner(smoke("winning_ticket"), Store(tmp_path / "results"), progress=False)
    runner.run_levels(max_level=1)
    theta0, level = runner.theta0(), runner.level(2)
    for name, value in level.start.items():
        keep = level.masks.get(name, torch.ones_like(value, dtype=torch.bool))
        assert torch.equal(value[keep], theta0[name][keep])
        assert torch.count_nonzero(value[~keep]) == 0


def test_late_rewinding_rewinds_to_theta_k_after_k_iterations(tmp_path):
    runner = Runner(smoke("late_rewinding", rewind_point="3it"), Store(tmp_path / "results"), progress=False)
    runner.run_levels(max_level=1)
    assert runner.rewind_iteration == 3
    theta_k = load_torch(runner.theta_k_path(3))
    assert any(not torch.equal(theta_k[n], v) for n, v in runner.theta0().items())
    level = runner.level(2)
    for name, value in level.start.items():
        keep = level.masks[name]
        assert torch.equal(value[keep], theta_k[name][keep])


def test_dense_rewinding_rewinds_to_the_end_of_dense_training(tmp_path):
    runner = Runner(smoke("dense_rewinding"), Store(tmp_path / "results"), progress=False)
    runner.run_levels(max_level=1)
    trained = load_torch(runner.dense.file(0, "final.pt"))
    level = runner.level(2)
    name = next(iter(level.masks))
    keep = level.masks[name]
    assert torch.equal(level.start[name][keep], trained[name][keep])


def test_random_reinit_keeps_the_ticket_mask_with_a_fresh_init(tmp_path):
    store = Store(tmp_path / "results")
    runner = Runner(smoke("random_reinit"), store, progress=False)
    runner.run_levels(max_level=1)
    trunk = runner.trunk
    level = runner.level(1)
    ticket = load_torch(trunk.run.file(1, "mask.pt"))
    theta0 = runner.theta0()
    for name in ticket:
        assert torch.equal(level.masks[name], ticket[name])
    weight = next(n for n in ticket if n.endswith("weight") and "embedding" not in n)
    assert not torch.equal(level.start[weight], theta0[weight] * ticket[weight])


def test_theta0_share_is_one_for_the_ticket_and_near_zero_for_a_full_reinit(tmp_path, fake_glove):
    store = Store(tmp_path / "results")
    shares = {arm: lottery.run(smoke(arm, embedding="glove"), store, progress=False).set_index("level")["theta0_share"]
              for arm in ("winning_ticket", "random_reinit", "random_reinit_keep_glove")}
    assert (shares["winning_ticket"] == 1.0).all()
    assert (shares["random_reinit"].loc[1:] <= 0.05).all()  # only the zero biases start where θ0 did
    assert (shares["random_reinit_keep_glove"].loc[1:] > 0.5).all()  # the embedding is most of it


def test_a_full_reinit_redraws_a_pretrained_embedding_at_its_scale(tmp_path, fake_glove):
    runner = Runner(smoke("random_reinit", embedding="glove"), Store(tmp_path / "results"), progress=False)
    theta0 = runner.theta0()["embedding.weight"][2:]
    start = runner.arm.start.weights(runner.context(1))["embedding.weight"][2:]
    assert not torch.isclose(start, theta0).any(dim=1).all()
    assert torch.allclose(start.mean(0), theta0.mean(0), atol=0.05)
    assert torch.allclose(start.std(0), theta0.std(0), rtol=0.1)
    kept = Runner(smoke("random_reinit_keep_glove", embedding="glove"), Store(tmp_path / "results"), progress=False)
    assert torch.equal(kept.arm.start.weights(kept.context(1))["embedding.weight"], runner.theta0()["embedding.weight"])


def test_keep_glove_reinit_is_refused_for_a_learned_embedding():
    with pytest.raises(ConfigError, match="embedding='glove'"):
        smoke("random_reinit_keep_glove")


@pytest.mark.parametrize("arm, trunk", [("dense_rewinding_reinit", "dense_rewinding"),
                                        ("late_rewinding_reinit", "late_rewinding")])
def test_a_rewinding_trunks_reinit_takes_that_trunks_mask(tmp_path, arm, trunk):
    store = Store(tmp_path / "results")
    runner = Runner(smoke(arm, rewind_point="3it"), store, progress=False)
    runner.run_levels(max_level=2)
    own = Runner(smoke(trunk, rewind_point="3it"), store, progress=False)
    ticket = Runner(smoke("winning_ticket"), store, progress=False)
    ticket.run_levels(max_level=2)
    mask, trunk_mask = (load_torch(r.run.file(2, "mask.pt")) for r in (runner, own))
    assert all(torch.equal(mask[n], trunk_mask[n]) for n in mask)
    assert any(not torch.equal(mask[n], load_torch(ticket.run.file(2, "mask.pt"))[n]) for n in mask)


def test_each_level_stores_its_test_predictions(tmp_path):
    store = Store(tmp_path / "results")
    rows = lottery.run(smoke(), store, progress=False)
    predictions, labels = store.table("predictions"), store.table("test_labels")
    assert len(labels) == 1 and len(predictions) == len(rows)
    truth = decode_classes(labels["labels"].iloc[0])
    for row in rows.itertuples():
        guess = decode_classes(predictions.set_index("level").loc[row.level, "predicted"])
        assert len(guess) == len(truth) == row.n_test
        assert (guess == truth).mean() == pytest.approx(row.test_acc)


def test_random_pruning_matches_the_tickets_per_tensor_sparsity(tmp_path):
    store = Store(tmp_path / "results")
    runner = Runner(smoke("random_pruning"), store, progress=False)
    runner.run_levels(max_level=1)
    ticket = load_torch(runner.trunk.run.file(1, "mask.pt"))
    random_mask = load_torch(runner.run.file(1, "mask.pt"))
    for name in ticket:
        assert int(random_mask[name].sum()) == int(ticket[name].sum())
    assert any(not torch.equal(random_mask[n], ticket[n]) for n in ticket)


def test_a_rerun_trains_nothing(tmp_path, monkeypatch):
    store = Store(tmp_path / "results")
    lottery.run(smoke(), store, progress=False)

    def refuse(*args, **kwargs):
        raise AssertionError("a finished level was trained again")

    monkeypatch.setattr(lottery, "train_model", refuse)
    rows = lottery.run(smoke(), store, progress=False)
    assert len(rows) == 3


def test_a_killed_run_resumes_to_the_same_numbers(tmp_path, monkeypatch):
    reference = lottery.run(smoke(), Store(tmp_path / "a"), progress=False)

    real_train, calls = lottery.train_model, {"n": 0}

    def crash_on_second_level(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("simulated kill during level 1")
        return real_train(*args, **kwargs)

    monkeypatch.setattr(lottery, "train_model", crash_on_second_level)
    with pytest.raises(KeyboardInterrupt):
        lottery.run(smoke(), Store(tmp_path / "b"), progress=False)
    monkeypatch.setattr(lottery, "train_model", real_train)
    resumed = lottery.run(smoke(), Store(tmp_path / "b"), progress=False)
    pd.testing.assert_frame_equal(comparable(reference), comparable(resumed))


def test_cpu_training_runs_on_one_thread_whatever_the_process_has(tmp_path, monkeypatch):
    """Sums split by thread count: a store filled by 2-thread and 1-thread processes would mix
    numbers that differ in their last bits (and, trained on, in their accuracies)."""
    real_train, threads = lottery.train_model, []
    monkeypatch.setattr(lottery, "train_model", lambda *a, **k: threads.append(torch.get_num_threads())
                        or real_train(*a, **k))
    before = torch.get_num_threads()
    runs = {}
    try:
        for n in (2, 1):
            torch.set_num_threads(n)
            runs[n] = lottery.run(smoke(model="lstm"), Store(tmp_path / str(n)), progress=False)
            assert torch.get_num_threads() == n  # the caller's setting comes back
    finally:
        torch.set_num_threads(before)
    assert threads and set(threads) == {determinism.CPU_TRAINING_THREADS}
    pd.testing.assert_frame_equal(comparable(runs[2]), comparable(runs[1]))


def test_cpu_training_flushes_denormals_and_gives_the_setting_back():
    denormal = torch.tensor([1e-39])  # below float32's smallest normal, 1.18e-38
    with determinism.cpu_threads(torch.device("cpu")):
        inside = (denormal * 1.0).item()
    assert inside == 0.0 and (denormal * 1.0).item() != 0.0


@pytest.mark.parametrize("overrides, message", [
    (dict(arm="golden_ticket"), "unknown arm"),
    (dict(model="transformer"), "unknown model"),
    (dict(prunable="embeddings"), "unknown prunable set"),
    (dict(prune_fraction=1.2), "prune fraction"),
    (dict(prune_fraction=0.0), "prune fraction"),
    (dict(arm="late_rewinding", rewind_point="5ep"), "past the end of training"),
    (dict(arm="late_rewinding", rewind_point="soon"), "rewind point"),
])
def test_bad_configurations_are_refused_before_training(tmp_path, monkeypatch, overrides, message):
    monkeypatch.setattr(lottery, "train_model", lambda *a, **k: pytest.fail("trained"))
    arm, model = overrides.pop("arm", "winning_ticket"), overrides.pop("model", "cnn")
    with pytest.raises(ConfigError, match=message):
        lottery.run(smoke(arm, model, **overrides), Store(tmp_path), progress=False)


def test_rewind_point_past_the_end_in_iterations_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="past"):
        Runner(smoke("late_rewinding", rewind_point="100000it"), Store(tmp_path), progress=False)


def _record_many(root, worker):
    store = Store(root)
    for level in range(20):
        row = {"config_hash": f"w{worker}", "dataset": "d", "model": "m", "arm": "a",
               "seed": worker, "level": level, "test_acc": 0.5}
        store.record({"row": row, "epochs": [{"epoch": 1, "val_loss": 1.0}], "layers": []})


def test_two_processes_writing_at_once_keep_every_row(tmp_path):
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_record_many, args=(tmp_path, w)) for w in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    runs = Store(tmp_path).runs()
    assert len(runs) == 40 and set(runs["config_hash"]) == {"w0", "w1"}
    assert len(Store(tmp_path).epochs()) == 40


def test_tables_rebuild_from_the_metrics_files(tmp_path):
    store = Store(tmp_path / "results")
    lottery.run(smoke(), store, progress=False)
    before = store.runs()
    store.table_path("runs").unlink()
    store.rebuild_tables()
    pd.testing.assert_frame_equal(comparable(before), comparable(store.runs()), check_like=True)
    for name in TABLES:  # a table without rows (the winning ticket has no mask distance) is absent
        assert store.table_path(name).exists() == (not store.table(name).empty)
        store.table(name)  # and reads back, empty or not


def test_recurrent_arm_runs(tmp_path):
    rows = lottery.run(smoke("winning_ticket", "lstm", levels=1), Store(tmp_path), progress=False)
    assert list(rows["level"]) == [0, 1]
    assert math.isfinite(rows["test_acc"].iloc[-1])


def test_theta_k_for_another_rewind_point_is_replayed_exactly(tmp_path):
    """Dense training snapshots θk at one rewind point; another is replayed from θ0, and a
    replay of the first one gives the stored θk bit for bit (CPU training is deterministic)."""
    store = Store(tmp_path / "results")
    first = Runner(smoke("late_rewinding", rewind_point="3it"), store, progress=False)
    first.run_levels(max_level=0)
    stored = load_torch(first.theta_k_path(3))
    first.theta_k_path(3).unlink()
    replayed = first.theta_k()
    assert all(torch.equal(stored[n], replayed[n]) for n in stored)
    other = Runner(smoke("late_rewinding", rewind_point="5it"), store, progress=False)
    assert other.dense.hash == first.dense.hash        # one dense network for both
    theta_5 = other.theta_k()
    assert any(not torch.equal(theta_5[n], stored[n]) for n in stored)


def test_random_reinit_study_is_a_trunk_of_its_own(tmp_path):
    store = Store(tmp_path / "results")
    rows = lottery.run(smoke("random_reinit_study", levels=1), store, progress=False)
    assert list(rows["level"]) == [0, 1] and rows["trunk_hash"].fillna("").eq("").all()
    ticket = lottery.run(smoke("winning_ticket", levels=1), store, progress=False)
    assert rows["test_acc"].iloc[1] != ticket["test_acc"].iloc[1]   # re-initialised, not θ0


@pytest.mark.parametrize("arm", ["snip", "grasp", "synflow", "early_bird"])
def test_cheap_tickets_prune_to_the_tickets_sparsity_from_theta0(tmp_path, arm):
    store = Store(tmp_path / "results")
    runner = Runner(smoke(arm, epochs=3, early_bird_window=2, synflow_rounds=5), store, progress=False)
    rows = runner.run_levels(max_level=1)
    ticket = load_torch(runner.trunk.run.file(1, "mask.pt"))
    masks = load_torch(runner.run.file(1, "mask.pt"))
    kept = sum(int(m.sum()) for m in masks.values())
    assert abs(kept - sum(int(m.sum()) for m in ticket.values())) <= len(ticket)   # rounding per tensor
    level = runner.level(1)
    theta0 = runner.theta0()
    assert all(torch.equal(level.start[n][masks[n]], theta0[n][masks[n]]) for n in masks)
    search = rows.query("level == 1").iloc[0]["mask_search_epochs"]
    assert search == (0 if arm != "early_bird" else pytest.approx(search)) and search <= 3
    saved = json.loads(runner.run.file(1, "mask_search.json").read_text())  # the stored tables' keys
    bird = {"early_bird_found", "early_bird_epoch", "mask_distance"} if arm == "early_bird" else set()
    assert set(saved) == {"mask_search_epochs", "mask_search_seconds", *bird}


def test_collapse_and_search_cost_tables_are_recorded(tmp_path):
    store = Store(tmp_path / "results")
    lottery.run(smoke("early_bird", epochs=3, early_bird_window=2), store, progress=False)
    collapse, early = store.table("collapse"), store.table("mask_distance")
    assert set(collapse["level"]) == {0, 1, 2} and not collapse["collapsed"].any()
    assert {"tensor", "kind", "n_alive", "dead_units", "fully_pruned"} <= set(collapse.columns)
    assert set(early["level"]) == {1, 2} and early["distance"].between(0, 1).all()
    ticket = store.runs().query("arm == 'winning_ticket' and level == 2").iloc[0]
    assert ticket["mask_search_epochs"] == 6          # IMP paid the dense run and level 1: 3 + 3 epochs
    bird = store.runs().query("arm == 'early_bird' and level == 2").iloc[0]
    assert 2 <= bird["mask_search_epochs"] <= 3


@pytest.mark.parametrize("mask, start, message", [
    ("own_trunk", Theta0(), "no mask strategy"),              # a name is not a strategy
    (OwnTrunk(), "theta_1", "no start strategy"),
    (TrunkMask(), Trained(), "only a trunk keeps"),          # a branch keeps no trained weights
    (OwnTrunk(), TrunkTheta0(), "a trunk has none"),
])
def test_an_arm_entry_of_strategies_that_do_not_fit_is_refused(mask, start, message):
    with pytest.raises(ConfigError, match=message):
        Arm("odd", "odd", "", mask, start, "#000000", "03_winning_tickets")
