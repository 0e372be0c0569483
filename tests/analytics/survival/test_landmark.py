"""Landmark analysis at session k: what is read up to session k (by hand), and Kaplan-Meier and the
log-rank test on the landmark subset against R (tests/reference/make_landmark_reference.R)."""

import numpy as np
import pandas as pd
import pytest

from analytics.episodes import EpisodeSettings, derive_episodes
from analytics.survival.landmark import landmark_km, measures_at
from analytics.synth import generate_caseload
from tests.paths import ROOT

REF = ROOT / "tests" / "reference"
CASELOAD = generate_caseload(n_clients=700, n_therapists=10, seed=14).caseload()  # as in the R script


def test_measures_at_session_k_by_hand():
    sessions = pd.DataFrame({
        "client_id": ["a"] * 5 + ["b"] * 2,
        "date": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22", "2024-01-29",
                                "2024-01-01", "2024-01-08"]),
        "status": ["attended", "no_show", "attended", "cancelled", "attended", "attended", "no_show"],
        "srs": [35, np.nan, 30, np.nan, 38, 33, np.nan],
    })
    known = measures_at(sessions, 2).set_index("client_id")
    # a: one miss before its 2nd attended session (the cancellation after it is not yet known),
    # a drop of 5 points (35 -> 30) is a rupture under the default rule, mean 32.5; b never reached session 2
    assert list(known.index) == ["a"]
    assert known.loc["a"].tolist() == [1, 1, 32.5]
    assert measures_at(sessions, 3).set_index("client_id").loc["a", "missed"] == 2


def test_landmark_against_r():
    episodes = derive_episodes(CASELOAD)
    stored = pd.read_csv(REF / "landmark_episodes.csv")
    known = measures_at(CASELOAD.sessions, 3).set_index("client_id")
    np.testing.assert_allclose(known["srs_mean"].reindex(stored["client_id"]), stored["srs_mean"])
    np.testing.assert_allclose(known["missed"].reindex(stored["client_id"]), stored["missed"])
    km_ref = pd.read_csv(REF / "landmark_km.csv")
    test_ref = pd.read_csv(REF / "landmark_logrank.csv").set_index("measure")
    for measure in ("missed", "srs_mean"):
        result = landmark_km(episodes, CASELOAD.sessions, 3, measure)
        assert result.n_used == test_ref.loc[measure, "n"]
        assert result.logrank.table["statistic"].iloc[0] == pytest.approx(test_ref.loc[measure, "chisq"], rel=1e-6)
        assert result.logrank.table["p"].iloc[0] == pytest.approx(test_ref.loc[measure, "p"], rel=1e-6)
        ours = result.km.table.loc[result.km.table["time"] > 0]
        ref = km_ref.loc[km_ref["measure"] == measure]
        for group, part in ref.groupby("group"):
            mine = ours.loc[ours["group"] == group].set_index("time").loc[part["time"]]
            np.testing.assert_allclose(mine["survival"], part["survival"], rtol=1e-9)
            np.testing.assert_allclose(mine["at_risk"], part["n_risk"])
            np.testing.assert_allclose(mine["ci_lower"], part["lower"], rtol=1e-6)
            np.testing.assert_allclose(mine["ci_upper"], part["upper"], rtol=1e-6)
    assert "still in therapy after session 3" in result.takeaway and "log-rank p = " in result.takeaway


def test_landmark_needs_sessions_counted_in_sessions():
    episodes = derive_episodes(CASELOAD)
    with pytest.raises(ValueError, match="counts time in sessions attended"):
        landmark_km(episodes, CASELOAD.sessions, 3, "missed", EpisodeSettings(time_scale="days"))
    with pytest.raises(ValueError, match="appointment history"):
        landmark_km(episodes, None, 3, "missed")
    with pytest.raises(ValueError, match="cannot be read at a landmark"):
        landmark_km(episodes, CASELOAD.sessions, 3, "referral")


def test_the_report_bundle_carries_the_landmark_when_the_recipe_names_it():
    from analytics.output.report import run_sections
    from analytics.recipe import Recipe

    episodes = derive_episodes(CASELOAD)
    plain = run_sections(episodes, Recipe(), CASELOAD.sessions)
    assert "landmark" not in [s.name for s in plain]
    recipe = Recipe(landmark_session=3, landmark_measure="srs_mean")
    section = run_sections(episodes, recipe, CASELOAD.sessions)[-1]
    assert section.name == "landmark" and not any("could not be run" in w for w in section.warnings)
    expected = landmark_km(episodes, CASELOAD.sessions, 3, "srs_mean")
    pd.testing.assert_frame_equal(section.tables["landmark_logrank"], expected.logrank.table)


def test_a_report_made_inside_an_engine_names_the_landmark_as_not_run():
    """An engine report has no appointments in memory: the section says so instead of blaming the files."""
    from analytics.output.report import run_sections
    from analytics.recipe import Recipe

    section = run_sections(derive_episodes(CASELOAD), Recipe(landmark_measure="missed"))[-1]
    assert section.name == "landmark" and not section.tables
    assert section.warnings == ["The landmark analysis reads every appointment, which a report made inside an engine "
                                "leaves there; make the report in memory (without --engine) to include it."]
