"""Delayed entry, case weights, R's timefix, R-style status codes, strata of several columns and
the message for a missing duration: against R (stored output of
tests/reference/make_entry_reference.R; R is not called here)."""

import json

import numpy as np
import pandas as pd
import pytest

from analytics.survival.cox import fit_cox
from analytics.episodes import timefix
from analytics.survival.curves import KM_COLUMNS, kaplan_meier, tally
from tests.paths import REFERENCE

DAYS = pd.read_csv(REFERENCE / "entry_days.csv")
COX = pd.read_csv(REFERENCE / "entry_cox.csv")
R_COX = json.loads((REFERENCE / "entry_cox.json").read_text())
COVS, LEVELS = ["age", "court_mandated", "referral"], {"referral": "self"}
R_TERMS = {"referral[family]": "referralfamily", "referral[gp]": "referralgp"}


def _same_as_r(ours: pd.DataFrame, stem: str):
    theirs = pd.read_csv(REFERENCE / f"{stem}.csv")
    assert ours["group"].tolist() == theirs["group"].tolist()
    for column in KM_COLUMNS[1:]:
        a, b = ours[column].to_numpy(dtype=float), theirs[column].to_numpy(dtype=float)
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=column)
        np.testing.assert_allclose(a[~np.isnan(a)], b[~np.isnan(b)], rtol=0, atol=1e-6, err_msg=column)


def test_kaplan_meier_with_delayed_entry_equals_r():
    _same_as_r(kaplan_meier(DAYS, "g", entry="entry").table, "entry_km_entry")


def test_kaplan_meier_with_case_weights_equals_r():
    result = kaplan_meier(DAYS, "g", weights="w")
    _same_as_r(result.table, "entry_km_weights")
    # whole-number weights act as copies of the row
    copies = DAYS.loc[DAYS.index.repeat(DAYS["w"])]
    np.testing.assert_allclose(result.table["survival"], kaplan_meier(copies, "g").table["survival"])


def test_kaplan_meier_merges_noisy_times_as_r_timefix():
    noisy = DAYS.assign(duration=DAYS["duration_noisy"])
    result = kaplan_meier(noisy, "g")
    _same_as_r(result.table, "entry_km_noisy")
    np.testing.assert_allclose(result.table["survival"], kaplan_meier(DAYS, "g").table["survival"], atol=1e-12)


def test_timefix_merges_runs_to_their_first_time_and_keeps_real_gaps():
    stop, start = timefix(np.array([30.0, 30.000000000000004, 31.0, 2.0]), np.array([0.0, 1e-13, 30.0, 1.0]))
    assert stop.tolist() == [30.0, 30.0, 31.0, 2.0]
    assert start.tolist() == [0.0, 0.0, 30.0, 1.0]


@pytest.mark.parametrize("case, kwargs, se", [
    ("entry", dict(entry="entry"), "robust_se"),
    ("noisy", dict(duration="duration_noisy", cluster=None), "se"),
    ("strata", dict(strata=["s1", "s2"], cluster=None), "se"),
    ("weights", dict(weights="w", cluster="client_id"), "robust_se"),
    ("weights_cluster", dict(weights="w", entry="entry"), "robust_se"),
])
def test_cox_with_entry_noisy_times_and_two_strata_equals_r(case, kwargs, se):
    covariates = ["age", "referral"] if case == "strata" else COVS
    fit = fit_cox(COX, covariates, LEVELS, **kwargs)
    ref = R_COX[case]
    terms = fit.table["term"].tolist()
    np.testing.assert_allclose(fit.table["coef"], [ref["coef"][R_TERMS.get(t, t)] for t in terms], rtol=1e-6)
    np.testing.assert_allclose(fit.table[se], ref["se"], rtol=1e-6)
    if isinstance(ref.get("naive_se"), list):  # non-whole weights: R's var is robust by default, naive.var the model-based one
        np.testing.assert_allclose(fit.table["se"], ref["naive_se"], rtol=1e-6)
    np.testing.assert_allclose([fit.loglik_null, fit.loglik], ref["loglik"], rtol=1e-9)
    assert (fit.n_used, fit.events) == (ref["n"], ref["nevent"])


def test_strata_of_several_columns_stay_apart():
    fit = fit_cox(COX, ["age"], strata=["s1", "s2"], cluster=None)
    assert sorted(fit.model.stratum_labels) == [("p", "q, r"), ("p, q", "r")]


def test_r_status_coding_is_refused_with_the_fix():
    lung = pd.read_csv(REFERENCE / "lung_status.csv")
    for fit in (lambda: kaplan_meier(lung), lambda: fit_cox(lung, ["age"], cluster=None)):
        with pytest.raises(ValueError, match=r"episodes\['event'\] = episodes\['event'\] - 1"):
            fit()
    recoded = lung.assign(event=lung["event"] - 1)
    assert kaplan_meier(recoded).medians["events"].iloc[0] == 165  # lung's deaths


def test_a_missing_duration_is_named_not_blamed_on_a_covariate():
    data = COX.copy()
    data.loc[:4, "duration"] = np.nan
    no_age = int((data["age"].isna() & data["duration"].notna()).sum())
    warnings = fit_cox(data, ["age"], cluster=None).warnings
    assert f"5 of {len(data):,} episodes were left out because their duration is missing." in warnings
    assert f"{no_age:,} of {len(data):,} episodes were left out because a chosen covariate is missing for them." in warnings


def test_an_entry_after_the_end_is_refused():
    data = COX.assign(entry=COX["duration"] + 1)
    with pytest.raises(ValueError, match="not before their duration"):
        fit_cox(data, ["age"], entry="entry")


def test_unit_weights_change_nothing_and_negative_weights_are_refused():
    # (whole-number weights are not copies under Efron's ties, in R too: copies of a death tie with it)
    data = COX.assign(one=1.0, minus=-1.0)
    plain = fit_cox(data, ["age", "court_mandated"])
    weighted = fit_cox(data, ["age", "court_mandated"], weights="one")
    np.testing.assert_allclose(weighted.table[["coef", "se", "robust_se"]], plain.table[["coef", "se", "robust_se"]],
                               rtol=1e-12)
    with pytest.raises(ValueError, match="case weights"):
        fit_cox(data, ["age"], weights="minus", cluster=None)


def test_a_tally_gives_the_same_merged_times_and_refuses_entry_and_weights():
    """Counts from an engine (a Tally) go through the same timefix; entry times and weights need
    one row per episode, so a tally with them is refused, not ignored."""
    counted = tally(DAYS.assign(duration=DAYS["duration_noisy"]), "g")
    _same_as_r(kaplan_meier(counted, "g").table, "entry_km_noisy")
    for option in ({"entry": "entry"}, {"weights": "w"}):
        with pytest.raises(ValueError, match="need the episodes themselves"):
            kaplan_meier(counted, "g", **option)
