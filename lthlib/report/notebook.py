"""What the notebooks call: their parameters, training, results, and showing and saving what
they make.  The numbers come from :mod:`lthlib.report.tables` and :mod:`lthlib.report.stats`, the
figures from :mod:`lthlib.report.figures`, the sentences from :mod:`lthlib.report.narrative`.

- :func:`selection`     the papermill parameters as one :class:`~lthlib.experiment.grid.Grid`
- :func:`parameters`    the parameters papermill injected into a notebook's namespace
- :func:`run_arms`      train a grid's arms (:meth:`~lthlib.experiment.grid.Grid.run`); the status
- :func:`load_results`  the store's tables, restricted to the grid's configurations
- :func:`show_table`, :func:`show_figure`   display in the notebook and save under
  ``results/<profile>/tables/`` (CSV and Markdown) and ``figures/<profile>/`` (PNG)
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..core.parameters import is_parameter
from ..experiment.arms import TICKET, comparison
from ..experiment.grid import Grid, selection
from ..experiment.store import Store, save_csv
from ..machine.files import save_text
from ..machine.platform import display_path, figures_dir, results_dir
from .labels import Protocols, pair_label
from .narrative import describe_comparison, describe_status
from .results import Results, load_results
from .stats import PAIR, paired_difference

__all__ = ["TICKET", "Grid", "Results", "comparison", "load_results", "parameters", "run_arms",
           "save_figure", "save_table", "selection", "show_by_pair", "show_figure",
           "show_paired_differences", "show_table", "store", "to_markdown"]

STATUS_COLUMNS = ["dataset", "model", "arm", "seed", "status", "reason", "levels_done"]


# ---------------------------------------------------------------------------------------------
# Parameters and training from a notebook
# ---------------------------------------------------------------------------------------------

def parameters(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration parameters set in a notebook's namespace (its parameters cell, and any
    papermill injected with ``-p``): a parameter declared on a config field reaches every
    notebook without a line of the notebook changing."""
    return {name: value for name, value in namespace.items() if is_parameter(name)}


def store(profile: str) -> Store:
    return Store.of_profile(profile)


def run_arms(grid: Grid, arms: Sequence[str] | None = None, max_level: int | None = None,
             progress: bool = False, executor: Any = None) -> pd.DataFrame:
    """Train ``arms`` (default: the grid's), skipping what the store has; print what ran and
    return the status (one row per cell, and why a cell did not run).  ``executor``: where the
    training runs (None: local worker processes; a notebook builds Ray or Slurm ones with
    :func:`lthlib.run.executors.make_executor` from its ``executor`` parameter)."""
    status = grid.run(arms, max_level=max_level, progress=progress, executor=executor)
    print(describe_status(status, grid.protocols))
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
