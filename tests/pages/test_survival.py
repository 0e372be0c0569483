"""The Survival page shows the analytics' own numbers, for several groupings.

The first caseload is the R reference dataset as a researcher's episode table (duration and event
given), so the medians and log-rank values on the page are also R's; the second is the synthetic
practice caseload derived from appointments."""

import json

import pandas as pd
import pytest

from analytics.caseload import Caseload
from analytics.episodes import EpisodeSettings, derive_episodes
from analytics.survival.cox import fit_cox
from analytics.survival.cox_results import hazard_ratio_sentences
from analytics.survival.fine_gray import fit_fine_gray
from analytics.survival.rmst import restricted_mean
from analytics.survival.curves import (
    cumulative_incidence,
    kaplan_meier,
    logrank,
    overstatement_summary,
)
from analytics.synth import generate_caseload
from tests.harness import frame as _table
from tests.harness import open_page, text
from tests.paths import REFERENCE
from ui import state

R_CURVES = pd.read_csv(REFERENCE / "survival_synthetic.csv")
RESEARCH = Caseload(clients=R_CURVES.assign(client_id=[f"c{i}" for i in range(len(R_CURVES))]))
PRACTICE = generate_caseload(n_clients=600, n_therapists=12, seed=3).caseload()


def _app(caseload, group=None):
    return open_page("pages/survival.py", caseload, suppress_below=0, timeout=60, **({state.KM_GROUP: group} if group else {}))


def _markdown(at) -> str:
    return " ".join(m.value for m in at.markdown)


def test_overall_median_is_shown():
    at = _app(RESEARCH)
    r_medians = pd.read_csv(REFERENCE / "survival_synthetic_medians_all.csv")
    median = r_medians["median"].iloc[0]
    assert f"Half of all clients had dropped out by session {median:g}" in _markdown(at)
    assert _table(at, "median")["median"].iloc[0] == median
    assert not any("log-rank" in m.value for m in at.markdown)
    episodes = derive_episodes(RESEARCH)
    row = overstatement_summary(cumulative_incidence(episodes), kaplan_meier(episodes)).iloc[0]
    assert f"by session {row['time']:g}, {row['one_minus_km']:.0%} instead of {row['cif_dropout']:.0%}" in _markdown(at)


def test_grouped_medians_and_logrank_are_rs():
    at = _app(RESEARCH, "g")
    r_medians = pd.read_csv(REFERENCE / "survival_synthetic_medians_by_g.csv")
    r_logrank = pd.read_csv(REFERENCE / "survival_synthetic_logrank.csv")
    shown = _table(at, "median")
    assert shown["group"].tolist() == ["A", "B", "C", "D"]
    assert shown["median"].tolist() == r_medians["median"].tolist()
    assert "Half of the clients with g B had dropped out by session 4 (95% CI 4 to 5)." in _markdown(at)
    shown = _table(at, "comparison")
    assert shown["statistic"].tolist() == pytest.approx(r_logrank["statistic"].tolist(), rel=1e-6)
    assert f"chi-square {r_logrank['statistic'].iloc[0]:.2f} on 3 df" in _markdown(at)


@pytest.mark.parametrize("group", ["referral", "court_mandated"])
def test_practice_caseload_by_group(group):
    at = _app(PRACTICE, group)
    episodes = derive_episodes(PRACTICE, EpisodeSettings())
    expected = logrank(episodes, group).table
    shown = _table(at, "comparison")
    assert shown["statistic"].iloc[0] == pytest.approx(expected["statistic"].iloc[0], rel=1e-12)
    assert shown["p_adjusted"].tolist() == pytest.approx(expected["p_adjusted"].tolist(), rel=1e-12)
    assert _table(at, "median")["events"].tolist() == kaplan_meier(episodes, group).medians["events"].tolist()


def test_changing_the_grouping_redraws():
    at = _app(PRACTICE)
    at.selectbox(key="survival_group").set_value("court_mandated").run()
    assert not at.exception
    assert _table(at, "median")["group"].tolist() == ["no", "yes"]
    assert "Fewer than half of the clients with court mandated yes dropped out" in _markdown(at)
    legends = [json.loads(c.proto.spec)["layout"]["legend"].get("title", {}).get("text") for c in at.get("plotly_chart")]
    assert legends[:3] == ["Court-mandated referral"] * 3  # Kaplan-Meier, cumulative incidence, overstatement
    at.selectbox(key="survival_group").set_value("(none)").run()
    assert _table(at, "median")["group"].tolist() == ["all"]
    assert at.session_state[state.KM_GROUP] is None


def test_cox_section_shows_the_fit():
    at = _app(PRACTICE)
    episodes = derive_episodes(PRACTICE, EpisodeSettings())
    fit = fit_cox(episodes, ["court_mandated", "srs_first", "prior_negative_therapy"])
    shown = _table(at, "hr")
    assert shown["term"].tolist() == fit.table["term"].tolist()
    assert shown["hr"].tolist() == pytest.approx(fit.table["hr"].tolist(), rel=1e-9)
    assert hazard_ratio_sentences(fit)[0] in _markdown(at)
    ph = _table(at, "statistic")
    assert ph["term"].tolist()[-1] == "GLOBAL"


def test_a_proportional_hazards_test_that_cannot_be_computed_is_said_not_raised():
    small = generate_caseload(n_clients=60, n_therapists=4, seed=7).caseload()
    at = open_page("pages/survival.py", small, dropout_definition="early")  # both dropouts at session 1
    assert "The proportional-hazards test could not be computed for" in text(at)


def test_cox_with_a_categorical_reference_strata_and_no_cluster():
    at = _app(PRACTICE)
    at.multiselect(key=state.COVARIATES).set_value(["referral", "srs_first"]).run()
    at.selectbox(key="reference_referral").set_value("court-mandated").run()
    at.selectbox(key="cox_cluster").set_value("(none)").run()
    at.selectbox(key="cox_strata").set_value("site").run()
    assert not at.exception, at.exception
    episodes = derive_episodes(PRACTICE, EpisodeSettings())
    fit = fit_cox(episodes, ["referral", "srs_first"], {"referral": "court-mandated"}, strata="site", cluster=None)
    shown = _table(at, "hr")
    assert "referral[self]" in shown["term"].tolist()
    assert shown["hr"].tolist() == pytest.approx(fit.table["hr"].tolist(), rel=1e-9)
    assert at.session_state[state.REFERENCE_LEVELS] == {"referral": "court-mandated"}
    assert at.session_state[state.STRATA] == ["site"] and at.session_state[state.CLUSTER] is None


def test_adjusted_curve_values():
    at = _app(PRACTICE)
    at.selectbox(key="adjusted_covariate").set_value("srs_first").run()
    at.text_input(key="adjusted_values_srs_first").set_value("20, thirty").run()
    assert not at.exception
    assert any("Type numbers separated by commas" in e.value for e in at.error)
    at.text_input(key="adjusted_values_srs_first").set_value("20, 36").run()
    assert not at.exception and not at.error


def test_restricted_mean_and_fine_gray_are_the_librarys():
    at = _app(PRACTICE, "court_mandated")
    episodes = derive_episodes(PRACTICE, EpisodeSettings())
    expected = restricted_mean(episodes, None, "court_mandated")
    shown = _table(at, "rmst")
    assert shown["rmst"].tolist() == pytest.approx(expected.table["rmst"].tolist(), rel=1e-12)
    assert expected.takeaway in _markdown(at)
    at.number_input(key="rmst_tau_input").set_value(8.0).run()
    assert _table(at, "rmst")["tau"].tolist() == [8.0, 8.0] and at.session_state[state.RMST_TAU] == 8.0
    fit = fit_fine_gray(episodes, ["court_mandated", "srs_first", "prior_negative_therapy"], cluster="therapist_id")
    shown = _table(at, "shr")
    assert shown["shr"].tolist() == pytest.approx(fit.table["shr"].tolist(), rel=1e-9)
    assert "cause-specific" in _markdown(at)


def test_a_spline_bends_the_cox_model_and_draws_its_partial_effect():
    at = _app(PRACTICE)
    at.selectbox(key="cox_spline").set_value("srs_first").run()
    assert not at.exception, at.exception
    episodes = derive_episodes(PRACTICE, EpisodeSettings())
    fit = fit_cox(episodes, ["court_mandated", "srs_first", "prior_negative_therapy"], splines={"srs_first": 3})
    shown = _table(at, "hr")
    assert "srs_first[ns3]" in shown["term"].tolist()
    assert shown["hr"].tolist() == pytest.approx(fit.table["hr"].tolist(), rel=1e-9)
    assert at.session_state[state.SPLINES] == {"srs_first": 3}
    assert "natural spline (3 degrees of freedom)" in _markdown(at)


def test_groups_are_known_at_intake_and_measures_during_therapy_go_to_a_landmark():
    from analytics.survival.landmark import EXPLANATION, landmark_km

    at = _app(PRACTICE)
    options = at.selectbox(key="survival_group").options
    assert "missed" not in options and "ruptures" not in options and "srs mean" not in options
    assert "referral" in options
    assert EXPLANATION in _markdown(at)
    expected = landmark_km(derive_episodes(PRACTICE), PRACTICE.sessions, 3, "ruptures")
    assert expected.takeaway in _markdown(at)
    at.number_input(key=state.LANDMARK_SESSION).set_value(5).run()
    at.selectbox(key="survival_landmark_measure").set_value("missed").run()
    assert not at.exception
    assert landmark_km(derive_episodes(PRACTICE), PRACTICE.sessions, 5, "missed").takeaway in _markdown(at)
    assert at.session_state[state.LANDMARK_SESSION] == 5 and at.session_state[state.LANDMARK_MEASURE] == "missed"
    landmark = next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
                    if "after session 5" in c.proto.spec)
    assert landmark["layout"]["legend"]["title"]["text"] == "Missed appointments"  # the legend names the measure

def test_multiple_imputation_pools_the_cox_model_when_covariates_are_missing():
    from analytics.models.imputation import pooled_fit

    at = _app(PRACTICE)
    at.multiselect(key=state.COVARIATES).set_value(["court_mandated", "env_privacy"]).run()
    at.toggle(key="cox_imputation").set_value(True).run()
    assert not at.exception, at.exception
    episodes = derive_episodes(PRACTICE, EpisodeSettings())
    covariates = ["court_mandated", "env_privacy"]
    expected = pooled_fit(episodes, covariates, lambda d: fit_cox(d, covariates), "Cox model", "hazard ratios")
    shown = _table(at, "fmi")
    assert shown["ratio"].tolist() == pytest.approx(expected.table["ratio"].tolist(), rel=1e-9)
    assert at.session_state[state.MISSING_COVARIATES] == "multiple_imputation"


def test_delayed_entry_and_weights_reach_the_curves():
    days = pd.read_csv(REFERENCE / "entry_days.csv").drop(columns="duration_noisy")
    caseload = Caseload(clients=days.assign(client_id=[f"c{i}" for i in range(len(days))]))
    at = open_page("pages/survival.py", caseload, suppress_below=0, timeout=60,
                   **{state.KM_GROUP: "g", state.ENTRY: "entry"})
    assert not at.exception, at.exception
    r_entry = pd.read_csv(REFERENCE / "entry_km_entry.csv")
    assert _table(at, "median")["events"].tolist() == r_entry.groupby("group")["events"].sum().tolist()
    at.selectbox(key="survival_entry").set_value("(none)").run()
    at.selectbox(key="survival_weights").set_value("w").run()
    assert not at.exception, at.exception
    assert at.session_state[state.WEIGHTS] == "w" and at.session_state[state.ENTRY] is None
    expected = kaplan_meier(days, "g", weights="w")
    assert expected.takeaway in _markdown(at)
