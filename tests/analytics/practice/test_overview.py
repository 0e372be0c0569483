"""Overview figures on a hand-worked six-client caseload (tests/practice_data.py)."""

import numpy as np
import pandas as pd
import pytest

from analytics.episodes import EpisodeSettings, derive_episodes
from analytics.practice.overview import (
    breakdown_columns,
    definition_sensitivity,
    dropout_by,
    dropout_by_intake_month,
    headline,
)
from analytics.proportions import median_interval, wilson_interval
from tests.practice_data import small_caseload


def test_wilson_matches_hand_computation():
    lower, upper = wilson_interval([2, 0, 10], [4, 10, 10])
    assert lower[0] == pytest.approx(0.15004, abs=1e-5) and upper[0] == pytest.approx(0.84996, abs=1e-5)
    assert lower[1] == 0 and upper[1] == pytest.approx(0.27753, abs=1e-5)
    assert lower[2] == pytest.approx(0.72247, abs=1e-5) and upper[2] == pytest.approx(1)
    assert np.isnan(wilson_interval(0, 0)[0])


def test_median_interval_uses_order_statistics():
    assert median_interval(np.arange(1, 11)) == (5.5, 2.0, 9.0)
    median, lower, upper = median_interval([1, 3, 4, 5])
    assert median == 3.5 and np.isnan(lower) and np.isnan(upper)


def test_headline_counts_known_outcomes_only():
    episodes = derive_episodes(small_caseload(), EpisodeSettings("therapist_judged"))
    h = headline(episodes)
    assert (h.clients, h.sessions, h.known, h.dropouts) == (6, 19, 4, 2)
    assert h.rate == 0.5
    assert (h.ci_lower, h.ci_upper) == pytest.approx((0.15004, 0.84996), abs=1e-5)
    assert h.median_sessions == 3.5
    bench = h.table.set_index("figure").loc["published benchmark"]
    assert (bench["value"], bench["ci_lower"], bench["ci_upper"]) == (0.197, 0.187, 0.207)
    assert h.takeaway == ("50.0% (95% CI 15.0% to 85.0%) of clients whose therapy has ended (dropped out or "
                          "completed) dropped out: in line with the published average of 19.7%.")


@pytest.mark.parametrize(("dropouts", "known", "compare"), [
    (227, 1000, "higher than"),   # Wilson 20.2%-25.4%: above 19.7% (and overlapping the benchmark's own 18.7-20.7)
    (170, 1000, "lower than"),    # Wilson 14.8%-19.4%: wholly below 19.7%
    (20, 100, "in line with"),    # Wilson 13.3%-28.9%: contains 19.7%
])
def test_headline_compares_interval_with_the_published_rate(dropouts, known, compare):
    episodes = pd.DataFrame({"client_id": range(known), "event": [1] * dropouts + [2] * (known - dropouts)})
    h = headline(episodes)
    assert f"dropped out: {compare} the published average of 19.7%" in h.takeaway
    assert h.takeaway.startswith(f"{100 * dropouts / known:.1f}% (95% CI {100 * h.ci_lower:.1f}% to {100 * h.ci_upper:.1f}%)")


def test_definition_sensitivity_rates_and_agreement():
    result = definition_sensitivity(small_caseload(), EpisodeSettings())
    rates = result.table.set_index("definition")
    assert list(rates.index) == ["therapist_judged", "unilateral", "early"]
    assert rates["known"].tolist() == [4, 4, 4] and rates["dropouts"].tolist() == [2, 2, 2]
    assert rates.loc["early", "label"] == "Early (fewer than 4 sessions attended)"
    agree = result.agreement
    first = agree.iloc[0]  # therapist-judged vs unilateral: c2 both, c1 neither, c3/c5 disagree
    assert (first["compared"], first["both_dropout"], first["both_not"], first["disagree"]) == (4, 1, 1, 2)
    assert (first["only_a"], first["only_b"]) == (1, 1)
    last = agree.iloc[2]  # unilateral vs early agree on every client here
    assert (last["both_dropout"], last["both_not"], last["disagree"], last["agreement"]) == (2, 2, 0, 1.0)


def test_definition_sensitivity_respects_filtered_clients():
    result = definition_sensitivity(small_caseload(), EpisodeSettings(), client_ids=["c1", "c2"])
    assert result.table["clients"].tolist() == [2, 2, 2]
    assert result.table["dropouts"].tolist() == [1, 1, 1]


def test_dropout_by_site_and_month():
    episodes = derive_episodes(small_caseload(), EpisodeSettings())
    by_site = dropout_by(episodes, "site").table.set_index("site")
    assert by_site.loc["A", ["clients", "known", "dropouts"]].tolist() == [3, 3, 1]
    assert by_site.loc["B", ["clients", "known", "dropouts"]].tolist() == [3, 1, 1]
    assert by_site.loc["B", "rate"] == 1.0
    months = dropout_by_intake_month(episodes, period="month")
    assert months.column == "month"
    table = months.table.set_index("intake_period")
    assert table.loc[pd.Period("2024-01", "M"), ["clients", "known", "dropouts"]].tolist() == [2, 2, 1]
    assert table.loc[pd.Period("2024-06", "M"), ["clients", "known", "ongoing"]].tolist() == [2, 0, 2]
    assert months.warnings and "June 2024" in months.warnings[0]
    assert breakdown_columns(episodes) == ["site"]


def test_dropout_by_missing_column_says_what_to_map():
    episodes = derive_episodes(small_caseload(), EpisodeSettings())
    with pytest.raises(ValueError, match="modality"):
        dropout_by(episodes, "modality")


def test_intake_trend_switches_to_quarters_when_months_are_small():
    episodes = derive_episodes(small_caseload(), EpisodeSettings())
    quarters = dropout_by_intake_month(episodes, suppress_below=11)
    assert quarters.column == "quarter"
    table = quarters.table.set_index("intake_period")
    assert table.loc[pd.Period("2024Q1", "Q"), ["clients", "known", "dropouts"]].tolist() == [4, 4, 2]
    assert table.loc[pd.Period("2024Q2", "Q"), ["clients", "ongoing"]].tolist() == [2, 2]
    assert "Q2 2024" in quarters.warnings[0]
    assert dropout_by_intake_month(episodes, suppress_below=1).column == "month"


def test_telehealth_reads_in_person_or_telehealth():
    episodes = derive_episodes(small_caseload(telehealth=[1, 0, 0, 1, 1, 0]), EpisodeSettings())
    table = dropout_by(episodes, "telehealth").table.set_index("telehealth")
    assert table.loc["in person", ["clients", "known", "dropouts"]].tolist() == [3, 2, 1]  # c2, c3, c6
    assert table.loc["telehealth", ["clients", "known", "dropouts"]].tolist() == [3, 2, 1]  # c1, c4, c5


def test_incidence_takeaway_reads_the_cif_table():
    from analytics.practice.overview import incidence_takeaway

    table = pd.DataFrame({"group": "all", "time": [1.0, 2.0, 3.0, 5.0], "cif_dropout": [0.05, 0.08, 0.1, 0.12],
                          "cif_completed": [0.0, 0.1, 0.3, 0.8]})
    assert incidence_takeaway(table) == ("Half of the dropouts seen so far happened by session 2; by session 5, "
                                         "12% of clients had dropped out and 80% had completed.")
    assert incidence_takeaway(table.assign(cif_dropout=0.0)).startswith("No dropouts yet")


def test_sensitivity_takeaway_names_lowest_and_highest():
    result = definition_sensitivity(small_caseload(), EpisodeSettings(), suppress_below=0)
    # all three rates are 50% here: the first lowest and first highest are the therapist's judgement
    assert result.takeaway.startswith("The definition moves the dropout rate from 50% (therapist-judged) to 50%")
    hidden = definition_sensitivity(small_caseload(), EpisodeSettings(), suppress_below=11)
    assert hidden.takeaway == "Too few episodes have ended to compare the dropout definitions."
