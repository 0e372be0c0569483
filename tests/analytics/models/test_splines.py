"""Natural splines against R's splines::ns() in coxph and glm (stored output of
tests/reference/make_spline_reference.R; R is not called here)."""

import json

import numpy as np
import pandas as pd
import pytest

from analytics.models.regression import fit_logistic
from analytics.models.splines import NaturalSpline, partial_effect
from analytics.survival.cox import fit_cox
from tests.paths import REFERENCE

R = json.loads((REFERENCE / "spline_reference.json").read_text())
DATA = pd.read_csv(REFERENCE / "cox_tied.csv")
AGES = DATA["age"].dropna().to_numpy()


def test_basis_knots_and_values_equal_ns():
    spline = NaturalSpline.from_data(AGES, 4)
    np.testing.assert_allclose(spline.interior, R["basis"]["knots"], rtol=1e-12)
    np.testing.assert_allclose(spline.boundary, R["basis"]["boundary"], rtol=1e-12)
    np.testing.assert_allclose(spline.basis(AGES[:20]), R["basis"]["rows"], atol=1e-12)


def test_cox_with_a_spline_equals_coxph_ns():
    fit = fit_cox(DATA, ["age", "court_mandated"], splines={"age": 3})
    assert fit.table["term"].tolist() == ["age[ns1]", "age[ns2]", "age[ns3]", "court_mandated"]
    np.testing.assert_allclose(fit.table["coef"], R["cox"]["coef"], rtol=1e-6)
    np.testing.assert_allclose(fit.table["robust_se"], R["cox"]["se"], rtol=1e-6)
    _same_effect(fit.splines["age"], fit.table["coef"].to_numpy()[:3], fit, "cox")
    assert "natural spline (3 degrees of freedom)" in fit.takeaway
    assert len(fit.partial_effects["age"]) == 50


def test_logistic_with_a_spline_equals_glm_ns():
    fit = fit_logistic(DATA, ["age", "court_mandated"], splines={"age": 4})
    coef = np.log(fit.table["or"].to_numpy())
    np.testing.assert_allclose(coef, R["logistic"]["coef"], rtol=1e-6)
    effect = fit.partial_effects["age"]
    assert effect["ratio"].iloc[np.argmin(np.abs(effect["value"] - np.median(effect["value"])))] == pytest.approx(1, abs=0.1)
    assert "natural spline (4 degrees of freedom)" in fit.takeaway


def _same_effect(spline, coef, fit, model):
    # the partial effect (log ratio against the median age) at R's ages; the interval at the median is empty
    ref = R[model]["effect"]
    ours = partial_effect(spline, coef, np.eye(len(coef)), values=ref["value"])
    np.testing.assert_allclose(ours["log_ratio"], ref["log_ratio"], rtol=1e-6)
    at_median = partial_effect(spline, coef, np.eye(len(coef)), values=[spline.median])
    assert at_median[["ratio", "ci_lower", "ci_upper"]].to_numpy().tolist() == [[1.0, 1.0, 1.0]]


def test_logistic_partial_effect_equals_r():
    fit = fit_logistic(DATA, ["age", "court_mandated"], splines={"age": 4})
    ref = R["logistic"]["effect"]
    known = DATA.loc[DATA["event"].isin([1, 2]) & DATA["age"].notna(), "age"].to_numpy()
    spline = NaturalSpline.from_data(known, 4)
    assert spline == fit.splines["age"]
    coef = np.log(fit.table["or"].to_numpy())[1:5]
    assert partial_effect(spline, coef, np.eye(4), values=ref["value"])["log_ratio"].tolist() == pytest.approx(
        ref["log_ratio"], rel=1e-6)


def test_a_spline_on_a_category_or_an_unchosen_column_is_refused():
    with pytest.raises(ValueError, match="not numeric"):
        fit_cox(DATA, ["referral"], splines={"referral": 3})
    with pytest.raises(ValueError, match="not one of the covariates"):
        fit_cox(DATA, ["court_mandated"], splines={"age": 3})
