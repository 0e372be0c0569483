"""The outcomes view on the hand-worked clients of tests/analytics/test_unilateral_unimproved.py:
rates by ending, who left improved, pre-post effect sizes and trajectories, worked out by hand."""

import numpy as np
import pytest

from analytics.caseload import Caseload
from analytics.episodes import EpisodeSettings, derive_episodes
from analytics.practice.outcomes import leavers_improved, outcome_rates, outcome_trajectories, pre_post_effects
from analytics.proportions import wilson_interval
from tests.analytics.test_unilateral_unimproved import EXPORT, _clients, _sessions

SETTINGS = EpisodeSettings("unilateral_unimproved", outcome_measure="phq9")


@pytest.fixture
def episodes():
    return derive_episodes(Caseload(_sessions(), _clients(), export_date=EXPORT), SETTINGS)


def test_rates_by_ending(episodes):
    table = outcome_rates(episodes, SETTINGS).table.set_index(["measure", "ending", "outcome"])
    # left: a (-6), b (-5), c (one score), g (one score): 4 clients, 2 with a pair, 1 reliable improvement
    left = table.loc[("phq9", "left", "reliable_improvement")]
    assert (left["clients"], left["paired"], left["assessed"], left["reached"]) == (4, 2, 2, 1)
    assert left["share"] == 0.5 and left["ci_lower"] == pytest.approx(float(wilson_interval(1, 2)[0]))
    # completed: d, 18 -> 9: reliable improvement and recovery; GAD-7 7 -> 11: reliable deterioration
    assert table.loc[("phq9", "completed", "recovery"), ["assessed", "reached"]].tolist() == [1, 1]
    assert table.loc[("gad7", "completed", "reliable_deterioration"), ["assessed", "reached"]].tolist() == [1, 1]
    # GAD-7 recovery is defined only at caseness first: d began at 7 (below 8)
    assert table.loc[("gad7", "completed", "recovery"), "assessed"] == 0 and np.isnan(table.loc[("gad7", "completed", "recovery"), "share"])
    # NHS paired rules: a and b reliably improved (b on GAD-7 by exactly 4), d neither
    assert table.loc[("nhs", "left", "reliable_improvement"), ["assessed", "reached"]].tolist() == [2, 2]
    assert table.loc[("nhs", "completed", "reliable_improvement"), ["assessed", "reached"]].tolist() == [1, 0]


def test_leavers_improved_counts_the_unscored(episodes):
    result = leavers_improved(episodes, SETTINGS, suppress_below=0)
    left = result.table.set_index("ending").loc["left"]
    assert (left["clients"], left["paired"], left["unpaired"], left["improved"]) == (4, 2, 2, 1)
    assert result.takeaway.startswith("Of the 2 clients who left with two PHQ-9 scores, 1 (50%, 95% CI")
    assert result.warnings == ["2 of the clients who left had fewer than two PHQ-9 scores: with no evidence of "
                               "improvement they count as dropouts under the unilateral-before-improvement definition."]
    hidden = leavers_improved(episodes, SETTINGS, suppress_below=11)
    assert hidden.takeaway.startswith("Too few clients who left")


def test_pre_post_effect_size(episodes):
    table = pre_post_effects(episodes, SETTINGS).table.set_index(["measure", "ending"])
    left = table.loc[("phq9", "left")]
    # a 16 -> 10, b 16 -> 11: mean change -5.5; first scores have SD 0, so d is undefined
    assert left["paired"] == 2 and left["mean_change"] == -5.5 and np.isnan(left["d"])
    # GAD-7 among the left: a 12 -> 12, b 12 -> 8, c 15 -> 15: mean change -4/3; SD of (12, 12, 15) = sqrt(3)
    gad = table.loc[("gad7", "left")]
    assert gad["paired"] == 3 and gad["d"] == pytest.approx((4 / 3) / np.sqrt(3))


def test_trajectories_by_ending(episodes):
    table = outcome_trajectories(_sessions(), episodes, SETTINGS).table.set_index(["ending", "session_number"])
    # left at session 1: a 16, b 16, c 20, g 16 -> mean 17; session 2: a 10, b 11 (c unscored) -> 10.5
    assert table.loc[("left", 1), "mean"] == 17 and table.loc[("left", 1), "clients"] == 4
    assert table.loc[("left", 2), "mean"] == 10.5 and table.loc[("left", 2), "clients"] == 2
    assert table.loc[("completed", 3), "mean"] == 9


def test_trajectories_from_rated_rows_given_ahead(episodes):
    """The dashboard passes the rated rows it keeps across definitions: the same hand-worked means."""
    from analytics.practice.alliance import rated_rows

    alone = outcome_trajectories(_sessions(), episodes, SETTINGS)
    given = outcome_trajectories(_sessions(), episodes, SETTINGS, rows=rated_rows(_sessions(), "phq9"))
    assert given.table.equals(alone.table) and (given.takeaway, given.n_used) == (alone.takeaway, alone.n_used)
    assert given.table.set_index(["ending", "session_number"]).loc[("left", 1), "mean"] == 17


def test_interval_ends_are_exact_and_the_takeaway_follows_the_measure(episodes):
    table = outcome_rates(episodes, SETTINGS).table.set_index(["measure", "ending", "outcome"])
    none = table.loc[("phq9", "left", "reliable_deterioration")]  # 0 of 2
    assert none["ci_lower"] == 0.0 and none["ci_upper"] == pytest.approx(float(wilson_interval(0, 2)[1]))
    every = table.loc[("phq9", "completed", "reliable_improvement")]  # 1 of 1
    assert every["ci_upper"] == 1.0
    gad = EpisodeSettings("unilateral_unimproved", outcome_measure="gad7")
    assert pre_post_effects(episodes, gad).takeaway.startswith("Effect sizes need")  # one completer: no SD
    assert "GAD-7" in outcome_rates(episodes, gad).takeaway
