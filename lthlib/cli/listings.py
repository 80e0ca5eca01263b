"""``lth profiles`` and ``lth parameters``: what the other commands can be given."""
from __future__ import annotations

import argparse

from .arguments import profiles


def add_command(commands) -> None:
    commands.add_parser("profiles", help="list the profiles and their grids").set_defaults(
        handler=_list_profiles)
    commands.add_parser("parameters", help="list the parameters --set and -p take, with types and defaults"
                        ).set_defaults(handler=_list_parameters)


def _list_profiles(args: argparse.Namespace) -> int:
    for entry in profiles().PROFILES:
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
    from ..core.parameters import PARAMETERS
    for entry in PARAMETERS.values():
        where = entry.field if entry.section is None else f"{entry.section}.{entry.field}"
        print(f"{entry.name:20} {entry.type_name:22} default {entry.default!r:10} ({where})")
    return 0
