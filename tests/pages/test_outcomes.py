"""The Outcomes page and the Overview's "How many who left had improved?" on the practice sample
(PHQ-9 and GAD-7 per session): the page shows the analytics' numbers and sentences, the sidebar's
measure choice changes them, data without an outcome measure get the plain reason, and a restored
recipe keeps the measures it registers."""

from streamlit.testing.v1 import AppTest

from analytics.caseload import Caseload
from analytics.episodes import EpisodeSettings, derive_episodes
from analytics.practice.outcomes import NO_MEASURE_NOTE, leavers_improved, outcome_rates, pre_post_effects
from tests.harness import PRACTICE_SAMPLE as SAMPLE
from tests.harness import frame, number, open_page, tables, text


def _episodes(measure):
    settings = EpisodeSettings("unilateral_unimproved", outcome_measure=measure)
    return settings, derive_episodes(SAMPLE, settings)


def test_outcomes_page_shows_the_analytics_results():
    at = open_page("pages/outcomes.py", SAMPLE, suppress_below=0, dropout_definition="unilateral_unimproved")
    settings, episodes = _episodes("phq9")
    rates = outcome_rates(episodes, settings)
    assert rates.takeaway in text(at)
    shown = frame(at, "Outcome")
    # each count under its own header (three used to read "Clients", the last shown), a share not a "Dropout rate"
    assert list(shown.columns) == ["Label", "Ending", "Outcome", "Clients", "Clients with a first and last score",
                                   "Clients assessed", "Clients with the outcome", "Share", "95% CI from", "95% CI to"]
    assert shown["Clients with the outcome"].map(number).tolist() == rates.table["reached"].astype(float).tolist()
    assert shown["Share"].map(number).tolist() == [round(100 * v, 1) for v in rates.table["share"]]
    assert leavers_improved(episodes, settings, 0).takeaway in text(at)
    assert at.sidebar.selectbox(key="outcome_measure").value == "phq9"
    effects = pre_post_effects(episodes, settings)
    assert effects.takeaway not in text(at)  # only the open section is computed and drawn

    at.session_state["outcomes_section"] = "How much clients changed"
    at.run()
    assert not at.exception, at.exception
    shown = frame(at, "Effect size (d)")
    assert shown["Effect size (d)"].tolist() == [f"{d:,.3g}" for d in effects.table["d"]]
    assert "Measure" not in shown and shown["Label"].tolist() == effects.table["label"].tolist()  # no code beside the name
    assert rates.takeaway not in text(at)


def test_the_sidebar_measure_changes_the_page():
    at = open_page("pages/outcomes.py", SAMPLE, suppress_below=0, dropout_definition="unilateral_unimproved")
    at.sidebar.selectbox(key="outcome_measure").set_value("gad7").run()
    assert not at.exception
    settings, episodes = _episodes("gad7")
    assert leavers_improved(episodes, settings, 0).takeaway in text(at)
    at.session_state["outcomes_section"] = "Over the course of therapy"
    at.run()
    assert "GAD-7 over the course of therapy" in [h.value for h in at.subheader]


def test_overview_says_how_many_who_left_had_improved():
    at = open_page("pages/overview.py", SAMPLE, suppress_below=0, overview_section="Who left improved")
    settings, episodes = _episodes("phq9")
    assert "Who left improved" in [tab.label for tab in at.tabs]
    assert leavers_improved(episodes, settings, 0).takeaway in text(at)
    left = frame(at, "Clients without two scores").set_index("Ending").loc["left"]
    expected = leavers_improved(episodes, settings, 0).table.set_index("ending").loc["left"]
    assert number(left["Improved"]) == expected["improved"]
    assert number(left["Clients without two scores"]) == expected["unpaired"]


def test_without_an_outcome_measure_the_reason_is_given():
    sessions = SAMPLE.sessions.drop(columns=["phq9", "gad7", "ors", "oq45", "core10"])
    caseload = Caseload(sessions=sessions, clients=SAMPLE.clients)
    at = open_page("pages/outcomes.py", caseload)
    assert NO_MEASURE_NOTE in text(at) and not tables(at)
    at = open_page("pages/overview.py", caseload, overview_section="Who left improved")
    assert NO_MEASURE_NOTE in text(at)


def _restore_script():
    import streamlit as st

    from analytics.recipe import Recipe
    from ui import state

    st.button("restore", on_click=lambda: state.apply_settings(Recipe.from_dict(st.session_state["saved"])))
    st.session_state["settings"] = state.episode_settings()


def test_a_restored_recipe_keeps_its_registered_measure():
    at = AppTest.from_function(_restore_script, default_timeout=60)
    at.session_state["saved"] = {"dropout_definition": "unilateral_unimproved", "outcome_measure": "bdi2",
                                 "outcome_measures": [{"name": "bdi2", "low": 0, "high": 63, "higher_is_better": False,
                                                       "cutoff": 14, "reliable_change": 6}]}
    at.run()
    at.button[0].click().run()
    assert not at.exception, at.exception
    settings = at.session_state["settings"]
    assert settings.outcome_measure == "bdi2" and settings.measures()["bdi2"].reliable_change == 6
