"""The grid: its cells, their configurations and seeds, status rows, and running them."""
from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from lthlib.core.config import ConfigError
from lthlib.data.prepare import forget_prepared
from lthlib.experiment import execution, profiles
from lthlib.experiment import grid as grids
from lthlib.experiment.arms import TICKET
from lthlib.experiment.grid import Cell, Grid, with_glove_dim
from lthlib.experiment.store import Store

SMALL = dict(epochs=1, levels=1)


@pytest.fixture(autouse=True)
def _tmp_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LTH_DATA_DIR", str(tmp_path / "data"))
    forget_prepared()


def test_cells_and_groups_in_order_with_names_checked():
    grid = Grid.of("smoke", models=["cnn", "lstm"], arms=[TICKET, "random_reinit"], seeds=[0, 1])
    cells = grid.cells()
    assert cells[:3] == [Cell("synthetic", "cnn", TICKET, 0), Cell("synthetic", "cnn", TICKET, 1),
                         Cell("synthetic", "cnn", "random_reinit", 0)]
    assert len(cells) == 2 * 2 * 2
    groups = grid.groups()
    assert [[c.arm for c in g] for g in groups] == [[TICKET, "random_reinit"]] * 4  # a trunk before its branch
    assert [(g[0].model, g[0].seed) for g in groups] == [("cnn", 0), ("cnn", 1), ("lstm", 0), ("lstm", 1)]
    for bad in (dict(datasets=["mnist"]), dict(models=["transformer"]), dict(arms=["lucky"]), dict(bogus=1)):
        with pytest.raises(ConfigError):
            Grid.of("smoke", **bad)


def test_overrides_are_typed_once_and_reach_every_cell():
    grid = Grid.of("smoke", seeds=[0], levels="2", epochs=None, rewind_point="3it")
    assert grid.overrides == {"levels": 2, "rewind_point": "3it"}
    cfg = grid.config("synthetic", "cnn", "late_rewinding", 0)
    assert cfg.prune.levels == 2 and cfg.rewind_point == "3it"
    assert cfg == profiles.experiment("smoke", "synthetic", "cnn", "late_rewinding", 0, levels=2, rewind_point="3it")
    with pytest.raises(ConfigError, match="expected int"):
        Grid.of("smoke", levels="two")


def test_arms_on_fewer_seeds_follow_the_profile_unless_seeds_are_given():
    quick = profiles.PROFILES.get("quick")
    fewer = next(iter(quick.arm_seeds))
    dataset = quick.arm_datasets.get(fewer, quick.datasets)[0]   # one it runs on
    cells = Grid.of("quick", datasets=[dataset], arms=[TICKET, fewer]).expected()
    per_arm = cells.groupby("arm")["seed"].apply(lambda s: sorted(set(s))).to_dict()
    assert per_arm == {TICKET: list(quick.seeds_for(TICKET, dataset)), fewer: list(quick.arm_seeds[fewer])}
    explicit = Grid.of("quick", arms=[TICKET, fewer], seeds=[1, 2]).expected()
    assert set(explicit.loc[explicit["arm"] == fewer, "seed"]) == {1, 2}


def test_arms_on_fewer_datasets_have_no_cells_elsewhere_and_say_so():
    quick = profiles.PROFILES.get("quick")
    arm, kept = next(iter(quick.arm_datasets.items()))
    left_out = next(d for d in quick.datasets if d not in kept)
    grid = Grid.of("quick", models=["cnn"], arms=[TICKET, arm])
    cells = grid.expected()
    assert set(cells.loc[cells["arm"] == arm, "dataset"]) == set(kept)
    assert set(cells.loc[cells["arm"] == TICKET, "dataset"]) == {*kept, left_out}
    assert f"{arm} on {', '.join(kept)} only" in grid.describe()
    assert not [c for c in grid.cells() if c.dataset == left_out and c.arm == arm]


def test_run_gives_each_arm_its_seeds_on_each_dataset(monkeypatch, tmp_path):
    real = profiles.PROFILES.get
    quick = dataclasses.replace(real("quick"), dataset_seeds={"ag_news": tuple(range(len(real("quick").seeds) + 3))},
                                arm_datasets={})
    monkeypatch.setattr(profiles.PROFILES, "get", lambda name: quick if name == "quick" else real(name))
    dataset, more = next(iter(quick.dataset_seeds.items()))
    other = next(d for d in quick.datasets if d != dataset)
    fewer = next(iter(quick.arm_seeds))
    assert set(more) > set(quick.seeds)
    grid = Grid.of("quick", datasets=[dataset, other], models=["cnn"], arms=[TICKET, fewer])
    seeds = grid.expected().groupby(["dataset", "arm"])["seed"].apply(sorted).to_dict()
    assert seeds == {(dataset, TICKET): list(more), (other, TICKET): list(quick.seeds),
                     (dataset, fewer): list(quick.arm_seeds[fewer]), (other, fewer): list(quick.arm_seeds[fewer])}
    seen = []
    monkeypatch.setattr(execution, "load_data", lambda cfg, progress: None)
    monkeypatch.setattr(execution, "run_group", lambda group, root, max_level, progress, record=True:
                        seen.extend((c.data.dataset, c.arm, c.seed) for c in group) or [])
    grid.run(store=Store(tmp_path), workers=1)
    assert sorted(seen) == sorted((d, a, s) for (d, a), ss in seeds.items() for s in ss)


def test_an_unavailable_dataset_is_skipped_and_says_why(tmp_path, monkeypatch):
    monkeypatch.delenv("LTH_DATA_MIRROR", raising=False)
    from lthlib.data import sources
    monkeypatch.setattr(sources, "download", lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    grid = Grid.of("quick", datasets=["ag_news"], models=["cnn"], seeds=[0], protocol="official")
    status = grid.run(store=Store(tmp_path), progress=False)
    assert (status["status"] == "skipped").all()
    assert "train.csv" in status["reason"].iloc[0]


def test_a_refused_arm_is_skipped_with_its_reason_and_the_others_run(tmp_path):
    store = Store(tmp_path / "results")
    grid = Grid.of("smoke", models=["cnn"], arms=[TICKET, "late_rewinding"], seeds=[0], rewind_point="5ep", **SMALL)
    assert "past the end" in grid.refusal("late_rewinding") and grid.refusal(TICKET) is None
    status = grid.run(store=store, workers=1).set_index("arm")
    assert status.loc[TICKET, "status"] == "done" and status.loc[TICKET, "levels_done"] == 2
    assert status.loc["late_rewinding", "status"] == "skipped"
    assert "past the end" in status.loc["late_rewinding", "reason"]
    assert len(store.table("status")) == 2


def test_grid_in_two_worker_processes_fills_the_store(tmp_path):
    store = Store(tmp_path / "results")
    grid = Grid.of("smoke", models=["cnn"], arms=[TICKET, "random_reinit"], seeds=[0, 1], **SMALL)
    status = grid.run(store=store, progress=False, workers=2)
    assert list(status["status"].unique()) == ["done"] and len(status) == 4
    runs = store.runs()
    assert len(runs) == 8 and set(runs["seed"]) == {0, 1}
    assert len(store.table("status")) == 4


def test_branches_whose_trunk_is_in_the_store_train_alone_at_once(tmp_path):
    store = Store(tmp_path / "results")
    grid = Grid.of("smoke", models=["cnn"], arms=[TICKET, "random_reinit", "random_pruning"], seeds=[0], **SMALL)
    group = [grid.config(*cell) for cell in grid.groups()[0]]
    assert execution.alone_when_ready([group], store.root, None) == [group]       # the trunk first, in turn
    grid.run([TICKET], store=store, progress=False, workers=1)
    assert execution.alone_when_ready([group], store.root, None) == [[cfg] for cfg in group]
    assert execution.alone_when_ready([group[1:]], store.root, 0) == [[cfg] for cfg in group[1:]]


def test_status_rows_count_the_levels_a_store_holds(tmp_path):
    grid = Grid.of("smoke", models=["cnn"], arms=[TICKET, "random_reinit"], seeds=[0], **SMALL)
    hashes = grid.expected().set_index("arm")["config_hash"]
    store = Store(tmp_path)
    pd.DataFrame([{"config_hash": hashes[TICKET], "level": 0}, {"config_hash": hashes[TICKET], "level": 1},
                  {"config_hash": hashes["random_reinit"], "level": 0}]).to_csv(store.table_path("runs"), index=False)
    rows = {r["arm"]: r for r in grid.status(store, waiting="{done} of {expected}")}
    assert rows[TICKET]["status"] == "done" and rows[TICKET]["levels_done"] == 2
    assert rows["random_reinit"]["status"] == "partial" and rows["random_reinit"]["reason"] == "1 of 2"
    skipped = grid.status(store, skipped=lambda cell: "no GPU" if cell.arm == TICKET else None)
    assert [r["status"] for r in skipped] == ["skipped", "partial"]
    assert [r["status"] for r in grid.status(store, max_level=0)] == ["done", "done"]


def test_glove_dim_changes_only_the_models_that_read_glove():
    glove = profiles.experiment("quick", "imdb", "lstm", embedding="glove", embed_dim=50)
    learned = profiles.experiment("quick", "imdb", "cnn", embedding="random", embed_dim=50)
    assert with_glove_dim(glove, None) is glove
    assert with_glove_dim(glove, 100).model.embed_dim == 100
    assert with_glove_dim(learned, 100) is learned   # a learned embedding has no GloVe size to change
    grid = Grid.of("quick", datasets=["imdb"], models=["lstm"], seeds=[0], glove_dim=100)
    assert grid.config("imdb", "lstm", TICKET, 0).model.embed_dim == 100


def test_the_executor_is_a_notebook_parameter_resolved_by_name(monkeypatch, tmp_path):
    """A notebook's ``executor`` reaches its grid like any parameter; the grid builds the executor
    it names when it runs (here a stand-in for Ray that records what it is asked to run)."""
    from lthlib.report import notebook as report
    namespace = {"profile": "smoke", "epochs": 1, "levels": 1, "executor": "ray", "sel": None}
    assert report.parameters(namespace) == {"epochs": 1, "levels": 1, "executor": "ray"}
    sel = report.selection("smoke", models="cnn", seeds="[0, 1]", **report.parameters(namespace))
    assert sel.executor == "ray" and report.selection("smoke").executor == "local"

    class Recorder:
        name, payloads, closed = "ray", [], False

        def map(self, payloads, on_done=None):
            self.payloads += payloads
            return [[] for _ in payloads]

        def close(self):
            Recorder.closed = True
    built = []
    monkeypatch.setattr(execution, "load_data", lambda cfg, progress: None)
    monkeypatch.setattr(execution, "make_executor", lambda name, **options: built.append((name, options)) or Recorder())
    report.run_arms(sel, progress=False)
    assert built == [("ray", {"workers": None, "gpu": False})]
    assert [p["name"] for p in Recorder.payloads] == ["synthetic/cnn seed 0", "synthetic/cnn seed 1"]
    assert Recorder.closed  # built by name here, so closed here
    sel.run(store=Store(tmp_path), executor=" Slurm ", workers=3)
    assert built[-1] == (" Slurm ", {"workers": 3, "gpu": False})


def test_an_unknown_executor_is_one_line_before_training(tmp_path):
    with pytest.raises(ConfigError, match="^unknown executor 'kubernetes'; choose one of local, ray, slurm$"):
        grids.selection("smoke", executor="kubernetes")
    grid = Grid.of("smoke", models=["cnn"], seeds=[0], **SMALL)
    with pytest.raises(ConfigError, match="^unknown executor 'kubernetes'; choose one of local, ray, slurm$"):
        grid.run(store=Store(tmp_path), executor="kubernetes")
    assert not (tmp_path / "runs").exists()
    assert grid.run(store=Store(tmp_path), executor="local")["status"].eq("done").all()


def test_an_arm_that_does_not_apply_to_a_model_is_skipped_with_its_reason_not_an_error():
    grid = Grid.of("smoke", ["synthetic"], ["cnn"], [TICKET, "random_reinit_keep_glove"], [0])
    grid.check()  # no error: keeping a pretrained embedding does not apply to a learned one
    cell = next(c for c in grid.cells() if c.arm == "random_reinit_keep_glove")
    assert "embedding='glove'" in grid.why_not(cell)
    assert grid.why_not(next(c for c in grid.cells() if c.arm == TICKET)) is None
