"""Executors: where a grid's work runs, chosen by name here and nowhere else.

    local          fresh worker processes on this machine (``python -m lthlib.machine.executors.local
                   payload.json``), which never re-import the caller's script
    ray            one Ray task per payload on a running Ray cluster, or on one started here
    slurm          job arrays through submitit (or submitit's local executor), requeued on preemption
    submitit_task  what a Slurm job runs (imported only by :mod:`.slurm`; imports submitit)
    jobs           what every backend shares: a job's payload and :func:`call`, the
                   :class:`Executor` interface, :class:`JobFailed`, the option checks

A job is a JSON payload ``{"fn": "module:function", "kwargs": {...}, "name": ...}``; an
:class:`Executor` maps payloads to what their functions returned, in order, and every backend
runs a payload with :func:`call`, so a payload means the same thing everywhere and the numbers do
not depend on the backend.

    make_executor("local", workers=2)                       worker processes here
    make_executor("ray", address="auto")                    tasks on a running Ray cluster
    make_executor("ray")                                    a Ray started here, for this command
    make_executor("slurm", partition="gpu", time_min=240)   job arrays through submitit
    make_executor("slurm", cluster="local")                 submitit's local executor

:func:`make_executor` is the one place a name becomes an executor: it takes each option by its
own name (``partition``) or by its command-line name (``slurm_partition``, :data:`COMMAND_LINE`),
and checks names, options and reachability now, so bad input is a
:class:`~lthlib.core.config.ConfigError` before anything trains.  ``import ray`` and ``import
submitit`` happen only inside their backends, so the library imports without them.  Of lthlib
this package imports only :mod:`lthlib.core` and :mod:`lthlib.machine`.
"""
from __future__ import annotations

from typing import Any

from ...core.config import ConfigError
from .. import platform
from .jobs import Executor, JobFailed, call, known

__all__ = ["COMMAND_LINE", "EXECUTORS", "Executor", "JobFailed", "call", "executor_name", "make_executor"]

EXECUTORS = ("local", "ray", "slurm")

#: The executors' options as ``lth run`` and ``lth transfer`` name them (``--slurm-time`` is
#: ``slurm_time``): command-line name -> (executor, its keyword).
COMMAND_LINE = {
    "address": ("ray", "address"), "max_in_flight": ("ray", "max_in_flight"),
    "slurm_cluster": ("slurm", "cluster"), "slurm_folder": ("slurm", "folder"),
    "slurm_partition": ("slurm", "partition"), "slurm_time": ("slurm", "time_min"),
    "slurm_mem_gb": ("slurm", "mem_gb"), "slurm_cpus": ("slurm", "cpus_per_task"),
    "slurm_parallelism": ("slurm", "array_parallelism"), "slurm_max_array": ("slurm", "max_array_size"),
}


def make_executor(name: str | None = "local", *, workers: int | None = None, gpu: bool | None = None,
                  **options: Any):
    """The executor called ``name`` (local, ray or slurm; None: local) with its options, checked now.

    ``workers``: the local executor's processes at once (None: one per core for the jobs it gets,
    :func:`~lthlib.machine.platform.default_workers`; 1 runs the jobs in the caller's process
    where it can).  ``gpu``: one GPU per Ray task or Slurm job (default: when this machine has
    CUDA).  Ray options: ``address`` (None: start a Ray here; ``'auto'``: the running cluster),
    ``max_in_flight``, ``max_retries``, ``cpus_per_task``.  Slurm options: ``cluster`` ('slurm',
    or 'local' for submitit's local executor), ``folder`` (logs and pickles, on the shared
    filesystem), ``partition``, ``time_min``, ``mem_gb``, ``cpus_per_task``, ``array_parallelism``,
    ``max_array_size``, ``max_requeues``, ``additional`` (more sbatch options as a dict).  An
    option set to None is left at its default.
    """
    name = executor_name(name)
    options = _own_names(name, {k: v for k, v in options.items() if v is not None})
    gpu = platform.has_cuda() if gpu is None else bool(gpu)
    if name == "local":
        from .local import LocalExecutor
        if options:
            raise ConfigError(f"the local executor takes no options, got {sorted(options)}")
        if workers is not None and (not isinstance(workers, int) or workers < 1):
            raise ConfigError(f"local: workers must be a whole number >= 1, got {workers!r}")
        return LocalExecutor(workers)
    if name == "ray":
        from .ray import RayExecutor
        executor = RayExecutor(gpus_per_task=1.0 if gpu else 0.0, **known(RayExecutor, "ray", options))
    else:
        from .slurm import SlurmExecutor
        executor = SlurmExecutor(gpus_per_task=1 if gpu else 0, **known(SlurmExecutor, "slurm", options))
    executor.check()
    return executor


def executor_name(name: str | None) -> str:
    """``name`` as an executor's name (None: local), checked: a ConfigError names the known ones."""
    name = "local" if name is None else str(name).strip().lower()
    if name not in EXECUTORS:
        raise ConfigError(f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}")
    return name


def _own_names(name: str, options: dict) -> dict:
    """Options by the executor's own keywords; a command-line option of another executor refused."""
    others = sorted({f"--{k.replace('_', '-')}": owner for k, (owner, _) in COMMAND_LINE.items()
                     if k in options and owner != name}.items())
    if others:
        flags = " and ".join(flag for flag, _ in others)
        raise ConfigError(f"{flags} belong{'s' if len(others) == 1 else ''} to --executor {others[0][1]}, "
                          f"not {name}")
    return {COMMAND_LINE[k][1] if k in COMMAND_LINE else k: v for k, v in options.items()}
