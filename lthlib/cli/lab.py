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
                          "--allow-root is added); lth's own --committed: the notebooks read the committed "
                          "results/<profile>/ and train nothing")
    lab.set_defaults(handler=_lab)


#: lth lab's own option (the rest go to jupyter lab): kernels read the committed results
COMMITTED_OPTION = "--committed"


def jupyter_args(argv: list[str]) -> list[str]:
    """Everything after ``lab`` on the command line, options included (argparse's REMAINDER
    takes none that start with a dash): ``lth lab --no-browser --port 8899``."""
    return argv[argv.index("lab") + 1:]


def _lab(args: argparse.Namespace) -> int:
    import os

    from ..machine.platform import COMMITTED_ENV
    from ..report.lab import main as lab
    if COMMITTED_OPTION in args.jupyter_args:  # the kernels inherit it: notebooks read results/<profile>/
        os.environ[COMMITTED_ENV] = "1"
    return lab([arg for arg in args.jupyter_args if arg != COMMITTED_OPTION])
