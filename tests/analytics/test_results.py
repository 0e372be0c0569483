"""Every analysis answers with the one result protocol (analytics/results.py): a tidy table,
warnings, the takeaway sentence, the privacy spec of its table and the rows used and left out.
Checked on a synthetic practice against counts worked out here from the episodes."""

from __future__ import annotations

import pandas as pd
import pytest

from analytics.episodes import EpisodeSettings, derive_episodes
from analytics.models import fit_gee, fit_logistic, fit_random_intercept
from analytics.models.table_one import table_one
from analytics.practice import alliance, outcomes, overview, periods, room_match, therapists, watch_list
from analytics.results import Privacy, Result
from analytics.survival import (
    cumulative_incidence,
    fit_cox,
    fit_fine_gray,
    kaplan_meier,
    logrank,
    ph_test,
    restricted_mean,
)
from analytics.synth import generate_caseload

CASELOAD = generate_caseload(n_clients=700, n_therapists=14, seed=21).caseload()
EPISODES = derive_episodes(CASELOAD, EpisodeSettings())
KNOWN = int(EPISODES["event"].isin((1, 2)).sum())
SESSIONS = CASELOAD.sessions
RATED = alliance.rated_sessions(SESSIONS, EPISODES, "srs")
COX = fit_cox(EPISODES, ["court_mandated", "srs_first"])

RESULTS = {
    "kaplan_meier": lambda: kaplan_meier(EPISODES, "site"),
    "logrank": lambda: logrank(EPISODES, "site"),
    "cumulative_incidence": lambda: cumulative_incidence(EPISODES),
    "cox": lambda: COX,
    "ph_test": lambda: ph_test(COX),
    "rmst": lambda: restricted_mean(EPISODES, 10, "site"),
    "fine_gray": lambda: fit_fine_gray(EPISODES, ["court_mandated", "srs_first"], cluster="therapist_id"),
    "logistic": lambda: fit_logistic(EPISODES, ["court_mandated", "srs_first"]),
    "gee": lambda: fit_gee(EPISODES, ["court_mandated", "srs_first"]),
    "random_intercept": lambda: fit_random_intercept(EPISODES, ()),
    "table_one": lambda: table_one(EPISODES, ["court_mandated", "srs_first"], "site"),
    "funnel": lambda: therapists.therapist_funnel(EPISODES),
    "headline": lambda: overview.headline(EPISODES),
    "dropout_by": lambda: overview.dropout_by(EPISODES, "site"),
    "dropout_by_intake_month": lambda: overview.dropout_by_intake_month(EPISODES),
    "definition_sensitivity": lambda: overview.definition_sensitivity(CASELOAD, EpisodeSettings()),
    "period_comparison": lambda: periods.period_comparison(EPISODES, target_rate=0.2),
    "trajectories": lambda: alliance.trajectories_of(RATED),
    "first_session": lambda: alliance.first_session_alliance(EPISODES),
    "ruptures": lambda: alliance.ruptures_of(RATED),
    "alliance_risk": lambda: alliance.alliance_risk(SESSIONS, EPISODES),
    "room": lambda: room_match.room_vs_dropout(EPISODES),
    "match": lambda: room_match.match_vs_dropout(EPISODES),
    "habits": lambda: room_match.habits_scorecard(EPISODES),
    "watch_list": lambda: watch_list.watch_list(SESSIONS, EPISODES),
    "outcome_rates": lambda: outcomes.outcome_rates(EPISODES),
    "leavers_improved": lambda: outcomes.leavers_improved(EPISODES),
    "pre_post_effects": lambda: outcomes.pre_post_effects(EPISODES),
    "outcome_trajectories": lambda: outcomes.outcome_trajectories(SESSIONS, EPISODES),
}
# Results whose rows are the episodes with a known outcome (the rate's denominator).
RATE_BASED = {"headline", "dropout_by", "dropout_by_intake_month", "room", "match", "habits", "funnel"}


@pytest.mark.parametrize("name", RESULTS)
def test_every_result_follows_the_protocol(name):
    result = RESULTS[name]()
    assert isinstance(result, Result)
    assert isinstance(result.table, pd.DataFrame) and len(result.table)
    assert isinstance(result.warnings, list) and all(isinstance(w, str) for w in result.warnings)
    assert isinstance(result.takeaway, str) and result.takeaway.strip().endswith((".", ")"))
    assert isinstance(result.privacy, Privacy)
    assert set(result.privacy.counts) - {"ongoing"} <= set(result.table.columns)
    assert all(set(v) <= set(result.table.columns) for k, v in result.privacy.linked.items() if k in result.table)
    assert result.n_used > 0 and result.n_left_out >= 0


@pytest.mark.parametrize("name", sorted(RATE_BASED))
def test_rate_results_count_the_episodes_with_a_known_outcome(name):
    result = RESULTS[name]()
    assert (result.n_used, result.n_left_out) == (KNOWN, len(EPISODES) - KNOWN)


@pytest.mark.parametrize("name", ["kaplan_meier", "cumulative_incidence", "logrank", "first_session"])
def test_curves_account_for_every_episode(name):
    result = RESULTS[name]()
    assert result.n_used + result.n_left_out == len(EPISODES)


def test_alliance_results_count_rated_clients():
    rated_clients = RATED["client_id"].nunique()
    trajectories = RESULTS["trajectories"]()
    assert (trajectories.n_used, trajectories.n_left_out) == (rated_clients, len(EPISODES) - rated_clients)
    twice = int((RATED.groupby("client_id").size() >= 2).sum())
    assert RESULTS["ruptures"]().n_used == twice


def test_the_privacy_spec_hides_what_the_page_hid():
    """The headline's for_display and a rate table's spec mask exactly the small counts and their rates."""
    few = EPISODES.head(12)
    shown = overview.headline(few).for_display(11)
    assert shown.hidden and pd.isna(shown.rate)
    assert shown.table.set_index("figure").loc[["known outcomes", "dropouts", "dropout rate"], "value"].isna().all()
    by_site = overview.dropout_by(EPISODES, "site")
    masked = by_site.privacy.suppress(by_site.table, 10_000)
    assert masked["suppressed"].all() and masked["rate"].isna().all()
