"""The Export page: the recipe shown is the session's choices, an uploaded recipe restores them
(including the figure size), a bad one is refused with the key named, and the width buttons set
the figure size used by every download button."""

from __future__ import annotations

import json

from tests.harness import open_page
from ui import state


def _page():
    return open_page("pages/export.py")


def _shown_recipe(at) -> dict:
    return json.loads(at.code[0].value)


def _number(at, label):
    return next(n for n in at.number_input if n.label == label)


def test_recipe_shows_the_sessions_choices():
    at = _page()
    at.session_state[state.DEFINITION] = "early"
    at.session_state[state.EARLY_SESSIONS] = 3
    at.run()
    shown = _shown_recipe(at)
    assert shown["dropout_definition"] == "early" and shown["early_sessions"] == 3
    assert shown["figure"] == {"width_mm": 85.0, "height_mm": 70.0, "font_size": 8.0, "dpi": 300}
    assert len(shown["data_fingerprint"]) == 16 and shown["versions"]["python"]


def test_uploaded_recipe_restores_choices_and_figure_size():
    at = _page()
    fingerprint = _shown_recipe(at)["data_fingerprint"]
    recipe = {"dropout_definition": "unilateral", "ongoing_window_days": 30, "km_group": "referral",
              "covariates": ["age"], "figure": {"width_mm": 175, "height_mm": 100, "font_size": 7, "dpi": 600},
              "data_fingerprint": fingerprint}
    at.file_uploader[0].set_value(("my_recipe.json", json.dumps(recipe).encode(), "application/json")).run()
    assert not at.exception, at.exception
    assert at.session_state[state.DEFINITION] == "unilateral"
    assert at.session_state[state.ONGOING_WINDOW] == 30
    assert at.session_state[state.KM_GROUP] == "referral"
    assert _number(at, "Width (mm)").value == 175.0
    assert _number(at, "PNG resolution (dpi)").value == 600
    assert any("Settings restored from my_recipe.json" in s.value for s in at.success)
    shown = _shown_recipe(at)
    assert shown["dropout_definition"] == "unilateral" and shown["covariates"] == ["age"]
    assert shown["figure"] == {"width_mm": 175.0, "height_mm": 100.0, "font_size": 7.0, "dpi": 600}


def test_recipe_from_other_data_warns():
    at = _page()
    recipe = {"dropout_definition": "early", "data_fingerprint": "0000000000000000"}
    at.file_uploader[0].set_value(("old.json", json.dumps(recipe).encode(), "application/json")).run()
    assert at.session_state[state.DEFINITION] == "early"
    assert any("saved on different data" in w.value for w in at.warning)


def test_bad_recipe_is_refused_with_the_key_named():
    at = _page()
    bad = {"dropout_definition": "quit"}
    at.file_uploader[0].set_value(("bad.json", json.dumps(bad).encode(), "application/json")).run()
    assert not at.exception
    assert at.session_state[state.DEFINITION] == "therapist_judged"
    assert any("bad.json: Recipe key 'dropout_definition' is 'quit'; allowed values: "
               "therapist_judged, unilateral, early, unilateral_unimproved." in e.value for e in at.error)


def test_width_buttons_set_the_figure_size():
    at = _page()
    next(b for b in at.button if b.label.startswith("Double column")).click().run()
    assert _number(at, "Width (mm)").value == 175.0
    assert at.session_state[state.FIGURE]["width_mm"] == 175.0
    assert _shown_recipe(at)["figure"]["width_mm"] == 175.0
