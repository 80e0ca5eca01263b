"""What every executor shares: a job, how it is called, the interface, and the option checks.

A job is a JSON payload ``{"fn": "module:function", "kwargs": {...}, "name": ...}``; every backend
runs it with :func:`call`, so a payload means the same thing everywhere.  Of lthlib this imports
only :mod:`lthlib.core` and :mod:`lthlib.machine.platform`.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Protocol

from ...core.config import ConfigError
from .. import platform

RAY_PIN, SUBMITIT_PIN = "ray==2.60.0", "submitit==1.5.4"


class JobFailed(RuntimeError):
    """One or more jobs failed; the message names them and quotes the end of their output."""


class Executor(Protocol):
    """Runs payloads ``{"fn": "module:function", "kwargs": {...}, "name": ...}`` somewhere and
    returns what each function returned, in order; ``on_done(index)`` as each one finishes.
    A failed payload is a :class:`JobFailed` naming it."""
    name: str

    def map(self, payloads: list[dict], on_done: Callable[[int], None] | None = None) -> list[Any]: ...


def resolve(spec: str) -> Callable:
    """'package.module:function' -> the function."""
    module_name, _, function_name = spec.partition(":")
    return getattr(importlib.import_module(module_name), function_name)


def call(payload: dict) -> Any:
    """Run one payload in this process: what a worker process, a Ray task or a Slurm job does."""
    platform.limit_torch_threads()
    return resolve(payload["fn"])(**payload.get("kwargs", {}))


def known(cls, name: str, options: dict) -> dict:
    """``options`` when ``cls`` (a backend dataclass) has every one; else a ConfigError listing its own."""
    allowed = {f for f in cls.__dataclass_fields__ if not f.startswith("_") and f not in ("name", "gpus_per_task")}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ConfigError(f"the {name} executor has no option {', '.join(map(repr, unknown))}; "
                          f"it takes {', '.join(sorted(allowed))}")
    return options


def positive(owner: str, **values: Any) -> None:
    for key, value in values.items():
        if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0):
            raise ConfigError(f"{owner}: {key} must be a positive number, got {value!r}")


def failure(payload: dict, error: BaseException, log: str = "") -> str:
    """One failed payload, named, with the end of its log (or of its error)."""
    name = payload.get("name") or payload.get("fn")
    text = str(error).strip().splitlines()
    tail = "\n".join(f"    {line}" for line in (log.strip().splitlines() or text)[-20:])
    return f"{name} failed ({type(error).__name__}); the end of its output:\n{tail}"
