"""The Therapists page shows the analytics' own numbers: funnel counts, shrunken rates under
anonymous labels (in label order, never by rate), every therapist with its zone, the ICC sentence,
small-cell suppression by one rule, and a case-mix adjustment made on the page itself."""


import json

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
    return open_page("pages/therapists.py", PRACTICE, suppress_below=suppress, **{state.SHOW_IDS: show_ids},
                     for_researchers_therapist_icc=True)  # the model table is drawn only while its expander is open


def _label_order(labels):
    return sorted(labels, key=lambda label: (len(label), label))


def test_rates_table_uses_anonymous_labels_in_label_order():
    at = _app()
    funnel = therapist_funnel(EPISODES)
    labels = anonymous_labels(funnel.table["therapist_id"])
    shown = _table(at, "Best estimate of the rate")
    assert "therapist_id" not in shown.columns and "shrunk_rate" not in shown.columns
    assert shown["Therapist"].tolist() == _label_order(labels.values())
    expected = funnel.table.assign(therapist=funnel.table["therapist_id"].map(labels)).set_index("therapist")
    expected = expected.loc[shown["Therapist"]]
    assert shown["Clients with a known outcome"].tolist() == [f"{k:,}" for k in expected["known"]]
    assert shown["Best estimate of the rate"].tolist() == [f"{100 * r:.1f}%" for r in expected["shrunk_rate"]]
    assert shown["Compared with the limits"].tolist() == [f"{z} the limits" for z in expected["zone"]]
    assert not any(str(i) in " ".join(shown["Therapist"]) for i in funnel.table["therapist_id"])


def test_funnel_caption_counts_and_icc_sentence():
    at = _app()
    funnel = therapist_funnel(EPISODES)
    text = " ".join(m.value for m in at.markdown)
    above = int((funnel.table["zone"] == "above").sum())
    assert f"Of {len(funnel.table)} therapists, {above} have more dropout than expected for their caseload" in text
    assert funnel.takeaway in text
    model = fit_random_intercept(EPISODES)
    icc = model.icc.iloc[0]
    assert (f"{percent(icc['icc'], 1)} of the differences in dropout lie between therapists "
            f"(95% CI {percent(icc['ci_lower'], 1)} to {percent(icc['ci_upper'], 1)})") in text
    assert at.metric[0].value == percent(icc["icc"], 1)
    assert float(_table(at, "therapist_var")["icc"].iloc[0]) == pytest.approx(icc["icc"], rel=1e-2)


def test_ids_shown_when_asked():
    at = _app(show_ids=True)
    shown = _table(at, "Best estimate of the rate")
    assert shown["Therapist"].tolist() == _label_order(therapist_funnel(EPISODES).table["therapist_id"])


def test_every_therapist_appears_with_its_zone_when_its_counts_are_hidden():
    at = _app(suppress=11)
    funnel = therapist_funnel(EPISODES)
    labels = anonymous_labels(funnel.table["therapist_id"])
    shown = _table(at, "Best estimate of the rate").set_index("Therapist")
    assert sorted(shown.index) == sorted(labels.values())
    hidden = funnel.table.loc[funnel.hidden(11)]
    assert len(hidden) > 0
    rows = shown.loc[hidden["therapist_id"].map(labels)]
    assert (rows["Dropout rate"] == "hidden").all() and (rows["Best estimate of the rate"] == "hidden").all()
    assert rows["Compared with the limits"].tolist() == [f"{z} the limits" for z in hidden["zone"]]
    small = funnel.table.loc[(funnel.table["known"] > 0) & (funnel.table["known"] < 11), "therapist_id"].map(labels)
    assert (shown.loc[small, "Clients with a known outcome"] == "hidden").all()
    assert funnel.hidden_note(11) in " ".join(m.value for m in at.markdown)
    spec = json.loads(next(c for c in at.get("plotly_chart") if "counts hidden" in c.proto.spec).proto.spec)
    estimates, concealed = spec["data"]
    assert sorted(concealed["y"]) == sorted(hidden["therapist_id"].map(labels))
    assert not set(estimates["y"]) & set(concealed["y"])
    assert spec["layout"]["yaxis"]["categoryarray"] == _label_order(labels.values())


def test_case_mix_is_chosen_and_adjusted_on_this_page_alone():
    at = open_page("pages/therapists.py", PRACTICE, suppress_below=0, for_researchers_therapist_icc=True)
    assert not at.toggle(key="therapists_adjust").disabled, "the default case mix needs no other page"
    assert at.multiselect(key=state.COVARIATES).format_func("prior_negative_therapy") == "Earlier negative therapy"
    at.multiselect(key=state.COVARIATES).set_value(["referral", "srs_first"]).run()
    at.selectbox(key="reference_referral").set_value("self").run()
    at.toggle(key="therapists_adjust").set_value(True).run()
    assert not at.exception, at.exception
    adjusted = fit_random_intercept(EPISODES, ["referral", "srs_first"], reference_levels={"referral": "self"})
    assert float(_table(at, "therapist_var")["icc"].iloc[0]) == pytest.approx(adjusted.icc["icc"].iloc[0], rel=1e-2)
    assert adjusted.icc["icc"].iloc[0] != pytest.approx(fit_random_intercept(EPISODES).icc["icc"].iloc[0])
    assert "Adjusted for referral, first alliance rating (SRS)." in " ".join(m.value for m in at.markdown)
