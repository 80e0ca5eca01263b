"""What deterministic CUDA kernels cost: masked-training throughput with and without them.

    python benchmarks/bench_determinism.py --device cuda                          # paper shapes
    python benchmarks/bench_determinism.py --device cpu --size small --batches 10  # a dry run

Each (model, mode) runs in a fresh process, because ``CUBLAS_WORKSPACE_CONFIG`` is read when
cuBLAS starts: ``default`` runs with the variable unset and PyTorch's defaults, ``deterministic``
after :func:`lthlib.machine.platform.enable`.  A process trains ``--warmup`` batches, then times
``--batches`` batches of masked training as ``lthlib.experiment.train.train_model`` runs it (Batcher, fused
Adam, MaskApplier, 80%-sparse magnitude masks, bf16 autocast on CUDA) on random tokens at
IMDb-like lengths.  ``determinism.<model>`` in ``results/bench/<device>.json`` holds both
throughputs and ``deterministic_over_default`` (below 1: what determinism costs).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

import torch  # noqa: E402
from bench_setup import device_name, load_train_split, merge_json, sync  # noqa: E402
from bench_training import build, magnitude_masks  # noqa: E402

from lthlib.core.config import PruneConfig  # noqa: E402
from lthlib.experiment.train import Batcher, make_optimizer, train_epoch  # noqa: E402
from lthlib.machine import platform as determinism  # noqa: E402
from lthlib.nets.masks import MaskApplier  # noqa: E402
from lthlib.nets.models import flatten_rnns  # noqa: E402

MODES = ("default", "deterministic")
BATCH = 64


def measure(model_name: str, mode: str, size: str, batches: int, warmup: int, device: str) -> dict:
    """Samples per second of masked training in this process, in ``mode``."""
    if mode == "deterministic":
        determinism.enable()
    dev = torch.device(device)
    split, n_classes, vocab, _ = load_train_split("synthetic", size, model_name, (batches + warmup) * BATCH)
    model = build(size, model_name, vocab, n_classes, dev)
    flatten_rnns(model)
    apply = MaskApplier(model, magnitude_masks(model, 0.8, PruneConfig()))
    apply()
    optimizer = make_optimizer(model.parameters(), 1e-3)
    batcher = Batcher(split, BATCH, dev, lengths_on_cpu=model.lengths_on_cpu)
    order, bf16 = batcher.train_order(0), dev.type == "cuda"
    train_epoch(model, optimizer, apply, batcher.iterate(order[:warmup]), bf16)
    sync(dev)
    start = time.perf_counter()
    train_epoch(model, optimizer, apply, batcher.iterate(order[warmup:warmup + batches]), bf16)
    sync(dev)
    seconds = time.perf_counter() - start
    samples = sum(len(idx) for idx in order[warmup:warmup + batches])
    return {"samples_per_second": samples / seconds, "seconds": seconds, "batches": batches,
            "settings": determinism.settings()}


def in_child(args: argparse.Namespace, model_name: str, mode: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != determinism.CUBLAS_ENV}
    argv = [sys.executable, __file__, "--child", model_name, mode, "--size", args.size, "--batches",
            str(args.batches), "--warmup", str(args.warmup), "--device", args.device]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="cnn,lstm")
    ap.add_argument("--size", default="paper", choices=("paper", "small"))
    ap.add_argument("--batches", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--out", help="JSON path (default results/bench/<device>.json)")
    ap.add_argument("--child", nargs=2, metavar=("MODEL", "MODE"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(measure(*args.child, args.size, args.batches, args.warmup, args.device)))
        return {}
    results = {}
    for model_name in args.models.split(","):
        runs = {mode: in_child(args, model_name, mode) for mode in MODES}
        ratio = runs["deterministic"]["samples_per_second"] / runs["default"]["samples_per_second"]
        results[model_name] = {"size": args.size, **runs, "deterministic_over_default": ratio}
        print(f"{model_name}: default {runs['default']['samples_per_second']:.0f} samples/s, deterministic "
              f"{runs['deterministic']['samples_per_second']:.0f} samples/s (x{ratio:.3f})", flush=True)
    out = Path(args.out) if args.out else ROOT / "results" / "bench" / f"{device_name(args.device)}.json"
    merge_json(out, {"determinism": results})
    return results


if __name__ == "__main__":
    main()
