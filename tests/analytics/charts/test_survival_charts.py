"""The survival charts draw exactly the result tables: step points, at-risk counts, censor marks, medians."""


import numpy as np
import pandas as pd

from analytics.charts.survival import (
    cif_figure,
    km_figure,
    number_at_risk,
    overstatement_figure,
)
from analytics.charts.theme import PALETTE
from analytics.survival.curves import cumulative_incidence, kaplan_meier
from tests.paths import REFERENCE

DATA = pd.read_csv(REFERENCE / "survival_small.csv")


def _trace(fig, name):
    return next(t for t in fig.data if t.name == name)


def test_km_steps_start_at_one_and_follow_the_table():
    km = kaplan_meier(DATA, "g")
    fig = km_figure(km)
    curve = _trace(fig, "A")
    part = km.table.loc[km.table["group"] == "A"]
    assert curve.line.shape == "hv" and curve.line.color == PALETTE[0]
    assert list(curve.x) == [0.0] + part["time"].tolist()
    assert list(curve.y) == [1.0] + part["survival"].tolist()


def test_at_risk_row_matches_hand_counts():
    # Group B: durations 1, 2, 3, 4 -> at risk 4, 4, 3, 2, 1, 0, 0 at ticks 0..6.
    km = kaplan_meier(DATA, "g")
    fig = km_figure(km, at_risk=True)
    row = _trace(fig, "B at risk")
    assert list(row.x) == [0, 1, 2, 3, 4, 5, 6] and set(row.y) == {"B"}
    assert list(row.text) == ["4", "4", "3", "2", "1", "0", "0"]
    assert row.yaxis == "y2"
    assert "B at risk" not in [t.name for t in km_figure(km, at_risk=False).data]


def test_number_at_risk_between_steps():
    part = pd.DataFrame({"time": [2.0, 5.0], "at_risk": [10, 4]})
    np.testing.assert_array_equal(number_at_risk(part, [0, 2, 3, 5, 6]), [10, 10, 4, 4, 0])


def test_censor_marks_and_median_lines():
    km = kaplan_meier(DATA, "g")
    fig = km_figure(km)
    marks = _trace(fig, "A censored")
    censored = km.table.loc[(km.table["group"] == "A") & (km.table["censored"] > 0)]
    assert list(marks.x) == censored["time"].tolist() and list(marks.customdata) == censored["censored"].tolist()
    median = _trace(fig, "B median")
    assert list(median.x) == [0, 2.5, 2.5] and list(median.y) == [0.5, 0.5, 0]
    assert not any(t.name == "C median" for t in fig.data)  # C's median is not reached


def test_cif_and_overstatement_curves():
    cif = cumulative_incidence(DATA)
    fig = cif_figure(cif)
    dropout = _trace(fig, "dropout")
    assert list(dropout.y) == [0.0] + cif.table["cif_dropout"].tolist()
    assert _trace(fig, "completed").line.dash == "dash"
    over = overstatement_figure(cif)
    naive = _trace(over, "1 - Kaplan-Meier")
    assert list(naive.y) == [0.0] + cif.overstatement["one_minus_km"].tolist()
    assert naive.fill == "tonexty"


def test_legends_name_the_grouping_variable_in_words():
    grouped = DATA.rename(columns={"g": "referral"})
    km_fig = km_figure(kaplan_meier(grouped, "referral"), group_by="referral")
    assert km_fig.layout.legend.title.text == "Referral"
    cif = cumulative_incidence(grouped, "referral")
    assert cif_figure(cif, group_by="referral").layout.legend.title.text == "Referral"
    assert overstatement_figure(cif, group_by="referral").layout.legend.title.text == "Referral"
    # one group: the legend names the endings, not groups, so it has no title
    assert not cif_figure(cumulative_incidence(DATA), group_by="referral").layout.legend.title.text
    assert not km_figure(kaplan_meier(DATA, "g")).layout.legend.title.text


def test_a_grouped_curve_names_its_grouping_in_the_legend_title():
    km = kaplan_meier(DATA.assign(alliance_level=DATA["g"]), "alliance_level")
    assert km_figure(km, group_by="alliance_level").layout.legend.title.text == "First-session alliance"
    assert km_figure(km).layout.legend.title.text == ""
