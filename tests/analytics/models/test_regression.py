"""Logistic, GEE and random-intercept models against R (glm, geepack, lme4; tests/reference/reg_*),
hand-computed answers and simulated ground truth."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analytics.models.random_intercept import fit_random_intercept
from analytics.models.regression import auc, fit_gee, fit_logistic, variance_inflation
from tests.paths import REFERENCE

REF = REFERENCE
COVARIATES = ["age", "referral", "srs_mean", "trauma_history", "therapist_trainee", "therapist_orientation"]
LEVELS = {"referral": "self", "therapist_orientation": "CBT"}
Z = stats.norm.ppf(0.975)


@pytest.fixture(scope="module")
def data():
    return pd.read_csv(REF / "reg_data.csv")


@pytest.fixture(scope="module")
def glmer():
    return json.loads((REF / "reg_glmer.json").read_text())


def _log_or_and_se(table):
    coef = np.log(table["or"].to_numpy())
    return coef, (np.log(table["ci_upper"].to_numpy()) - coef) / Z


def _r_terms(terms):
    """R's names (referralcourt) for our terms (referral[court])."""
    return [t.replace("[", "").replace("]", "") for t in terms]


def _equals_r(result, reference: str, atol: float) -> pd.DataFrame:
    """Terms, log odds ratios and standard errors against R's stored output; R's table returned."""
    ref = pd.read_csv(REF / reference)
    assert _r_terms(result.table["term"]) == list(ref["term"])
    coef, se = _log_or_and_se(result.table)
    np.testing.assert_allclose(coef, ref["coef"], atol=atol)
    np.testing.assert_allclose(se, ref["se"], atol=atol)
    return ref


def test_logistic_equals_r_glm(data):
    result = fit_logistic(data, COVARIATES, LEVELS)
    ref = _equals_r(result, "reg_logistic.csv", 1e-6)
    np.testing.assert_allclose(result.table["p"], ref["p"], atol=1e-6)
    assert list(result.table.columns) == ["term", "or", "ci_lower", "ci_upper", "p"]
    assert (result.n_used, result.n_left_out, result.n_unknown_outcome, result.events) == (749, 49, 92, 271)
    assert result.events_per_parameter == pytest.approx(271 / 9)
    assert result.warnings == ["49 of 798 episodes were left out because a chosen covariate is missing for them."]


def test_auc_counts_ties_as_half():
    # dropouts at 0.9 and 0.4, completers at 0.1 and 0.4: pairs 1 + 1 + 1 + 0.5 of 4
    assert auc([1, 0, 1, 0], [0.9, 0.1, 0.4, 0.4]) == pytest.approx(3.5 / 4)


def test_auc_equals_r_wilcoxon(data):
    ref = json.loads((REF / "reg_logistic_auc.json").read_text())
    result = fit_logistic(data, COVARIATES, LEVELS)
    assert result.auc == pytest.approx(ref["auc"], abs=1e-9)


def test_calibration_deciles_add_up(data):
    result = fit_logistic(data, COVARIATES, LEVELS)
    cal = result.calibration
    assert list(cal.columns) == ["decile", "n", "predicted", "observed", "ci_lower", "ci_upper"]
    assert list(cal["decile"]) == list(range(1, 11))
    assert cal["n"].sum() == result.n_used
    # a logistic model with an intercept reproduces the overall number of dropouts exactly
    assert (cal["n"] * cal["predicted"]).sum() == pytest.approx(result.events, abs=1e-6)
    assert (cal["n"] * cal["observed"]).sum() == pytest.approx(result.events)
    assert cal["predicted"].is_monotonic_increasing
    assert ((cal["ci_lower"] <= cal["observed"]) & (cal["observed"] <= cal["ci_upper"])).all()


def test_vif_of_two_correlated_terms_is_one_over_one_minus_r2():
    rng = np.random.default_rng(1)
    a = rng.normal(size=500)
    X = pd.DataFrame({"a": a, "b": a + rng.normal(scale=0.3, size=500)})
    r = np.corrcoef(X["a"], X["b"])[0, 1]
    np.testing.assert_allclose(variance_inflation(X)["vif"], 1 / (1 - r**2))


def _simulated(n=400, seed=3):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "therapist_id": rng.choice([f"T{i}" for i in range(25)], n),
            "x": rng.normal(size=n),
            "group": rng.choice(["a", "b", "c"], n),
        }
    )
    frame["event"] = np.where(rng.random(n) < 1 / (1 + np.exp(-(-1 + frame["x"]))), 1, 2)
    return frame


def test_collinearity_is_reported_with_the_term():
    frame = _simulated()
    rng = np.random.default_rng(4)
    frame["x2"] = frame["x"] + rng.normal(scale=0.05, size=len(frame))
    result = fit_logistic(frame, ["x", "x2"])
    assert result.vif.set_index("term").loc["x2", "vif"] > 10
    assert any("x, x2 are strongly collinear" in w for w in result.warnings)


def test_separation_names_the_level_and_suggests_a_fix():
    frame = _simulated()
    frame.loc[frame["group"] == "c", "event"] = 1
    result = fit_logistic(frame, ["x", "group"], {"group": "a"})
    text = " ".join(result.warnings)
    assert "episodes with group[c] dropped out (separation)" in text
    assert "Merge rare levels" in text and "Firth" in text
    assert any("quasi-separation" in w and "group[c]" in w for w in result.warnings)


def test_few_events_per_parameter_warns():
    frame = _simulated(n=60)
    result = fit_logistic(frame, ["x", "group"])
    assert result.events_per_parameter == pytest.approx(min(result.events, 60 - result.events) / 3)
    assert result.events_per_parameter < 10
    assert any("outcomes per model term (fewer than 10" in w for w in result.warnings)


def test_no_dropouts_gives_an_empty_table_and_a_sentence():
    frame = _simulated().assign(event=2)
    result = fit_logistic(frame, ["x"])
    assert result.table.empty
    assert any("No episode in the rows used ended in dropout" in w for w in result.warnings)
    assert fit_gee(frame, ["x"]).table.empty
    assert fit_random_intercept(frame).icc.empty


def test_gee_equals_geepack_exchangeable(data):
    result = fit_gee(data, COVARIATES, LEVELS)
    ref = _equals_r(result, "reg_gee.csv", 1e-5)
    assert result.working_correlation == pytest.approx(ref["alpha"][0], abs=1e-5)
    assert result.converged and result.n_clusters == 40 and result.n_used == 749


def test_gee_independence_is_glm_with_cluster_sandwich(data):
    gee = fit_gee(data, COVARIATES, LEVELS, correlation="independence")
    glm = fit_logistic(data, COVARIATES, LEVELS)
    np.testing.assert_allclose(gee.table["or"], glm.table["or"], rtol=1e-8)
    # sandwich by hand: bread (X'WX)^-1, meat sum over therapists of (X_g' r_g)(X_g' r_g)'
    known = data[data["event"].isin([1, 2])].dropna(subset=["age"])
    X = np.column_stack(
        [np.ones(len(known)), known["age"], known["referral"] == "court", known["referral"] == "family",
         known["referral"] == "gp", known["srs_mean"], known["trauma_history"], known["therapist_trainee"],
         known["therapist_orientation"] == "integrative", known["therapist_orientation"] == "psychodynamic"]
    ).astype(float)
    y = (known["event"] == 1).to_numpy(float)
    p = 1 / (1 + np.exp(-X @ np.log(glm.table["or"].to_numpy())))
    bread = np.linalg.inv(X.T @ (X * (p * (1 - p))[:, None]))
    scores = pd.DataFrame(X * (y - p)[:, None]).groupby(known["therapist_id"].to_numpy()).sum().to_numpy()
    robust = np.sqrt(np.diag(bread @ scores.T @ scores @ bread))
    np.testing.assert_allclose(_log_or_and_se(gee.table)[1], robust, rtol=1e-6)
    ref = pd.read_csv(REF / "reg_gee_independence.csv")
    np.testing.assert_allclose(robust, ref["se"], rtol=1e-6)


def test_gee_few_clusters_warns():
    frame = _simulated()
    frame["therapist_id"] = frame["therapist_id"].str[:2]
    result = fit_gee(frame, ["x"])
    assert result.n_clusters < 20
    assert any("robust standard errors need many groups" in w for w in result.warnings)


@pytest.mark.parametrize("key, n_agq", [("null_laplace", 1), ("null_agq15", 15)])
def test_random_intercept_equals_glmer(data, glmer, key, n_agq):
    ref = glmer[key]
    complete = data.dropna(subset=["age"])  # R fitted the complete cases of the full model
    result = fit_random_intercept(complete, n_agq=n_agq)
    assert result.sd == pytest.approx(ref["sd"], abs=2e-4)
    assert result.log_likelihood == pytest.approx(ref["loglik"], abs=1e-4)
    icc = result.icc.iloc[0]
    assert icc["icc"] == pytest.approx(ref["icc"], abs=1e-4)
    assert icc["therapist_var"] == pytest.approx(ref["sd"] ** 2, abs=5e-4)
    lower, upper = np.array(ref["sd_ci"]) ** 2
    assert icc["ci_lower"] == pytest.approx(lower / (lower + np.pi**2 / 3), abs=1e-4)
    assert icc["ci_upper"] == pytest.approx(upper / (upper + np.pi**2 / 3), abs=1e-4)
    assert np.log(result.table["or"].iloc[0]) == pytest.approx(ref["fixef"]["(Intercept)"], abs=2e-4)
    effects = result.effects.set_index("therapist_id")
    np.testing.assert_allclose(effects["effect"], pd.Series(ref["ranef"])[effects.index], atol=5e-4)
    cond_sd = (effects["ci_upper"] - effects["effect"]) / Z
    np.testing.assert_allclose(cond_sd, pd.Series(ref["ranef_sd"])[effects.index], atol=5e-4)
    assert result.variance_p < 1e-6 and result.converged


def test_random_intercept_with_covariates_equals_glmer(data, glmer):
    ref = glmer["full_agq15"]
    result = fit_random_intercept(data, COVARIATES, reference_levels=LEVELS)
    assert result.n_used == glmer["n_used"]
    assert result.icc["icc"].iloc[0] == pytest.approx(ref["icc"], abs=0.02)
    assert result.sd == pytest.approx(ref["sd"], abs=2e-3)
    # R stopped slightly short of the maximum (its convergence warning); ours is at least as high
    assert result.log_likelihood >= ref["loglik"] - 1e-6
    assert _r_terms(result.table["term"]) == list(ref["fixef"])
    np.testing.assert_allclose(np.log(result.table["or"]), list(ref["fixef"].values()), atol=3e-3)


def _simulated_therapists(sd, n_therapists=150, per=40, seed=11):
    rng = np.random.default_rng(seed)
    therapist = np.repeat(np.arange(n_therapists), per)
    b = rng.normal(0, sd, n_therapists)[therapist]
    event = np.where(rng.random(len(therapist)) < 1 / (1 + np.exp(-(-1.3 + b))), 1, 2)
    return pd.DataFrame({"therapist_id": [f"T{t:03d}" for t in therapist], "event": event})


def test_true_therapist_sd_lies_in_the_interval():
    result = fit_random_intercept(_simulated_therapists(0.6))
    icc = result.icc.iloc[0]
    truth = 0.6**2 / (0.6**2 + np.pi**2 / 3)
    assert icc["ci_lower"] < truth < icc["ci_upper"]
    assert icc["icc"] == pytest.approx(truth, abs=0.03)


def test_boundary_variance_warns_and_interval_starts_at_zero():
    # every therapist has 2 dropouts in 10: less spread than chance, so the SD's estimate is 0
    frame = pd.DataFrame(
        {"therapist_id": np.repeat([f"T{i}" for i in range(20)], 10), "event": np.tile([1, 1] + [2] * 8, 20)}
    )
    result = fit_random_intercept(frame)
    icc = result.icc.iloc[0]
    assert icc["icc"] < 1e-6 and icc["ci_lower"] == 0
    assert result.variance_p == pytest.approx(1.0)
    assert any("estimated at zero" in w for w in result.warnings)
    np.testing.assert_allclose(result.effects["effect"], 0, atol=1e-4)


def test_episodes_without_therapist_are_left_out_and_counted(data):
    frame = data.copy()
    frame.loc[:9, "therapist_id"] = np.nan
    result = fit_random_intercept(frame)
    known_missing = int(frame.loc[:9, "event"].isin([1, 2]).sum())
    assert result.n_left_out == known_missing
    assert result.n_used == int(data["event"].isin([1, 2]).sum()) - known_missing


@pytest.mark.parametrize("key, n_agq", [("laplace", 1), ("agq15", 15)])
def test_sample_caseload_icc_equals_glmer(key, n_agq):
    from analytics.episodes import EpisodeSettings, derive_episodes
    from analytics.ingest.load import load_sample

    stored = pd.read_csv(REF / "reg_sample_episodes.csv")
    episodes = derive_episodes(load_sample().caseload, EpisodeSettings())
    # if this fails the sample data changed: rerun reg_reference.R on a fresh reg_sample_episodes.csv
    pd.testing.assert_frame_equal(episodes[["client_id", "therapist_id", "event"]].reset_index(drop=True), stored)
    ref = json.loads((REF / "reg_sample_glmer.json").read_text())[key]
    result = fit_random_intercept(episodes, n_agq=n_agq)
    assert result.n_used == ref["n"]
    assert result.icc["icc"].iloc[0] == pytest.approx(ref["icc"], abs=0.02)
    assert result.sd == pytest.approx(ref["sd"], abs=5e-4)
    lower, upper = np.array(ref["sd_ci"]) ** 2
    assert result.icc["ci_lower"].iloc[0] == pytest.approx(lower / (lower + np.pi**2 / 3), abs=1e-3)
    assert result.icc["ci_upper"].iloc[0] == pytest.approx(upper / (upper + np.pi**2 / 3), abs=1e-3)


def test_synthetic_truth_recovered_from_the_dropout_process():
    """On a generated caseload the session-by-session dropout model is exactly a random-intercept
    logistic model with the synth's true effects and therapist SD: both must lie in our intervals."""
    from analytics.synth import generate_caseload, hazard_terms

    synthetic = generate_caseload(n_clients=3000, n_therapists=50, seed=7)
    periods = synthetic.person_period
    terms = hazard_terms(periods)
    frame = terms.assign(
        therapist_id=periods["therapist_id"].to_numpy(), event=np.where(periods["dropout"].to_numpy() == 1, 1, 2)
    )
    result = fit_random_intercept(frame, list(terms.columns))
    truth = synthetic.truth
    sd_true = truth["therapist_sd"]
    icc = result.icc.iloc[0]
    assert icc["ci_lower"] < sd_true**2 / (sd_true**2 + np.pi**2 / 3) < icc["ci_upper"]
    table = result.table.set_index("term")
    true_values = pd.Series({"(Intercept)": truth["intercept"], **{t: truth[t] for t in terms.columns}})
    inside = (np.log(table["ci_lower"]) < true_values) & (true_values < np.log(table["ci_upper"]))
    assert inside.mean() >= 0.8  # 95% intervals: about 14 of 15 expected
    assert np.log(table.loc["srs", "or"]) == pytest.approx(truth["srs"], abs=0.05)


def test_comparison_forest_shows_odds_and_hazard_ratios_from_their_tables(data):
    from analytics.charts.regression import comparison_forest_figure
    from analytics.models.regression import comparison_table

    logistic = fit_logistic(data, COVARIATES, LEVELS)
    cox_like = pd.DataFrame({"term": ["age", "referral[court]"], "coef": [0.01, 0.5], "hr": [1.01, 1.65],
                             "se": [0.01, 0.2], "robust_se": [0.01, 0.2], "hr_ci_lower": [0.99, 1.1],
                             "hr_ci_upper": [1.03, 2.4], "p": [0.3, 0.01]})
    table = comparison_table({"Logistic": logistic.table, "Cox": cox_like})
    assert "(Intercept)" not in set(table["term"])
    assert list(table.loc[table["model"] == "Cox", "measure"].unique()) == ["hazard ratio"]
    fig = comparison_forest_figure({"Logistic": logistic.table, "Cox": cox_like})
    traces = {t.name: t for t in fig.data}
    np.testing.assert_allclose(traces["Logistic (odds ratio)"].x, logistic.table["or"].iloc[1:])
    np.testing.assert_allclose(traces["Cox (hazard ratio)"].x, [1.01, 1.65])
    # each model's marker for a term sits on that term's row
    ticks = dict(zip(fig.layout.yaxis.ticktext, fig.layout.yaxis.tickvals))
    cox_rows = np.round(traces["Cox (hazard ratio)"].y).astype(int)
    assert [ticks["age"], ticks["referral[court]"]] == list(cox_rows)


def test_plain_language_summary_names_levels_markers_and_slopes(data):
    from analytics.models.regression import odds_ratio_sentences

    sentences = odds_ratio_sentences(fit_logistic(data, COVARIATES, LEVELS))
    assert any(s.startswith("Referral “court” (compared with “self”) was associated with 3.26 times the odds") for s in sentences)
    assert any(s.startswith("Trauma history (yes vs no) was associated with 1.52 times") for s in sentences)
    assert any(s.startswith("Each one-unit increase in srs mean was associated with 9% lower odds") for s in sentences)
    assert not any("age" in s for s in sentences)  # p = 0.10


def test_calibration_figure_plots_the_table(data):
    from analytics.charts.regression import calibration_figure

    cal = fit_logistic(data, COVARIATES, LEVELS).calibration
    trace = [t for t in calibration_figure(cal).data if t.name == "tenths of predicted risk"][0]
    np.testing.assert_allclose(trace.x, cal["predicted"])
    np.testing.assert_allclose(trace.y, cal["observed"])


def test_caterpillar_in_label_order_never_by_effect(data):
    from analytics.charts.regression import caterpillar_figure
    from analytics.caseload import anonymous_labels

    effects = fit_random_intercept(data.dropna(subset=["age"])).effects
    labels = anonymous_labels(effects["therapist_id"])
    fig = caterpillar_figure(effects, labels)
    ordered = effects.assign(label=effects["therapist_id"].map(labels)).sort_values(
        "label", key=lambda s: s.str.len() * 1000 + s.rank(method="first"))
    assert list(fig.data[0].y) == ordered["label"].tolist()
    assert list(fig.data[0].y) != [labels[i] for i in effects.sort_values("effect")["therapist_id"]]
    np.testing.assert_allclose(fig.data[0].x, np.exp(ordered["effect"]))


def test_caterpillar_of_a_network_is_a_band_named_on_hover():
    from analytics.caseload import anonymous_labels
    from analytics.charts.regression import LABELLED_ROWS, caterpillar_figure

    n = 1000  # therapists in a research network (the 100,000-client benchmark caseload)
    effect = np.linspace(-1, 1, n)
    effects = pd.DataFrame({"therapist_id": [f"T{i}" for i in range(n)], "effect": effect,
                            "ci_lower": effect - 0.5, "ci_upper": effect + 0.5})
    effects.loc[::10, ["effect", "ci_lower", "ci_upper"]] = np.nan  # one in ten hidden by the privacy rule
    labels = anonymous_labels(effects["therapist_id"])
    fig = caterpillar_figure(effects, labels)
    shown, hidden = fig.data
    assert len(shown.y) == 900 and len(hidden.y) == 100 and set(shown.y) | set(hidden.y) == set(labels.values())
    assert hidden.mode == "markers" and hidden.hovertext[0] == f"{hidden.y[0]}: counts hidden"
    assert fig.layout.yaxis.showticklabels is False and fig.layout.height == 1000
    small = caterpillar_figure(effects.head(LABELLED_ROWS), labels)
    assert small.layout.yaxis.showticklabels is None and list(small.layout.yaxis.tickvals) == list(small.layout.yaxis.categoryarray)
    assert small.data[1].mode == "text" and small.layout.height == 80 + 22 * LABELLED_ROWS


def test_many_separated_levels_give_one_sentence():
    frame = _simulated(n=300)
    frame["code"] = [f"k{i}" for i in range(300)]  # one episode per level: every level separates
    frame.loc[:9, "code"] = "common"
    result = fit_logistic(frame.iloc[:40], ["code"], {"code": "common"})
    separated = [w for w in result.warnings if "(separation)" in w]
    assert len(separated) == 1 and separated[0].startswith("30 terms (code[k10], code[k11], code[k12]")


def test_gee_with_one_therapist_says_why():
    frame = _simulated().assign(therapist_id="T1")
    result = fit_gee(frame, ["x"])
    assert result.table.empty
    assert any("GEE needs clients of at least two groups" in w for w in result.warnings)


def test_single_level_categorical_is_named():
    frame = _simulated().assign(site="Main")
    result = fit_logistic(frame, ["x", "site"])
    assert any(w.startswith("site has the same value") and "left out of the model" in w for w in result.warnings)
    assert result.table["term"].tolist() == ["(Intercept)", "x"]


def test_out_of_time_stops_with_a_sentence(data):
    result = fit_random_intercept(data.dropna(subset=["age"]), max_seconds=0.0)
    assert result.table.empty and any("took longer than 0 seconds" in w for w in result.warnings)


def test_profile_out_of_time_falls_back_to_wald_on_log_sd(data, monkeypatch):
    import analytics.models.random_intercept as mixed

    def out_of_time(*args, **kwargs):
        raise mixed._OutOfTime

    monkeypatch.setattr(mixed, "_profile", out_of_time)
    result = fit_random_intercept(data.dropna(subset=["age"]))
    icc = result.icc.iloc[0]
    assert icc["method"] == "Wald interval on log SD, transformed"
    sd_lower, sd_upper = (np.sqrt(v * np.pi**2 / 3 / (1 - v)) for v in (icc["ci_lower"], icc["ci_upper"]))
    assert np.sqrt(sd_lower * sd_upper) == pytest.approx(result.sd, rel=1e-9)  # symmetric on the log scale
    assert any("Wald interval on the log SD is shown instead" in w for w in result.warnings)
