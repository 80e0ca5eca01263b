"""The overhead per task of each executor on a smoke grid: wall time of ``Grid.run`` through it,
minus the training the tasks did (the runs' own ``train_seconds``), per task (group).

    python benchmarks/bench_executors.py                  # local, ray (a Ray started here), slurm (submitit local)
    python benchmarks/bench_executors.py --backends local,ray --seeds 0,1,2,3

Each backend trains the same grid into its own empty store (synthetic smoke data, one epoch, one
level), so each measures the same work; the figures are printed, not asserted.  "overhead/task"
is (wall - train seconds summed over levels / tasks in parallel) / tasks: process or job start,
imports, data loading, scheduling and the table merge.  Ray's figure includes starting Ray here.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lthlib.experiment.arms import TICKET  # noqa: E402
from lthlib.experiment.grid import Grid  # noqa: E402
from lthlib.experiment.store import Store  # noqa: E402
from lthlib.machine.executors import make_executor  # noqa: E402


def measure(backend: str, seeds: list[int], workers: int, folder: Path) -> dict:
    grid = Grid.of("smoke", models=["cnn"], arms=[TICKET, "random_reinit"], seeds=seeds, epochs=1, levels=1)
    store = Store(folder / backend)
    options = {"local": dict(workers=workers), "ray": dict(max_in_flight=workers),
               "slurm": dict(cluster="local", folder=str(folder / "submitit"), array_parallelism=workers)}[backend]
    start = time.perf_counter()
    executor = make_executor(backend, gpu=False, **options)
    try:
        status = grid.run(store=store, executor=executor)
    finally:
        getattr(executor, "close", lambda: None)()
    wall = time.perf_counter() - start
    tasks = len(grid.groups())
    training = float(store.runs()["train_seconds"].sum())  # level 0 counted once per arm: an upper bound
    overhead = (wall - training / min(workers, tasks)) / tasks
    assert set(status["status"]) == {"done"}, status
    return {"backend": backend, "tasks": tasks, "wall_s": wall, "train_s": training, "overhead_per_task_s": overhead}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="local,ray,slurm")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="lth-bench-exec-"))
    os.environ.setdefault("LTH_DATA_DIR", str(folder / "data"))
    try:
        rows = [measure(b, [int(s) for s in args.seeds.split(",")], args.workers, folder)
                for b in args.backends.split(",")]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"{'backend':8} {'tasks':>5} {'wall s':>8} {'train s':>8} {'overhead/task s':>16}")
    for r in rows:
        print(f"{r['backend']:8} {r['tasks']:5d} {r['wall_s']:8.1f} {r['train_s']:8.1f} "
              f"{r['overhead_per_task_s']:16.1f}")


if __name__ == "__main__":
    main()
