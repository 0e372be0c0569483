"""Table 1 of a paper: the clients' baseline characteristics by a chosen group, with
standardized mean differences and missing counts.

A number is summarised by mean (SD) and median [IQR] (quartiles as R's `quantile`, type 7); a
category or a 0/1 marker by count and percentage of the clients with a value. The standardized
mean difference (SMD) follows Yang & Dalton (2012, SAS Global Forum paper 335), as R's tableone
and smd packages: for a number |m1 - m2| / sqrt((s1^2 + s2^2) / 2); for a category
sqrt((p1 - p2)' S^-1 (p1 - p2)) over the levels after the first, S the mean of the two groups'
multinomial covariances; with more than two groups, the average over every pair (tableone).
An SMD above 0.1 is the usual sign of imbalance (Austin 2009, Stat Med 28:3083).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import ClassVar

import numpy as np
import pandas as pd

from analytics.models.design import group_labels, is_categorical
from analytics.results import Privacy, Reported

COLUMNS = ["variable", "level", "group", "n", "percent", "mean", "sd", "median", "q1", "q3", "missing"]
SMD_COLUMNS = ["variable", "smd"]
IMBALANCE = 0.1
OVERALL = "overall"


@dataclass
class TableOneResult(Reported):
    """`table`: tidy numbers per variable, level and group (`overall` too); `smd`: one row per
    variable; `display`: the formatted table as a paper prints it."""

    table: pd.DataFrame
    smd: pd.DataFrame
    display: pd.DataFrame
    group: str | None = None
    takeaway: str = ""
    privacy: ClassVar[Privacy] = Privacy(("n", "missing"), {"n": ("percent",)})


def table_one(episodes: pd.DataFrame, columns, group: str | None = None, suppress_below: int = 0) -> TableOneResult:
    """Baseline characteristics (`columns`) overall and by `group` (its missing values left out).
    In `display`, counts below `suppress_below` (and their percentages) read "<k"."""
    columns = [c for c in columns if c != group]
    missing = [c for c in columns + ([group] if group else []) if c not in episodes]
    if missing:
        raise ValueError(f"These columns are not in the episodes table: {', '.join(missing)}.")
    warnings = []
    if group is None:
        labels, names = pd.Series(OVERALL, index=episodes.index, dtype=object), []
    else:
        labels, names = group_labels(episodes[group])
        unlabelled = int(labels.isna().sum())
        if unlabelled:
            warnings.append(f"{unlabelled} episodes with no value for {group} are left out of the group columns "
                            "(they are in the overall column).")
    parts = [(OVERALL, episodes)] + [(name, episodes.loc[(labels == name).to_numpy()]) for name in names]
    rows, smd = [], []
    for column in columns:
        categorical = is_categorical(episodes[column]) or _is_marker(episodes[column])
        for name, part in parts:
            rows += _summaries(part[column], column, name, categorical, levels=_levels(episodes[column], categorical))
        if len(names) >= 2:
            smd.append((column, _smd([part[column] for _, part in parts[1:]], categorical)))
    table = pd.DataFrame(rows, columns=COLUMNS)
    smd_table = pd.DataFrame(smd, columns=SMD_COLUMNS)
    result = TableOneResult(table, smd_table, display_table(table, smd_table, [OVERALL] + names, suppress_below), group,
                            warnings=warnings, n_used=len(episodes))
    result.takeaway = _sentence(smd_table, group)
    return result


def _is_marker(values: pd.Series) -> bool:
    return set(pd.to_numeric(values, errors="coerce").dropna().unique()) <= {0, 1}


def _levels(values: pd.Series, categorical: bool) -> list:
    return group_labels(values)[1] if categorical else []


def _summaries(values: pd.Series, column: str, group: str, categorical: bool, levels: list) -> list[tuple]:
    known = values.dropna()
    missing = len(values) - len(known)
    if categorical:
        shown = group_labels(values)[0].dropna() if len(values) else known
        n = len(shown)
        return [(column, level, group, int((shown == level).sum()),
                 100 * (shown == level).sum() / n if n else np.nan, *[np.nan] * 5, missing) for level in levels]
    x = pd.to_numeric(known, errors="coerce").to_numpy(dtype=float)
    if len(x) == 0:
        return [(column, "", group, 0, np.nan, *[np.nan] * 5, missing)]
    q1, median, q3 = np.quantile(x, [0.25, 0.5, 0.75])
    sd = float(np.std(x, ddof=1)) if len(x) > 1 else np.nan
    return [(column, "", group, len(x), np.nan, float(x.mean()), sd, median, q1, q3, missing)]


def _smd(parts: list[pd.Series], categorical: bool) -> float:
    """Average over every pair of groups of the Yang-Dalton SMD."""
    pairs = [_pair_smd(a, b, categorical) for a, b in combinations(parts, 2)]
    pairs = [p for p in pairs if np.isfinite(p)]
    return float(np.mean(pairs)) if pairs else np.nan


def _pair_smd(a: pd.Series, b: pd.Series, categorical: bool) -> float:
    a, b = a.dropna(), b.dropna()
    if len(a) == 0 or len(b) == 0:
        return np.nan
    if not categorical:
        x, y = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
        pooled = np.sqrt((np.var(x, ddof=1) + np.var(y, ddof=1)) / 2) if min(len(x), len(y)) > 1 else np.nan
        return float(abs(x.mean() - y.mean()) / pooled) if pooled > 0 else np.nan
    levels = sorted(set(a.astype(str)) | set(b.astype(str)))[1:]
    if not levels:
        return 0.0
    p = np.array([[np.mean(s.astype(str) == level) for level in levels] for s in (a, b)])
    covariance = sum(np.diag(q) - np.outer(q, q) for q in p) / 2
    diff = p[0] - p[1]
    return float(np.sqrt(diff @ np.linalg.pinv(covariance) @ diff))


def display_table(table: pd.DataFrame, smd: pd.DataFrame, groups: list[str], suppress_below: int = 0) -> pd.DataFrame:
    """One row per number or level, one text column per group: "n (%)", "mean (SD)" and
    "median [IQR]", then the SMD and the missing count (overall); small counts read "<k"."""
    def count(n, percent) -> str:
        if 0 < n < suppress_below:
            return f"<{suppress_below}"
        return f"{int(n)} ({percent:.1f}%)" if pd.notna(percent) else "0"

    rows = []
    by = table.set_index(["variable", "level", "group"])
    smd_of = dict(zip(smd["variable"], smd["smd"]))
    for variable in dict.fromkeys(table["variable"]):
        mine = table.loc[table["variable"] == variable]
        numeric = mine["percent"].isna().all() and mine["mean"].notna().any()
        missing = int(by.loc[(variable, mine["level"].iloc[0], OVERALL), "missing"])
        missing = f"<{suppress_below}" if 0 < missing < suppress_below else str(missing)  # a text column, as every cell
        smd_text = f"{smd_of[variable]:.2f}" if pd.notna(smd_of.get(variable, np.nan)) else ""
        if numeric:
            for label, cell in (("mean (SD)", lambda r: f"{r['mean']:.1f} ({r['sd']:.1f})"),
                                ("median [IQR]", lambda r: f"{r['median']:.1f} [{r['q1']:.1f}, {r['q3']:.1f}]")):
                rows.append({"characteristic": f"{variable}, {label}",
                             **{g: cell(by.loc[(variable, "", g)]) for g in groups},
                             "smd": smd_text if label == "mean (SD)" else "", "missing": missing})
                missing, smd_text = "", ""
        else:
            rows.append({"characteristic": f"{variable}, n (%)", **{g: "" for g in groups}, "smd": smd_text,
                         "missing": missing})
            for level in dict.fromkeys(mine["level"]):
                rows.append({"characteristic": f"  {level}", **{
                    g: count(r["n"], r["percent"]) for g, r in ((g, by.loc[(variable, level, g)]) for g in groups)},
                    "smd": "", "missing": ""})
    return pd.DataFrame(rows, columns=["characteristic", *groups, "smd", "missing"])


def _sentence(smd: pd.DataFrame, group: str | None) -> str:
    if group is None or smd.empty:
        return "Baseline characteristics of the clients analysed."
    imbalanced = smd.loc[smd["smd"] > IMBALANCE, "variable"].tolist()
    if not imbalanced:
        return (f"The groups of {group.replace('_', ' ')} are balanced on every characteristic shown "
                f"(standardized mean differences at most {IMBALANCE}).")
    return (f"The groups of {group.replace('_', ' ')} differ (standardized mean difference above {IMBALANCE}) in "
            f"{', '.join(v.replace('_', ' ') for v in imbalanced)}: compare them with these in the model.")
