"""What the networks are made of: parameters per tensor, which of them the masks prune, and the
totals beside the reproduced study's counts."""
from __future__ import annotations

import pandas as pd

from ..data.prepare import prepared
from ..data.sources import DataUnavailable
from ..experiment.arms import TICKET
from ..experiment.grid import Grid
from ..nets.masks import prunable_names
from ..nets.models import build_model
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
    """Total and prunable parameter counts per dataset × model, beside the study's counts."""
    if summary.empty:
        return pd.DataFrame(columns=[*PAIR, "n_params", "n_prunable", "study_n_params"])
    total = summary[summary["tensor"] == "total"][[*PAIR, "n_params"]]
    prunable = summary[summary["tensor"] == "total prunable"][[*PAIR, "n_params"]]
    total = total.merge(prunable.rename(columns={"n_params": "n_prunable"}), on=PAIR, how="left")
    return total.merge(study_table()[[*PAIR, "study_n_params"]], on=PAIR, how="left")
