"""``lth report``: execute the notebooks into reports/<profile>/ and write their HTML
(:func:`lthlib.report.render.render_report`), every ``-p`` typed as the notebooks read it.
"""
from __future__ import annotations

import argparse
import time
from typing import Any

from ..core.config import ConfigError
from ..report import render
from .arguments import CommandFailed, papermill_value, profile


def add_command(commands) -> None:
    _add_report(commands.add_parser("report", help="execute the notebooks into reports/<profile>/"))


def _report(args: argparse.Namespace) -> int:
    name = profile(args.profile).name
    parameters = _notebook_parameters(name, args.p)
    start = time.time()
    try:
        render.render_report(name, parameters, args.only)
    except render.NotebookFailed as error:
        raise CommandFailed(str(error)) from None
    print(f"lth: done in {time.time() - start:.0f} s: reports/{name}, figures/{name}, "
          f"results/{name}/tables")
    return 0


def _notebook_parameters(profile_name: str, pairs: list[list[str]] | None) -> dict[str, Any]:
    parameters = {"profile": profile_name}
    for name, text in pairs or []:
        if name == "profile":
            raise ConfigError("choose the profile with --profile, not -p profile")
        parameters[name] = papermill_value(text, name)
    return parameters


def _add_report(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", help="smoke, quick or paper (default: paper with a GPU, else quick)")
    parser.add_argument("--only", help="some notebooks, by number or name: 03,05")
    parser.add_argument("-p", nargs=2, action="append", metavar=("NAME", "VALUE"),
                        help="a papermill parameter for every notebook, e.g. -p seeds '[0]'")
    parser.set_defaults(handler=_report)

