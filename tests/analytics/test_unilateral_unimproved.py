"""The unilateral_unimproved definition and the `ending` column on hand-worked clients: leaving
after reliable improvement is a planned-like ending, leaving without two scores is a dropout."""

import numpy as np
import pandas as pd
import pytest

from analytics.caseload import Caseload
from analytics.episodes import EpisodeSettings, available_definitions, derive_episodes, outcome_measure
from analytics.outcomes import Measure

EXPORT = pd.Timestamp("2024-06-30")
NAN = np.nan


def _sessions():
    rows = [
        # a: PHQ-9 16 -> 10 (exactly -6: reliable) then a no-show long ago: left improved
        ("a", "2024-01-01", "attended", 16, 12), ("a", "2024-01-08", "attended", 10, 12),
        ("a", "2024-01-15", "no_show", NAN, NAN),
        # b: PHQ-9 16 -> 11 (-5: not reliable); GAD-7 12 -> 8 (-4: reliable); left: unimproved on PHQ-9
        ("b", "2024-01-01", "attended", 16, 12), ("b", "2024-01-08", "attended", 11, 8),
        ("b", "2024-01-15", "cancelled", NAN, NAN),
        # c: one PHQ-9 score only (the second session unscored), then left: no evidence, a dropout
        ("c", "2024-02-01", "attended", 20, 15), ("c", "2024-02-08", "attended", NAN, 15),
        ("c", "2024-02-15", "late_cancel", NAN, NAN),
        # d: ended on an attended session long ago: completed; PHQ-9 improves 18 -> 9, GAD-7 worsens 7 -> 11
        ("d", "2024-01-01", "attended", 18, 7), ("d", "2024-01-08", "attended", 12, 9),
        ("d", "2024-01-15", "attended", 9, 11),
        # e: a late cancel 10 days before the export: ongoing
        ("e", "2024-06-01", "attended", 14, 10), ("e", "2024-06-08", "attended", 6, 4),
        ("e", "2024-06-20", "late_cancel", NAN, NAN),
        # f: missed last appointment but recorded as transferred: other
        ("f", "2024-01-01", "attended", 12, 9), ("f", "2024-01-08", "no_show", NAN, NAN),
        # g: a scored session 16, the later missed slot carries a (stray) score that must be ignored
        ("g", "2024-01-01", "attended", 16, 9), ("g", "2024-01-08", "no_show", 2, 2),
    ]
    frame = pd.DataFrame(rows, columns=["client_id", "date", "status", "phq9", "gad7"])
    frame["date"] = pd.to_datetime(frame["date"])
    frame["therapist_id"] = "t1"
    return frame


def _clients():
    return pd.DataFrame({"client_id": list("abcdefg"),
                         "termination": ["dropout", "dropout", "dropout", "completed", "ongoing", "transferred", "dropout"]})


@pytest.fixture
def caseload():
    return Caseload(_sessions(), _clients(), export_date=EXPORT)


def _by_client(episodes, column):
    return {k: (None if pd.isna(v) else v) for k, v in episodes.set_index("client_id")[column].items()}


def test_ending_and_events_under_unilateral_unimproved(caseload):
    e = derive_episodes(caseload, EpisodeSettings("unilateral_unimproved", outcome_measure="phq9"))
    assert _by_client(e, "ending") == {"a": "left_improved", "b": "left_unimproved", "c": "left_unimproved",
                                       "d": "completed", "e": "ongoing", "f": "other", "g": "left_unimproved"}
    assert _by_client(e, "event") == {"a": 2, "b": 1, "c": 1, "d": 2, "e": 0, "f": 0, "g": 1}
    unilateral = derive_episodes(caseload, EpisodeSettings("unilateral"))
    assert _by_client(unilateral, "event") == {"a": 1, "b": 1, "c": 1, "d": 2, "e": 0, "f": 0, "g": 1}
    assert _by_client(unilateral, "ending") == _by_client(e, "ending")  # the ending does not depend on the definition


def test_the_outcome_measure_decides_who_left_improved(caseload):
    e = derive_episodes(caseload, EpisodeSettings("unilateral_unimproved", outcome_measure="gad7"))
    # on GAD-7, b improved by exactly 4 (reliable) and a did not change; c has two GAD-7 scores (15, 15)
    assert _by_client(e, "ending")["a"] == "left_unimproved" and _by_client(e, "ending")["b"] == "left_improved"
    assert _by_client(e, "event") == {"a": 1, "b": 2, "c": 1, "d": 2, "e": 0, "f": 0, "g": 1}
    default = derive_episodes(caseload, EpisodeSettings("unilateral_unimproved"))
    assert outcome_measure(caseload.sessions) == "phq9"
    assert _by_client(default, "event")["a"] == 2


def test_per_episode_outcome_columns(caseload):
    e = derive_episodes(caseload, EpisodeSettings("unilateral"))
    assert _by_client(e, "phq9_first") == {"a": 16, "b": 16, "c": 20, "d": 18, "e": 14, "f": 12, "g": 16}
    assert _by_client(e, "phq9_last") == {"a": 10, "b": 11, "c": None, "d": 9, "e": 6, "f": None, "g": None}
    assert _by_client(e, "phq9_change") == {"a": -6, "b": -5, "c": None, "d": -9, "e": -8, "f": None, "g": None}
    assert _by_client(e, "phq9_reliable_improvement") == {"a": 1, "b": 0, "c": None, "d": 1, "e": 1, "f": None, "g": None}
    assert _by_client(e, "phq9_recovered") == {"a": 0, "b": 0, "c": None, "d": 1, "e": 1, "f": None, "g": None}
    assert _by_client(e, "gad7_reliable_deterioration") == {"a": 0, "b": 0, "c": 0, "d": 1, "e": 0, "f": None, "g": None}
    # d: PHQ-9 reliably better, GAD-7 reliably worse: neither improvement nor deterioration by the paired rules;
    # at caseness on GAD-7 at the end (11), so not recovered
    assert _by_client(e, "nhs_reliable_improvement") == {"a": 1, "b": 1, "c": None, "d": 0, "e": 1, "f": None, "g": None}
    assert _by_client(e, "nhs_reliable_deterioration") == {"a": 0, "b": 0, "c": None, "d": 0, "e": 0, "f": None, "g": None}
    assert _by_client(e, "nhs_recovery") == {"a": 0, "b": 0, "c": None, "d": 0, "e": 1, "f": None, "g": None}
    assert _by_client(e, "nhs_reliable_recovery") == {"a": 0, "b": 0, "c": None, "d": 0, "e": 1, "f": None, "g": None}
    assert "ors_first" not in e and "oq45_first" not in e


def test_only_measures_with_scores_get_columns_and_the_definition_needs_one(caseload):
    sessions = _sessions().drop(columns=["phq9", "gad7"]).assign(ors=NAN)
    bare = Caseload(sessions, _clients(), export_date=EXPORT)
    assert "unilateral_unimproved" not in available_definitions(bare)
    e = derive_episodes(bare, EpisodeSettings("unilateral"))
    assert "ending" not in e and "ors_first" not in e
    with pytest.raises(ValueError, match='^The "Unilateral before reliable improvement" definition needs .* outcome measure'):
        derive_episodes(bare, EpisodeSettings("unilateral_unimproved"))  # named as the sidebar names it
    with pytest.raises(ValueError, match="has no scores"):
        derive_episodes(caseload, EpisodeSettings("unilateral_unimproved", outcome_measure="ors"))


def test_a_registered_measure_can_be_the_outcome_measure():
    sessions = _sessions().rename(columns={"phq9": "bdi2"}).drop(columns=["gad7"])
    bdi = Measure("bdi2", "BDI-II", 0, 63, False, 14, 6)
    caseload = Caseload(sessions, _clients(), export_date=EXPORT)
    settings = EpisodeSettings("unilateral_unimproved", outcome_measure="bdi2", outcome_measures=(bdi,))
    assert "unilateral_unimproved" in available_definitions(caseload, settings)
    e = derive_episodes(caseload, settings)
    assert _by_client(e, "ending")["a"] == "left_improved" and _by_client(e, "bdi2_recovered")["a"] == 1
    with pytest.raises(ValueError, match="built-in"):
        EpisodeSettings(outcome_measures=(Measure("phq9", "x", 0, 27, False, 10, 6),))
    with pytest.raises(ValueError, match="Unknown outcome measure"):
        EpisodeSettings(outcome_measure="bdi2")
