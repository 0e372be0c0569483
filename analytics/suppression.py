"""Small-cell suppression for counts a clinic director sees (CMS rule: no count from 1 to threshold-1).

A masked cell can often be recovered from a total and the other cells, so where a column has a
single masked cell the next smallest cell of that column is masked too (complementary suppression).
Rates, intervals and anything else computed from a masked count are masked on the same row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DEFAULT_THRESHOLD = 11


def suppress_small_cells(
    table: pd.DataFrame,
    count_columns: list[str],
    threshold: int = DEFAULT_THRESHOLD,
    linked: dict[str, list[str]] | None = None,
) -> pd.DataFrame:
    """A copy of `table` with small counts set to NaN and a boolean `suppressed` column.

    `linked` maps a count column to the columns derived from it (a rate, its interval), which are
    masked wherever that count is. A threshold of 0 (or 1) disables suppression.
    """
    out = table.copy()
    out["suppressed"] = False
    if threshold is None or threshold <= 1 or out.empty:
        return out
    linked = linked or {}
    for column in count_columns:
        values = pd.to_numeric(out[column], errors="coerce").to_numpy(dtype=float)
        mask = (values > 0) & (values < threshold)
        if mask.sum() == 1 and len(values) > 1:
            candidates = np.where(~mask & ~np.isnan(values), values, np.inf)
            if np.isfinite(candidates).any():
                mask[int(np.argmin(candidates))] = True
        out[column] = out[column].astype(float)
        out.loc[mask, column] = np.nan
        for dependent in linked.get(column, []):
            out[dependent] = out[dependent].astype(float)
            out.loc[mask, dependent] = np.nan
        out.loc[mask, "suppressed"] = True
    return out


def display_suppressed(table: pd.DataFrame, threshold: int = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """The table as a director reads it: masked cells say `<threshold` instead of being blank."""
    if "suppressed" not in table:
        return table
    shown = table.drop(columns="suppressed").astype(object)
    masked_rows = table["suppressed"].to_numpy()
    blank = shown.isna().to_numpy() & masked_rows[:, None]
    shown = shown.mask(blank, f"<{threshold}")
    return shown
