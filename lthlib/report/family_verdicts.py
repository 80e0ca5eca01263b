"""Every model family side by side (notebook 09): the main grid's CNN and BiLSTM rows with the
family study's (:mod:`lthlib.experiment.families`), read as notebook 05 reads its own
(:func:`lthlib.report.verdicts.verdict_table`: the level chosen on validation, seed-level
intervals, Holm over the primary family)."""
from __future__ import annotations

from typing import Iterable

import pandas as pd

from ..experiment.arms import TICKET
from ..experiment.grid import Grid
from ..nets.models import MODELS
from .labels import pair_label
from .results import Results, combine, load_results
from .verdicts import answer_table, headline

FAMILY_COLUMNS = ["dataset × model", "trained", "level", "remaining %", "dense %", "ticket %", "matches dense?",
                  "θ0 matters? (vs full re-init)", "mask matters? (vs random pruning)"]


def results(main: Grid, grids: Iterable[Grid]) -> Results:
    """The store's rows of the main grid (trained by notebooks 01-03) and of the family study."""
    return combine(load_results(grid) for grid in (main, *grids))


def models_of(grids: Iterable[Grid]) -> list[str]:
    return [model for grid in grids for model in grid.models]


def _mean_acc(runs: pd.DataFrame, dataset: str, model: str, arm: str, level: int) -> float:
    rows = runs[(runs["dataset"] == dataset) & (runs["model"] == model) & (runs["level"] == level)
                & ((runs["arm"] == arm) if level else True)]
    return float(100 * rows["test_acc"].mean()) if not rows.empty else float("nan")


def family_table(verdict: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """One row per dataset × model in the registry's order of models: how it was trained, its
    level chosen on validation, dense and ticket test accuracy there (means over seeds), and the
    answer's three verdicts (:func:`lthlib.report.verdicts.answer_table`)."""
    if verdict.empty:
        return pd.DataFrame(columns=FAMILY_COLUMNS)
    order = {name: i for i, name in enumerate(MODELS.names())}
    verdict = verdict.sort_values(["model", "dataset"], key=lambda c: c.map(order) if c.name == "model" else c)
    answers = answer_table(verdict).set_index("dataset × model")
    rows = []
    for row in verdict.itertuples(index=False):
        label = pair_label(row.dataset, row.model)
        rows.append({"dataset × model": label,
                     "trained": "pretrained" if MODELS.get(row.model).pretrained is not None else "from scratch",
                     "level": int(row.level), "remaining %": round(float(row.remaining_pct), 1),
                     "dense %": round(_mean_acc(runs, row.dataset, row.model, TICKET, 0), 2),
                     "ticket %": round(_mean_acc(runs, row.dataset, row.model, TICKET, int(row.level)), 2),
                     **{c: answers.loc[label, c] for c in FAMILY_COLUMNS[6:]}})
    return pd.DataFrame(rows, columns=FAMILY_COLUMNS)


def family_headline(verdict: pd.DataFrame, grids: Iterable[Grid]) -> str:
    """The answer over every family, then which models this notebook added."""
    added = ", ".join(MODELS.get(m).display for m in dict.fromkeys(models_of(grids)))
    return f"{headline(verdict)}  (Beside the main grid's CNN and BiLSTM, this notebook trains: {added}.)"


def describe_grids(grids: Iterable[Grid]) -> str:
    """What each part of the family study ran: one line per grid."""
    return "\n".join(grid.describe() for grid in grids)


def describe_missing(res: Results) -> str:
    """Which cells of the grids have no results yet, and what to run."""
    expected = res.expected[res.expected["refused"] == ""] if "refused" in res.expected else res.expected
    done = set(res.runs["config_hash"]) if not res.runs.empty else set()
    missing = expected[~expected["config_hash"].isin(done)]
    if missing.empty:
        return "Every cell of the main grid's primary arms and of the family study has results."
    pairs = sorted(set(zip(missing["dataset"], missing["model"])))
    return (f"{len(missing)} cells have no results yet ({', '.join(pair_label(d, m) for d, m in pairs)}): the "
            f"main grid's are trained by notebooks 01-03 (`./run_all.sh --only 01,02,03`), the family study's "
            f"by this notebook.")
