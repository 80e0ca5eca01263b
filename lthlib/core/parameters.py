"""The parameters: every setting a notebook, ``lth --set``, ``run_all.sh -p`` or a profile may
override, and the one function that parses a value for one (:func:`parse`).

The table is derived from the dataclasses of :mod:`lthlib.core.config`, never written by hand: every
field of the parts (data, model, train, prune) and every top-level field of
:class:`~lthlib.core.config.ExperimentConfig` is a parameter under its own name, unless the field
says otherwise with :func:`lthlib.core.config.param` (``prune.fraction`` is ``prune_fraction``;
``data.dataset``, ``model.name``, ``arm`` and ``seed`` are the grid's, not parameters).  A field
added to a config dataclass is therefore a parameter at once, typed by its annotation and default.

Parsing follows nanoGPT's configurator: a string is read with :func:`ast.literal_eval` (the raw
string when that fails), then the value is checked against the field's declared type.  None, and
the strings '', 'none', 'null', mean "unset": the profile's value stays.  ``true``/``false`` are
read as booleans in any case, a list as a tuple, a whole number as a float; a float with a
fractional part is not an int, and 0/1 are not booleans.  Anything else raises
:class:`~lthlib.core.config.ConfigError` naming the parameter, the value and the expected type.
"""
from __future__ import annotations

import ast
import dataclasses
import json
import numbers
import types
import typing
from dataclasses import dataclass
from typing import Any, Mapping

from .config import PARAMETER, ConfigError, ExperimentConfig

#: strings that mean "unset" (compared case-insensitively, after stripping)
UNSET = ("", "none", "null")


@dataclass(frozen=True)
class Parameter:
    """One parameter: its public name, where it lives, its declared type and its default."""
    name: str
    section: str | None   # 'data', 'model', 'train', 'prune', or None: a top-level field
    field: str
    type: Any             # the resolved annotation (int, float | None, tuple[int, ...], ...)
    default: Any

    @property
    def type_name(self) -> str:
        return _type_name(self.type)

    def parse(self, value: Any) -> Any:
        """``value`` as this parameter's type; None when it means unset."""
        read = literal(value)
        if read is None:
            return None
        try:
            return _coerce(self.type, read)
        except _Mismatch:
            raise ConfigError(f"parameter {self.name}={value!r}: expected {self.type_name}") from None

    def get(self, cfg: ExperimentConfig) -> Any:
        """This parameter's value in a configuration."""
        return getattr(cfg if self.section is None else getattr(cfg, self.section), self.field)


def _default(f: dataclasses.Field) -> Any:
    return f.default if f.default is not dataclasses.MISSING else f.default_factory()


def derive(root: type = ExperimentConfig) -> dict[str, Parameter]:
    """The parameter table of a configuration class: its dataclass-typed fields are its parts,
    whose fields are parameters, as are its other fields; :func:`~lthlib.core.config.param`'s
    metadata renames a field or leaves it out.  Two parameters of one name are a TypeError."""
    table: dict[str, Parameter] = {}

    def add(section: str | None, cls: type) -> None:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            public = f.metadata.get(PARAMETER)
            if public is False or (section is None and dataclasses.is_dataclass(hints[f.name])):
                continue
            entry = Parameter(public or f.name, section, f.name, hints[f.name], _default(f))
            if entry.name in table:
                where = lambda p: f"{p.section or 'ExperimentConfig'}.{p.field}"  # noqa: E731
                raise TypeError(f"parameter {entry.name!r} is both {where(table[entry.name])} and {where(entry)}; "
                                f"rename one with config.param(..., name=...)")
            table[entry.name] = entry

    top = typing.get_type_hints(root)
    for f in dataclasses.fields(root):
        if dataclasses.is_dataclass(top[f.name]):
            add(f.name, top[f.name])
    add(None, root)
    return table


#: public name -> :class:`Parameter`, in declaration order (data, model, train, prune, top level)
PARAMETERS: dict[str, Parameter] = derive()


def names() -> list[str]:
    """Every parameter name, sorted."""
    return sorted(PARAMETERS)


def lookup(name: str) -> Parameter:
    """The parameter called ``name``; ConfigError listing the valid names if there is none."""
    try:
        return PARAMETERS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown parameter {name!r}; valid: {', '.join(names())}") from None


def is_parameter(name: str) -> bool:
    return name in PARAMETERS


def literal(value: Any) -> Any:
    """The untyped half of :func:`parse`: None for the unset words, a string through
    :func:`ast.literal_eval` (the stripped string itself when that fails), anything else as is."""
    if value is None:
        return None
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.lower() in UNSET:
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def parse(name: str, value: Any) -> Any:
    """The value of parameter ``name``, typed by its field's declaration; None means unset (leave
    the profile's value).  ConfigError for an unknown name or a value of the wrong type."""
    return lookup(name).parse(value)


def parse_all(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """Every entry of ``mapping`` parsed, those that mean unset left out.  Unknown names are
    refused together (ConfigError listing them and the valid names) before any value is read."""
    unknown = [name for name in mapping if name not in PARAMETERS]
    if unknown:
        listed = ", ".join(map(repr, unknown))
        raise ConfigError(f"unknown parameter{'s' if len(unknown) > 1 else ''} {listed}; valid: {', '.join(names())}")
    parsed = {name: parse(name, value) for name, value in mapping.items()}
    return {name: value for name, value in parsed.items() if value is not None}


def apply_overrides(parts: dict[str, Any], top: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    """Set each override in ``parts`` (section name -> its dataclass, replaced) or ``top`` (the
    top-level fields' keyword arguments), in place; unset values are skipped, so notebooks can
    pass every parameter through."""
    for name, value in parse_all(overrides).items():
        entry = PARAMETERS[name]
        if entry.section is None:
            top[entry.field] = value
        else:
            parts[entry.section] = dataclasses.replace(parts[entry.section], **{entry.field: value})


def values(cfg: ExperimentConfig) -> dict[str, Any]:
    """Every parameter's value in a configuration, by public name."""
    return {name: entry.get(cfg) for name, entry in PARAMETERS.items()}


# ---------------------------------------------------------------------------------------------
# Checking a value against a declared type
# ---------------------------------------------------------------------------------------------

class _Mismatch(Exception):
    pass


def _coerce(tp: Any, value: Any) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arm in args:
            if arm is not type(None):
                try:
                    return _coerce(arm, value)
                except _Mismatch:
                    pass
        raise _Mismatch
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise _Mismatch
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], item) for item in value)
        if args and len(args) != len(value):
            raise _Mismatch
        return tuple(_coerce(arm, item) for arm, item in zip(args, value)) if args else tuple(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise _Mismatch
    if tp is int:
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise _Mismatch
    if tp is float:
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return float(value)
        raise _Mismatch
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise _Mismatch


def _type_name(tp: Any) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        # None is "unset" for every parameter, so the expected type is the other arm's
        return " or ".join(_type_name(arm) for arm in args if arm is not type(None))
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_type_name(args[0])}"
        return f"a list of {len(args)}: {', '.join(map(_type_name, args))}"
    if tp is bool:
        return "bool (true or false)"
    return getattr(tp, "__name__", str(tp))


def as_list(value: Any, cast=str) -> list | None:
    """A papermill/CLI parameter as a list: None, a list, a JSON list string or 'a,b,c'."""
    if value is None or isinstance(value, (list, tuple)):
        return None if value is None else [cast(v) for v in value]
    text = str(value).strip()
    if text.lower() in ("", "none", "null"):
        return None
    if text.startswith("["):
        return [cast(v) for v in json.loads(text)]
    return [cast(v.strip()) for v in text.split(",") if v.strip()]
