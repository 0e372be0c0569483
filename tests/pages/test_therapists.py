"""The Therapists page shows the analytics' own numbers: funnel counts, shrunken rates under
anonymous labels (in label order, never by rate), the ICC sentence and small-cell suppression."""


import numpy as np
import pytest

from analytics.episodes import EpisodeSettings, derive_episodes
from analytics.models.random_intercept import fit_random_intercept
from analytics.caseload import anonymous_labels
from analytics.practice.therapists import therapist_funnel
from analytics.proportions import percent
from analytics.synth import generate_caseload
from tests.harness import frame as _table
from tests.harness import open_page
from ui import state

PRACTICE = generate_caseload(n_clients=900, n_therapists=14, seed=8).caseload()
EPISODES = derive_episodes(PRACTICE, EpisodeSettings())


def _app(suppress=0, show_ids=False):
    return open_page("pages/therapists.py", PRACTICE, suppress_below=suppress, **{state.SHOW_IDS: show_ids})


def test_rates_table_uses_anonymous_labels_in_label_order():
    at = _app()
    funnel = therapist_funnel(EPISODES)
    labels = anonymous_labels(funnel.table["therapist_id"])
    shown = _table(at, "shrunk_rate")
    assert "therapist_id" not in shown.columns
    assert shown["therapist"].tolist() == sorted(labels.values(), key=lambda label: (len(label), label))
    expected = funnel.table.assign(therapist=funnel.table["therapist_id"].map(labels)).set_index("therapist")
    expected = expected.loc[shown["therapist"]]
    assert shown["known"].tolist() == expected["known"].tolist()
    assert shown["shrunk_rate"].astype(float).tolist() == pytest.approx(expected["shrunk_rate"].round(3).tolist(), abs=1e-12)
    assert shown["rate"].astype(float).tolist() != sorted(shown["rate"].astype(float).tolist())
    assert not any(str(i) in " ".join(shown["therapist"]) for i in funnel.table["therapist_id"])


def test_funnel_caption_counts_and_icc_sentence():
    at = _app()
    funnel = therapist_funnel(EPISODES)
    text = " ".join(m.value for m in at.markdown)
    placed = int(funnel.table["rate"].notna().sum())
    assert f"{int(funnel.table['outside_95'].sum())} of {placed} therapists lie outside the 95% limits" in text
    model = fit_random_intercept(EPISODES)
    icc = model.icc.iloc[0]
    assert (f"{percent(icc['icc'], 1)} of the differences in dropout lie between therapists "
            f"(95% CI {percent(icc['ci_lower'], 1)} to {percent(icc['ci_upper'], 1)})") in text
    assert at.metric[0].value == percent(icc["icc"], 1)
    assert _table(at, "therapist_var")["icc"].iloc[0] == pytest.approx(icc["icc"])


def test_ids_shown_when_asked():
    at = _app(show_ids=True)
    shown = _table(at, "shrunk_rate")
    assert shown["therapist"].tolist() == sorted(therapist_funnel(EPISODES).table["therapist_id"])


def test_small_counts_are_suppressed_with_their_rates():
    at = _app(suppress=40)
    funnel = therapist_funnel(EPISODES).table
    labels = anonymous_labels(funnel["therapist_id"])
    shown = _table(at, "shrunk_rate").set_index("therapist")
    small = funnel.loc[(funnel["known"] > 0) & (funnel["known"] < 40), "therapist_id"].map(labels)
    assert len(small) > 0
    assert (shown.loc[small, "known"] == "<40").all()
    masked = ("<40", "hidden")  # a derived rate may say "hidden" rather than "<40"
    assert shown.loc[small, "shrunk_rate"].isin(masked).all() and shown.loc[small, "rate"].isin(masked).all()
    big = funnel.loc[funnel["known"] >= 40]
    assert (shown.loc[big["therapist_id"].map(labels), "known"].astype(float).to_numpy() == big["known"].to_numpy()).all()
    few_dropouts = funnel.loc[(funnel["dropouts"] > 0) & (funnel["dropouts"] < 40), "therapist_id"].map(labels)
    assert shown.loc[few_dropouts, "rate"].isin(masked).all()
    visible = shown.loc[~shown["rate"].isin(masked), "rate"].astype(float)
    expected = funnel.set_index(funnel["therapist_id"].map(labels))["rate"]
    np.testing.assert_allclose(visible.to_numpy(), expected.loc[visible.index].to_numpy(), rtol=5e-3)


def test_case_mix_adjusted_icc_uses_the_drivers_covariates():
    at = open_page("pages/therapists.py", PRACTICE, suppress_below=0, **{state.COVARIATES: ["referral", "srs_first"],
                                                                     state.REFERENCE_LEVELS: {"referral": "self"}})
    at.toggle(key="therapists_adjust").set_value(True).run()
    assert not at.exception, at.exception
    adjusted = fit_random_intercept(EPISODES, ["referral", "srs_first"], reference_levels={"referral": "self"})
    assert _table(at, "therapist_var")["icc"].iloc[0] == pytest.approx(adjusted.icc["icc"].iloc[0])
    assert adjusted.icc["icc"].iloc[0] != pytest.approx(fit_random_intercept(EPISODES).icc["icc"].iloc[0])
    assert "Adjusted for referral, srs first." in " ".join(m.value for m in at.markdown)
