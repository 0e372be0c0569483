"""Restricted mean time to dropout: the area under the Kaplan-Meier curve up to a horizon `tau`,
i.e. the average number of sessions (or days) a client stays before dropping out, counting only
up to tau. Unlike a hazard ratio it reads in the units of the time scale and needs no
proportional hazards (Uno et al. 2014, J Clin Oncol 32:2380).

Per group it equals R's `summary(survfit(Surv(duration, event == 1) ~ g), rmean = tau)` (the
estimate and its standard error, survival's survmean); the 95% interval is estimate +- 1.96 se.
Contrasts between groups are survRM2's: the difference with se sqrt(se1^2 + se2^2), and the
ratio on the log scale with se sqrt((se1/r1)^2 + (se2/r2)^2).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from analytics.results import NO_COUNTS, Privacy, Reported
from analytics.survival.curves import ALPHA, Z95, _counts, _km_table, _prepare

RMST_COLUMNS = ["group", "tau", "rmst", "se", "ci_lower", "ci_upper"]
CONTRAST_COLUMNS = ["comparison", "measure", "estimate", "ci_lower", "ci_upper", "p"]


@dataclass
class RMSTResult(Reported):
    """Restricted mean time to dropout per group (`table`) and between groups (`contrasts`)."""

    table: pd.DataFrame
    contrasts: pd.DataFrame
    tau: float
    takeaway: str = ""
    privacy: ClassVar[Privacy] = NO_COUNTS


def default_tau(episodes: pd.DataFrame, group: str | None = None) -> float:
    """The horizon used when none is chosen: the shortest of the groups' last observed times, so
    every group's curve is known up to it (survRM2's default, CRAN survRM2 NEWS 1.0-2)."""
    frame = _prepare(episodes, group)[0]
    last = frame.groupby("group", observed=True)["time"].max()
    return float(last.min()) if len(last) else float("nan")


def restricted_mean(episodes: pd.DataFrame, tau: float | None = None, group: str | None = None,
                    time_scale: str = "sessions", entry: str | None = None, weights: str | None = None) -> RMSTResult:
    """Restricted mean time to dropout up to `tau` (None: `default_tau`), per group and between
    each pair of groups (difference and ratio with 95% intervals), under the Kaplan-Meier curve
    (with delayed entry and case weights when given, as `kaplan_meier`)."""
    frame, labels, warnings, total = _prepare(episodes, group, entry, weights)
    if tau is None:
        tau = default_tau(episodes, group)
    if frame.empty:  # no episode to integrate over: an empty table, and the curves' warnings say why
        result = RMSTResult(pd.DataFrame(columns=RMST_COLUMNS), pd.DataFrame(columns=CONTRAST_COLUMNS), float(tau),
                            warnings=warnings, n_used=0, n_left_out=total)
        result.takeaway = rmst_sentence(result, group, time_scale)
        return result
    if not np.isfinite(tau) or tau <= 0:
        raise ValueError(f"The horizon rmst_tau must be a positive number of {time_scale}, not {tau!r}.")
    km = _km_table(_counts(frame))
    rows = []
    for label in labels:
        part = km.loc[km["group"] == label]
        if part.empty:
            continue
        estimate, se = _area(part, tau)
        rows.append((label, float(tau), estimate, se))
        if part["time"].max() < tau:
            warnings.append(f"{'Group ' + repr(label) + ': the' if group else 'The'} last observed time "
                            f"({part['time'].max():g}) is before the horizon {tau:g}; the curve is carried on "
                            "flat to it, which assumes no dropout after the last observation.")
    table = pd.DataFrame(rows, columns=["group", "tau", "rmst", "se"])
    table["ci_lower"] = table["rmst"] - Z95 * table["se"]
    table["ci_upper"] = table["rmst"] + Z95 * table["se"]
    contrasts = _contrasts(table)
    used = int(frame["n"].sum())
    result = RMSTResult(table[RMST_COLUMNS], contrasts, float(tau), warnings=warnings, n_used=used,
                        n_left_out=total - used)
    result.takeaway = rmst_sentence(result, group, time_scale)
    return result


def _area(part: pd.DataFrame, tau: float) -> tuple[float, float]:
    """Area under one Kaplan-Meier curve from 0 to tau and its Greenwood-type standard error
    (survival's survmean: each event time's hazard variance times the squared area beyond it)."""
    kept = part.loc[part["time"] <= tau]
    time = kept["time"].to_numpy(dtype=float)
    survival = kept["survival"].to_numpy(dtype=float)
    n, d = kept["at_risk"].to_numpy(dtype=float), kept["events"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard_var = np.where(n > d, d / (n * (n - d)), 0.0)
    edges = np.concatenate([[0.0], time, [tau]])
    heights = np.concatenate([[1.0], survival])
    pieces = np.diff(edges) * heights
    beyond = np.cumsum(pieces[::-1])[::-1][1:]  # area from each time to tau
    return float(pieces.sum()), float(np.sqrt(np.sum(beyond**2 * hazard_var)))


def _contrasts(table: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for a, b in combinations(table.itertuples(index=False), 2):
        name = f"{a.group} vs {b.group}"
        diff, se = a.rmst - b.rmst, np.hypot(a.se, b.se)
        rows.append((name, "difference", diff, diff - Z95 * se, diff + Z95 * se, _p(diff / se)))
        log_ratio = np.log(a.rmst / b.rmst)
        se_log = np.hypot(a.se / a.rmst, b.se / b.rmst)
        rows.append((name, "ratio", np.exp(log_ratio), np.exp(log_ratio - Z95 * se_log),
                     np.exp(log_ratio + Z95 * se_log), _p(log_ratio / se_log)))
    return pd.DataFrame(rows, columns=CONTRAST_COLUMNS)


def _p(z: float) -> float:
    return float(2 * stats.norm.sf(abs(z))) if np.isfinite(z) else float("nan")


def rmst_sentence(result: RMSTResult, group: str | None, time_scale: str) -> str:
    """Per group, the average time stayed (up to the horizon) before dropping out; the clearest
    pairwise difference when it is more than chance."""
    unit = "sessions" if time_scale == "sessions" else "days"
    parts = []
    for row in result.table.itertuples(index=False):
        who = "Clients" if group is None else f"Clients with {group.replace('_', ' ')} {row.group}"
        parts.append(f"{who} stayed on average {row.rmst:.1f} {unit} (95% CI {row.ci_lower:.1f} to "
                     f"{row.ci_upper:.1f}) of the first {result.tau:g} before dropping out.")
    differences = result.contrasts.loc[result.contrasts["measure"] == "difference"]
    clear = differences.loc[differences["p"] < ALPHA]
    if len(clear):
        top = clear.loc[clear["estimate"].abs().idxmax()]
        parts.append(f"The largest clear difference is {top['comparison']}: {top['estimate']:+.1f} {unit} "
                     f"(95% CI {top['ci_lower']:+.1f} to {top['ci_upper']:+.1f}).")
    elif len(differences):
        parts.append("No difference between groups is more than chance would easily explain.")
    return " ".join(parts)
