"""``lth run``: train a grid of cells into the results store, here (worker processes), on a Ray
cluster or on Slurm; the status table of its cells after.
"""
from __future__ import annotations

import argparse
import sys

from ..core.config import ConfigError
from ..machine.executor import JobFailed
from .arguments import CommandFailed, grid_of


def add_command(commands) -> None:
    _add_run(commands.add_parser("run", help="train a grid of cells into the results store"))


def _run(args: argparse.Namespace) -> int:
    grid = grid_of(args)
    grid.check()  # every cell's configuration, cheap and without data: bad input fails here
    executor = _executor(args, grid)  # bad executor options too, before anything trains
    try:
        table = grid.run(max_level=args.max_level, workers=args.workers, progress=True, executor=executor)
    except JobFailed as error:
        raise CommandFailed(str(error)) from None
    finally:
        getattr(executor, "close", lambda: None)()
    return report_status(table)


def _executor(args: argparse.Namespace, grid):
    """None (the local pool, ``--workers``) or the Ray / Slurm executor of the arguments."""
    name = (args.executor or "local").strip().lower()
    ray_given = any(getattr(args, k) is not None for k in ("address", "max_in_flight"))
    slurm_given = any(getattr(args, k) is not None for k in vars(args) if k.startswith("slurm_"))
    if name != "ray" and ray_given:
        raise ConfigError("--address and --max-in-flight belong to --executor ray")
    if name != "slurm" and slurm_given:
        raise ConfigError("the --slurm-* options belong to --executor slurm")
    if name == "local":
        return None
    from ..machine.platform import resolve_device
    from ..run.executors import make_executor
    gpu = resolve_device(grid.config_value("train").device).type == "cuda"
    if name == "ray":
        return make_executor("ray", gpu=gpu, address=args.address, max_in_flight=args.max_in_flight)
    if name == "slurm":
        return make_executor("slurm", gpu=gpu, cluster=args.slurm_cluster, folder=args.slurm_folder,
                             partition=args.slurm_partition, time_min=args.slurm_time,
                             mem_gb=args.slurm_mem_gb, cpus_per_task=args.slurm_cpus,
                             array_parallelism=args.slurm_parallelism, max_array_size=args.slurm_max_array)
    return make_executor(name)  # an unknown name: the ConfigError lists the known ones


def report_status(table) -> int:
    """Print run_grid's status table; 1 if any cell did not run."""
    if table.empty:
        print("lth: nothing to run")
        return 0
    print(table.to_string(index=False))
    not_done = table[table["status"] != "done"]
    if not_done.empty:
        return 0
    print(f"lth: {len(not_done)} of {len(table)} cells did not run (see the reason column)", file=sys.stderr)
    return 1


def _add_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", help="smoke, quick or paper (default: paper with a GPU, else quick)")
    parser.add_argument("--datasets", help="comma list or JSON list (default: the profile's)")
    parser.add_argument("--models", help="comma list or JSON list (default: the profile's)")
    parser.add_argument("--arms", default="winning_ticket", help="comma list, or 'all' (default: %(default)s)")
    parser.add_argument("--seeds", help="comma list or JSON list of integers (default: the profile's)")
    parser.add_argument("--max-level", type=int, help="stop at this pruning level (default: the profile's)")
    parser.add_argument("--workers", type=int, help="processes at once (default: one per core without GPU)")
    parser.add_argument("--set", action="extend", nargs="+", metavar="KEY=VALUE",
                        help="override a parameter, e.g. epochs=3 rewind_point=500it (JSON values)")
    parser.add_argument("--executor", default="local",
                        help="local (worker processes here), ray or slurm (default: %(default)s)")
    parser.add_argument("--address", help="ray: the cluster ('auto': the running one; default: start one here)")
    parser.add_argument("--max-in-flight", type=int, help="ray: tasks at once (default: the cluster's CPUs or GPUs)")
    parser.add_argument("--slurm-cluster", choices=("slurm", "local"),
                        help="slurm: sbatch job arrays, or submitit's local executor (default: slurm)")
    parser.add_argument("--slurm-folder", help="slurm: submitit's logs, on the shared filesystem (default: .submitit)")
    parser.add_argument("--slurm-partition", help="slurm: the partition")
    parser.add_argument("--slurm-time", type=int, help="slurm: minutes per job (default: 240)")
    parser.add_argument("--slurm-mem-gb", type=float, help="slurm: memory per job in GB")
    parser.add_argument("--slurm-cpus", type=int, help="slurm: CPUs per job (default: 1)")
    parser.add_argument("--slurm-parallelism", type=int, help="slurm: jobs of an array at once (default: 32)")
    parser.add_argument("--slurm-max-array", type=int, help="slurm: the site's MaxArraySize (default: 1000)")
    parser.set_defaults(handler=_run)

