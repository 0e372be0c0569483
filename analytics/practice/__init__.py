"""The director's views: overview, periods, outcomes, alliance and ruptures, room/match/habits,
watch list and the therapist comparison, one module each. A new director view is a module here
returning a result with its table, warnings, takeaway and privacy spec; its page in pages/ only draws it."""

from analytics.practice.alliance import (
    alliance_risk,
    alliance_trajectories,
    first_session_alliance,
    rupture_outcomes,
)
from analytics.practice.outcomes import (
    leavers_improved,
    outcome_rates,
    outcome_trajectories,
    pre_post_effects,
)
from analytics.practice.overview import (
    BENCHMARK,
    breakdown_columns,
    definition_sensitivity,
    dropout_by,
    dropout_by_intake_month,
    headline,
)
from analytics.practice.periods import period_comparison
from analytics.practice.room_match import (
    habits_scorecard,
    match_vs_dropout,
    room_vs_dropout,
)
from analytics.practice.therapists import therapist_funnel
