"""The report bundle's researcher tables on the bundled sample data: rmst.csv and finegray.csv equal
R (survfit rmean and cmprsk::crr, stored by tests/reference/make_competing_reference.R on the same
episodes), and Table 1 by the recipe's group."""

import io

import numpy as np
import pandas as pd
import pytest

from analytics.ingest.load import load_sample
from analytics.models.table_one import table_one
from analytics.output.report import assemble
from analytics.recipe import Recipe, RecipeError
from tests.paths import REFERENCE

COVARIATES = ["age", "court_mandated", "env_privacy"]
RECIPE = {"rmst_tau": 20, "km_group": "court_mandated", "covariates": COVARIATES, "cluster": None,
          "table_one_group": "site"}


@pytest.fixture(scope="module")
def bundle():
    return assemble(load_sample(), Recipe.from_dict(RECIPE), render_figures=False)


def _table(bundle, stem):
    return pd.read_csv(io.BytesIO(bundle.files[f"tables/{stem}.csv"]), float_precision="round_trip")


def test_the_bundle_analyses_the_episodes_r_was_given(bundle):
    episodes = _table(bundle, "episodes")
    stored = pd.read_csv(REFERENCE / "report_sample_episodes.csv")
    pd.testing.assert_frame_equal(episodes[stored.columns], stored, check_dtype=False)


def test_rmst_csv_equals_survfit_rmean(bundle):
    rmst, ref = _table(bundle, "rmst"), pd.read_csv(REFERENCE / "report_sample_rmst.csv")
    assert list(rmst.columns) == ["group", "tau", "rmst", "se", "ci_lower", "ci_upper"]
    assert rmst["group"].tolist() == ref["group"].tolist() and (rmst["tau"] == 20).all()
    np.testing.assert_allclose(rmst[["rmst", "se"]], ref[["rmst", "se"]], rtol=0, atol=1e-6)
    contrasts = _table(bundle, "rmst_contrasts")
    assert contrasts["measure"].tolist() == ["difference", "ratio"]
    assert contrasts["estimate"].iloc[0] == pytest.approx(ref["rmst"].iloc[0] - ref["rmst"].iloc[1], abs=1e-6)


def test_finegray_csv_equals_crr(bundle):
    table, ref = _table(bundle, "finegray"), pd.read_csv(REFERENCE / "report_sample_crr.csv")
    assert list(table.columns) == ["term", "coef", "shr", "se", "shr_ci_lower", "shr_ci_upper", "p"]
    assert table["term"].tolist() == ref["term"].tolist()
    np.testing.assert_allclose(table[["coef", "se"]], ref[["coef", "se"]], rtol=0, atol=1e-5)


def test_both_competing_risk_models_say_what_they_answer(bundle):
    titles = {s.name: s.title for s in bundle.sections}
    assert "cause-specific" in titles["cox"] and "share of clients who end up dropping out" in titles["finegray"]
    methods = bundle.files["methods.md"].decode()
    assert "Fine-Gray" in methods and "restricted mean time to dropout up to 20 sessions" in methods


@pytest.mark.parametrize("tau", [0, -3, "20", True])
def test_a_bad_horizon_names_the_key(tau):
    with pytest.raises(RecipeError, match="rmst_tau"):
        Recipe.from_dict({"rmst_tau": tau})


def test_table_one_is_in_the_bundle_by_the_recipes_group(bundle):
    episodes = pd.read_csv(REFERENCE / "table_one_episodes.csv")
    expected = table_one(episodes, COVARIATES, "site")
    shown = _table(bundle, "table_one_smd")
    np.testing.assert_allclose(shown["smd"], expected.smd["smd"], rtol=1e-12)
    display = _table(bundle, "table_one_display")
    assert list(display.columns) == ["characteristic", "overall", "Site A", "Site B", "Site C", "smd", "missing"]
    assert set(_table(bundle, "table_one")["group"]) == {"overall", "Site A", "Site B", "Site C"}


def test_a_spline_in_the_recipe_writes_partial_effects_for_cox_and_logistic():
    recipe = Recipe.from_dict({**RECIPE, "splines": {"age": 3}})
    bundle = assemble(load_sample(), recipe, render_figures=False)
    for model in ("cox", "logistic"):
        effect = _table(bundle, f"{model}_spline_age")
        assert list(effect.columns) == ["value", "log_ratio", "ratio", "ci_lower", "ci_upper"] and len(effect) == 50
        assert {"age[ns1]", "age[ns2]", "age[ns3]"} <= set(_table(bundle, model)["term"])
    assert "natural cubic splines" in bundle.files["methods.md"].decode()
    with pytest.raises(RecipeError, match="splines"):
        Recipe.from_dict({"splines": {"age": 0}})


def test_multiple_imputation_in_the_recipe_adds_pooled_models():
    recipe = Recipe.from_dict({**RECIPE, "missing_covariates": "multiple_imputation", "imputations": 3})
    bundle = assemble(load_sample(), recipe, render_figures=False)
    for stem in ("cox_imputed", "logistic_imputed"):
        table = _table(bundle, stem)
        assert list(table.columns) == ["term", "coef", "ratio", "se", "ci_lower", "ci_upper", "p", "df", "fmi"]
        assert (table["fmi"] > 0).any()  # env_privacy is missing for 171 episodes
    assert "Rubin's rules" in bundle.files["methods.md"].decode()
    assert "tables/cox_imputed.csv" not in assemble(load_sample(), Recipe.from_dict(RECIPE), render_figures=False).files
    with pytest.raises(RecipeError, match="missing_covariates"):
        Recipe.from_dict({"missing_covariates": "impute"})


def test_engine_counts_feed_the_curves_unless_entry_or_weights_need_the_episodes():
    """An engine report passes its counts (a Tally): the curves equal those of the episodes; with
    case weights in the recipe the Kaplan-Meier and RMST are computed from the episodes, weighted."""
    from analytics.episodes import derive_episodes
    from analytics.output.report import run_sections
    from analytics.survival.curves import kaplan_meier, tally
    from analytics.survival.rmst import restricted_mean

    episodes = derive_episodes(load_sample().caseload)
    episodes["w"] = np.where(episodes.index % 2, 3.0, 1.0)
    counts = tally(episodes, "court_mandated")
    for recipe, weights in ((Recipe(km_group="court_mandated", rmst_tau=20), None),
                            (Recipe(km_group="court_mandated", rmst_tau=20, weights="w"), "w")):
        sections = {s.name: s for s in run_sections(episodes, recipe, counts=counts)}
        pd.testing.assert_frame_equal(sections["km"].tables["km"],
                                      kaplan_meier(episodes, "court_mandated", weights=weights).table)
        pd.testing.assert_frame_equal(sections["rmst"].tables["rmst"],
                                      restricted_mean(episodes, 20, "court_mandated", weights=weights).table)
    assert not sections["km"].tables["km"].equals(kaplan_meier(episodes, "court_mandated").table)


def test_report_survival_legends_name_the_grouping(bundle):
    figures = {name: figure for s in bundle.sections for name, figure in s.figures.items()}
    assert figures["km"].layout.legend.title.text == "Court-mandated referral"
    assert figures["cif"].layout.legend.title.text == "Court-mandated referral"
