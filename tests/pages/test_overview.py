"""The Overview page shows the analytics' numbers, on the sample and on data lacking optional columns."""

import json

import pandas as pd
import pytest

from analytics.caseload import Caseload
from analytics.episodes import EpisodeSettings, derive_episodes
from analytics.practice.overview import (
    definition_sensitivity,
    headline,
    incidence_takeaway,
)
from analytics.practice.periods import period_comparison
from analytics.proportions import percent
from analytics.survival.curves import cumulative_incidence
from tests.harness import PRACTICE_SAMPLE, chart_array, frame, number, open_page, tables, text

SECTIONS = ("This month and quarter", "Over time", "By group", "How the definition changes the rate",
            "Who left improved", "When dropout happens")

SAMPLE = PRACTICE_SAMPLE



def test_overview_headline_and_definitions_on_sample():
    at = open_page("pages/overview.py", SAMPLE)
    episodes = derive_episodes(SAMPLE, EpisodeSettings("therapist_judged"))
    h = headline(episodes)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Clients"] == "800"
    assert metrics["Dropout rate"] == percent(h.rate, 1)
    assert metrics["Median sessions attended"] == f"{h.median_sessions:g}"
    assert f"95% CI {percent(h.ci_lower, 1)} to {percent(h.ci_upper, 1)}" in text(at)
    assert "19.7% (95% CI 18.7% to 20.7%)" in text(at) and "Share of ended episodes" in text(at)
    assert [tab.label for tab in at.tabs] == list(SECTIONS)
    recent = period_comparison(episodes, 11)
    assert recent.takeaway in text(at)  # the first section is open
    assert not at.get("plotly_chart")  # the first view is words, numbers and tables (docs/scale.md)

    at = open_page("pages/overview.py", SAMPLE, overview_section="Over time")
    rolling = json.loads(at.get("plotly_chart")[0].proto.spec)
    rates = next(trace["y"] for trace in rolling["data"] if trace["name"] == "dropout rate, past 12 months")
    assert list(chart_array(rates)) == pytest.approx(recent.rolling["rate"].tolist())
    assert len(frame(at, "Month")) == len(recent.rolling)

    at = open_page("pages/overview.py", SAMPLE, overview_section="How the definition changes the rate")
    shown = frame(at, "Definition")
    expected = definition_sensitivity(SAMPLE, EpisodeSettings()).table
    assert shown["Definition"].tolist() == ["therapist-judged", "unilateral", "early",
                                            "unilateral before reliable improvement"]
    assert shown["Dropouts"].map(number).tolist() == expected["dropouts"].astype(float).tolist()
    agreement = frame(at, "First definition").iloc[0]
    share = (number(agreement["Dropout under both"]) + number(agreement["Dropout under neither"])) / number(
        agreement["Clients compared"])
    assert f"{percent(share)} of the clients with a known outcome under both the therapist-judged" in text(at)
    assert not any("Referral" in d.columns for d in tables(at))  # only the open section is drawn

    at = open_page("pages/overview.py", SAMPLE, overview_section="By group")
    assert "By referral, dropout ranges" in text(at)
    referral = frame(at, "Referral").set_index("Referral")
    assert number(referral.loc["court-mandated", "Dropout rate"]) > number(referral.loc["self", "Dropout rate"])  # 0.7

    at = open_page("pages/overview.py", SAMPLE, overview_section="When dropout happens")
    assert incidence_takeaway(cumulative_incidence(episodes).table) in text(at)


def test_overview_suppresses_small_counts():
    at = open_page("pages/overview.py", SAMPLE, suppress_below=11, overview_section="By group")
    modality = frame(at, "Modality").set_index("Modality")
    small = modality.loc[modality["Dropouts"] == "hidden"]
    assert len(small) and (small["Dropout rate"] == "hidden").all()
    assert "None" not in modality.to_string() and "nan" not in modality.to_string()


def test_overview_without_sessions_or_covariates():
    episodes = pd.DataFrame({"client_id": [f"c{i}" for i in range(60)], "duration": [float(i % 12 + 1) for i in range(60)],
                             "event": [1 if i % 4 == 0 else 2 if i % 4 == 1 else 0 for i in range(60)]})
    caseload = Caseload(clients=episodes)
    at = open_page("pages/overview.py", caseload, suppress_below=0)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Clients"] == "60" and metrics["Dropout rate"] == "50.0%"  # 15 dropouts of 30 ended
    assert "Sessions attended are unknown" in text(at)
    assert "The period comparison needs the appointment history" in text(at)
    assert "The trend needs intake dates" in text(open_page("pages/overview.py", caseload, overview_section="Over time"))
    by_group = text(open_page("pages/overview.py", caseload, overview_section="By group"))
    assert "Not shown (no column with at least two values): site, modality, referral, telehealth." in by_group


def test_overview_sessions_only():
    sessions = SAMPLE.sessions.drop(columns=["srs", "wai"], errors="ignore")
    at = open_page("pages/overview.py", Caseload(sessions=sessions), dropout_definition="unilateral",
                   overview_section="How the definition changes the rate")
    shown = frame(at, "Definition")
    assert shown["Definition"].tolist() == ["unilateral", "early", "unilateral before reliable improvement"]
    agreement = frame(at, "First definition")
    assert len(agreement) == 3 and agreement["Second definition"].iloc[0].startswith("Early")  # one row per pair
    h = headline(derive_episodes(Caseload(sessions=sessions), EpisodeSettings("unilateral")))
    assert {m.label: m.value for m in at.metric}["Dropout rate"] == percent(h.rate, 1)


def test_overview_hides_a_small_practice_rate():
    episodes = pd.DataFrame({"client_id": [f"c{i}" for i in range(40)], "duration": 5.0,
                             "event": [1] * 4 + [2] * 30 + [0] * 6})
    at = open_page("pages/overview.py", Caseload(clients=episodes), suppress_below=11)
    assert {m.label: m.value for m in at.metric}["Dropout rate"] == "<11 dropouts"
    assert "Too few ended episodes" in text(at)
    assert "4 dropouts" not in text(at)
    assert "The practice's dropout rate (point)" not in text(at)  # no chart of a hidden rate
    shown = frame(at, "Figure").set_index("Figure")  # the headline table, above the sections
    assert (shown.loc[["dropouts", "dropout rate"], "Value"] == "–").all()


def test_overview_compares_periods_against_the_practice_target():
    at = open_page("pages/overview.py", SAMPLE, suppress_below=11, target_rate=20.0)
    episodes = derive_episodes(SAMPLE, EpisodeSettings("therapist_judged"))
    expected = period_comparison(episodes, 11, 0.2)
    assert expected.takeaway in text(at) and "the practice's target of 20.0%" in expected.takeaway
    shown = frame(at, "Compared as")
    assert shown["Period"].tolist() == expected.table["period"].tolist()


def test_overview_offers_the_meeting_summary():
    at = open_page("pages/overview.py", SAMPLE, suppress_below=11)
    labels = [str(b.proto.label) for b in at.get("download_button")]
    assert "Download the meeting summary (PDF)" in labels
