"""What the data notebook shows of prepared datasets: split sizes, class balance, text lengths,
vocabulary and GloVe coverage per model."""
from __future__ import annotations

from typing import Any, Mapping

import pandas as pd
import torch

from .data import PreparedData
from .datasets import dataset
from .embeddings import glove_matrix
from .sources import DataUnavailable


def model_columns(model: str, data: PreparedData, model_cfg) -> dict[str, Any]:
    """What one model of a profile uses of a prepared dataset: vocabulary size, embedding, and
    for GloVe the coverage (NaN with the reason when the vectors are unavailable)."""
    cols: dict[str, Any] = {f"vocab_{model}": len(data.vocab),
                            f"embedding_{model}": (f"glove {model_cfg.embed_dim}d" if model_cfg.embedding == "glove"
                                                   else f"random {model_cfg.embed_dim}d")}
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
    """A histogram of token lengths per dataset (log x), one colour per split; returns the Figure."""
    import matplotlib.pyplot as plt
    import seaborn as sns
    fig, axes = plt.subplots(1, max(1, len(prepared)), figsize=(5.5 * max(1, len(prepared)), 3.8), squeeze=False)
    for ax, (name, data) in zip(axes[0], prepared.items()):
        frame = pd.concat([pd.DataFrame({"tokens": s.lengths().numpy(), "split": name})
                           for name, s in data.splits().items()], ignore_index=True)
        sns.histplot(data=frame, x="tokens", hue="split", log_scale=True, element="step", stat="density",
                     common_norm=False, bins=40, ax=ax)
        ax.set_title(dataset(name).display_name(data.config.protocol))
        ax.set_xlabel("length in tokens" + (f" (truncated at {data.config.max_len})" if data.config.max_len else ""))
    if not prepared:
        axes[0][0].set_axis_off()
    fig.tight_layout()
    return fig