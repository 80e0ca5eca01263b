"""``lth run``: train a grid of cells into the results store, here (worker processes), on a Ray
cluster or on Slurm; the status table of its cells after.
"""
from __future__ import annotations

import argparse
import sys

from ..machine.executors import JobFailed
from .arguments import CommandFailed, grid_of


def add_command(commands) -> None:
    _add_run(commands.add_parser("run", help="train a grid of cells into the results store"))


def _run(args: argparse.Namespace) -> int:
    grid = grid_of(args)
    grid.check()  # every cell's configuration, cheap and without data: bad input fails here
    return train(grid, args)


def train(grid, args: argparse.Namespace) -> int:
    """Train a grid (lth run's or lth transfer's) on the executor the arguments name (built first:
    bad executor options fail before anything trains; closed after); print its status table."""
    executor = executor_of(args, grid)
    try:
        table = grid.run(max_level=args.max_level, workers=args.workers, progress=True, executor=executor)
    except JobFailed as error:
        raise CommandFailed(str(error)) from None
    finally:
        getattr(executor, "close", lambda: None)()
    return report_status(table)


def executor_of(args: argparse.Namespace, grid):
    """The executor ``--executor`` names, with ``--workers`` and the cluster options given
    (:func:`lthlib.machine.executors.make_executor`); one GPU per task when the grid trains on CUDA."""
    from ..machine.executors import COMMAND_LINE, make_executor
    from ..machine.platform import resolve_device
    gpu = resolve_device(grid.config_value("train").device).type == "cuda"
    return make_executor(args.executor, workers=args.workers, gpu=gpu,
                         **{option: getattr(args, option) for option in COMMAND_LINE})


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
    parser.add_argument("--set", action="extend", nargs="+", metavar="KEY=VALUE",
                        help="override a parameter, e.g. epochs=3 rewind_point=500it (JSON values)")
    add_executor_options(parser)
    parser.set_defaults(handler=_run)


def add_executor_options(parser: argparse.ArgumentParser) -> None:
    """Where the training runs, and the cluster options (``lth run``, ``lth transfer``)."""
    parser.add_argument("--workers", type=int, help="processes at once (default: one per core without GPU)")
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

