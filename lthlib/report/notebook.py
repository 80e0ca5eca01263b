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

import contextlib
import io
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from ..core.parameters import is_parameter
from ..experiment import recipe
from ..experiment.arms import TICKET, comparison
from ..experiment.grid import Grid, selection
from ..experiment.store import Store, save_csv
from ..machine.files import save_text
from ..machine.platform import (
    COMMITTED_ENV,
    display_path,
    exploring,
    figures_dir,
    reading_committed,
    repo_path,
    report_run,
    results_dir,
)
from .labels import Protocols, arm_label, pair_label, protocols_of
from .narrative import describe_comparison, describe_status
from .results import Results
from .results import load_results as _load_results
from .stats import PAIR, paired_difference
from .words import BLANK, NO, YES, as_list, cell_text, in_words, to_markdown  # noqa: F401 (the notebooks' names)

__all__ = ["TICKET", "Grid", "NothingToShow", "Results", "answer", "closing", "comparison", "load_results", "note",
           "parameters", "readable", "require", "run_arms", "run_grid", "save_figure", "save_table", "say",
           "selection", "show_by_pair", "show_figure", "show_paired_differences", "show_table", "store",
           "to_markdown"]

STATUS_COLUMNS = ["dataset", "model", "arm", "seed", "status", "reason", "levels_done"]
#: a table longer than this is saved and named, not shown (the figure beside it shows it)
MAX_SHOWN_ROWS = 30
#: a table wider than this (in the reader's columns) shows its first ones and links the CSV
MAX_SHOWN_COLUMNS = 10
#: the run's bookkeeping (what trained, what was saved where), said once by :func:`closing`
_BOOKKEEPING: list[str] = []


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
    """The store the notebook reads (the committed one while exploring it read-only)."""
    return Store.for_reading(profile)


def nothing_trains(profile: str, table: str = "status") -> pd.DataFrame | None:
    """While a kernel explores the committed results read-only, the committed ``table`` (the
    status of what ran), noted as such; None otherwise (the notebook trains as usual)."""
    if not reading_committed():
        return None
    note(f"read-only: the committed results of `results/{profile}/` ({COMMITTED_ENV}=1); nothing trained, "
         f"and this notebook's tables and figures went to `{display_path(results_dir(profile))}`")
    return store(profile).table(table)


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
    committed = nothing_trains(grid.profile)
    if committed is not None:
        return committed.merge(grid.expected(arms)[["dataset", "model", "arm", "seed"]]).reindex(columns=STATUS_COLUMNS)
    show = showing_progress() if progress is None else progress
    status = noting_output(grid.run, arms, max_level=max_level, progress=show, executor=executor)
    note(describe_status(status, grid.protocols))
    return status[STATUS_COLUMNS]


def run_grid(grid, status_table: str = "status") -> pd.DataFrame:
    """Train another kind of grid (notebook 07's transfer grid) as :func:`run_arms` trains the
    main one: nothing while exploring the committed results read-only."""
    committed = nothing_trains(grid.profile, status_table)
    return committed if committed is not None else noting_output(grid.run, progress=showing_progress())


def noting_output(train, *args, **kwargs):
    """``train(*args, **kwargs)``, its printed lines (what trained, what was skipped and why)
    kept for the closing section: the page opens with its answer, not with the bookkeeping."""
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            return train(*args, **kwargs)
    finally:
        note(printed.getvalue())


class NothingToShow(Exception):
    """The store holds no finished run of a notebook's selection: the message says what to run."""


def require(runs: pd.DataFrame, grid) -> pd.DataFrame:
    """``runs`` when it has rows; else :class:`NothingToShow`, saying how to fill the store or
    read the committed results instead (a notebook opened on an empty store)."""
    if not runs.empty:
        return runs
    where = display_path(store(grid.profile).root)
    raise NothingToShow(
        f"The store `{where}` holds no finished run of this notebook's selection ({grid.describe()}). "
        f"Train it first (in a shell: `lth run --profile {grid.profile} --arms all`; or run notebooks 01-04 "
        f"here, which train into `{where}`), or read the committed results without training: run "
        f"`%env {COMMITTED_ENV}=1` in this kernel, then the notebook again (README: \"Exploring in JupyterLab\").")


def load_results(grid: Grid, arms: Sequence[str] | None = None) -> Results:
    """The store's tables for the grid (:func:`lthlib.report.results.load_results`);
    :class:`NothingToShow` when it holds no finished run of it."""
    results = _load_results(grid, arms)
    require(results.runs, grid)
    return results


def _show_briefly(shell, kind, error, traceback, tb_offset=None) -> None:
    _markdown(f"**Nothing to show yet.** {error}")


def _install_brief_errors() -> None:
    """In a kernel exploring (not a report run), :class:`NothingToShow` prints its message, not
    a traceback."""
    if not exploring():
        return
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return
    shell = get_ipython()
    if shell is not None and hasattr(shell, "set_custom_exc"):
        shell.set_custom_exc((NothingToShow,), _show_briefly)


_install_brief_errors()


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
    committed = nothing_trains(grid.profile)
    if committed is not None:
        path = store(grid.profile).root / "tables" / "dense_sweep.csv"
        return pd.read_csv(path) if path.exists() else pd.DataFrame()
    table = noting_output(recipe.run_sweep, grid.profile, grid.datasets, grid.models, store(grid.profile),
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


def figure_title(fig) -> str:
    """The figure's title (its suptitle, else its panels' titles), the page's alt text for it."""
    title = fig._suptitle.get_text() if getattr(fig, "_suptitle", None) is not None else ""
    panels = [ax.get_title() for ax in fig.axes if ax.get_title()]
    return title or "; ".join(panels)


def save_figure(fig, profile: str, name: str, dpi: int = 130) -> Path | None:
    """Write ``fig`` to figures/<profile>/<name>.png and return the path; None, writing nothing,
    when nothing was drawn on it."""
    if not has_content(fig):
        return None
    path = figures_dir(profile) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


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


def _display(obj, metadata: dict | None = None) -> None:
    try:
        from IPython.display import display
    except ImportError:  # pragma: no cover - outside IPython there is nothing to show
        print(obj.to_string() if isinstance(obj, pd.DataFrame) else obj)
        return
    display(obj, metadata=metadata)


def _display_frame(frame: pd.DataFrame) -> None:
    """A table without pandas' row index: HTML for the page, plain text beside it."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover
        get_ipython = None
    if get_ipython is None or get_ipython() is None:  # a shell or a script: plain text
        print(frame.to_string(index=False))
        return
    display({"text/html": frame.to_html(index=False, border=0, escape=True),
             "text/plain": frame.to_string(index=False)}, raw=True)


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
        lines = as_list(lines)
    _markdown("\n".join(lines))





def answer(text: str) -> None:
    """The notebook's answer to its question, in a few sentences computed from its results."""
    _markdown(f"**Answer.** {text}")


def note(text: str) -> None:
    """Bookkeeping (what trained, what was written), kept for the closing section, not shown here."""
    _BOOKKEEPING.extend(line.strip() for line in str(text).splitlines() if line.strip())


def _saved(path: Path | None, profile: str, what: str) -> None:
    note(f"saved {_link(path, profile)}" if path is not None else f"nothing to save: {what} is empty")


def _link(path: Path, profile: str) -> str:
    """A Markdown link to a file the notebook wrote, relative to where its page is read: the
    rendered report (reports/<profile>/) or the notebook in JupyterLab (notebooks/)."""
    page = repo_path("reports") / profile if report_run() else repo_path("notebooks")
    href = Path(os.path.relpath(Path(path).resolve(), page)).as_posix()
    return f"[`{display_path(path)}`]({href})"


#: what the closing section says of the status table
STATUS_NOTE = ("The status table lists every dataset × model × arm × seed cell this notebook asked for.  "
               "A cell marked `skipped` did not train, and the line above it says why (for example, a "
               "dataset whose files could not be had offline, or a rewind point past the end of training); "
               "such a cell is absent from the figures, never filled in.")


def closing(grid: Grid | None = None, status: pd.DataFrame | None = None) -> None:
    """The notebook's closing section, "About this run": the selection in words, the arms, what
    did not run and why, the status table, and the files written (collected by :func:`note` as
    the notebook ran, so its body reads as results)."""
    _markdown("## About this run")
    lines = []
    if grid is not None:
        from .narrative import describe_arms, describe_left_out
        lines.append(grid.describe())
        if isinstance(grid, Grid):  # the main grid; another kind (07's transfer grid) describes itself
            lines += [describe_left_out(grid), describe_arms(grid.arms)]
    lines += _BOOKKEEPING
    lines = [line for text in lines for line in str(text).splitlines() if line.strip()]
    if lines:
        say("\n".join(lines) if len(lines) > 1 else f"- {lines[0]}")
    if status is not None and not status.empty:
        show_table(status, protocols=getattr(grid, "protocols", None))
        say(STATUS_NOTE)
    _BOOKKEEPING.clear()


def show_figure(fig, profile: str, name: str) -> None:
    """Save the figure (:func:`save_figure`), display it once, and close it."""
    import matplotlib.pyplot as plt
    path = save_figure(fig, profile, name)
    _display(fig, metadata={"image/png": {"alt": figure_title(fig) or name.replace("_", " ")}})
    plt.close(fig)
    _saved(path, profile, f"figure {name}")


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
    column names in words (:func:`in_words` then writes each cell).  The saved CSV keeps the full frame."""
    out = _merge_intervals(frame, digits)
    if {"dataset", "model"} <= set(out.columns):
        names = {**protocols_of(frame), **(protocols or {})}
        pairs = [pair_label(d, m, names) for d, m in zip(out.pop("dataset"), out.pop("model"))]
        out.insert(0, "dataset × model", pairs)
        out = out.drop(columns=[c for c in ("protocol",) if c in out])
    for column in ("arm", "reference"):
        if column in out:
            out[column] = out[column].map(arm_label)
    return out.rename(columns=lambda c: str(c).replace("_", " "))


def show_table(frame: pd.DataFrame, profile: str | None = None, name: str | None = None,
               digits: int = 2, columns: Sequence[str] | None = None,
               protocols: Protocols | None = None) -> None:
    """Save the full table when a name is given (:func:`save_table`), and show it readable
    (:func:`readable`; only ``columns`` of it when given): every column, no row cut; a table
    longer than :data:`MAX_SHOWN_ROWS` is named, not shown."""
    path = save_table(frame, profile, name) if profile is not None and name is not None else None
    if name is not None and profile is not None:
        _saved(path, profile, f"table {name}")
    shown = frame[[c for c in columns if c in frame]] if columns is not None else frame
    if len(shown) > MAX_SHOWN_ROWS:
        where = _link(path, profile) if path is not None else "the CSV"
        say(f"{len(shown)} rows × {len(frame.columns)} columns: too long to read here; the full table is {where}.")
        return
    if shown.empty:
        note(f"table {name or ''} has no rows")
        return
    table = in_words(readable(shown, protocols, digits), digits)
    hidden = list(table.columns[MAX_SHOWN_COLUMNS:])
    _display_frame(table[table.columns[:MAX_SHOWN_COLUMNS]])
    more = len(frame.columns) - len(shown.columns) + len(hidden)
    if more > 0 and path is not None:
        names = f" ({', '.join(map(str, hidden))})" if hidden else ""
        say(f"{more} more columns{names} in {_link(path, profile)}.")


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
