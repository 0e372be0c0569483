"""What comes back from an engine for the survival curves: the filtered episodes' counts by group,
time and event (a `Tally`), from which Kaplan-Meier, the log-rank tests and the cumulative
incidence are computed exactly as from the episodes themselves (analytics/survival/curves.py)."""

from __future__ import annotations

import pandas as pd

from analytics.engines.engine import q
from analytics.survival.curves import ALL, Tally


def filtered_view(engine, episodes: str, sites=None, therapists=None, intake_from=None, intake_to=None) -> str:
    """The episodes the sidebar's filters keep (analytics.episodes.filter_episodes), as a view."""
    columns = set(engine.columns(episodes))
    keep = []
    if sites and "site" in columns:
        keep.append("site IN (" + ", ".join(_value(s) for s in sites) + ")")
    if therapists and "therapist_id" in columns:
        keep.append("therapist_id IN (" + ", ".join(_value(t) for t in therapists) + ")")
    if "intake_date" in columns:
        if intake_from is not None:
            keep.append(f"intake_date >= TIMESTAMP '{pd.Timestamp(intake_from):%Y-%m-%d %H:%M:%S}'")
        if intake_to is not None:
            keep.append(f"intake_date <= TIMESTAMP '{pd.Timestamp(intake_to):%Y-%m-%d %H:%M:%S}'")
    where = " AND ".join(keep) or "TRUE"
    return engine.view(f"SELECT * FROM {q(episodes)} WHERE {where}", f"{episodes}_kept")


def _value(value) -> str:
    return str(value) if isinstance(value, (int, float)) else "'" + str(value).replace("'", "''") + "'"


def survival_tally(engine, episodes: str, group: str | None = None) -> Tally:
    """How many of `episodes` (a view) share each group value, duration and event."""
    if group is not None and group not in engine.columns(episodes):
        raise ValueError(f"There is no column {group!r} to group by; choose one of the episode columns.")
    by = q(group) if group is not None else f"'{ALL}'"
    table = engine.collect(
        f"SELECT {by} AS \"group\", CAST(duration AS DOUBLE) AS time, CAST(event AS DOUBLE) AS event, "
        f"COUNT(*) AS n FROM {q(episodes)} GROUP BY 1, 2, 3")
    table["n"] = table["n"].astype("int64")
    return Tally(table, group)
