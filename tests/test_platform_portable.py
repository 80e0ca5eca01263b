"""Portable CPU numbers: the settings reach every process that trains, before PyTorch, MKL and
oneDNN read them, and every runs.csv row says what was in force."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pandas as pd
import pytest
import torch

from lthlib.data.prepare import forget_prepared
from lthlib.experiment import profiles
from lthlib.experiment import runner as lottery
from lthlib.experiment.store import Store
from lthlib.machine import platform
from lthlib.machine.executors.local import run_in_processes

X86_AVX2 = os.uname().machine == "x86_64" and "avx2" in platform.cpu_flags()
needs_x86_avx2 = pytest.mark.skipif(not X86_AVX2, reason="an x86-64 CPU with AVX2")
needs_proc = pytest.mark.skipif(not os.path.exists("/proc/self/environ"), reason="Linux's /proc")
#: this machine as one without AVX-512 would run it (MKL, PyTorch's kernels and oneDNN at AVX2)
AS_AN_AVX2_MACHINE = {"MKL_ENABLE_INSTRUCTIONS": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}

JOBS = '''
import os
import torch

from lthlib.machine import platform

def what_i_run():
    # the environment the process started with (`import lthlib` adds the settings later, itself)
    with open("/proc/self/environ", "rb") as start:
        initial = dict(item.decode().partition("=")[::2] for item in start.read().split(b"\\0") if item)
    return {"env": {name: initial.get(name) for name in platform.CPU_CODE_ENV},
            "capability": torch.backends.cpu.get_cpu_capability(), "mkl_branch": platform.mkl_branch()}
'''

#: a few steps of what training does (matrix products, a convolution, a packed BiLSTM, Adam),
#: started with `import lthlib`; prints a hash of the weights
STEPS = textwrap.dedent('''
    import hashlib, json, sys
    import lthlib
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence
    from lthlib.machine import platform
    torch.set_num_threads(1)
    torch.manual_seed(0)
    conv, head = torch.nn.Conv1d(16, 8, 3), torch.nn.Linear(24, 4)
    lstm = torch.nn.LSTM(16, 8, bidirectional=True, batch_first=True)
    params = [*conv.parameters(), *lstm.parameters(), *head.parameters()]
    opt = torch.optim.Adam(params, lr=1e-2)
    for _ in range(3):
        x, lengths = torch.randn(32, 20, 16), torch.randint(3, 21, (32,))
        _, (h, _) = lstm(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
        features = torch.cat([conv(x.transpose(1, 2)).amax(2), h.transpose(0, 1).reshape(32, 16)], 1)
        loss = torch.nn.functional.cross_entropy(head(features), torch.randint(0, 4, (32,)))
        opt.zero_grad(); loss.backward(); opt.step()
    digest = hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in params)).hexdigest()
    print(json.dumps({"weights": digest, **platform.cpu_fingerprint()}))
''')


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any variable that moves the CPU libraries' code."""
    env = {k: v for k, v in os.environ.items() if k not in platform.CPU_CODE_ENV and k != platform.PORTABLE_SWITCH_ENV}
    return {**env, **extra}


def steps(**env: str) -> dict:
    done = subprocess.run([sys.executable, "-c", STEPS], env=clean_env(**env), capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def jobs_path(tmp_path, monkeypatch):
    folder = tmp_path / "jobs"
    folder.mkdir()
    (folder / "lth_test_cpu_jobs.py").write_text(JOBS)
    monkeypatch.setenv("PYTHONPATH", str(folder))
    for name in platform.CPU_CODE_ENV:  # what `import lthlib` put here: the executor must add it itself
        monkeypatch.delenv(name, raising=False)
    return folder


# -- which variables ----------------------------------------------------------------------------

@needs_x86_avx2
def test_the_portable_settings_and_the_switch_that_turns_them_off(monkeypatch):
    for name in platform.PORTABLE_CPU_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv(platform.PORTABLE_SWITCH_ENV, raising=False)
    assert platform.portable_cpu_env() == platform.PORTABLE_CPU_ENV
    assert platform.child_env(3) == {**platform.PORTABLE_CPU_ENV, "OMP_NUM_THREADS": "3", "MKL_NUM_THREADS": "3"}
    assert platform.PORTABLE_CPU_ENV.items() <= platform.forwarded_env().items()  # Ray tasks too
    monkeypatch.setenv("MKL_CBWR", "AVX2")  # the user's own choice wins
    assert platform.portable_cpu_env()["MKL_CBWR"] == "AVX2"
    for off in ("0", "false", "off"):
        monkeypatch.setenv(platform.PORTABLE_SWITCH_ENV, off)
        assert platform.portable_cpu_env() == {}
        assert "MKL_CBWR" not in platform.child_env(1)


# -- worker processes ---------------------------------------------------------------------------

@needs_x86_avx2
@needs_proc
def test_a_worker_process_runs_the_portable_code_from_its_start(jobs_path, monkeypatch):
    monkeypatch.delenv(platform.PORTABLE_SWITCH_ENV, raising=False)
    [child] = run_in_processes([{"fn": "lth_test_cpu_jobs:what_i_run"}], workers=1, threads_per_worker=1)
    assert {k: v for k, v in child["env"].items() if v} == platform.PORTABLE_CPU_ENV
    assert child["capability"] == "AVX2"
    assert child["mkl_branch"] == platform.PORTABLE_CPU_ENV["MKL_CBWR"]


@needs_proc
def test_LTH_PORTABLE_CPU_0_leaves_a_worker_at_its_fastest_code(jobs_path, monkeypatch):
    monkeypatch.setenv(platform.PORTABLE_SWITCH_ENV, "0")
    [child] = run_in_processes([{"fn": "lth_test_cpu_jobs:what_i_run"}], workers=1, threads_per_worker=1)
    assert not any(child["env"].values())
    assert child["mkl_branch"] in ("OFF", "")  # MKL's own dispatch ("" without MKL)


# -- `import lthlib` in a fresh process ---------------------------------------------------------

@needs_x86_avx2
def test_import_lthlib_sets_them_before_torch_reads_them():
    code = "import lthlib, torch; from lthlib.machine import platform; print(platform.cpu_fingerprint())"
    done = subprocess.run([sys.executable, "-c", code], env=clean_env(), capture_output=True, text=True, check=True)
    fingerprint = eval(done.stdout)  # noqa: S307 - our own dict's repr
    assert fingerprint["cpu_capability"] == "AVX2"
    assert fingerprint["mkl_branch"] == "COMPATIBLE"
    assert fingerprint["cpu_env"] == "ATEN_CPU_CAPABILITY=avx2;MKL_CBWR=COMPATIBLE;ONEDNN_MAX_CPU_ISA=AVX2"
    assert fingerprint["torch_version"] == torch.__version__


def test_a_tensor_operation_before_import_lthlib_is_warned_about():
    code = ("import os, torch; torch.ones(3).add_(1); os.environ['ATEN_CPU_CAPABILITY'] = 'default'; "
            "import lthlib")
    done = subprocess.run([sys.executable, "-c", code], env=clean_env(), capture_output=True, text=True, check=True)
    assert "came too late" in done.stderr


@needs_x86_avx2
def test_the_portable_settings_give_the_same_bits_as_on_an_avx2_machine():
    """What portability means, checked on one machine: training steps here and on this machine
    acting as one without AVX-512 give bitwise equal weights under the portable settings."""
    here, as_avx2 = steps(), steps(**AS_AN_AVX2_MACHINE)
    assert here["cpu_capability"] == as_avx2["cpu_capability"] == "AVX2"
    assert here["weights"] == as_avx2["weights"]


@pytest.mark.skipif("avx512f" not in platform.cpu_flags(),
                    reason="an AVX-512 machine (where the libraries' fastest code differs from AVX2's)")
def test_without_them_an_avx512_machine_gives_other_bits():
    """The test above can fail: without the settings the same steps differ in their last bits."""
    native = steps(**{platform.PORTABLE_SWITCH_ENV: "0"})
    as_avx2 = steps(**AS_AN_AVX2_MACHINE, **{platform.PORTABLE_SWITCH_ENV: "0"})
    assert native["cpu_capability"] == "AVX512" and native["mkl_branch"] == "OFF"
    assert native["weights"] != as_avx2["weights"]


# -- what the tables record ---------------------------------------------------------------------

def test_every_row_says_which_cpu_code_trained_it(tmp_path, monkeypatch):
    monkeypatch.setenv("LTH_DATA_DIR", str(tmp_path / "data"))
    forget_prepared()
    store = Store(tmp_path / "results")
    old = {"config_hash": "0ld", "level": 0, "dataset": "synthetic", "model": "cnn", "arm": "winning_ticket",
           "seed": 9, "test_acc": 0.5}
    pd.DataFrame([old]).to_csv(store.table_path("runs"), index=False)  # a row from before these columns
    cfg = profiles.experiment("smoke", "synthetic", "cnn", "winning_ticket", 0, epochs=1, levels=1)
    lottery.run(cfg, store, progress=False)
    runs = store.runs()
    new = runs[runs["config_hash"] != "0ld"]
    assert len(new) == 2 and len(runs) == 3
    fingerprint = platform.cpu_fingerprint()
    for column in ("cpu_capability", "mkl_branch", "cpu_env", "torch_version"):
        assert (new[column].fillna("") == fingerprint[column]).all(), column
    assert new["cpu_capability"].iloc[0] == torch.backends.cpu.get_cpu_capability()
    assert runs.loc[runs["config_hash"] == "0ld", "cpu_capability"].isna().all()
