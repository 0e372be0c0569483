"""Per-episode change on an outcome measure, from the first and the last scored attended session:
reliable improvement and deterioration, caseness, recovery and reliable recovery, and the NHS
Talking Therapies paired rules for PHQ-9 with GAD-7.

Columns are 1/0 floats, missing where a rule is undefined: with fewer than two scores nothing but
`{m}_first` and `{m}_caseness_first` is known, and recovery is defined only for episodes that began
at caseness (NHS Talking Therapies Manual v7, 2024).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.outcomes.measures import MEASURES, NHS_PAIR, TOLERANCE, Measure

CHANGE_COLUMNS = ("first", "last", "change", "reliable_improvement", "reliable_deterioration",
                  "caseness_first", "recovered", "reliable_recovery")
NHS_COLUMNS = ("nhs_reliable_improvement", "nhs_reliable_deterioration", "nhs_recovery", "nhs_reliable_recovery")


def change_columns(measure: Measure, first: np.ndarray, last: np.ndarray, index=None) -> pd.DataFrame:
    """`{m}_first` ... `{m}_reliable_recovery` for one measure. `first` is the first score (missing
    without any); `last` the last score, missing unless there is a second one."""
    first, last = np.asarray(first, dtype=float), np.asarray(last, dtype=float)
    paired = ~np.isnan(first) & ~np.isnan(last)
    change = last - first
    better = change if measure.higher_is_better else -change
    improved = better >= measure.reliable_change - TOLERANCE
    worse = -better >= measure.reliable_change - TOLERANCE
    case_first, case_last = _caseness(measure, first), _caseness(measure, last)
    recovered = np.where(paired & (case_first == 1), (case_last == 0).astype(float), np.nan)
    m = measure.name
    return pd.DataFrame({
        f"{m}_first": first,
        f"{m}_last": last,
        f"{m}_change": np.where(paired, change, np.nan),
        f"{m}_reliable_improvement": _flag(improved, paired),
        f"{m}_reliable_deterioration": _flag(worse, paired),
        f"{m}_caseness_first": case_first,
        f"{m}_recovered": recovered,
        f"{m}_reliable_recovery": np.where(np.isnan(recovered), np.nan, recovered * improved),
    }, index=index)


def nhs_columns(columns: pd.DataFrame) -> pd.DataFrame:
    """The paired rules on the PHQ-9 and GAD-7 change columns (both measures need a first and a last
    score): reliable improvement on at least one and reliable deterioration on neither; reliable
    deterioration on at least one and reliable improvement on neither; recovery for those at
    caseness on either at the first score: at caseness on neither at the last; reliable recovery
    is both."""
    a, b = NHS_PAIR
    paired = columns[f"{a}_change"].notna() & columns[f"{b}_change"].notna()
    improved = (columns[f"{a}_reliable_improvement"] == 1) | (columns[f"{b}_reliable_improvement"] == 1)
    worse = (columns[f"{a}_reliable_deterioration"] == 1) | (columns[f"{b}_reliable_deterioration"] == 1)
    case_first = (columns[f"{a}_caseness_first"] == 1) | (columns[f"{b}_caseness_first"] == 1)
    case_last = (_caseness(MEASURES[a], columns[f"{a}_last"].to_numpy(float)) == 1) | (
        _caseness(MEASURES[b], columns[f"{b}_last"].to_numpy(float)) == 1)
    reliable_improvement = _flag(improved & ~worse, paired)
    recovery = np.where(paired & case_first, (~case_last).astype(float), np.nan)
    return pd.DataFrame({
        "nhs_reliable_improvement": reliable_improvement,
        "nhs_reliable_deterioration": _flag(worse & ~improved, paired),
        "nhs_recovery": recovery,
        "nhs_reliable_recovery": np.where(np.isnan(recovery), np.nan, recovery * reliable_improvement),
    }, index=columns.index)


def _caseness(measure: Measure, scores: np.ndarray) -> np.ndarray:
    at = scores < measure.cutoff if measure.higher_is_better else scores >= measure.cutoff
    return np.where(np.isnan(scores), np.nan, at.astype(float))


def _flag(values, defined) -> np.ndarray:
    return np.where(np.asarray(defined), np.asarray(values, dtype=float), np.nan)
