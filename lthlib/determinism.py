"""Deterministic kernels, so that a killed and resumed training gives the uninterrupted numbers.

Training seeds every epoch's data order and dropout (:mod:`lthlib.train`) and checkpoints after
every epoch.  On the CPU that is enough only at a fixed number of threads: a matrix product
splits its sums by thread count, so one and two threads differ in the last bits and training
grows the difference (a quick-profile BiLSTM run moved by up to 0.9 points of test accuracy).
:func:`cpu_threads` therefore trains on :data:`CPU_TRAINING_THREADS` thread(s) wherever it runs;
parallelism comes from training several configurations in worker processes.  On CUDA it is
not enough either: cuBLAS gives reproducible results from run to run only with a fixed workspace
configuration, cuDNN may pick its algorithm by timing (``benchmark``) or use one that adds with
atomics, and some backward passes (index_add, scatter_add) add with atomics.  Sums in another order differ
in the last bits, and training grows the difference.  :func:`enable` asks for:

- ``CUBLAS_WORKSPACE_CONFIG=:4096:8``: cuBLAS's documented deterministic workspace setting.  It is
  read when cuBLAS starts, so it must be set before the first CUDA matrix product of the
  process (a child process inherits it);
- ``torch.use_deterministic_algorithms(True)``: deterministic kernels where PyTorch has them, and
  a RuntimeError naming the operation where it has none;
- ``torch.backends.cudnn.deterministic = True`` and ``benchmark = False``.

What they cost in speed is measured by ``benchmarks/bench_determinism.py`` on the GPU (one
epoch at the paper shapes with and without), not assumed.
"""
from __future__ import annotations

import contextlib
import os
from typing import Iterator

import torch

CUBLAS_ENV = "CUBLAS_WORKSPACE_CONFIG"
CUBLAS_DETERMINISTIC = ":4096:8"


def settings() -> dict:
    """The determinism settings in force now."""
    return {"deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
            "cudnn_deterministic": bool(torch.backends.cudnn.deterministic),
            "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
            CUBLAS_ENV: os.environ.get(CUBLAS_ENV, "")}


def enable() -> dict:
    """Ask for deterministic kernels (see the module docstring); return :func:`settings`."""
    os.environ.setdefault(CUBLAS_ENV, CUBLAS_DETERMINISTIC)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    return settings()


@contextlib.contextmanager
def deterministic() -> Iterator[dict]:
    """:func:`enable` for a block, then the settings as they were (the environment variable
    stays: cuBLAS has read it already)."""
    before = settings()
    try:
        yield enable()
    finally:
        torch.use_deterministic_algorithms(before["deterministic_algorithms"])
        torch.backends.cudnn.deterministic = before["cudnn_deterministic"]
        torch.backends.cudnn.benchmark = before["cudnn_benchmark"]


#: intra-op threads of CPU training, whatever the machine (see the module docstring)
CPU_TRAINING_THREADS = 1


@contextlib.contextmanager
def cpu_threads(device: torch.device) -> Iterator[None]:
    """Train on :data:`CPU_TRAINING_THREADS` thread(s) for a block when ``device`` is the CPU."""
    before = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(CPU_TRAINING_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(before)
