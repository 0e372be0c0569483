"""The time-to-event columns every survival analysis reads, checked and cleaned the same way:
times that differ only by floating-point noise merged (R's `timefix`), and an event column coded
as R codes a status (1 = censored, 2 = event) refused with the one-line fix."""

from __future__ import annotations

import numpy as np
import pandas as pd

TIMEFIX_TOLERANCE = np.sqrt(np.finfo(float).eps)  # R's aeqSurv default


def timefix(*columns: np.ndarray) -> list[np.ndarray]:
    """Times (one column, or start and stop) with near-equal values merged as R's
    `survival::aeqSurv` does (used by survfit and coxph by default): among the sorted distinct
    finite times, a gap at most sqrt(eps), absolutely or relative to their mean absolute value,
    ties a time to the one below it, and every time becomes the first of its run. Days computed
    two ways (e.g. 30.000000000000004 and 30) then count as one time, as in R."""
    arrays = [np.asarray(c, dtype=float) for c in columns]
    values = np.unique(np.concatenate([a[np.isfinite(a)] for a in arrays]))
    if len(values) < 2:
        return arrays
    gaps = np.diff(values)
    tied = (gaps <= TIMEFIX_TOLERANCE) | (gaps / np.mean(np.abs(values)) <= TIMEFIX_TOLERANCE)
    if not tied.any():
        return arrays
    cuts = values[np.concatenate([[True], ~tied])]
    out = []
    for a in arrays:
        merged = a.copy()
        finite = np.isfinite(a)
        merged[finite] = cuts[np.searchsorted(cuts, a[finite], "right") - 1]
        out.append(merged)
    return out


def check_event_coding(event: pd.Series, column: str = "event") -> None:
    """Refuse an event column holding only 1 and 2: that is R's status coding (1 = censored,
    2 = event), which would silently be read here as 1 = dropout, 2 = completion."""
    codes = set(pd.to_numeric(event, errors="coerce").dropna().unique())
    if codes == {1, 2}:
        raise ValueError(
            f"The {column} column holds only 1 and 2, as R codes a status (1 = censored, 2 = event); here 0 means "
            f"ongoing or censored, 1 dropout and 2 completed. If 1 means censored, recode it first: "
            f"episodes[{column!r}] = episodes[{column!r}] - 1. If every episode really ended in dropout (1) or "
            "completion (2), leave at least the ongoing episodes in the table as 0."
        )
