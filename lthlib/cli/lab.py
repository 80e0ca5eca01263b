"""``lth lab``: JupyterLab at the repository root with the project's settings
(:mod:`lthlib.report.lab`): scripts open as notebooks; results go to <profile>-scratch folders.
"""
from __future__ import annotations

import argparse


def add_command(commands) -> None:
    lab = commands.add_parser("lab", help="JupyterLab at the repository root, with the project's settings "
                              "(scripts open as notebooks; results go to <profile>-scratch folders)")
    lab.add_argument("jupyter_args", nargs=argparse.REMAINDER, help="passed to jupyter lab, e.g. --no-browser")
    lab.set_defaults(handler=_lab)


def _lab(args: argparse.Namespace) -> int:
    from ..report.lab import main as lab
    return lab(args.jupyter_args)
