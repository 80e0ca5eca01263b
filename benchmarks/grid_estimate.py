"""How long the paper profile's grid takes, from measured seconds per epoch.

    python benchmarks/grid_estimate.py                          # read results/bench/cpu.json
    python benchmarks/grid_estimate.py --measure --fraction 0.05 # measure first (paper shapes)
    python benchmarks/grid_estimate.py --device cuda --measure   # on the GPU: full epochs

Per (dataset, model) the paper profile trains, for one seed:

- level 0, the dense network, once (every arm shares it);
- levels 1..20 for each of the 7 arms (5 trunks + 2 branches), each a full schedule of
  ``epochs`` (IMDb CNN 20, the rest 10), except ``fine_tuning`` which trains
  ``finetune_epochs`` (2) per level.

Pruning does not make a level faster: masked weights are multiplied by zero inside dense kernels,
so every level costs a dense epoch (plus the mask step, included in what is measured).

Seconds per epoch come from ``epoch_seconds`` in ``results/bench/<device>.json``.  ``--measure``
fills it in: it trains 1 epoch (train + validation and test passes, through ``lthlib.experiment.train.train_model``
with 80%-sparse magnitude masks) at the paper shapes on a ``--fraction`` of the training and
validation data, and divides by the fraction.  AG News has only its test file offline, so its
epoch is *estimated* from IMDb's: the measured time per token times AG News's tokens per epoch
(84,000 examples after the 30% hold-out, at the mean length of its test file), plus the measured
per-batch optimiser-and-mask cost for the extra batches.  The table says which figures are
measured, extrapolated or estimated, and on what device.  On a CPU the whole table is an
extrapolation of a few hundred batches to weeks of compute: read it as an order of magnitude.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

import torch  # noqa: E402
from bench_setup import device_name, merge_json, sync  # noqa: E402

from lthlib.experiment import profiles  # noqa: E402
from lthlib.experiment.arms import ARMS  # noqa: E402

PAIRS = (("imdb", "cnn"), ("imdb", "lstm"), ("ag_news", "cnn"), ("ag_news", "lstm"))
# training examples per epoch under the paper profile (30% of train held out for validation)
N_TRAIN = {"imdb": 28_000, "ag_news": 84_000}
N_VAL = {"imdb": 12_000, "ag_news": 36_000}
N_TEST = {"imdb": 10_000, "ag_news": 7_600}  # evaluated after every epoch too
SPARSITY = 0.8


def schedule(dataset: str, model: str) -> dict:
    """Epochs one seed of the paper profile trains for this pair."""
    arms = {}
    for arm in ARMS.names():
        cfg = profiles.experiment("paper", dataset, model, arm)
        per_level = ARMS.get(arm).epochs(cfg)
        arms[arm] = per_level * cfg.prune.levels
    base = profiles.experiment("paper", dataset, model)
    dense = base.train.epochs
    return {"epochs": dense, "levels": base.prune.levels + 1, "arms": len(ARMS),
            "per_arm_epochs": arms, "total_epochs": dense + sum(arms.values()),
            "naive_epochs": (base.prune.levels + 1) * len(ARMS) * dense,
            "batch_size": base.train.batch_size}


# ---------------------------------------------------------------------------------------------
# measuring
# ---------------------------------------------------------------------------------------------

def _subset(split, n: int, seed: int = 0):
    """The first n examples of a random permutation of an EncodedSplit (same class)."""
    import numpy as np
    g = np.random.default_rng(seed)
    idx = np.sort(g.permutation(len(split))[:n])
    return split.take(idx) if hasattr(split, "take") else split.subset(idx)


def measure_pair(dataset: str, model_name: str, device: str, fraction: float, seed: int = 0) -> dict:
    from lthlib.data.prepare import prepare
    from lthlib.experiment.train import train_model
    from lthlib.nets.masks import MaskApplier, full_masks, magnitude_prune, prunable_names
    from lthlib.nets.models import build_model

    os.environ.setdefault("LTH_DATA_MIRROR", str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    cfg = profiles.experiment("paper", dataset, model_name)
    model_cfg = replace(cfg.model, embedding="random")  # GloVe 100d is not offline; same shapes
    try:
        data = prepare(cfg.data, progress=False)
        data_source = f"{dataset} via lthlib.data.prepare.prepare"
        n_train, n_val = len(data.train), len(data.val)
        if fraction < 1.0:
            data = replace(data, train=_subset(data.train, max(cfg.train.batch_size, int(n_train * fraction))),
                           val=_subset(data.val, max(cfg.train.batch_size, int(n_val * fraction))),
                           test=_subset(data.test, max(cfg.train.batch_size, int(len(data.test) * fraction))))
    except Exception as exc:  # noqa: BLE001 - no data layer / no files: IMDb-like synthetic tokens
        data = _synthetic_like(dataset, cfg, fraction)
        data_source = f"synthetic tokens at IMDb-like lengths ({type(exc).__name__}: {exc})"
        n_train, n_val = N_TRAIN[dataset], N_VAL[dataset]
    frac_used = len(data.train) / n_train
    dev = torch.device(device)
    model = build_model(model_cfg, len(data.vocab), data.n_classes, init_seed=seed)
    names = prunable_names(model, cfg.prune)
    state = {k: v.detach() for k, v in model.state_dict().items()}
    masks = magnitude_prune(state, full_masks(model, names), SPARSITY, cfg.prune.scope)
    train_cfg = replace(cfg.train, device=dev.type)
    sync(dev)
    t0 = time.perf_counter()
    result = train_model(model, masks, data, train_cfg, seed=seed, epochs=1, progress=False)
    sync(dev)
    wall = time.perf_counter() - t0

    # per-batch optimiser + mask cost (what does not scale with tokens)
    model = model.to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.train.lr)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    applier = MaskApplier(model, {k: v.to(dev) for k, v in masks.items()})
    for _ in range(3):
        opt.step()
        applier()
    sync(dev)
    t1, k = time.perf_counter(), 20
    for _ in range(k):
        opt.step()
        applier()
    sync(dev)
    step_overhead = (time.perf_counter() - t1) / k

    tokens = int(data.train.offsets[-1])
    return {"seconds": wall / frac_used, "measured_seconds": wall, "fraction": frac_used,
            "train_seconds_reported": getattr(result, "train_seconds", None),
            "how": "measured" if frac_used >= 0.999 else f"extrapolated from {frac_used:.1%} of an epoch",
            "device": device_name(dev), "n_train": n_train, "n_val": n_val,
            "train_tokens_full": int(tokens / frac_used),
            "mean_len": tokens / max(len(data.train), 1), "batch_size": cfg.train.batch_size,
            "step_overhead_s": step_overhead, "sparsity": SPARSITY, "threads": torch.get_num_threads(),
            "model": {k: v for k, v in vars(model_cfg).items()} if hasattr(model_cfg, "__dict__") else str(model_cfg),
            "vocab": len(data.vocab), "max_len": cfg.data.max_len, "data": data_source}


class _Prepared:
    def __init__(self, config, train, val, test, vocab, n_classes):
        self.config, self.train, self.val, self.test = config, train, val, test
        self.vocab, self.n_classes = vocab, n_classes


def _synthetic_like(dataset: str, cfg, fraction: float):
    from bench_setup import synthetic_split
    vocab = cfg.data.max_vocab + 2
    n_cls = cfg.data.n_classes
    n_tr = max(cfg.train.batch_size, int(N_TRAIN[dataset] * fraction))
    n_va = max(cfg.train.batch_size, int(N_VAL[dataset] * fraction))
    train = synthetic_split(n_tr, vocab, n_cls, seed=0, max_len=cfg.data.max_len)
    val = synthetic_split(n_va, vocab, n_cls, seed=1, max_len=cfg.data.max_len)
    test = synthetic_split(max(1, int(N_TEST[dataset] * fraction)), vocab, n_cls, seed=2,
                           max_len=cfg.data.max_len)
    return _Prepared(cfg.data, train, val, test, [None] * vocab, n_cls)


def ag_news_mean_len() -> tuple[float, str]:
    """Mean tokens per AG News example (title + description), from the offline test file."""
    default_mirror = Path(__file__).resolve().parents[2] / "shared" / "data"
    mirror = Path(os.environ.get("LTH_DATA_MIRROR", str(default_mirror))) / "ag_news" / "test.csv"
    from lthlib.data.prepare import tokenize
    if not mirror.exists():
        return 43.0, "assumed (no AG News file found)"
    lengths = []
    with open(mirror, newline="", encoding="utf-8") as f:
        for row in csv.reader(f):
            lengths.append(len(tokenize(" ".join(row[1:]))))
    return sum(lengths) / len(lengths), f"mean length of {len(lengths)} test rows"


def estimate_from(ref: dict, dataset: str, mean_len: float, batch_size: int) -> dict:
    """Scale a measured IMDb epoch to another dataset by tokens and batches."""
    ref_batches = math.ceil(ref["n_train"] / ref["batch_size"])
    per_batch = ref["step_overhead_s"]
    token_part = max(ref["seconds"] - ref_batches * per_batch, 0.0)
    per_token = token_part / ref["train_tokens_full"]
    n = N_TRAIN[dataset]
    tokens = n * mean_len
    seconds = per_token * tokens + math.ceil(n / batch_size) * per_batch
    return {"seconds": seconds, "how": "estimated from imdb (tokens + per-batch cost)",
            "device": ref["device"], "n_train": n, "mean_len": mean_len}


# ---------------------------------------------------------------------------------------------

def fmt_duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 3 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu", help="cpu | cuda (for --measure and the file name)")
    ap.add_argument("--device-name", default=None, help="read/write results/bench/<this>.json")
    ap.add_argument("--measure", action="store_true", help="train 1 epoch per IMDb pair first")
    ap.add_argument("--fraction", type=float, default=None,
                    help="share of the epoch to measure (default 1.0 on CUDA, 0.03 on CPU)")
    ap.add_argument("--models", default="cnn,lstm")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch CPU threads for --measure (default 1 on CPU; see benchmarks/README.md)")
    ap.add_argument("--seeds", type=int, default=len(profiles.PROFILES.get("paper").seeds))
    args = ap.parse_args(argv)

    dev = torch.device(args.device)
    name = args.device_name or device_name(dev)
    path = ROOT / "results" / "bench" / f"{name}.json"
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    bench = json.loads(path.read_text()) if path.exists() else {}
    measured = dict(bench.get("epoch_seconds", {}))

    if args.measure:
        if dev.type == "cpu":
            torch.set_num_threads(args.threads or 1)
        fraction = args.fraction if args.fraction is not None else (1.0 if dev.type == "cuda" else 0.03)
        for model in models:
            print(f"measuring imdb/{model} at paper shapes on {name} ({fraction:.0%} of an epoch) ...", flush=True)
            measured[f"imdb/{model}"] = measure_pair("imdb", model, args.device, fraction)
            merge_json(path, {"epoch_seconds": measured})  # after each, so a long run keeps it

    mean_len_ag, ag_note = ag_news_mean_len()
    rows, total_seed = [], 0.0
    for dataset, model in PAIRS:
        if model not in models:
            continue
        sch = schedule(dataset, model)
        key = f"{dataset}/{model}"
        if key in measured:
            ep = measured[key]
        elif f"imdb/{model}" in measured:
            ep = estimate_from(measured[f"imdb/{model}"], dataset, mean_len_ag, sch["batch_size"])
        else:
            ep = None
        seconds = ep["seconds"] * sch["total_epochs"] if ep else float("nan")
        if ep:
            total_seed += seconds
        rows.append({"pair": key, "n_train": N_TRAIN[dataset], "epochs": sch["epochs"],
                     "epochs_per_seed": sch["total_epochs"], "naive_epochs": sch["naive_epochs"],
                     "epoch_seconds": ep["seconds"] if ep else None, "source": ep["how"] if ep else "missing",
                     "device": ep["device"] if ep else name, "seed_seconds": seconds})

    print()
    print(f"Paper-profile grid time for one seed, from per-epoch times on {name}"
          + (" -- CPU: an extrapolation, not a plan" if dev.type == "cpu" or name == "cpu" else ""))
    print(f"{'pair':<13} {'train':>6} {'ep/lvl':>6} {'s/epoch':>9} {'epochs/seed':>11} {'time/seed':>10}  source")
    for r in rows:
        s = f"{r['epoch_seconds']:.1f}" if r["epoch_seconds"] is not None else "-"
        t = fmt_duration(r["seed_seconds"]) if r["epoch_seconds"] is not None else "-"
        print(f"{r['pair']:<13} {r['n_train']:>6} {r['epochs']:>6} {s:>9} {r['epochs_per_seed']:>11} {t:>10}  "
              f"{r['source']} ({r['device']})")
    missing = [r["pair"] for r in rows if r["epoch_seconds"] is None]
    print(f"{'total':<13} {'':>6} {'':>6} {'':>9} {sum(r['epochs_per_seed'] for r in rows):>11} "
          f"{fmt_duration(total_seed):>10}  one seed; x{args.seeds} seeds = {fmt_duration(total_seed * args.seeds)}"
          + (f"  (incomplete: no epoch time for {', '.join(missing)})" if missing else ""))
    print("epochs/seed = dense level 0 once + 20 levels x 7 arms (fine_tuning: 2 epochs per level); "
          "naive 21 x 7 x epochs would be "
          + ", ".join(f"{r['pair']} {r['naive_epochs']}" for r in rows) + ".")
    print(f"AG News epochs: {'measured' if any(k.startswith('ag_news') for k in measured) else 'estimated'} "
          f"(AG News mean length {mean_len_ag:.1f} tokens, {ag_note}); sparsity does not speed up dense kernels.")
    estimate = {"device": name, "seeds": args.seeds, "rows": rows, "one_seed_seconds": total_seed,
                "all_seeds_seconds": total_seed * args.seeds,
                "note": "CPU figures are extrapolations" if name == "cpu" else "measured on " + name}
    if path.exists() or args.measure:
        merge_json(path, {"grid_estimate": estimate})
    return estimate


if __name__ == "__main__":
    main()
