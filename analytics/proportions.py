"""Proportions a director reads: dropout rates with Wilson intervals, medians with exact intervals.

The dropout rate's denominator is the episodes with a known outcome (event 1 dropout or 2 completed):
ongoing, transferred or otherwise censored episodes have no outcome yet and would dilute the rate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from analytics.results import Privacy
from analytics.schema import EVENT_COMPLETED, EVENT_DROPOUT

Z95 = float(stats.norm.ppf(0.975))

# Count columns of a rate table, and the columns that reveal each count (masked with it).
RATE_COUNTS = ["clients", "known", "dropouts"]
RATE_LINKED = {"dropouts": ["rate", "ci_lower", "ci_upper"], "known": ["rate", "ci_lower", "ci_upper"]}
RATE_PRIVACY = Privacy(tuple(RATE_COUNTS), {k: tuple(v) for k, v in RATE_LINKED.items()})


def wilson_interval(successes, trials, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval; stays inside [0, 1] and behaves at 0 and n events (NaN where n = 0)."""
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z / denom * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
        lower, upper = np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
    lower = np.where(n > 0, lower, np.nan)
    upper = np.where(n > 0, upper, np.nan)
    return lower, upper


def median_interval(values) -> tuple[float, float, float]:
    """Median with its distribution-free 95% interval from order statistics (coverage at least 95%)."""
    x = np.sort(np.asarray(values, dtype=float)[~np.isnan(np.asarray(values, dtype=float))])
    n = len(x)
    if n == 0:
        return np.nan, np.nan, np.nan
    q = int(stats.binom.ppf(0.025, n, 0.5))
    lower_rank = q if stats.binom.cdf(q, n, 0.5) > 0.025 else q + 1
    if lower_rank < 1:
        return float(np.median(x)), np.nan, np.nan
    return float(np.median(x)), float(x[lower_rank - 1]), float(x[n - lower_rank])


def known_counts(episodes: pd.DataFrame) -> dict[str, int]:
    """A dropout rate's rows: `n_used` episodes with a known outcome, `n_left_out` the others."""
    known = int(episodes["event"].isin((EVENT_DROPOUT, EVENT_COMPLETED)).sum()) if "event" in episodes else 0
    return {"n_used": known, "n_left_out": len(episodes) - known}


def dropout_rates(episodes: pd.DataFrame, by: str | list[str] | None = None) -> pd.DataFrame:
    """Dropout counts and rates per group: clients, known (outcome known), dropouts, rate, Wilson CI.

    Rows with a missing group value form the group "unknown" so no client silently disappears; groups
    are sorted by their values and labelled as text.
    """
    event = episodes["event"].to_numpy()
    frame = pd.DataFrame(
        {
            "clients": 1,
            "known": np.isin(event, (EVENT_DROPOUT, EVENT_COMPLETED)).astype(int),
            "dropouts": (event == EVENT_DROPOUT).astype(int),
        },
        index=episodes.index,
    )
    keys = [by] if isinstance(by, str) else list(by or [])
    for key in keys:
        frame[key] = episodes[key]
    if keys:
        table = frame.groupby(keys, sort=True, dropna=False, observed=True)[RATE_COUNTS].sum().reset_index()
        for key in keys:
            table[key] = level_text(table[key])
    else:
        table = frame[RATE_COUNTS].sum().to_frame().T.assign(group="all")[["group"] + RATE_COUNTS]
    return add_rate(table)


def level_text(values: pd.Series) -> pd.Series:
    """Group labels as text (whole numbers without ".0", dates as ISO dates), "unknown" where missing."""
    if pd.api.types.is_datetime64_any_dtype(values):
        text = values.dt.strftime("%Y-%m-%d")
    elif pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        whole = values.dropna().eq(values.dropna().round()).all()
        text = values.map(lambda v: f"{v:.0f}" if whole else f"{v:g}", na_action="ignore")
    else:
        text = values.astype("string")
    return text.astype(object).where(values.notna(), "unknown")


def add_rate(table: pd.DataFrame, events: str = "dropouts", trials: str = "known") -> pd.DataFrame:
    """`rate`, `ci_lower`, `ci_upper` from a count table (NaN where nothing is known)."""
    out = table.copy()
    k = out[events].to_numpy(dtype=float)
    n = out[trials].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["rate"] = np.where(n > 0, k / n, np.nan)
    out["ci_lower"], out["ci_upper"] = wilson_interval(k, n)
    return out


def chi_square_p(table: pd.DataFrame) -> float:
    """p-value of a chi-square test that the dropout rate is the same in every group (NaN if untestable)."""
    known = table["known"].to_numpy(dtype=float)
    dropouts = table["dropouts"].to_numpy(dtype=float)
    keep = known > 0
    observed = np.column_stack([dropouts[keep], known[keep] - dropouts[keep]])
    if observed.shape[0] < 2 or (observed.sum(axis=0) == 0).any():
        return float("nan")
    return float(stats.chi2_contingency(observed, correction=False)[1])


def yes_no(series: pd.Series) -> pd.Series:
    """A 0/1 (or boolean) column as "no"/"yes" for a reader; any other column unchanged."""
    if pd.api.types.is_bool_dtype(series) or (pd.api.types.is_numeric_dtype(series) and series.dropna().isin((0, 1)).all()):
        return series.map({0: "no", 1: "yes", False: "no", True: "yes"})
    return series


def percent(value: float, digits: int = 0) -> str:
    """A proportion as a percentage for a sentence ("19%"); "unknown" when missing."""
    if value is None or not np.isfinite(value):
        return "unknown"
    return f"{100 * value:.{digits}f}%"
