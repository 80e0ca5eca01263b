"""Which CPU settings change the numbers, and what the portable ones cost.

    LTH_DATA_MIRROR=../shared/data python benchmarks/bench_portable_cpu.py                # quick shapes, AG News
    python benchmarks/bench_portable_cpu.py --settings native,portable --repeats 3       # the cost only
    python benchmarks/bench_portable_cpu.py --models lstm --seed 5 --levels 5 --repeats 1  # a whole trunk

Each (setting, repeat) trains in a fresh process, because every variable here is read once per
process (``ATEN_CPU_CAPABILITY`` at PyTorch's first kernel dispatch, ``MKL_CBWR`` and
``ONEDNN_MAX_CPU_ISA`` when MKL and oneDNN start).  The child starts with none of them and with
``LTH_PORTABLE_CPU=0``, adds the setting's variables, and runs the winning-ticket trunk of each
model (levels 0..``--levels``, the profile's epochs) of ``--profile``/``--dataset`` seed
``--seed`` into a temporary store, on one thread, as the grid's workers do.  It reports each
level's test accuracy, a SHA-256 of its final weights, the seconds of every epoch (training plus
validation and test) and :func:`lthlib.machine.platform.cpu_fingerprint`.

Settings ``sim_avx2_*`` make this machine act like one without AVX-512 (MKL limited by
``MKL_ENABLE_INSTRUCTIONS=AVX2``, PyTorch's kernels and oneDNN's JIT capped at AVX2), so a
setting's portability can be checked on one machine: a portable setting gives the same weights
here and on the simulated AVX2 machine.

The report groups settings whose weights are bitwise equal (per model, all levels) and gives the
median over repeats of each run's median seconds per epoch, and its ratio to ``native``.
Settings run interleaved (repeat 1 of every setting, then repeat 2, ...), so a change in the
machine's load falls on all of them.  ``--out`` writes the JSON.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lthlib.machine import platform  # noqa: E402  (sets nothing: the child has LTH_PORTABLE_CPU=0)

_AVX2_MACHINE = {"MKL_ENABLE_INSTRUCTIONS": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
SETTINGS: dict[str, dict[str, str]] = {
    "native": {},
    "aten_avx2": {"ATEN_CPU_CAPABILITY": "avx2"},
    "aten_default": {"ATEN_CPU_CAPABILITY": "default"},
    "mkl_avx2": {"MKL_CBWR": "AVX2"},
    "mkl_compatible": {"MKL_CBWR": "COMPATIBLE"},
    "onednn_avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2"},
    "all_avx2": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "avx2_mkl_compatible": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "COMPATIBLE", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "sim_avx2_native": dict(_AVX2_MACHINE),
    "sim_avx2_all_avx2": {**_AVX2_MACHINE, "MKL_CBWR": "AVX2"},
    "sim_avx2_mkl_compatible": {**_AVX2_MACHINE, "MKL_CBWR": "COMPATIBLE"},
    "sim_sse42_mkl_compatible": {"MKL_ENABLE_INSTRUCTIONS": "SSE4_2", "ATEN_CPU_CAPABILITY": "avx2",
                                 "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "COMPATIBLE"},
}
#: the setting lthlib runs with unless LTH_PORTABLE_CPU=0
PORTABLE = next((name for name, env in SETTINGS.items() if env == platform.PORTABLE_CPU_ENV), "")
#: every variable a setting may set: the child starts without any of them
CONTROLLED = sorted({name for env in SETTINGS.values() for name in env} | set(platform.PORTABLE_CPU_ENV)
                    | {"DNNL_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS"})


def child(args: argparse.Namespace) -> dict:
    """Train each model's trunk in this process; what the parent reports."""
    from lthlib.experiment import profiles, runner
    from lthlib.experiment.store import Store
    from lthlib.machine.files import load_torch

    out = {}
    for model in args.models.split(","):
        overrides = {"levels": args.levels} if args.levels else {}
        if args.epochs:
            overrides["epochs"] = args.epochs
        cfg = profiles.experiment(args.profile, args.dataset, model, "winning_ticket", args.seed, **overrides)
        with tempfile.TemporaryDirectory(prefix="lth-portable-") as folder:
            store = Store(Path(folder))
            rows = runner.run(cfg, store, progress=False, record=False).sort_values("level")
            run = runner.Runner(cfg, store, progress=False, record=False)
            levels = []
            for level in rows["level"]:
                source = run.dense if level == 0 else run.run
                weights = load_torch(source.file(int(level), "final.pt"))
                digest = hashlib.sha256()
                for name in sorted(weights):
                    digest.update(name.encode() + weights[name].contiguous().numpy().tobytes())
                metrics = source.metrics(int(level))
                levels.append({"level": int(level), "test_acc": metrics["row"]["test_acc"],
                               "weights_sha256": digest.hexdigest()[:16],
                               "epoch_seconds": [e["seconds"] for e in metrics["epochs"]]})
        out[model] = levels
    return {"models": out, "fingerprint": platform.cpu_fingerprint()}


def run_child(args: argparse.Namespace, setting: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in CONTROLLED}
    env.update(SETTINGS[setting], **{platform.PORTABLE_SWITCH_ENV: "0"})
    argv = [sys.executable, __file__, "--child", "--models", args.models, "--profile", args.profile,
            "--dataset", args.dataset, "--seed", str(args.seed), "--levels", str(args.levels),
            "--epochs", str(args.epochs)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"setting {setting} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _short(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def summarise(results: dict[str, list[dict]], models: list[str]) -> dict:
    """Per model: the groups of settings with bitwise-equal weights, seconds per epoch, accuracies."""
    summary = {}
    for model in models:
        groups: dict[str, list[str]] = {}
        table = {}
        for setting, runs in results.items():
            hashes = sorted({_short("".join(level["weights_sha256"] for level in run["models"][model]))
                             for run in runs})
            key = "/".join(hashes) + ("" if len(hashes) == 1 else " (repeats differ!)")
            groups.setdefault(key, []).append(setting)
            per_run = [statistics.median(s for level in run["models"][model] for s in level["epoch_seconds"])
                       for run in runs]
            table[setting] = {"weights": key, "seconds_per_epoch": statistics.median(per_run),
                              "seconds_per_epoch_all": per_run,
                              "test_acc": [level["test_acc"] for level in runs[0]["models"][model]],
                              "cpu_capability": runs[0]["fingerprint"]["cpu_capability"],
                              "mkl_branch": runs[0]["fingerprint"].get("mkl_branch", "")}
        base = table.get("native", {}).get("seconds_per_epoch")
        for row in table.values():
            row["over_native"] = row["seconds_per_epoch"] / base if base else None
            row["bitwise_equal_to"] = [s for s in groups[row["weights"]]]
        summary[model] = table
    return summary


def print_summary(summary: dict) -> None:
    for model, table in summary.items():
        print(f"\n{model}: setting, weights (hash of every level's), PyTorch kernels, MKL branch, "
              "s/epoch (median), x native, test accuracy by level")
        for setting, row in table.items():
            acc = " ".join(f"{a:.4f}" for a in row["test_acc"])
            ratio = f"{row['over_native']:.2f}" if row["over_native"] else "-"
            print(f"  {setting:20s} {row['weights'][:20]:20s} {row['cpu_capability']:7s} {row['mkl_branch']:11s} "
                  f"{row['seconds_per_epoch']:6.2f} {ratio:>5s}  {acc}")
        groups = {}
        for setting, row in table.items():
            groups.setdefault(row["weights"], []).append(setting)
        print("  bitwise-equal groups:", " | ".join(", ".join(g) for g in groups.values()))


def main(argv: list[str] | None = None) -> dict | None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="cnn,lstm")
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--dataset", default="ag_news")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--levels", type=int, default=1, help="last level trained (0: dense only; default 1)")
    ap.add_argument("--epochs", type=int, default=0, help="epochs per level (0: the profile's)")
    ap.add_argument("--settings", default=",".join(SETTINGS), help=f"some of {', '.join(SETTINGS)}")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", help="write the results and the summary as JSON here")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args)))
        return None
    settings = args.settings.split(",")
    unknown = [s for s in settings if s not in SETTINGS]
    if unknown:
        ap.error(f"unknown settings {unknown}; valid: {', '.join(SETTINGS)}")
    results: dict[str, list[dict]] = {s: [] for s in settings}
    start = time.perf_counter()
    for repeat in range(args.repeats):
        for setting in settings:
            results[setting].append(run_child(args, setting))
            print(f"[{time.perf_counter() - start:6.0f} s] repeat {repeat + 1}/{args.repeats} {setting} done",
                  file=sys.stderr, flush=True)
    summary = summarise(results, args.models.split(","))
    print_summary(summary)
    print(f"\nlthlib runs with {PORTABLE or platform.PORTABLE_CPU_ENV} (platform.PORTABLE_CPU_ENV) "
          f"unless LTH_PORTABLE_CPU=0; native: the libraries' own choice for this CPU")
    command = [Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]
    report = {"portable_setting": PORTABLE, "command": " ".join(command),
              "settings": {s: SETTINGS[s] for s in settings}, "summary": summary, "runs": results,
              "load_average_1m_at_end": os.getloadavg()[0], "written": time.strftime("%Y-%m-%d %H:%M:%S")}
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
