"""``lth bundle export|import``: the store's tables (no weights) as a .tar.gz, and back
(:mod:`lthlib.run.bundle`).
"""
from __future__ import annotations

import argparse

from .arguments import profile


def add_command(commands) -> None:
    _add_bundle(commands.add_parser("bundle", help="export or import the store's tables as a .tar.gz"))


def write_bundle(profile_name: str, out: str) -> None:
    """Bundle results/<profile_name>'s tables into ``out`` and say where and how large."""
    from ..run.bundle import export_bundle
    path = export_bundle(profile_name, out)
    print(f"lth: bundle {path} ({path.stat().st_size / 1024:.0f} KiB)")


def _bundle(args: argparse.Namespace) -> int:
    name = profile(args.profile).name
    if args.action == "export":
        write_bundle(name, args.out)
        return 0
    from ..run.bundle import import_bundle
    written = import_bundle(args.path, name)
    print(f"lth: imported {', '.join(written)} into results/{name}")
    return 0


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

