"""Cox model with the alliance as a time-varying covariate, on the session-number time scale.

Each attended session k of a client is one counting-process interval (k-1, k]. A covariate used
over an interval must be known when the interval starts, otherwise the model would look into the
future. So by default (`lag=1`) the interval (k-1, k] carries the most recent rating observed at
sessions 1..k-1 (last observation carried forward); the first interval, before any rating, has no
value and is left out. The dropout, if any, is the event of the client's last interval.

`lag=0` instead carries the rating of session k itself (again carried forward over unrated
sessions). That is defensible when ratings are collected at the end of each session, because the
dropout "at k" is the failure to come back after session k, which follows that rating; it answers
"does a low rating today go with not returning?". The default is the strictly predictable one.
"""

from __future__ import annotations

import pandas as pd

from analytics.client_runs import ClientRuns, attended_in_client_order, per_row
from analytics.models.design import build_design
from analytics.schema import EVENT_DROPOUT
from analytics.survival.cox_results import CoxResult, fit_design

FIRST_INTERVAL = " at their start (every client's first interval)"


def session_intervals(sessions: pd.DataFrame, measure: str = "srs", lag: int = 1,
                      clients: pd.Series | None = None) -> pd.DataFrame:
    """counting_process's rows without the outcome: client_id, session, start, stop and `measure`
    (of `clients` when given). They are the same under every dropout definition, so the dashboard
    keeps them when the definition changes."""
    if int(lag) < 0:
        raise ValueError("lag must be 0 (the rating of the session ending the interval) or more.")
    _require(sessions, "sessions", ("client_id", "date", "status", measure))
    attended = attended_in_client_order(sessions, ["client_id", "date", measure], clients)
    runs = ClientRuns(attended["client_id"])
    session = runs.number()
    return pd.DataFrame({
        "client_id": attended["client_id"].to_numpy(),
        "session": session,
        "start": (session - 1).astype(float),
        "stop": session.astype(float),
        measure: runs.shift(runs.ffill(attended[measure]), int(lag)),
    })


def counting_process(sessions: pd.DataFrame, episodes: pd.DataFrame, measure: str = "srs",
                     lag: int = 1, intervals: pd.DataFrame | None = None) -> pd.DataFrame:
    """Start/stop rows: client_id, therapist_id, session, start, stop, event (1 = dropout on this
    interval), and `measure` = the last rating known `lag` sessions before the interval's end.
    `intervals`: session_intervals of the appointments of exactly the episodes' clients, when
    already computed."""
    _require(episodes, "episodes", ("client_id", "event"))
    if intervals is None:
        intervals = session_intervals(sessions, measure, lag, episodes["client_id"])
    ids = intervals["client_id"].to_numpy()
    runs = ClientRuns(ids)
    last = runs.number() == runs.size()  # each client's last interval
    kept = [c for c in ("client_id", "event", "therapist_id") if c in episodes]
    info = episodes[kept].drop_duplicates("client_id")
    found = runs.positions(info["client_id"])
    out = pd.DataFrame({
        "client_id": ids,
        "session": intervals["session"].to_numpy(),
        "start": intervals["start"].to_numpy(),
        "stop": intervals["stop"].to_numpy(),
        "event": ((per_row(info["event"], found) == EVENT_DROPOUT) & last).astype(int),
        measure: intervals[measure].to_numpy(),
    })
    if "therapist_id" in info:
        out.insert(1, "therapist_id", per_row(info["therapist_id"], found))
    return out


def _require(table: pd.DataFrame, name: str, needed: tuple[str, ...]) -> None:
    missing = [c for c in needed if c not in table]
    if missing:
        raise ValueError(f"The {name} table has no column {', '.join(map(repr, missing))}; "
                         f"the time-varying model needs {', '.join(needed)}.")


def fit_time_varying(
    sessions: pd.DataFrame,
    episodes: pd.DataFrame,
    measure: str = "srs",
    covariates: list[str] | tuple[str, ...] = (),
    cluster: str | None = "therapist_id",
    reference_levels: dict[str, str] | None = None,
    lag: int = 1,
    time_limit: float = 120.0,
    intervals: pd.DataFrame | None = None,
) -> CoxResult:
    """Dropout hazard by session with the last known `measure` rating as a time-varying covariate
    (`lag`: see the module docstring), plus fixed covariates from the episodes; standard errors
    clustered by therapist by default. `intervals`: see counting_process."""
    covariates = [c for c in covariates if c != measure]
    missing = [c for c in covariates + ([cluster] if cluster else []) if c not in episodes]
    if missing:
        raise ValueError(f"These columns are not in the episodes table: {', '.join(missing)}.")
    rows = counting_process(sessions, episodes, measure, lag, intervals)
    added = list(dict.fromkeys(covariates + ([cluster] if cluster and cluster not in rows else [])))
    if added:
        fixed = episodes[["client_id"] + added].drop_duplicates("client_id")
        found = ClientRuns(rows["client_id"]).positions(fixed["client_id"])
        for name in added:
            rows[name] = per_row(fixed[name], found)
    needed = [measure] + covariates + ([cluster] if cluster else [])
    complete = rows[needed].notna().all(axis=1).to_numpy()
    warnings = []
    if (~complete).any():
        lost_events = int(rows.loc[~complete, "event"].sum())
        warnings.append(
            f"{int((~complete).sum()):,} of {len(rows):,} session intervals were left out because no "
            f"{measure} rating "
            f"was known yet{FIRST_INTERVAL if lag else ''} or a covariate is missing"
            + (f"; {lost_events:,} dropouts fall in those intervals and are not in this model." if lost_events else ".")
        )
    used = rows.loc[complete].reset_index(drop=True)
    design = build_design(used, [measure] + covariates, reference_levels)
    design.warnings = warnings + design.warnings
    return fit_design(
        design, [measure] + covariates, used["stop"].to_numpy(float), used["event"].to_numpy() == 1, None,
        used[cluster].to_numpy() if cluster else None, cluster, None, start=used["start"].to_numpy(float),
        n_left_out=int((~complete).sum()), time_limit=time_limit,
    )
