"""Fine-Gray regression against cmprsk::crr and survival::finegray + coxph(cluster = ) (stored output
of tests/reference/make_competing_reference.R; R is not called here)."""

import numpy as np
import pandas as pd
import pytest

from analytics.survival.fine_gray import TABLE_COLUMNS, censoring_before, fit_fine_gray
from tests.paths import REFERENCE

CASES = {"synthetic": (["x", "m", "g"], {"g": "a"}), "mgus2": (["age", "sex", "hgb"], {"sex": "F"})}
R_TERMS = {"g[b]": "gb", "g[c]": "gc", "sex[M]": "sexM"}


def _fit(name, cluster=None):
    covariates, levels = CASES[name]
    return fit_fine_gray(pd.read_csv(REFERENCE / f"finegray_{name}.csv"), covariates, levels, cluster=cluster)


def _reference(name, kind):
    ref = pd.read_csv(REFERENCE / f"finegray_{name}_{kind}.csv")
    return ref.set_index("term")


@pytest.mark.parametrize("name", CASES)
def test_coefficients_and_standard_errors_equal_crr(name):
    result = _fit(name)
    ref = _reference(name, "crr").loc[[R_TERMS.get(t, t) for t in result.table["term"]]]
    assert list(result.table.columns) == TABLE_COLUMNS
    np.testing.assert_allclose(result.table["coef"], ref["coef"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(result.table["se"], ref["se"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(result.table["shr"], np.exp(ref["coef"]), rtol=1e-5)
    assert result.converged and not result.warnings


@pytest.mark.parametrize("name", CASES)
def test_clustered_standard_errors_are_near_finegray_coxph_cluster(name):
    # coxph's robust variance on finegray's expanded data leaves out the term for estimating the
    # censoring curve, so the two agree in size, not to the last digit.
    result = _fit(name, cluster="therapist_id")
    ref = _reference(name, "coxph_cluster").loc[[R_TERMS.get(t, t) for t in result.table["term"]]]
    np.testing.assert_allclose(result.table["se"], ref["robust_se"], rtol=0.01)
    assert result.n_clusters == pd.read_csv(REFERENCE / f"finegray_{name}.csv")["therapist_id"].nunique()


def test_one_client_per_cluster_gives_the_unclustered_variance():
    data = pd.read_csv(REFERENCE / "finegray_synthetic.csv").assign(own=lambda d: np.arange(len(d)))
    plain = fit_fine_gray(data, ["x", "m"])
    own = fit_fine_gray(data, ["x", "m"], cluster="own")
    np.testing.assert_allclose(own.table["se"], plain.table["se"], rtol=1e-12)


def test_censoring_curve_is_read_just_before_each_time():
    time = np.array([1.0, 2.0, 2.0, 3.0, 4.0])
    censored = np.array([False, True, False, True, False])
    # censoring KM: 1 until 2, then 1 - 1/4 = 0.75, then 0.75 * (1 - 1/2) = 0.375 after 3
    np.testing.assert_allclose(censoring_before(time, censored), [1, 1, 1, 0.75, 0.375])


def test_no_dropouts_is_a_warning_not_an_error():
    data = pd.read_csv(REFERENCE / "finegray_synthetic.csv").assign(event=lambda d: d["event"].replace(1, 0))
    result = fit_fine_gray(data, ["x"])
    assert result.table["coef"].isna().all() and result.warnings
