"""Small-cell suppression for counts a clinic director sees (CMS rule: no count from 1 to suppress_below-1).

A masked cell can often be recovered from a total and the other cells (complementary suppression):
a reader who knows the column's total knows the sum of its masked cells, and that each is at least 1
(zeros are shown). A masked cell is determined when it is masked alone, or when every masked cell
must be 1 (their sum equals their number). While that is so, the smallest shown non-zero cell of
the column is masked too. Rates, intervals and anything else computed from a masked count are
masked on the same row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DEFAULT_THRESHOLD = 11


def suppress_small_cells(
    table: pd.DataFrame,
    count_columns: list[str],
    suppress_below: int = DEFAULT_THRESHOLD,
    linked: dict[str, list[str]] | None = None,
) -> pd.DataFrame:
    """A copy of `table` with small counts set to NaN and a boolean `suppressed` column.

    `linked` maps a count column to the columns derived from it (a rate, its interval), which are
    masked wherever that count is. A threshold of 0 (or 1) disables suppression.
    """
    out = table.copy()
    out["suppressed"] = False
    if suppress_below is None or suppress_below <= 1 or out.empty:
        return out
    linked = linked or {}
    for column in count_columns:
        values = pd.to_numeric(out[column], errors="coerce").to_numpy(dtype=float)
        mask = (values > 0) & (values < suppress_below)
        while mask.any() and _determined(values[mask]):
            candidates = np.where(~mask & (values > 0), values, np.inf)
            if not np.isfinite(candidates).any():
                break
            mask[int(np.argmin(candidates))] = True
        # Series.mask, not .loc: a director page masks a dozen tables on every run.
        out[column] = out[column].astype(float).mask(mask)
        for dependent in linked.get(column, []):
            out[dependent] = out[dependent].astype(float).mask(mask)
        out["suppressed"] = out["suppressed"].to_numpy() | mask
    return out


def _determined(masked: np.ndarray) -> bool:
    """Whether a total and the shown cells give a masked cell away: one masked cell, or several
    that must all be 1."""
    return len(masked) == 1 or masked.sum() == len(masked)


def display_suppressed(
    table: pd.DataFrame, suppress_below: int = DEFAULT_THRESHOLD, count_columns: list[str] | None = None
) -> pd.DataFrame:
    """The table as a director reads it: a masked count says `<suppress_below`, a masked rate or
    interval says `hidden` (a rate is not "below 11").

    A column with a masked cell becomes text (whole numbers without decimals, others to three
    significant digits) so that one column holds one type; the other columns keep their numbers.
    Without `count_columns`, every masked cell says `<suppress_below`."""
    if "suppressed" not in table:
        return table
    shown = table.drop(columns="suppressed")
    masked_rows = table["suppressed"].to_numpy()
    for column in shown.columns:
        blank = shown[column].isna().to_numpy() & masked_rows
        if blank.any():
            text = shown[column].map(number_text).astype(object)
            is_count = count_columns is None or column in count_columns
            text[blank] = f"<{suppress_below}" if is_count else "hidden"
            shown[column] = text
    return shown


def number_text(value) -> str:
    """A number as a table shows it: whole numbers with thousands separators, others to three
    significant digits (tiny p-values in scientific notation), missing as a dash."""
    if pd.isna(value):
        return "–"
    if isinstance(value, (int, np.integer)) or (isinstance(value, (float, np.floating)) and float(value).is_integer()):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return f"{value:.2e}" if 0 < abs(value) < 0.001 else f"{value:.3g}"
    return str(value)
