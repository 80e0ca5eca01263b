"""Time data preparation: cold (empty processed cache) and cached, for IMDb and AG News.

    python benchmarks/bench_data.py                       # imdb + ag_news, writes into results/bench/cpu.json
    python benchmarks/bench_data.py --datasets imdb --repeats 2 --device-name cpu

Each timing runs ``lthlib.data.prepare.prepare`` in a fresh Python process (so no in-memory cache can
help) with ``LTH_DATA_DIR`` pointed at a temporary folder:

- cold:   a new empty folder, so the raw files come from ``LTH_DATA_MIRROR`` (or the network)
          and are parsed, tokenised, counted and encoded from scratch;
- cached: the same folder again, so ``prepare`` finds its processed cache.

Only the ``prepare`` call is timed (not the interpreter start or the imports).  The result goes
under the key ``"data"`` of ``results/bench/<device>.json``, merged with what is already there.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from bench_setup import device_name, merge_json  # noqa: E402

DEFAULT_MIRROR = str(Path(__file__).resolve().parents[2] / "shared" / "data")  # ../shared/data

_CHILD = r"""
import json, sys, time
from lthlib.core.config import DataConfig
from lthlib.experiment.profiles import experiment
cfg = experiment(sys.argv[1], sys.argv[2], "cnn").data
t0 = time.perf_counter()
try:
    from lthlib.data.prepare import prepare
    data = prepare(cfg, progress=False)
except Exception as exc:
    print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
    sys.exit(0)
seconds = time.perf_counter() - t0
out = {"seconds": seconds, "n_train": len(data.train), "n_val": len(data.val),
       "n_test": len(data.test), "vocab": len(data.vocab),
       "train_tokens": int(data.train.offsets[-1])}
print(json.dumps(out))
"""


def time_prepare(profile: str, dataset: str, data_dir: Path) -> dict:
    env = dict(os.environ, LTH_DATA_DIR=str(data_dir))
    env.setdefault("LTH_DATA_MIRROR", DEFAULT_MIRROR)
    proc = subprocess.run([sys.executable, "-c", _CHILD, profile, dataset], env=env, cwd=ROOT,
                          capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(lines[-1])


def bench_dataset(profile: str, dataset: str, repeats: int) -> dict:
    cold, cached, info = [], [], {}
    for _ in range(repeats):
        tmp = Path(tempfile.mkdtemp(prefix=f"lth-bench-{dataset}-"))
        try:
            first = time_prepare(profile, dataset, tmp)
            if "error" in first:
                return {"available": False, "error": first["error"]}
            cold.append(first["seconds"])
            info = {k: v for k, v in first.items() if k != "seconds"}
            second = time_prepare(profile, dataset, tmp)
            if "error" in second:
                return {"available": False, "error": second["error"]}
            cached.append(second["seconds"])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return {"available": True, "profile": profile, **info,
            "cold_seconds": statistics.median(cold), "cached_seconds": statistics.median(cached),
            "cold_all": cold, "cached_all": cached, "repeats": repeats}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", default="imdb,ag_news")
    ap.add_argument("--profile", default="paper", help="whose DataConfig to prepare (paper|quick)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--device-name", default=None,
                    help="JSON file name under results/bench/ (default: this machine's: cpu, cuda-h100, ...)")
    ap.add_argument("--out", default=None, help="JSON path (default results/bench/<device>.json)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)

    results = {}
    print(f"{'dataset':<9} {'profile':<7} {'cold s':>8} {'cached s':>9} {'train':>7} {'vocab':>7}  note")
    for dataset in [d.strip() for d in args.datasets.split(",") if d.strip()]:
        r = bench_dataset(args.profile, dataset, args.repeats)
        results[dataset] = r
        if r["available"]:
            print(f"{dataset:<9} {args.profile:<7} {r['cold_seconds']:>8.1f} {r['cached_seconds']:>9.2f} "
                  f"{r['n_train']:>7} {r['vocab']:>7}")
        else:
            print(f"{dataset:<9} {args.profile:<7} {'-':>8} {'-':>9} {'-':>7} {'-':>7}  not available: {r['error']}")
    payload = {"data": {"settings": {"profile": args.profile, "repeats": args.repeats,
                                     "mirror": os.environ.get("LTH_DATA_MIRROR", DEFAULT_MIRROR),
                                     "timing": "prepare() only, fresh process each, temp LTH_DATA_DIR"},
                        **results}}
    if not args.no_write:
        name = args.device_name or device_name("cpu")
        out = Path(args.out) if args.out else ROOT / "results" / "bench" / f"{name}.json"
        merge_json(out, payload)
        print(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return payload


if __name__ == "__main__":
    main()
