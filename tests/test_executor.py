"""lthlib.machine.executors.local: jobs in fresh processes, so a script without a __main__ guard cannot break them.

The jobs are small functions in a module written to a temporary folder on PYTHONPATH (the
children inherit the environment), so no test here trains anything.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from lthlib.machine.executors import JobFailed
from lthlib.machine.executors import local as executor
from lthlib.machine.executors.local import run_in_processes
from lthlib.machine.platform import ROOT

JOBS = '''
import os, sys, time

def add(a, b):
    print(f"adding {a} and {b}")
    return {"sum": a + b, "pid": os.getpid()}

def thread_settings():
    return {"omp": os.environ.get("OMP_NUM_THREADS"), "mkl": os.environ.get("MKL_NUM_THREADS")}

def fail(message):
    print("working on it", file=sys.stderr)
    raise ValueError(message)

def touch(path):
    open(path, "w").close()
    return path

def interval(seconds):
    start = time.time()
    time.sleep(seconds)
    return [start, time.time()]
'''

TORCH_JOBS = '''
import torch

def torch_threads():
    return torch.get_num_threads()
'''


@pytest.fixture
def jobs_path(tmp_path, monkeypatch) -> Path:
    """A folder with the job modules, on the PYTHONPATH the children inherit."""
    folder = tmp_path / "jobs"
    folder.mkdir()
    (folder / "lth_test_jobs.py").write_text(JOBS)
    (folder / "lth_test_torch_jobs.py").write_text(TORCH_JOBS)
    monkeypatch.setenv("PYTHONPATH", str(folder))
    return folder


def job(fn: str, **kwargs) -> dict:
    return {"fn": f"lth_test_jobs:{fn}", "kwargs": kwargs}


def test_results_come_back_in_order_from_other_processes(jobs_path, capsys):
    results = run_in_processes([job("add", a=i, b=10) for i in range(4)], workers=2, threads_per_worker=1)
    assert [r["sum"] for r in results] == [10, 11, 12, 13]
    assert all(r["pid"] != os.getpid() for r in results)
    assert "adding 3 and 10" in capsys.readouterr().out  # the children's output passes through


def test_no_payloads_no_processes():
    assert run_in_processes([], workers=2, threads_per_worker=1) == []


def test_each_child_gets_its_thread_share(jobs_path):
    payloads = [job("thread_settings"), {"fn": "lth_test_torch_jobs:torch_threads"}]
    settings, torch_threads = run_in_processes(payloads, workers=2, threads_per_worker=3)
    assert settings == {"omp": "3", "mkl": "3"}
    assert torch_threads == 3


def test_at_most_workers_run_at_once(jobs_path):
    intervals = run_in_processes([job("interval", seconds=0.6) for _ in range(4)], workers=2,
                                 threads_per_worker=1)
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running, most = 0, 0
    for _, change in events:
        running += change
        most = max(most, running)
    assert most == 2


def test_a_failing_child_names_the_job_and_quotes_its_stderr(jobs_path):
    payloads = [job("add", a=1, b=2), {**job("fail", message="boom"), "name": "imdb/cnn seed 0"}]
    with pytest.raises(RuntimeError) as raised:
        run_in_processes(payloads, workers=2, threads_per_worker=1)
    message = str(raised.value)
    assert isinstance(raised.value, JobFailed)
    assert message.startswith("imdb/cnn seed 0 failed (exit code 1)")
    assert "working on it" in message and "ValueError: boom" in message


def test_after_a_failure_no_further_job_starts(jobs_path, tmp_path):
    marker = tmp_path / "second_job_ran"
    with pytest.raises(JobFailed, match="lth_test_jobs:fail"):
        run_in_processes([job("fail", message="x"), job("touch", path=str(marker))], workers=1,
                         threads_per_worker=1)
    assert not marker.exists()


def test_a_missing_function_is_a_job_failure(jobs_path):
    with pytest.raises(JobFailed, match="AttributeError"):
        run_in_processes([job("no_such_function")], workers=1, threads_per_worker=1)


@pytest.mark.parametrize("bad", [{"kwargs": {}}, {"fn": "no_colon"}])
def test_a_payload_without_module_function_is_refused(bad):
    with pytest.raises(ValueError, match="module:function"):
        run_in_processes([bad], workers=1, threads_per_worker=1)


def test_the_child_entry_point_needs_one_payload(capsys):
    assert executor.main([]) == 2
    assert "usage: python -m lthlib.machine.executors.local" in capsys.readouterr().err


def test_the_child_entry_point_runs_under_its_module_path(jobs_path, tmp_path):
    payload = tmp_path / "job.json"
    payload.write_text('{"fn": "lth_test_jobs:add", "kwargs": {"a": 2, "b": 3}}')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(jobs_path), str(ROOT)]))
    done = subprocess.run([sys.executable, "-m", executor.CHILD_MODULE, str(payload)], env=env,
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    assert '"sum": 5' in executor.result_path(payload).read_text()


UNGUARDED_SCRIPT = '''
import json
from pathlib import Path
with open(Path(__file__).with_name("script_runs.txt"), "a") as runs:
    runs.write("ran\\n")
{body}
'''

EXECUTOR_BODY = '''
from lthlib.machine.executors.local import run_in_processes
results = run_in_processes([{"fn": "lth_test_jobs:add", "kwargs": {"a": i, "b": 1}} for i in range(3)],
                           workers=2, threads_per_worker=1)
print("RESULTS", json.dumps([r["sum"] for r in results]))
'''

SPAWN_BODY = '''
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
import lth_test_jobs
with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
    print("RESULTS", list(pool.map(lth_test_jobs.add, [0, 1], [1, 1])))
'''


def run_script(folder: Path, body: str) -> subprocess.CompletedProcess:
    script = folder / "unguarded.py"
    script.write_text(UNGUARDED_SCRIPT.format(body=textwrap.dedent(body)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.environ["PYTHONPATH"], str(ROOT)]))  # this checkout's lthlib
    return subprocess.run([sys.executable, str(script)], cwd=folder, capture_output=True, text=True,
                          check=False, timeout=120, env=env)


def test_a_script_without_main_guard_runs_jobs(jobs_path, tmp_path):
    done = run_script(tmp_path, EXECUTOR_BODY)
    assert done.returncode == 0, done.stderr
    assert "RESULTS [1, 2, 3]" in done.stdout
    assert "bootstrapping" not in done.stderr
    assert (tmp_path / "script_runs.txt").read_text() == "ran\n"  # the children never imported it


def test_the_same_script_with_spawn_hits_the_bootstrapping_error(jobs_path, tmp_path):
    """The failure run_in_processes avoids, shown with multiprocessing's spawn."""
    done = run_script(tmp_path, SPAWN_BODY)
    assert done.returncode != 0
    assert "bootstrapping phase" in done.stderr
    assert (tmp_path / "script_runs.txt").read_text().count("ran") > 1  # re-imported by workers


KILLED_PARENT = """
from lthlib.machine.executors.local import run_in_processes, sigterm_interrupts
with sigterm_interrupts():  # as lth runs
    run_in_processes([{"fn": "lth_test_jobs:interval", "kwargs": {"seconds": 300}}], workers=1, threads_per_worker=1)
"""


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_a_killed_parent_leaves_no_job_folder_behind(jobs_path, tmp_path, monkeypatch, how):
    temp = tmp_path / "tmp"
    temp.mkdir()
    (tmp_path / "parent.py").write_text(KILLED_PARENT)
    env = dict(os.environ, TMPDIR=str(temp), PYTHONPATH=os.pathsep.join([str(jobs_path), str(ROOT)]))
    parent = subprocess.Popen([sys.executable, str(tmp_path / "parent.py")], env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not list(temp.glob(f"{executor.JOBS_PREFIX}*/{executor.OWNER}")) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)   # the child started
        os.kill(parent.pid, how) if how == signal.SIGTERM else os.killpg(parent.pid, how)
        parent.wait(timeout=60)
        folders = list(temp.glob(f"{executor.JOBS_PREFIX}*"))
        survivors = _group_alive(parent.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(parent.pid, signal.SIGKILL)   # whatever is left of it
    if how == signal.SIGTERM:   # stopped as Ctrl-C stops it: its child ended, its folder removed
        assert not folders and not survivors
        return
    assert len(folders) == 1    # killed outright: the next pool here removes what it left
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    assert run_in_processes([job("add", a=1, b=2)], workers=1, threads_per_worker=1)[0]["sum"] == 3
    assert not list(temp.glob(f"{executor.JOBS_PREFIX}*"))


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def test_only_the_folders_of_gone_parents_are_removed(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    owners = {"gone": f"{executor.socket.gethostname()} {gone.pid}", "alive": f"{executor.socket.gethostname()} "
              f"{os.getpid()}", "other_host": f"elsewhere {gone.pid}", "unowned": None}
    for name, owner in owners.items():
        (tmp_path / f"{executor.JOBS_PREFIX}{name}").mkdir()
        if owner:
            (tmp_path / f"{executor.JOBS_PREFIX}{name}" / executor.OWNER).write_text(owner)
    assert executor.remove_stale_job_folders(tmp_path) == [tmp_path / f"{executor.JOBS_PREFIX}gone"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{executor.JOBS_PREFIX}{n}"
                                                           for n in ("alive", "other_host", "unowned")]
