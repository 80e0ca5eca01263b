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

One module per command, each adding its own subcommand (``add_command``) and its handler:

    run        lth run: a grid of cells into the store, locally, on Ray or on Slurm
    report     lth report: the notebooks executed into reports/<profile>/, and their HTML
    transfer   lth transfer: a profile's tickets-across-datasets grid (notebook 07)
    tables     lth tables: the store's tidy tables rebuilt from the runs' files
    listings   lth profiles, lth parameters: what the other commands can be given
    campaign   lth campaign: a grid in priority order within a time budget
    bundle     lth bundle export|import: the store's tables as a .tar.gz, and back
    carry      lth carry: the data a GPU machine without internet needs, in one folder
    export     lth export: a stored level as a deployable ticket
    lab        lth lab: JupyterLab with the project's settings
    arguments  what the commands share: typed ``--set`` and ``-p`` values, seed and arm lists,
               the grid options, the profile lookup, CommandFailed
    __main__   ``python -m lthlib.cli``

Exit codes: 0 all done (a campaign also when it stopped at its budget: campaign.json says why);
1 something ran and failed (a notebook, a grid cell that did not run, a worker process, a source
file a carry could not get, a damaged or missing store file: its name and the fix); 2 bad input
(unknown profile, arm, dataset, parameter, malformed ``--set``; a bundle that is damaged, another
profile's or too large; a carry over its limit; an export of a run, level or model the store or
the exporter does not have), refused before any training; 130 interrupted (Ctrl-C or SIGTERM; a
rerun resumes where it stopped).
"""
from __future__ import annotations

import argparse
import sys

from ..core.config import ConfigError
from ..machine.executors.local import sigterm_interrupts
from ..machine.files import DamagedFile
from ..report.render import select_notebooks
from . import bundle, campaign, carry, export, lab, listings, report, run, tables, transfer
from .arguments import CommandFailed, papermill_value, parse_settings

#: the subcommands in the order ``lth --help`` lists them
COMMANDS = (run, report, transfer, tables, listings, campaign, bundle, carry, export, lab)

__all__ = ["COMMANDS", "CommandFailed", "build_parser", "main", "papermill_value", "parse_settings",
           "select_notebooks"]


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are ConfigErrors, so main prints one line and returns 2."""

    def error(self, message: str):
        raise ConfigError(f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lth", description="The Lottery Ticket Hypothesis on text classifiers.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_command(commands)
    return parser


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """The command's arguments; ``lth lab`` keeps every one after ``lab`` for JupyterLab."""
    args, unknown = parser.parse_known_args(argv)
    if args.command == "lab":
        args.jupyter_args = lab.jupyter_args(argv)
    elif unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        with sigterm_interrupts():  # `kill` stops the workers and removes their folders, as Ctrl-C does
            args = _parse(build_parser(), argv)
            return args.handler(args)
    except ConfigError as error:
        print(f"lth: {error}", file=sys.stderr)
        return 2
    except (CommandFailed, DamagedFile) as error:  # a damaged store file: its name and the fix
        print(f"lth: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lth: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    except SystemExit as exit_request:  # --help
        return exit_request.code if isinstance(exit_request.code, int) else 0
