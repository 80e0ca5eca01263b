"""``lth campaign``: train a grid in priority order within a time budget
(:func:`lthlib.run.campaign.run_campaign`), then, if asked, bundle the tables it wrote.
"""
from __future__ import annotations

import argparse
import contextlib

from ..core.config import ConfigError
from .arguments import add_glove_dim, add_grid_options, grid_of
from .bundle import write_bundle


def add_command(commands) -> None:
    _add_campaign(commands.add_parser("campaign", help="train a grid in priority order within a time budget"))


def _campaign(args: argparse.Namespace) -> int:
    grid = grid_of(args)
    from ..run.campaign import run_campaign
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
                write_bundle(grid.profile, args.bundle)
        raise
    if args.bundle:
        write_bundle(grid.profile, args.bundle)
    return 0


def _add_campaign(parser: argparse.ArgumentParser) -> None:
    add_grid_options(parser, arms_default="all")
    parser.add_argument("--minutes", type=float, required=True, help="time budget; no unit starts that "
                        "would overrun it")
    parser.add_argument("--max-level", type=int, help="stop every arm at this pruning level")
    add_glove_dim(parser)
    parser.add_argument("--bundle", metavar="OUT.tar.gz", help="then export the tables' bundle here")
    parser.add_argument("--deterministic", action=argparse.BooleanOptionalAction, default=True,
                        help="deterministic CUDA kernels, so a killed unit resumes exactly (default: on)")
    parser.add_argument("--progress", action="store_true", help="progress bars for every epoch")
    parser.set_defaults(handler=_campaign)

