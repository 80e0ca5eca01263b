"""What the networks are made of: parameters per tensor, which of them the masks prune, and the
totals beside the reproduced study's counts."""
from __future__ import annotations

import pandas as pd

from ..data.prepare import prepared
from ..data.sources import DataUnavailable
from ..experiment.arms import TICKET
from ..experiment.grid import Grid
from ..nets.masks import prunable_names
from ..nets.models import MODELS, build_model
from .labels import pair_label
from .stats import PAIR
from .tables import study_table

SUMMARY_COLUMNS = ["dataset", "model", "tensor", "shape", "n_params", "prunable"]


def model_summary(grid: Grid, dataset: str, model: str) -> pd.DataFrame:
    """Parameter counts per tensor of the network a grid builds (on the prepared data's
    vocabulary), whether each is prunable under the configuration, and two total rows."""
    cfg = grid.config(dataset, model, TICKET, grid.seeds_of(TICKET, dataset)[0])
    data = prepared(cfg.data, progress=False)
    net = build_model(cfg.model, len(data.vocab), data.n_classes, init_seed=0)
    prunable = set(prunable_names(net, cfg.prune))
    rows = [{"dataset": dataset, "model": model, "tensor": name, "shape": "×".join(map(str, p.shape)),
             "n_params": int(p.numel()), "prunable": name in prunable}
            for name, p in net.named_parameters()]
    n_prunable = int(sum(r["n_params"] for r in rows if r["prunable"]))
    rows.append({"dataset": dataset, "model": model, "tensor": "total", "shape": "",
                 "n_params": int(sum(r["n_params"] for r in rows)), "prunable": ""})
    rows.append({"dataset": dataset, "model": model, "tensor": "total prunable", "shape": "",
                 "n_params": n_prunable, "prunable": ""})
    return pd.DataFrame(rows)


def model_summaries(grid: Grid) -> tuple[pd.DataFrame, str]:
    """:func:`model_summary` for every dataset × model of a grid, and a sentence on those
    whose data cannot be had."""
    frames, notes = [], []
    for dataset, model in grid.pairs():
        try:
            frames.append(model_summary(grid, dataset, model))
        except DataUnavailable as error:
            notes.append(f"{pair_label(dataset, model, grid.protocols)}: no model summary, "
                         f"the data is unavailable: {error}")
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=SUMMARY_COLUMNS)
    return table, "\n".join(notes) or "Every dataset × model of the grid has a model summary."


def parameter_totals(summary: pd.DataFrame) -> pd.DataFrame:
    """Total and prunable parameter counts per dataset × model, the embedding's share of them
    (what a re-initialisation that keeps a pretrained embedding keeps), beside the study's."""
    columns = [*PAIR, "n_params", "n_prunable", "n_embedding", "embedding_share", "study_n_params",
               "study_embedding_share"]
    if summary.empty:
        return pd.DataFrame(columns=columns)
    total = summary[summary["tensor"] == "total"][[*PAIR, "n_params"]]
    prunable = summary[summary["tensor"] == "total prunable"][[*PAIR, "n_params"]]
    embedding = summary[summary["tensor"] == "embedding.weight"][[*PAIR, "n_params"]]
    total = total.merge(prunable.rename(columns={"n_params": "n_prunable"}), on=PAIR, how="left")
    total = total.merge(embedding.rename(columns={"n_params": "n_embedding"}), on=PAIR, how="left")
    total["embedding_share"] = total["n_embedding"] / total["n_params"]
    total = total.merge(study_table()[[*PAIR, "study_n_params"]], on=PAIR, how="left")
    study_embedding = total["model"].map(lambda m: (MODELS.get(m).paper_max_vocab + 2) * MODELS.get(m).paper.embed_dim)
    total["study_embedding_share"] = study_embedding / total["study_n_params"]
    return total[columns]
