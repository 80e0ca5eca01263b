"""Training throughput and peak memory: lthlib's masked training against the usual ways.

    python benchmarks/bench_training.py                                   # CPU, small shapes, synthetic
    python benchmarks/bench_training.py --dataset imdb --batches 30 --repeats 3
    python benchmarks/bench_training.py --device cuda --size paper --dataset imdb --batches 200

Methods, all on the same batches, the same model and the same initial weights:

  (a) dense        no masks (the ceiling)
  (b) masked       lthlib's path: Batcher (device-resident, length-bucketed) + model + Adam +
                   MaskApplier (one fused ``torch._foreach_mul_`` after each step); the masks are
                   magnitude masks at ``--sparsity`` (default 0.8)
  (b') masked-pre  (b) without the Batcher: the same step over pre-built batches, to separate
                   batching cost from masking cost
  (c) torch-prune  ``torch.nn.utils.prune.custom_from_mask`` on every prunable tensor
  (d) study        the study's method: gradients to numpy, masked, copied back, then step

(a), (c), (d) and (b') iterate a list of batches the Batcher produced before timing; (b)
iterates the Batcher itself, as training does.  Throughput is training samples per second over
``--batches`` batches, the median of ``--repeats`` timed passes after one warm-up pass; the
methods are interleaved pass by pass so that machine noise hits them alike.  Peak memory is
``torch.cuda.max_memory_allocated`` on CUDA; on CPU it is the process's peak resident set
(VmHWM, reset through /proc/self/clear_refs before each method's memory pass), reported both
absolute and above the resident set when the pass began.

The JSON goes to ``results/bench/<device>.json`` ("cpu", "cuda-h100", ...), merged with what is
there: ``models.<name>`` holds settings, per-method throughput and memory, and ``ratios``
(``masked_over_dense``, ``masked_over_torch_prune``, ``masked_over_study``: throughput of (b)
over that of (a), (c), (d)).  The shapes, batches, peak memory and JSON merging are
bench_setup.py's (shared with the other benchmarks).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import baselines as B  # noqa: E402
import torch  # noqa: E402
from bench_setup import SIZES, PeakMemory, device_name, load_train_split, merge_json, sync  # noqa: E402

from lthlib.core.config import PruneConfig  # noqa: E402

METHODS = ("dense", "masked", "masked_prebatched", "torch_prune", "study")
LABELS = {"dense": "(a) dense", "masked": "(b) lthlib masked", "masked_prebatched": "(b') masked, pre-made batches",
          "torch_prune": "(c) torch.nn.utils.prune", "study": "(d) study numpy-grad"}
TARGETS = {"masked_over_dense": 0.95, "masked_over_torch_prune": 1.0, "masked_over_study": 5.0}


# ---------------------------------------------------------------------------------------------
# the methods: each a (setup, one pass over the batches) pair
# ---------------------------------------------------------------------------------------------

def build(size: str, model_name: str, vocab: int, n_classes: int, device: torch.device, seed: int = 0):
    from lthlib.nets.models import build_model
    spec = SIZES[size][model_name]
    model = build_model(spec["model"], max(spec["vocab"], vocab), n_classes, init_seed=seed)
    return model.to(device)


def magnitude_masks(model: torch.nn.Module, sparsity: float, prune_cfg: PruneConfig):
    from lthlib.nets.masks import full_masks, magnitude_prune, prunable_names
    names = prunable_names(model, prune_cfg)
    state = {k: v.detach() for k, v in model.state_dict().items()}
    return magnitude_prune(state, full_masks(model, names), sparsity, prune_cfg.scope)


def lthlib_masked_pass(model, optimizer, apply, batches, device, use_bf16):
    """One epoch of lthlib.experiment.train.train_model: its own train_epoch, read back once."""
    from lthlib.experiment.train import train_epoch
    loss_sum, _ = train_epoch(model, optimizer, apply, batches, use_bf16)
    return loss_sum.item()


class Method:
    def __init__(self, name: str, run: Callable[[], object] | None, status: str = "ok"):
        self.name, self.run, self.status = name, run, status
        self.times: list[float] = []
        self.memory: dict = {}
        self.parts: dict = {}
        self.cpu_times: list[float] = []


def make_methods(args, model_name: str, device: torch.device, split, n_classes: int, vocab: int):
    from lthlib.experiment.train import Batcher, make_optimizer
    from lthlib.nets.masks import MaskApplier
    from lthlib.nets.models import flatten_rnns

    spec = SIZES[args.size][model_name]
    torch.manual_seed(0)
    template = build(args.size, model_name, vocab, n_classes, torch.device("cpu"))
    prune_cfg = PruneConfig()
    masks = magnitude_masks(template, args.sparsity, prune_cfg)
    on_cpu = getattr(template, "lengths_on_cpu", False)
    batcher = Batcher(split, args.batch_size, device, max_len=spec["max_len"], lengths_on_cpu=on_cpu)
    order = batcher.train_order(seed=1)[: args.batches]
    batches = list(batcher.iterate(order))  # the very batches (b) sees, made before timing
    n_samples = sum(int(b[2].shape[0]) for b in batches)
    n_tokens = sum(int(b[0].numel()) for b in batches)
    use_bf16 = args.bf16 and device.type == "cuda"
    amp = lambda: torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_bf16)  # noqa: E731

    def loss_fn(logits, labels):
        return B.loss_of(logits.float(), labels)

    def fresh(masked: bool):
        m = copy_model(template).to(device)
        flatten_rnns(m)
        if masked:
            B.apply_masks_(m, masks)
        return m

    def adam(params):
        return make_optimizer(params, 1e-3)  # every method gets train_model's (fused) Adam

    class AmpModel(torch.nn.Module):  # autocast around the forward for the baselines, as (b) has
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, tokens, lengths):
            with amp():
                return self.inner(tokens, lengths)

    methods = []
    # (a) dense
    m_a = fresh(False)
    opt_a = adam(m_a.parameters())
    methods.append(Method("dense", lambda: B.dense_epoch(AmpModel(m_a), batches, opt_a, loss_fn)))
    # (b) lthlib: live Batcher + fused MaskApplier, train_model's loop
    m_b = fresh(False)
    opt_b = adam(m_b.parameters())
    apply_b = MaskApplier(m_b, masks)
    apply_b()
    methods.append(Method("masked", lambda: lthlib_masked_pass(
        m_b, opt_b, apply_b, batcher.iterate(order), device, use_bf16)))
    methods[-1].parts = {"apply": apply_b, "optimizer": opt_b, "batcher": batcher, "order": order}
    # (b') the same on the pre-made batches
    m_b2 = fresh(False)
    opt_b2 = adam(m_b2.parameters())
    apply_b2 = MaskApplier(m_b2, masks)
    apply_b2()
    methods.append(Method("masked_prebatched", lambda: lthlib_masked_pass(
        m_b2, opt_b2, apply_b2, batches, device, use_bf16)))
    # (c) torch.nn.utils.prune
    m_c = fresh(True)
    try:
        B.apply_torch_prune(m_c, masks)
        opt_c = adam(m_c.parameters())
        methods.append(Method("torch_prune", lambda: B.torch_prune_epoch(AmpModel(m_c), batches, opt_c, loss_fn)))
    except B.PruneUnsupported as exc:
        methods.append(Method("torch_prune", None, f"not supported: {exc}"))
    # (d) the study's numpy gradients
    m_d = fresh(True)
    opt_d = adam(m_d.parameters())
    masks_np = B.numpy_masks(m_d, masks)
    methods.append(Method("study", lambda: B.study_epoch(AmpModel(m_d), batches, opt_d, masks_np, loss_fn)))

    info = {"n_samples_per_pass": n_samples, "n_batches": len(batches), "padded_tokens_per_pass": n_tokens,
            "mean_padded_len": n_tokens / max(n_samples, 1),
            "n_params": sum(p.numel() for p in template.parameters()),
            "n_masked_params": int(sum(m.numel() for m in masks.values())),
            "remaining": float(sum(int(m.sum()) for m in masks.values()) / sum(m.numel() for m in masks.values())),
            "model": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(spec["model"]).items()}
            if hasattr(spec["model"], "__dict__") else str(spec["model"]),
            "model_vocab": max(spec["vocab"], vocab), "max_len": spec["max_len"]}
    return methods, info


def step_costs(methods, device: torch.device, n_batches: int, k: int = 20) -> dict:
    """Per-call cost of what (b) adds to a dense step: the MaskApplier call, and for reference
    the Adam step and the Batcher's gather per batch."""
    masked = next(m for m in methods if m.name == "masked")
    apply, opt, batcher, order = (masked.parts[k] for k in ("apply", "optimizer", "batcher", "order"))

    def clock(fn, reps):
        fn()
        sync(device)
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        sync(device)
        return (time.perf_counter() - t0) / reps * 1e3

    saved = [p.detach().clone() for p in opt.param_groups[0]["params"]]
    apply_ms = clock(apply, k)
    has_grad = all(p.grad is not None for p in opt.param_groups[0]["params"])
    if not has_grad:
        for p in opt.param_groups[0]["params"]:
            p.grad = torch.zeros_like(p)
    adam_ms = clock(opt.step, max(k // 4, 3))
    with torch.no_grad():  # undo the extra steps so later passes are unaffected in kind
        for p, v in zip(opt.param_groups[0]["params"], saved):
            p.copy_(v)
    apply()
    batcher_ms = clock(lambda: [None for _ in batcher.iterate(order)], 2) / max(n_batches, 1)
    return {"mask_apply_ms": round(apply_ms, 4), "adam_step_ms": round(adam_ms, 3),
            "batcher_ms_per_batch": round(batcher_ms, 4), "n_masked_tensors": len(apply.params)}


def copy_model(model):
    import copy
    return copy.deepcopy(model)


def timed(method: Method, device: torch.device) -> float:
    """Wall seconds of one pass; the process CPU seconds go to ``method.cpu_times``."""
    sync(device)
    c0, t0 = time.process_time(), time.perf_counter()
    method.run()
    sync(device)
    wall = time.perf_counter() - t0
    method.cpu_times.append(time.process_time() - c0)
    return wall


def bench_model(args, model_name: str, device: torch.device) -> dict:
    split, n_classes, vocab, data_desc = load_train_split(args.dataset, args.size, model_name,
                                                          args.batches * args.batch_size * 2)
    methods, info = make_methods(args, model_name, device, split, n_classes, vocab)
    print(f"\n== {model_name} ({args.size}) on {device_name(device)}: {info['n_batches']} batches x "
          f"{args.batch_size}, mean padded length {info['mean_padded_len']:.0f}, "
          f"{info['n_params']:,} params, {1 - info['remaining']:.0%} pruned ==", flush=True)
    for m in methods:  # warm-up pass, with its peak memory
        if m.run is None:
            continue
        try:
            with PeakMemory(device) as mem:
                timed(m, device)
            m.memory = {"peak_mb": round(mem.peak_mb, 1),
                        "above_start_mb": round(mem.peak_mb - mem.base_mb, 1) if mem.base_mb is not None else None,
                        "how": mem.how}
        except Exception as exc:  # noqa: BLE001 - e.g. torch.nn.utils.prune on an LSTM
            m.status, m.run = f"not supported: {type(exc).__name__}: {exc}", None
    for m in methods:
        m.cpu_times.clear()  # keep the timed passes' only
    for _ in range(args.repeats):  # interleaved timed passes
        for m in methods:
            if m.run is not None:
                m.times.append(timed(m, device))
    micro = step_costs(methods, device, info["n_batches"])
    out = {}
    for m in methods:
        med = statistics.median(m.times) if m.times else None
        out[m.name] = {"status": m.status, "label": LABELS[m.name],
                       "samples_per_s": round(info["n_samples_per_pass"] / med, 2) if med else None,
                       "seconds_per_pass_median": med,
                       "samples_per_s_best": round(info["n_samples_per_pass"] / min(m.times), 2) if m.times else None,
                       "seconds_all": m.times, "cpu_seconds_all": m.cpu_times,
                       "samples_per_cpu_s": round(info["n_samples_per_pass"] / statistics.median(m.cpu_times), 2)
                       if m.cpu_times else None, **{"memory": m.memory}}
    thr = {k: v["samples_per_s"] for k, v in out.items()}
    ratio = lambda a, b: round(thr[a] / thr[b], 3) if thr.get(a) and thr.get(b) else None  # noqa: E731
    ratios = {"masked_over_dense": ratio("masked", "dense"),
              "masked_over_torch_prune": ratio("masked", "torch_prune"),
              "masked_over_study": ratio("masked", "study")}
    cpu_thr = {k: v["samples_per_cpu_s"] for k, v in out.items()}
    cratio = lambda a, b: round(cpu_thr[a] / cpu_thr[b], 3) if cpu_thr.get(a) and cpu_thr.get(b) else None  # noqa: E731
    ratios_cpu = {"masked_over_dense": cratio("masked", "dense"),
                  "masked_over_torch_prune": cratio("masked", "torch_prune"),
                  "masked_over_study": cratio("masked", "study")}
    extra = {"prebatched_over_dense": ratio("masked_prebatched", "dense"),
             "masked_over_prebatched": ratio("masked", "masked_prebatched")}
    if out["dense"]["seconds_per_pass_median"]:
        per_batch = out["dense"]["seconds_per_pass_median"] / info["n_batches"]
        micro["dense_seconds_per_batch"] = per_batch
        micro["mask_apply_share_of_dense_batch"] = round(micro["mask_apply_ms"] / 1e3 / per_batch, 5)
        extra["expected_masked_over_dense"] = round(1 / (1 + micro["mask_apply_share_of_dense_batch"]), 4)
    settings = {"size": args.size, "dataset": args.dataset, "data": data_desc, "batch_size": args.batch_size,
                "batches": args.batches, "repeats": args.repeats, "warmup_passes": 1,
                "sparsity": args.sparsity, "bf16": bool(args.bf16 and device.type == "cuda"),
                "optimizer": "Adam lr 1e-3, fused (lthlib.experiment.train.make_optimizer)",
                "threads": torch.get_num_threads(), "flush_denormal": bool(args.flush_denormal),
                "load_average_1m_at_end": round(os.getloadavg()[0], 2), **info}
    print_table(model_name, out, ratios, extra)
    if device.type == "cpu":
        print("  by process CPU time (robust to other processes on a shared machine): "
              + ", ".join(f"{k} {v}" for k, v in ratios_cpu.items()))
    print(f"  micro: MaskApplier {micro['mask_apply_ms']:.2f} ms, Adam step {micro['adam_step_ms']:.2f} ms, "
          f"Batcher {micro['batcher_ms_per_batch']:.2f} ms per batch")
    return {"settings": settings, "methods": out, "ratios": ratios,
            "diagnostics": {**extra, "ratios_by_cpu_time": ratios_cpu, "micro": micro}}


def print_table(model_name: str, out: dict, ratios: dict, extra: dict) -> None:
    print(f"{'method':<32} {'samples/s':>10} {'s/pass':>8} {'cpu s/pass':>10} {'peak MB':>9} {'+MB':>7}  status")
    for r in out.values():
        thr = f"{r['samples_per_s']:.1f}" if r["samples_per_s"] else "-"
        sec = f"{r['seconds_per_pass_median']:.3f}" if r["seconds_per_pass_median"] else "-"
        mem = r["memory"] or {}
        peak = f"{mem['peak_mb']:.0f}" if mem.get("peak_mb") is not None else "-"
        above = f"{mem['above_start_mb']:.0f}" if mem.get("above_start_mb") is not None else "-"
        cpu = f"{statistics.median(r['cpu_seconds_all']):.3f}" if r["cpu_seconds_all"] else "-"
        print(f"{r['label']:<32} {thr:>10} {sec:>8} {cpu:>10} {peak:>9} {above:>7}  {r['status']}")
    for key, value in ratios.items():
        target = TARGETS[key]
        flag = "" if value is None else ("  (meets the GPU target)" if value >= target else "  (below the GPU target)")
        print(f"  {key:<26} {('-' if value is None else f'{value:.3f}'):>7}   target >= {target}{flag}")
    for key, value in extra.items():
        print(f"  {key:<26} {('-' if value is None else f'{value:.3f}'):>7}   (diagnostic)")


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="cnn,lstm")
    ap.add_argument("--dataset", default="synthetic", choices=("synthetic", "imdb"))
    ap.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    ap.add_argument("--size", default=None, choices=("small", "paper"),
                    help="model shapes (default: small on CPU, paper on CUDA)")
    ap.add_argument("--batches", type=int, default=None, help="batches per timed pass (default 30 CPU, 200 CUDA)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--sparsity", type=float, default=0.8)
    ap.add_argument("--no-bf16", dest="bf16", action="store_false", help="CUDA: fp32 instead of bf16 autocast")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch CPU threads (default 1 on CPU: on a shared 2-core machine, 2 OpenMP "
                         "threads spin against other processes and ran 15-20x slower)")
    ap.add_argument("--flush-denormal", action="store_true",
                    help="CPU: torch.set_flush_denormal(True) (tests the Adam-on-zeros slowdown)")
    ap.add_argument("--out", default=None, help="JSON path (default results/bench/<device>.json)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda asked for, but CUDA is not available")
    args.size = args.size or ("paper" if device.type == "cuda" else "small")
    args.batches = args.batches or (200 if device.type == "cuda" else 30)
    if args.threads is None and device.type == "cpu":
        args.threads = 1
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.flush_denormal:
        torch.set_flush_denormal(True)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = False  # as training runs

    name = device_name(device)
    out = Path(args.out) if args.out else ROOT / "results" / "bench" / f"{name}.json"
    results = {}
    for model_name in [m.strip() for m in args.model.split(",") if m.strip()]:
        results[model_name] = bench_model(args, model_name, device)
        payload = _payload(args, argv, device, name, results)
        if not args.no_write:  # after each model, so a long run keeps what it measured
            merge_json(out, payload)
    if not args.no_write:
        print(f"\nwrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return payload


def _payload(args, argv, device, name, results) -> dict:
    return {"device": name,
               "device_detail": torch.cuda.get_device_name(device) if device.type == "cuda" else
               f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
               f"torch threads {torch.get_num_threads()}",
               "torch": torch.__version__, "python": platform.python_version(),
               "written": time.strftime("%Y-%m-%d %H:%M:%S"),
               "command": "python benchmarks/bench_training.py " + " ".join(sys.argv[1:] if argv is None else argv),
               "models": results}


if __name__ == "__main__":
    main()
