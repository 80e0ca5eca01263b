"""What a ticket saves (notebook 08), from the tables of :mod:`lthlib.deploy.measure`: size on disk
and CPU latency, each against test accuracy, per deployable form.
"""
from __future__ import annotations

import pandas as pd

from ..labels import Protocols, pair_label
from ..savings import FILE_FORMS, TIMED_FORMS, form_label, runtime_label
from .panels import empty_figure, of_pair, pairs_of, panel_grid, plain_log_ticks, protocol_labels, shared_legend

#: one colour per deployable form (tab10's)
FORM_COLORS = {"dense_fp32": "#7f7f7f", "sparse_fp32": "#1f77b4", "sparse_fp32_csr": "#17becf",
               "sparse_fp16": "#2ca02c", "onnx_fp32": "#ff7f0e", "onnx_int8": "#d62728"}


def _through_levels(ax, rows: pd.DataFrame, x: pd.Series, color: str | None, label: str | None,
                    hollow: bool = False, line: bool = True) -> None:
    """One form's points through its levels (a line in level order), level 0 (dense) a star."""
    acc = 100 * rows["test_acc"]
    face = "white" if hollow else color
    if line:
        ax.plot(x, acc, color=color, lw=1.2, alpha=0.8, zorder=2)
    pruned, dense = rows["level"] > 0, rows["level"] == 0
    ax.scatter(x[pruned], acc[pruned], s=28, facecolor=face, edgecolor=color, linewidth=1.2, zorder=3, label=label)
    ax.scatter(x[dense], acc[dense], s=150, marker="*", facecolor=face, edgecolor=color, linewidth=1.2, zorder=4)


def _style_keys(ax, hollow: str | None = None) -> None:
    """Legend entries for the marker conventions (invisible points)."""
    ax.scatter([], [], s=150, marker="*", facecolor="grey", edgecolor="grey", label="dense network (level 0)")
    if hollow:
        ax.scatter([], [], s=28, facecolor="white", edgecolor="grey", label=hollow)


def plot_size_accuracy(forms: pd.DataFrame, title: str = "Size on disk against test accuracy",
                       protocols: Protocols | None = None):
    """Test accuracy (%) against bytes on disk (log x), one point per level and file form: filled
    and joined through the levels with zstd, hollow as written; the dense network (level 0) a
    star; the labels beside the sparse fp16 + zstd points: % of the weights remaining."""
    sub = forms[forms["form"].isin(FILE_FORMS)] if not forms.empty else forms
    pairs = pairs_of(sub)
    if not pairs:
        return empty_figure(title, "no exported tickets measured yet")
    names = protocol_labels(sub, protocols)
    fig, axes = panel_grid(pairs, title, width=5.8)
    for ax, (dataset, model) in zip(axes, pairs):
        panel = of_pair(sub, dataset, model)
        for form in FILE_FORMS:
            rows = panel[panel["form"] == form].sort_values("level")
            if rows.empty:
                continue
            color = FORM_COLORS.get(form)
            _through_levels(ax, rows, rows["zstd_bytes"] / 1024, color, form_label(form))
            _through_levels(ax, rows, rows["bytes"] / 1024, color, None, hollow=True, line=False)
            if form == "sparse_fp16":
                for x, y, left in zip(rows["zstd_bytes"] / 1024, 100 * rows["test_acc"], rows["remaining"]):
                    ax.annotate(f"{100 * left:.3g}%", (x, y), textcoords="offset points", xytext=(-4, 6),
                                fontsize=7, color=color, ha="right")
        _style_keys(ax, hollow="as written (filled: with zstd)")
        ax.set_xscale("log")
        plain_log_ticks(ax.xaxis)
        ax.set_xlabel("size on disk (KiB, log scale)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(pair_label(dataset, model, names))
    shared_legend(fig, axes, max_columns=4)
    return fig


def plot_latency_accuracy(forms: pd.DataFrame, batch: int = 1, title: str | None = None,
                          protocols: Protocols | None = None):
    """Test accuracy (%) against CPU latency at ``batch`` on one thread (p50, log x; the bar
    reaches p95), one point per level and runtime joined through the levels; the dense network
    (level 0) a star; the labels beside dense PyTorch's points: % of the weights remaining."""
    title = title or f"Latency on one CPU thread (batch {batch}) against test accuracy"
    p50, p95 = f"latency_b{batch}_p50_ms", f"latency_b{batch}_p95_ms"
    sub = forms[forms["form"].isin(TIMED_FORMS)].dropna(subset=[p50]) if not forms.empty else forms
    pairs = pairs_of(sub)
    if not pairs:
        return empty_figure(title, "no latencies measured yet")
    names = protocol_labels(sub, protocols)
    fig, axes = panel_grid(pairs, title, width=5.8)
    for ax, (dataset, model) in zip(axes, pairs):
        panel = of_pair(sub, dataset, model)
        for form in TIMED_FORMS:
            rows = panel[panel["form"] == form].sort_values("level")
            if rows.empty:
                continue
            color = FORM_COLORS.get(form)
            ax.hlines(100 * rows["test_acc"], rows[p50], rows[p95], color=color, alpha=0.35, lw=2, zorder=1)
            _through_levels(ax, rows, rows[p50], color, runtime_label(form))
            if form == TIMED_FORMS[0]:
                for x, y, left in zip(rows[p50], 100 * rows["test_acc"], rows["remaining"]):
                    ax.annotate(f"{100 * left:.3g}%", (x, y), textcoords="offset points", xytext=(-4, 6),
                                fontsize=7, color=color, ha="right")
        _style_keys(ax)
        ax.set_xscale("log")
        plain_log_ticks(ax.xaxis)
        ax.set_xlabel(f"latency per call at batch {batch} (ms, p50; bar to p95; log scale)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(pair_label(dataset, model, names))
    shared_legend(fig, axes, max_columns=3)
    return fig
