"""What a ticket saves: counts, FLOPs, bytes on disk, accuracy and CPU latency of every form.

:func:`measure_savings` exports (:func:`lthlib.deploy.export.export_ticket`) the dense network
and every trained level of the winning ticket of one seed per (dataset, model), and measures
each form.  Two tidy tables come back (the notebook saves them under
``results/<profile>/tables/``) and ``results/bench/deploy_<profile>.json`` keeps them with the
machine they were measured on:

- ``levels``  one row per level: parameters and non-zeros, with and without the embedding;
  FLOPs per example, dense and skipping zeros (:func:`flops`); the stored accuracies.
- ``forms``   one row per level and form (:data:`FORMS`): bytes on disk and with zstd; test and
  validation accuracy; agreement of its test predictions with the stored network's and the
  largest logit difference; latency on one CPU thread at batch 1 and 64 (p50, p95).

Latency (:func:`latencies`): seeded random test examples, the same for every level and form of
a network; batch 1 runs :data:`LATENCY_EXAMPLES` examples one at a time at their own lengths,
batch 64 runs :data:`LATENCY_BATCHES` batches of 64 padded to their longest, each input
:data:`LATENCY_ROUNDS` times after one warm-up pass; p50 and p95 are over those timed calls.
Every level and runtime of a network is timed in turn within each round, so that the ratios
between them (what sparsity buys) survive a change in the machine's load; the spread is the
examples' lengths as much as the machine's noise.  The bench JSON records the load average.
"""
from __future__ import annotations

import os
import platform as host
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from ..core.config import derive_seed
from ..data.prepare import PreparedData, prepared
from ..experiment.arms import TICKET
from ..experiment.batches import Batcher
from ..experiment.grid import Grid
from ..experiment.store import Store
from ..machine.files import save_json
from ..machine.platform import cpu_threads, results_dir
from ..nets.models import predicted_class, spec_of
from .export import FILES, default_folder, export_ticket, load_ticket, trained_model
from .forms import Runner, ort_runner, torch_runner, with_csr_linears
from .stored import StoredLevel, ticket_levels

#: Each form: the file it is (a key of the manifest's files, or the dense reference), how it
#: runs, and whether its latency is timed (the fp32 sparse checkpoint rebuilt dense runs exactly
#: as the dense network, and the fp16 one is widened to fp32 on loading: neither is timed again).
FORMS = {
    "dense_fp32": ("dense_fp32_checkpoint", "PyTorch, dense", True),
    "sparse_fp32": ("sparse_fp32", "PyTorch, rebuilt dense", False),
    "sparse_fp32_csr": ("sparse_fp32", "PyTorch, Linear layers as CSR", True),
    "sparse_fp16": ("sparse_fp16", "PyTorch, rebuilt dense (fp16 values widened)", False),
    "onnx_fp32": ("onnx_fp32", "onnxruntime", True),
    "onnx_int8": ("onnx_int8", "onnxruntime, dynamic int8", True),
}
#: the forms that hold the stored network's fp32 weights: their predictions must be its own
FP32_FORMS = ("dense_fp32", "sparse_fp32", "sparse_fp32_csr", "onnx_fp32")
LATENCY_EXAMPLES = 16
LATENCY_BATCHES = 2
LATENCY_BATCH = 64
LATENCY_ROUNDS = 5


@dataclass
class Savings:
    levels: pd.DataFrame
    forms: pd.DataFrame
    seconds: float = 0.0
    settings: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Counts and FLOPs
# ---------------------------------------------------------------------------------------------

def parameter_counts(state: dict[str, torch.Tensor], embedding: str) -> dict[str, int]:
    total = {name: value.numel() for name, value in state.items()}
    nonzero = {name: int(torch.count_nonzero(value)) for name, value in state.items()}
    return {"n_params": sum(total.values()), "n_nonzero": sum(nonzero.values()),
            "n_params_no_embedding": sum(v for k, v in total.items() if k != embedding),
            "n_nonzero_no_embedding": sum(v for k, v in nonzero.items() if k != embedding)}


def weight_uses(model: torch.nn.Module, lengths: torch.Tensor) -> dict[str, float]:
    """How many times each parameter is applied per example, averaged over ``lengths`` (each
    example's number of tokens): the output layer once, an embedding not at all (a lookup, no
    arithmetic), every other parameter as the model's ``weight_uses`` hook says (a convolution
    of width k once per window, ``max(n - k + 1, 1)``; a recurrent weight once per time step and
    direction's pass, ``n``)."""
    n = lengths.to(torch.float64).clamp(min=1)
    hook = spec_of(model).weight_uses
    uses = {}
    for name, _ in model.named_parameters():
        if name == model.embedding_param:
            uses[name] = 0.0
        elif name.startswith(model.output_prefix):
            uses[name] = 1.0
        else:
            uses[name] = hook(model, name, n)
            if uses[name] is None:
                raise ValueError(f"no FLOP rule for parameter {name!r} of {type(model).__name__}")
    return uses


def flops(state: dict[str, torch.Tensor], uses: dict[str, float], skip_zeros: bool) -> float:
    """Theoretical FLOPs per example:

        FLOPs = Σ_weights 2 · n(w) · uses(w)  +  Σ_biases n(b) · uses(b)

    a multiply and an add per weight each time it is applied, an add per bias, where ``n`` is
    the tensor's size (dense) or its number of non-zeros (``skip_zeros``: a kernel that skips
    every pruned weight, which no CPU kernel here does) and ``uses`` is :func:`weight_uses`
    averaged over the test set's examples at their own lengths (truncated at the profile's
    ``max_len``; padding excluded).  Not counted, since pruning does not change them: the
    embedding lookup, ReLU and max-pooling, the LSTM's gate nonlinearities and elementwise cell
    updates."""
    total = 0.0
    for name, value in state.items():
        n = int(torch.count_nonzero(value)) if skip_zeros else value.numel()
        total += (1 if name.rpartition(".")[2].startswith("bias") else 2) * n * uses[name]
    return total


# ---------------------------------------------------------------------------------------------
# Accuracy and latency
# ---------------------------------------------------------------------------------------------

def eval_batches(split, max_len: int | None, batch_size: int = 256):
    """The split's evaluation batches as numpy (tokens, lengths), with their example indices."""
    batcher = Batcher(split, batch_size, "cpu", max_len=max_len, lengths_on_cpu=True)
    order = batcher.eval_order()
    return batcher, [(idx.numpy(), tokens.numpy(), lengths.numpy())
                     for idx, (tokens, lengths, _) in zip(order, batcher.iterate(order))]


def run_split(run: Runner, batches, n: int, n_out: int) -> np.ndarray:
    """The logits of every example of a split, in the split's order."""
    logits = np.empty((n, n_out), dtype=np.float32)
    for idx, tokens, lengths in batches:
        logits[idx] = run(tokens, lengths)
    return logits


def classes(logits: np.ndarray) -> np.ndarray:
    return predicted_class(torch.from_numpy(logits)).numpy()


def latency_inputs(data: PreparedData, max_len: int | None, seed: int) -> dict[int, list[tuple]]:
    """The inputs every form is timed on: seeded random test examples, batch 1 and batch 64."""
    batcher = Batcher(data.test, LATENCY_BATCH, "cpu", max_len=max_len, lengths_on_cpu=True)
    order = torch.randperm(len(batcher), generator=torch.Generator().manual_seed(derive_seed(seed, "latency")))
    singles = [order[i:i + 1] for i in range(min(LATENCY_EXAMPLES, len(order)))]
    size = min(LATENCY_BATCH, len(order))
    batches = [order.roll(-b * size)[:size] for b in range(LATENCY_BATCHES)]
    as_numpy = lambda order: [(t.numpy(), n.numpy()) for t, n, _ in batcher.iterate(order)]  # noqa: E731
    return {1: as_numpy(singles), LATENCY_BATCH: as_numpy(batches)}


def latencies(runners: dict, inputs: list[tuple], rounds: int | None = None) -> dict:
    """p50 and p95 of one call's wall time (ms) per runner, over ``rounds`` passes over
    ``inputs`` after one warm-up pass each.  The runners take turns within every round (their
    order rotated round to round), so a change in the machine's load reaches all of them alike
    and their ratios stay fair."""
    rounds = LATENCY_ROUNDS if rounds is None else rounds
    for run in runners.values():
        for tokens, lengths in inputs:
            run(tokens, lengths)
    keys = list(runners)
    times: dict = {key: [] for key in keys}
    for round_ in range(rounds):
        turn = round_ % len(keys)
        for key in keys[turn:] + keys[:turn]:
            run = runners[key]
            for tokens, lengths in inputs:
                start = time.perf_counter()
                run(tokens, lengths)
                times[key].append((time.perf_counter() - start) * 1e3)
    return {key: tuple(float(v) for v in np.percentile(spent, [50, 95])) for key, spent in times.items()}


# ---------------------------------------------------------------------------------------------
# One level, then the grid
# ---------------------------------------------------------------------------------------------

def form_runners(folder: Path, model: torch.nn.Module) -> dict[str, Callable[[], Runner]]:
    """How to run each form (built when asked: an ONNX session costs its load)."""
    return {
        "dense_fp32": lambda: torch_runner(model),
        "sparse_fp32": lambda: torch_runner(load_ticket(folder, "fp32")),
        "sparse_fp32_csr": lambda: torch_runner(with_csr_linears(load_ticket(folder, "fp32"))[0]),
        "sparse_fp16": lambda: torch_runner(load_ticket(folder, "fp16")),
        "onnx_fp32": lambda: ort_runner(folder / FILES["onnx_fp32"][0]),
        "onnx_int8": lambda: ort_runner(folder / FILES["onnx_int8"][0]),
    }


def form_sizes(manifest: dict, file_key: str) -> tuple[int, int]:
    if file_key == "dense_fp32_checkpoint":
        reference = manifest["reference"][file_key]
        return reference["bytes"], reference["zstd_bytes"]
    entry = manifest["files"][file_key]
    return entry["bytes"], entry["zstd"]["bytes"]


def measure_level(stored: StoredLevel, folder: Path | None = None) -> tuple[dict, list[dict], dict[str, Runner]]:
    """Export one level and measure all but latency: its ``levels`` row, its ``forms`` rows
    (latency left empty) and the runners of its timed forms."""
    folder = Path(folder) if folder is not None else default_folder(stored)
    manifest = export_ticket(stored, folder)
    cfg = stored.cfg
    data = prepared(cfg.data, progress=False)
    model = trained_model(stored)
    state = model.state_dict()
    test_batcher, test = eval_batches(data.test, cfg.data.max_len)
    _, val = eval_batches(data.val, cfg.data.max_len)
    uses = weight_uses(model, test_batcher.true_len_cpu)
    level_row = {**stored.identity(), **parameter_counts(state, model.embedding_param),
                 "flops_dense": flops(state, uses, skip_zeros=False),
                 "flops_sparse": flops(state, uses, skip_zeros=True),
                 "mean_test_length": float(test_batcher.true_len_cpu.clamp(min=1).double().mean()),
                 **{k: stored.row.get(k) for k in ("test_acc", "final_test_acc", "best_val_acc", "best_epoch",
                                                   "epochs_run")}}
    test_labels, val_labels = data.test.labels.numpy(), data.val.labels.numpy()
    reference, rows, timed = None, [], {}
    with cpu_threads(torch.device("cpu")):
        for form, build in form_runners(folder, model).items():
            file_key, runtime, is_timed = FORMS[form]
            run = build()
            logits = run_split(run, test, len(test_labels), model.n_out)
            if reference is None:  # dense_fp32 comes first: the stored network itself
                reference = logits
            predicted = classes(logits)
            size, packed = form_sizes(manifest, file_key)
            rows.append({**stored.identity(), "form": form, "runtime": runtime, "bytes": size, "zstd_bytes": packed,
                         "test_acc": float((predicted == test_labels).mean()),
                         "val_acc": float((classes(run_split(run, val, len(val_labels), model.n_out))
                                           == val_labels).mean()),
                         "agreement": float((predicted == classes(reference)).mean()),
                         "max_logit_diff": float(np.abs(logits - reference).max()) if len(logits) else 0.0,
                         **{f"latency_b{b}_{q}_ms": float("nan") for b in (1, LATENCY_BATCH) for q in ("p50", "p95")}})
            if is_timed:
                timed[form] = run
    return level_row, rows, timed


def measure_network(levels: list[StoredLevel], progress: bool = False) -> tuple[list[dict], list[dict]]:
    """Every level of one network (one dataset × model × seed): exported and measured one by
    one, then every (level, timed form) timed together (:func:`latencies`)."""
    level_rows, form_rows, runners = [], [], {}
    for stored in tqdm(levels, desc="export and measure", disable=not progress):
        level_row, rows, timed = measure_level(stored)
        level_rows.append(level_row)
        form_rows.extend(rows)
        runners.update({(stored.level, form): run for form, run in timed.items()})
    if levels:
        cfg = levels[0].cfg
        inputs = latency_inputs(prepared(cfg.data, progress=False), cfg.data.max_len, cfg.seed)
        with cpu_threads(torch.device("cpu")):
            timing = {batch: latencies(runners, batch_inputs) for batch, batch_inputs in inputs.items()}
        for row in form_rows:
            for batch, measured in timing.items():
                if (row["level"], row["form"]) in measured:
                    p50, p95 = measured[(row["level"], row["form"])]
                    row.update({f"latency_b{batch}_p50_ms": p50, f"latency_b{batch}_p95_ms": p95})
    return level_rows, form_rows


def measure_savings(grid: Grid, seed: int | None = None, store: Store | None = None,
                    progress: bool = True) -> Savings:
    """Export and measure the dense network and every trained winning-ticket level of one seed
    (``seed``, else the ticket's first seed on each dataset) for each (dataset, model) of
    ``grid``; write ``results/bench/deploy_<profile>.json``."""
    store = store or Store.of_profile(grid.profile)
    start, load_before = time.perf_counter(), os.getloadavg()[0]
    level_rows, form_rows = [], []
    for dataset, model in grid.pairs():
        chosen = grid.seeds_of(TICKET, dataset)[0] if seed is None else seed
        rows = measure_network(ticket_levels(grid, dataset, model, chosen, store), progress)
        level_rows.extend(rows[0])
        form_rows.extend(rows[1])
    settings = {**machine_settings(), "load_average_1m_before": load_before,
                "load_average_1m_after": os.getloadavg()[0]}
    savings = Savings(pd.DataFrame(level_rows), pd.DataFrame(form_rows), time.perf_counter() - start, settings)
    write_bench(savings, grid.profile)
    return savings


def machine_settings() -> dict:
    import onnxruntime
    return {"machine": host.machine(), "processor": host.processor(), "cpus": os.cpu_count(),
            "threads": 1, "torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
            "latency_examples": LATENCY_EXAMPLES, "latency_batches": LATENCY_BATCHES,
            "latency_batch": LATENCY_BATCH, "latency_rounds": LATENCY_ROUNDS}


def write_bench(savings: Savings, profile: str) -> Path:
    path = results_dir("bench") / f"deploy_{profile}.json"
    save_json({"written": time.strftime("%Y-%m-%d %H:%M:%S"), "profile": profile,
               "seconds": round(savings.seconds, 1),
               "settings": savings.settings, "levels": savings.levels.to_dict("records"),
               "forms": savings.forms.to_dict("records")}, path)
    return path
