"""The alliance view: how alliance scores move for clients who dropped out, completed or are still
in therapy; ruptures under the director's own rules; what follows a rupture; and dropout risk by
alliance level.

Session number is the client's n-th attended appointment. A rated session is an attended one with
a score. Ruptures are flagged by analytics.ruptures.flag_ruptures (drop of at least `min_drop` from
the previous rated session, or a fall from at/above `cutoff` to below it).

After a rupture (client level, first rupture only), with n = `within`:
- repaired: one of the next n rated sessions scores at least the pre-rupture level (the score of
  the rated session before the rupture); not yet known while the episode is open with fewer than n
  later rated sessions.
- dropout within n sessions: the episode ended in dropout with at most n attended sessions after
  the rupture session; not yet known while it is open with at most n later attended sessions.
- comparison: every rated session from the second on at which the client had had no rupture so far
  (a landmark at the same attended-session number), with the same outcome rule. Per session number
  a, p_a is the comparison dropout proportion; the comparison rate is the average of p_a weighted
  by how many ruptured clients had their rupture at a (direct standardization to the ruptured
  clients' timing, because dropout is more common early). Its 95% CI uses the normal
  approximation sum(w_a^2 p_a (1-p_a) / n_a) and treats the session numbers as independent
  samples; clients appear at several session numbers, so read it as approximate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from analytics.client_runs import ClientRuns, attended_in_client_order, per_row
from analytics.episodes import EpisodeSettings
from analytics.practice.display import in_words
from analytics.proportions import Z95, percent, wilson_interval
from analytics.results import NO_COUNTS, Privacy, Reported
from analytics.ruptures import flag_ruptures
from analytics.schema import EVENT_COMPLETED, EVENT_DROPOUT, SCALES, SRS_CUTOFF
from analytics.survival.cox import fit_time_varying
from analytics.survival.cox_results import has_estimate
from analytics.survival.curves import MEDIAN_PRIVACY, kaplan_meier

# A table of mean scores per group: its clients, and the summaries worked out from them.
MEANS_PRIVACY = Privacy(("clients",), {"clients": ("mean", "sd", "ci_lower", "ci_upper")})
OUTCOME_LABELS = {EVENT_DROPOUT: "dropped out", EVENT_COMPLETED: "completed", 0: "ongoing or other ending"}
OUTCOME_ORDER = ["dropped out", "completed", "ongoing or other ending"]


@dataclass
class TrajectoryResult(Reported):
    measure: str
    table: pd.DataFrame  # outcome (or ending), session_number, clients, mean, sd, ci_lower, ci_upper
    takeaway: str
    privacy: ClassVar[Privacy] = MEANS_PRIVACY


@dataclass
class FirstSessionResult(Reported):
    measure: str
    table: pd.DataFrame  # outcome, clients, mean, sd, ci_lower, ci_upper, median, below_cutoff, below_cutoff_share
    distribution: pd.DataFrame  # outcome, score_from, score_to, clients, share
    takeaway: str
    privacy: ClassVar[Privacy] = Privacy(("clients", "below_cutoff"), {
        "clients": ("mean", "sd", "ci_lower", "ci_upper", "median"), "below_cutoff": ("below_cutoff_share",)})


@dataclass
class RuptureResult(Reported):
    measure: str
    within: int
    per_client: pd.DataFrame
    table: pd.DataFrame  # one row: rated clients, clients_with_rupture, share, ruptures, transitions, per_100
    per_client_counts: pd.DataFrame  # ruptures ("0", "1", "2", "3 or more"), clients, share (clients rated twice)
    repair: pd.DataFrame  # one row: ruptured, repaired, not_repaired, not_yet_known, share repaired, ci
    comparison: pd.DataFrame  # group, clients, index_sessions, dropouts (among index sessions), rate, ci_lower, ci_upper, note
    takeaway: str
    privacy: ClassVar[Privacy] = Privacy(
        ("clients_rated_twice", "clients_with_rupture", "ruptures"),
        {"clients_with_rupture": ("share", "ci_lower", "ci_upper", "per_100_transitions"),
         "ruptures": ("per_100_transitions",)})

    def flagged_share(self, suppress_below: int) -> str:
        """The share of clients rated at least twice that the rule flags, shown beside the rule (so a
        rule that flags most clients is seen to); "hidden" when it rests on too few clients."""
        row = self.privacy.suppress(self.table, suppress_below).iloc[0]
        return "hidden" if pd.isna(row["share"]) else percent(row["share"])


@dataclass
class AllianceRiskResult(Reported):
    measure: str
    method: str  # "time-varying Cox" or "Kaplan-Meier by first-session alliance"
    table: pd.DataFrame
    takeaway: str
    km: object = None

    @property
    def privacy(self) -> Privacy:
        """The Kaplan-Meier medians count clients; the Cox table has no counts."""
        return NO_COUNTS if self.km is None else MEDIAN_PRIVACY



# The rupture tables beside the headline rates: clients per number of ruptures, repair, dropout after.
PER_CLIENT_PRIVACY = Privacy(("clients",), {"clients": ("share",)})
REPAIR_PRIVACY = Privacy(("ruptured", "repaired", "not_repaired", "not_yet_known"),
                         {"repaired": ("share", "ci_lower", "ci_upper"), "not_repaired": ("share", "ci_lower", "ci_upper")})
COMPARISON_PRIVACY = Privacy(("clients", "index_sessions", "dropouts"),
                             {"clients": ("rate", "ci_lower", "ci_upper"), "dropouts": ("rate", "ci_lower", "ci_upper")})


def missing_measure_message(measure: str) -> str:
    low, high = SCALES[measure]
    name = "Session Rating Scale" if measure == "srs" else "Working Alliance Inventory (short revised)"
    return (
        f"This view needs a `{measure}` column in the sessions file: the {name} score ({low}-{high}) "
        "of each attended session. Map it on the Data page if your export has it under another name."
    )


def has_measure(sessions: pd.DataFrame | None, measure: str) -> bool:
    return sessions is not None and measure in sessions and sessions[measure].notna().any()


def rated_rows(sessions: pd.DataFrame, measure: str, clients: pd.Series | None = None) -> pd.DataFrame:
    """Attended, rated sessions (of `clients` when given) in client order with session_number (n-th
    attended appointment) and rated_number (n-th rated one): rated_sessions without the outcome,
    the same under every definition (the dashboard keeps it when the definition changes)."""
    if not has_measure(sessions, measure):
        raise ValueError(missing_measure_message(measure))
    attended = attended_in_client_order(sessions, ["client_id", "date", measure], clients)
    attended = attended.assign(session_number=ClientRuns(attended["client_id"]).number())
    rated = attended.loc[attended[measure].notna()].copy()
    rated["rated_number"] = ClientRuns(rated["client_id"]).number()
    return rated


def rated_sessions(sessions: pd.DataFrame, episodes: pd.DataFrame, measure: str,
                   rows: pd.DataFrame | None = None) -> pd.DataFrame:
    """Attended, rated sessions of the episodes' clients with session_number (n-th attended
    appointment), rated_number (n-th rated one) and the client's event and sessions attended.
    `rows`: rated_rows of the appointments of exactly these clients, when already computed."""
    if rows is None:
        rows = rated_rows(sessions, measure, episodes["client_id"])
    found = ClientRuns(rows["client_id"]).positions(episodes["client_id"])
    per_client = {"event": episodes["event"], "sessions_attended": episodes["sessions_attended"]}
    # The one copy of the kept rows.
    rated = rows.assign(**{name: per_row(values, found) for name, values in per_client.items()})
    rated.index = pd.RangeIndex(len(rated))
    rated.attrs["clients"] = int(episodes["client_id"].nunique())  # so results can say how many had no rating
    return rated


def mean_table(frame: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
    """Mean with a t-based 95% interval per group (NaN interval for a single client)."""
    table = frame.groupby(keys, sort=True)[value].agg(clients="count", mean="mean", sd="std").reset_index()
    n = table["clients"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf(0.975, np.maximum(n - 1, 1)) * table["sd"].to_numpy() / np.sqrt(n)
    half = np.where(n > 1, half, np.nan)
    table["ci_lower"], table["ci_upper"] = table["mean"] - half, table["mean"] + half
    return table


def alliance_trajectories(
    sessions: pd.DataFrame, episodes: pd.DataFrame, measure: str = "srs", max_session: int = 20
) -> TrajectoryResult:
    """Mean score by session number for clients who dropped out, completed or are still in therapy."""
    return trajectories_of(rated_sessions(sessions, episodes, measure), measure, max_session)


def trajectories_of(rated: pd.DataFrame, measure: str = "srs", max_session: int = 20) -> TrajectoryResult:
    """alliance_trajectories from rated_sessions' table (one table serves trajectories and ruptures).
    Grouped by the event, whose values name the outcomes one to one, and named after: whole numbers
    are grouped faster than a million texts, and only the grouped columns are copied."""
    kept = rated["session_number"].to_numpy() <= max_session
    table = mean_table(rated.loc[kept, ["event", "session_number", measure]], ["event", "session_number"], measure)
    table.insert(0, "outcome", pd.Categorical(table.pop("event").astype(int).map(OUTCOME_LABELS), OUTCOME_ORDER, ordered=True))
    table = table.sort_values(["outcome", "session_number"]).reset_index(drop=True)
    table["outcome"] = table["outcome"].astype(str)
    early = table.loc[table["session_number"] <= 3].groupby("outcome")["mean"].mean()
    if {"dropped out", "completed"} <= set(early.index):
        gap = early["completed"] - early["dropped out"]
        takeaway = (
            f"Over the first three sessions, clients who later dropped out rated the alliance "
            f"{abs(gap):.1f} points {'lower' if gap > 0 else 'higher'} on average than clients who completed."
        )
    else:
        takeaway = "There are not yet both dropouts and completions with ratings to compare."
    used = int(rated["client_id"][kept].nunique())
    return TrajectoryResult(measure, table, takeaway, n_used=used, n_left_out=rated.attrs.get("clients", used) - used)


def first_session_alliance(
    episodes: pd.DataFrame, measure: str = "srs", bin_width: float = 2.0, suppress_below: int = 11
) -> FirstSessionResult:
    """First rated alliance score by outcome: summary with intervals and a binned distribution. The
    takeaway quotes no share resting on fewer than `suppress_below` clients."""
    column = f"{measure}_first"
    if column not in episodes or episodes[column].notna().sum() == 0:
        raise ValueError(missing_measure_message(measure))
    data = episodes.loc[episodes[column].notna(), [column, "event"]]
    data = data.assign(outcome=data["event"].map(OUTCOME_LABELS))
    summary = mean_table(data, ["outcome"], column)
    summary["median"] = data.groupby("outcome")[column].median().reindex(summary["outcome"]).to_numpy()
    cutoff = SRS_CUTOFF if measure == "srs" else None
    if cutoff is not None:
        below = data.assign(below=data[column] < cutoff).groupby("outcome")["below"].sum()
        summary["below_cutoff"] = below.reindex(summary["outcome"]).to_numpy().astype(int)
        summary["below_cutoff_share"] = summary["below_cutoff"] / summary["clients"]
    low, high = SCALES[measure]
    edges = np.arange(low, high + bin_width, bin_width)
    bins = np.clip(np.floor((data[column].to_numpy() - low) / bin_width), 0, len(edges) - 2).astype(int)
    counts = data.assign(bin=bins).groupby(["outcome", "bin"]).size().rename("clients").reset_index()
    counts["score_from"] = edges[counts["bin"]]
    counts["score_to"] = np.minimum(edges[counts["bin"]] + bin_width, high)
    counts["share"] = counts["clients"] / counts.groupby("outcome")["clients"].transform("sum")
    distribution = counts[["outcome", "score_from", "score_to", "clients", "share"]]
    s = summary.set_index("outcome")
    if {"dropped out", "completed"} <= set(s.index):
        takeaway = (
            f"At the first rated session, clients who later dropped out scored {s.loc['dropped out', 'mean']:.1f} on "
            f"average and clients who completed {s.loc['completed', 'mean']:.1f}."
        )
        below = s.loc[["dropped out", "completed"], "below_cutoff"] if cutoff is not None else None
        above = s.loc[["dropped out", "completed"], "clients"] - below if cutoff is not None else None
        if cutoff is not None and not (_small(below, suppress_below) or _small(above, suppress_below)):
            takeaway += (
                f" {percent(s.loc['dropped out', 'below_cutoff_share'])} of later dropouts started below "
                f"{cutoff}, against {percent(s.loc['completed', 'below_cutoff_share'])} of completers."
            )
    else:
        takeaway = "There are not yet both dropouts and completions with a first rating to compare."
    return FirstSessionResult(measure, summary, distribution, takeaway, n_used=len(data),
                              n_left_out=len(episodes) - len(data))


def rupture_outcomes(sessions: pd.DataFrame, episodes: pd.DataFrame, measure: str = "srs", *rules, **named) -> RuptureResult:
    """`ruptures_of` (the rules: min_drop, cutoff, within, suppress_below) on the rated sessions of
    `episodes`' clients."""
    return ruptures_of(rated_sessions(sessions, episodes, measure), measure, *rules, **named)


def _check_rules(min_drop: float | None, cutoff: float | None) -> None:
    if min_drop is None and cutoff is None:
        raise ValueError("Choose at least one rupture rule: a minimum drop or a cutoff.")


def ruptures_of(
    rated: pd.DataFrame,
    measure: str = "srs",
    min_drop: float | None = EpisodeSettings.srs_rupture_drop,
    cutoff: float | None = EpisodeSettings.srs_rupture_cutoff,
    within: int = 3,
    suppress_below: int = 11,
) -> RuptureResult:
    """Ruptures under the given rules, rupture rate, repair, and dropout after a rupture against
    clients without a rupture by the same session (see the module docstring for the exact rules),
    from rated_sessions' table, which is left unchanged. The takeaway quotes no figure resting on
    fewer than `suppress_below` clients."""
    _check_rules(min_drop, cutoff)
    within = int(within)
    runs = ClientRuns(rated["client_id"])
    scores = rated[measure].to_numpy(dtype=float)
    rupture = flag_ruptures(rated, measure, min_drop, cutoff).to_numpy()
    ruptures_so_far = runs.cumsum(rupture)
    per_client = pd.DataFrame({
        "client_id": rated["client_id"].to_numpy()[runs.first],
        "rated_sessions": runs.lengths(),
        "ruptures": runs.totals(rupture),
    })
    at = np.flatnonzero(rupture & (ruptures_so_far == 1))  # each ruptured client's first rupture, in client order
    event = rated["event"].to_numpy()[at]
    first = pd.DataFrame({
        "rupture_session": rated["session_number"].to_numpy()[at],
        "pre_rupture_level": runs.shift(scores)[at],
        "rupture_score": scores[at],
        "event": event,
        "sessions_attended": rated["sessions_attended"].to_numpy()[at],
    }, index=runs.run[at])  # each at its client's row of per_client
    best, seen = _following(scores, at, runs, within)
    repaired = best >= first["pre_rupture_level"].to_numpy()
    still_open = (event == 0) & (seen < within)
    first["repair"] = np.select([repaired, still_open], ["repaired", "not yet known"], "not repaired")
    first["dropout_within"] = _dropout_within(first["event"], first["sessions_attended"] - first["rupture_session"], within)
    per_client = per_client.join(first[["rupture_session", "pre_rupture_level", "rupture_score", "repair", "dropout_within"]])

    eligible = per_client.loc[per_client["rated_sessions"] >= 2]
    with_rupture = int((eligible["ruptures"] > 0).sum())
    transitions = int((eligible["rated_sessions"] - 1).sum())
    lower, upper = wilson_interval(with_rupture, len(eligible))
    rates = pd.DataFrame([{
        "clients_rated_twice": len(eligible), "clients_with_rupture": with_rupture,
        "share": with_rupture / len(eligible) if len(eligible) else np.nan,
        "ci_lower": float(lower), "ci_upper": float(upper),
        "ruptures": int(eligible["ruptures"].sum()), "transitions": transitions,
        "per_100_transitions": 100 * eligible["ruptures"].sum() / transitions if transitions else np.nan,
    }])

    bands = pd.cut(eligible["ruptures"], [-0.5, 0.5, 1.5, 2.5, np.inf], labels=["0", "1", "2", "3 or more"])
    per_client_counts = bands.value_counts(sort=False).rename_axis("ruptures").rename("clients").reset_index()
    per_client_counts["ruptures"] = per_client_counts["ruptures"].astype(str)
    per_client_counts["share"] = per_client_counts["clients"] / max(len(eligible), 1)

    counts = first["repair"].value_counts()
    n_repaired, n_not = int(counts.get("repaired", 0)), int(counts.get("not repaired", 0))
    r_lower, r_upper = wilson_interval(n_repaired, n_repaired + n_not)
    repair = pd.DataFrame([{
        "ruptured": len(first), "repaired": n_repaired, "not_repaired": n_not,
        "not_yet_known": int(counts.get("not yet known", 0)),
        "share": n_repaired / (n_repaired + n_not) if n_repaired + n_not else np.nan,  # repaired: not a dropout rate
        "ci_lower": float(r_lower), "ci_upper": float(r_upper),
    }])

    comparison, warnings = _rupture_comparison(rated, runs, ruptures_so_far, first, within)
    return RuptureResult(measure, within, per_client, rates, per_client_counts, repair, comparison,
                         _rupture_takeaway(rates, repair, comparison, within, suppress_below), warnings=warnings,
                         n_used=len(eligible), n_left_out=rated.attrs.get("clients", len(per_client)) - len(eligible))


def _dropout_within(event: pd.Series, sessions_after: pd.Series, within: int) -> np.ndarray:
    """"yes" / "no" / "not yet known" for a dropout with at most `within` attended sessions after the index."""
    dropout, unknown = _dropout_masks(event, sessions_after, within)
    return np.select([dropout, unknown], ["yes", "not yet known"], "no")


def _dropout_masks(event, sessions_after, within: int) -> tuple[np.ndarray, np.ndarray]:
    """_dropout_within's "yes" and "not yet known" as two masks (cheaper than text on many rows)."""
    event, soon = np.asarray(event), np.asarray(sessions_after) <= within
    return (event == EVENT_DROPOUT) & soon, (event == 0) & soon


def _following(scores: np.ndarray, at: np.ndarray, runs: ClientRuns, within: int) -> tuple[np.ndarray, np.ndarray]:
    """For each row in `at`: the best score and the number of the client's next `within` rated
    sessions (the rows just after it in client order, up to the end of its client's run)."""
    end = np.append(runs.first, runs.n)[runs.run[at] + 1]
    best, seen = np.full(len(at), np.nan), np.zeros(len(at), dtype=np.int64)
    for step in range(1, within + 1):
        later = at + step < end
        best[later] = np.fmax(best[later], scores[at[later] + step])
        seen += later
    return best, seen


def _rupture_comparison(rated: pd.DataFrame, runs: ClientRuns, ruptures_so_far: np.ndarray, first: pd.DataFrame,
                        within: int) -> tuple[pd.DataFrame, list[str]]:
    ruptured = first.loc[first["dropout_within"] != "not yet known"]
    k, n = int((ruptured["dropout_within"] == "yes").sum()), len(ruptured)
    lower, upper = wilson_interval(k, n)
    rows = [{"group": "after a rupture", "clients": n, "index_sessions": n, "dropouts": k, "rate": k / n if n else np.nan,
             "ci_lower": float(lower), "ci_upper": float(upper),
             "note": f"dropout within {within} sessions of the first rupture (Wilson interval)"}]

    landmark = np.flatnonzero((rated["rated_number"].to_numpy() >= 2) & (ruptures_so_far == 0))
    session = rated["session_number"].to_numpy()[landmark]
    dropout, unknown = _dropout_masks(rated["event"].to_numpy()[landmark],
                                      rated["sessions_attended"].to_numpy()[landmark] - session, within)
    landmark, session, dropout = landmark[~unknown], session[~unknown], dropout[~unknown]
    counted = np.bincount(session)
    numbers = np.flatnonzero(counted)
    per_session = pd.DataFrame({"n": counted[numbers], "dropouts": np.bincount(session, weights=dropout)[numbers].astype(np.int64)},
                               index=pd.Index(numbers, name="session_number"))
    weights = ruptured.groupby("rupture_session").size()
    usable = weights.index.intersection(per_session.index)
    warnings = []
    if len(usable) < len(weights):
        lost = int(weights.drop(usable).sum())
        warnings.append(
            f"{lost} ruptured client(s) had their rupture at a session number no client without a rupture "
            "reached, so they are left out of the comparison's weighting."
        )
    w = weights.loc[usable].to_numpy(dtype=float)
    w = w / w.sum() if w.sum() else w
    p = (per_session.loc[usable, "dropouts"] / per_session.loc[usable, "n"]).to_numpy()
    rate = float(np.sum(w * p)) if len(w) else np.nan
    se = float(np.sqrt(np.sum(w**2 * p * (1 - p) / per_session.loc[usable, "n"].to_numpy()))) if len(w) else np.nan
    rows.append({"group": "no rupture by the same session", "clients": len(np.unique(runs.run[landmark])),
                 "index_sessions": len(landmark), "dropouts": int(dropout.sum()), "rate": rate,
                 "ci_lower": max(0.0, rate - Z95 * se), "ci_upper": min(1.0, rate + Z95 * se),
                 "note": "standardized to the session numbers of the ruptures (approximate normal interval)"})
    if n < 10:
        warnings.append(f"Only {n} ruptured client(s) with a known outcome: the comparison is very uncertain.")
    return pd.DataFrame(rows), warnings


def _small(counts, suppress_below: int) -> bool:
    """True when any count is from 1 to suppress_below - 1 (the suppression rule): a sentence must not quote it."""
    values = np.atleast_1d(np.asarray(counts, dtype=float))
    return bool(((values > 0) & (values < suppress_below)).any())


def _rupture_takeaway(rates: pd.DataFrame, repair: pd.DataFrame, comparison: pd.DataFrame, within: int,
                      suppress_below: int) -> str:
    r, fix = rates.iloc[0], repair.iloc[0]
    if not r["clients_with_rupture"]:
        return "No ruptures under these rules."
    after, base = comparison.iloc[0], comparison.iloc[1]
    parts = []
    if not _small([r["clients_with_rupture"], r["clients_rated_twice"] - r["clients_with_rupture"]], suppress_below):
        parts.append(f"{percent(r['share'])} of clients rated at least twice had a rupture.")
    if not _small([fix["repaired"], fix["not_repaired"]], suppress_below):
        parts.append(f"{percent(fix['share'])} of ruptures were repaired within {within} sessions.")
    if not _small([after["dropouts"], after["clients"] - after["dropouts"], base["dropouts"]], suppress_below):
        overlap = after["ci_lower"] <= base["ci_upper"] and base["ci_lower"] <= after["ci_upper"]
        parts.append(
            f"Within {within} sessions of a rupture {percent(after['rate'])} dropped out, against "
            f"{percent(base['rate'])} of clients without a rupture at the same point"
            + (" (the intervals overlap: the difference may be chance)." if overlap else ".")
        )
    return " ".join(parts) or "Too few ruptures to report without revealing small numbers."


def alliance_risk(
    sessions: pd.DataFrame, episodes: pd.DataFrame, measure: str = "srs", use_cox: bool = True,
    intervals: pd.DataFrame | None = None,
) -> AllianceRiskResult:
    """Dropout risk by alliance level: the time-varying Cox model (alliance updated every session)
    with `use_cox`, else (or when the model has no alliance term) Kaplan-Meier curves by
    first-session alliance. `intervals`: session_intervals of exactly the episodes' clients, when
    already computed."""
    if not has_measure(sessions, measure):
        raise ValueError(missing_measure_message(measure))
    if use_cox:
        result = fit_time_varying(sessions, episodes, measure=measure, intervals=intervals)
        row = result.table.loc[result.table["term"] == measure]
        if len(row):
            return AllianceRiskResult(measure, "time-varying Cox", result.table, _cox_reading(row.iloc[0], measure),
                                      warnings=in_words(result.warnings, {measure: measure.upper()}),
                                      n_used=result.n_used,
                                      n_left_out=result.n_left_out)
    return _km_by_first_alliance(episodes, measure)


def _cox_reading(row: pd.Series, measure: str) -> str:
    """Per 5 points lower on the scale: HR^-5, with the interval bounds swapped; no figure when the
    model could not give the hazard ratio an interval (separation, too few dropouts)."""
    if not has_estimate(row):
        return (f"The time-varying model could not estimate how the {measure.upper()} score relates to dropout "
                "in this caseload (see the notes), so no risk is quoted.")
    hr5, lower5, upper5 = row["hr"] ** -5, row["hr_ci_upper"] ** -5, row["hr_ci_lower"] ** -5
    direction = "higher" if hr5 > 1 else "lower"
    change = abs(hr5 - 1)
    return (
        f"At any session, a client whose latest {measure.upper()} score is 5 points lower has a "
        f"{percent(change)} {direction} risk of dropping out before the next session "
        f"(hazard ratio {hr5:.2f}, 95% CI {lower5:.2f} to {upper5:.2f})."
    )


def _km_by_first_alliance(episodes: pd.DataFrame, measure: str) -> AllianceRiskResult:
    column = f"{measure}_first"
    cut = SRS_CUTOFF if measure == "srs" else float(episodes[column].median())
    rated = episodes.loc[episodes[column].notna()]
    level = np.where(rated[column] < cut, f"first {measure.upper()} below {cut:g}", f"first {measure.upper()} {cut:g} or above")
    km = kaplan_meier(rated.assign(alliance_level=level), group="alliance_level")
    medians = km.medians
    takeaway = (
        f"The curves show the share of clients still in therapy by session for those who started with a "
        f"low ({measure.upper()} below {cut:g}) or a good alliance; a lower curve means more dropout. "
        "This uses only the first rating (the time-varying model is not available)."
    )
    return AllianceRiskResult(measure, "Kaplan-Meier by first-session alliance", medians, takeaway, km=km,
                              warnings=list(km.warnings), n_used=km.n_used, n_left_out=km.n_left_out)

