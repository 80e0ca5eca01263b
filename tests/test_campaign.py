"""The campaign (priority order, budget, resume), the bundle of tables and the carry, on the CPU."""
import io
import json
import shutil
import tarfile

import numpy as np
import pandas as pd
import pytest
import torch

from lthlib import cli
from lthlib.core.config import derive_seed
from lthlib.data import embeddings
from lthlib.data import prepare as data
from lthlib.data.prepare import forget_prepared
from lthlib.experiment import profiles
from lthlib.experiment import runner as lottery
from lthlib.experiment.grid import Grid
from lthlib.experiment.store import Store
from lthlib.run.bundle import BundleError, export_bundle, import_bundle
from lthlib.run.campaign import PRIORITY, PROGRESS_FILE, arm_order, run_campaign, units
from lthlib.run.carry import CarryTooLarge, data_env, prepare_carry

TIMING = ("train_seconds", "mask_search_seconds", "seconds")
SMALL = dict(datasets=["synthetic"], models=["cnn"], seeds=[0], epochs=1, levels=2, rewind_point="5it",
             arms=["winning_ticket", "random_reinit", "late_rewinding"])


@pytest.fixture(autouse=True)
def _tmp_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LTH_DATA_DIR", str(tmp_path / "data"))
    forget_prepared()


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    keep = [c for c in frame.columns if c not in TIMING]
    return frame[keep].sort_values(["config_hash", "level"], kind="stable").reset_index(drop=True)


# -- the campaign --------------------------------------------------------------------------------

def test_units_come_seed_by_seed_dense_first_then_level_by_level_in_arm_priority():
    grid = Grid.of("smoke", ["synthetic"], ["cnn", "lstm"], arm_order(None), [0, 1], levels=2)
    work = units(grid)
    assert [(u.model, u.arm) for u in work[:2]] == [("cnn", "dense"), ("lstm", "dense")]
    level_1_cnn = [u.arm for u in work if u.seed == 0 and u.level == 1 and u.model == "cnn"]
    runnable = [arm for arm in PRIORITY if arm != "random_reinit_keep_glove"]  # smoke's embeddings are learned
    assert level_1_cnn[:len(runnable)] == runnable
    assert set(level_1_cnn[len(runnable):]) == {"snip", "grasp", "synflow", "early_bird", "random_reinit_study"}
    seeds = [u.seed for u in work]
    assert seeds == sorted(seeds)  # every unit of seed 0 before any of seed 1
    seed_0 = [u.level for u in work if u.seed == 0]
    assert seed_0 == sorted(seed_0)  # level 1 of every arm before level 2 of any
    assert len(work) == 2 * (2 + 2 * 2 * 14)


def test_campaign_stops_at_its_budget_says_why_and_resumes_to_the_uninterrupted_numbers(tmp_path):
    store = Store(tmp_path / "results" / "smoke")
    cut = run_campaign("smoke", minutes=1e-6, store=store, **SMALL)
    assert cut.state == "stopped" and cut.units_run == ["synthetic/cnn s0 dense L0"]
    assert "time budget" in cut.stop_reason and cut.next_unit == "synthetic/cnn s0 winning_ticket L1"
    record = json.loads((store.root / PROGRESS_FILE).read_text())
    assert record["state"] == "stopped" and record["units"] == {
        "total": 7, "done": 1, "remaining": 6, "run_now": 1, "skipped": 0}
    assert record["measured"][0]["samples_per_second"] > 0
    status = store.table("status")
    assert set(status["status"]) == {"partial", "pending"} and status["reason"].str.contains("again").all()

    forget_prepared()
    resumed = run_campaign("smoke", minutes=10, store=store, **SMALL)
    assert resumed.state == "finished" and len(resumed.units_run) == 6
    reference_store = Store(tmp_path / "reference" / "smoke")
    reference = run_campaign("smoke", minutes=10, store=reference_store, **SMALL)
    assert reference.state == "finished" and len(reference.units_run) == 7
    pd.testing.assert_frame_equal(comparable(store.runs()), comparable(reference_store.runs()))
    pd.testing.assert_frame_equal(comparable(store.epochs()), comparable(reference_store.epochs()))
    record = json.loads((store.root / PROGRESS_FILE).read_text())
    assert [h["state"] for h in record["history"]] == ["stopped"]
    assert set(store.table("status")["status"]) == {"done"}
    assert {row["setting"] for row in record["deviations"]} == {"train.epochs", "prune.levels", "rewind_point"}


# -- the bundle ----------------------------------------------------------------------------------

@pytest.fixture
def tiny_store(tmp_path):
    """Winning tickets of two seeds, two levels, and one random-pruning branch."""
    store = Store(tmp_path / "results" / "smoke")
    for arm, seed in (("winning_ticket", 0), ("winning_ticket", 1), ("random_pruning", 0)):
        cfg = profiles.experiment("smoke", "synthetic", "cnn", arm, seed, epochs=1, levels=2)
        lottery.run(cfg, store, progress=False)
    return store


def test_bundle_holds_the_tables_and_mask_overlap_but_no_weights_and_imports_equal(tiny_store, tmp_path):
    path = export_bundle("smoke", tmp_path / "smoke.tar.gz", store=tiny_store)
    with tarfile.open(path) as archive:
        names = archive.getnames()
    assert not [n for n in names if n.endswith(".pt") or "/" in n]
    assert {"bundle.json", "runs.csv", "epochs.csv", "layers.csv", "collapse.csv", "mask_overlap.csv"} <= set(names)
    overlap = tiny_store.table("mask_overlap")
    assert set(overlap["kind"]) == {"across seeds", "consecutive levels"}
    assert overlap["jaccard"].between(0, 1).all()

    other = Store(tmp_path / "elsewhere" / "smoke")
    import_bundle(path, "smoke", store=other)
    assert not (other.root / "runs").exists()
    for name in ("runs", "epochs", "layers", "collapse", "mask_overlap"):
        pd.testing.assert_frame_equal(other.table(name), tiny_store.table(name))
    import_bundle(path, "smoke", store=other)  # again: the same rows, not twice
    pd.testing.assert_frame_equal(other.runs(), tiny_store.runs())


def test_import_keeps_other_local_rows_and_refuses_a_damaged_bundle(tiny_store, tmp_path):
    path = export_bundle("smoke", tmp_path / "smoke.tar.gz", store=tiny_store)
    other = Store(tmp_path / "elsewhere" / "smoke")
    local = tiny_store.runs().iloc[:1].assign(config_hash="0123456789ab")
    local.to_csv(other.table_path("runs"), index=False)
    import_bundle(path, "smoke", store=other)
    assert len(other.runs()) == len(tiny_store.runs()) + 1 and "0123456789ab" in set(other.runs()["config_hash"])

    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(path) as source, tarfile.open(damaged, "w:gz") as target:
        for member in source.getmembers():
            blob = source.extractfile(member).read()
            blob = blob.replace(b"synthetic", b"synthetiK") if member.name == "runs.csv" else blob
            member.size = len(blob)
            target.addfile(member, io.BytesIO(blob))
    with pytest.raises(BundleError, match="runs.csv is missing or differs"):
        import_bundle(damaged, "smoke", store=other)
    with pytest.raises(BundleError, match="holds profile 'smoke', not 'quick'"):
        import_bundle(path, "quick", store=other)
    with pytest.raises(BundleError, match="over the 0 MiB limit"):
        export_bundle("smoke", tmp_path / "big.tar.gz", store=tiny_store, max_bytes=100)


# -- the carry -----------------------------------------------------------------------------------

def test_a_store_fills_from_the_carry_without_reading_sources(tmp_path, monkeypatch):
    carry = tmp_path / ".carry"
    manifest = prepare_carry("smoke", ["synthetic"], ["cnn"], carry, seeds=[0])
    assert all(item["included"] for item in manifest["items"])
    monkeypatch.setenv("LTH_DATA_DIR", str(carry / "data"))
    monkeypatch.setattr(data, "load_examples", lambda *a, **k: pytest.fail("a source was read"))
    forget_prepared()
    cfg = profiles.experiment("smoke", "synthetic", "cnn", "winning_ticket", 0, epochs=1, levels=1)
    rows = lottery.run(cfg, Store(tmp_path / "results" / "smoke"), progress=False)
    assert list(rows["level"]) == [0, 1]


def _write_glove(path, words, dim=50, seed=0):
    """A GloVe-format file with awkward float32 values (ones that need nine digits)."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as out:
        for word in words:
            out.write(word + " " + " ".join(repr(float(v)) for v in rng.standard_normal(dim).astype(np.float32)) + "\n")


def test_carry_of_a_glove_model_gives_the_same_matrices_without_the_glove_package(tmp_path, tiny_mirror, monkeypatch):
    monkeypatch.setattr(embeddings, "kumo_package_dir", lambda: None)
    source_glove = data.processed_dir().parent / "raw" / "glove" / "glove.6B.50d.txt"
    _write_glove(source_glove, ["great", "bad", "film", "boring", "zebra", "quasar"])
    carry = tmp_path / ".carry"
    manifest = prepare_carry("paper", ["imdb"], ["lstm"], carry, seeds=[0], glove_dim=50)
    assert manifest["deviations"][0]["setting"] == "model.embed_dim" and manifest["deviations"][0]["used"] == 50
    kinds = {item["kind"]: item for item in manifest["items"]}
    assert set(kinds) == {"source", "glove_rows", "glove_matrix", "cache"} and kinds["source"]["required"]
    rows = (carry / kinds["glove_rows"]["path"]).read_text().splitlines()
    assert sorted(r.split()[0] for r in rows) == ["bad", "boring", "film", "great"]  # only vocabulary words

    cfg = profiles.experiment("paper", "imdb", "lstm", embed_dim=50)
    vocab = data.prepare(cfg.data, progress=False).vocab
    reinit = derive_seed(0, "reinit", 3)  # a matrix the carry does not hold: made there
    expected, _ = embeddings.glove_matrix(vocab, 50, seed=reinit)
    gpu_data = tmp_path / "gpu" / "data"
    shutil.copytree(carry / "data", gpu_data)
    shutil.move(source_glove.parent.parent.parent, tmp_path / "gone")  # nothing of this machine's data
    with data_env(carry):
        monkeypatch.setenv("LTH_DATA_DIR", str(gpu_data))
        parses = data.PARSE_COUNT
        assert data.prepare(cfg.data, progress=False).timings["cached"] and data.PARSE_COUNT == parses
        assert embeddings.glove_source(50)[0] == "txt"
        got, _ = embeddings.glove_matrix(vocab, 50, seed=reinit)
    assert torch.equal(got, expected)


def test_carry_refuses_above_its_limit_and_leaves_nothing(tmp_path, tiny_mirror):
    folder = tmp_path / "out" / ".carry"
    with pytest.raises(CarryTooLarge, match="over its 0.0001 MiB limit"):
        prepare_carry("paper", ["imdb"], ["cnn"], folder, seeds=[0], limit_mib=0.0001)
    assert list((tmp_path / "out").iterdir()) == []


# -- the command line ----------------------------------------------------------------------------

@pytest.mark.parametrize("argv, words", [
    (["campaign", "--profile", "smoke"], "required: --minutes"),
    (["campaign", "--profile", "smoke", "--arms", "lucky", "--minutes", "1"], "unknown arm 'lucky'"),
    (["campaign", "--profile", "smoke", "--minutes", "1", "--set", "bogus=1"], "unknown parameter 'bogus'"),
    (["bundle", "import", "nowhere.tar.gz", "--profile", "smoke"], "no bundle at nowhere.tar.gz"),
    (["bundle", "export", "--profile", "smoke"], "required: --out"),
    (["carry", "--profile", "smoke", "--datasets", "mnist"], "unknown dataset 'mnist'"),
])
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, monkeypatch, capsys, argv, words):
    monkeypatch.setenv("LTH_RESULTS_DIR", str(tmp_path / "results"))
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1


def test_campaign_command_trains_and_writes_its_bundle(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LTH_RESULTS_DIR", str(tmp_path / "results"))
    out = tmp_path / "smoke.tar.gz"
    argv = ["campaign", "--profile", "smoke", "--datasets", "synthetic", "--models", "cnn", "--seeds", "0",
            "--arms", "winning_ticket", "--minutes", "5", "--set", "epochs=1", "levels=1", "--bundle", str(out)]
    assert cli.main(argv) == 0
    assert "campaign finished" in capsys.readouterr().out and out.is_file()
    assert cli.main(["bundle", "import", str(out), "--profile", "quick"]) == 2
