"""The analysis recipe: JSON round trip, what it means for episodes, and errors that name the key
and the allowed values."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from analytics.episodes import EpisodeSettings
from analytics.recipe import FIGURE_DEFAULTS, Recipe, RecipeError, package_versions

FULL = {
    "dropout_definition": "unilateral",
    "early_sessions": 3,
    "ongoing_window_days": 60,
    "time_scale": "days",
    "km_group": "referral",
    "covariates": ["age", "referral", "env_privacy"],
    "reference_levels": {"referral": "self"},
    "cluster": "therapist_id",
    "strata": ["site"],
    "filters": {"sites": ["North"], "therapists": ["T01", "T02"], "intake_from": "2024-01-01", "intake_to": "2024-12-31"},
    "suppress_below": 5,
    "target_rate": 0.18,
    "mapping": None,
    "figure": {"width_mm": 175.0, "height_mm": 90.0, "font_size": 7.0, "dpi": 600},
}


def test_round_trip_keeps_every_value(tmp_path):
    recipe = Recipe.from_dict(FULL).for_output("abc123")
    path = tmp_path / "recipe.json"
    recipe.save(path)
    again = Recipe.load(path)
    assert again == recipe
    saved = json.loads(path.read_text())
    assert {k: saved[k] for k in FULL} == FULL
    assert saved["data_fingerprint"] == "abc123"
    assert saved["versions"]["pandas"] == pd.__version__


def test_defaults_fill_missing_keys():
    recipe = Recipe.from_json("{}")
    assert recipe.episodes.dropout_definition == "therapist_judged"
    assert recipe.suppress_below == 11
    assert recipe.figure == FIGURE_DEFAULTS
    assert recipe.filters == {"sites": [], "therapists": [], "intake_from": None, "intake_to": None}
    assert Recipe.from_json('{"figure": {"dpi": 600}}').figure == {**FIGURE_DEFAULTS, "dpi": 600}


def test_episode_settings_and_filters():
    recipe = Recipe.from_dict(FULL)
    assert recipe.episodes == EpisodeSettings(
        dropout_definition="unilateral", early_sessions=3, ongoing_window_days=60, time_scale="days")
    assert recipe.filter_kwargs() == {
        "sites": ["North"], "therapists": ["T01", "T02"],
        "intake_from": pd.Timestamp("2024-01-01"), "intake_to": pd.Timestamp("2024-12-31"),
    }
    assert recipe.figure_kwargs() == {"width_mm": 175.0, "height_mm": 90.0, "font_size": 7.0, "dpi": 600}


def test_dates_are_normalized_to_iso_days():
    recipe = Recipe(filters={"intake_from": "2024-03-05T00:00:00"})
    assert recipe.filters["intake_from"] == "2024-03-05"


def test_package_versions_are_recorded():
    versions = package_versions()
    assert versions["pandas"] == pd.__version__
    assert set(versions) >= {"python", "numpy", "lifelines", "statsmodels", "plotly", "kaleido"}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"colour": "red"}, "Recipe key 'colour' is unknown; allowed keys: dropout_definition, early_sessions"),
        ({"dropout_definition": "quit"},
         "Recipe key 'dropout_definition' is 'quit'; allowed values: therapist_judged, unilateral, early, unilateral_unimproved."),
        ({"time_scale": "weeks"}, "Recipe key 'time_scale' is 'weeks'; allowed values: sessions, days."),
        ({"early_sessions": 0}, "Recipe key 'early_sessions' is 0; it must be a whole number of at least 1."),
        ({"early_sessions": "4"}, "Recipe key 'early_sessions' is '4'"),
        ({"ongoing_window_days": -1}, "Recipe key 'ongoing_window_days' is -1"),
        ({"suppress_below": True}, "Recipe key 'suppress_below' is True"),
        ({"target_rate": 20}, "Recipe key 'target_rate' is 20; it must be a proportion between 0 and 1 (0.2 for 20%)"),
        ({"covariates": "age"}, None),  # a single name is accepted as a list of one
        ({"covariates": [1, 2]}, "Recipe key 'covariates' must be a list of column names"),
        ({"km_group": 3}, "Recipe key 'km_group' must be a column name"),
        ({"reference_levels": ["self"]}, "Recipe key 'reference_levels' must map a covariate name"),
        ({"filters": {"site": ["A"]}},
         "Recipe key 'filters.site' is unknown; allowed keys: sites, therapists, intake_from, intake_to."),
        ({"filters": {"intake_from": "yesterday-ish"}}, "Recipe key 'filters.intake_from' is 'yesterday-ish'; use a date"),
        ({"filters": {"sites": "North"}}, "Recipe key 'filters.sites' must be a list"),
        ({"figure": {"dpi": 10}}, "Recipe key 'figure.dpi' is 10; use a number from 50 to 2400."),
        ({"figure": {"width": 85}}, "Recipe key 'figure.width' is unknown; allowed keys: width_mm, height_mm, font_size, dpi."),
        ({"mapping": "clients.csv"}, "Recipe key 'mapping' must be the column mapping object"),
        ({"recipe_version": 99}, "Recipe key 'recipe_version' is 99"),
        ({"landmark_session": 0}, "Recipe key 'landmark_session' is 0; it must be a whole number of at least 1."),
        ({"landmark_measure": "referral"},
         "Recipe key 'landmark_measure' is 'referral'; allowed values: missed, ruptures, srs_mean."),
    ],
)
def test_invalid_keys_and_values_name_the_key(change, message):
    text = json.dumps({**FULL, **change})
    if message is None:
        assert Recipe.from_json(text).covariates == ("age",)
        return
    with pytest.raises(RecipeError) as err:
        Recipe.from_json(text)
    assert str(err.value).startswith(message)


def test_not_json_and_not_an_object():
    with pytest.raises(RecipeError, match="not valid JSON"):
        Recipe.from_json("{covariates: [age]}")
    with pytest.raises(RecipeError, match="JSON object"):
        Recipe.from_json("[1, 2]")


def test_bad_mapping_content_is_reported_under_its_key():
    pytest.importorskip("analytics.ingest.mapping")
    with pytest.raises(RecipeError, match="^Recipe key 'mapping': "):
        Recipe.from_dict({"mapping": {"sessions": "not a mapping"}})
