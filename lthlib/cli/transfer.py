"""``lth transfer``: train a profile's tickets-across-datasets grid (notebook 07)."""
from __future__ import annotations

import argparse

from ..core.parameters import as_list
from .arguments import parse_settings, profile, seed_list
from .run import add_executor_options, train


def add_command(commands) -> None:
    _add_transfer(commands.add_parser("transfer", help="train a profile's tickets-across-datasets grid "
                                      "(notebook 07)"))


def _transfer(args: argparse.Namespace) -> int:
    from ..experiment.transfer import TransferGrid
    grid = TransferGrid.of(profile(args.profile).name, args.pairs, as_list(args.models), seed_list(args.seeds),
                           **parse_settings(args.set))
    grid.check()  # every cell's configuration, before any data is read
    print(grid.describe())
    return train(grid, args)


def _add_transfer(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", help="smoke, quick or paper (default: paper with a GPU, else quick)")
    parser.add_argument("--pairs", help="source>target pairs, e.g. imdb>sst2,sst2>imdb (default: the profile's)")
    parser.add_argument("--models", help="comma list or JSON list (default: the profile's)")
    parser.add_argument("--seeds", help="comma list or JSON list of integers (default: the transfer study's)")
    parser.add_argument("--max-level", type=int, help="stop at this pruning level (default: the profile's)")
    parser.add_argument("--set", action="extend", nargs="+", metavar="KEY=VALUE",
                        help="override a parameter, e.g. epochs=3 (JSON values)")
    add_executor_options(parser)
    parser.set_defaults(handler=_transfer)

