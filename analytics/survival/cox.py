"""Cox models of the dropout hazard: fast clustered Efron fits, PH test, time-varying alliance,
adjusted survival curves and plain-language captions.

Dropout (event 1) is the event; completion and ongoing episodes are censored, so hazard ratios are
cause-specific. Standard errors are clustered by therapist by default (clients of one therapist
are not independent). Estimates equal R's `coxph(..., ties = "efron", cluster = therapist_id)`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.models.design import Encodings, build_design, levels_by_frequency
from analytics.schema import EVENT_DROPOUT
from analytics.survival import efron
from analytics.survival.cox_results import CoxResult, fit_design, stratum_codes
from analytics.episodes import check_event_coding, timefix
from analytics.survival.proportional_hazards import PHTestResult, ph_test
from analytics.survival.time_varying import counting_process, fit_time_varying

__all__ = [
    "CoxResult", "PHTestResult", "fit_cox", "ph_test", "fit_time_varying", "counting_process",
    "adjusted_curves",
]


def fit_cox(
    episodes: pd.DataFrame,
    covariates: list[str] | tuple[str, ...],
    reference_levels: dict[str, str] | None = None,
    strata: str | list[str] | None = None,
    cluster: str | None = "therapist_id",
    duration: str = "duration",
    event: str = "event",
    time_limit: float = 120.0,
    encodings: Encodings | None = None,
    entry: str | None = None,
    splines: dict[str, int] | None = None,
    weights: str | None = None,
) -> CoxResult:
    """Cause-specific Cox model of dropout on complete cases of the covariates (and of duration,
    event, cluster and strata). `strata` gives each stratum its own baseline hazard; `cluster=None`
    gives model-based standard errors only; `encodings`: see analytics.models.design.Encodings;
    `entry` names a column of delayed-entry times (at risk on (entry, duration], as R's
    `Surv(entry, duration, event == 1)`); `splines` maps numeric covariates to the degrees of
    freedom of a natural spline (R's `ns()`; `partial_effects` then holds each one's curve);
    `weights` names a column of case weights (R's `coxph(..., weights = )`; the PH test and the
    concordance do not use them). Near-equal times are merged as R's `timefix`."""
    covariates = list(covariates)
    strata = [strata] if isinstance(strata, str) else list(strata or [])
    extra = [duration, event] + [c for c in (entry, weights, cluster) if c] + strata
    if event in episodes:
        check_event_coding(episodes[event], event)
    invalid = []
    if duration in episodes:
        times = pd.to_numeric(episodes[duration], errors="coerce")
        bad = episodes[duration].notna() & ~(times >= 0)
        if bad.any():  # a researcher's own table: treat unusable durations as missing, and say so
            episodes = episodes.assign(**{duration: times.where(~bad)})
            invalid.append(f"{int(bad.sum())} episodes have a negative or non-numeric {duration} and were left out.")
    design = build_design(episodes, covariates, reference_levels, extra_columns=extra, encodings=encodings,
                          splines=splines)
    design.warnings = invalid + design.warnings
    rows = episodes.loc[design.rows, list(dict.fromkeys(extra))]  # only the columns needed here
    stop = pd.to_numeric(rows[duration]).to_numpy(dtype=float)
    start = None
    if entry:
        start = pd.to_numeric(rows[entry], errors="coerce").to_numpy(dtype=float)
        if not np.all(start < stop):
            raise ValueError(f"{int(np.sum(~(start < stop)))} episodes have an {entry} that is not before their "
                             f"{duration}; a client is at risk from entry to the end of the episode, so fix or drop them.")
        stop, start = timefix(stop, start)
    else:
        stop = timefix(stop)[0]
    weight = None
    if weights:
        weight = pd.to_numeric(rows[weights], errors="coerce").to_numpy(dtype=float)
        if not np.all(weight >= 0):
            raise ValueError(f"{int(np.sum(~(weight >= 0)))} episodes have a negative or non-numeric {weights}; "
                             "case weights must be numbers of at least 0.")
    dropout = (pd.to_numeric(rows[event], errors="coerce") == EVENT_DROPOUT).to_numpy()
    groups = rows[cluster].to_numpy() if cluster else None
    return fit_design(design, covariates, stop, dropout, stratum_codes(rows, strata), groups, cluster,
                      strata or None, start=start, time_limit=time_limit, weight=weight)


def curve_values(episodes: pd.DataFrame, covariate: str, categorical: bool) -> list:
    """The values adjusted curves are first drawn for: the four most common levels of a category,
    0 and 1 for a marker, else the 10th, 50th and 90th centiles (one decimal)."""
    if categorical:
        return levels_by_frequency(episodes[covariate])[:4]
    numbers = pd.to_numeric(episodes[covariate], errors="coerce").dropna()
    if set(numbers.unique()) <= {0, 1}:
        return [0.0, 1.0]
    return [float(round(numbers.quantile(q), 1)) for q in (0.1, 0.5, 0.9)]


def adjusted_curves(result: CoxResult, covariate: str, values) -> pd.DataFrame:
    """Model-based dropout-free curves for each value of `covariate`, other covariates held at their
    mean (numeric) or reference level (categorical). Baseline: Efron-type cumulative hazard, as
    R's `survfit(fit, newdata = ...)`. One curve per stratum in a stratified model; a level the
    fitted model does not have is left out."""
    m = result.model
    if m is None:
        raise ValueError("This model has no fit to draw curves from (no dropouts).")
    if covariate not in result.covariates:
        raise ValueError(f"{covariate!r} is not a covariate of this model; choose one of {', '.join(result.covariates)}.")
    terms = list(result.table["term"])
    categorical = set(result.reference)
    base = np.array([0.0 if m.term_covariate[t] in categorical else c for t, c in zip(terms, m.center)])
    rs = m.risk_sets
    hazard = efron.baseline_hazard(m.beta, rs)
    if covariate in categorical:  # a level the model never saw has no curve
        known = {t[len(covariate) + 1:-1] for t in terms if m.term_covariate[t] == covariate}
        values = [v for v in values if str(v) in known | {result.reference[covariate]}]
    frames = []
    for value in values:  # one curve per requested value
        x = base.copy()
        for j, term in enumerate(terms):
            if m.term_covariate[term] != covariate:
                continue
            x[j] = float(term == f"{covariate}[{value}]") if covariate in categorical else float(value)
        risk = np.exp((x - m.center) @ m.beta)
        for s in np.unique(rs.group_stratum) if len(rs.group_stratum) else []:
            mine = rs.group_stratum == s
            curve = pd.DataFrame({
                "value": value,
                "time": np.concatenate([[0.0], rs.group_time[mine]]),
                "survival": np.exp(-np.concatenate([[0.0], np.cumsum(hazard[mine])]) * risk),
            })
            if result.strata:
                curve.insert(1, "stratum", [m.stratum_labels[s]] * len(curve))
            frames.append(curve)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["value", "time", "survival"])
