"""Alliance figures on the hand-worked six-client caseload (see tests/practice_data.py for scores)."""

import re

import numpy as np
import pytest

from analytics.episodes import EpisodeSettings, derive_episodes
from analytics.ingest.load import load_caseload
from analytics.practice.alliance import (
    alliance_risk,
    alliance_trajectories,
    first_session_alliance,
    rupture_outcomes,
)
from analytics.practice.display import director_table
from tests.paths import FIXTURES
from tests.practice_data import small_caseload


@pytest.fixture
def caseload():
    return small_caseload()


@pytest.fixture
def episodes(caseload):
    return derive_episodes(caseload, EpisodeSettings("therapist_judged"))


def test_trajectory_means_by_outcome_and_session(caseload, episodes):
    table = alliance_trajectories(caseload.sessions, episodes).table.set_index(["outcome", "session_number"])
    # session 1: completed c1 38, c3 39; dropped out c2 30, c5 37
    assert table.loc[("completed", 1), "mean"] == 38.5
    assert table.loc[("dropped out", 1), "clients"] == 2 and table.loc[("dropped out", 1), "mean"] == 33.5
    # t interval, n = 2, sd = 0.7071: 38.5 +- 12.706 * 0.5
    assert table.loc[("completed", 1), "ci_lower"] == pytest.approx(38.5 - 12.7062 * 0.5, abs=1e-3)
    assert table.loc[("completed", 5), "mean"] == 38 and np.isnan(table.loc[("completed", 5), "ci_lower"])
    assert table.loc[("ongoing or other ending", 3), "mean"] == 38


def test_first_session_alliance(episodes):
    result = first_session_alliance(episodes)
    summary = result.table.set_index("outcome")
    assert summary.loc["dropped out", "mean"] == 33.5 and summary.loc["dropped out", "below_cutoff"] == 1
    assert summary.loc["completed", "below_cutoff_share"] == 0
    dist = result.distribution.set_index(["outcome", "score_from"])
    assert dist.loc[("completed", 38.0), "clients"] == 2 and dist.loc[("dropped out", 30.0), "share"] == 0.5


def test_ruptures_repair_and_dropout_after(caseload, episodes):
    r = rupture_outcomes(caseload.sessions, episodes, min_drop=5, cutoff=36, within=2)
    per = r.per_client.set_index("client_id")
    assert per["ruptures"].to_dict() == {"c1": 1, "c2": 0, "c3": 1, "c4": 0, "c5": 1, "c6": 0}
    assert per.loc["c1", "rupture_session"] == 3 and per.loc["c1", "pre_rupture_level"] == 37
    assert per.loc[["c1", "c3", "c5"], "repair"].tolist() == ["repaired", "not repaired", "not repaired"]
    assert per.loc[["c1", "c3", "c5"], "dropout_within"].tolist() == ["no", "no", "yes"]
    rates = r.table.iloc[0]
    assert (rates["clients_rated_twice"], rates["clients_with_rupture"], rates["transitions"]) == (4, 3, 11)
    assert rates["per_100_transitions"] == pytest.approx(300 / 11)
    assert r.per_client_counts.set_index("ruptures")["clients"].to_dict() == {"0": 1, "1": 3, "2": 0, "3 or more": 0}
    assert r.repair.iloc[0][["repaired", "not_repaired", "not_yet_known"]].tolist() == [1, 2, 0]
    # the share repaired reads "Share" in a director's table: it is not a dropout rate
    assert r.repair.iloc[0]["share"] == pytest.approx(1 / 3)
    assert "Share" in director_table(r.repair).columns and "Dropout rate" not in director_table(r.repair).columns
    after, base = r.comparison.iloc[0], r.comparison.iloc[1]
    assert (after["clients"], after["index_sessions"], after["dropouts"]) == (3, 3, 1)
    assert (base["clients"], base["index_sessions"], base["dropouts"]) == (2, 2, 1)
    # comparison: at session 2, c1 (no) and c5 (yes) had no rupture yet; session 3 has no known comparison
    assert base["rate"] == 0.5
    assert base["ci_lower"] == 0 and base["ci_upper"] == 1  # 0.5 +- 1.96 * sqrt(0.25 / 2)
    assert any("left out" in w for w in r.warnings)


def test_rupture_rules_are_the_users(caseload, episodes):
    only_cutoff = rupture_outcomes(caseload.sessions, episodes, min_drop=None, cutoff=36, within=2)
    # falls from >= 36 to below: c1 37->31, c3 39->33, c5 36->30
    assert only_cutoff.table.iloc[0]["ruptures"] == 3
    big_drop = rupture_outcomes(caseload.sessions, episodes, min_drop=6, cutoff=None, within=2)
    assert big_drop.per_client.set_index("client_id")["ruptures"].sum() == 3
    with pytest.raises(ValueError, match="at least one rupture rule"):
        rupture_outcomes(caseload.sessions, episodes, min_drop=None, cutoff=None)


def test_repair_not_yet_known_for_open_episode():
    caseload = small_caseload()
    sessions = caseload.sessions.copy()
    sessions.loc[(sessions["client_id"] == "c4") & (sessions["date"] == "2024-06-29"), "srs"] = 30
    episodes = derive_episodes(caseload.__class__(sessions=sessions, clients=caseload.clients), EpisodeSettings())
    per = rupture_outcomes(sessions, episodes, within=2).per_client.set_index("client_id")
    assert per.loc["c4", "repair"] == "not yet known" and per.loc["c4", "dropout_within"] == "not yet known"


def test_missing_srs_names_the_column():
    caseload = small_caseload(with_srs=False)
    episodes = derive_episodes(caseload, EpisodeSettings())
    for call in (lambda: alliance_trajectories(caseload.sessions, episodes),
                 lambda: first_session_alliance(episodes),
                 lambda: rupture_outcomes(caseload.sessions, episodes),
                 lambda: alliance_risk(caseload.sessions, episodes)):
        with pytest.raises(ValueError, match="`srs` column"):
            call()


def test_alliance_risk_time_varying_recovers_true_direction(sample):
    caseload, episodes = sample
    risk = alliance_risk(caseload.sessions, episodes)
    assert risk.method == "time-varying Cox"
    row = risk.table.set_index("term").loc["srs"]
    # true effect: -0.45 on the logit of the per-session hazard per 4 SRS points (about 0.89 per point)
    assert 0.8 < row["hr"] < 0.95 and row["hr_ci_upper"] < 1
    assert "5 points lower" in risk.takeaway and "higher risk" in risk.takeaway
    # the note names the scale as the takeaway does, and writes its counts as a director reads them
    left_out = next(w for w in risk.warnings if "session intervals were left out" in w)
    assert re.match(r"\d{1,3}(,\d{3})* of \d{1,3}(,\d{3})+ session intervals were left out because no SRS rating", left_out)


def test_alliance_risk_quotes_no_figure_the_model_could_not_estimate():
    """The EHR export's six clients: two dropouts, the SRS term separated (hazard ratio running off
    to zero, its interval blank); the reading said "1504886...% higher risk (95% CI nan to nan)"."""
    caseload = load_caseload({"sessions": FIXTURES / "ehr_appointments.csv",
                              "clients": FIXTURES / "ehr_clients.csv"}).caseload
    risk = alliance_risk(caseload.sessions, derive_episodes(caseload, EpisodeSettings()))
    row = risk.table.set_index("term").loc["srs"]
    assert risk.method == "time-varying Cox" and np.isnan(row["hr_ci_lower"])
    assert risk.takeaway == ("The time-varying model could not estimate how the SRS score relates to dropout in this "
                             "caseload (see the notes), so no risk is quoted.")
    assert any("running off to zero or infinity" in w for w in risk.warnings)
    # the robust errors' cluster in words, as every director note names it
    assert "There are only 3 therapists; standard errors clustered on so few groups can be too small." in risk.warnings


def test_alliance_risk_falls_back_to_km_by_first_rating(sample):
    caseload, episodes = sample
    risk = alliance_risk(caseload.sessions, episodes, use_cox=False)
    assert risk.method.startswith("Kaplan-Meier")
    medians = risk.table.set_index("group")
    low, good = medians.loc["first SRS below 36"], medians.loc["first SRS 36 or above"]
    rated = episodes.loc[episodes["srs_first"].notna()]
    assert low["n"] == int((rated["srs_first"] < 36).sum()) and good["n"] == int((rated["srs_first"] >= 36).sum())


def test_sample_trajectories_dropouts_rate_alliance_lower(sample):
    caseload, episodes = sample
    table = alliance_trajectories(caseload.sessions, episodes).table.set_index(["outcome", "session_number"])
    assert table.loc[("dropped out", 2), "mean"] < table.loc[("completed", 2), "mean"]


def test_takeaways_quote_no_small_counts(caseload, episodes):
    hidden = rupture_outcomes(caseload.sessions, episodes, within=2, suppress_below=11)
    assert hidden.takeaway == "Too few ruptures to report without revealing small numbers."
    shown = rupture_outcomes(caseload.sessions, episodes, within=2, suppress_below=0)
    assert shown.takeaway.startswith("75% of clients rated at least twice had a rupture. 33% of ruptures were repaired")
    assert "started below" not in first_session_alliance(episodes, suppress_below=11).takeaway
    assert "50% of later dropouts started below 36, against 0% of completers" in first_session_alliance(
        episodes, suppress_below=0).takeaway


@pytest.mark.parametrize("definition", ["therapist_judged", "unilateral", "early"])
def test_rated_rows_given_ahead_give_the_same_rated_sessions(caseload, definition):
    """The dashboard keeps rated_rows across definitions and adds each definition's outcome: the
    same table as rated_sessions computing everything, with the hand-worked numbering (c5's four
    ratings at attended sessions 1-4), and a filter's clients only."""
    import pandas as pd

    from analytics.episodes import filter_episodes
    from analytics.practice.alliance import rated_rows, rated_sessions

    episodes = derive_episodes(caseload, EpisodeSettings(definition))
    for kept in (episodes, filter_episodes(episodes, therapists=["t2"])):
        sessions = caseload.sessions.loc[caseload.sessions["client_id"].isin(kept["client_id"])]
        whole = rated_sessions(caseload.sessions, kept, "srs")
        pd.testing.assert_frame_equal(rated_sessions(sessions, kept, "srs", rated_rows(sessions, "srs")), whole)
        assert set(whole["client_id"]) <= set(kept["client_id"])
    c5 = rated_sessions(caseload.sessions, episodes, "srs").query("client_id == 'c5'")
    assert c5["rated_number"].tolist() == [1, 2, 3, 4] and c5["srs"].tolist() == [37, 36, 30, 29]


@pytest.mark.parametrize("definition", ["therapist_judged", "unilateral"])
def test_trajectories_group_by_outcome_as_written(definition):
    """Trajectories group the rated sessions by event and name the outcomes after: the same table as
    the plain group-by on each row's outcome text, on the sample (where every outcome occurs)."""
    import pandas as pd

    from analytics.ingest.load import load_sample
    from analytics.practice.alliance import OUTCOME_LABELS, rated_sessions, trajectories_of

    caseload = load_sample().caseload
    rated = rated_sessions(caseload.sessions, derive_episodes(caseload, EpisodeSettings(definition)), "srs")
    first_twenty = rated.loc[rated["session_number"] <= 20].assign(outcome=rated["event"].map(OUTCOME_LABELS))
    plain = first_twenty.groupby(["outcome", "session_number"])["srs"].agg(clients="count", mean="mean", sd="std")
    result = trajectories_of(rated, "srs")
    table = result.table.set_index(["outcome", "session_number"])
    assert len(table) == len(plain) and set(table.index.get_level_values(0)) == set(OUTCOME_LABELS.values())
    pd.testing.assert_frame_equal(table[["clients", "mean", "sd"]].sort_index(), plain.sort_index())
    assert result.n_used == first_twenty["client_id"].nunique()
