"""Alliance ruptures: session-to-session drops and falls below a cutoff, flagged without a loop."""

from __future__ import annotations

import numpy as np
import pandas as pd


def flag_ruptures(scores: pd.DataFrame, measure: str, min_drop: float | None, cutoff: float | None) -> pd.Series:
    """True where a rated session is a rupture for its client.

    `scores` holds `client_id` and `measure`, already ordered by client and date and limited to
    rated sessions. A rupture is a drop of at least `min_drop` points from the client's previous
    rated session, or a fall from at or above `cutoff` to below it (None switches a rule off).
    """
    values = scores[measure].to_numpy(dtype=float)
    same_client = np.zeros(len(values), dtype=bool)
    ids = scores["client_id"].to_numpy()
    same_client[1:] = ids[1:] == ids[:-1]
    previous = np.full_like(values, np.nan)
    previous[1:] = values[:-1]
    previous[~same_client] = np.nan
    flag = np.zeros(len(values), dtype=bool)
    with np.errstate(invalid="ignore"):
        if min_drop is not None:
            flag |= (previous - values) >= min_drop
        if cutoff is not None:
            flag |= (previous >= cutoff) & (values < cutoff)
    return pd.Series(flag, index=scores.index, name=f"{measure}_rupture")
