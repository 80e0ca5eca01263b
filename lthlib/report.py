"""What the notebooks call: their parameters, training, results, and showing and saving what
they make.  The numbers come from :mod:`lthlib.tables` and :mod:`lthlib.stats`, the figures
from :mod:`lthlib.figures`, the sentences from :mod:`lthlib.narrative`.

- :func:`selection`     the papermill parameters as one :class:`Selection` (grid, arms, overrides)
- :func:`run_arms`      train a selection's arms (through :func:`lthlib.lottery.run_grid`); the status
- :func:`load_results`  the store's tables, restricted to the selection's configurations
- :func:`show_table`, :func:`show_figure`   display in the notebook and save under
  ``results/<profile>/tables/`` (CSV and Markdown) and ``figures/<profile>/`` (PNG)
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .arms import TICKET
from .config import ConfigError, display_path, figures_dir, results_dir
from .files import save_text
from .labels import Protocols, comparison, pair_label
from .narrative import describe_comparison, describe_status
from .selection import Results, Selection, expected_cells, load_results, selection, store
from .stats import PAIR, paired_difference
from .store import save_csv

__all__ = ["TICKET", "Results", "Selection", "comparison", "expected_cells", "load_results", "run_arms",
           "save_figure", "save_table", "selection", "show_by_pair", "show_figure",
           "show_paired_differences", "show_table", "store", "to_markdown"]

STATUS_COLUMNS = ["dataset", "model", "arm", "seed", "status", "reason", "levels_done"]


# ---------------------------------------------------------------------------------------------
# Training from a notebook
# ---------------------------------------------------------------------------------------------

def _refusal(sel: Selection, arm: str) -> str | None:
    """Why ``arm``'s configurations cannot run under the selection (None: they can)."""
    try:
        for dataset, model, seed in sel.cells(arm):
            sel.config(dataset, model, arm, seed)
    except ConfigError as error:
        return f"configuration refused: {error}"
    return None


def run_arms(sel: Selection, arms: Sequence[str] | None = None, max_level: int | None = None,
             progress: bool = False) -> pd.DataFrame:
    """Train ``arms`` (default: the selection's) over its grid, skipping what the store has;
    print what ran and return the status (one row per cell, and why a cell did not run).

    An arm whose configuration is refused (e.g. a rewind point past the end of training) does
    not stop the others: its cells are recorded in status.csv as skipped, with the reason.
    """
    from .lottery import run_grid
    st = store(sel.profile)
    frames, runnable = [], []
    for arm in arms or sel.arms:  # refuse a bad arm before anything trains, and let the others run
        reason = _refusal(sel, arm)
        if reason is None:
            runnable.append(arm)
            continue
        rows = [{"dataset": d, "model": m, "arm": arm, "seed": s, "config_hash": "", "status": "skipped",
                 "reason": reason, "levels_done": 0}
                for d, m, s in sel.cells(arm)]
        st.record_status(rows)
        frames.append(pd.DataFrame(rows))
    if runnable:  # seeds None: each arm on each dataset gets the profile's seeds, as the selection does
        frames.append(run_grid(sel.profile, datasets=sel.datasets, models=sel.models, arms=runnable,
                               seeds=None if sel.profile_seeds else sel.seeds, max_level=max_level,
                               store=st, progress=progress, **sel.overrides))
    status = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=STATUS_COLUMNS)
    print(describe_status(status, sel.protocols))
    return status[STATUS_COLUMNS]


# ---------------------------------------------------------------------------------------------
# Saving and showing
# ---------------------------------------------------------------------------------------------

def save_figure(fig, profile: str, name: str, dpi: int = 130) -> Path:
    """Write ``fig`` to figures/<profile>/<name>.png; return the path."""
    path = figures_dir(profile) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


def to_markdown(frame: pd.DataFrame, digits: int = 2) -> str:
    """A GitHub Markdown table (no tabulate dependency); floats to ``digits`` decimals."""
    def cell(v):
        if isinstance(v, (float, np.floating)):
            return "" if pd.isna(v) else f"{v:.{digits}f}"
        return str(v).replace("|", "\\|").replace("\n", " ")
    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body]) + "\n"


def save_table(frame: pd.DataFrame, profile: str, name: str) -> Path:
    """Write ``frame`` to results/<profile>/tables/<name>.csv and .md; return the CSV path."""
    folder = results_dir(profile) / "tables"
    folder.mkdir(parents=True, exist_ok=True)
    save_csv(frame, folder / f"{name}.csv")
    save_text(to_markdown(frame), folder / f"{name}.md")
    return folder / f"{name}.csv"


def _display(obj) -> None:
    try:
        from IPython.display import display
    except ImportError:  # pragma: no cover - outside IPython there is nothing to show
        print(obj.to_string() if isinstance(obj, pd.DataFrame) else obj)
        return
    display(obj)


def show_figure(fig, profile: str, name: str) -> None:
    """Save the figure (:func:`save_figure`), display it once, and close it."""
    import matplotlib.pyplot as plt
    path = save_figure(fig, profile, name)
    _display(fig)
    plt.close(fig)
    print(f"saved {display_path(path)}")


def show_table(frame: pd.DataFrame, profile: str | None = None, name: str | None = None,
               digits: int = 2) -> None:
    """Save the table when a name is given (:func:`save_table`), and display it rounded."""
    if profile is not None and name is not None:
        print(f"saved {display_path(save_table(frame, profile, name))}")
    _display(frame.round(digits) if not frame.empty else frame)


def show_by_pair(frame: pd.DataFrame, protocols: Protocols | None = None) -> None:
    """One table per dataset × model, headed by its label."""
    for (dataset, model), table in frame.groupby(PAIR, sort=False):
        print(pair_label(dataset, model, protocols))
        show_table(table.drop(columns=PAIR))


def show_paired_differences(runs: pd.DataFrame, profile: str, arms: Sequence[str], reference: str = TICKET,
                            protocols: Protocols | None = None) -> None:
    """For each arm but ``reference``: the paired difference ``reference`` minus it per level
    (saved as ``paired_<reference>_vs_<arm>``), and what it says."""
    for arm in arms:
        if arm == reference:
            continue
        print(f"{reference} - {arm}")
        show_table(paired_difference(runs, reference, arm), profile, f"paired_{reference}_vs_{arm}")
        print(describe_comparison(runs, reference, arm, protocols))
