"""Multiple imputation: Rubin's rules against R's mice::pool on the same completed data sets
(stored by tests/reference/make_imputation_data.py and make_imputation_reference.R; R is not
called here), and the imputation itself."""

import numpy as np
import pandas as pd
import pytest

from analytics.models.imputation import impute, nelson_aalen, pooled_fit, rubin
from analytics.models.regression import fit_logistic
from analytics.survival.cox import fit_cox
from tests.paths import REFERENCE

SETS = pd.read_csv(REFERENCE / "imputed_sets.csv")
COVS, LEVELS = ["age", "court_mandated", "referral"], {"referral": "self"}
R_TERMS = {"referral[family]": "referralfamily", "referral[gp]": "referralgp"}


def _pool(fit):
    pieces = [fit(part.drop(columns=".imp")).coefficients() for _, part in SETS.groupby(".imp")]
    return pieces[0][0], rubin([p[1] for p in pieces], [p[2] for p in pieces], pieces[0][3])


@pytest.mark.parametrize("model, fit", [
    ("cox", lambda d: fit_cox(d, COVS, LEVELS)),
    ("logistic", lambda d: fit_logistic(d, COVS, LEVELS)),
])
def test_rubins_rules_equal_mice_pool(model, fit):
    terms, pooled = _pool(fit)
    ref = pd.read_csv(REFERENCE / f"imputed_pool_{model}.csv").set_index("term").loc[
        [R_TERMS.get(t, t) for t in terms]]
    np.testing.assert_allclose(pooled["estimate"], ref["estimate"], rtol=1e-6)
    np.testing.assert_allclose(pooled["se"], ref["std.error"], rtol=1e-6)
    np.testing.assert_allclose(pooled["df"], ref["df"], rtol=1e-6)
    np.testing.assert_allclose(pooled["p"], ref["p.value"], rtol=1e-5)
    np.testing.assert_allclose(pooled["fmi"], ref["fmi"], rtol=1e-6)


def test_imputation_fills_only_missing_numbers_with_observed_values():
    data = SETS.loc[SETS[".imp"] == 1].drop(columns=".imp").reset_index(drop=True)
    data.loc[np.arange(len(data)) % 4 == 1, "age"] = np.nan
    sets, n_imputed, warnings = impute(data, COVS, imputations=3, seed=1)
    assert n_imputed == int(data["age"].isna().sum()) and len(sets) == 3 and not warnings
    for filled in sets:
        assert filled["age"].notna().all()
        pd.testing.assert_series_equal(filled.loc[data["age"].notna(), "age"], data["age"].dropna())
        assert set(filled["age"]) <= set(data["age"].dropna())  # predictive mean matching
    assert not sets[0]["age"].equals(sets[1]["age"])


def test_pooled_fit_reports_what_was_imputed_and_left_out():
    data = SETS.loc[SETS[".imp"] == 1].drop(columns=".imp").reset_index(drop=True)
    data.loc[np.arange(len(data)) % 4 == 1, "age"] = np.nan
    data.loc[:2, "referral"] = np.nan
    result = pooled_fit(data, COVS, lambda d: fit_cox(d, COVS, LEVELS), "Cox model", "hazard ratios", imputations=4)
    assert result.n_left_out == 3 and result.n_used == len(data) - 3
    assert any("referral is text and not imputed" in w for w in result.warnings)
    assert result.table["term"].tolist() == ["age", "court_mandated", "referral[family]", "referral[gp]"]
    assert "4 imputed data sets" in result.takeaway


def test_nelson_aalen_by_hand():
    # times 1, 2, 2, 3; dropouts at 1 and one at 2: H(1) = 1/4, H(2) = 1/4 + 1/3, H(3) = H(2)
    np.testing.assert_allclose(nelson_aalen(np.array([1.0, 2, 2, 3]), np.array([1.0, 1, 0, 0])),
                               [0.25, 0.25 + 1 / 3, 0.25 + 1 / 3, 0.25 + 1 / 3])
