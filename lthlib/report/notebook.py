"""What the notebooks call: their parameters, training, results, and showing and saving what
they make.  The numbers come from :mod:`lthlib.report.tables` and :mod:`lthlib.report.stats`, the
figures from :mod:`lthlib.report.figures`, the sentences from :mod:`lthlib.report.narrative`.

- :func:`selection`     the papermill parameters as one :class:`~lthlib.experiment.grid.Grid`
- :func:`parameters`    the parameters papermill injected into a notebook's namespace
- :func:`run_arms`      train a grid's arms (:meth:`~lthlib.experiment.grid.Grid.run`); the status
- :func:`load_results`  the store's tables, restricted to the grid's configurations
- :func:`show_table`, :func:`show_figure`   display in the notebook and save under
  ``results/<profile>/tables/`` (CSV and Markdown) and ``figures/<profile>/`` (PNG); the saved
  table is the full frame, the shown one :func:`readable` (names from the registries, an estimate
  and its interval in one column), and a long one only its file
- :func:`answer`, :func:`say`   the notebook's answer, and sentences, as Markdown

Where they write is :mod:`lthlib.machine.platform`'s (``<profile>-scratch`` folders while
exploring in JupyterLab), and they write only what has content: an empty table or a figure with
nothing drawn (a failed run) never replaces a good one.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..core.parameters import is_parameter
from ..experiment import recipe
from ..experiment.arms import TICKET, comparison
from ..experiment.grid import Grid, selection
from ..experiment.store import Store, save_csv
from ..machine.files import save_text
from ..machine.platform import display_path, figures_dir, repo_path, report_run, results_dir
from .labels import Protocols, arm_label, pair_label, protocols_of
from .narrative import describe_comparison, describe_status
from .results import Results, load_results
from .stats import PAIR, paired_difference

__all__ = ["TICKET", "Grid", "Results", "answer", "comparison", "load_results", "parameters", "readable",
           "run_arms", "save_figure", "save_table", "say", "selection", "show_by_pair", "show_figure",
           "show_paired_differences", "show_table", "store", "to_markdown"]

STATUS_COLUMNS = ["dataset", "model", "arm", "seed", "status", "reason", "levels_done"]
#: a table longer than this is saved and named, not shown (the figure beside it shows it)
MAX_SHOWN_ROWS = 30


# ---------------------------------------------------------------------------------------------
# Parameters and training from a notebook
# ---------------------------------------------------------------------------------------------

#: What a notebook's grid takes besides the configuration parameters: where it trains
GRID_PARAMETERS = ("executor",)


def parameters(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters set in a notebook's namespace (its parameters cell, and any papermill
    injected with ``-p``): every configuration parameter, and the grid's :data:`GRID_PARAMETERS`
    (``executor``: local, ray or slurm).  A parameter declared on a config field reaches every
    notebook without a line of the notebook changing."""
    return {name: value for name, value in namespace.items() if is_parameter(name) or name in GRID_PARAMETERS}


def store(profile: str) -> Store:
    return Store.of_profile(profile)


def showing_progress() -> bool:
    """Whether training shows a live bar: yes, except in a report run, whose saved notebook gets
    the one-line summary."""
    return not report_run()


def run_arms(grid: Grid, arms: Sequence[str] | None = None, max_level: int | None = None,
             progress: bool | None = None, executor: Any = None) -> pd.DataFrame:
    """Train ``arms`` (default: the grid's), skipping what the store has; say what ran and return
    the status (one row per cell, and why a cell did not run).  ``progress``: a live bar of the
    networks trained and left, with an ETA (default: except in a report run, whose saved
    notebook gets the one-line summary).  ``executor``: where the training runs (None: the
    grid's, which :func:`selection` took from the notebook's ``executor`` parameter)."""
    show = showing_progress() if progress is None else progress
    status = grid.run(arms, max_level=max_level, progress=show, executor=executor)
    say(describe_status(status, grid.protocols))
    return status[STATUS_COLUMNS]


def show_committed_table(profile: str, name: str, protocols: Protocols | None = None) -> None:
    """Show a table the repository keeps for ``profile`` (``results/<profile>/tables/<name>.csv``,
    not a scratch copy), e.g. the seed plan fixed before the run; say so when it has none."""
    path = repo_path("results") / profile / "tables" / f"{name}.csv"
    if not path.exists():
        say(f"The {profile!r} profile keeps no `{name}` table.")
        return
    show_table(pd.read_csv(path), protocols=protocols)


def seeds_per_dataset(grid: Grid) -> dict[str, int]:
    """dataset -> the seeds the grid's winning ticket runs on it (the primary comparisons')."""
    return {dataset: len(grid.seeds_of(TICKET, dataset)) for dataset in grid.datasets}


def run_sweep(grid: Grid) -> pd.DataFrame:
    """The dense recipe sweep of the grid's datasets and models (:mod:`lthlib.experiment.recipe`),
    trained where the store lacks it, with the grid's overrides and executor; its table.  Stops
    (ConfigError) when the sweep chose another recipe than the profile trains with."""
    table = recipe.run_sweep(grid.profile, grid.datasets, grid.models, store(grid.profile),
                             overrides=grid.overrides, executor=grid.executor, progress=showing_progress())
    if not grid.overrides:  # with overrides (another budget, other data) the sweep is exploratory
        recipe.check_choice(grid.profile, table)
    return table


# ---------------------------------------------------------------------------------------------
# Saving and showing
# ---------------------------------------------------------------------------------------------

def has_content(fig) -> bool:
    """Whether anything was drawn on the figure (a failed run leaves empty axes)."""
    return any(ax.has_data() or ax.images or ax.texts for ax in fig.axes)


def save_figure(fig, profile: str, name: str, dpi: int = 130) -> Path | None:
    """Write ``fig`` to figures/<profile>/<name>.png and return the path; None, writing nothing,
    when nothing was drawn on it."""
    if not has_content(fig):
        return None
    path = figures_dir(profile) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


def to_markdown(frame: pd.DataFrame, digits: int = 2) -> str:
    """A GitHub Markdown table (no tabulate dependency); floats to ``digits`` decimals, or to
    ``digits`` significant figures where that would print a non-zero value as 0 (a learning
    rate of 0.002, a p-value of 0.0004)."""
    def cell(v):
        if isinstance(v, (float, np.floating)):
            if pd.isna(v):
                return ""
            return f"{v:.{digits}g}" if 0 < abs(v) < 10 ** -digits else f"{v:.{digits}f}"
        return str(v).replace("|", "\\|").replace("\n", " ")
    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body]) + "\n"


def save_table(frame: pd.DataFrame, profile: str, name: str) -> Path | None:
    """Write ``frame`` to results/<profile>/tables/<name>.csv and .md and return the CSV path;
    None, writing nothing, when the frame is empty."""
    if frame.empty:
        return None
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


def _markdown(text: str) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import Markdown
    except ImportError:  # pragma: no cover
        get_ipython = None
    if get_ipython is None or get_ipython() is None:
        print(text)
        return
    _display(Markdown(text))


def say(text: str) -> None:
    """Sentences as Markdown (a paragraph; several lines become a list), not monospace print."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    if len(lines) > 1:
        lines = [line if line.startswith("- ") else f"- {line}" for line in lines]
    _markdown("\n".join(lines))


def answer(text: str) -> None:
    """The notebook's answer to its question, in a few sentences computed from its results."""
    _markdown(f"**Answer.** {text}")


def _saved(path: Path | None, what: str) -> None:
    say(f"saved `{display_path(path)}`" if path is not None else f"nothing to save: {what} is empty")


def show_figure(fig, profile: str, name: str) -> None:
    """Save the figure (:func:`save_figure`), display it once, and close it."""
    import matplotlib.pyplot as plt
    path = save_figure(fig, profile, name)
    _display(fig)
    plt.close(fig)
    _saved(path, f"figure {name}")


def _interval(estimate, low, high, digits: int) -> str:
    if pd.isna(estimate):
        return ""
    if pd.isna(low) or pd.isna(high):
        return f"{estimate:+.{digits}f}"
    return f"{estimate:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"


def _half_width(estimate, half, digits: int) -> str:
    if pd.isna(estimate):
        return ""
    return f"{estimate:.{digits}f}" if pd.isna(half) else f"{estimate:.{digits}f} ± {half:.{digits}f}"


def _merge_intervals(frame: pd.DataFrame, digits: int) -> pd.DataFrame:
    """Each estimate with its interval in one column: ``x`` with ``x_text``, ``x_low``/``x_high``
    (``diff`` with ``ci_low``/``ci_high``) or ``x_ci`` (a half-width)."""
    out = frame.copy()
    for column in list(frame.columns):
        low, high = (("ci_low", "ci_high") if column == "diff" else (f"{column}_low", f"{column}_high"))
        if f"{column}_text" in out:
            out[column] = out.pop(f"{column}_text")
            out = out.drop(columns=[c for c in (f"{column}_ci", f"{column}_std") if c in out])
        elif low in out and high in out:
            out[column] = [_interval(*v, digits) for v in zip(out[column], out.pop(low), out.pop(high))]
        elif f"{column}_ci" in out:
            out[column] = [_half_width(*v, digits) for v in zip(out[column], out.pop(f"{column}_ci"))]
    return out.drop(columns=[c for c in ("t_low", "t_high") if c in out])


def readable(frame: pd.DataFrame, protocols: Protocols | None = None, digits: int = 2) -> pd.DataFrame:
    """A table as a reader sees it: dataset × model as one label from the registries (under its
    split protocol), arms by their display names, each estimate with its interval in one column,
    numbers rounded, column names in words.  The saved CSV keeps the full frame."""
    out = _merge_intervals(frame, digits)
    if {"dataset", "model"} <= set(out.columns):
        names = {**protocols_of(frame), **(protocols or {})}
        pairs = [pair_label(d, m, names) for d, m in zip(out.pop("dataset"), out.pop("model"))]
        out.insert(0, "dataset × model", pairs)
        out = out.drop(columns=[c for c in ("protocol",) if c in out])
    for column in ("arm", "reference"):
        if column in out:
            out[column] = out[column].map(arm_label)
    out = out.round(digits)
    return out.rename(columns=lambda c: str(c).replace("_", " "))


def show_table(frame: pd.DataFrame, profile: str | None = None, name: str | None = None,
               digits: int = 2, columns: Sequence[str] | None = None,
               protocols: Protocols | None = None) -> None:
    """Save the full table when a name is given (:func:`save_table`), and show it readable
    (:func:`readable`; only ``columns`` of it when given): every column, no row cut; a table
    longer than :data:`MAX_SHOWN_ROWS` is named, not shown."""
    path = save_table(frame, profile, name) if profile is not None and name is not None else None
    if name is not None and profile is not None:
        _saved(path, f"table {name}")
    shown = frame[[c for c in columns if c in frame]] if columns is not None else frame
    if len(shown) > MAX_SHOWN_ROWS:
        where = f"`{display_path(path)}`" if path is not None else "the CSV"
        say(f"{len(shown)} rows × {len(frame.columns)} columns: too long to read here; the full table is {where}.")
        return
    more = len(frame.columns) - len(shown.columns)
    with pd.option_context("display.max_columns", None, "display.max_rows", None, "display.width", None,
                           "display.max_colwidth", None):
        _display(readable(shown, protocols, digits) if not shown.empty else shown)
    if more > 0 and path is not None:
        say(f"{more} more columns in `{display_path(path)}`.")


def show_by_pair(frame: pd.DataFrame, protocols: Protocols | None = None) -> None:
    """One table per dataset × model, headed by its label."""
    for (dataset, model), table in frame.groupby(PAIR, sort=False):
        _markdown(f"**{pair_label(dataset, model, protocols)}**")
        show_table(table.drop(columns=PAIR))


def show_paired_differences(runs: pd.DataFrame, profile: str, arms: Sequence[str], reference: str = TICKET,
                            protocols: Protocols | None = None) -> None:
    """For each arm but ``reference``: the paired difference ``reference`` minus it per level
    (saved as ``paired_<reference>_vs_<arm>``), and what it says."""
    for arm in arms:
        if arm == reference:
            continue
        _markdown(f"**{arm_label(reference)} − {arm_label(arm)}**")
        show_table(paired_difference(runs, reference, arm), profile, f"paired_{reference}_vs_{arm}",
                   protocols=protocols)
        say(describe_comparison(runs, reference, arm, protocols))
