"""The Room, match and habits page: the analytics' hazard ratios on the sample, and data lacking the columns."""

import pytest

from analytics.caseload import Caseload
from analytics.episodes import EpisodeSettings, derive_episodes
from analytics.practice.room_match import habits_scorecard, room_vs_dropout
from analytics.schema import ENVIRONMENT_RATINGS, HABIT_MARKERS
from tests.harness import PRACTICE_SAMPLE as SAMPLE
from tests.harness import frame, open_page, tables, text

EPISODES = derive_episodes(SAMPLE, EpisodeSettings("therapist_judged"))


def test_room_match_page_on_sample():
    at = open_page("pages/room_match.py", SAMPLE, suppress_below=0)
    assert not any("hr" in t.columns for t in tables(at))  # the model table is drawn only while its expander is open
    at = open_page("pages/room_match.py", SAMPLE, suppress_below=0, for_researchers_room_hazard_ratios=True)
    room = room_vs_dropout(EPISODES).hazard
    shown = frame(at, "hr")
    assert shown["factor"].tolist()[:5] == list(ENVIRONMENT_RATINGS)
    assert shown["hr"].tolist()[:5] == pytest.approx(room["hr"].tolist(), rel=1e-9)
    assert not [m for m in at.markdown if "Agree on goals" in m.value], "closed sections are not computed"
    at = open_page("pages/room_match.py", SAMPLE, suppress_below=0, room_match_section="Five habits")
    card = habits_scorecard(EPISODES, suppress_below=0).table
    goals = card.set_index("habit").loc["Agree on goals"]
    assert goals["reading"] in text(at)
    shown_card = frame(at, "Habit").set_index("Habit")
    assert shown_card.loc["Agree on goals", "Share of clients"] == f"{100 * goals['prevalence']:.1f}%"
    # one line a habit: its meaning and reading are the sentences above, the model's details for researchers
    assert not {"Meaning", "Reading", "Recorded as", "p-value", "Clients in the model"} & set(shown_card.columns)
    assert shown_card.loc["Agree on goals", "Hazard ratio"] == f"{goals['hr']:.3g}"
    # the case mix in the display dictionary's words, as the model notes and the filter name it
    assert "Case mix here: referral, diagnosis, age, earlier negative therapy, trauma history." in text(at)


def test_room_match_page_without_room_habits_or_therapists():
    clients = SAMPLE.clients.drop(columns=list(ENVIRONMENT_RATINGS) + list(HABIT_MARKERS))
    caseload = Caseload(sessions=SAMPLE.sessions, clients=clients)
    body = " ".join(text(open_page("pages/room_match.py", caseload, room_match_section=section))
                    for section in ("The room", "Therapist-client match", "Five habits"))
    assert "No room ratings found" in body and "env_comfort" in body
    assert "No match factors can be computed" in body and "therapists file" in body
    assert "Not measured: add a `goals_agreed` column" in body
    assert "Not measured: be transparent, consider background, create a safe space, agree on goals, adapt the approach." in body
