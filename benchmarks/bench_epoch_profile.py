"""One quick-profile epoch of each (dataset, model), split into its parts, against one core's arithmetic.

    LTH_DATA_MIRROR=../shared/data python benchmarks/bench_epoch_profile.py [--pairs imdb/lstm --top 15]
    LTH_DATA_MIRROR=../shared/data python benchmarks/bench_epoch_profile.py --digest

Per pair, on the profile's prepared data (``runner.load_data``), one thread, denormals flushed
(``platform.cpu_threads``, as training): θ0 masked at ``--level`` (magnitude, local, 20% a level;
default 3, 51% left), the profile's fused Adam and Batchers.  A warm-up epoch, then ``--repeats``
rounds of (1) an epoch with a timer around each part of every step -- batch (the Batcher's
gather), forward (+ loss), backward, optimizer (fused Adam), mask (``MaskApplier``), other
(zero_grad, the sums) -- (2) an epoch through ``train.train_epoch`` (the epoch's time), (3)
``train.evaluate`` on validation and on test; medians.  One thread runs every op synchronously,
so the timers attribute time exactly; they read the thread's CPU seconds (default: robust to
other processes on a shared machine) or, ``--clock wall``, wall seconds.

Arithmetic: forward FLOPs are ``lthlib.deploy.measure.flops`` (2 per multiply-add of each weight
use, 1 per bias add; lookups and elementwise maths uncounted) over the epoch's examples at the
padded widths run (``exec``; ``useful``: at their own lengths); backward is 2x forward.  The
optimizer and masks do no matrix arithmetic: their floor is bytes moved (Adam 7 x 4 B a
parameter, masks 3 x 4 B a masked weight) at the rate of ``a + b`` at the optimizer's size.  One
core's limit: a 2048^3 fp32 matmul with the libraries' fastest code (a child process with
``LTH_PORTABLE_CPU=0``); shown beside it, the same under training's portable settings
(``MKL_CBWR=COMPATIBLE``, ...) and the models' own kernels (conv1d forward, forward+backward;
an LSTM step's (B, H) x (H, 4H), its input projection (B*T, E) x (E, 4H)).  A part's gap is its
seconds minus its FLOPs at the limit (bytes at the copy rate; batch, other: all of it).

JSON: ``results/bench/cpu.json``, ``epoch_profile.pairs.<dataset>/<model>``.  ``--digest``: one
level-0 epoch per pair through ``train.train_model`` (seed 0), then SHA-256s of the weights' bytes
and of the epoch's losses, accuracies and test predictions (equal where training is bit-identical).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

import torch  # noqa: E402
from bench_setup import merge_json  # noqa: E402

from lthlib.core.config import derive_seed  # noqa: E402
from lthlib.deploy.measure import flops, weight_uses  # noqa: E402
from lthlib.experiment import train as T  # noqa: E402
from lthlib.experiment.profiles import experiment  # noqa: E402
from lthlib.experiment.runner import load_data, new_network  # noqa: E402
from lthlib.machine.platform import PORTABLE_CPU_ENV, cpu_threads  # noqa: E402
from lthlib.nets.masks import apply_masks, full_masks, magnitude_prune, prunable_names  # noqa: E402
from lthlib.nets.models import loss_and_correct  # noqa: E402

PAIRS = ("imdb/cnn", "imdb/lstm", "ag_news/cnn", "ag_news/lstm")
PARTS = ("batch", "forward", "backward", "optimizer", "mask", "other")
CPU = torch.device("cpu")
CLOCKS = {"cpu": time.thread_time, "wall": time.perf_counter}
now = CLOCKS["cpu"]
MATMUL = ("import time, torch; torch.set_num_threads(1); a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)\n"
          "a @ b; t = []\nfor _ in range(5): t0 = time.{clock}(); a @ b; t.append(time.{clock}() - t0)\n"
          "print(2 * 2048 ** 3 / min(t) / 1e9)")


def timed(fn, *args, **kwargs) -> float:
    t0 = now()
    fn(*args, **kwargs)
    return now() - t0


def clock(fn, reps: int) -> float:
    """Median seconds of ``fn()`` over ``reps`` calls, after one warm-up call."""
    fn()
    return statistics.median(timed(fn) for _ in range(reps))


def core_limits(clock_name: str) -> dict:
    """GFLOP/s of a 2048^3 matmul on one thread: here (portable settings) and fastest (child)."""
    env = {k: v for k, v in os.environ.items() if k not in PORTABLE_CPU_ENV}
    code = MATMUL.format(clock="thread_time" if clock_name == "cpu" else "perf_counter")
    native = subprocess.run([sys.executable, "-c", code], env={**env, "LTH_PORTABLE_CPU": "0"}, check=True,
                            capture_output=True, text=True).stdout
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    return {"matmul_native": round(float(native), 2),
            "matmul_portable": round(2 * 2048**3 / clock(lambda: a @ b, 5) / 1e9, 2),
            "portable_env": {k: os.environ.get(k) for k in PORTABLE_CPU_ENV}}


def kernel_limits(cfg, n_params: int) -> dict:
    """GFLOP/s of the model's own kernels at the profile's batch and longest width; GB/s of
    ``a + b`` at the optimizer's size."""
    g = {}
    batch, embed, steps, m = cfg.train.batch_size, cfg.model.embed_dim, cfg.data.max_len, cfg.model
    if m.name == "cnn":
        x = torch.randn(batch, embed, steps, requires_grad=True)
        for k in m.filter_sizes:
            conv = torch.nn.Conv1d(embed, m.n_filters, k)
            flop = 2 * batch * (steps - k + 1) * m.n_filters * embed * k
            with torch.no_grad():
                g[f"conv1d_k{k}_fwd"] = flop / clock(lambda c=conv: c(x), 10) / 1e9
            g[f"conv1d_k{k}_fwd_bwd"] = 3 * flop / clock(lambda c=conv: c(x).sum().backward(), 10) / 1e9
    else:
        hidden = m.hidden_dim
        h, w_hh = torch.randn(batch, hidden), torch.randn(hidden, 4 * hidden)
        g["lstm_step_gemm"] = 2 * batch * hidden * 4 * hidden / clock(lambda: h @ w_hh, 200) / 1e9
        xs, w_ih = torch.randn(batch * steps, embed), torch.randn(embed, 4 * hidden)
        g["lstm_input_gemm"] = 2 * batch * steps * embed * 4 * hidden / clock(lambda: xs @ w_ih, 20) / 1e9
    u, v, out = torch.randn(n_params), torch.randn(n_params), torch.empty(n_params)
    return {"gflops": {k: round(val, 2) for k, val in g.items()},
            "copy_GBps": round(12 * n_params / clock(lambda: torch.add(u, v, out=out), 50) / 1e9, 2)}


def setup(dataset: str, model_name: str, level: int):
    """The pair's config, data, masked θ0, optimizer, mask applier and Batchers."""
    cfg = experiment("quick", dataset, model_name)
    data = load_data(cfg, progress=False)
    model = new_network(cfg, data, derive_seed(cfg.seed, "init"))
    masks = full_masks(model, prunable_names(model, cfg.prune))
    state = {k: v.detach() for k, v in model.state_dict().items()}
    for _ in range(level):
        masks = magnitude_prune(state, masks, cfg.prune.fraction, cfg.prune.scope)
    optimizer = T.make_optimizer(model.parameters(), cfg.train.lr, cfg.train.weight_decay)
    apply = apply_masks(model, masks)
    return cfg, data, model, optimizer, apply, T._batchers(model, data, cfg.train, CPU)


def epoch_flops(model, batcher, order) -> dict:
    """Forward FLOPs of one pass over ``order``: at the padded widths run and at true lengths."""
    state = {k: v.detach() for k, v in model.state_dict().items()}
    true = torch.cat([batcher.lengths_cpu[idx] for idx in order])
    width = [max(batcher._width(int(batcher.lengths_cpu[idx].max())), getattr(model, "min_len", 1)) for idx in order]
    padded = torch.cat([torch.full((len(idx),), w) for idx, w in zip(order, width)])
    return {"exec": flops(state, weight_uses(model, padded), False) * len(true),
            "useful": flops(state, weight_uses(model, true), False) * len(true),
            "tokens_padded": int(padded.sum()), "tokens_true": int(true.sum()), "examples": len(true)}


def split_epoch(model, optimizer, apply, batches) -> dict:
    """``train.train_epoch``'s loop with a timer around each part (seconds per part)."""
    model.train()
    t = dict.fromkeys(PARTS, 0.0)
    loss_sum, correct_sum = torch.zeros(()), torch.zeros((), dtype=torch.int64)
    it = iter(batches)
    while True:
        t0 = now()
        batch = next(it, None)
        t1 = now()
        t["batch"] += t1 - t0
        if batch is None:
            return t
        tokens, lengths, labels = batch
        optimizer.zero_grad(set_to_none=True)
        t2 = now()
        loss, correct = loss_and_correct(model(tokens, lengths), labels)
        t3 = now()
        loss.backward()
        t4 = now()
        optimizer.step()
        t5 = now()
        apply()
        t6 = now()
        loss_sum += loss.detach() * labels.shape[0]
        correct_sum += correct
        t7 = now()
        t["other"] += (t2 - t1) + (t7 - t6)
        for part, seconds in zip(PARTS[1:5], (t3 - t2, t4 - t3, t5 - t4, t6 - t5)):
            t[part] += seconds


def profile_pair(args, pair: str, core: dict) -> dict:
    dataset, model_name = pair.split("/")
    cfg, data, model, optimizer, apply, batchers = setup(dataset, model_name, args.level)
    train_b, eval_bs = batchers["train"], cfg.train.eval_batch_size
    seed = lambda e: derive_seed(cfg.seed, "data_order", e)  # noqa: E731
    n_params = sum(p.numel() for p in model.parameters())
    n_masked, kept = sum(p.numel() for p in apply.params), int(sum(m.sum() for m in apply.masks))
    train_fl = epoch_flops(model, train_b, train_b.train_order(seed(0)))
    eval_fl = {s: epoch_flops(model, batchers[s], batchers[s].eval_order(eval_bs)) for s in ("val", "test")}
    runs = {k: [] for k in (*PARTS, "split_sum", "epoch", "val", "test")}
    T.train_epoch(model, optimizer, apply, train_b.train_batches(seed(0)), False)  # warm-up
    for r in range(args.repeats):
        for k, v in split_epoch(model, optimizer, apply, train_b.train_batches(seed(2 * r + 1))).items():
            runs[k].append(v)
        runs["split_sum"].append(sum(runs[k][-1] for k in PARTS))
        batches = train_b.train_batches(seed(2 * r + 2))
        runs["epoch"].append(timed(T.train_epoch, model, optimizer, apply, batches, False))
        for s in ("val", "test"):
            runs[s].append(timed(T.evaluate, model, batchers[s], batch_size=eval_bs))
    med = {k: statistics.median(v) for k, v in runs.items()}
    lim = kernel_limits(cfg, n_params)
    peak, gbs, steps = core["matmul_native"] * 1e9, lim["copy_GBps"] * 1e9, train_b.n_batches()
    work = {"forward": train_fl["exec"], "backward": 2 * train_fl["exec"],
            "val": eval_fl["val"]["exec"], "test": eval_fl["test"]["exec"]}
    moved, rows = {"optimizer": 7 * 4 * n_params * steps, "mask": 3 * 4 * n_masked * steps}, {}
    for part in (*PARTS, "val", "test"):
        sec = med[part]
        ideal = work[part] / peak if part in work else moved[part] / gbs if part in moved else 0.0
        rows[part] = {"seconds": round(sec, 4), "gflop": round(work[part] / 1e9, 3) if part in work else None,
                      "gflops_per_s": round(work[part] / sec / 1e9, 2) if part in work and sec else None,
                      "GBps": round(moved[part] / sec / 1e9, 2) if part in moved and sec else None,
                      "ideal_seconds": round(ideal, 4), "gap_seconds": round(sec - ideal, 4)}
    largest = max(rows, key=lambda k: rows[k]["gap_seconds"])
    out = {"settings": {"level": args.level, "remaining_of_masked": round(kept / max(n_masked, 1), 4),
                        "repeats": args.repeats, "clock": args.clock, "threads": torch.get_num_threads(),
                        "lr": cfg.train.lr, "batch_size": cfg.train.batch_size, "eval_batch_size": eval_bs,
                        "max_len": cfg.data.max_len, "n_train": len(data.train), "n_val": len(data.val),
                        "n_test": len(data.test), "steps": steps, "n_params": n_params, "n_masked": n_masked,
                        "load_average_1m_at_end": round(os.getloadavg()[0], 2)},
           "flops": {"train": train_fl, **eval_fl},
           "epoch_seconds": round(med["epoch"], 4), "split_sum_seconds": round(med["split_sum"], 4),
           "eval_seconds": round(med["val"] + med["test"], 4),
           "epoch_with_eval_seconds": round(med["epoch"] + med["val"] + med["test"], 4),
           "parts": rows, "largest_gap": largest, "limits": {**core, **lim}, "all": runs}
    report(pair, out)
    if args.top:
        top_ops(model, optimizer, apply, train_b, seed(99), args.top)
    return out


def report(pair: str, out: dict) -> None:
    s, lim, fl = out["settings"], out["limits"], out["flops"]["train"]
    print(f"\n== {pair}: {s['n_train']} train / {s['n_val']} val / {s['n_test']} test, {s['steps']} steps of "
          f"{s['batch_size']}, {fl['tokens_true']:,} tokens ({fl['tokens_padded']:,} padded), "
          f"{s['n_params']:,} params, {s['n_masked']:,} masked, {s['clock']} seconds ==")
    print(f"  one core, 2048^3 matmul: {lim['matmul_native']:.1f} GFLOP/s (the limit), {lim['matmul_portable']:.1f} "
          "under the portable settings; " + ", ".join(f"{k} {v:.1f}" for k, v in lim["gflops"].items())
          + f"; a+b {lim['copy_GBps']:.1f} GB/s")
    print(f"  training epoch {out['epoch_seconds']:.3f} s (split sum {out['split_sum_seconds']:.3f}), "
          f"val + test {out['eval_seconds']:.3f} s; epoch with evaluation {out['epoch_with_eval_seconds']:.3f} s")
    print(f"  {'part':<10} {'s':>8} {'share':>6} {'GFLOP':>8} {'GFLOP/s':>8} {'GB/s':>7} {'ideal s':>8} {'gap s':>8}")
    total, f = out["split_sum_seconds"] + out["eval_seconds"], lambda v, spec: "-" if v is None else format(v, spec)
    for part, r in out["parts"].items():
        print(f"  {part:<10} {r['seconds']:>8.3f} {r['seconds'] / total:>6.1%} {f(r['gflop'], '>8.2f')} "
              f"{f(r['gflops_per_s'], '>8.1f')} {f(r['GBps'], '>7.1f')} {r['ideal_seconds']:>8.3f} "
              f"{r['gap_seconds']:>8.3f}")
    print(f"  largest gap: {out['largest_gap']} ({out['parts'][out['largest_gap']]['gap_seconds']:.3f} s per epoch)")


def top_ops(model, optimizer, apply, batcher, seed: int, n: int) -> None:
    """torch.profiler's ``n`` most expensive ops (self CPU time) over one training epoch."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        split_epoch(model, optimizer, apply, batcher.train_batches(seed))
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=n, max_name_column_width=44))


def digest(pair: str) -> str:
    """SHA-256 of the weights after one level-0 epoch of ``train_model`` (seed 0, no masks), and
    of the epoch's numbers (losses, accuracies) and the test predictions."""
    cfg, data, model, *_ = setup(*pair.split("/"), 0)
    result = T.train_model(model, full_masks(model, prunable_names(model, cfg.prune)), data, cfg.train,
                         seed=cfg.seed, epochs=1, progress=False)
    h = hashlib.sha256()
    for name, value in sorted(result.final_state.items()):
        h.update(name.encode() + value.contiguous().numpy().tobytes())
    row = {k: v for k, v in result.epochs[0].items() if k != "seconds"}
    numbers = hashlib.sha256(repr(sorted(row.items())).encode() + result.test_predictions.numpy().tobytes())
    return f"weights {h.hexdigest()[:16]}  numbers {numbers.hexdigest()[:16]}  val_loss {row['val_loss']!r}"


def main(argv=None) -> dict:
    global now
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", default=",".join(PAIRS), help="dataset/model, comma-separated")
    ap.add_argument("--level", type=int, default=3, help="masks of this pruning level (0: none)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--clock", default="cpu", choices=tuple(CLOCKS), help="timers: thread CPU or wall seconds")
    ap.add_argument("--top", type=int, default=0, help="print torch.profiler's top N ops per pair")
    ap.add_argument("--digest", action="store_true", help="only the weights' digest after one level-0 epoch")
    ap.add_argument("--out", default=None, help="JSON path (default results/bench/cpu.json)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    now = CLOCKS[args.clock]
    os.environ.setdefault("LTH_DATA_MIRROR", str(ROOT.parent / "shared" / "data"))
    pairs = [p.strip() for p in args.pairs.split(",") if p.strip()]
    results = {}
    with cpu_threads(CPU):
        core = {} if args.digest else core_limits(args.clock)
        for pair in pairs:
            if args.digest:
                print(f"{pair:<14} {digest(pair)}", flush=True)
            else:
                results[pair] = profile_pair(args, pair, core)
    if args.digest or args.no_write:
        return results
    out = Path(args.out) if args.out else ROOT / "results" / "bench" / "cpu.json"
    before = json.loads(out.read_text()).get("epoch_profile", {}).get("pairs", {}) if out.exists() else {}
    merge_json(out, {"epoch_profile": {"written": time.strftime("%Y-%m-%d %H:%M:%S"), "torch": torch.__version__,
                                       "command": "python benchmarks/bench_epoch_profile.py "
                                       + " ".join(sys.argv[1:] if argv is None else argv),
                                       "pairs": {**before, **results}}})
    print(f"\nwrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return results


if __name__ == "__main__":
    main()
