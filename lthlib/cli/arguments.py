"""What the commands share: the profile lookup, the typed values of ``--set`` and ``-p``, seed
and arm lists, the grid options and the grid they name, and :class:`CommandFailed` (exit code 1).
"""
from __future__ import annotations

import argparse
import contextlib
from types import ModuleType
from typing import Any

from ..core.config import ConfigError
from ..core.parameters import as_list, is_parameter
from ..core.parameters import parse as parse_parameter


class CommandFailed(Exception):
    """Something ran and failed (exit code 1); the message says what and where."""


def profiles() -> ModuleType:
    """:mod:`lthlib.experiment.profiles`: ``PROFILES`` (a Registry of entries with ``.name .datasets .models
    .seeds .description``), ``experiment(profile, dataset, model, arm, seed, **overrides)`` and
    ``default_profile()``.  Every profile lookup of the commands goes through this one function.
    """
    from ..experiment import profiles
    return profiles


def profile(name: str | None):
    """The named profile's entry, or the default one for this machine."""
    module = profiles()
    return module.PROFILES.get(name or module.default_profile())


def parse_settings(pairs: list[str] | None) -> dict[str, Any]:
    """``['epochs=3', 'rewind_point=500it']`` -> ``{'epochs': 3, 'rewind_point': '500it'}``.

    Each value is parsed by :func:`lthlib.core.parameters.parse`, typed by its parameter's
    declaration (3, 0.5, true, [3, 4], text; null: unset); an unknown name or a value of the wrong
    type is a ConfigError naming it.
    """
    settings = {}
    for pair in pairs or []:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set needs key=value, got {pair!r}")
        settings[key.strip()] = parse_parameter(key.strip(), text)
    return settings


def papermill_value(text: str, name: str | None = None) -> Any:
    """A ``-p`` value: a configuration parameter's (``name``: epochs, rewind_point, ...) as
    :func:`lthlib.core.parameters.parse` reads it (None: unset); any other (datasets, seeds, arms,
    ...) as ``papermill -p`` reads it: True, False, None, an int, a float or text."""
    if name is not None and is_parameter(name):
        return parse_parameter(name, text)
    named = {"True": True, "False": False, "None": None}
    if text in named:
        return named[text]
    for cast in (int, float):
        with contextlib.suppress(ValueError):
            return cast(text)
    return text


def seed_list(text: str | None) -> list[int] | None:
    """``--seeds``: '0,1,2' or '[0, 1]' -> the seeds; None: the profile's."""
    try:
        return as_list(text, int)
    except ValueError:
        raise ConfigError(f"--seeds takes whole numbers like 0,1,2 or '[0, 1]', got {text!r}") from None


def arm_names(text: str) -> list[str]:
    """'all' -> every arm of a dataset's grid (:func:`~lthlib.experiment.arms.all_arms`: the
    transfer arms run with ``lth transfer``); else the listed ones, each checked against the registry."""
    from ..experiment.arms import ARMS, all_arms
    if text.strip() == "all":
        return list(all_arms())
    names = as_list(text) or []
    if not names:
        raise ConfigError("--arms needs at least one arm (or 'all')")
    return [ARMS.get(name).name for name in names]


def grid_of(args: argparse.Namespace, **extra: Any):
    """The :class:`~lthlib.experiment.grid.Grid` of a command's arguments, every name checked
    (ConfigError if one is bad)."""
    from ..experiment.grid import Grid
    arms = arm_names(args.arms) if getattr(args, "arms", None) else None
    return Grid.of(profile(args.profile).name, as_list(args.datasets), as_list(args.models), arms,
                   seed_list(args.seeds), **extra, **parse_settings(args.set))


def add_grid_options(parser: argparse.ArgumentParser, arms_default: str | None) -> None:
    """--profile, --datasets, --models, --arms (unless ``arms_default`` is None), --seeds, --set."""
    parser.add_argument("--profile", help="smoke, quick or paper (default: paper with a GPU, else quick)")
    parser.add_argument("--datasets", help="comma list or JSON list (default: the profile's)")
    parser.add_argument("--models", help="comma list or JSON list (default: the profile's)")
    if arms_default is not None:
        parser.add_argument("--arms", default=arms_default, help="comma list, or 'all' (default: %(default)s)")
    parser.add_argument("--seeds", help="comma list or JSON list of integers (default: the profile's)")
    parser.add_argument("--set", action="extend", nargs="+", metavar="KEY=VALUE",
                        help="override a parameter, e.g. epochs=3 rewind_point=500it (JSON values)")


def add_glove_dim(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--glove-dim", type=int, metavar="DIM",
                        help="GloVe size of the models that read GloVe (50: the one offline; recorded "
                             "as a deviation)")
