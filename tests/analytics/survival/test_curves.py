"""Kaplan-Meier, log-rank and Aalen-Johansen against R's survival package (stored output of
tests/reference/make_survival_reference.R; R is not called here) and against hand computations."""


import numpy as np
import pandas as pd
import pytest

from analytics.survival import curves as survival
from analytics.survival.curves import (
    CIF_COLUMNS,
    KM_COLUMNS,
    LOGRANK_COLUMNS,
    MEDIAN_COLUMNS,
    covariate_columns,
    cumulative_incidence,
    grouping_columns,
    holm,
    kaplan_meier,
    km_sentences,
    logrank,
    numeric_columns,
    overstatement_summary,
)
from tests.paths import REFERENCE

REF = REFERENCE
DATASETS = ["survival_small", "survival_synthetic", "survival_days"]


def _data(name):
    return pd.read_csv(REF / f"{name}.csv")


def _ref(name, kind, grouped):
    return pd.read_csv(REF / f"{name}_{kind}_{'by_g' if grouped else 'all'}.csv", keep_default_na=True)


def _same(ours: pd.DataFrame, theirs: pd.DataFrame, columns):
    assert len(ours) == len(theirs)
    assert ours["group"].astype(str).tolist() == theirs["group"].astype(str).tolist()
    for column in columns:
        a, b = ours[column].to_numpy(dtype=float), theirs[column].to_numpy(dtype=float)
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=column)
        np.testing.assert_allclose(a[~np.isnan(a)], b[~np.isnan(b)], rtol=0, atol=1e-6, err_msg=column)


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("grouped", [False, True])
def test_kaplan_meier_and_medians_equal_r(name, grouped):
    result = kaplan_meier(_data(name), "g" if grouped else None)
    assert list(result.table.columns) == KM_COLUMNS
    _same(result.table, _ref(name, "km", grouped), KM_COLUMNS[1:])
    assert list(result.medians.columns) == MEDIAN_COLUMNS
    _same(result.medians, _ref(name, "medians", grouped), MEDIAN_COLUMNS[1:])


def test_median_midpoint_rule_and_undefined_intervals():
    km = kaplan_meier(_data("survival_small"), "g")
    medians = km.medians.set_index("group")
    assert medians.loc["B", "median"] == 2.5  # curve sits at exactly 0.5 from time 2 to 3
    zero = km.table.loc[(km.table["group"] == "A") & (km.table["time"] == 6)].iloc[0]
    assert zero["survival"] == 0 and np.isnan(zero["ci_lower"]) and np.isnan(zero["ci_upper"])
    first = km.table.loc[km.table["group"] == "A"].iloc[0]
    assert first["time"] == 0 and first["events"] == 1 and first["survival"] == pytest.approx(14 / 15)


@pytest.mark.parametrize("name", DATASETS)
def test_logrank_equals_r_survdiff(name):
    result = logrank(_data(name), "g")
    reference = pd.read_csv(REF / f"{name}_logrank.csv")
    assert list(result.table.columns) == LOGRANK_COLUMNS
    assert result.table["comparison"].tolist() == reference["comparison"].tolist()
    assert result.table["df"].tolist() == reference["df"].tolist()
    for column in ("statistic", "p", "p_adjusted"):
        np.testing.assert_allclose(result.table[column], reference[column], rtol=1e-6, atol=1e-12)


def test_two_groups_give_only_the_overall_row():
    data = _data("survival_synthetic")
    result = logrank(data.loc[data["g"].isin(["A", "B"])], "g")
    reference = pd.read_csv(REF / "survival_synthetic_logrank.csv").set_index("comparison")
    assert result.table["comparison"].tolist() == ["overall"]
    assert result.table["statistic"].iloc[0] == pytest.approx(reference.loc["A vs B", "statistic"], rel=1e-9)


def test_holm_matches_hand_computation():
    # p sorted 0.01, 0.02, 0.04 -> 0.03, 0.04, 0.04 (cumulative max), NaN kept
    np.testing.assert_allclose(holm(np.array([0.04, 0.01, np.nan, 0.02])), [0.04, 0.03, np.nan, 0.04])


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("grouped", [False, True])
def test_cumulative_incidence_equals_r_aalen_johansen(name, grouped):
    result = cumulative_incidence(_data(name), "g" if grouped else None)
    assert list(result.table.columns) == CIF_COLUMNS
    _same(result.table, _ref(name, "cif", grouped), CIF_COLUMNS[1:])


def test_influence_in_blocks_gives_the_same_errors(monkeypatch):
    data = _data("survival_days")
    whole = cumulative_incidence(data, "g").table
    monkeypatch.setattr(survival, "_BLOCK_CELLS", 500)  # a few kinds per block
    pd.testing.assert_frame_equal(cumulative_incidence(data, "g").table, whole, check_exact=False, rtol=1e-12)


def test_cif_by_hand_with_ties():
    # 5 at risk at time 1, where one drops out, one completes and two are censored: both
    # curves rise by exactly 1/5 (no jitter splitting the tie); S(1) = 3/5, and the last client
    # drops out at time 2, adding 3/5 to the dropout curve.
    data = pd.DataFrame({"duration": [1, 1, 1, 1, 2], "event": [1, 2, 0, 0, 1]})
    table = cumulative_incidence(data).table
    assert table["cif_dropout"].tolist() == pytest.approx([0.2, 0.8])
    assert table["cif_completed"].tolist() == pytest.approx([0.2, 0.2])


def test_overstatement_is_one_minus_km_minus_cif():
    data = _data("survival_synthetic")
    cif = cumulative_incidence(data, "g")
    km = kaplan_meier(data, "g").table
    over = cif.overstatement
    assert over["time"].tolist() == km["time"].tolist()
    np.testing.assert_allclose(over["one_minus_km"], 1 - km["survival"])
    np.testing.assert_allclose(over["difference"], over["one_minus_km"] - over["cif_dropout"])
    assert (over["difference"] > -1e-12).all()
    assert over.groupby("group")["difference"].last().gt(0.05).all()


def test_overstatement_summary_skips_the_thin_tail():
    data = _data("survival_synthetic")
    km, cif = kaplan_meier(data, "g"), cumulative_incidence(data, "g")
    summary = overstatement_summary(cif, km, min_at_risk=20).set_index("group")
    a = km.table.loc[(km.table["group"] == "A") & (km.table["at_risk"] >= 20)].iloc[-1]
    assert summary.loc["A", "time"] == a["time"] and summary.loc["A", "at_risk"] == a["at_risk"]
    row = cif.overstatement.loc[(cif.overstatement["group"] == "A") & (cif.overstatement["time"] == a["time"])].iloc[0]
    assert summary.loc["A", "difference"] == row["difference"]
    assert list(summary.index) == ["A", "B", "C", "D"]


def test_warnings_are_data():
    data = _data("survival_small")
    data["g"] = pd.Categorical(data["g"], categories=["A", "B", "C", "empty"])
    km = kaplan_meier(data, "g")
    assert any("'empty' has no clients" in w for w in km.warnings)
    assert "empty" not in set(km.table["group"])
    assert km.medians.set_index("group").loc["empty", "n"] == 0

    no_dropout = pd.DataFrame({"duration": [1, 2, 3, 4], "event": [0, 2, 2, 1], "g": ["x", "x", "x", "y"]})
    assert any("'x' has no dropouts" in w for w in kaplan_meier(no_dropout, "g").warnings)

    single = logrank(data.loc[data["g"] == "A"], "g")
    assert single.table.empty and any("at least two groups" in w for w in single.warnings)


def test_unusable_rows_are_dropped_with_a_warning():
    data = pd.DataFrame({"duration": [1, np.nan, 2, 3], "event": [1, 1, 0, 1], "g": ["a", "a", None, "a"]})
    km = kaplan_meier(data, "g")
    assert km.medians["n"].tolist() == [2]
    assert km.warnings == ["Left out 1 episode without a usable duration or outcome.",
                           "Left out 1 episode with no value for 'g'."]
    nothing = cumulative_incidence(data.iloc[:0])
    assert nothing.table.empty and nothing.warnings == ["There are no episodes to analyse in the current selection."]
    no_dropout = logrank(pd.DataFrame({"duration": [1, 2], "event": [0, 2], "g": ["a", "b"]}), "g")
    assert no_dropout.table.empty and "No one dropped out" in no_dropout.warnings[0]


def test_numeric_groups_get_readable_labels():
    data = pd.DataFrame({"duration": [1, 2, 3, 4], "event": [1, 0, 1, 1], "court_mandated": [1.0, 0.0, 1.0, 0.0]})
    assert kaplan_meier(data, "court_mandated").medians["group"].tolist() == ["no", "yes"]
    data["band"] = [1.0, 2.0, 3.0, 2.0]
    assert kaplan_meier(data, "band").medians["group"].tolist() == ["1", "2", "3"]


def test_grouping_columns_are_the_categorical_ones():
    data = pd.DataFrame({
        "client_id": list("abcdefg"), "therapist_id": list("xxyyzzz"), "duration": range(7), "event": [0, 1] * 3 + [2],
        "referral": ["court", "self"] * 3 + ["family"], "court_mandated": [0, 1] * 3 + [0], "age": range(20, 27),
        "env_noise": [1, 2, 3, 4, 5, 1, 2], "site": ["A"] * 7, "intake_date": pd.date_range("2024-01-01", periods=7),
    })
    assert grouping_columns(data) == ["referral", "court_mandated", "env_noise"]


def test_covariate_columns_are_known_at_intake():
    data = pd.DataFrame({
        "client_id": list("abcd"), "duration": [1, 2, 3, 4], "event": [0, 1, 2, 1], "age": [20, 30, 40, 50],
        "referral": ["court", "self", "self", "court"], "srs_first": [30.0, 35, 38, 20], "srs_mean": [31.0, 34, 37, 22],
        "ruptures": [0, 1, 2, 0], "sessions_attended": [1, 2, 3, 4], "site": ["A"] * 4,
    })
    assert covariate_columns(data) == ["age", "referral", "srs_first"]
    # a number qualifies by having two values or more, missing values aside
    spread = data.assign(constant=7.0, missing=np.nan, once=[np.nan, 3.0, np.nan, np.nan], two=[np.nan, 1.0, 1.0, 2.0],
                         whole=pd.array([5, None, 5, 6], dtype="Int64"))
    assert covariate_columns(spread) == ["age", "referral", "srs_first", "two", "whole"]
    assert numeric_columns(spread) == ["age", "srs_first", "srs_mean", "ruptures", "sessions_attended", "two", "whole"]


def test_km_sentences():
    km = kaplan_meier(_data("survival_small"), "g")
    a, b, c = km_sentences(km, "g")
    assert a == "Half of the clients with g A had dropped out by session 5 (95% CI 2 to not reached)."
    assert km_sentences(km, "g", "days")[1] == "Half of the clients with g B had dropped out by day 2.5 (95% CI 1 to not reached)."
    # C: S(5) = 0.75 with log-log interval 0.128 to 0.961 -> 25% (4% to 87%)
    assert c == "Fewer than half of the clients with g C dropped out: by session 5, 25% (95% CI 4% to 87%) had."
    none = kaplan_meier(pd.DataFrame({"duration": [1, 2], "event": [0, 2]}))
    assert km_sentences(none) == ["None of the clients dropped out."]


def test_bad_column_is_a_clear_message():
    with pytest.raises(ValueError, match="no column 'nope'"):
        kaplan_meier(_data("survival_small"), "nope")
