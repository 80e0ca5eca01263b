"""How a row of a dataset's raw files becomes the text and label the tokenizer sees, as data.

A dataset's entry carries a :class:`TextPipeline` (:attr:`lthlib.data.datasets.Dataset.pipeline`):
the file format its reader reads, which fields make the text and how each one is cleaned, the
label mapping, and how each row is identified in its file.  The dataset's own reader applies it
(:meth:`TextPipeline.text_of`, :meth:`TextPipeline.label_of`, :func:`clean`), and ``lth export``
writes :meth:`TextPipeline.describe` into a ticket's manifest, where the standalone
``predict.py`` (:mod:`lthlib.deploy.predict`, no lthlib) applies the same description to the
official file.  One description, two interpreters; ``tests/test_export_pipeline.py`` checks that
they read the same texts and labels.

Cleaning steps (each a dict, applied in order)::

    {"op": "replace", "pattern": P, "with": T}   re.sub(P, T, text): T is a Python re template
                                                 ("flags": ["IGNORECASE"] optional)
    {"op": "codepoint", "pattern": P}            every match of P -> chr(int(its group 1))
    {"op": "html_unescape"}                      html.unescape(text)
    {"op": "lower"}                              text.lower()

Fields: ``"1"`` is a delimited row's column 1 (0-based), ``"2:"`` columns 2 to the end joined by
the part's ``join``, a name (``"content"``, ``"polarity"``) an archive member's content or a
named group of its name's pattern.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

#: the cleaning operations a step may name (the standalone predict.py knows the same ones)
OPS = ("replace", "codepoint", "html_unescape", "lower")


def _flags(step: Mapping) -> int:
    flags = 0
    for name in step.get("flags", ()):
        flags |= getattr(re, name)
    return flags


def compile_steps(steps: Sequence[Mapping]) -> Callable[[str], str]:
    """One function applying ``steps`` in order (their regexes compiled once)."""
    actions: list[Callable[[str], str]] = []
    for step in steps:
        op = step["op"]
        if op == "replace":
            pattern, template = re.compile(step["pattern"], _flags(step)), step["with"]
            actions.append(lambda text, p=pattern, t=template: p.sub(t, text))
        elif op == "codepoint":
            pattern = re.compile(step["pattern"], _flags(step))
            actions.append(lambda text, p=pattern: p.sub(lambda m: chr(int(m.group(1))), text))
        elif op == "html_unescape":
            actions.append(html.unescape)
        elif op == "lower":
            actions.append(str.lower)
        else:
            raise ValueError(f"unknown cleaning step {op!r}; known: {', '.join(OPS)}")

    def apply(text: str) -> str:
        for action in actions:
            text = action(text)
        return text
    return apply


def clean(text: str, steps: Sequence[Mapping]) -> str:
    """``text`` after ``steps`` (module docstring)."""
    return compile_steps(steps)(text)


def field_values(fields: Sequence[str] | Mapping[str, str], spec: str) -> list[str]:
    """The values a field spec names: ``"1"``, ``"2:"`` (a row's columns) or a name (a mapping's)."""
    if spec.isdigit():
        return [fields[int(spec)]]
    if spec.endswith(":") and spec[:-1].isdigit():
        return list(fields[int(spec[:-1]):])
    return [fields[spec]]


@dataclass(frozen=True)
class TextPart:
    """One piece of the text: the ``fields`` it is made of (joined by ``join``), then cleaned."""
    fields: str
    clean: tuple[Mapping, ...] = ()
    join: str = " "

    def describe(self) -> dict:
        return {"fields": self.fields, "join": self.join, "clean": [dict(step) for step in self.clean]}


@dataclass(frozen=True)
class TextPipeline:
    """One dataset's raw row -> (text, label), and each row's identifier in its file.

    ``reader``: the file format, as the standalone reader needs it: ``{"format": "delimited",
    "delimiter", "quoting" ("minimal" or "none"), "header" (bool), "encoding", "archive" (None, or
    "tar.gz" with "members": the pattern of the member names read)}`` or ``{"format":
    "tar_members", "archive": "tar.gz", "members": a pattern whose named groups are fields,
    "encoding", "errors"}``.  ``identify``: an example -> (its file's relpath, its row id), the id
    as ``row_id`` says (the rows of the test split are listed by it).
    """
    reader: Mapping[str, Any]
    text: tuple[TextPart, ...]
    label_field: str
    labels: Mapping[str, int]
    row_id: str
    #: a raw example (:class:`.entry.RawExample`, not imported: entry holds a pipeline) -> its row id
    identify: Callable[[Any], tuple[str, Any]] = field(compare=False)
    separator: str = " "

    def __post_init__(self) -> None:
        object.__setattr__(self, "_cleaners", tuple(compile_steps(part.clean) for part in self.text))

    def text_of(self, fields: Sequence[str] | Mapping[str, str]) -> str:
        """A row's text: its parts, each joined and cleaned, joined by ``separator``."""
        return self.separator.join(cleaner(part.join.join(field_values(fields, part.fields)))
                                   for part, cleaner in zip(self.text, self._cleaners))

    def label_of(self, fields: Sequence[str] | Mapping[str, str]) -> int:
        """A row's class index; KeyError for a raw label the mapping lacks."""
        return self.labels[field_values(fields, self.label_field)[0].strip()]

    def describe(self) -> dict:
        """Everything a reader without lthlib needs to rebuild the texts and labels (JSON)."""
        return {"reader": dict(self.reader), "text": {"parts": [part.describe() for part in self.text],
                                                      "separator": self.separator},
                "label": {"field": self.label_field, "strip": True, "map": dict(self.labels)},
                "row_id": self.row_id}
