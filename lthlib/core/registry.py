"""A registry: named entries of one kind (datasets, models, arms, profiles), one place each.

Every dataset, model, arm and profile is one entry registered where it is defined; the rest of
the library looks entries up by name here and never spells a name out itself.  An unknown name
is a :class:`~lthlib.core.config.ConfigError` that lists the valid ones.
"""
from __future__ import annotations

from typing import Generic, Iterator, TypeVar

from .config import ConfigError

Entry = TypeVar("Entry")


class Registry(Generic[Entry]):
    """Entries of one kind by name, in the order they were registered."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def register(self, entry: Entry) -> Entry:
        """Add ``entry`` (anything with a ``name``); registering a name again replaces it."""
        self._entries[entry.name] = entry
        return entry

    def unregister(self, name: str) -> None:
        self._entries.pop(name, None)

    def get(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except KeyError:
            raise ConfigError(f"unknown {self.kind} {name!r}; valid: {', '.join(self._entries)}") from None

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(list(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)


_loaded: set[str] = set()


def load_plugins(modules: list[str]) -> None:
    """Import ``modules`` (``$LTH_PLUGINS``, :func:`lthlib.machine.platform.plugin_modules`), once
    each: a module there registers its own datasets, models or arms, and every process that
    reads the registries (notebook kernels, worker processes) sees them."""
    import importlib
    for name in modules:
        if name not in _loaded:
            _loaded.add(name)
            importlib.import_module(name)
