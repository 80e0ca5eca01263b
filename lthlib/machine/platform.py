"""Everything that depends on the machine, in one place: directories and the environment
variables that move them, the device, how many workers and threads, and determinism.

Directories (each an environment variable, default under the repository):

    LTH_RESULTS_DIR   results/<profile>/ (the store and its tables)
    LTH_FIGURES_DIR   figures/<profile>/
    LTH_DATA_DIR      data/ (the download cache data/raw and the processed cache data/processed)
    LTH_DATA_MIRROR   an offline mirror of the official files (no default)
    LTH_PLUGINS       modules every process imports, so they can register datasets, models, arms

A relative folder is read relative to the repository root (:data:`ROOT`), never to the working
directory: ``run_all.sh``, ``lth``, papermill and a JupyterLab kernel (which runs in
``notebooks/``) all find ``LTH_DATA_MIRROR=../shared/data`` in the same place.

Report runs and exploration.  ``run_all.sh`` and ``lth report`` set ``LTH_REPORT=1``, and the
notebook kernels they start inherit it: they write the report's tables and figures.  A Jupyter
kernel without it (someone exploring in JupyterLab) writes under ``results/<profile>-scratch``
and ``figures/<profile>-scratch`` instead (:func:`profile_folder`), so exploring never replaces
the committed report; ``%env LTH_REPORT=1`` in the kernel writes the report's folders.  Shell
commands (``lth run``, scripts) are not kernels and fill the profile's own store.

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

Portable CPU numbers.  One thread fixes the sums' order on one machine, not across machines:
PyTorch's own kernels, MKL (the matrix products, and exp/tanh through its vector maths) and
oneDNN (the convolutions) each pick code for the instruction set they find, and AVX-512 code
adds in another order than AVX2 code.  :data:`PORTABLE_CPU_ENV` pins all three
(``ATEN_CPU_CAPABILITY=avx2``, ``MKL_CBWR`` (MKL's conditional numerical reproducibility),
``ONEDNN_MAX_CPU_ISA=AVX2``).  Each is read once per process, when its library first computes,
so :func:`use_portable_cpu` sets them as ``import lthlib`` runs (``import torch`` alone computes
nothing; after a first tensor operation it is too late, and it warns) and :func:`child_env` gives
them to worker processes from their start.  ``LTH_PORTABLE_CPU=0`` leaves all three alone (the
libraries' fastest code for the machine); a variable already set in the environment wins over
ours.  :func:`cpu_fingerprint` says what was in force; every runs.csv row carries it.  The
README's "Reproducing numbers bit for bit" says what this buys and what it costs
(``benchmarks/bench_portable_cpu.py``).
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import platform as _host
import warnings
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
#: set (to 1) by run_all.sh and ``lth report``: this process writes the report's own folders
REPORT_ENV = "LTH_REPORT"
SCRATCH_SUFFIX = "-scratch"
#: set (to 1) in a JupyterLab kernel (``lth lab --committed`` does): read the committed results
#: of ``results/<profile>/``, train nothing, write tables and figures to the scratch folders
COMMITTED_ENV = "LTH_READ_COMMITTED"


# ---------------------------------------------------------------------------------------------
# Directories
# ---------------------------------------------------------------------------------------------

def repo_path(value: str | Path) -> Path:
    """A folder as an ``LTH_*`` variable gives it: ``~`` expanded, a relative one taken from the
    repository root (whatever the working directory), made absolute."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else (ROOT / path).resolve()


def _folder(name: str, default: Path) -> Path:
    value = os.environ.get(name, "").strip()
    return repo_path(value) if value else default


def results_dir(profile: str) -> Path:
    return _folder(RESULTS_ENV, ROOT / "results") / profile_folder(profile)


def figures_dir(profile: str) -> Path:
    return _folder(FIGURES_ENV, ROOT / "figures") / profile_folder(profile)


def data_dir() -> Path:
    return _folder(DATA_DIR_ENV, ROOT / "data")


def mirror_dir() -> Path | None:
    value = os.environ.get(MIRROR_ENV, "").strip()
    return repo_path(value) if value else None


def report_run() -> bool:
    """Whether this process renders the report (``LTH_REPORT`` set by run_all.sh, ``lth report``)."""
    return os.environ.get(REPORT_ENV, "").strip().lower() not in ("", "0", "false", "no", "off")


def in_jupyter_kernel() -> bool:
    import sys
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def exploring() -> bool:
    """A Jupyter kernel that run_all.sh or ``lth report`` did not start (see the module docstring)."""
    return in_jupyter_kernel() and not report_run()


def reading_committed() -> bool:
    """A kernel exploring the committed results read-only (``LTH_READ_COMMITTED=1``): it reads
    the profile's own folder (:func:`read_dir`), trains nothing, and writes where exploring
    writes (``<profile>-scratch``), so the committed report stays as it is."""
    flag = os.environ.get(COMMITTED_ENV, "").strip().lower() not in ("", "0", "false", "no", "off")
    return flag and exploring()


def read_dir(profile: str) -> Path:
    """The results a process reads: :func:`results_dir`, or the committed ``results/<profile>/``
    while :func:`reading_committed`."""
    return _folder(RESULTS_ENV, ROOT / "results") / profile if reading_committed() else results_dir(profile)


def profile_folder(profile: str) -> str:
    """The folder name of a profile's results and figures: ``<profile>-scratch`` while exploring."""
    return profile + SCRATCH_SUFFIX if exploring() else profile


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


def child_env(threads: int) -> dict[str, str]:
    """What a worker process on this machine needs in its environment from its start: the
    thread cap and the portable CPU settings (:func:`portable_cpu_env`)."""
    return {**portable_cpu_env(), **thread_env(threads)}


def forwarded_env() -> dict[str, str]:
    """The ``LTH_*`` variables (directories, mirror, plugins) a task on another process or host
    needs to see what this one sees (Ray tasks get them in their runtime environment), and the
    portable CPU settings, so the task's libraries read them from the process's start."""
    return {**{name: value for name, value in os.environ.items() if name.startswith("LTH_")},
            **portable_cpu_env()}


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
# Portable CPU numbers (see the module docstring)
# ---------------------------------------------------------------------------------------------

#: ``LTH_PORTABLE_CPU=0`` (or false/no/off): leave the CPU libraries at their fastest code
PORTABLE_SWITCH_ENV = "LTH_PORTABLE_CPU"
#: the code every x86-64 machine with AVX2 (Intel and AMD since 2013-2015) runs the same way
PORTABLE_CPU_ENV = {
    "ATEN_CPU_CAPABILITY": "avx2",      # PyTorch's own kernels: AVX2, not AVX-512
    "MKL_CBWR": "COMPATIBLE",           # MKL: its one code path that is the same on Intel and AMD
    "ONEDNN_MAX_CPU_ISA": "AVX2",       # oneDNN's JIT kernels (convolutions): at most AVX2
}
#: every variable that moves the CPU libraries' choice of code (recorded when set)
CPU_CODE_ENV = ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS", "ONEDNN_MAX_CPU_ISA",
                "DNNL_MAX_CPU_ISA")


def portable_cpu_wanted() -> bool:
    return os.environ.get(PORTABLE_SWITCH_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def portable_cpu_env() -> dict[str, str]:
    """The variables of :data:`PORTABLE_CPU_ENV` this process should run with: none when
    ``LTH_PORTABLE_CPU=0`` or the machine is not x86-64 (they mean nothing there);
    ``ATEN_CPU_CAPABILITY`` only where the CPU has AVX2 (PyTorch would run AVX2 code regardless);
    a value already in the environment is kept."""
    if not portable_cpu_wanted() or _host.machine().lower() not in ("x86_64", "amd64"):
        return {}
    wanted = dict(PORTABLE_CPU_ENV)
    if cpu_flags() and "avx2" not in cpu_flags():
        wanted.pop("ATEN_CPU_CAPABILITY")
    return {name: os.environ.get(name, value) for name, value in wanted.items()}


def cpu_flags() -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        pass
    return set()


def use_portable_cpu() -> dict[str, str]:
    """Put :func:`portable_cpu_env` into this process's environment (``import lthlib`` does);
    warn when PyTorch has already chosen other kernels, because a tensor operation ran first."""
    env = portable_cpu_env()
    os.environ.update(env)
    wanted = env.get("ATEN_CPU_CAPABILITY")
    if wanted and torch.backends.cpu.get_cpu_capability().lower() != wanted:
        warnings.warn(f"PyTorch already runs {torch.backends.cpu.get_cpu_capability()} kernels: a tensor "
                      f"operation ran before lthlib was imported, so ATEN_CPU_CAPABILITY={wanted} (and "
                      f"MKL_CBWR, ONEDNN_MAX_CPU_ISA) came too late and this process's numbers may not "
                      f"match other machines'; import lthlib first, or set them in the shell",
                      RuntimeWarning, stacklevel=2)
    return env


#: MKL's code branches (mkl_cbwr_get(MKL_CBWR_BRANCH)), named as MKL_CBWR takes them
_MKL_BRANCHES = {1: "OFF", 2: "AUTO", 3: "COMPATIBLE", 4: "SSE2", 6: "SSSE3", 7: "SSE4_1", 8: "SSE4_2",
                 9: "AVX", 10: "AVX2", 11: "AVX512_MIC", 12: "AVX512", 13: "AVX512_MIC_E1", 14: "AVX512_E1"}


def mkl_branch() -> str:
    """The code branch MKL runs now (OFF: no reproducibility mode, its fastest code for the CPU);
    "" when it cannot be asked (no MKL in this PyTorch)."""
    try:
        lib = ctypes.CDLL(os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so"))
        get = lib.mkl_serv_cbwr_get
    except (OSError, AttributeError):
        return ""
    get.restype, get.argtypes = ctypes.c_int, [ctypes.c_int]
    value = get(1)  # MKL_CBWR_BRANCH
    name = _MKL_BRANCHES.get(value & 0xFFFF, str(value))
    return name + (",STRICT" if value & 0x10000 else "")


def cpu_fingerprint() -> dict[str, str]:
    """What decides the CPU's numbers in this process: the kernels PyTorch runs, MKL's branch,
    the variables of :data:`CPU_CODE_ENV` that are set, the torch version (each runs.csv row)."""
    return {"cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "mkl_branch": mkl_branch(),
            "cpu_env": ";".join(f"{name}={os.environ[name]}" for name in CPU_CODE_ENV if name in os.environ),
            "torch_version": torch.__version__}


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
