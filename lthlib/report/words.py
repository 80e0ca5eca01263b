"""Tables and lists as a reader reads them: each shown cell in words (yes/no, a dash for no
value, small numbers in significant figures), a Markdown table for the saved ``.md`` files, and
lines as a Markdown list whose items nest under their heading line."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd


def to_markdown(frame: pd.DataFrame, digits: int = 2) -> str:
    """A GitHub Markdown table (no tabulate dependency); floats to ``digits`` decimals, or to
    ``digits`` significant figures where that would print a non-zero value as 0 (a learning
    rate of 0.002, a p-value of 0.0004)."""
    def cell(v):
        if isinstance(v, (float, np.floating)):
            return "" if pd.isna(v) else cell_text(v, digits)
        return str(v).replace("|", "\\|").replace("\n", " ")
    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body]) + "\n"


#: how a cell with no value, and a yes/no, read in a shown table
BLANK, YES, NO = "–", "yes", "no"


def cell_text(value, digits: int = 2) -> str:
    """One shown cell as a reader reads it: yes/no for a boolean, a dash for no value, a number
    to ``digits`` decimals (significant figures where decimals would print 0)."""
    if isinstance(value, (bool, np.bool_)):
        return YES if value else NO
    if value is None or (not isinstance(value, str) and pd.api.types.is_scalar(value) and pd.isna(value)):
        return BLANK
    if isinstance(value, (float, np.floating)):
        return f"{value:.{digits}g}" if 0 < abs(value) < 10 ** -digits else f"{value:.{digits}f}"
    return str(value)


def in_words(frame: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """Every cell of a shown table as :func:`cell_text` writes it."""
    return frame.apply(lambda column: column.map(lambda v: cell_text(v, digits))) if not frame.empty else frame


def as_list(lines: Sequence[str]) -> list[str]:
    """Lines as a Markdown list: a line given as "- item" after a plain line is nested under it
    (a heading line and its items), every plain line is an item of its own."""
    out, under_plain = [], False
    for line in lines:
        if line.startswith("- "):
            out.append(f"  {line}" if under_plain else line)
        else:
            out.append(f"- {line}")
            under_plain = True
    return out
