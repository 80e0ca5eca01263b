"""What the data notebook shows of prepared datasets: split sizes, class balance, text lengths,
vocabulary and GloVe coverage per model.

:func:`prepare_all` prepares every dataset of a grid once (the processed cache then serves the
other notebooks); :func:`summarise` and :func:`plot_lengths` describe what it prepared.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
import torch

from ..data.datasets import dataset
from ..data.embeddings import glove_matrix
from ..data.prepare import PreparedData, prepare
from ..data.sources import DataUnavailable
from ..experiment.arms import TICKET
from ..experiment.grid import Grid
from ..machine.platform import display_path, results_dir


@dataclass
class Prepared:
    """The prepared datasets, per dataset the columns of each model, and what could not be had."""
    data: dict[str, PreparedData] = field(default_factory=dict)
    model_info: dict[str, dict[str, Any]] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)


def prepare_all(grid: Grid) -> Prepared:
    """Prepare every dataset for every model of a grid (a model may read it with another
    vocabulary), printing one line each (notebook 00 keeps them for its closing section); a dataset
    whose files cannot be had is noted, not raised."""
    out = Prepared()
    for name in grid.datasets:
        for model in grid.models:
            cfg = grid.config(name, model, TICKET, grid.seeds_of(TICKET, name)[0])
            try:
                data = prepare(cfg.data)
            except DataUnavailable as error:
                out.unavailable[name] = str(error)
                print(f"NOT PREPARED {name}: {error}")
                break
            out.data.setdefault(name, data)
            out.model_info.setdefault(name, {}).update(model_columns(model, data, cfg.model))
            print(f"{name}/{model}: train/val/test {len(data.train):,}/{len(data.val):,}/{len(data.test):,}, "
                  f"vocab {len(data.vocab):,} ({data.timings.get('total_s', 0):.1f} s, "
                  f"cached={data.timings.get('cached')})")
    return out


def model_columns(model: str, data: PreparedData, model_cfg) -> dict[str, Any]:
    """What one model of a profile uses of a prepared dataset: vocabulary size, embedding, and
    for GloVe the coverage (NaN with the reason when the vectors are unavailable)."""
    kind = model_cfg.embedding  # random | glove | pretrained (with the encoder, its WordPiece ids)
    cols: dict[str, Any] = {f"vocab_{model}": len(data.vocab),
                            f"embedding_{model}": f"{kind} {model_cfg.embed_dim}d"}
    if model_cfg.embedding == "glove":
        try:
            _, coverage = glove_matrix(data.vocab, model_cfg.embed_dim)
            cols[f"coverage_{model}"] = round(float(coverage), 4)
        except DataUnavailable as error:
            cols[f"coverage_{model}"] = float("nan")
            cols[f"coverage_note_{model}"] = str(error)
    return cols


def summarise(prepared: Mapping[str, PreparedData], model_info: Mapping[str, Mapping[str, Any]] | None = None,
              unavailable: Mapping[str, str] | None = None):
    """One row per dataset x split: n, n per class, token length mean / median / p95 (as the
    models see them: after max_len and train_subsample), plus ``model_info[dataset]`` columns
    (vocabulary sizes, GloVe coverage); datasets in ``unavailable`` get one row with the reason."""
    rows = []
    for name, data in prepared.items():
        for split_name, split in data.splits().items():
            lengths = split.lengths().double()
            row = {"dataset": name, "shown_as": dataset(name).display_name(data.config.protocol),
                   "split": split_name, "n": len(split)}
            for c, count in enumerate(split.class_counts(data.n_classes)):
                row[f"n_class_{c}"] = count
            row["class_names"] = "|".join(data.class_names)
            row.update(mean_len=round(float(lengths.mean()), 1), median_len=float(lengths.median()),
                       p95_len=round(float(torch.quantile(lengths, 0.95)), 1), max_len=data.config.max_len,
                       protocol=data.config.protocol, status="prepared")
            row.update((model_info or {}).get(name, {}))
            rows.append(row)
    for name, reason in (unavailable or {}).items():
        rows.append({"dataset": name, "split": "-", "n": None, "status": f"unavailable: {reason}"})
    table = pd.DataFrame(rows)
    for column in table.columns:
        if column in ("n", "max_len") or column.startswith(("n_class_", "vocab_")):
            table[column] = table[column].astype("Int64")   # integers, blank where missing
    return table


def plot_lengths(prepared: Mapping[str, PreparedData]):
    """A histogram of token lengths per dataset (log x, plain tick labels), one colour per split;
    returns the Figure."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from .figures import plain_log_ticks
    n = max(1, len(prepared))
    fig, axes = plt.subplots(1, n, figsize=(5.5 * n, 3.8), squeeze=False)
    for ax, (name, data) in zip(axes[0], prepared.items()):
        frame = pd.concat([pd.DataFrame({"tokens": split.lengths().numpy(), "split": split_name})
                           for split_name, split in data.splits().items()], ignore_index=True)
        sns.histplot(data=frame, x="tokens", hue="split", log_scale=True, element="step", stat="density",
                     common_norm=False, bins=40, ax=ax)
        ax.set_title(dataset(name).display_name(data.config.protocol))
        truncated = f" (truncated at {data.config.max_len})" if data.config.max_len else ""
        ax.set_xlabel("length in tokens" + truncated)
        plain_log_ticks(ax.xaxis)
    if not prepared:
        axes[0][0].set_axis_off()
    fig.tight_layout()
    return fig

def describe_coverage(summary: pd.DataFrame) -> str:
    """Why a GloVe coverage is missing, one sentence per dataset and model."""
    notes = []
    for column in [c for c in summary.columns if c.startswith("coverage_note_")]:
        for name, note in summary.dropna(subset=[column]).groupby("dataset")[column].first().items():
            notes.append(f"{name} {column.removeprefix('coverage_note_')}: GloVe coverage missing: {note}")
    return "\n".join(notes) or "No GloVe coverage is missing."


def without_notes(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary without its (long) coverage-note columns, for display."""
    return summary.drop(columns=[c for c in summary.columns if c.startswith("coverage_note_")])


def save_summary(summary: pd.DataFrame, profile: str) -> Path | None:
    """Write results/<profile>/data_summary.csv, say so, and return its path; when a selected
    dataset could not be prepared the run stops (:func:`lthlib.data.sources.require_prepared`),
    so nothing is written and a good summary stays."""
    if summary.empty or (summary["status"] != "prepared").any():
        print("data_summary.csv not saved: a selected dataset could not be prepared (below)")
        return None
    path = results_dir(profile) / "data_summary.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    summary.to_csv(path, index=False)
    print(f"saved {display_path(path)}")
    return path


def describe_splits(summary: pd.DataFrame) -> str:
    """One sentence per dataset: its split sizes and median length, as the models see them."""
    if summary.empty:
        return "No dataset selected."
    sentences = []
    for name, rows in summary.groupby("dataset", sort=False):
        if (rows["status"] != "prepared").any():
            sentences.append(f"{name}: {rows['status'].iloc[0]}.")
            continue
        sizes = " / ".join(f"{int(n):,}" for n in rows["n"])
        splits = " / ".join(rows["split"])
        medians = ", ".join(f"{m:g}" for m in rows["median_len"])
        sentences.append(f"{rows['shown_as'].iloc[0]}: {sizes} examples ({splits}), median length "
                         f"{medians} tokens.")
    return " ".join(sentences)
