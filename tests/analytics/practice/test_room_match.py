"""Room, match and habits: hand-worked counts on the six-client caseload, adjusted hazard ratios
against the sample generator's true effects (analytics/synth.py TRUE_EFFECTS)."""

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from analytics.episodes import EpisodeSettings, derive_episodes
from analytics.ingest.load import load_sample
from analytics.practice.room_match import (
    adjusted_hazard,
    adjusted_hazards,
    as_marker,
    habits_scorecard,
    match_vs_dropout,
    rating_columns,
    room_vs_dropout,
)
from analytics.proportions import dropout_rates
from tests.practice_data import small_caseload

HABIT_COLUMNS = {
    "expectations_explained": [1, 0, 1, np.nan, 0, 1],
    "env_privacy": [5, 2, 4, 3, 3, np.nan],
    "env_comfort": [5, 3, 3, 4, np.nan, np.nan],
    "room_light": [1, 2, 3, 4, 5, 5],
}


@pytest.fixture
def episodes():
    return derive_episodes(small_caseload(**HABIT_COLUMNS), EpisodeSettings("therapist_judged"))


def test_as_marker_reads_words_and_numbers():
    words = as_marker(pd.Series(["Yes", "no", "TRUE", None, "0", "maybe"]))
    assert words.iloc[[0, 1, 2, 4]].tolist() == [1.0, 0.0, 1.0, 0.0]
    assert words.iloc[[3, 5]].isna().all()
    assert as_marker(pd.Series([2.0, 0.0, np.nan])).iloc[:2].tolist() == [1.0, 0.0]


def test_rating_columns_finds_env_and_other_1_to_5_ratings(episodes):
    assert rating_columns(episodes) == ["env_comfort", "env_privacy", "room_light"]


def test_scorecard_counts(episodes):
    card = habits_scorecard(episodes, adjust=[]).table.set_index("habit")
    t = card.loc["Be transparent"]
    assert (t["clients_recorded"], t["done"], t["prevalence"]) == (5, 3, 0.6)
    assert (t["known_with"], t["dropouts_with"], t["known_without"], t["dropouts_without"]) == (2, 0, 2, 2)
    assert t["prevalence_ci_lower"] == pytest.approx(0.23072, abs=1e-5)
    safe = card.loc["Create a safe space"]  # only c1 averages 4 or more over privacy and comfort
    assert (safe["clients_recorded"], safe["done"]) == (5, 1)
    goals = card.loc["Agree on goals"]
    assert not goals["found"] and "`goals_agreed`" in goals["reading"]


def test_a_habit_whose_model_separates_quotes_no_hazard_ratio(episodes):
    # done: 0 of 2 dropped out, not done: 2 of 2; the hazard ratio runs off to zero, its interval blank
    t = habits_scorecard(episodes, adjust=[], suppress_below=0).table.set_index("habit").loc["Be transparent"]
    assert t["hr"] < 1e-10 and np.isnan(t["hr_ci_lower"])
    assert t["reading"] == "Done for 60% of clients; its link with dropout could not be estimated."


def test_room_rates_by_level(episodes):
    rates = room_vs_dropout(episodes, columns=["env_privacy"], adjust=[]).table.set_index("level")
    assert rates.loc["3", ["clients", "known", "dropouts"]].tolist() == [2, 1, 1]
    assert rates.loc["unknown", "clients"] == 1


def test_missing_columns_say_what_to_add():
    episodes = derive_episodes(small_caseload(), EpisodeSettings())
    with pytest.raises(ValueError, match="env_comfort"):
        room_vs_dropout(episodes)
    with pytest.raises(ValueError, match="therapists file"):
        match_vs_dropout(episodes)


@pytest.fixture(scope="module")
def sample_episodes():
    from analytics.synth import generate_caseload

    return derive_episodes(generate_caseload(n_clients=4000, seed=7).caseload(), EpisodeSettings("therapist_judged"))


def test_habits_match_room_recover_true_directions(sample_episodes):
    card = habits_scorecard(sample_episodes).table.set_index("habit")
    # true effects: goals agreed -0.4, expectations -0.3 (protective); background discussed 0
    assert card.loc["Agree on goals", "hr_ci_upper"] < 1
    assert card.loc["Be transparent", "hr"] < 1
    assert card.loc["Consider background", "hr_ci_lower"] < 1 < card.loc["Consider background", "hr_ci_upper"]
    match = match_vs_dropout(sample_episodes).hazard.set_index("factor")
    assert match.loc["language_match", "hr_ci_upper"] < 1  # true -0.5
    assert match.loc["religion_match", "hr_ci_lower"] < 1 < match.loc["religion_match", "hr_ci_upper"]  # no effect
    room = room_vs_dropout(sample_episodes).hazard.set_index("factor")
    assert room.loc["env_privacy", "hr"] < 1  # true -0.2 per point
    assert room.loc["env_noise", "hr_ci_lower"] < 1 < room.loc["env_noise", "hr_ci_upper"]  # no effect


def test_hazard_ratios_are_the_cox_models_described(sample_episodes):
    from analytics.practice.room_match import case_mix, case_mix_sentence
    from analytics.survival.cox import fit_cox

    mix = case_mix(sample_episodes)
    assert mix == ["referral", "diagnosis", "age", "prior_negative_therapy", "trauma_history"]
    # the page says so in the display dictionary's words, with or without the case mix
    assert case_mix_sentence(mix) == "Case mix here: referral, diagnosis, age, earlier negative therapy, trauma history."
    assert case_mix_sentence([]) == ("No case-mix columns (referral, diagnosis, age, earlier negative therapy, trauma "
                                     "history) were found, so the hazard ratios are unadjusted.")
    room = room_vs_dropout(sample_episodes, columns=["env_privacy"]).hazard.iloc[0]
    direct = fit_cox(sample_episodes, ["env_privacy"] + mix, strata=["site"]).table.set_index("term").loc["env_privacy"]
    assert room["hr"] == pytest.approx(direct["hr"], rel=1e-12)
    assert room["hr_ci_upper"] == pytest.approx(direct["hr_ci_upper"], rel=1e-12)
    card = habits_scorecard(sample_episodes).table.set_index("habit").loc["Agree on goals"]
    direct = fit_cox(sample_episodes.assign(g=sample_episodes["goals_agreed"].astype(float)), ["g"] + mix,
                     strata=["site"])
    assert card["hr"] == pytest.approx(direct.table.set_index("term").loc["g", "hr"], rel=1e-12)
    gap = match_vs_dropout(sample_episodes).hazard.set_index("factor").loc["age_gap_10"]
    direct = fit_cox(sample_episodes.assign(a=sample_episodes["age_gap"] / 10), ["a"] + [c for c in mix if c != "age"],
                     strata=["site"])
    assert gap["hr"] == pytest.approx(direct.table.set_index("term").loc["a", "hr"], rel=1e-12)


def test_models_side_by_side_are_the_models_one_after_the_other(sample_episodes):
    """Fitted in threads with shared encodings, each model gives what it gives alone, digit for digit."""
    from analytics.practice.room_match import case_mix

    mix = case_mix(sample_episodes)
    models = [(column, mix) for column in ("env_privacy", "env_noise", "language_match")] + [("age", ["referral"])]
    together = adjusted_hazards(sample_episodes, models, ["site"])
    alone = [adjusted_hazard(sample_episodes, column, adjust, ["site"]) for column, adjust in models]
    assert together == alone
    assert [hr["n_used"] for hr, _ in together] == [  # each model's own complete cases
        int(sample_episodes[[column, *adjust]].notna().all(axis=1).sum()) for column, adjust in models]


def test_rates_by_rating_count_every_client_once(sample_episodes):
    """Summed from the table by site, the rates by rating are each rating's own dropout rates."""
    room = room_vs_dropout(sample_episodes)
    assert room.by_site is not None and sample_episodes["site"].nunique() >= 2
    columns = list(room.hazard["factor"])
    direct = pd.concat([dropout_rates(sample_episodes, column).rename(columns={column: "level"}).assign(factor=column)
                        for column in columns], ignore_index=True)
    pd.testing.assert_frame_equal(room.table, direct[room.table.columns], check_exact=True)
    assert (room.table["level"] == "unknown").any()  # clients without a rating are counted, not dropped
    assert (room.table.groupby("factor")["clients"].sum() == len(sample_episodes)).all()


def test_a_small_practice_fits_without_numpy_warnings():
    """Forty clients of the sample: the models' Newton steps overflow the risk scores (separation)
    and are halved, which numpy must not report on a user's terminal; each model says why it has no
    interval instead."""
    episodes = derive_episodes(load_sample().caseload, EpisodeSettings()).head(40)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        room = room_vs_dropout(episodes)
    assert len(room.hazard) == 5 and room.hazard["hr_ci_lower"].isna().all()
    assert sum("running off to zero or infinity" in w for w in room.warnings) == 5


def test_factors_and_model_notes_read_in_the_words_of_the_page(sample_episodes):
    """The forest plot, the takeaway and the model notes name a factor as the rates table and chart
    do (env_noise is rated 5 when the room is quiet: "room quiet", not "room noise"), and a note
    names a case-mix column in words, never as a column name."""
    room = room_vs_dropout(sample_episodes.assign(prior_negative_therapy=1.0), columns=["env_noise", "env_seating"],
                           adjust=["prior_negative_therapy", "age"])
    assert room.hazard["label"].tolist() == ["room quiet", "seating"]
    assert room.warnings[:2] == [
        f"Room quiet: {sample_episodes['env_noise'].isna().sum():,} of {len(sample_episodes):,} episodes were left out "
        "because a chosen covariate is missing for them.",
        "Room quiet: earlier negative therapy has the same value for every episode used, so it was left out of the model.",
    ]
    match = match_vs_dropout(sample_episodes.assign(trauma_history=0.0), adjust=["trauma_history"])
    assert match.warnings[0] == ("Same gender as the therapist: trauma history has the same value for every episode "
                                 "used, so it was left out of the model.")
    card = habits_scorecard(sample_episodes)
    notes = room.warnings + match.warnings + card.warnings
    assert notes and not [note for note in notes if re.search(r"\b[a-z]+_[a-z_0-9]+\b", note)]
