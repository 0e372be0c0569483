"""Watch list: hand-worked features and AUC, the leakage guard, and the sample's true effects."""

import numpy as np
import pandas as pd
import pytest

from analytics.episodes import EpisodeSettings, derive_episodes
from analytics.practice.watch_list import (
    _appointment_rows,
    _snapshots,
    _takeaway,
    appointment_features,
    auc_delong,
    auc_reading,
    model_notes,
    watch_list,
)
from analytics.synth import generate_caseload
from tests.practice_data import small_caseload


def test_auc_delong_by_hand():
    # positives 0.8, 0.4; negatives 0.5, 0.3, 0.3: 5 of 6 pairs ordered, variance 1/36 + 1/36
    area, lower, upper = auc_delong([1, 1, 0, 0, 0], [0.8, 0.4, 0.5, 0.3, 0.3])
    se = np.sqrt(2 / 36)
    assert area == pytest.approx(5 / 6)
    assert lower == pytest.approx(5 / 6 - 1.959964 * se, abs=1e-6) and upper == 1.0


def test_appointment_features_know_only_the_past():
    f = appointment_features(small_caseload().sessions).set_index(["client_id", "appointment"])
    c2 = f.loc[("c2", 2)]  # attended (SRS 30), then a no-show
    assert (c2["attended_so_far"], c2["misses_so_far"], c2["missed_last"], c2["srs_last"]) == (1, 1, 1.0, 30)
    # c5 rated 37 36 30 29: rupture at the third rating, still among the last two at the fourth
    assert f.loc["c5", "recent_rupture"].tolist() == [0, 0, 1, 1]
    assert f.loc["c1", "recent_rupture"].tolist() == [0, 0, 1, 1, 0]
    assert f.loc[("c3", 4), "srs_last"] == 34 and f.loc[("c3", 4), "missed_last"] == 1


def test_closed_episodes_are_cut_before_their_last_appointment():
    caseload = small_caseload()
    episodes = derive_episodes(caseload, EpisodeSettings("unilateral"))
    snap = _snapshots(caseload.sessions, episodes, seed=1).set_index("client_id")
    scheduled = episodes.set_index("client_id")["sessions_scheduled"]
    closed = snap.loc[snap["closed"]]
    assert (closed["appointment"] < scheduled.reindex(closed.index)).all()
    # c2's only earlier appointment is the attended first one, so its final no-show is never seen
    assert snap.loc["c2", "appointment"] == 1 and snap.loc["c2", "missed_last"] == 0
    assert snap.loc[~snap["closed"], "appointment"].to_dict() == {"c4": 3, "c6": 1}


def test_too_few_closed_episodes_is_a_clear_message():
    caseload = small_caseload()
    with pytest.raises(ValueError, match="Too few ended episodes"):
        watch_list(caseload.sessions, derive_episodes(caseload, EpisodeSettings()))
    with pytest.raises(ValueError, match="sessions file"):
        watch_list(None, derive_episodes(caseload, EpisodeSettings()))


def test_watch_list_on_sample_recovers_true_effects(sample):
    caseload, episodes = sample
    result = watch_list(caseload.sessions, episodes)
    coef = result.coefficients.set_index("term")["coef"]
    assert coef["referral[court-mandated]"] > 0.4  # true log-hazard effect 0.7
    assert coef["prior_negative_therapy"] > 0  # true 0.4
    assert coef["srs_last"] < 0  # true -0.45 per 4 points
    acc = result.accuracy.iloc[0]
    assert acc["auc"] > 0.7 and acc["ci_lower"] < acc["auc"] < acc["ci_upper"]
    assert result.calibration["n"].sum() == acc["test_episodes"]
    assert result.calibration["dropouts"].sum() == acc["test_dropouts"]
    table = result.table
    open_ids = episodes.loc[(episodes["event"] == 0) & (episodes["termination"] == "ongoing"), "client_id"]
    assert set(table["client_id"]) <= set(open_ids)
    assert table["risk"].is_monotonic_decreasing and table["rank"].tolist() == list(range(1, len(table) + 1))
    assert list(table.columns) == ["rank", "client_id", "therapist_id", "therapist_label", "sessions_attended",
                                   "last_attended", "days_since_contact", "next_appointment", "risk", "reasons"]
    court = table.merge(episodes[["client_id", "referral"]], on="client_id")
    mentioned = court["reasons"].str.contains("Referral: court-mandated.")
    assert mentioned.any() and (court.loc[mentioned, "referral"] == "court-mandated").all()
    assert table["reasons"].str.endswith(".").all()
    labels = episodes.set_index("client_id")["therapist_label"]
    assert table["therapist_label"].tolist() == labels.loc[table["client_id"]].tolist()


def test_last_attended_and_days_since_contact_come_from_the_appointments(sample):
    caseload, episodes = sample
    result = watch_list(caseload.sessions, episodes, export_date=caseload.export_date)
    sessions = caseload.sessions
    attended = sessions.loc[sessions["status"] == "attended"].groupby("client_id")["date"].max()
    table = result.table.set_index("client_id")
    assert (table["last_attended"] == attended.loc[table.index]).all()
    days = (caseload.export_date - attended.loc[table.index]).dt.days
    assert table["days_since_contact"].tolist() == days.tolist()


def test_next_appointment_is_the_first_booked_after_the_export_date(sample):
    caseload, episodes = sample
    export = caseload.export_date
    day = pd.Timedelta(days=1)
    first, second, third = watch_list(caseload.sessions, episodes, export_date=export).table["client_id"].iloc[:3]
    booked = pd.DataFrame({"client_id": [first, first, second, third, "not-a-client"],
                           "therapist_id": "t", "date": [export + 9 * day, export + 2 * day, export, export - day,
                                                         export + day]})
    result = watch_list(caseload.sessions, episodes, export_date=export, booked=booked)
    upcoming = result.table.set_index("client_id")["next_appointment"]
    assert upcoming.loc[first] == export + 2 * day
    assert upcoming.drop(first).isna().all()  # booked on or before the export date is no next appointment
    assert result.booked_note == ""


def test_an_export_without_booked_appointments_says_so(sample):
    caseload, episodes = sample
    for booked in (None, pd.DataFrame({"client_id": ["x"], "therapist_id": ["t"], "date": [caseload.export_date]})):
        result = watch_list(caseload.sessions, episodes, export_date=caseload.export_date, booked=booked)
        assert result.table["next_appointment"].isna().all()
        assert result.booked_note == (f"The export holds no appointments booked after "
                                      f"{caseload.export_date:%d %B %Y}, so the next booked appointment is not shown. "
                                      "Export future appointments too to see it.")


def test_a_weight_against_the_known_direction_is_explained_the_right_way_round(sample):
    caseload, episodes = sample
    coefficients = watch_list(caseload.sessions, episodes).coefficients.set_index("term")
    # In the sample, risk acts through the current rating only (sample_data/README.md) and a rupture's
    # drop fades (r_t = 0.4 r_(t-1)): with the latest rating held equal, a rupture goes with less dropout.
    assert coefficients.loc["recent_rupture", "odds_ratio"] < 1
    notes = " ".join(watch_list(caseload.sessions, episodes).model_notes)
    assert "Rupture in the last two ratings: the model's odds ratio is" in notes
    assert "It does not mean less risk: a rupture is a sudden fall in the rating" in notes
    assert "Referral" not in notes  # no known direction, no note


def test_model_notes_only_for_weights_against_their_known_direction():
    coefficients = pd.DataFrame({"term": ["srs_last", "recent_rupture", "missed_last", "trauma_history"],
                                 "odds_ratio": [0.9, 0.7, 1.5, 0.8], "odds_ratio_alone": [0.88, 1.3, 1.4, 0.9]})
    notes = model_notes(coefficients)
    assert len(notes) == 1
    assert notes[0].startswith("Rupture in the last two ratings: the model's odds ratio is 0.70 (on its own 1.30), "
                               "which reads as less dropout. It does not mean less risk:")


def test_watch_list_is_deterministic_and_filters_by_therapist(sample):
    caseload, episodes = sample
    first = watch_list(caseload.sessions, episodes)
    again = watch_list(caseload.sessions, episodes)
    assert first.table.equals(again.table) and first.accuracy.equals(again.accuracy)
    therapist = first.table["therapist_id"].iloc[0]
    mine = watch_list(caseload.sessions, episodes, therapist=therapist).table
    assert (mine["therapist_id"] == therapist).all()
    assert mine["rank"].tolist() == first.table.loc[first.table["therapist_id"] == therapist, "rank"].tolist()


def test_watch_list_without_alliance_ratings(sample):
    caseload, episodes = sample
    result = watch_list(caseload.sessions.drop(columns=["srs", "wai"]), episodes)
    assert "srs_last" not in set(result.coefficients["term"])
    assert any("No `srs` column" in w for w in result.warnings)
    assert not result.table["reasons"].str.contains("alliance").any()


def test_takeaway_warns_when_the_ranking_is_chance():
    table = pd.DataFrame({"risk": [0.6, 0.2]})
    weak = pd.DataFrame([{"auc": 0.55, "ci_lower": 0.45, "ci_upper": 0.65}])
    assert _takeaway(table, weak) == ("2 clients are in therapy now; 1 has an estimated dropout risk of 50% or more. "
                                      "The ranking is no better than chance could give (AUC 0.55, 95% CI 0.45 to 0.65 "
                                      "on ended episodes the model had not seen): do not rely on it.")
    good = pd.DataFrame([{"auc": 0.82, "ci_lower": 0.77, "ci_upper": 0.87}])
    assert "ranking is good" in _takeaway(table, good)


def test_a_held_out_set_too_small_for_an_interval_is_said_in_words():
    """60 clients: the held-out tenth of ended episodes holds one dropout, so DeLong's interval is
    blank; the page read "95% CI nan to nan" and called the ranking "no better than chance"."""
    caseload = generate_caseload(n_clients=60, n_therapists=4, seed=7).caseload()
    result = watch_list(caseload.sessions, derive_episodes(caseload, EpisodeSettings("therapist_judged")),
                        export_date=caseload.export_date)
    accuracy = result.accuracy.iloc[0]
    assert (accuracy["test_episodes"], accuracy["test_dropouts"], accuracy["auc"]) == (17, 1, 0.75)
    assert result.takeaway.endswith("Too few of the ended episodes the model had not seen ended each way to judge the "
                                    "ranking (AUC 0.75, no interval): do not rely on it.")
    assert auc_reading(accuracy) == ("0.75", "No interval: too few of the held-out episodes ended each way. "
                                             "0.5 is a coin toss, 1 a perfect ranking.")
    # the design's note names the feature as the page's reasons do
    assert "No alliance rating yet has the same value for every episode used, so it was left out of the model." in result.warnings
    one_way = pd.Series({"auc": np.nan, "ci_lower": np.nan, "ci_upper": np.nan})
    assert auc_reading(one_way)[0] == "unknown"
    assert "all ended the same way" in _takeaway(pd.DataFrame({"risk": [0.6]}), one_way.to_frame().T)


@pytest.mark.parametrize("definition", ["unilateral", "therapist_judged", "early"])
def test_features_of_every_client_given_ahead_give_the_same_watch_list(definition):
    """The dashboard computes appointment_features once for every definition and passes them in:
    every table, sentence and count equals the watch list that computes them itself."""
    from analytics.ingest.load import load_caseload
    from tests.paths import ROOT

    caseload = load_caseload({t: str(ROOT / "sample_data" / f"{t}.csv") for t in ("sessions", "clients", "therapists")}).caseload
    episodes = derive_episodes(caseload, EpisodeSettings(definition))
    alone = watch_list(caseload.sessions, episodes, export_date=caseload.export_date)
    given = watch_list(caseload.sessions, episodes, export_date=caseload.export_date,
                       appointments=appointment_features(caseload.sessions))
    for part in ("table", "coefficients", "accuracy", "calibration"):
        pd.testing.assert_frame_equal(getattr(given, part), getattr(alone, part))
    assert (given.takeaway, given.warnings, given.n_used, given.n_left_out) == \
        (alone.takeaway, alone.warnings, alone.n_used, alone.n_left_out)
    assert len(alone.table) > 10


def test_a_snapshot_finds_the_same_appointment_as_a_join_on_client_and_number():
    """Each client's n-th appointment, found by its run in the features table, is the row a join on
    (client_id, appointment) finds; a client without that many appointments, or none, is left out."""
    rng = np.random.default_rng(5)
    counts = rng.integers(1, 6, size=40)
    appointments = pd.DataFrame({"client_id": np.repeat([f"c{i:02d}" for i in range(40)], counts),
                                 "appointment": np.concatenate([np.arange(1, n + 1) for n in counts])})
    appointments["row"] = np.arange(len(appointments))
    wanted = pd.DataFrame({"client_id": rng.choice([f"c{i:02d}" for i in range(45)], size=60),
                           "appointment": rng.integers(1, 7, size=60)})
    joined = wanted.reset_index().merge(appointments, on=["client_id", "appointment"], how="inner")
    row, found = _appointment_rows(appointments, wanted["client_id"], wanted["appointment"].to_numpy())
    assert 0 < found.sum() < len(wanted)
    np.testing.assert_array_equal(np.flatnonzero(found), joined["index"])
    np.testing.assert_array_equal(row, joined["row"])
