"""Jobs in fresh Python processes on this machine: ``python -m lthlib.machine.executors.local payload.json``.

:func:`run_in_processes` runs each job as a child process that starts from nothing: it imports
this module, never the caller's ``__main__``, so a script that calls it at top level (no ``if
__name__ == "__main__":`` guard) works, unlike multiprocessing's spawn, which re-imports the
script in every worker and dies in its "bootstrapping phase".

The child imports the payload's ``module``, calls ``function(**kwargs)`` (:func:`lthlib.machine.executors.call`)
and writes the JSON of what it returns to ``<payload>.result.json`` beside the payload, where the
parent reads it.  Each child gets its share of the CPU: ``OMP_NUM_THREADS``/``MKL_NUM_THREADS``
in its environment and ``torch.set_num_threads`` when the job uses torch; and the portable CPU
settings (:func:`lthlib.machine.platform.portable_cpu_env`) from its start.  Children's output is
passed through as it comes; a child that fails is a :class:`~lthlib.machine.executors.JobFailed`
in the parent that names the job and quotes the end of its stderr.

:class:`LocalExecutor` is this pool as an :class:`~lthlib.machine.executors.Executor`.

The payloads and results live in a temporary ``<tmp>/lth-jobs-*`` folder, removed when the jobs
end, also on Ctrl-C or SIGTERM (:func:`sigterm_interrupts`, which ``lth`` runs under); a parent
killed outright (SIGKILL) cannot remove its own, so each folder names its parent (host and pid)
and the next pool here removes those whose parent is gone (:func:`remove_stale_job_folders`).
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .. import platform
from ..files import save_json
from .jobs import JobFailed, call

#: Lines of a failed child's stderr quoted in the parent's error.
TAIL_LINES = 20
#: What a child runs: this module (``python -m`` it, with a payload)
CHILD_MODULE = "lthlib.machine.executors.local"
_POLL_SECONDS = 0.05
_PACKAGE_PARENT = str(platform.ROOT)
#: the job folders' names start so; OWNER in each says whose it is: "<host> <pid>"
JOBS_PREFIX, OWNER = "lth-jobs-", "owner"


@dataclass
class LocalExecutor:
    """Fresh interpreters on this machine (:func:`run_in_processes`), ``workers`` at a time
    (None: :func:`~lthlib.machine.platform.default_workers` for the jobs it gets), each with its
    share of the cores."""
    workers: int | None = None
    threads_per_worker: int | None = None
    name: str = "local"

    def workers_for(self, jobs: int) -> int:
        """How many processes run ``jobs`` jobs at once."""
        return self.workers or platform.default_workers(jobs)

    def map(self, payloads: list[dict], on_done: Callable[[int], None] | None = None) -> list[Any]:
        workers = self.workers_for(len(payloads))
        threads = self.threads_per_worker or platform.threads_per_worker(workers)
        return run_in_processes(payloads, workers, threads, on_done)


# ---------------------------------------------------------------------------------------------
# The parent: launch, pass output through, collect
# ---------------------------------------------------------------------------------------------

@dataclass
class _Job:
    index: int
    name: str
    payload_path: Path
    process: subprocess.Popen | None = None
    stderr_tail: deque = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    pumps: list[threading.Thread] = field(default_factory=list)


def run_in_processes(payloads: list[dict], workers: int, threads_per_worker: int,
                     on_done: Callable[[int], None] | None = None) -> list[Any]:
    """Run each payload in a child process, ``workers`` at a time; return their results in order.

    If a child fails, no further job starts; the running ones finish, then :class:`JobFailed` (a
    RuntimeError) names the failed jobs with the last lines of their stderr.
    """
    if workers < 1 or threads_per_worker < 1:
        raise ValueError(f"workers and threads_per_worker must be >= 1, got {workers}, {threads_per_worker}")
    remove_stale_job_folders()
    with tempfile.TemporaryDirectory(prefix=JOBS_PREFIX) as folder:
        (Path(folder) / OWNER).write_text(f"{socket.gethostname()} {os.getpid()}")
        jobs = [_write_payload(Path(folder), index, payload) for index, payload in enumerate(payloads)]
        failed = _run_jobs(jobs, workers, _child_env(threads_per_worker), on_done)
        if failed:
            raise JobFailed("\n".join(_failure_message(job) for job in failed))
        return [_read_result(job) for job in jobs]


def remove_stale_job_folders(parent: Path | str | None = None) -> list[Path]:
    """Remove the job folders (in ``parent``, default the temporary folder) whose parent process
    on this host is gone (killed outright); a live parent's, another host's (a shared temporary
    folder) and one without an OWNER file stay.  Returns those removed."""
    removed = []
    for folder in Path(parent or tempfile.gettempdir()).glob(f"{JOBS_PREFIX}*"):
        try:
            host, pid = (folder / OWNER).read_text().split()
            mine_and_gone = host == socket.gethostname() and not _alive(int(pid))
        except (OSError, ValueError):
            continue
        if mine_and_gone:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


@contextlib.contextmanager
def sigterm_interrupts():
    """SIGTERM (``kill``, a batch system's time limit) ends the block as Ctrl-C does, a
    KeyboardInterrupt: running children are stopped and the job folder removed.  Only in the main
    thread (where Python delivers signals); the previous handler comes back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _write_payload(folder: Path, index: int, payload: dict) -> _Job:
    if ":" not in str(payload.get("fn", "")):
        raise ValueError(f"payload {index} needs 'fn': 'module:function', got {payload.get('fn')!r}")
    path = folder / f"job-{index:04d}.json"
    path.write_text(json.dumps({"fn": payload["fn"], "kwargs": payload.get("kwargs", {})}))
    return _Job(index, str(payload.get("name") or f"job {index} ({payload['fn']})"), path)


def _child_env(threads: int) -> dict[str, str]:
    """The parent's environment, the thread share, the portable CPU settings, and lthlib
    importable wherever it came from."""
    env = dict(os.environ, **platform.child_env(threads), PYTHONUNBUFFERED="1")
    if _PACKAGE_PARENT not in _site_dirs():  # a source checkout run without installing
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
    return env


def _site_dirs() -> set[str]:
    paths = sysconfig.get_paths()
    return {str(Path(paths[key]).resolve()) for key in ("purelib", "platlib")}


def _run_jobs(jobs: list[_Job], workers: int, env: dict[str, str],
              on_done: Callable[[int], None] | None = None) -> list[_Job]:
    """Keep up to ``workers`` children running; return the jobs that failed."""
    waiting, running, failed = list(jobs), [], []
    try:
        while running or (waiting and not failed):
            while waiting and not failed and len(running) < workers:
                running.append(_start(waiting.pop(0), env))
            for job in [job for job in running if job.process.poll() is not None]:
                running.remove(job)
                _finish(job)
                if job.process.returncode != 0:
                    failed.append(job)
                elif on_done is not None:
                    on_done(job.index)
            time.sleep(_POLL_SECONDS)
    finally:
        _stop(running)
    return failed


def _start(job: _Job, env: dict[str, str]) -> _Job:
    command = [sys.executable, "-m", CHILD_MODULE, str(job.payload_path)]
    job.process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    job.pumps = [_pump(job.process.stdout, sys.stdout),
                 _pump(job.process.stderr, sys.stderr, keep=job.stderr_tail)]
    return job


def _pump(source: IO[bytes], sink: IO[str], keep: deque | None = None) -> threading.Thread:
    """Copy a child's output to ours line by line (so it shows in a notebook too)."""
    def copy() -> None:
        for raw in iter(source.readline, b""):
            line = raw.decode(errors="replace")
            sink.write(line)
            sink.flush()
            if keep is not None:
                keep.append(line.rstrip("\n"))
        source.close()
    thread = threading.Thread(target=copy, daemon=True)
    thread.start()
    return thread


def _finish(job: _Job) -> None:
    for thread in job.pumps:
        thread.join()


def _stop(running: list[_Job]) -> None:
    """Children still running when the parent leaves early (an interrupt, an error) are ended."""
    for job in running:
        job.process.kill()
        job.process.wait()
        _finish(job)


def _failure_message(job: _Job) -> str:
    tail = "\n".join(f"    {line}" for line in job.stderr_tail) or "    (no output on stderr)"
    return f"{job.name} failed (exit code {job.process.returncode}); the end of its stderr:\n{tail}"


def _read_result(job: _Job) -> Any:
    path = result_path(job.payload_path)
    if not path.exists():
        raise JobFailed(f"{job.name} exited cleanly but wrote no result ({path.name})")
    return json.loads(path.read_text())


def result_path(payload_path: Path | str) -> Path:
    """Where the child writes the result of ``payload_path``."""
    payload_path = Path(payload_path)
    return payload_path.with_name(payload_path.stem + ".result.json")


# ---------------------------------------------------------------------------------------------
# The child: python -m lthlib.machine.executors.local payload.json
# ---------------------------------------------------------------------------------------------

def run_payload(payload_path: Path | str) -> None:
    payload = json.loads(Path(payload_path).read_text())
    save_json(call(payload), result_path(payload_path))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(f"usage: python -m {CHILD_MODULE} PAYLOAD.json", file=sys.stderr)
        return 2
    try:
        run_payload(args[0])
    except Exception:  # noqa: BLE001 - the traceback goes to stderr, where the parent quotes it
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
