"""One anonymous label per therapist per dataset: fixed by a salted hash of the ids of the whole
caseload, carried by the episodes so a filter never relabels a therapist."""

from analytics.caseload import anonymous_labels
from analytics.episodes import EpisodeSettings, derive_episodes, filter_episodes, therapist_labels
from analytics.synth import generate_caseload

CASELOAD = generate_caseload(n_clients=600, n_therapists=12, seed=3).caseload()


def test_anonymous_labels_are_stable_and_follow_the_salted_hash():
    ids = ["T1", "T2", "T3"]
    labels = anonymous_labels(ids)
    assert labels == {"T3": "Therapist A", "T2": "Therapist B", "T1": "Therapist C"}
    assert anonymous_labels(list(reversed(ids))) == labels
    many_ids = [f"T{i:03d}" for i in range(30)]
    many = anonymous_labels(many_ids)
    assert anonymous_labels(many_ids, salt="other") != many
    assert sorted(many.values()) == sorted([f"Therapist {c}" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"] +
                                           ["Therapist AA", "Therapist AB", "Therapist AC", "Therapist AD"])
    assert [many[i] for i in many_ids[:3]] != ["Therapist A", "Therapist B", "Therapist C"]


def test_episodes_keep_the_caseload_labels_under_a_site_filter():
    episodes = derive_episodes(CASELOAD, EpisodeSettings())
    whole = therapist_labels(episodes)
    assert whole == CASELOAD.therapist_labels == anonymous_labels(episodes["therapist_id"].unique())
    site = sorted(episodes["site"].dropna().unique())[0]
    one_site = filter_episodes(episodes, sites=[site])
    kept = therapist_labels(one_site)
    assert 0 < len(kept) < len(whole)
    assert kept == {i: whole[i] for i in kept}
    assert kept != anonymous_labels(kept)  # labelling the filtered ids alone would have relabelled some


def test_a_table_without_the_label_column_is_labelled_from_its_ids():
    episodes = derive_episodes(CASELOAD, EpisodeSettings()).drop(columns="therapist_label")
    assert therapist_labels(episodes) == anonymous_labels(episodes["therapist_id"])
