"""The Cox fit from engine sums (DuckDB, Spark in local mode) against R's coxph (the numbers in
tests/reference/cox_reference.json, made by make_cox_reference.R) and against the in-memory fit
to 1e-9 relative, with the same warnings, on R's data and on a synthetic caseload."""

import json

import numpy as np
import pandas as pd
import pytest

from analytics.engines import open_engine
from analytics.engines.cox import fit_cox as engine_cox
from analytics.episodes import EpisodeSettings, derive_episodes
from analytics.survival import fit_cox
from analytics.synth import generate_caseload
from tests.paths import REFERENCE

R = json.loads((REFERENCE / "cox_reference.json").read_text())
COVS = ["age", "court_mandated", "referral"]
LEVELS = {"referral": "self"}
R_TERMS = {"referral[family]": "referralfamily", "referral[gp]": "referralgp"}
CASES = {
    "tied_cluster": ("cox_tied.csv", COVS, dict(reference_levels=LEVELS)),
    "tied_strata": ("cox_tied.csv", COVS, dict(reference_levels=LEVELS, strata="site")),
    "untied_cluster": ("cox_untied.csv", COVS, dict(reference_levels=LEVELS)),
    "tied_nocluster": ("cox_tied.csv", ["age", "court_mandated"], dict(cluster=None)),
}
# the pipeline benchmark's eight covariates: markers, categories and numbers
SYNTH_COVS = ["srs_first", "referral", "env_comfort", "env_privacy", "goals_agreed",
              "expectations_explained", "prior_negative_therapy", "therapist_trainee"]
NUMBERS = ["coef", "hr", "se", "robust_se", "hr_ci_lower", "hr_ci_upper", "p"]


@pytest.fixture(scope="module")
def engines(request):
    """One DuckDB engine and, when first asked for, one on the shared Spark session (conftest.py)."""
    opened = {}

    def engine(name):
        if name not in opened:
            spark = {"session": request.getfixturevalue("spark_session")} if name == "spark" else {}
            opened[name] = open_engine(name, **spark)
        return opened[name]

    yield engine
    for engine in opened.values():
        engine.close()


@pytest.fixture(params=["duckdb", "spark"])
def engine(request, engines):
    return engines(request.param)


def _same_fit(mine, theirs):
    assert list(mine.table["term"]) == list(theirs.table["term"])
    np.testing.assert_allclose(mine.table[NUMBERS].to_numpy(float), theirs.table[NUMBERS].to_numpy(float), rtol=1e-9)
    np.testing.assert_allclose([mine.loglik_null, mine.loglik], [theirs.loglik_null, theirs.loglik], rtol=1e-12)
    assert (mine.n_used, mine.n_left_out, mine.events, mine.n_clusters, mine.iterations, mine.converged) == \
        (theirs.n_used, theirs.n_left_out, theirs.events, theirs.n_clusters, theirs.iterations, theirs.converged)
    assert mine.warnings == theirs.warnings
    assert mine.reference == theirs.reference
    assert mine.takeaway == theirs.takeaway


# Spark starts slowly: one case (clustered and stratified) covers its SQL; DuckDB runs them all.
@pytest.mark.parametrize("name, case", [("duckdb", case) for case in CASES] + [("spark", "tied_strata")])
def test_engine_fit_equals_r_and_the_in_memory_fit(engines, name, case):
    engine = engines(name)
    file, covariates, options = CASES[case]
    data = pd.read_csv(REFERENCE / file)
    engine.register(f"cox_{case}", data)
    fit = engine_cox(engine, f"cox_{case}", covariates, **options)
    terms = [R_TERMS.get(t, t) for t in fit.table["term"]]
    np.testing.assert_allclose(fit.table["coef"], [R[case]["coef"][t] for t in terms], rtol=1e-6)
    np.testing.assert_allclose(fit.table["se"], [R[case]["se"][t] for t in terms], rtol=1e-6)
    if R[case]["robust_se"] is None:
        assert fit.table["robust_se"].isna().all()
    else:
        np.testing.assert_allclose(fit.table["robust_se"], [R[case]["robust_se"][t] for t in terms], rtol=1e-6)
    np.testing.assert_allclose([fit.loglik_null, fit.loglik], R[case]["loglik"], rtol=1e-9)
    assert (fit.n_used, fit.events) == (R[case]["n"], R[case]["nevent"])
    _same_fit(fit, fit_cox(data, covariates, **options))


@pytest.fixture(scope="module")
def synthetic_episodes():
    caseload = generate_caseload(n_clients=2000, n_therapists=40, n_sites=3, seed=11).caseload()
    episodes = derive_episodes(caseload, EpisodeSettings("therapist_judged"))
    return episodes[["duration", "event", "therapist_id", "site"] + SYNTH_COVS]


def test_eight_covariates_on_a_synthetic_caseload(engine, synthetic_episodes, tmp_path):
    """Read from Parquet, where a 0/1 marker with gaps is a nullable double: still a number term."""
    data = synthetic_episodes.copy()
    data.loc[data.index[:30], "goals_agreed"] = np.nan
    data.to_parquet(tmp_path / "episodes.parquet", index=False)
    engine.register("cox_synthetic", str(tmp_path / "episodes.parquet"))
    fit = engine_cox(engine, "cox_synthetic", SYNTH_COVS)
    assert "goals_agreed" in list(fit.table["term"]) and fit.events > 100
    _same_fit(fit, fit_cox(data, SYNTH_COVS))


def test_left_out_rows_and_model_trouble_give_the_in_memory_warnings(synthetic_episodes):
    """Missing covariates, negative or text durations, a covariate constant within strata and a
    level with few dropouts: the same rows left out and the same sentences."""
    data = synthetic_episodes.copy().astype({"duration": object})
    data.loc[data.index[:5], "duration"] = -1.0
    data.loc[data.index[5:8], "duration"] = "soon"
    data.loc[data.index[8:20], "srs_first"] = np.nan
    data["site_marker"] = (data["site"] == data["site"].iloc[0]).astype(int)
    duck = open_engine("duckdb")
    duck.register("trouble", data)
    covariates = ["srs_first", "referral", "site_marker"]
    fit = engine_cox(duck, "trouble", covariates, strata="site")
    _same_fit(fit, fit_cox(data, covariates, strata="site"))
    assert fit.warnings[0] == "8 episodes have a negative or non-numeric duration and were left out."
    assert any("site_marker cannot be estimated" in w for w in fit.warnings)


def test_no_dropouts_and_unknown_columns(engine):
    data = pd.read_csv(REFERENCE / "cox_tied.csv").assign(event=2)
    engine.register("cox_none", data)
    fit = engine_cox(engine, "cox_none", COVS, LEVELS)
    assert fit.warnings == fit_cox(data, COVS, LEVELS).warnings
    assert fit.table["coef"].isna().all()
    with pytest.raises(ValueError, match="not in the episodes table: alliance"):
        engine_cox(engine, "cox_none", ["alliance"])


def test_splines_and_delayed_entry_are_refused_not_ignored(engines):
    duck = engines("duckdb")
    duck.register("cox_features", pd.read_csv(REFERENCE / "cox_tied.csv"))
    with pytest.raises(ValueError, match=r"no delayed entry \(entry\) or natural splines \(splines\); fit it in memory"):
        engine_cox(duck, "cox_features", COVS, LEVELS, splines={"age": 3}, entry="age")
    with pytest.raises(ValueError, match=r"Cox model inside an engine has no delayed entry \(entry\)"):
        engine_cox(duck, "cox_features", COVS, LEVELS, entry="age")


def test_strata_of_several_columns_stay_apart(engines):
    """("p, q", "r") and ("p", "q, r") are two strata inside the engine too (R's coxph on them is
    in tests/reference/entry_cox.json)."""
    duck = engines("duckdb")
    data = pd.read_csv(REFERENCE / "entry_cox.csv")
    duck.register("cox_two_strata", data)
    fit = engine_cox(duck, "cox_two_strata", ["age", "referral"], LEVELS, strata=["s1", "s2"], cluster=None)
    _same_fit(fit, fit_cox(data, ["age", "referral"], LEVELS, strata=["s1", "s2"], cluster=None))
