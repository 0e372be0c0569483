"""Landmark analysis: dropout after session k by what happened up to session k.

Grouping clients by something measured during therapy (missed appointments, ruptures, the mean
alliance rating) over the whole episode is biased: a client who stays longer has more chances to
miss or to rupture, so the groups differ in how long they stayed before the measure was even
known (immortal-time bias; Anderson, Cain & Gelber 1983, J Clin Oncol 1:710). A landmark analysis
fixes the moment the measure is read: only clients still in therapy after session k (attended at
least k sessions and not yet ended) are compared, by what happened up to session k, and time runs
from session k. This is Kaplan-Meier and the log-rank test (analytics/survival/curves.py) on the
landmark subset, as R's `survfit(Surv(time - k, event == 1) ~ group, data = subset(d, time > k))`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd

from analytics.client_runs import ClientRuns, in_client_order
from analytics.episodes import EpisodeSettings
from analytics.proportions import percent
from analytics.results import Privacy
from analytics.ruptures import flag_ruptures
from analytics.schema import CLIENT_MISSES, LANDMARK_MEASURES, SRS_CUTOFF
from analytics.survival.curves import MEDIAN_PRIVACY, KMResult, LogrankResult, kaplan_meier, logrank

# What can be read at session k (schema.LANDMARK_MEASURES), and the two groups each makes.
LANDMARK_GROUPS = {
    "missed": ("missed appointments", "no missed appointment", "missed at least one"),
    "ruptures": ("alliance ruptures", "no rupture", "at least one rupture"),
    "srs_mean": ("mean alliance rating (SRS)", f"{SRS_CUTOFF} or more", f"below {SRS_CUTOFF}"),
}
DEFAULT_LANDMARK = 3
EXPLANATION = ("Missed appointments and ruptures pile up the longer a client stays, so they are compared at a "
               "landmark: only clients still in therapy after session k, grouped by what happened up to session k, "
               "and followed from there.")
GROUP = "group_at_landmark"


@dataclass
class LandmarkResult:
    landmark: int
    measure: str
    km: KMResult  # times count sessions attended after the landmark
    logrank: LogrankResult
    table: pd.DataFrame  # the landmark set: client_id, group_at_landmark, duration (after k), event
    warnings: list[str] = field(default_factory=list)
    n_used: int = 0  # clients still in therapy after session k with the measure known
    n_left_out: int = 0  # clients whose episode ended by session k (or without the measure)
    privacy: ClassVar[Privacy] = MEDIAN_PRIVACY

    @property
    def takeaway(self) -> str:
        """Who is compared, each group's share dropped out by its last follow-up, and the log-rank test."""
        name = LANDMARK_GROUPS[self.measure][0]
        parts = []
        for group, row in self.km.table.groupby("group", observed=True, sort=False).tail(1).set_index("group").iterrows():
            parts.append(f"{group}: {percent(1 - row['survival'])} dropped out within {row['time']:g} more sessions "
                         f"(95% CI {percent(1 - row['ci_upper'])} to {percent(1 - row['ci_lower'])})")
        text = (f"Of the {self.n_used:,} clients still in therapy after session {self.landmark}, grouped by their "
                f"{name} up to that session: " + "; ".join(parts) + ".")
        if len(self.logrank.table):
            p = float(self.logrank.table["p"].iloc[0])
            text += (f" The difference is {'more' if p < 0.05 else 'no more'} than chance would readily give "
                     f"(log-rank p = {p:.2g}).")
        return text


def measures_at(sessions: pd.DataFrame, k: int, settings: EpisodeSettings = EpisodeSettings()) -> pd.DataFrame:
    """Per client, what was known right after the k-th attended session: client misses before it,
    ruptures among the ratings so far (the settings' rupture rule) and the mean SRS so far. Clients
    who never reached session k are absent."""
    s = in_client_order(sessions).reset_index(drop=True)
    runs = ClientRuns(s["client_id"])
    attended = (s["status"] == "attended").to_numpy()
    before = runs.cumsum(attended) - attended  # attended sessions before this appointment
    sessions_attended = s.loc[attended].groupby("client_id").size()
    reached = sessions_attended.index[sessions_attended.to_numpy() >= k]
    upto = s.loc[(before < k) & s["client_id"].isin(reached).to_numpy()]
    out = pd.DataFrame(index=pd.Index(reached, name="client_id"))
    out["missed"] = upto["status"].isin(CLIENT_MISSES).groupby(upto["client_id"]).sum().reindex(out.index)
    if "srs" in upto and upto["srs"].notna().any():
        rated = upto.loc[(upto["status"] == "attended") & upto["srs"].notna(), ["client_id", "srs"]]
        flags = flag_ruptures(rated, "srs", settings.srs_rupture_drop, settings.srs_rupture_cutoff)
        out["ruptures"] = flags.groupby(rated["client_id"]).sum().reindex(out.index).fillna(0)
        out["srs_mean"] = rated.groupby("client_id")["srs"].mean().reindex(out.index)
    return out.reset_index()


def landmark_km(
    episodes: pd.DataFrame, sessions: pd.DataFrame | None, k: int = DEFAULT_LANDMARK, measure: str = "ruptures",
    settings: EpisodeSettings = EpisodeSettings(),
) -> LandmarkResult:
    """Kaplan-Meier and log-rank after the landmark session `k`, by `measure` up to session k."""
    if measure not in LANDMARK_MEASURES:
        raise ValueError(f"{measure!r} cannot be read at a landmark; choose one of: {', '.join(LANDMARK_MEASURES)}.")
    if sessions is None:
        raise ValueError("The landmark analysis reads missed appointments and ratings up to session k from the "
                         "appointment history (a sessions file).")
    if settings.time_scale != "sessions":
        raise ValueError("The landmark analysis counts time in sessions attended: choose 'sessions attended' under "
                         "'Time measured in'.")
    k = int(k)
    if k < 1:
        raise ValueError("The landmark is a session number: 1 or more.")
    known = measures_at(sessions, k, settings)
    if measure not in known:
        raise ValueError(f"There are no {LANDMARK_GROUPS[measure][0]} to read: the sessions carry no `srs` ratings.")
    name, reference, exposed = LANDMARK_GROUPS[measure]
    at_risk = episodes.loc[episodes["duration"].to_numpy(dtype=float) > k, ["client_id", "duration", "event"]]
    value = known.set_index("client_id")[measure].reindex(at_risk["client_id"]).to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        in_exposed = value < SRS_CUTOFF if measure == "srs_mean" else value >= 1
    group = np.where(np.isnan(value), None, np.where(in_exposed, exposed, reference))
    table = at_risk.assign(**{GROUP: group, "duration": at_risk["duration"].to_numpy(dtype=float) - k})
    table = table.dropna(subset=[GROUP]).reset_index(drop=True)
    warnings = []
    unknown = int(np.isnan(value).sum())
    if unknown:
        warnings.append(f"{unknown:,} clients still in therapy after session {k} have no {name} recorded by then "
                        "and are left out.")
    table[GROUP] = pd.Categorical(table[GROUP], categories=[reference, exposed])
    km = kaplan_meier(table, GROUP)
    tested = logrank(table, GROUP)
    return LandmarkResult(k, measure, km, tested, table[["client_id", GROUP, "duration", "event"]],
                          warnings=warnings + km.warnings + tested.warnings, n_used=len(table),
                          n_left_out=len(episodes) - len(table))
