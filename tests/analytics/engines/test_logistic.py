"""Logistic regression by IRLS aggregations (DuckDB, Spark in local mode) against R's glm (the
numbers in tests/reference/reg_logistic.csv and reg_logistic_auc.json, made by reg_reference.R)
and against the in-memory statsmodels fit: the table to 1e-9 relative, AUC, calibration groups,
VIFs and warnings."""

import json

import numpy as np
import pandas as pd
import pytest

from analytics.engines import open_engine
from analytics.engines.logistic import fit_logistic as engine_logistic
from analytics.models.regression import fit_logistic
from tests.paths import REFERENCE

COVARIATES = ["age", "referral", "srs_mean", "trauma_history", "therapist_trainee", "therapist_orientation"]
LEVELS = {"referral": "self", "therapist_orientation": "CBT"}
NUMBERS = ["or", "ci_lower", "ci_upper", "p"]


@pytest.fixture(scope="module")
def data():
    return pd.read_csv(REFERENCE / "reg_data.csv")


@pytest.fixture(scope="module", params=["duckdb", "spark"])
def engine(request, data):
    spark = {"session": request.getfixturevalue("spark_session")} if request.param == "spark" else {}
    engine = open_engine(request.param, **spark)
    engine.register("episodes", data)
    yield engine
    engine.close()


def _same_fit(mine, theirs, atol=0.0):
    assert list(mine.table["term"]) == list(theirs.table["term"])
    np.testing.assert_allclose(mine.table[NUMBERS].to_numpy(float), theirs.table[NUMBERS].to_numpy(float), rtol=1e-9,
                               atol=atol)
    assert mine.auc == pytest.approx(theirs.auc, rel=1e-12)
    pd.testing.assert_frame_equal(mine.calibration, theirs.calibration, rtol=1e-9, check_dtype=False)
    pd.testing.assert_frame_equal(mine.vif, theirs.vif, rtol=1e-9)
    for field in ("n_used", "n_left_out", "n_unknown_outcome", "events", "events_per_parameter", "warnings",
                  "reference", "markers", "takeaway"):
        assert getattr(mine, field) == getattr(theirs, field), field


def test_engine_logistic_equals_r_glm_and_the_in_memory_fit(engine, data):
    fit = engine_logistic(engine, "episodes", COVARIATES, LEVELS)
    ref = pd.read_csv(REFERENCE / "reg_logistic.csv")
    assert [t.replace("[", "").replace("]", "") for t in fit.table["term"]] == list(ref["term"])
    coef = np.log(fit.table["or"].to_numpy())
    np.testing.assert_allclose(coef, ref["coef"], atol=1e-6)
    np.testing.assert_allclose((np.log(fit.table["ci_upper"].to_numpy()) - coef) / 1.959963984540054, ref["se"], atol=1e-6)
    assert fit.auc == pytest.approx(json.loads((REFERENCE / "reg_logistic_auc.json").read_text())["auc"], abs=1e-9)
    assert (fit.n_used, fit.n_left_out, fit.n_unknown_outcome, fit.events) == (749, 49, 92, 271)
    _same_fit(fit, fit_logistic(data, COVARIATES, LEVELS))


def test_separation_and_few_events_give_the_in_memory_warnings(data):
    """A level whose episodes all completed and a marker that predicts perfectly: same sentences."""
    known = data.loc[data["event"].isin((1, 2))].head(120).copy()
    known["all_done"] = (known["event"] == 2).astype(int) * (known.index % 7 == 0)
    duck = open_engine("duckdb")
    duck.register("small", known)
    covariates = ["age", "referral", "all_done"]
    fit = engine_logistic(duck, "small", covariates)
    theirs = fit_logistic(known, covariates)
    assert any("separation" in w for w in theirs.warnings)
    _same_fit(fit, theirs, atol=1e-9)  # the separated odds ratio runs off towards 0: its last digits are noise


def test_nothing_to_compare_is_a_warning(engine, data):
    fit = engine_logistic(engine, engine.view("SELECT * FROM episodes WHERE event = 2"), ["age"])
    assert fit.table.empty
    assert fit.warnings[-1] == fit_logistic(data.loc[data["event"] == 2], ["age"]).warnings[-1]


def test_splines_are_refused_not_ignored(data):
    duck = open_engine("duckdb")
    duck.register("episodes", data)
    with pytest.raises(ValueError, match=r"logistic model inside an engine has no natural splines \(splines\)"):
        engine_logistic(duck, "episodes", COVARIATES, LEVELS, splines={"age": 3})
    duck.close()
