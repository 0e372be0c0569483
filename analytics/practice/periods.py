"""Dropout by the period in which episodes ended: this month and quarter against the previous ones
and the same period a year earlier, and a rolling 12-month rate against the practice's own target.

An episode belongs to the period of its last scheduled appointment (for a unilateral dropout, the
missed one), so "this month" counts the episodes that ended this month. "This" is the month of the
latest ending in the data (the last appointment of an episode that ended in dropout or completion),
and the rolling rate runs to it: the months after it hold only open episodes. A rise counts as more than
chance when the two-proportion test (Pearson chi-square without continuity correction, the same p
as R's `prop.test(correct = FALSE)`) gives p < 0.05 and the rate went up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from analytics.practice.display import period_label
from analytics.proportions import (
    RATE_COUNTS,
    RATE_LINKED,
    RATE_PRIVACY,
    add_rate,
    chi_square_p,
    dropout_rates,
    known_counts,
    percent,
)
from analytics.results import Privacy, Reported
from analytics.schema import EVENT_COMPLETED, EVENT_DROPOUT
from analytics.suppression import suppress_small_cells

END_COLUMN = "last_scheduled"
ALPHA = 0.05
ROLLING_MONTHS = 12
PERIOD_NOTE = ("An episode counts in the month of its last scheduled appointment. A rise is flagged when a "
               "two-proportion test gives p < 0.05 (a difference this large would arise by chance less than "
               "one time in twenty).")
_COMPARED = ("previous", "last year")


@dataclass
class PeriodResult(Reported):
    """`table`: one row per period compared (kind month/quarter, role this/previous/last year), with
    the rate, its interval, and for the earlier periods the p-value against "this" and `rise`.
    `rolling`: the 12-month rate at the end of each month, with the practice's `target`."""

    table: pd.DataFrame
    rolling: pd.DataFrame
    target_rate: float | None
    takeaway: str
    rises: list[str]
    privacy: ClassVar[Privacy] = Privacy(RATE_PRIVACY.counts, {k: v + ("p", "rise") for k, v in RATE_PRIVACY.linked.items()})


def period_comparison(episodes: pd.DataFrame, suppress_below: int = 11, target_rate: float | None = None,
                      as_of=None) -> PeriodResult:
    """Compare this month and quarter (those holding `as_of`, by default the latest ending) with the
    previous ones and the same ones a year earlier; the rolling 12-month rate; a flag for each rise
    beyond chance that the privacy threshold lets a director see."""
    if END_COLUMN not in episodes or episodes[END_COLUMN].isna().all():
        raise ValueError("The period comparison needs the appointment history (a sessions file): an episode "
                         "is placed in the month of its last appointment.")
    ended = pd.to_datetime(episodes[END_COLUMN])
    known = episodes["event"].isin((EVENT_DROPOUT, EVENT_COMPLETED))
    if not known.any():
        raise ValueError("No episode has ended in dropout or completion yet, so there are no periods to compare.")
    as_of = ended[known].max() if as_of is None else pd.Timestamp(as_of)
    rows = []
    for kind, freq in (("month", "M"), ("quarter", "Q")):
        this = as_of.to_period(freq)
        periods = {"this": this, "previous": this - 1, "last year": this - (12 if freq == "M" else 4)}
        in_period = ended.dt.to_period(freq)
        for role, period in periods.items():
            counts = dropout_rates(episodes.loc[in_period == period, ["event"]])  # not a copy of every column
            rows.append({"kind": kind, "role": role, "period": period_label(period), **counts[RATE_COUNTS].iloc[0].astype(int).to_dict()})
    table = add_rate(pd.DataFrame(rows))
    table["p"], table["rise"] = np.nan, False
    for kind in ("month", "quarter"):
        this = table.index[(table["kind"] == kind) & (table["role"] == "this")][0]
        for other in table.index[(table["kind"] == kind) & table["role"].isin(_COMPARED)]:
            p = chi_square_p(table.loc[[this, other]])
            table.loc[other, "p"] = p
            table.loc[other, "rise"] = bool(p < ALPHA and table.loc[this, "rate"] > table.loc[other, "rate"])
    rolling = rolling_rate(ended, episodes["event"], target_rate, until=as_of)
    rises = _rises(table, suppress_below)
    warnings = [
        f"Most episodes whose last appointment fell in {row['period']} are still open, so its rate is provisional: "
        "early endings (more often dropouts) are known first."
        for _, row in table.loc[table["role"] == "this"].iterrows() if row["known"] < 0.5 * row["clients"]
    ]
    return PeriodResult(table, rolling, target_rate, _takeaway(table, rolling, target_rate, rises, suppress_below),
                        rises, warnings=warnings, **known_counts(episodes))


def rolling_rate(ended: pd.Series, event: pd.Series, target_rate: float | None = None, until=None) -> pd.DataFrame:
    """Dropouts among the episodes that ended in the 12 months up to each month's end (from the
    first month with 12 months of history to the month of `until`, by default the last in `ended`),
    with its Wilson interval and the practice's target. A month after the latest ending holds only
    open episodes: a window ending there would count fewer than 12 months of endings."""
    month = pd.to_datetime(ended).dt.to_period("M")
    last = month.max() if until is None else min(month.max(), pd.Timestamp(until).to_period("M"))
    counts = dropout_rates(pd.DataFrame({"event": event.to_numpy(), "month": month.array}), "month")  # not boxed per row
    counts = counts.loc[counts["month"] != "unknown"]
    monthly = (counts.assign(month=pd.PeriodIndex(counts["month"], freq="M")).set_index("month")[RATE_COUNTS]
               .reindex(pd.period_range(month.min(), last, freq="M"), fill_value=0))
    window = monthly.rolling(ROLLING_MONTHS).sum().iloc[ROLLING_MONTHS - 1:].astype(int)
    table = add_rate(window.rename_axis("month").reset_index())
    table["target"] = np.nan if target_rate is None else float(target_rate)
    return table


def _shown(table: pd.DataFrame, suppress_below: int) -> pd.DataFrame:
    return suppress_small_cells(table, RATE_COUNTS, suppress_below, RATE_LINKED)


def _rises(table: pd.DataFrame, suppress_below: int) -> list[str]:
    """One sentence per rise beyond chance whose two periods' rates may both be shown."""
    shown = _shown(table, suppress_below)
    out = []
    for kind in ("month", "quarter"):
        this = shown.loc[(shown["kind"] == kind) & (shown["role"] == "this")].iloc[0]
        for _, other in shown.loc[(shown["kind"] == kind) & table["rise"]].iterrows():
            if np.isfinite(this["rate"]) and np.isfinite(other["rate"]):
                out.append(f"Dropout rose in {this['period']} to {percent(this['rate'], 1)} from "
                           f"{percent(other['rate'], 1)} in {other['period']}, more than chance would explain "
                           f"(two-proportion test, {_p(other['p'])}).")
    return out


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _takeaway(table: pd.DataFrame, rolling: pd.DataFrame, target: float | None, rises: list[str],
              suppress_below: int) -> str:
    parts = list(rises)
    shown = _shown(table, suppress_below)
    quarter = shown.loc[(shown["kind"] == "quarter") & (shown["role"] == "this")].iloc[0]
    if not rises:
        parts.append(f"Dropout in {quarter['period']} was {percent(quarter['rate'], 1)}; no rise beyond chance against "
                     "the previous month or quarter or the same period last year."
                     if np.isfinite(quarter["rate"]) else
                     f"Too few episodes ended in {quarter['period']} to show its rate without revealing small numbers.")
    last = _shown(rolling.tail(1), suppress_below).iloc[0] if len(rolling) else None
    if last is not None and np.isfinite(last["rate"]):
        text = (f"Over the 12 months to {period_label(last['month'])}, {percent(last['rate'], 1)} (95% CI "
                f"{percent(last['ci_lower'], 1)} to {percent(last['ci_upper'], 1)}) of ended episodes were dropouts")
        if target is not None:
            side = ("above" if last["ci_lower"] > target else "below" if last["ci_upper"] < target
                    else "not clearly different from")
            text += f", {side} the practice's target of {percent(target, 1)}"
        parts.append(text + ".")
    return " ".join(parts)
