"""The Drivers page shows the analytics' own numbers: the comparison table, the summary sentences,
the AUC and the warnings."""

import json

import pytest

from analytics.episodes import EpisodeSettings, derive_episodes
from analytics.models.regression import (
    comparison_table,
    fit_gee,
    fit_logistic,
    odds_ratio_sentences,
)
from analytics.survival.cox import fit_cox
from analytics.synth import generate_caseload
from tests.harness import chart_array, open_page
from tests.harness import frame as _table
from ui import state

PRACTICE = generate_caseload(n_clients=800, n_therapists=15, seed=5).caseload()
EPISODES = derive_episodes(PRACTICE, EpisodeSettings())
COVARIATES = ["referral", "srs_first", "goals_agreed"]
LEVELS = {"referral": "self"}


def _app(models=None, covariates=COVARIATES):
    chosen = {"drivers_models": models} if models else {}
    return open_page("pages/drivers.py", PRACTICE, suppress_below=0, **{state.COVARIATES: covariates,
                                                                   state.REFERENCE_LEVELS: LEVELS}, **chosen)


def _markdown(at):
    return " ".join(m.value for m in at.markdown)


def test_forest_table_compares_gee_and_cox_by_default():
    at = _app()
    gee = fit_gee(EPISODES, COVARIATES, LEVELS)
    cox = fit_cox(EPISODES, COVARIATES, LEVELS)
    expected = comparison_table({"GEE (clients grouped by therapist)": gee.table, "Cox model": cox.table})
    shown = _table(at, "estimate")
    assert shown["model"].tolist() == expected["model"].tolist()
    assert shown["term"].tolist() == expected["term"].tolist()
    assert shown["estimate"].tolist() == pytest.approx(expected["estimate"].tolist(), rel=1e-9)
    assert set(shown["measure"]) == {"odds ratio", "hazard ratio"}
    for sentence in odds_ratio_sentences(gee):
        assert sentence in _markdown(at)
    assert any("associations in observational data" in i.value for i in at.info)
    assert (f"{gee.n_used:,} clients with a known outcome, {gee.events:,} dropouts ({gee.n_unknown_outcome:,} still "
            "in therapy") in " ".join(c.value for c in at.caption)


def test_logistic_shows_auc_and_calibration():
    at = _app(models=["Logistic regression"])
    fit = fit_logistic(EPISODES, COVARIATES, LEVELS)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["AUC"] == f"{fit.auc:.2f}"
    assert metrics["Outcomes per model term"] == f"{fit.events_per_parameter:.1f}"
    vif = _table(at, "vif")
    assert vif["vif"].tolist() == pytest.approx(fit.vif["vif"].tolist())
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    calibration = next(t for c in charts for t in c["data"] if t.get("name") == "tenths of predicted risk")
    assert list(chart_array(calibration["y"])) == pytest.approx(fit.calibration["observed"].tolist())
    shown = _table(at, "estimate")
    assert set(shown["model"]) == {"Logistic regression"}


def test_model_trouble_is_a_warning_not_a_traceback():
    many = ["diagnosis", "modality", "religion", "ethnicity", "age_band"]  # 25 terms: few outcomes per term
    at = _app(models=["Logistic regression"], covariates=many)
    fit = fit_logistic(EPISODES, many, {})
    assert fit.warnings
    shown = [w.value for w in at.warning]
    for warning in fit.warnings:
        assert f"Logistic regression: {warning}" in shown


def test_table_one_by_a_chosen_group_is_the_librarys():
    from analytics.models.table_one import table_one

    at = _app()
    at.selectbox(key=state.TABLE_ONE_GROUP).set_value("site").run()
    assert not at.exception, at.exception
    expected = table_one(EPISODES, COVARIATES, "site")
    shown = _table(at, "characteristic")
    assert shown.astype(str).values.tolist() == expected.display.astype(str).values.tolist()
    assert expected.takeaway in " ".join(m.value for m in at.markdown)
    assert at.session_state[state.TABLE_ONE_GROUP] == "site"


def test_a_spline_from_the_recipe_bends_the_logistic_model_and_leaves_the_forest():
    at = open_page("pages/drivers.py", PRACTICE, suppress_below=0, **{
        state.COVARIATES: COVARIATES, state.REFERENCE_LEVELS: LEVELS, state.SPLINES: {"srs_first": 3},
        "drivers_models": ["Logistic regression", "Cox model"]})
    assert not at.exception, at.exception
    fit = fit_logistic(EPISODES, COVARIATES, LEVELS, splines={"srs_first": 3})
    assert f"({fit.splines['srs_first'].median:g})" in " ".join(m.value for m in at.markdown)
    shown = _table(at, "model")
    assert not shown["term"].str.contains("ns").any() and "referral[court-mandated]" in set(shown["term"])
