"""The Watch list page: the analytics' ranking and accuracy on the sample, the therapist filter, and
data the model cannot learn from."""

import json
from dataclasses import replace

import numpy as np
import pandas as pd

from analytics.caseload import Caseload
from analytics.episodes import EpisodeSettings, derive_episodes
from analytics.practice.watch_list import watch_list
from tests.harness import PRACTICE_SAMPLE as SAMPLE
from tests.harness import chart_array, frame, open_page, text

EPISODES = derive_episodes(SAMPLE, EpisodeSettings("therapist_judged"))
EXPECTED = watch_list(SAMPLE.sessions, EPISODES)


def test_watch_list_page_shows_ranking_and_accuracy():
    at = open_page("pages/watch_list.py", SAMPLE, suppress_below=0)
    shown = frame(at, "Why")
    assert list(shown.columns) == ["Rank", "Client", "Therapist", "Sessions attended", "Last attended",
                                   "Days since last contact", "Estimated dropout risk", "Why"]
    assert shown["Client"].tolist() == EXPECTED.table["client_id"].tolist()
    assert shown["Estimated dropout risk"].iloc[0] == f"{100 * EXPECTED.table['risk'].iloc[0]:.1f}%"
    assert shown["Why"].iloc[0] == EXPECTED.table["reasons"].iloc[0]
    assert shown["Last attended"].iloc[0] == EXPECTED.table["last_attended"].iloc[0].strftime("%Y-%m-%d")
    assert shown["Therapist"].tolist() == EXPECTED.table["therapist_label"].tolist()  # the caseload's labels
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["AUC on held-out ended episodes"] == f"{EXPECTED.accuracy['auc'].iloc[0]:.2f}"
    assert EXPECTED.takeaway in text(at)


def test_watch_list_page_shows_the_next_booked_appointment_when_the_export_has_them():
    none = f"The export holds no appointments booked after {SAMPLE.export_date:%d %B %Y}"
    assert none in text(open_page("pages/watch_list.py", SAMPLE, suppress_below=0))
    first, second = EXPECTED.table["client_id"].iloc[:2]
    later = SAMPLE.export_date + pd.Timedelta(days=7)
    booked = pd.DataFrame({"client_id": [first, first], "therapist_id": "t",
                           "date": [later, later + pd.Timedelta(days=7)]})
    at = open_page("pages/watch_list.py", replace(SAMPLE, booked=booked), suppress_below=0)
    shown = frame(at, "Why").set_index("Client")
    assert list(shown.columns[4:6]) == ["Days since last contact", "Next booked appointment"]
    assert shown.loc[first, "Next booked appointment"] == f"{later:%Y-%m-%d}"
    assert shown.loc[second, "Next booked appointment"] == "–"
    assert none not in text(at)


def test_watch_list_page_filters_by_therapist():
    at = open_page("pages/watch_list.py", SAMPLE, suppress_below=0)
    therapist = EXPECTED.table["therapist_id"].iloc[0]
    at.selectbox(key="watch_list_therapist").set_value(therapist).run()
    assert not at.exception
    shown = frame(at, "Why")
    mine = EXPECTED.table.loc[EXPECTED.table["therapist_id"] == therapist]
    assert shown["Client"].tolist() == mine["client_id"].tolist()
    assert shown["Rank"].tolist() == [str(r) for r in mine["rank"]]
    slug = f"watch_list_{mine['therapist_label'].iloc[0].lower().replace(' ', '_')}"
    assert any(f"dl_{slug}_csv" in b.proto.id for b in at.get("download_button"))


def test_watch_list_page_without_sessions_says_what_is_needed():
    at = open_page("pages/watch_list.py", Caseload(clients=SAMPLE.clients.assign(duration=5.0, event=0)))
    assert "needs the appointment history (a sessions file)" in text(at)


def test_watch_list_calibration_is_drawn_from_every_decile_and_hides_by_clients():
    at = open_page("pages/watch_list.py", SAMPLE, suppress_below=11)
    shown = frame(at, "Tenth of predicted risk")
    assert EXPECTED.calibration["dropouts"].between(1, 10).any() and (EXPECTED.calibration["n"] >= 11).all()
    assert shown["Dropouts"].tolist() == [str(d) for d in EXPECTED.calibration["dropouts"]]
    spec = json.loads(next(c for c in at.get("plotly_chart") if "perfect calibration" in c.proto.spec).proto.spec)
    np.testing.assert_allclose(chart_array(spec["data"][1]["y"]), EXPECTED.calibration["observed"])
    hidden = open_page("pages/watch_list.py", SAMPLE, suppress_below=EXPECTED.calibration["n"].max() + 1)
    assert (frame(hidden, "Tenth of predicted risk")["Observed dropout rate"] == "hidden").all()


def test_a_site_filter_keeps_every_therapists_label():
    from analytics.ingest import load_sample
    from ui import state

    labels = load_sample().caseload.therapist_labels
    at = open_page("pages/watch_list.py")
    every = frame(at, "Why")
    at.session_state[state.FILTER_SITES] = ["Site A"]
    at.run()
    filtered = frame(at, "Why")
    assert 0 < len(filtered) < len(every)
    shown = dict(zip(every["Client"], every["Therapist"]))
    assert all(shown[c] == t for c, t in zip(filtered["Client"], filtered["Therapist"]))
    assert set(filtered["Therapist"]) <= set(labels.values())
