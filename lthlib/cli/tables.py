"""``lth tables``: rebuild results/<profile>'s tidy tables from the runs' own files."""
from __future__ import annotations

import argparse

from .arguments import CommandFailed, profile


def add_command(commands) -> None:
    tables = commands.add_parser("tables", help="rebuild results/<profile>'s tidy tables from the runs' files")
    tables.add_argument("--profile", help="smoke, quick or paper (default: paper with a GPU, else quick)")
    tables.set_defaults(handler=_tables)


def _tables(args: argparse.Namespace) -> int:
    from ..experiment.store import Store
    from ..machine.files import DamagedFile
    from ..machine.platform import display_path
    store = Store.of_profile(profile(args.profile).name)
    try:
        store.rebuild_tables()
    except DamagedFile as error:
        raise CommandFailed(str(error)) from None
    runs = store.runs()
    print(f"{len(runs)} runs.csv rows in {display_path(store.root)}, rebuilt from the runs' metrics.json")
    return 0
