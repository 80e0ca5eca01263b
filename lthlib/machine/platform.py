"""Everything that depends on the machine, in one place: directories and the environment
variables that move them, the device, how many workers and threads, and determinism.

Directories (each an environment variable, default under the repository):

    LTH_RESULTS_DIR   results/<profile>/ (the store and its tables)
    LTH_FIGURES_DIR   figures/<profile>/
    LTH_DATA_DIR      data/ (the download cache data/raw and the processed cache data/processed)
    LTH_DATA_MIRROR   an offline mirror of the official files (no default)
    LTH_PLUGINS       modules every process imports, so they can register datasets, models, arms

Threads.  Training seeds every epoch's data order and dropout and checkpoints after every
epoch.  On the CPU that reproduces a run only at a fixed number of threads: a matrix product
splits its sums by thread count, so one and two threads differ in the last bits and training
grows the difference (a quick-profile BiLSTM run moved by up to 0.9 points of test accuracy).
:func:`cpu_threads` therefore trains on :data:`CPU_TRAINING_THREADS` thread(s) wherever it runs;
parallelism comes from training several configurations in worker processes
(:func:`default_workers`, :func:`threads_per_worker`).

CUDA determinism.  cuBLAS gives reproducible results from run to run only with a fixed
workspace configuration, cuDNN may pick its algorithm by timing (``benchmark``) or use one that
adds with atomics, and some backward passes (index_add, scatter_add) add with atomics.
:func:`enable` asks for:

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
from pathlib import Path
from typing import Iterator

import torch

from ..core.config import ConfigError

#: the repository: lthlib/machine/platform.py -> three levels up
ROOT = Path(__file__).resolve().parents[2]

RESULTS_ENV = "LTH_RESULTS_DIR"
FIGURES_ENV = "LTH_FIGURES_DIR"
DATA_DIR_ENV = "LTH_DATA_DIR"
MIRROR_ENV = "LTH_DATA_MIRROR"
PLUGINS_ENV = "LTH_PLUGINS"


# ---------------------------------------------------------------------------------------------
# Directories
# ---------------------------------------------------------------------------------------------

def results_dir(profile: str) -> Path:
    return Path(os.environ.get(RESULTS_ENV, ROOT / "results")) / profile


def figures_dir(profile: str) -> Path:
    return Path(os.environ.get(FIGURES_ENV, ROOT / "figures")) / profile


def data_dir() -> Path:
    return Path(os.environ.get(DATA_DIR_ENV, ROOT / "data"))


def mirror_dir() -> Path | None:
    value = os.environ.get(MIRROR_ENV, "").strip()
    return Path(value).expanduser() if value else None


@contextlib.contextmanager
def data_dirs(data: Path, mirror: Path) -> Iterator[None]:
    """``LTH_DATA_DIR`` and ``LTH_DATA_MIRROR`` pointed elsewhere for a block (a carry folder)."""
    saved = {name: os.environ.get(name) for name in (DATA_DIR_ENV, MIRROR_ENV)}
    os.environ.update({DATA_DIR_ENV: str(data), MIRROR_ENV: str(mirror)})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def display_path(path: Path | str) -> str:
    """A path as a reader should see it: relative to the repository when inside it."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def plugin_modules() -> list[str]:
    """The modules named in ``$LTH_PLUGINS`` (comma-separated)."""
    return [part.strip() for part in os.environ.get(PLUGINS_ENV, "").split(",") if part.strip()]


# ---------------------------------------------------------------------------------------------
# Device, workers, threads
# ---------------------------------------------------------------------------------------------

def has_cuda() -> bool:
    return torch.cuda.is_available()


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` (CUDA when there is one), ``cpu``, ``cuda`` or ``cuda:N``, checked."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if has_cuda() else "cpu")
    if device not in ("cpu", "cuda") and not str(device).startswith("cuda:"):
        raise ConfigError(f"unknown device {device!r}; valid: auto, cpu, cuda")
    if str(device).startswith("cuda") and not has_cuda():
        raise ConfigError("device 'cuda' asked for, but CUDA is not available")
    return torch.device(device)


def device_name(device: torch.device) -> str:
    return f"cuda: {torch.cuda.get_device_name(device)}" if device.type == "cuda" else "cpu"


def default_workers(n_jobs: int) -> int:
    """Worker processes for ``n_jobs`` independent trainings: one with a GPU (it is shared),
    else one per CPU core: several single-threaded trainings beat one multi-threaded one."""
    if has_cuda():
        return 1
    return max(1, min(os.cpu_count() or 1, n_jobs))


def threads_per_worker(workers: int) -> int:
    """Each worker's share of the CPU cores."""
    return max(1, (os.cpu_count() or 1) // workers)


def thread_env(threads: int) -> dict[str, str]:
    """The environment variables that cap a child process's math threads."""
    return {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}


def forwarded_env() -> dict[str, str]:
    """The ``LTH_*`` variables (directories, mirror, plugins) a task on another process or host
    needs to see what this one sees (Ray tasks get them in their runtime environment)."""
    return {name: value for name, value in os.environ.items() if name.startswith("LTH_")}


def has_command(name: str) -> bool:
    """Whether ``name`` (e.g. ``sbatch``) is on this machine's PATH."""
    import shutil
    return shutil.which(name) is not None


def limit_torch_threads() -> None:
    """torch.set_num_threads to this process's share (``OMP_NUM_THREADS``), when one is set."""
    threads = os.environ.get("OMP_NUM_THREADS")
    if threads:
        torch.set_num_threads(int(threads))


#: intra-op threads of CPU training, whatever the machine (see the module docstring)
CPU_TRAINING_THREADS = 1


@contextlib.contextmanager
def cpu_threads(device: torch.device) -> Iterator[None]:
    """Train on :data:`CPU_TRAINING_THREADS` thread(s) for a block when ``device`` is the CPU,
    with denormal floats flushed to zero (:data:`FLUSH_DENORMAL`)."""
    before = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(CPU_TRAINING_THREADS)
        torch.set_flush_denormal(FLUSH_DENORMAL)
    try:
        yield
    finally:
        torch.set_num_threads(before)
        if device.type == "cpu":
            torch.set_flush_denormal(False)


#: Flush denormal floats to zero on the CPU (x86 FTZ/DAZ) while training.  The gradients that
#: flow back through a long recurrent pass shrink into the denormal range (below 1.2e-38), where
#: x86 arithmetic is many times slower: a BiLSTM's backward pass over 256 tokens took 4-5x longer
#: than with them flushed (`benchmarks/bench_denormals.py`), and over 160 tokens it did not.  The
#: values it changes are below 1.2e-38, far under anything a weight update can see.
FLUSH_DENORMAL = True


# ---------------------------------------------------------------------------------------------
# Determinism on CUDA
# ---------------------------------------------------------------------------------------------

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
