"""The grid on a cluster: executors for Ray and for Slurm (through submitit), chosen by name.

    make_executor("local", workers=2)                       the pool of lthlib.machine.executor
    make_executor("ray", address="auto")                    tasks on a running Ray cluster
    make_executor("ray")                                    a Ray started here, for this command
    make_executor("slurm", partition="gpu", gpus=1, time_min=240)   job arrays through submitit
    make_executor("slurm", cluster="local")                 submitit's local executor (real subprocesses)

Each backend runs the grid's payloads (one per (dataset, model, seed) group: its cells train in
order, a branch after its trunk) with :func:`lthlib.machine.executor.call`, so a payload means the
same thing everywhere and the numbers do not depend on the backend.  The store must be a folder
every worker sees (a shared filesystem); workers write only their runs' folders and the grid's
process merges the tables afterwards (:meth:`lthlib.experiment.store.Store.collect`).

What happens when something dies:

- Ray: a task whose worker process or node dies is retried (``max_retries``); the retry resumes
  its level from the last checkpoint, and finished levels are not trained again.  A task that
  raises (a bug, bad data) is not retried: the grid stops with :class:`JobFailed` naming it.
- Slurm: a job preempted or at its time limit is requeued by submitit (``Checkpointable``,
  up to ``max_requeues`` times) and resumes from its checkpoint the same way.

``import ray`` and ``import submitit`` happen only here, inside the backends, so the library
imports without them.  Bad input (an unknown name or option, no reachable Ray cluster, no
``sbatch`` for ``cluster='slurm'``) is a :class:`~lthlib.core.config.ConfigError` before anything
trains: :func:`make_executor` checks it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..core.config import ConfigError
from ..machine import platform
from ..machine.executor import JobFailed, LocalExecutor, call

EXECUTORS = ("local", "ray", "slurm")
RAY_PIN, SUBMITIT_PIN = "ray==2.60.0", "submitit==1.5.4"
_POLL_SECONDS = 0.5


def make_executor(name: str, *, workers: int | None = None, gpu: bool | None = None, **options: Any):
    """The executor called ``name`` (local, ray or slurm) with its options, checked now.

    ``gpu``: one GPU per task (default: when this machine has CUDA; a profile meant for a GPU
    should say True).  Ray options: ``address`` (None: start a Ray here; ``'auto'``: the running
    cluster), ``max_in_flight``, ``max_retries``, ``cpus_per_task``.  Slurm options: ``cluster``
    ('slurm', or 'local' for submitit's local executor), ``folder`` (logs and pickles, on the shared
    filesystem), ``partition``, ``time_min``, ``mem_gb``, ``cpus_per_task``, ``array_parallelism``,
    ``max_array_size``, ``max_requeues``, ``additional`` (more sbatch options as a dict).
    """
    name = str(name).strip().lower()
    gpu = platform.has_cuda() if gpu is None else bool(gpu)
    options = {k: v for k, v in options.items() if v is not None}
    if name == "local":
        _no_options("local", options)
        workers = workers or platform.default_workers(n_jobs=10**6)  # one per core, or 1 with a GPU
        return LocalExecutor(workers, platform.threads_per_worker(workers))
    if name == "ray":
        executor = RayExecutor(gpus_per_task=1.0 if gpu else 0.0, **_known(RayExecutor, "ray", options))
    elif name == "slurm":
        executor = SlurmExecutor(gpus_per_task=1 if gpu else 0, **_known(SlurmExecutor, "slurm", options))
    else:
        raise ConfigError(f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}")
    executor.check()
    return executor


def _no_options(name: str, options: dict) -> None:
    if options:
        raise ConfigError(f"the {name} executor takes no options, got {sorted(options)}")


def _known(cls, name: str, options: dict) -> dict:
    allowed = {f for f in cls.__dataclass_fields__ if not f.startswith("_") and f not in ("name", "gpus_per_task")}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ConfigError(f"the {name} executor has no option {', '.join(map(repr, unknown))}; "
                          f"it takes {', '.join(sorted(allowed))}")
    return options


def _positive(owner: str, **values: Any) -> None:
    for key, value in values.items():
        if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0):
            raise ConfigError(f"{owner}: {key} must be a positive number, got {value!r}")


def _failure(payload: dict, error: BaseException, log: str = "") -> str:
    name = payload.get("name") or payload.get("fn")
    text = str(error).strip().splitlines()
    tail = "\n".join(f"    {line}" for line in (log.strip().splitlines() or text)[-20:])
    return f"{name} failed ({type(error).__name__}); the end of its output:\n{tail}"


# ---------------------------------------------------------------------------------------------
# Ray
# ---------------------------------------------------------------------------------------------

@dataclass
class RayExecutor:
    """One Ray task per payload, at most ``max_in_flight`` at once (default: the cluster's CPUs,
    or GPUs when tasks take one), each with ``cpus_per_task`` CPUs and ``gpus_per_task`` GPUs."""
    address: str | None = None
    max_in_flight: int | None = None
    max_retries: int = 3
    cpus_per_task: float = 1.0
    gpus_per_task: float = 0.0
    name: str = "ray"
    _started: bool = field(default=False, repr=False)
    _temp: str | None = field(default=None, repr=False)
    _shared_existed: bool = field(default=True, repr=False)

    def check(self) -> None:
        _positive("ray", max_in_flight=self.max_in_flight, cpus_per_task=self.cpus_per_task)
        if not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise ConfigError(f"ray: max_retries must be a whole number >= 0, got {self.max_retries!r}")
        self._connect()

    def _connect(self):
        try:
            import ray
        except ImportError:
            raise ConfigError(f"the ray executor needs Ray: pip install '{RAY_PIN}'") from None
        if ray.is_initialized():
            return ray
        _reachable(self.address)
        extra = {}
        if self.address is None:  # a Ray of our own: its sessions in a folder close() removes
            import tempfile
            self._temp = tempfile.mkdtemp(prefix="lthray")
            self._shared_existed = (Path(tempfile.gettempdir()) / "ray").exists()
            extra["_temp_dir"] = self._temp
        try:
            ray.init(address=self.address, include_dashboard=False, log_to_driver=True,
                     logging_level="WARNING", configure_logging=True, **extra)
        except (ConnectionError, RuntimeError, ValueError) as error:
            where = "a new local Ray" if self.address is None else f"a Ray cluster at {self.address!r}"
            raise ConfigError(f"ray: could not reach {where}: {str(error).splitlines()[0]} (start one with "
                              "`ray start --head`, or leave --address out to start one here)") from None
        self._started = True
        return ray

    def close(self) -> None:
        """Disconnect (and stop the Ray this executor started, if any)."""
        if self._started:
            import ray
            ray.shutdown()
            self._started = False
        if self._temp:  # what the Ray started here left in the temporary folder
            import shutil
            import tempfile
            shutil.rmtree(self._temp, ignore_errors=True)
            if not self._shared_existed:  # Ray writes its address file to <tmp>/ray whatever _temp_dir says
                shutil.rmtree(Path(tempfile.gettempdir()) / "ray", ignore_errors=True)
            self._temp = None

    def in_flight(self, ray) -> int:
        if self.max_in_flight:
            return int(self.max_in_flight)
        resources = ray.cluster_resources()
        if self.gpus_per_task:
            return max(1, int(resources.get("GPU", 1) // self.gpus_per_task))
        return max(1, int(resources.get("CPU", 1) // self.cpus_per_task))

    def map(self, payloads: list[dict], on_done: Callable[[int], None] | None = None) -> list[Any]:
        if not payloads:
            return []
        ray = self._connect()
        env = {**platform.forwarded_env(), **platform.child_env(max(1, int(self.cpus_per_task)))}
        task = ray.remote(call).options(num_cpus=self.cpus_per_task, num_gpus=self.gpus_per_task,
                                        max_retries=self.max_retries, retry_exceptions=False,
                                        runtime_env={"env_vars": env})
        limit, waiting, running, results = self.in_flight(ray), list(enumerate(payloads)), {}, {}
        failures = []
        while waiting or running:
            while waiting and not failures and len(running) < limit:
                index, payload = waiting.pop(0)
                running[task.remote(payload)] = index
            if not running:
                break
            ready, _ = ray.wait(list(running), num_returns=1)
            for ref in ready:
                index = running.pop(ref)
                try:
                    results[index] = ray.get(ref)
                except Exception as error:  # noqa: BLE001 - a task's error, reported with its name
                    failures.append(_failure(payloads[index], error))
                    continue
                if on_done is not None:
                    on_done(index)
        if failures:
            raise JobFailed("\n".join(failures))
        return [results[i] for i in range(len(payloads))]


def _reachable(address: str | None, timeout: float = 5.0) -> None:
    """A ConfigError now when ``address`` (host:port, or ray://host:port) takes no connection:
    ray.init would otherwise keep retrying for minutes."""
    if address in (None, "auto", "local"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"ray: --address takes 'auto' or host:port, got {address!r}")
    import socket
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as error:
        raise ConfigError(f"ray: could not reach a Ray cluster at {address!r}: {error} (start one with "
                          "`ray start --head`, or leave --address out to start one here)") from None


# ---------------------------------------------------------------------------------------------
# Slurm, through submitit
# ---------------------------------------------------------------------------------------------

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
        _positive("slurm", time_min=self.time_min, mem_gb=self.mem_gb, cpus_per_task=self.cpus_per_task,
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
                    failures.append(_failure(payloads[index], error, _read(job.paths.stderr)))
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
