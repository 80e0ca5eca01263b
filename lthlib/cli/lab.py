"""``lth lab``: JupyterLab at the repository root with the project's settings
(:mod:`lthlib.report.lab`): scripts open as notebooks; results go to <profile>-scratch folders.
"""
from __future__ import annotations

import argparse


def add_command(commands) -> None:
    lab = commands.add_parser("lab", help="JupyterLab at the repository root, with the project's settings "
                              "(scripts open as notebooks; results go to <profile>-scratch folders)")
    lab.add_argument("jupyter_args", nargs=argparse.REMAINDER,
                     help="passed to jupyter lab as they are, e.g. --no-browser --port 8899 (as root, "
                          "--allow-root is added)")
    lab.set_defaults(handler=_lab)


def jupyter_args(argv: list[str]) -> list[str]:
    """Everything after ``lab`` on the command line, options included (argparse's REMAINDER
    takes none that start with a dash): ``lth lab --no-browser --port 8899``."""
    return argv[argv.index("lab") + 1:]


def _lab(args: argparse.Namespace) -> int:
    from ..report.lab import main as lab
    return lab(args.jupyter_args)
