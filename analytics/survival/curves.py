"""Time to dropout: Kaplan-Meier, log-rank tests and competing-risk cumulative incidence.

Everything is computed from group-by counts at the distinct times (never per client), so a
million episodes cost no more than a few thousand rows. Each function takes the episodes or their
`Tally` (how many episodes share each group, duration and event), which an engine (DuckDB,
Spark: analytics/engines/) sums where the episodes are and sends back instead of the episodes. The numbers agree with R's `survival`
package (tests/reference/ holds the R script and its output):

- `kaplan_meier` = `survfit(Surv(duration, event == 1) ~ g, conf.type = "log-log")`: dropout is
  the event, planned completion and ongoing episodes are censored at their duration.
- `logrank` = `survdiff(Surv(duration, event == 1) ~ g)`, overall and for each pair (Holm).
- `cumulative_incidence` = `survfit(Surv(duration, factor(event, 0:2)) ~ g)`: Aalen-Johansen
  with completion as a competing event, exact with tied times (no jitter).

Time 0 is an ordinary time: an episode with duration 0 (no session attended) that ends in
dropout is an event at time 0 and gives a row at time 0, as in R. The curves start at 1 just
before the first time; the tables hold only the times R reports (every distinct time with an
event or a censoring). Times that differ only by rounding noise are merged as R's `timefix` does
(`episodes.timefix`), and an event column coded as R codes a status (1/2) is refused.

`kaplan_meier` also takes delayed entry (`entry`: the time a client came under observation; at risk
on (entry, duration]) and case weights (`weights`): `survfit(Surv(entry, duration, event == 1) ~ g,
weights = w, robust = FALSE)` (Greenwood on weighted counts; R's default for whole-number weights).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import combinations
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from analytics.models.design import group_labels
from analytics.results import NO_COUNTS, Privacy, Reported
from analytics.schema import EVENT_DROPOUT
from analytics.episodes import check_event_coding, timefix

ALL = "all"
ALPHA = 0.05  # the level at which a test's result is called more than chance
Z95 = stats.norm.ppf(0.975)
_TOL = np.sqrt(np.finfo(float).eps)
_MANY_GROUPS = 12
_NOT_GROUPS = {"client_id", "therapist_id", "therapist_label", "event", "duration", "termination", "last_status"}
# Follow-up summaries: known only at the end of an episode, so not baseline covariates.
_NOT_COVARIATES = _NOT_GROUPS | {
    "sessions_scheduled", "sessions_attended", "missed", "srs_mean", "srs_last", "srs_min", "ruptures",
    "wai_mean", "wai_last", "wai_min", "wai_ruptures", "therapist_languages",
}
_BLOCK_CELLS = 2_000_000  # influence matrix cells held at once (memory bound for many distinct times)

KM_COLUMNS = ["group", "time", "at_risk", "events", "censored", "survival", "ci_lower", "ci_upper"]
MEDIAN_COLUMNS = ["group", "n", "events", "median", "ci_lower", "ci_upper"]
LOGRANK_COLUMNS = ["comparison", "statistic", "df", "p", "p_adjusted"]
CIF_COLUMNS = [
    "group", "time", "cif_dropout", "cif_dropout_lower", "cif_dropout_upper",
    "cif_completed", "cif_completed_lower", "cif_completed_upper",
]
OVERSTATEMENT_COLUMNS = ["group", "time", "one_minus_km", "cif_dropout", "difference"]
MEDIAN_PRIVACY = Privacy(("n", "events"))  # the medians table beside the curves


@dataclass(frozen=True)
class Tally:
    """How many episodes share each (group value, duration, event): `table` has the columns
    `group`, `time`, `event` and `n`; missing values are kept as rows of their own so the curves
    report what they left out. `group` names the episode column it was counted by (None: all)."""

    table: pd.DataFrame
    group: str | None = None


def tally(episodes: pd.DataFrame, group: str | None = None) -> Tally:
    """The episodes counted by group value, duration and event (see `Tally`)."""
    frame = _episode_frame(episodes, group)
    table = frame.groupby(["group", "time", "event"], dropna=False, observed=True, sort=False).size()
    return Tally(table.reset_index(name="n"), group)


def _episode_frame(episodes: pd.DataFrame, group: str | None, entry: str | None = None,
                   weights: str | None = None) -> pd.DataFrame:
    """Group value, duration and event per episode (and `entry` and `weight` when asked for)."""
    missing = [c for c in ("duration", "event") if c not in episodes]
    if missing:
        raise ValueError(f"The episodes table has no {' or '.join(missing)} column; derive episodes first.")
    for role, name in (("group by", group), ("take entry times from", entry), ("take weights from", weights)):
        if name is not None and name not in episodes:
            raise ValueError(f"There is no column {name!r} to {role}; choose one of the episode columns.")
    extra = {key: pd.to_numeric(episodes[name], errors="coerce").astype(float)
             for key, name in (("entry", entry), ("weight", weights)) if name is not None}
    return pd.DataFrame({
        "group": episodes[group] if group is not None else pd.Series(ALL, index=episodes.index, dtype=object),
        "time": pd.to_numeric(episodes["duration"], errors="coerce").astype(float),
        "event": pd.to_numeric(episodes["event"], errors="coerce").astype(float),
        **extra,
    })


def _tallied(data: pd.DataFrame | Tally, group: str | None) -> Tally:
    if isinstance(data, Tally):
        if data.group != group:
            raise ValueError(f"The tally is by {data.group!r}, not by {group!r}.")
        return data
    return tally(data, group)


@dataclass
class KMResult(Reported):
    """Kaplan-Meier step points per group and each group's median time to dropout."""

    table: pd.DataFrame
    medians: pd.DataFrame
    takeaway: str = ""
    privacy: ClassVar[Privacy] = Privacy(("at_risk", "events", "censored"))


@dataclass
class LogrankResult(Reported):
    """The overall log-rank test across groups, then every pair with Holm-adjusted p."""

    table: pd.DataFrame
    takeaway: str = ""
    privacy: ClassVar[Privacy] = NO_COUNTS


@dataclass
class CIFResult(Reported):
    """Cumulative incidence of dropout and of completion, and how far 1 - KM overstates dropout."""

    table: pd.DataFrame
    overstatement: pd.DataFrame
    takeaway: str = ""
    privacy: ClassVar[Privacy] = NO_COUNTS


def kaplan_meier(episodes: pd.DataFrame | Tally, group: str | None = None, time_scale: str = "sessions",
                 entry: str | None = None, weights: str | None = None) -> KMResult:
    """Kaplan-Meier of time to dropout with log(-log) Greenwood 95% intervals; `entry` and
    `weights` name columns for delayed entry and case weights (see the module docstring; they need
    the episodes, not a `Tally`).

    As in R, an interval is NA where survival is 1 or 0 (log(-log S) is undefined there), and the
    median's limits are the first times the interval's bounds fall to 0.5.
    """
    frame, labels, warnings, total = _prepare(episodes, group, entry, weights)
    counts = _counts(frame)
    table = _km_table(counts)
    medians = _medians(table, frame, labels)
    no_events = medians.loc[(medians["n"] > 0) & (medians["events"] == 0), "group"].tolist()
    warnings += [f"Group {g!r} has no dropouts, so its curve stays at 1 and it has no median." for g in no_events]
    used = int(frame["n"].sum())
    result = KMResult(table=table, medians=medians, warnings=warnings, n_used=used, n_left_out=total - used)
    return replace(result, takeaway=" ".join(km_sentences(result, group, time_scale)))


def logrank(episodes: pd.DataFrame | Tally, group: str) -> LogrankResult:
    """Log-rank test (R `survdiff`, rho = 0): overall chi-square with k - 1 df, then each pair.

    The overall row comes first with p_adjusted = p; pairwise p values are Holm-adjusted.
    """
    if group is None:
        raise ValueError("A log-rank test compares groups: choose a grouping column.")
    frame, labels, warnings, total = _prepare(episodes, group)
    used = int(frame["n"].sum())
    present = [g for g in labels if (frame["group"] == g).any()]
    if len(present) < 2 or not (frame["event"] == EVENT_DROPOUT).any():
        warnings.append(
            f"A log-rank test needs at least two groups with clients; the current selection has {len(present)}, "
            "so no test was run." if len(present) < 2 else
            "No one dropped out in the current selection, so there is nothing for a log-rank test to compare."
        )
        return LogrankResult(pd.DataFrame(columns=LOGRANK_COLUMNS), warnings=warnings, n_used=used,
                             n_left_out=total - used)
    rows = [("overall", *_survdiff(frame, present))]
    if len(present) > 2:
        for a, b in combinations(present, 2):
            rows.append((f"{a} vs {b}", *_survdiff(frame.loc[frame["group"].isin([a, b])], [a, b])))
    table = pd.DataFrame(rows, columns=["comparison", "statistic", "df", "p"])
    table["df"] = table["df"].astype(int)
    table["p_adjusted"] = table["p"]
    if len(table) > 1:
        table.loc[1:, "p_adjusted"] = holm(table["p"].iloc[1:].to_numpy())
    if table["df"].iloc[0] < len(present) - 1:
        warnings.append("Some groups had no one at risk at any dropout time and were left out of the test.")
    overall = table.iloc[0]
    verdict = "differ by more than chance would easily explain" if overall["p"] < ALPHA else "could differ by chance alone"
    takeaway = (f"The curves {verdict} (log-rank test: chi-square {overall['statistic']:.2f} on {overall['df']} df, "
                f"p = {overall['p']:.3g}). Pairwise p values are Holm-adjusted for the number of comparisons.")
    return LogrankResult(table[LOGRANK_COLUMNS], takeaway, warnings=warnings, n_used=used, n_left_out=total - used)


def cumulative_incidence(episodes: pd.DataFrame | Tally, group: str | None = None,
                         time_scale: str = "sessions") -> CIFResult:
    """Aalen-Johansen cumulative incidence of dropout (event 1) and completion (event 2).

    Tied times are handled exactly: at each time, dropouts and completions both leave the
    at-risk set. Standard errors are R's infinitesimal jackknife (the derivative of each curve
    with respect to each client's weight, computed once per distinct (time, event) pair since
    clients sharing one have the same influence), and the 95% intervals are R's default for
    multi-state curves, log-transformed (p * exp(+-1.96 se / p), upper capped at 1, NA at p = 0).
    """
    frame, labels, warnings, total = _prepare(episodes, group)
    used = int(frame["n"].sum())
    counts = _counts(frame)
    parts = [_aalen_johansen(part) for _, part in counts.groupby("group", sort=False)]
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=CIF_COLUMNS)
    km = _km_table(counts)
    overstatement = pd.DataFrame(
        {
            "group": table["group"].to_numpy(),
            "time": table["time"].to_numpy(),
            "one_minus_km": 1.0 - km["survival"].to_numpy(),
            "cif_dropout": table["cif_dropout"].to_numpy(),
        }
    )
    overstatement["difference"] = overstatement["one_minus_km"] - overstatement["cif_dropout"]
    return CIFResult(table=table[CIF_COLUMNS], overstatement=overstatement[OVERSTATEMENT_COLUMNS], warnings=warnings,
                     takeaway=_incidence_sentence(table, time_scale), n_used=used, n_left_out=total - used)


def _incidence_sentence(table: pd.DataFrame, time_scale: str) -> str:
    """By the last time of each group: the share who had dropped out and the share who had completed."""
    unit = "session" if time_scale == "sessions" else "day"
    last = table.groupby("group", sort=False, observed=True).tail(1)
    return " ".join(
        f"{'By' if g == ALL else f'{g}: by'} {unit} {t:g}, {d:.0%} had dropped out and {c:.0%} had completed."
        for g, t, d, c in zip(last["group"], last["time"], last["cif_dropout"], last["cif_completed"])
    )


def overstatement_summary(cif: CIFResult, km: KMResult, min_at_risk: int = 20) -> pd.DataFrame:
    """Per group, the overstatement at the last time with at least `min_at_risk` clients still
    followed (the far tail, where a handful of clients move the curves, is left out).

    Columns: group, time, at_risk, one_minus_km, cif_dropout, difference."""
    rows = cif.overstatement.assign(at_risk=km.table["at_risk"].to_numpy())
    rows = rows.loc[rows["at_risk"] >= min_at_risk]
    last = rows.groupby("group", sort=False).tail(1)
    return last[["group", "time", "at_risk", "one_minus_km", "cif_dropout", "difference"]].reset_index(drop=True)


def overstatement_takeaway(cif: CIFResult, km: KMResult, time_scale: str = "sessions") -> str:
    """The sentence under the overstatement chart: how far 1 - KM overstates dropout at the last
    time each group still had at least 20 clients followed."""
    unit = "session" if time_scale == "sessions" else "day"
    summary = overstatement_summary(cif, km)
    overstated = "; ".join(
        f"{'' if g == ALL else f'{g}: '}by {unit} {t:g}, {naive:.0%} instead of {real:.0%}"
        for g, t, naive, real in zip(summary["group"], summary["time"], summary["one_minus_km"], summary["cif_dropout"])
    )
    return ("The shaded gap between the dashed (1 − Kaplan-Meier) and the solid (cumulative incidence) curve is how "
            "much ignoring completion overstates dropout"
            + (f" ({overstated}; at the last time at least 20 clients were still followed)." if overstated else "."))


def holm(p: np.ndarray) -> np.ndarray:
    """Holm step-down adjustment, as R's p.adjust(p, "holm") (missing p values stay missing)."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    known = np.flatnonzero(~np.isnan(p))
    order = known[np.argsort(p[known], kind="stable")]
    m = len(order)
    out[order] = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    return out


def grouping_columns(episodes: pd.DataFrame, max_levels: int = _MANY_GROUPS) -> list[str]:
    """Episode columns that make sensible groups for curves: text, category or true/false columns
    and numbers with at most six values (markers, 1-5 ratings), each with 2 to `max_levels` values,
    known at intake. Identifiers, dates and the outcome itself are left out (therapists are compared
    on the Therapists page, with funnel plots, not as a bundle of curves), and so are measures taken
    during therapy (missed appointments, ruptures): a client who stays longer has more chances to
    miss or rupture, so grouping by them credits the stayers with time they had to survive to be in
    the group (immortal-time bias). They are compared at a landmark instead (survival/landmark.py)."""
    return _columns(episodes, _NOT_COVARIATES, lambda levels, numeric: 2 <= levels <= (6 if numeric else max_levels))


def covariate_columns(episodes: pd.DataFrame, max_levels: int = _MANY_GROUPS) -> list[str]:
    """Episode columns fit to be covariates of a time-to-dropout model: known at the start of
    therapy. Summaries over the whole episode (mean, last or lowest alliance, ruptures, missed
    appointments) are left out: they depend on how long the client stayed, so they would predict
    dropout backwards. Numbers with any spread qualify; text columns with 2 to `max_levels` values."""
    return _columns(episodes, _NOT_COVARIATES, lambda levels, numeric: levels >= 2 and (numeric or levels <= max_levels),
                    spread_only=True)


def numeric_columns(episodes: pd.DataFrame) -> list[str]:
    """Numeric episode columns other than the outcome and identifiers: candidates for an entry
    time or a case weight."""
    return _columns(episodes, _NOT_GROUPS, lambda levels, numeric: levels >= 2, spread_only=True, text=False)


def _columns(episodes: pd.DataFrame, excluded, accept, spread_only: bool = False, text: bool = True) -> list[str]:
    """Non-date columns outside `excluded` for which `accept(distinct values, is numeric)` holds.
    `spread_only`: `accept` asks of a number only whether it has two values or more, so its values
    are counted as 0, 1 or 2 from its least and greatest, not hashed (the covariates of 100,000
    clients' episodes: 0.09 s -> 0.06 s). `text=False`: only numbers qualify, and text columns are
    not counted at all."""
    out = []
    for name in episodes.columns:
        column = episodes[name]
        if name in excluded or pd.api.types.is_datetime64_any_dtype(column):
            continue
        numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
        if not (numeric or text):
            continue
        if accept(_spread(column) if numeric and spread_only else column.nunique(dropna=True), numeric):
            out.append(name)
    return out


def _spread(column: pd.Series) -> int:
    """A number's distinct values as far as "two or more": 0, 1 or 2."""
    low = column.min()
    return 0 if pd.isna(low) else 1 + int(column.max() > low)


def km_sentences(km: KMResult, column: str | None = None, time_scale: str = "sessions") -> list[str]:
    """One plain sentence per group with clients, e.g. "Half of the clients with referral court
    had dropped out by session 4 (95% CI 3 to 6)."; where the median is not reached, the share
    that had dropped out by the last time observed."""
    unit = "session" if time_scale == "sessions" else "day"
    last = km.table.groupby("group", sort=False).tail(1).set_index("group")
    out = []
    for _, row in km.medians.loc[km.medians["n"] > 0].iterrows():
        who = "all clients" if column is None else f"the clients with {column.replace('_', ' ')} {row['group']}"
        if row["events"] == 0:
            out.append(f"None of {'the clients' if column is None else who} dropped out.")
        elif pd.isna(row["median"]):
            end = last.loc[row["group"]]
            share = f"{1 - end['survival']:.0%}"
            if pd.notna(end["ci_lower"]):
                share += f" (95% CI {1 - end['ci_upper']:.0%} to {1 - end['ci_lower']:.0%})"
            out.append(f"Fewer than half of {who} dropped out: by {unit} {end['time']:g}, {share} had.")
        else:
            lower = "" if pd.isna(row["ci_lower"]) else f"{row['ci_lower']:g}"
            upper = "not reached" if pd.isna(row["ci_upper"]) else f"{row['ci_upper']:g}"
            interval = f" (95% CI {lower} to {upper})" if lower else ""
            out.append(f"Half of {who} had dropped out by {unit} {row['median']:g}{interval}.")
    return out


def _prepare(episodes: pd.DataFrame | Tally, group: str | None, entry: str | None = None,
             weights: str | None = None) -> tuple[pd.DataFrame, list[str], list[str], int]:
    """Counts by group label, time and event (`n`) after leaving out rows that cannot be used; the
    labels in order, the warnings and the number of episodes before anything was left out. With
    delayed entry or case weights the rows stay one per episode (`n` = 1) with `entry`/`weight`."""
    if entry is None and weights is None:
        counted = _tallied(episodes, group).table
    elif isinstance(episodes, Tally):
        raise ValueError("Delayed entry and case weights need the episodes themselves: a tally (counts by group, "
                         "duration and event) has no entry time or weight per episode.")
    else:
        counted = _episode_frame(episodes, group, entry, weights).assign(n=1)
    check_event_coding(counted["event"])
    warnings: list[str] = []
    n = counted["n"].to_numpy(dtype=np.int64)
    duration = counted["time"].to_numpy(dtype=float)
    event = counted["event"].to_numpy(dtype=float)
    if group is None:
        labels, names = pd.Series(ALL, index=counted.index, dtype=object), [ALL]
    else:
        labels, names = group_labels(counted["group"])
    usable = ~np.isnan(duration) & (duration >= 0) & np.isin(event, (0, 1, 2))
    if (~usable).any():
        warnings.append(f"Left out {_episodes(int(n[~usable].sum()))} without a usable duration or outcome.")
    extra = {}
    if entry is not None:
        start = counted["entry"].to_numpy(dtype=float)
        late = usable & ~(start < duration)
        if late.any():
            warnings.append(f"Left out {_episodes(int(late.sum()))} whose {entry} is missing or not before its duration "
                            "(a client is at risk from entry to the end of the episode).")
        usable &= ~late
        duration, start = timefix(duration, start)
        extra["entry"] = start
    else:
        duration = timefix(duration)[0]
    if weights is not None:
        weight = counted["weight"].to_numpy(dtype=float)
        bad = usable & ~(weight >= 0)
        if bad.any():
            warnings.append(f"Left out {_episodes(int(bad.sum()))} with a missing or negative {weights}.")
        usable &= ~bad
        extra["weight"] = weight
    unlabelled = usable & labels.isna().to_numpy()
    if unlabelled.any():
        warnings.append(f"Left out {_episodes(int(n[unlabelled].sum()))} with no value for {group!r}.")
    keep = usable & ~unlabelled & (n > 0)
    frame = pd.DataFrame({"group": labels.to_numpy()[keep], "time": duration[keep], "event": event[keep].astype(int),
                          "n": n[keep], **{k: v[keep] for k, v in extra.items()}})
    present = set(frame["group"].unique())
    if frame.empty:
        warnings.append("There are no episodes to analyse in the current selection.")
    else:
        warnings += [f"Group {g!r} has no clients in the current selection and is left out."
                     for g in names if g not in present]
    if len(names) > _MANY_GROUPS:
        warnings.append(f"{group!r} has {len(names)} distinct values; curves are easier to read with a "
                        "grouping of a few levels (bands for a number).")
    frame["group"] = pd.Categorical(frame["group"], categories=names)
    return frame, names, warnings, int(n.sum())


def _episodes(n: int) -> str:
    return "1 episode" if n == 1 else f"{n:,} episodes"


def _counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Per group and distinct time: number at risk, dropouts, completions, censored (weighted
    sums when the frame has a `weight` column; entrants after a time are not at risk at it)."""
    weight = frame["weight"] if "weight" in frame else frame["n"]
    per_time = (
        weight.groupby([frame["group"], frame["time"], frame["event"]], observed=True).sum()
        .unstack("event", fill_value=0)
        .reindex(columns=[0, 1, 2], fill_value=0)
        .reset_index()
        .rename(columns={0: "censored", 1: "dropout", 2: "completed"})
    )
    per_time = per_time.sort_values(["group", "time"], kind="stable").reset_index(drop=True)
    leaving = per_time[["censored", "dropout", "completed"]].sum(axis=1)
    per_time["at_risk"] = leaving[::-1].groupby(per_time["group"][::-1], observed=True).cumsum()[::-1]
    if "entry" in frame:
        per_time["at_risk"] -= _entering_later(frame, per_time)
    per_time["group"] = per_time["group"].astype(object)
    return per_time[["group", "time", "at_risk", "dropout", "completed", "censored"]]


def _entering_later(frame: pd.DataFrame, per_time: pd.DataFrame) -> np.ndarray:
    """Per row of `per_time`: the (weighted) clients of its group who enter at or after its time."""
    out = np.zeros(len(per_time))
    weight = (frame["weight"] if "weight" in frame else frame["n"]).to_numpy(dtype=float)
    for label, rows in frame.groupby("group", observed=True).indices.items():
        order = np.argsort(frame["entry"].to_numpy()[rows], kind="stable")
        entries = frame["entry"].to_numpy()[rows][order]
        later = np.concatenate([np.cumsum(weight[rows][order][::-1])[::-1], [0.0]])
        mine = (per_time["group"] == label).to_numpy()
        out[mine] = later[np.searchsorted(entries, per_time["time"].to_numpy()[mine], "left")]
    return out


def _km_table(counts: pd.DataFrame) -> pd.DataFrame:
    n = counts["at_risk"].to_numpy(dtype=float)
    d = counts["dropout"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.log1p(-d / n)
        greenwood = np.where(n > d, d / (n * (n - d)), np.inf)
    by = counts["group"]
    survival = np.exp(pd.Series(step).groupby(by.to_numpy(), sort=False).cumsum().to_numpy())
    # once everyone at risk has dropped out the curve stays at 0 (pandas' summation turns -inf + x into NaN)
    survival[pd.Series((d >= n) & (d > 0)).groupby(by.to_numpy(), sort=False).cummax().to_numpy()] = 0.0
    se = np.sqrt(pd.Series(greenwood).groupby(by.to_numpy(), sort=False).cumsum().to_numpy())
    lower, upper = _loglog_interval(survival, se)
    return pd.DataFrame(
        {
            "group": by.to_numpy(),
            "time": counts["time"].to_numpy(),
            "at_risk": _whole(counts["at_risk"]),
            "events": _whole(counts["dropout"]),
            "censored": _whole(counts["censored"] + counts["completed"]),
            "survival": survival,
            "ci_lower": lower,
            "ci_upper": upper,
        }
    )


def _whole(counts: pd.Series) -> np.ndarray:
    """Counts as whole numbers unless case weights made them fractional."""
    values = counts.to_numpy(dtype=float)
    return values.astype(int) if np.all(values == np.round(values)) else values


def _loglog_interval(survival: np.ndarray, se_log: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """R's log-log interval; NA where survival is 0 or 1."""
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where((survival > 0) & (survival < 1), survival, np.nan)
        shift = Z95 * se_log / np.log(s)
        centre = np.log(-np.log(s))
        return np.exp(-np.exp(centre - shift)), np.exp(-np.exp(centre + shift))


def _medians(table: pd.DataFrame, frame: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """Median and its limits by R's rule (print.survfit): the first time a curve is below 0.5,
    or the midpoint to the next drop when it sits exactly at 0.5."""
    size = frame.groupby("group", observed=False)["n"].sum().reindex(labels, fill_value=0)
    dropped = frame.assign(d=frame["n"] * (frame["event"] == EVENT_DROPOUT)).groupby("group", observed=False)["d"].sum()
    events = dropped.reindex(labels, fill_value=0)
    rows = []
    for label in labels:
        part = table.loc[table["group"] == label]
        time = part["time"].to_numpy()
        rows.append(
            (label, int(size[label]), int(events[label]),
             _first_below_half(part["survival"].to_numpy(), time),
             _first_below_half(part["ci_lower"].to_numpy(), time),
             _first_below_half(part["ci_upper"].to_numpy(), time))
        )
    return pd.DataFrame(rows, columns=MEDIAN_COLUMNS)


def _first_below_half(curve: np.ndarray, time: np.ndarray) -> float:
    keep = ~np.isnan(curve) & (curve < 0.5 + _TOL)
    if not keep.any():
        return np.nan
    y, x = curve[keep], time[keep]
    lower = np.flatnonzero(y < y[0])
    if abs(y[0] - 0.5) < _TOL and len(lower):
        return float((x[0] + x[lower[0]]) / 2)
    return float(x[0])


def _survdiff(frame: pd.DataFrame, groups: list[str]) -> tuple[float, int, float]:
    """Chi-square, df and p of the log-rank test across `groups` (as R's survdiff)."""
    table = pd.crosstab(frame["time"], [frame["group"], frame["event"] == EVENT_DROPOUT], values=frame["n"],
                        aggfunc="sum").fillna(0)
    table = table.reindex(columns=pd.MultiIndex.from_product([groups, [False, True]]), fill_value=0)
    leaving = table.T.groupby(level=0, sort=False).sum().T[groups].to_numpy(dtype=float)
    deaths = table.xs(True, axis=1, level=1)[groups].to_numpy(dtype=float)
    at_risk = np.cumsum(leaving[::-1], axis=0)[::-1]
    n, d = at_risk.sum(axis=1), deaths.sum(axis=1)
    used = d > 0
    at_risk, deaths, n, d = at_risk[used], deaths[used], n[used], d[used]
    share = at_risk / n[:, None]
    observed = deaths.sum(axis=0)
    expected = (share * d[:, None]).sum(axis=0)
    weight = np.where(n > 1, d * (n - d) / np.maximum(n - 1, 1), 0.0)
    var = np.diag((weight[:, None] * share).sum(axis=0)) - (share * weight[:, None]).T @ share
    keep = np.flatnonzero(expected > 0)
    df = len(keep) - 1
    if df < 1:
        return 0.0, max(df, 0), np.nan
    diff = (observed - expected)[keep][1:]
    v = var[np.ix_(keep, keep)][1:, 1:]
    chi = float(diff @ np.linalg.lstsq(v, diff, rcond=None)[0])
    return chi, df, float(stats.chi2.sf(chi, df))


def _aalen_johansen(counts: pd.DataFrame) -> pd.DataFrame:
    """Aalen-Johansen curves of one group, with infinitesimal-jackknife standard errors.

    Influence of a client leaving at time index m with outcome k on the hazards at index l:
    (1[l == m, k] - 1[l <= m] h_kl) / n_l. It is propagated through S and the CIFs in closed
    form (cumulative sums), for each distinct (time, outcome) kind, weighted by its count.
    """
    n = counts["at_risk"].to_numpy(dtype=float)
    d1, d2 = counts["dropout"].to_numpy(dtype=float), counts["completed"].to_numpy(dtype=float)
    h1, h2 = d1 / n, d2 / n
    h = h1 + h2
    survival = np.cumprod(1.0 - h)
    s_prev = np.concatenate(([1.0], survival[:-1]))
    cif1, cif2 = np.cumsum(s_prev * h1), np.cumsum(s_prev * h2)

    steps = len(n)
    kind_time = np.repeat(np.arange(steps), 3)
    kind_outcome = np.tile([0, 1, 2], steps)
    weight = np.column_stack([counts["censored"], d1, d2]).ravel().astype(float)
    used = weight > 0
    kind_time, kind_outcome, weight = kind_time[used], kind_outcome[used], weight[used]
    var1, var2 = np.zeros(steps), np.zeros(steps)
    block = max(1, _BLOCK_CELLS // steps)
    for start in range(0, len(weight), block):
        chunk = slice(start, start + block)
        u1, u2 = _influence(kind_time[chunk], kind_outcome[chunk], n, h1, h2, survival, s_prev)
        var1 += weight[chunk] @ u1**2
        var2 += weight[chunk] @ u2**2
    se1, se2 = np.sqrt(var1), np.sqrt(var2)
    lo1, up1 = _log_interval(cif1, se1)
    lo2, up2 = _log_interval(cif2, se2)
    return pd.DataFrame(
        {
            "group": counts["group"].to_numpy(), "time": counts["time"].to_numpy(),
            "cif_dropout": cif1, "cif_dropout_lower": lo1, "cif_dropout_upper": up1,
            "cif_completed": cif2, "cif_completed_lower": lo2, "cif_completed_upper": up2,
        }
    )


def _influence(kind_time, kind_outcome, n, h1, h2, survival, s_prev) -> tuple[np.ndarray, np.ndarray]:
    """Influence of one client of each kind on both cumulative incidence curves (kinds x times)."""
    steps = np.arange(len(n))[None, :]
    at_or_before = steps <= kind_time[:, None]
    at_time = steps == kind_time[:, None]
    g1 = ((at_time & (kind_outcome == 1)[:, None]) - at_or_before * h1) / n
    g2 = ((at_time & (kind_outcome == 2)[:, None]) - at_or_before * h2) / n
    h = h1 + h2
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(h < 1, -(g1 + g2) / (1.0 - h), 0.0)
    u_survival = survival[None, :] * np.cumsum(ratio, axis=1)
    u_prev = np.concatenate([np.zeros((len(kind_time), 1)), u_survival[:, :-1]], axis=1)
    return np.cumsum(u_prev * h1 + s_prev * g1, axis=1), np.cumsum(u_prev * h2 + s_prev * g2, axis=1)


def _log_interval(p: np.ndarray, se: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """R's log interval for a probability: NA where p is 0, upper bound capped at 1."""
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(p > 0, p, np.nan)
        shift = Z95 * np.where(se == 0, 0.0, se / x)
        return x * np.exp(-shift), np.minimum(x * np.exp(shift), 1.0)
