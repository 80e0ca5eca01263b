"""``lth carry``: prepare, in one folder under a size limit, the data a GPU machine without
internet needs (:func:`lthlib.run.carry.prepare_carry`).
"""
from __future__ import annotations

import argparse

from ..core.parameters import as_list
from .arguments import CommandFailed, add_glove_dim, add_grid_options, parse_settings, profile, seed_list


def add_command(commands) -> None:
    _add_carry(commands.add_parser("carry", help="prepare the data a GPU machine without internet needs"))


def _carry(args: argparse.Namespace) -> int:
    from ..data.sources import DataUnavailable
    from ..run.carry import DEFAULT_LIMIT_MIB, prepare_carry
    profile_name = profile(args.profile).name
    limit = DEFAULT_LIMIT_MIB if args.limit_mib is None else args.limit_mib
    try:
        manifest = prepare_carry(profile_name, as_list(args.datasets), as_list(args.models), args.folder,
                                 seeds=seed_list(args.seeds), glove_dim=args.glove_dim,
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


def _add_carry(parser: argparse.ArgumentParser) -> None:
    add_grid_options(parser, arms_default=None)
    add_glove_dim(parser)
    parser.add_argument("--folder", default=".carry", help="where (default: %(default)s, git-ignored)")
    parser.add_argument("--limit-mib", type=float, help="refuse above this size (default: 60)")
    parser.set_defaults(handler=_carry)

