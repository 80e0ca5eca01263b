"""Job arrays on Slurm through submitit (or submitit's local executor, real subprocesses here).

A job preempted or at its time limit is requeued by submitit (``Checkpointable``, up to
``max_requeues`` times, :mod:`.submitit_task`) and resumes from its checkpoint: finished levels
are not trained again.  ``import submitit`` happens only here, when the executor is built.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ...core.config import ConfigError
from .. import platform
from .jobs import SUBMITIT_PIN, JobFailed, failure, positive

_POLL_SECONDS = 0.5


@dataclass
class SlurmExecutor:
    """Job arrays through submitit: at most ``array_parallelism`` jobs of an array run at once,
    arrays cut at ``max_array_size`` (the site's MaxArraySize); preempted or timed-out jobs are
    requeued and resume from their checkpoints.  ``cluster='local'``: submitit's local executor
    (real subprocesses on this machine, ``array_parallelism`` at a time), for tests and laptops."""
    cluster: str = "slurm"
    folder: str | None = None
    partition: str | None = None
    time_min: int = 240
    mem_gb: float | None = None
    cpus_per_task: int = 1
    gpus_per_task: int = 0
    array_parallelism: int = 32
    max_array_size: int = 1000
    max_requeues: int = 3
    additional: dict = field(default_factory=dict)
    name: str = "slurm"

    def check(self) -> None:
        if self.cluster not in ("slurm", "local"):
            raise ConfigError(f"slurm: cluster must be 'slurm' or 'local' (submitit's local executor), "
                              f"got {self.cluster!r}")
        positive("slurm", time_min=self.time_min, mem_gb=self.mem_gb, cpus_per_task=self.cpus_per_task,
                  array_parallelism=self.array_parallelism, max_array_size=self.max_array_size)
        if not isinstance(self.additional, dict):
            raise ConfigError(f"slurm: additional takes sbatch options as a dict, got {self.additional!r}")
        try:
            import submitit  # noqa: F401
        except ImportError:
            raise ConfigError(f"the slurm executor needs submitit: pip install '{SUBMITIT_PIN}'") from None
        if self.cluster == "slurm" and not platform.has_command("sbatch"):
            raise ConfigError("slurm: no sbatch on this machine's PATH; run from a Slurm login node, or "
                              "try the grid with cluster 'local' (--slurm-cluster local)")
        self._submitit(Path(self.folder or "/tmp/lth-submitit-check"), dry=True)

    def _submitit(self, folder: Path, dry: bool = False):
        import submitit
        if self.cluster == "local":
            executor = submitit.LocalExecutor(folder=folder, max_num_timeout=self.max_requeues)
            parameters = dict(timeout_min=self.time_min, gpus_per_node=self.gpus_per_task)
        else:
            executor = submitit.SlurmExecutor(folder=folder, max_num_timeout=self.max_requeues)
            parameters = dict(time=self.time_min, cpus_per_task=self.cpus_per_task, job_name="lth",
                              array_parallelism=self.array_parallelism, signal_delay_s=120,
                              partition=self.partition, mem=f"{self.mem_gb}GB" if self.mem_gb else None,
                              gpus_per_node=self.gpus_per_task or None,
                              additional_parameters=dict(self.additional) or None)
            parameters = {k: v for k, v in parameters.items() if v is not None}
        try:
            executor.update_parameters(**parameters)
        except (ValueError, TypeError) as error:
            raise ConfigError(f"slurm: submitit refused the options {parameters}: {error}") from None
        if dry:
            import shutil
            shutil.rmtree(folder, ignore_errors=True)
        return executor

    def map(self, payloads: list[dict], on_done: Callable[[int], None] | None = None) -> list[Any]:
        if not payloads:
            return []
        from .submitit_task import Task
        folder = Path(self.folder) if self.folder else Path(platform.ROOT / ".submitit")
        executor = self._submitit(folder / "%j")
        task, jobs = Task(), {}
        if self.cluster == "slurm":  # arrays, each under the site's limit, the cap on each
            for start in range(0, len(payloads), self.max_array_size):
                chunk = list(range(start, min(start + self.max_array_size, len(payloads))))
                for index, job in zip(chunk, executor.map_array(task, [payloads[i] for i in chunk])):
                    jobs[index] = job
            return self._collect(payloads, jobs, [], on_done)
        waiting = list(range(len(payloads)))  # local: at most array_parallelism subprocesses at once
        return self._collect(payloads, jobs, waiting, on_done,
                             submit=lambda i: executor.submit(task, payloads[i]))

    def _collect(self, payloads, jobs: dict, waiting: list[int], on_done, submit=None) -> list[Any]:
        results, failures, running = {}, [], dict(jobs)
        while running or (waiting and not failures):
            while submit is not None and waiting and not failures and len(running) < self.array_parallelism:
                index = waiting.pop(0)
                running[index] = submit(index)
            for index, job in list(running.items()):
                if not job.done():
                    continue
                del running[index]
                try:
                    results[index] = job.result()
                except Exception as error:  # noqa: BLE001 - the job's error, with its log's end
                    failures.append(failure(payloads[index], error, _read(job.paths.stderr)))
                    continue
                if on_done is not None:
                    on_done(index)
            if running:
                time.sleep(_POLL_SECONDS)
        if failures:
            raise JobFailed("\n".join(failures))
        return [results[i] for i in range(len(payloads))]


def _read(path: Path) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""
