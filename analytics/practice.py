"""The director's views in one place: overview, alliance, room and match, watch list.

Each lives in its own module (analytics.overview, .alliance, .room_match, .watch_list); this module
gathers their public functions so a caller needs one import.
"""

from analytics.alliance import alliance_risk, alliance_trajectories, first_session_alliance, rupture_outcomes
from analytics.overview import (
    BENCHMARK,
    breakdown_columns,
    definition_sensitivity,
    dropout_by,
    dropout_by_intake_month,
    headline,
)
from analytics.room_match import habits_scorecard, match_vs_dropout, room_vs_dropout
from analytics.watch_list import watch_list

__all__ = [
    "BENCHMARK", "alliance_risk", "alliance_trajectories", "breakdown_columns", "definition_sensitivity",
    "dropout_by", "dropout_by_intake_month", "first_session_alliance", "habits_scorecard", "headline",
    "match_vs_dropout", "room_vs_dropout", "rupture_outcomes", "watch_list",
]
