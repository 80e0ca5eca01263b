"""The ``lth`` command: fill the results store and render the report from a shell or a batch job.

    lth run --profile quick --datasets imdb --models cnn,lstm --arms winning_ticket,random_reinit
    lth run --profile smoke --arms all --seeds 0 --max-level 2 --set epochs=2 --set rewind_point=500it
    lth report --profile quick --only 03,05 -p seeds '[0]'
    lth profiles
    lth carry --profile paper --datasets imdb --models cnn,lstm --glove-dim 50
    lth campaign --profile paper --datasets imdb --glove-dim 50 --minutes 9 --bundle paper.tar.gz
    lth bundle export --profile paper --out paper.tar.gz
    lth bundle import paper.tar.gz --profile paper
    lth export --profile quick --dataset imdb --model cnn --arm winning_ticket --seed 0 --level 3
    lth lab                      JupyterLab with the project settings (results go to <profile>-scratch)

Exit codes: 0 all done (a campaign also when it stopped at its budget: campaign.json says why);
1 something ran and failed (a notebook, a grid cell that did not run, a worker process, a source
file a carry could not get); 2 bad input (unknown profile, arm, dataset, parameter, malformed
``--set``; a bundle that is damaged, another profile's or too large; a carry over its limit;
an export of a run, level or model the store or the exporter does not have), refused before any
training; 130 interrupted (a rerun resumes where it stopped).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from .core.config import ConfigError
from .core.parameters import as_list, is_parameter
from .core.parameters import parse as parse_parameter
from .machine.executors import JobFailed
from .machine.platform import REPORT_ENV, ROOT

NOTEBOOK_PATTERN = "0*_*.ipynb"


class CommandFailed(Exception):
    """Something ran and failed (exit code 1); the message says what and where."""


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are ConfigErrors, so main prints one line and returns 2."""

    def error(self, message: str):
        raise ConfigError(f"{message} (see '{self.prog} --help')")


def _profiles() -> ModuleType:
    """:mod:`lthlib.experiment.profiles`: ``PROFILES`` (a Registry of entries with ``.name .datasets .models
    .seeds .description``), ``experiment(profile, dataset, model, arm, seed, **overrides)`` and
    ``default_profile()``.  Every profile lookup here goes through this one function.
    """
    from .experiment import profiles
    return profiles


def _profile(name: str | None):
    """The named profile's entry, or the default one for this machine."""
    profiles = _profiles()
    return profiles.PROFILES.get(name or profiles.default_profile())


# ---------------------------------------------------------------------------------------------
# Parsing values
# ---------------------------------------------------------------------------------------------

def parse_settings(pairs: list[str] | None) -> dict[str, Any]:
    """``['epochs=3', 'rewind_point=500it']`` -> ``{'epochs': 3, 'rewind_point': '500it'}``.

    Each value is parsed by :func:`lthlib.core.parameters.parse`, typed by its parameter's
    declaration (3, 0.5, true, [3, 4], text; null: unset); an unknown name or a value of the wrong
    type is a ConfigError naming it.
    """
    settings = {}
    for pair in pairs or []:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set needs key=value, got {pair!r}")
        settings[key.strip()] = parse_parameter(key.strip(), text)
    return settings


def papermill_value(text: str, name: str | None = None) -> Any:
    """A ``-p`` value: a configuration parameter's (``name``: epochs, rewind_point, ...) as
    :func:`lthlib.core.parameters.parse` reads it (None: unset); any other (datasets, seeds, arms,
    ...) as ``papermill -p`` reads it: True, False, None, an int, a float or text."""
    if name is not None and is_parameter(name):
        return parse_parameter(name, text)
    named = {"True": True, "False": False, "None": None}
    if text in named:
        return named[text]
    for cast in (int, float):
        with contextlib.suppress(ValueError):
            return cast(text)
    return text


def _seed_list(text: str | None) -> list[int] | None:
    try:
        return as_list(text, int)
    except ValueError:
        raise ConfigError(f"--seeds takes whole numbers like 0,1,2 or '[0, 1]', got {text!r}") from None


def _arm_names(text: str) -> list[str]:
    """'all' -> every arm of a dataset's grid (:func:`~lthlib.experiment.arms.all_arms`: the
    transfer arms run with ``lth transfer``); else the listed ones, each checked against the registry."""
    from .experiment.arms import ARMS, all_arms
    if text.strip() == "all":
        return list(all_arms())
    names = as_list(text) or []
    if not names:
        raise ConfigError("--arms needs at least one arm (or 'all')")
    return [ARMS.get(name).name for name in names]


# ---------------------------------------------------------------------------------------------
# lth run
# ---------------------------------------------------------------------------------------------

def _run(args: argparse.Namespace) -> int:
    grid = _grid(args)
    grid.check()  # every cell's configuration, cheap and without data: bad input fails here
    return _train(grid, args)


def _train(grid, args: argparse.Namespace) -> int:
    """Train a grid (lth run's or lth transfer's) on the executor the arguments name (built first:
    bad executor options fail before anything trains; closed after); print its status table."""
    executor = _executor(args, grid)
    try:
        table = grid.run(max_level=args.max_level, workers=args.workers, progress=True, executor=executor)
    except JobFailed as error:
        raise CommandFailed(str(error)) from None
    finally:
        getattr(executor, "close", lambda: None)()
    return _report_status(table)


def _executor(args: argparse.Namespace, grid):
    """The executor ``--executor`` names, with ``--workers`` and the cluster options given
    (:func:`lthlib.machine.executors.make_executor`); one GPU per task when the grid trains on CUDA."""
    from .machine.executors import COMMAND_LINE, make_executor
    from .machine.platform import resolve_device
    gpu = resolve_device(grid.config_value("train").device).type == "cuda"
    return make_executor(args.executor, workers=args.workers, gpu=gpu,
                         **{option: getattr(args, option) for option in COMMAND_LINE})


def _tables(args: argparse.Namespace) -> int:
    from .experiment.store import Store
    from .machine.files import DamagedFile
    from .machine.platform import display_path
    store = Store.of_profile(_profile(args.profile).name)
    try:
        store.rebuild_tables()
    except DamagedFile as error:
        raise CommandFailed(str(error)) from None
    runs = store.runs()
    print(f"{len(runs)} runs.csv rows in {display_path(store.root)}, rebuilt from the runs' metrics.json")
    return 0


def _grid(args: argparse.Namespace, **extra: Any):
    """The :class:`~lthlib.experiment.grid.Grid` of a command's arguments, every name checked
    (ConfigError if one is bad)."""
    from .experiment.grid import Grid
    arms = _arm_names(args.arms) if getattr(args, "arms", None) else None
    return Grid.of(_profile(args.profile).name, as_list(args.datasets), as_list(args.models), arms,
                   _seed_list(args.seeds), **extra, **parse_settings(args.set))


def _report_status(table) -> int:
    """Print run_grid's status table; 1 if any cell did not run."""
    if table.empty:
        print("lth: nothing to run")
        return 0
    print(table.to_string(index=False))
    not_done = table[table["status"] != "done"]
    if not_done.empty:
        return 0
    print(f"lth: {len(not_done)} of {len(table)} cells did not run (see the reason column)", file=sys.stderr)
    return 1


# ---------------------------------------------------------------------------------------------
# lth report
# ---------------------------------------------------------------------------------------------

def _report(args: argparse.Namespace) -> int:
    profile = _profile(args.profile).name
    parameters = _notebook_parameters(profile, args.p)
    notebooks = select_notebooks(ROOT / "notebooks", args.only)
    reports = Path("reports") / profile  # relative: papermill records the paths in the notebook
    start = time.time()
    os.environ[REPORT_ENV] = "1"  # the kernels write the report's folders, not a scratch one
    with contextlib.chdir(ROOT):
        reports.mkdir(parents=True, exist_ok=True)
        for notebook in notebooks:
            print(f"lth: [{profile}] {notebook.name}", flush=True)
            output = reports / notebook.name
            _execute(Path("notebooks") / notebook.name, output, parameters)
            _export_html(output)
    print(f"lth: done in {time.time() - start:.0f} s: reports/{profile}, figures/{profile}, "
          f"results/{profile}/tables")
    return 0


def _notebook_parameters(profile: str, pairs: list[list[str]] | None) -> dict[str, Any]:
    parameters = {"profile": profile}
    for name, text in pairs or []:
        if name == "profile":
            raise ConfigError("choose the profile with --profile, not -p profile")
        parameters[name] = papermill_value(text, name)
    return parameters


def select_notebooks(folder: Path, only: str | None) -> list[Path]:
    """The report's notebooks in order, or those ``only`` names by number ('03', '3') or name."""
    notebooks = sorted(folder.glob(NOTEBOOK_PATTERN))
    wanted = as_list(only)
    if not wanted:
        return notebooks
    have = ", ".join(n.stem for n in notebooks)
    unknown = [w for w in wanted if not any(_names(n, w) for n in notebooks)]
    if unknown:
        raise ConfigError(f"--only {', '.join(unknown)} matches no notebook; have: {have}")
    return [n for n in notebooks if any(_names(n, w) for w in wanted)]


def _names(notebook: Path, wanted: str) -> bool:
    return wanted in (notebook.stem, notebook.name) or wanted.zfill(2) == notebook.stem[:2]


def _execute(notebook: Path, output: Path, parameters: dict[str, Any]) -> None:
    """papermill, run in the notebooks folder; a failing cell becomes a CommandFailed saying which."""
    import papermill
    try:
        papermill.execute_notebook(str(notebook), str(output), parameters=parameters,
                                   cwd=str(notebook.parent), progress_bar=False, log_output=False)
    except papermill.PapermillExecutionError as error:
        raise CommandFailed(_failure_message(notebook.name, output, error)) from None


def _failure_message(name: str, output: Path, error) -> str:
    lines = str(error.source or "").strip().splitlines()
    return (f"notebook {name} failed at cell {error.cell_index} (In [{error.exec_count}]): "
            f"{lines[0] if lines else ''}\nlth: {error.ename}: {error.evalue}\n"
            f"lth: the executed copy with the error is {output}")


def _export_html(output: Path) -> Path:
    """The executed notebook as the reader's HTML beside it (:func:`lthlib.report.export.export_html`)."""
    from .report.export import export_html
    return export_html(output)


def _lab(args: argparse.Namespace) -> int:
    from .report.lab import main as lab
    return lab(args.jupyter_args)


# ---------------------------------------------------------------------------------------------
# lth transfer
# ---------------------------------------------------------------------------------------------

def _transfer(args: argparse.Namespace) -> int:
    from .experiment.transfer import TransferGrid
    grid = TransferGrid.of(_profile(args.profile).name, args.pairs, as_list(args.models), _seed_list(args.seeds),
                           **parse_settings(args.set))
    grid.check()  # every cell's configuration, before any data is read
    print(grid.describe())
    return _train(grid, args)


def _add_transfer(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", help="smoke, quick or paper (default: paper with a GPU, else quick)")
    parser.add_argument("--pairs", help="source>target pairs, e.g. imdb>sst2,sst2>imdb (default: the profile's)")
    parser.add_argument("--models", help="comma list or JSON list (default: the profile's)")
    parser.add_argument("--seeds", help="comma list or JSON list of integers (default: the transfer study's)")
    parser.add_argument("--max-level", type=int, help="stop at this pruning level (default: the profile's)")
    parser.add_argument("--set", action="extend", nargs="+", metavar="KEY=VALUE",
                        help="override a parameter, e.g. epochs=3 (JSON values)")
    _add_executor(parser)
    parser.set_defaults(handler=_transfer)


# ---------------------------------------------------------------------------------------------
# lth profiles
# ---------------------------------------------------------------------------------------------

def _list_profiles(args: argparse.Namespace) -> int:
    for entry in _profiles().PROFILES:
        print(f"{entry.name}: {entry.description}")
        print(f"    datasets {', '.join(entry.datasets)}; models {', '.join(entry.models)}; "
              f"seeds {', '.join(map(str, entry.seeds))}")
        for dataset, seeds in entry.dataset_seeds.items():
            print(f"    {dataset} on seeds {', '.join(map(str, seeds))}")
        for arm, seeds in entry.arm_seeds.items():
            print(f"    {arm} on seeds {', '.join(map(str, seeds))} only")
        for arm, datasets in entry.arm_datasets.items():
            print(f"    {arm} on {', '.join(datasets)} only")
    return 0


def _list_parameters(args: argparse.Namespace) -> int:
    """Every parameter (``--set name=value``, ``-p name value``): its type, default and field."""
    from .core.parameters import PARAMETERS
    for entry in PARAMETERS.values():
        where = entry.field if entry.section is None else f"{entry.section}.{entry.field}"
        print(f"{entry.name:20} {entry.type_name:22} default {entry.default!r:10} ({where})")
    return 0


# ---------------------------------------------------------------------------------------------
# lth campaign, lth bundle, lth carry
# ---------------------------------------------------------------------------------------------

def _campaign(args: argparse.Namespace) -> int:
    grid = _grid(args)
    from .run.campaign import run_campaign
    try:
        run_campaign(grid.profile, datasets=grid.datasets, models=grid.models,
                     seeds=None if grid.profile_seeds else grid.seeds, arms=grid.arms, minutes=args.minutes,
                     glove_dim=args.glove_dim, max_level=args.max_level,
                     deterministic=args.deterministic, progress=args.progress, **grid.overrides)
    except ConfigError:
        raise
    except BaseException:
        if args.bundle:  # what was trained before the failure still comes back
            with contextlib.suppress(Exception):
                _export(grid.profile, args.bundle)
        raise
    if args.bundle:
        _export(grid.profile, args.bundle)
    return 0


def _export(profile: str, out: str) -> None:
    from .run.bundle import export_bundle
    path = export_bundle(profile, out)
    print(f"lth: bundle {path} ({path.stat().st_size / 1024:.0f} KiB)")


def _bundle(args: argparse.Namespace) -> int:
    profile = _profile(args.profile).name
    if args.action == "export":
        _export(profile, args.out)
        return 0
    from .run.bundle import import_bundle
    written = import_bundle(args.path, profile)
    print(f"lth: imported {', '.join(written)} into results/{profile}")
    return 0


def _carry(args: argparse.Namespace) -> int:
    from .data.sources import DataUnavailable
    from .run.carry import DEFAULT_LIMIT_MIB, prepare_carry
    profile = _profile(args.profile).name
    limit = DEFAULT_LIMIT_MIB if args.limit_mib is None else args.limit_mib
    try:
        manifest = prepare_carry(profile, as_list(args.datasets), as_list(args.models), args.folder,
                                 seeds=_seed_list(args.seeds), glove_dim=args.glove_dim,
                                 limit_mib=limit, **parse_settings(args.set))
    except DataUnavailable as error:
        raise CommandFailed(str(error)) from None
    for item in manifest["items"]:
        state = "carried" if item["included"] else "left out"
        print(f"  {state:8} {item['bytes'] / 2**20:7.1f} MiB  {item['path']}  {item['note']}".rstrip())
    env = " ".join(f"{name}={value}" for name, value in manifest["env"].items())
    print(f"lth: {args.folder}: {manifest['total_bytes'] / 2**20:.1f} MiB of {limit:g}; "
          f"there: {env}")
    return 0


# ---------------------------------------------------------------------------------------------
# lth export
# ---------------------------------------------------------------------------------------------

def _export_ticket(args: argparse.Namespace) -> int:
    from .deploy.export import MANIFEST, default_folder, export_ticket
    from .deploy.stored import find_level
    from .machine.platform import display_path
    stored = find_level(_profile(args.profile).name, args.dataset, args.model, args.arm, args.seed, args.level,
                        glove_dim=args.glove_dim, train=args.train, **parse_settings(args.set))
    folder = Path(args.out) if args.out else default_folder(stored)
    manifest = export_ticket(stored, folder)
    reference = manifest["reference"]["dense_fp32_checkpoint"]
    rows = [("dense fp32 checkpoint (reference)", reference["bytes"], reference["zstd_bytes"]),
            *[(entry["path"], entry["bytes"], entry["zstd"]["bytes"]) for entry in manifest["files"].values()]]
    print(f"lth: {stored.label}: {manifest['run']['remaining']:.1%} of the weights remain")
    for name, size, packed in rows:
        print(f"  {name:34} {size:>12,} B   zstd {packed:>12,} B")
    print(f"lth: wrote {display_path(folder / MANIFEST)} and the files above (with their .zst copies)")
    return 0


# ---------------------------------------------------------------------------------------------
# The parser and main
# ---------------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lth", description="The Lottery Ticket Hypothesis on text classifiers.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run(commands.add_parser("run", help="train a grid of cells into the results store"))
    _add_report(commands.add_parser("report", help="execute the notebooks into reports/<profile>/"))
    _add_transfer(commands.add_parser("transfer", help="train a profile's tickets-across-datasets grid (notebook 07)"))
    tables = commands.add_parser("tables", help="rebuild results/<profile>'s tidy tables from the runs' files")
    tables.add_argument("--profile", help="smoke, quick or paper (default: paper with a GPU, else quick)")
    tables.set_defaults(handler=_tables)
    commands.add_parser("profiles", help="list the profiles and their grids").set_defaults(
        handler=_list_profiles)
    commands.add_parser("parameters", help="list the parameters --set and -p take, with types and defaults"
                        ).set_defaults(handler=_list_parameters)
    _add_campaign(commands.add_parser("campaign", help="train a grid in priority order within a time budget"))
    _add_bundle(commands.add_parser("bundle", help="export or import the store's tables as a .tar.gz"))
    _add_carry(commands.add_parser("carry", help="prepare the data a GPU machine without internet needs"))
    _add_export(commands.add_parser("export", help="write a stored level as a deployable ticket (sparse "
                                    "checkpoint, ONNX, int8, zstd, manifest)"))
    lab = commands.add_parser("lab", help="JupyterLab at the repository root, with the project's settings "
                              "(scripts open as notebooks; results go to <profile>-scratch folders)")
    lab.add_argument("jupyter_args", nargs=argparse.REMAINDER, help="passed to jupyter lab, e.g. --no-browser")
    lab.set_defaults(handler=_lab)
    return parser


def _add_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", help="smoke, quick or paper (default: paper with a GPU, else quick)")
    parser.add_argument("--datasets", help="comma list or JSON list (default: the profile's)")
    parser.add_argument("--models", help="comma list or JSON list (default: the profile's)")
    parser.add_argument("--arms", default="winning_ticket", help="comma list, or 'all' (default: %(default)s)")
    parser.add_argument("--seeds", help="comma list or JSON list of integers (default: the profile's)")
    parser.add_argument("--max-level", type=int, help="stop at this pruning level (default: the profile's)")
    parser.add_argument("--set", action="extend", nargs="+", metavar="KEY=VALUE",
                        help="override a parameter, e.g. epochs=3 rewind_point=500it (JSON values)")
    _add_executor(parser)
    parser.set_defaults(handler=_run)


def _add_executor(parser: argparse.ArgumentParser) -> None:
    """Where the training runs, and the cluster options (``lth run``, ``lth transfer``)."""
    parser.add_argument("--workers", type=int, help="processes at once (default: one per core without GPU)")
    parser.add_argument("--executor", default="local",
                        help="local (worker processes here), ray or slurm (default: %(default)s)")
    parser.add_argument("--address", help="ray: the cluster ('auto': the running one; default: start one here)")
    parser.add_argument("--max-in-flight", type=int, help="ray: tasks at once (default: the cluster's CPUs or GPUs)")
    parser.add_argument("--slurm-cluster", choices=("slurm", "local"),
                        help="slurm: sbatch job arrays, or submitit's local executor (default: slurm)")
    parser.add_argument("--slurm-folder", help="slurm: submitit's logs, on the shared filesystem (default: .submitit)")
    parser.add_argument("--slurm-partition", help="slurm: the partition")
    parser.add_argument("--slurm-time", type=int, help="slurm: minutes per job (default: 240)")
    parser.add_argument("--slurm-mem-gb", type=float, help="slurm: memory per job in GB")
    parser.add_argument("--slurm-cpus", type=int, help="slurm: CPUs per job (default: 1)")
    parser.add_argument("--slurm-parallelism", type=int, help="slurm: jobs of an array at once (default: 32)")
    parser.add_argument("--slurm-max-array", type=int, help="slurm: the site's MaxArraySize (default: 1000)")


def _add_report(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", help="smoke, quick or paper (default: paper with a GPU, else quick)")
    parser.add_argument("--only", help="some notebooks, by number or name: 03,05")
    parser.add_argument("-p", nargs=2, action="append", metavar=("NAME", "VALUE"),
                        help="a papermill parameter for every notebook, e.g. -p seeds '[0]'")
    parser.set_defaults(handler=_report)


def _add_grid(parser: argparse.ArgumentParser, arms_default: str | None) -> None:
    parser.add_argument("--profile", help="smoke, quick or paper (default: paper with a GPU, else quick)")
    parser.add_argument("--datasets", help="comma list or JSON list (default: the profile's)")
    parser.add_argument("--models", help="comma list or JSON list (default: the profile's)")
    if arms_default is not None:
        parser.add_argument("--arms", default=arms_default, help="comma list, or 'all' (default: %(default)s)")
    parser.add_argument("--seeds", help="comma list or JSON list of integers (default: the profile's)")
    parser.add_argument("--set", action="extend", nargs="+", metavar="KEY=VALUE",
                        help="override a parameter, e.g. epochs=3 rewind_point=500it (JSON values)")


def _add_glove_dim(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--glove-dim", type=int, metavar="DIM",
                        help="GloVe size of the models that read GloVe (50: the one offline; recorded "
                             "as a deviation)")


def _add_campaign(parser: argparse.ArgumentParser) -> None:
    _add_grid(parser, arms_default="all")
    parser.add_argument("--minutes", type=float, required=True, help="time budget; no unit starts that "
                        "would overrun it")
    parser.add_argument("--max-level", type=int, help="stop every arm at this pruning level")
    _add_glove_dim(parser)
    parser.add_argument("--bundle", metavar="OUT.tar.gz", help="then export the tables' bundle here")
    parser.add_argument("--deterministic", action=argparse.BooleanOptionalAction, default=True,
                        help="deterministic CUDA kernels, so a killed unit resumes exactly (default: on)")
    parser.add_argument("--progress", action="store_true", help="progress bars for every epoch")
    parser.set_defaults(handler=_campaign)


def _add_bundle(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = actions.add_parser("export", help="write results/<profile>'s tables (no weights) to a .tar.gz")
    export.add_argument("--profile", help="smoke, quick or paper (default: paper with a GPU, else quick)")
    export.add_argument("--out", required=True, metavar="OUT.tar.gz")
    export.set_defaults(handler=_bundle)
    load = actions.add_parser("import", help="merge a bundle's tables into results/<profile>")
    load.add_argument("path", metavar="BUNDLE.tar.gz")
    load.add_argument("--profile", help="smoke, quick or paper (default: paper with a GPU, else quick)")
    load.set_defaults(handler=_bundle)


def _add_carry(parser: argparse.ArgumentParser) -> None:
    _add_grid(parser, arms_default=None)
    _add_glove_dim(parser)
    parser.add_argument("--folder", default=".carry", help="where (default: %(default)s, git-ignored)")
    parser.add_argument("--limit-mib", type=float, help="refuse above this size (default: 60)")
    parser.set_defaults(handler=_carry)


def _add_export(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", help="smoke, quick or paper (default: paper with a GPU, else quick)")
    parser.add_argument("--dataset", required=True, help="the run's dataset")
    parser.add_argument("--model", required=True, help="the run's model")
    parser.add_argument("--arm", default="winning_ticket", help="the run's arm (default: %(default)s); "
                        "a branch keeps no weights but at level 0")
    parser.add_argument("--seed", type=int, default=0, help="the run's seed (default: %(default)s)")
    parser.add_argument("--level", type=int, required=True, help="the level: 0 dense, 1.. pruned")
    parser.add_argument("--out", help="the folder (default: results/<profile>/exports/<run and level>/)")
    parser.add_argument("--no-train", dest="train", action="store_false", help="export only what the store "
                        "holds; without it, what the store lacks of the run up to --level is trained first, as "
                        "lth run would (a fresh clone's store holds no weights)")
    parser.add_argument("--set", action="extend", nargs="+", metavar="KEY=VALUE",
                        help="the parameters the run was trained with, as lth run took them")
    _add_glove_dim(parser)
    parser.set_defaults(handler=_export_ticket)


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.handler(args)
    except ConfigError as error:
        print(f"lth: {error}", file=sys.stderr)
        return 2
    except CommandFailed as error:
        print(f"lth: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lth: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    except SystemExit as exit_request:  # --help
        return exit_request.code if isinstance(exit_request.code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
