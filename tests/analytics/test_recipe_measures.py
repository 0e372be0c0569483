"""The recipe's outcome keys: `outcome_measure` and user-registered `outcome_measures`, their JSON
round trip and errors that name the key."""

import json

import pytest

from analytics.outcomes import Measure
from analytics.recipe import Recipe, RecipeError

BDI = {"name": "bdi2", "label": "BDI-II", "low": 0, "high": 63, "higher_is_better": False, "cutoff": 14,
       "reliable_change": 6}


def test_a_registered_measure_round_trips():
    recipe = Recipe.from_dict({"dropout_definition": "unilateral_unimproved", "outcome_measure": "bdi2",
                               "outcome_measures": [BDI]})
    assert recipe.episodes.outcome_measures == (Measure("bdi2", "BDI-II", 0, 63, False, 14, 6),)
    assert recipe.episodes.measures()["bdi2"].caseness_rule == "14 or more"
    saved = json.loads(recipe.to_json())
    assert saved["outcome_measure"] == "bdi2" and saved["outcome_measures"] == [{**BDI, "source": ""}]
    assert Recipe.from_json(recipe.to_json()) == recipe


@pytest.mark.parametrize(("change", "message"), [
    ({"outcome_measure": "bdi2"}, "Recipe key 'outcome_measure': Unknown outcome measure 'bdi2'; use one of phq9, gad7, ors, oq45, core10."),
    ({"outcome_measures": {"name": "bdi2"}}, "Recipe key 'outcome_measures' must be a list of measures"),
    ({"outcome_measures": [{"name": "bdi2"}]}, "Recipe key 'outcome_measures.low' is missing"),
    ({"outcome_measures": [{**BDI, "colour": "red"}]}, "Recipe key 'outcome_measures.colour' is unknown"),
    ({"outcome_measures": [{**BDI, "name": "BDI II"}]}, "Recipe key 'outcome_measures.name' is 'BDI II'"),
    ({"outcome_measures": [{**BDI, "higher_is_better": "no"}]}, "Recipe key 'outcome_measures.higher_is_better' must be true or false."),
    ({"outcome_measures": [{**BDI, "cutoff": "14"}]}, "Recipe key 'outcome_measures.cutoff' is '14'; it must be a number."),
    ({"outcome_measures": [{**BDI, "cutoff": 70}]}, "Recipe key 'outcome_measures': Measure 'bdi2': the cutoff must lie within 0-63."),
    ({"outcome_measures": [{**BDI, "name": "phq9"}]}, "Recipe key 'outcome_measures': 'phq9' is a built-in outcome measure"),
])
def test_invalid_outcome_keys_name_the_key(change, message):
    with pytest.raises(RecipeError) as err:
        Recipe.from_dict(change)
    assert str(err.value).startswith(message)
