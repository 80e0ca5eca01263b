"""What a ticket saves when deployed: the tables of notebook 08, from the two tables
:func:`lthlib.deploy.measure.measure_savings` writes (``levels``: one row per level;
``forms``: one row per level and form).  The report reads those tables only, never weights.

- :func:`size_table`     per level and file form: bytes, with zstd, against the dense checkpoint
- :func:`latency_table`  per level and runtime: p50 and p95 at batch 1 and 64, against dense PyTorch
- :func:`best_tickets`   per dataset × model, the smallest and the fastest form within the
  accuracy budget (:data:`BUDGET_POINTS` of dense on validation)
- :func:`savings_summary`  the numbers the sentences are made of, per dataset × model

Accuracy budget: a (level, form) is deployable when its **validation** accuracy, measured on
the exported form itself, is at most :data:`BUDGET_POINTS` below the dense network's
(``dense_fp32`` at level 0, the same seed's).  Those are the weights a level keeps
(``final.pt``, after its last epoch), so neither the test set nor the best-validation epoch
(whose weights the store does not keep; runs.csv's ``best_val_acc``) chooses the ticket.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .stats import PAIR

BUDGET_POINTS = 1.0
DENSE_FORM = "dense_fp32"
#: every form, as the tables and figures name it
FORM_LABELS = {
    "dense_fp32": "dense fp32 (torch.save)",
    "sparse_fp32": "sparse fp32",
    "sparse_fp32_csr": "sparse fp32, Linear as CSR",
    "sparse_fp16": "sparse fp16",
    "onnx_fp32": "ONNX fp32",
    "onnx_int8": "ONNX int8",
}
#: the forms that are files of their own (the CSR runtime loads the sparse fp32 file)
FILE_FORMS = ("dense_fp32", "sparse_fp32", "sparse_fp16", "onnx_fp32", "onnx_int8")
#: the forms that hold the stored network's fp32 weights (their predictions must be its own)
FP32_FORMS = ("sparse_fp32", "sparse_fp32_csr", "onnx_fp32")
#: the forms whose latency is measured (a runtime each)
TIMED_FORMS = ("dense_fp32", "sparse_fp32_csr", "onnx_fp32", "onnx_int8")
BATCHES = (1, 64)


#: each timed form as the runtime it is timed in
RUNTIME_LABELS = {"dense_fp32": "PyTorch, dense", "sparse_fp32_csr": "PyTorch, Linear layers as CSR",
                  "onnx_fp32": "onnxruntime fp32", "onnx_int8": "onnxruntime int8"}


def form_label(form: str) -> str:
    return FORM_LABELS.get(form, form)


def runtime_label(form: str) -> str:
    return RUNTIME_LABELS.get(form, form_label(form))


#: one measured network per dataset × model × seed
NETWORK = [*PAIR, "seed"]


def _dense_row(forms: pd.DataFrame) -> pd.DataFrame:
    """Per dataset × model × seed, the dense network's fp32 row (level 0)."""
    dense = forms[(forms["level"] == 0) & (forms["form"] == DENSE_FORM)]
    return dense.set_index(NETWORK)


def with_dense(forms: pd.DataFrame) -> pd.DataFrame:
    """``forms`` with the dense fp32 network's bytes, accuracies and latencies beside each row
    (``dense_*`` columns) and the differences in points (``val_diff``, ``test_diff``)."""
    dense = _dense_row(forms)
    keep = ["bytes", "zstd_bytes", "val_acc", "test_acc", *[c for c in forms.columns if c.startswith("latency_")]]
    out = forms.join(dense[keep].add_prefix("dense_"), on=NETWORK)
    out["val_diff"] = 100 * (out["val_acc"] - out["dense_val_acc"])
    out["test_diff"] = 100 * (out["test_acc"] - out["dense_test_acc"])
    out["within_budget"] = out["val_diff"] >= -BUDGET_POINTS
    return out


def size_table(forms: pd.DataFrame) -> pd.DataFrame:
    """Per dataset × model × level × file form: % remaining, bytes, bytes with zstd, and how many
    times smaller than the dense fp32 checkpoint (plain) each is; test accuracy (%)."""
    table = with_dense(forms[forms["form"].isin(FILE_FORMS)])
    return pd.DataFrame({
        **{c: table[c] for c in (*PAIR, "level")}, "remaining": 100 * table["remaining"],
        "form": table["form"].map(form_label), "kib": table["bytes"] / 1024, "zstd_kib": table["zstd_bytes"] / 1024,
        "times_smaller": table["dense_bytes"] / table["bytes"],
        "times_smaller_zstd": table["dense_bytes"] / table["zstd_bytes"],
        "test_acc": 100 * table["test_acc"], "agreement": 100 * table["agreement"]}).reset_index(drop=True)


def latency_table(forms: pd.DataFrame) -> pd.DataFrame:
    """Per dataset × model × level × runtime: latency p50 and p95 (ms) at each batch size, and the
    p50 speed-up over dense PyTorch at level 0."""
    table = with_dense(forms[forms["form"].isin(TIMED_FORMS)])
    out = {**{c: table[c] for c in (*PAIR, "level")}, "remaining": 100 * table["remaining"],
           "runtime": table["form"].map(runtime_label)}
    for batch in BATCHES:
        p50, p95 = f"latency_b{batch}_p50_ms", f"latency_b{batch}_p95_ms"
        out.update({f"b{batch}_p50_ms": table[p50], f"b{batch}_p95_ms": table[p95],
                    f"b{batch}_speedup": table[f"dense_{p50}"] / table[p50]})
    out["test_acc"] = 100 * table["test_acc"]
    return pd.DataFrame(out).reset_index(drop=True)


def best_tickets(forms: pd.DataFrame) -> pd.DataFrame:
    """Per dataset × model: the smallest file (with zstd) and the fastest runtime (batch-1 p50)
    among the (level, form)s within the accuracy budget, beside dense.  Dense itself is always
    within it, so every pair has an answer (dense, when no pruned level keeps its accuracy)."""
    table = with_dense(forms)
    rows = []
    for (dataset, model), group in table.groupby(PAIR, sort=True):
        ok = group[group["within_budget"]]
        choices = {"smallest (zstd bytes)": ok[ok["form"].isin(FILE_FORMS)].nsmallest(1, "zstd_bytes"),
                   "fastest (batch 1, p50)": ok[ok["form"].isin(TIMED_FORMS)].nsmallest(1, "latency_b1_p50_ms")}
        for criterion, chosen in choices.items():
            if chosen.empty:
                continue
            row = chosen.iloc[0]
            rows.append({"dataset": dataset, "model": model, "criterion": criterion, "level": int(row["level"]),
                         "remaining": 100 * row["remaining"], "form": form_label(row["form"]),
                         "zstd_kib": row["zstd_bytes"] / 1024,
                         "times_smaller": row["dense_bytes"] / row["zstd_bytes"],
                         "b1_p50_ms": row["latency_b1_p50_ms"],
                         "b1_speedup": row["dense_latency_b1_p50_ms"] / row["latency_b1_p50_ms"],
                         "val_diff": row["val_diff"], "test_acc": 100 * row["test_acc"], "test_diff": row["test_diff"]})
    return pd.DataFrame(rows)


#: what notebook 08 shows of the summary (the CSV keeps every ratio)
SHOWN_SUMMARY_COLUMNS = ["dataset", "model", "level", "remaining", "flops_ratio", "sparse_fp32_x", "sparse_fp16_zstd_x",
                         "onnx_int8_zstd_x", "dense_fp32_b1_sparsity_x", "onnx_fp32_b1_sparsity_x",
                         "onnx_fp32_b1_vs_torch_x", "onnx_int8_moved_max"]


def savings_summary(levels: pd.DataFrame, forms: pd.DataFrame) -> pd.DataFrame:
    """Per dataset × model, what the sentences say, at the sparsest level measured:

    - ``embedding_share``, ``nonzero_share`` (of all weights), ``nonzero_share_no_embedding``;
    - ``flops_ratio``: dense FLOPs per example over FLOPs skipping zeros (:func:`lthlib.deploy.measure.flops`);
    - ``<form>_x`` and ``<form>_zstd_x``: how many times smaller than the dense fp32 checkpoint;
    - ``<form>_b<batch>_sparsity_x``: that runtime's p50 on the dense network over its p50 on the
      sparsest (> 1: sparsity made it faster); ``<form>_b<batch>_vs_torch_x``: dense PyTorch's
      p50 over that runtime's on the sparsest level;
    - over every level: ``fp32_agreement_min`` (%, the fp32 forms' test predictions equal to the
      stored network's), and for int8 and fp16 the largest test accuracy move in points
      (``<form>_moved_max``) and their lowest agreement (``<form>_agreement_min``)."""
    table = with_dense(forms)
    rows = []
    for (dataset, model), group in table.groupby(PAIR, sort=True):
        last_level = int(group["level"].max())
        at = group[group["level"] == last_level].set_index("form")
        dense = group[group["level"] == 0].set_index("form")
        counts = levels[(levels["dataset"] == dataset) & (levels["model"] == model)
                        & (levels["level"] == last_level)].iloc[0]
        fp32_acc = group[group["form"] == DENSE_FORM].set_index("level")["test_acc"]
        row = {"dataset": dataset, "model": model, "level": last_level, "remaining": 100 * counts["remaining"],
               "levels": int(group["level"].nunique()),
               "embedding_share": 1 - counts["n_params_no_embedding"] / counts["n_params"],
               "nonzero_share": counts["n_nonzero"] / counts["n_params"],
               "nonzero_share_no_embedding": counts["n_nonzero_no_embedding"] / counts["n_params_no_embedding"],
               "flops_ratio": counts["flops_dense"] / counts["flops_sparse"] if counts["flops_sparse"] else np.nan,
               "fp32_agreement_min": 100 * group[group["form"].isin(FP32_FORMS)]["agreement"].min()}
        for form in FILE_FORMS:
            if form in at.index:
                row[f"{form}_x"] = at.loc[form, "dense_bytes"] / at.loc[form, "bytes"]
                row[f"{form}_zstd_x"] = at.loc[form, "dense_bytes"] / at.loc[form, "zstd_bytes"]
        for form in TIMED_FORMS:
            for batch in BATCHES:
                p50 = f"latency_b{batch}_p50_ms"
                if form in at.index and form in dense.index:
                    row[f"{form}_b{batch}_sparsity_x"] = dense.loc[form, p50] / at.loc[form, p50]
                    row[f"{form}_b{batch}_vs_torch_x"] = at.loc[form, f"dense_{p50}"] / at.loc[form, p50]
        for form in ("onnx_int8", "sparse_fp16"):
            moved = 100 * (group[group["form"] == form].set_index("level")["test_acc"] - fp32_acc)
            row[f"{form}_moved_max"] = float(moved.abs().max())
            row[f"{form}_agreement_min"] = 100 * group[group["form"] == form]["agreement"].min()
        rows.append(row)
    return pd.DataFrame(rows)
