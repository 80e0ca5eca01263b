"""The grid beyond one machine: Ray and Slurm (submitit) executors with the real engines, a store
two processes share, and damaged files.

Every run here is the same small smoke grid (helpers.small_grid: one model, two arms, two
seeds, one epoch, one level: two (dataset, model, seed) groups), and every runs.csv is compared
with the local executor's (conftest.py's grid_reference), timing columns aside.  A real Slurm
cluster is exercised in test_slurm_cluster.py (marked ``slurm``).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from lthlib import cli
from lthlib.core.config import ConfigError
from lthlib.experiment.arms import TICKET  # noqa: F401 (read by DataFrame.query as @TICKET)
from lthlib.experiment.store import Store
from lthlib.machine.executors import make_executor
from lthlib.machine.executors.ray import RayExecutor
from lthlib.machine.files import DamagedFile, MissingFile
from lthlib.machine.platform import has_command

from helpers import CLI_GRID, GRID_ARMS, GRID_SEEDS, TIMING, same_rows, small_grid

#: notebook 07's grid, small: one pair, one model, one seed, one epoch, levels 0-1
TRANSFER = ["transfer", "--profile", "smoke", "--pairs", "synthetic>synthetic_short", "--models", "cnn",
            "--seeds", "0", "--max-level", "1", "--set", "epochs=1"]

# ---------------------------------------------------------------------------------------------
# Bad input: a ConfigError before anything trains
# ---------------------------------------------------------------------------------------------

def test_bad_executor_input_is_a_config_error_before_training(grid_results, capsys):
    with pytest.raises(ConfigError, match="unknown executor 'spark'.*local, ray, slurm"):
        make_executor("spark")
    with pytest.raises(ConfigError, match="no option 'partiton'"):
        make_executor("slurm", cluster="local", partiton="gpu")
    with pytest.raises(ConfigError, match="time_min must be a positive number"):
        make_executor("slurm", cluster="local", time_min=-5)
    with pytest.raises(ConfigError, match="cluster must be 'slurm' or 'local'"):
        make_executor("slurm", cluster="kubernetes")
    with pytest.raises(ConfigError, match="no option 'partition'"):
        make_executor("ray", partition="gpu")
    if not has_command("sbatch"):
        with pytest.raises(ConfigError, match="no sbatch"):
            make_executor("slurm")
    assert cli.main(["run", *CLI_GRID, "--executor", "spark"]) == 2
    assert cli.main(["run", *CLI_GRID, "--executor", "local", "--slurm-partition", "gpu"]) == 2
    assert cli.main([*TRANSFER, "--executor", "spark"]) == 2
    assert "unknown executor 'spark'" in capsys.readouterr().err
    assert not (grid_results / "smoke" / "runs").exists()  # nothing trained


def test_ray_without_a_reachable_cluster_is_a_config_error(grid_results, capsys):
    with pytest.raises(ConfigError, match="could not reach a Ray cluster at '127.0.0.1:9'"):
        RayExecutor(address="127.0.0.1:9").check()
    assert cli.main(["run", *CLI_GRID, "--executor", "ray", "--address", "127.0.0.1:9"]) == 2
    assert not (grid_results / "smoke" / "runs").exists()


def test_a_ray_address_where_something_else_listens_fails_within_seconds(grid_results, capsys):
    pytest.importorskip("ray")
    from lthlib.machine.executors import ray as ray_executor

    def too_long(signum, frame):  # ray.init alone would retry for ten minutes
        raise TimeoutError("no answer within 90 s")
    previous = signal.signal(signal.SIGALRM, too_long)
    signal.alarm(90)
    try:
        with socket.socket() as listener:  # takes connections, answers nothing
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            address = f"127.0.0.1:{listener.getsockname()[1]}"
            start = time.monotonic()
            code = cli.main(["run", *CLI_GRID, "--executor", "ray", "--address", address])
            elapsed = time.monotonic() - start
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    said = capsys.readouterr().err
    assert code == 2 and "Traceback" not in said
    assert f"lth: ray: {address!r} takes connections but did not answer as a Ray cluster within" in said
    assert elapsed < 5 + ray_executor.ANSWER_SECONDS + 15, elapsed   # the probe's limits, and importing Ray
    assert not (grid_results / "smoke" / "runs").exists()


# ---------------------------------------------------------------------------------------------
# Slurm through submitit's local executor (real subprocesses)
# ---------------------------------------------------------------------------------------------

def test_slurm_local_gives_the_local_rows(grid_reference, grid_results, tmp_path):
    code = cli.main(["run", *CLI_GRID, "--executor", "slurm", "--slurm-cluster", "local",
                     "--slurm-folder", str(tmp_path / "submitit"), "--slurm-parallelism", "2"])
    assert code == 0
    store = Store(grid_results / "smoke")
    same_rows(store, grid_reference)
    assert list(store.table("status")["status"].unique()) == ["done"]
    assert list((tmp_path / "submitit").glob("*/*_result.pkl"))  # the jobs really ran through submitit


# ---------------------------------------------------------------------------------------------
# Ray: a real two-node cluster on this machine
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ray_cluster(grid_data_dir):
    """Two Ray nodes of one CPU each (ray.cluster_utils.Cluster: real raylets and workers), in a
    short temporary folder removed afterwards (Ray leaves sessions in its temp dir)."""
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster
    temp = tempfile.mkdtemp(prefix="lthray", dir="/tmp")  # short: Ray's socket paths have a limit
    shared = Path(tempfile.gettempdir()) / "ray"  # Ray writes its address file here whatever temp_dir says
    shared_existed = shared.exists()
    shared.mkdir(exist_ok=True)
    cluster = None
    try:  # a node that times out starting (a loaded machine) leaves no folder behind either
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "temp_dir": temp})
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        yield cluster
    finally:
        ray.shutdown()
        if cluster is not None:
            cluster.shutdown()
        shutil.rmtree(temp, ignore_errors=True)
        if not shared_existed:
            shutil.rmtree(shared, ignore_errors=True)


def test_ray_two_nodes_give_the_local_rows(grid_reference, grid_results, ray_cluster):
    import ray
    code = cli.main(["run", *CLI_GRID, "--executor", "ray", "--address", ray_cluster.address])
    assert code == 0
    same_rows(Store(grid_results / "smoke"), grid_reference)
    assert not ray.is_initialized()  # the command disconnected


def test_lth_transfer_on_ray_gives_the_local_rows(grid_results, ray_cluster, tmp_path, monkeypatch):
    import ray
    assert cli.main([*TRANSFER, "--executor", "ray", "--address", ray_cluster.address]) == 0
    assert not ray.is_initialized()
    monkeypatch.setenv("LTH_RESULTS_DIR", str(tmp_path / "local"))
    assert cli.main([*TRANSFER, "--executor", "local", "--workers", "2"]) == 0
    on_ray, local = Store(grid_results / "smoke"), Store(tmp_path / "local" / "smoke")
    assert set(on_ray.runs()["level"]) == {0, 1} and len(set(on_ray.runs()["arm"])) == 4
    same_rows(on_ray, local)
    pd.testing.assert_frame_equal(on_ray.table("transfer_status"), local.table("transfer_status"))


def _ray_task_pids() -> list[int]:
    """Processes running a task of ours (Ray titles a busy worker 'ray::call')."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if (proc / "cmdline").read_bytes().startswith(b"ray::call"):
                    pids.append(int(proc.name))
            except OSError:
                continue
    return pids


def test_ray_worker_killed_mid_run_is_retried_to_the_same_rows(grid_reference, grid_results, ray_cluster):
    store_root = grid_results / "smoke"
    killed: list[int] = []

    def kill_once_training() -> None:  # SIGKILL a busy worker once a level has started writing
        deadline = time.time() + 120
        while time.time() < deadline and not killed:
            started = list(store_root.glob("runs/*/level_*/checkpoint.pt")) + list(
                store_root.glob("runs/*/level_*/metrics.json"))
            pids = _ray_task_pids() if started else []
            if pids:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
            time.sleep(0.05)

    killer = threading.Thread(target=kill_once_training, daemon=True)
    killer.start()
    executor = RayExecutor(address=ray_cluster.address, max_retries=3)
    executor.check()
    try:
        status = small_grid().run(store=Store(store_root), executor=executor)
    finally:
        executor.close()
    killer.join()
    assert killed, "no Ray worker was killed: the test did not test a retry"
    assert list(status["status"].unique()) == ["done"]
    same_rows(Store(store_root), grid_reference)


# ---------------------------------------------------------------------------------------------
# Two processes, one store (stand-ins for two hosts on a shared filesystem)
# ---------------------------------------------------------------------------------------------

HOST = '''
import sys
from lthlib.experiment import runner
from lthlib.experiment.grid import Grid
from lthlib.experiment.store import Store

log = open(sys.argv[2], "w")
real = runner.train_model

def logged(*args, **kwargs):  # every training this process does, one line each
    log.write(kwargs["desc"] + "\\n")
    log.flush()
    return real(*args, **kwargs)

runner.train_model = logged
grid = Grid.of("smoke", models=["cnn"], arms={arms!r}, seeds={seeds!r}, epochs=1, levels=1)
status = grid.run(store=Store(sys.argv[1]), workers=1)
assert set(status["status"]) == {{"done"}}, status
'''


def test_two_hosts_on_one_store_train_each_level_once_and_lose_nothing(grid_reference, grid_results, tmp_path):
    script = tmp_path / "host.py"
    script.write_text(textwrap.dedent(HOST.format(arms=GRID_ARMS, seeds=GRID_SEEDS)))
    store_root = grid_results / "smoke"
    hosts = [subprocess.Popen([sys.executable, str(script), str(store_root), str(tmp_path / f"trained-{i}.txt")],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(2)]
    outputs = [host.communicate(timeout=600)[0] for host in hosts]
    assert [host.returncode for host in hosts] == [0, 0], outputs
    trained = [line for i in range(2) for line in (tmp_path / f"trained-{i}.txt").read_text().splitlines()]
    assert len(trained) == len(set(trained)), f"trained twice: {sorted(trained)}"
    # dense, ticket L1 and re-init L1 per seed: each trained once, by one host or the other
    assert len(trained) == 3 * len(GRID_SEEDS)
    same_rows(Store(store_root), grid_reference)


# ---------------------------------------------------------------------------------------------
# Damaged files: noticed, named, retrained to the same numbers, or stopped with a fix that works
# ---------------------------------------------------------------------------------------------

def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _copy_of(reference: Store, root: Path) -> Store:
    store = Store(root)
    shutil.copytree(reference.root, store.root, dirs_exist_ok=True)
    return store


def _level(store: Store, arm: str, seed: int, level: int) -> Path:
    config_hash = small_grid().expected().query("arm == @arm and seed == @seed")["config_hash"].iloc[0]
    return store.root / "runs" / config_hash / f"level_{level:02d}"


def _dense_metrics(store: Store) -> list[Path]:
    return [p for p in sorted(store.root.glob("runs/*/level_00/metrics.json"))
            if json.loads(p.read_text())["row"]["arm"] == "dense"]


def _follow(fix: str) -> None:
    """Do what a DamagedFile's fix says: delete the files it names."""
    for path in re.findall(r"(/\S+\.(?:json|pt))\b", fix.split("; ", 1)[1]):
        Path(path).unlink(missing_ok=True)


def test_damaged_metrics_and_checkpoint_are_retrained_to_the_same_numbers(grid_reference, grid_results):
    store = _copy_of(grid_reference, grid_results / "smoke")
    metrics = _level(store, TICKET, 0, 1) / "metrics.json"
    _truncate(metrics)
    checkpoint = metrics.with_name("checkpoint.pt")  # as a partial copy leaves it
    shutil.copy(next(store.root.glob("runs/*/level_00/final.pt")), checkpoint)
    _truncate(checkpoint)

    with pytest.raises(DamagedFile, match=f"{metrics}.*not valid JSON.*run the same grid again"):
        store.rebuild_tables()
    assert cli.main(["tables", "--profile", "smoke"]) == 1

    with pytest.warns(UserWarning) as warned:
        status = small_grid().run(store=store, workers=1)
    messages = "\n".join(str(w.message) for w in warned)
    assert messages.count(str(metrics)) == 1 and messages.count(str(checkpoint)) == 1  # said once each
    assert list(status["status"].unique()) == ["done"]
    assert not checkpoint.exists()  # the level finished afresh
    store.rebuild_tables()
    same_rows(store, grid_reference)


@pytest.mark.parametrize("damage", ["damaged", "deleted"])
def test_a_damaged_or_missing_dense_metrics_is_trained_again_to_the_same_numbers(
        grid_reference, grid_results, capsys, damage):
    store = _copy_of(grid_reference, grid_results / "smoke")
    dense = _dense_metrics(store)
    assert len(dense) == len(GRID_SEEDS)
    before = [json.loads(p.read_text())["row"] for p in dense]
    for path in dense:
        _truncate(path) if damage == "damaged" else path.unlink()
    if damage == "damaged":
        assert cli.main(["tables", "--profile", "smoke"]) == 1
        assert f"{dense[0]}" in capsys.readouterr().err            # named, with a fix that works:
    status = small_grid().run(store=store, workers=1)              # the same grid again
    assert list(status["status"].unique()) == ["done"]
    assert "trained 2 of 6 networks (4 were in the store); none left" in capsys.readouterr().out
    after = [json.loads(p.read_text())["row"] for p in dense]
    assert [{k: v for k, v in row.items() if k not in TIMING} for row in after] == \
        [{k: v for k, v in row.items() if k not in TIMING} for row in before]
    assert cli.main(["tables", "--profile", "smoke"]) == 0
    same_rows(store, grid_reference)


def test_a_damaged_weight_file_stops_with_its_name_and_a_fix_that_works(grid_reference, grid_results):
    store = _copy_of(grid_reference, grid_results / "smoke")
    for name in ("metrics.json", "mask.pt", "mask_search.json"):  # level 1 must be pruned and trained again...
        (_level(store, TICKET, 0, 1) / name).unlink(missing_ok=True)
    for path in store.root.glob("runs/*/level_00/final.pt"):  # ...from a damaged input (the dense weights)
        _truncate(path)
    with pytest.raises(DamagedFile) as raised:
        small_grid().run(store=store, workers=1)
    damaged = raised.value.path
    assert damaged.name == "final.pt" and damaged.parent.name == "level_00"
    assert str(damaged) in str(raised.value) and "then run the same grid again" in str(raised.value)
    _follow(str(raised.value))
    assert list(small_grid().run(store=store, workers=1)["status"].unique()) == ["done"]
    same_rows(store, grid_reference)


@pytest.mark.parametrize("damage", ["damaged", "deleted"])
def test_a_finished_trunk_levels_mask_stops_with_its_name_and_a_fix_that_works(
        grid_reference, grid_results, capsys, damage):
    store = _copy_of(grid_reference, grid_results / "smoke")
    mask = _level(store, TICKET, 0, 1) / "mask.pt"
    _truncate(mask) if damage == "damaged" else mask.unlink()
    for name in ("metrics.json", "mask.pt"):  # a branch level to make again, from the trunk's mask
        (_level(store, "random_reinit", 0, 1) / name).unlink()
    assert cli.main(["run", *CLI_GRID, "--workers", "1"]) == 1
    said = capsys.readouterr().err
    assert "Traceback" not in said and f"lth: {'damaged' if damage == 'damaged' else 'missing'} file {mask}" in said
    with pytest.raises(MissingFile if damage == "deleted" else DamagedFile) as raised:
        small_grid().run(store=store, workers=1)  # every rerun, until the fix is done
    _follow(str(raised.value))
    assert cli.main(["run", *CLI_GRID, "--workers", "1"]) == 0
    assert mask.exists()
    same_rows(store, grid_reference)


@pytest.mark.parametrize("garbage", ["bytes", "text", "cut short"])
def test_a_damaged_runs_csv_is_rebuilt_from_the_runs_before_training(grid_reference, grid_results, monkeypatch,
                                                                     garbage):
    from lthlib.experiment import runner
    store = _copy_of(grid_reference, grid_results / "smoke")
    runs = store.table_path("runs")
    cut = runs.read_bytes()[: runs.stat().st_size // 2].rstrip(b"\n")
    runs.write_bytes({"bytes": bytes(range(256)) * 4, "text": b"garbage\n", "cut short": cut}[garbage])
    (_level(store, TICKET, 1, 1) / "metrics.json").unlink()  # something to train
    readable, real = [], runner.train_model

    def train(*args, **kwargs):  # the tables read whole when training starts
        readable.append(len(Store(store.root).runs()))
        return real(*args, **kwargs)
    monkeypatch.setattr(runner, "train_model", train)
    with pytest.warns(UserWarning, match=f"damaged file {runs}.*rebuilding the tidy tables"):
        assert cli.main(["run", *CLI_GRID, "--workers", "1"]) == 0
    assert readable and readable[0] == 7  # rebuilt before training, without the level it then trained
    same_rows(store, grid_reference)
    runs.write_bytes(b"garbage\n")
    with pytest.raises(DamagedFile) as raised:
        store.runs()
    assert "`lth tables --profile smoke`" in str(raised.value)   # the fix it names works
    assert cli.main(["tables", "--profile", "smoke"]) == 0
    same_rows(store, grid_reference)
