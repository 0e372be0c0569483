"""The outcomes view: did clients get better, and did those who left get better first?

Rates of reliable improvement, deterioration, recovery and reliable recovery by how the episode
ended, per outcome measure (and by the NHS Talking Therapies paired rules); how many of the clients
who left had reliably improved on the outcome measure; pre-post effect sizes; and the average score
by session for each ending. Endings group the `ending` column: completed, left (left_improved and
left_unimproved: the client ended unilaterally), ongoing and other. The rules and thresholds are in
analytics/outcomes/.

Pre-post effect size: d = mean improvement / SD of the first scores (the standardized mean gain
with the pre-treatment SD, Becker 1988; the benchmark form of Minami et al. 2008), signed so that a
positive d is improvement; its 95% interval uses var(d) = 2(1 - r)/n + d^2/(2n), with r the
first-last correlation (Becker 1988).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from analytics.client_runs import ClientRuns, per_row
from analytics.episodes import EpisodeSettings, episode_measures
from analytics.practice.alliance import TrajectoryResult, mean_table, rated_rows
from analytics.proportions import Z95, percent, wilson_interval
from analytics.results import Privacy, Reported
from analytics.schema import LEFT

ENDING_GROUPS = {"completed": "completed", "left_improved": "left", "left_unimproved": "left",
                 "ongoing": "ongoing", "other": "other"}
GROUP_ORDER = ("completed", "left", "ongoing", "other")
GROUP_LABELS = {"completed": "completed", "left": "left (ended unilaterally)", "ongoing": "still in therapy",
                "other": "transferred or other ending"}
# outcome -> the column suffix of one measure, and the NHS paired column
OUTCOMES = {
    "reliable_improvement": ("reliable_improvement", "nhs_reliable_improvement"),
    "reliable_deterioration": ("reliable_deterioration", "nhs_reliable_deterioration"),
    "recovery": ("recovered", "nhs_recovery"),
    "reliable_recovery": ("reliable_recovery", "nhs_reliable_recovery"),
}
OUTCOME_NAMES = {"reliable_improvement": "reliable improvement", "reliable_deterioration": "reliable deterioration",
                 "recovery": "recovery", "reliable_recovery": "reliable recovery"}
NHS = "nhs"
NHS_LABEL = "PHQ-9 with GAD-7 (NHS Talking Therapies paired rules)"
_SHARE = ("share", "ci_lower", "ci_upper")
NO_MEASURE_NOTE = ("Whether clients improved before they left needs an outcome measure in the appointment history "
                   "(PHQ-9, GAD-7, ORS, OQ-45 or CORE-10 per session): map one on the Data page.")
ENDINGS_NOTE = ("Endings: completed (a planned ending), left (the last appointment was missed and nothing followed), "
                "still in therapy, and transferred or other. Change runs from the first to the last scored session; "
                "the measure is chosen in the sidebar (Improvement measured on).")
EFFECT_NOTE = ("d is the average improvement divided by the spread of the first scores (0.2 small, 0.5 medium, "
               "0.8 large; Cohen 1988), with its 95% interval.")
LEAVERS_NOTE = ("Clients who left are those whose last appointment was a missed one, outside the ongoing window; "
                "improvement is a reliable change from their first to their last score (the share is of those with "
                "two scores, with its 95% interval).")


@dataclass
class OutcomeRates(Reported):
    """Per measure, ending and outcome: clients, those with a first and a last score (`paired`), those
    `assessed` (paired; for recovery, paired and in the clinical range first), those who `reached` the
    outcome, and their `share` of those assessed with its Wilson 95% CI (a share of an outcome, not a
    dropout rate: the columns are named apart from the dropout tables' `rate`)."""

    table: pd.DataFrame
    takeaway: str
    privacy: ClassVar[Privacy] = Privacy(("clients", "paired", "assessed", "reached"), {"assessed": _SHARE, "reached": _SHARE})


@dataclass
class LeaversImproved(Reported):
    """Of the clients who left (and, beside them, those who completed): how many had two scores on the
    outcome measure and how many of those had reliably improved."""

    measure: str
    table: pd.DataFrame  # ending, clients, paired, unpaired, improved, share, ci_lower, ci_upper
    takeaway: str
    privacy: ClassVar[Privacy] = Privacy(("clients", "paired", "unpaired", "improved"),
                                         {"paired": _SHARE, "improved": _SHARE})


@dataclass
class PrePostEffects(Reported):
    """Per measure and ending: paired clients, mean first and last score, mean change, d with its CI."""

    table: pd.DataFrame
    takeaway: str
    privacy: ClassVar[Privacy] = Privacy(("paired",), {"paired": ("mean_first", "mean_last", "mean_change", "d",
                                                                  "d_ci_lower", "d_ci_upper")})


def chosen_measure(episodes: pd.DataFrame, settings: EpisodeSettings) -> str:
    """The outcome measure the episodes were judged on: the chosen one, else the first present."""
    present = episode_measures(episodes, settings)
    if not present or "ending" not in episodes:
        raise ValueError(NO_MEASURE_NOTE)
    return settings.outcome_measure if settings.outcome_measure in present else present[0]


def outcome_rates(episodes: pd.DataFrame, settings: EpisodeSettings = EpisodeSettings()) -> OutcomeRates:
    """Reliable improvement, deterioration, recovery and reliable recovery by ending, for every
    measure the episodes carry and for the NHS paired rules."""
    measure = chosen_measure(episodes, settings)
    groups = episodes["ending"].map(ENDING_GROUPS)
    labels = {name: m.label for name, m in settings.measures().items()}
    sources = [(name, labels[name], f"{name}_change", {k: f"{name}_{v[0]}" for k, v in OUTCOMES.items()})
               for name in episode_measures(episodes, settings)]
    if "nhs_reliable_improvement" in episodes:
        sources.append((NHS, NHS_LABEL, "nhs_reliable_improvement", {k: v[1] for k, v in OUTCOMES.items()}))
    rows = []
    for name, label, pair_column, columns in sources:
        paired = episodes[pair_column].notna()
        for group in GROUP_ORDER:
            member = (groups == group).to_numpy()
            for outcome, column in columns.items():
                values = episodes.loc[member, column]
                rows.append({"measure": name, "label": label, "ending": group, "outcome": outcome,
                             "clients": int(member.sum()), "paired": int((member & paired).sum()),
                             "assessed": int(values.notna().sum()), "reached": int((values == 1).sum())})
    table = pd.DataFrame(rows)
    assessed = table["assessed"].where(table["assessed"] > 0)
    table["share"] = table["reached"] / assessed
    table["ci_lower"], table["ci_upper"] = _wilson(table["reached"], table["assessed"])
    paired = int(episodes[f"{measure}_change"].notna().sum())
    return OutcomeRates(table, _rates_takeaway(table, measure, labels[measure]), n_used=paired,
                        n_left_out=len(episodes) - paired)


def _wilson(count: pd.Series, n: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Wilson 95% interval with its ends exactly 0 (none of n) and 1 (all of n), not floating-point
    noise beside them (many outcome rates are 0: no one deteriorated)."""
    lower, upper = wilson_interval(count, n)
    k, n = count.to_numpy(float), n.to_numpy(float)
    return np.where((k == 0) & (n > 0), 0.0, lower), np.where((k == n) & (n > 0), 1.0, upper)


def _rates_takeaway(table: pd.DataFrame, measure: str, label: str) -> str:
    rows = table.loc[(table["measure"] == measure) & (table["outcome"] == "reliable_improvement")].set_index("ending")
    parts = [f"{percent(rows.loc[g, 'share'])} of those who {'completed' if g == 'completed' else 'left'}"
             for g in ("completed", "left") if rows.loc[g, "assessed"] > 0]
    if not parts:
        return f"No client who has ended therapy has two {label} scores yet."
    return f"Reliable improvement on {label}: " + " and ".join(parts) + " (clients with a first and a last score)."


def leavers_improved(episodes: pd.DataFrame, settings: EpisodeSettings = EpisodeSettings(),
                     suppress_below: int = 11) -> LeaversImproved:
    """How many of the clients who left had reliably improved on the outcome measure first (Swift,
    Callahan & Levine 2009 count only the others as dropouts), beside those who completed. Clients
    who left without two scores cannot show improvement and count as dropouts; their number is
    reported. The takeaway quotes no count below `suppress_below`."""
    measure = chosen_measure(episodes, settings)
    label = settings.measures()[measure].label
    left = episodes["ending"].isin(LEFT).to_numpy()
    completed = (episodes["ending"] == "completed").to_numpy()
    paired = episodes[f"{measure}_change"].notna().to_numpy()
    improved = (episodes[f"{measure}_reliable_improvement"] == 1).to_numpy()
    rows = [{"ending": group, "clients": int(m.sum()), "paired": int((m & paired).sum()),
             "unpaired": int((m & ~paired).sum()), "improved": int((m & improved).sum())}
            for group, m in (("left", left), ("completed", completed))]
    table = pd.DataFrame(rows)
    table["share"] = table["improved"] / table["paired"].where(table["paired"] > 0)
    table["ci_lower"], table["ci_upper"] = _wilson(table["improved"], table["paired"])
    first = table.iloc[0]
    warnings = []
    if first["unpaired"]:
        warnings.append(f"{first['unpaired']:,} of the clients who left had fewer than two {label} scores: with no "
                        "evidence of improvement they count as dropouts under the unilateral-before-improvement definition.")
    return LeaversImproved(measure, table, _leavers_takeaway(first, label, suppress_below), warnings=warnings,
                           n_used=int(first["paired"]), n_left_out=int(first["unpaired"]))


def _leavers_takeaway(left: pd.Series, label: str, suppress_below: int) -> str:
    if left["paired"] == 0:
        return f"No client who left has two {label} scores, so whether they had improved is not known."
    small = [v for v in (left["paired"], left["improved"], left["paired"] - left["improved"]) if 0 < v < suppress_below]
    if small:
        return f"Too few clients who left have two {label} scores to show how many had improved without revealing small numbers."
    return (f"Of the {left['paired']:,} clients who left with two {label} scores, {left['improved']:,} "
            f"({percent(left['share'])}, 95% CI {percent(left['ci_lower'])} to {percent(left['ci_upper'])}) had reliably "
            "improved first: by Swift, Callahan & Levine's definition they are not dropouts.")


def pre_post_effects(episodes: pd.DataFrame, settings: EpisodeSettings = EpisodeSettings()) -> PrePostEffects:
    """Standardized mean gain (d, pre-treatment SD) per measure and ending; see the module docstring."""
    measure = chosen_measure(episodes, settings)
    groups = episodes["ending"].map(ENDING_GROUPS)
    measures = settings.measures()
    rows = []
    for name in episode_measures(episodes, settings):
        sign = 1.0 if measures[name].higher_is_better else -1.0
        for group in GROUP_ORDER:
            pair = episodes.loc[(groups == group) & episodes[f"{name}_change"].notna(), [f"{name}_first", f"{name}_last"]]
            first, last = pair.iloc[:, 0].to_numpy(float), pair.iloc[:, 1].to_numpy(float)
            n = len(pair)
            sd = first.std(ddof=1) if n > 1 else np.nan
            d = sign * (last.mean() - first.mean()) / sd if n > 1 and sd > 0 else np.nan
            r = np.corrcoef(first, last)[0, 1] if n > 2 and first.std() > 0 and last.std() > 0 else np.nan
            half = Z95 * np.sqrt(2 * (1 - r) / n + d**2 / (2 * n)) if n > 2 else np.nan
            rows.append({"measure": name, "label": measures[name].label, "ending": group, "paired": n,
                         "mean_first": first.mean() if n else np.nan, "mean_last": last.mean() if n else np.nan,
                         "mean_change": (last - first).mean() if n else np.nan, "d": d,
                         "d_ci_lower": d - half, "d_ci_upper": d + half})
    table = pd.DataFrame(rows)
    return PrePostEffects(table, _effects_takeaway(table, measure), n_used=int(table.groupby("measure")["paired"].sum().max()))


def _effects_takeaway(table: pd.DataFrame, measure: str) -> str:
    rows = table.loc[table["measure"] == measure].set_index("ending")
    if not np.isfinite(rows.loc["completed", "d"]) or not np.isfinite(rows.loc["left", "d"]):
        return "Effect sizes need both completers and clients who left with two scores."
    return (f"On {rows['label'].iloc[0]}, clients who completed improved by d = {rows.loc['completed', 'd']:.2f} "
            f"and clients who left by d = {rows.loc['left', 'd']:.2f} (standardized by the first scores' spread).")


def outcome_trajectories(sessions: pd.DataFrame, episodes: pd.DataFrame, settings: EpisodeSettings = EpisodeSettings(),
                         max_session: int = 20, rows: pd.DataFrame | None = None) -> TrajectoryResult:
    """Mean outcome score by attended session number for each ending (completed, left, ...).
    `rows`: rated_rows of the episodes' clients for the chosen measure, when already computed."""
    measure = chosen_measure(episodes, settings)
    if rows is None:
        rows = rated_rows(sessions, measure, episodes["client_id"])
    rated = rows.loc[rows["session_number"].to_numpy() <= max_session, ["client_id", "session_number", measure]]
    found = ClientRuns(rated["client_id"]).positions(episodes["client_id"])
    rated = rated.assign(ending=per_row(episodes["ending"].map(ENDING_GROUPS), found))
    table = mean_table(rated, ["ending", "session_number"], measure)
    table["ending"] = pd.Categorical(table["ending"], GROUP_ORDER, ordered=True)
    table = table.sort_values(["ending", "session_number"]).reset_index(drop=True)
    table["ending"] = table["ending"].astype(str)
    label = settings.measures()[measure].label
    first = table.loc[table["session_number"] == 1].set_index("ending")["mean"]
    if {"completed", "left"} <= set(first.index):
        takeaway = (f"At the first session, clients who later left scored {first['left']:.1f} on {label} on average, "
                    f"clients who completed {first['completed']:.1f}.")
    else:
        takeaway = f"There are not yet both completers and clients who left with {label} scores to compare."
    used = int(rated["client_id"].nunique())
    return TrajectoryResult(measure, table, takeaway, n_used=used, n_left_out=len(episodes) - used)
