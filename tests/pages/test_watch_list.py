"""The Watch list page: the analytics' ranking and accuracy on the sample, the therapist filter, and
data the model cannot learn from."""

import base64
import json

import numpy as np

from analytics.caseload import Caseload
from analytics.episodes import EpisodeSettings, derive_episodes
from analytics.practice.watch_list import watch_list
from analytics.proportions import percent
from tests.harness import PRACTICE_SAMPLE as SAMPLE
from tests.harness import frame, open_page, text

EPISODES = derive_episodes(SAMPLE, EpisodeSettings("therapist_judged"))
EXPECTED = watch_list(SAMPLE.sessions, EPISODES)


def test_watch_list_page_shows_ranking_and_accuracy():
    at = open_page("pages/watch_list.py", SAMPLE, suppress_below=0)
    shown = frame(at, "reasons")
    assert list(shown.columns) == ["rank", "client_id", "therapist", "sessions_attended", "risk", "reasons"]
    assert shown["client_id"].tolist() == EXPECTED.table["client_id"].tolist()
    assert shown["risk"].iloc[0] == percent(EXPECTED.table["risk"].iloc[0])
    assert shown["reasons"].iloc[0] == EXPECTED.table["reasons"].iloc[0]
    assert not shown["therapist"].str.startswith("T0").any()  # anonymous labels unless ids are asked for
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["AUC on held-out ended episodes"] == f"{EXPECTED.accuracy['auc'].iloc[0]:.2f}"
    assert EXPECTED.takeaway in text(at)


def test_watch_list_page_filters_by_therapist():
    at = open_page("pages/watch_list.py", SAMPLE, suppress_below=0)
    therapist = EXPECTED.table["therapist_id"].iloc[0]
    at.selectbox(key="watch_list_therapist").set_value(therapist).run()
    assert not at.exception
    shown = frame(at, "reasons")
    mine = EXPECTED.table.loc[EXPECTED.table["therapist_id"] == therapist]
    assert shown["client_id"].tolist() == mine["client_id"].tolist()
    assert shown["rank"].tolist() == mine["rank"].tolist()


def test_watch_list_page_without_sessions_says_what_is_needed():
    at = open_page("pages/watch_list.py", Caseload(clients=SAMPLE.clients.assign(duration=5.0, event=0)))
    assert "needs the appointment history (a sessions file)" in text(at)


def test_watch_list_calibration_hides_small_deciles():
    at = open_page("pages/watch_list.py", SAMPLE, suppress_below=11)
    shown = frame(at, "decile")
    small = EXPECTED.calibration["dropouts"].between(1, 10)
    assert small.any()
    assert (shown.loc[small.to_numpy(), "dropouts"].astype(str) == "<11").all()
    spec = json.loads(next(c for c in at.get("plotly_chart") if "perfect calibration" in c.proto.spec).proto.spec)
    observed = _array(spec["data"][1]["y"])
    assert np.isnan(observed[small.to_numpy()]).all() and not np.isnan(observed[~small.to_numpy()]).any()


def _array(value):
    """A plotly JSON array, plain or typed (base64 `bdata`)."""
    if isinstance(value, dict):
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).astype(float)
    return np.array(value, dtype=float)
