"""Therapists: how much dropout differs between therapists, without a league table — a funnel plot,
shrunken rates and the share of the variation that lies between therapists."""

import streamlit as st

from analytics.caseload import label_order
from analytics.charts import regression as charts
from analytics.models.random_intercept import fit_random_intercept
from analytics.practice.display import sentence_label
from analytics.practice.therapists import private_effects, therapist_funnel
from analytics.proportions import percent
from analytics.survival.curves import covariate_columns
from ui import state, widgets

st.title("Therapists")
state.require_caseload()
episodes = state.current_episodes()
suppress_below = state.suppress_below()
if "therapist_id" not in episodes or episodes["therapist_id"].nunique() < 2:
    st.info("This view needs clients of at least two therapists (a therapist id for each client).")
    st.stop()

st.markdown(
    "Therapists see different clients, and a rate from few clients moves a lot by chance alone, so this page "
    "never ranks therapists by their raw dropout rate. The funnel plot shows how far each therapist's rate may "
    "wander by chance for their number of clients; the shrunken rate is each therapist's best estimate, pulled "
    "towards the practice rate the fewer clients it rests on. Rates count clients with a known outcome "
    "(dropout or planned completion)."
)

funnel = state.cached("therapist_funnel", therapist_funnel, episodes)
labels = state.therapist_labels()
for warning in funnel.warnings:
    st.caption(warning)

st.header("Funnel plot")
widgets.figure(
    state.cached_shown("chart_therapist_funnel", charts.funnel_figure, funnel, labels, suppress_below), funnel.limits, "therapist_funnel",
    f"**{funnel.takeaway}** The solid line is the practice rate "
    f"({percent(funnel.practice_rate, 1)}); dashed and dotted lines are the 95% and 99.8% control limits. "
    "A point outside the 99.8% limits is worth a conversation about case mix before anything else: the limits "
    "do not allow for the clients a therapist is given. " + funnel.hidden_note(suppress_below),
)

st.subheader("Every therapist")
st.markdown("Listed in the order of the labels (not by rate). The best estimate is each rate pulled towards the "
            "practice rate, most for therapists with few clients; the 95% CI is the raw rate's interval. A therapist "
            "whose counts are hidden still shows where it lies against the limits.")
shown = funnel.table.assign(therapist=funnel.table["therapist_id"].map(labels))
shown = shown.sort_values("therapist", key=lambda s: s.map(label_order))
widgets.table(shown[["therapist", "clients", "known", "dropouts", "rate", "shrunk_rate", "ci_lower", "ci_upper", "zone",
                     "flag"]], "therapist_rates", funnel.privacy)

st.header("How much of dropout lies between therapists?")
with st.expander("Case mix: the client characteristics to adjust for"):
    chosen, references = widgets.covariates_and_references(
        episodes, state.cached("covariate_columns", covariate_columns, episodes), ["court_mandated", "srs_first", "prior_negative_therapy"],
        "Characteristics (shared with the Drivers of dropout page)",
    )
adjust = st.toggle(
    "Adjust for case mix", key="therapists_adjust", disabled=not chosen,
    help="Compare therapists as if they saw similar clients: the characteristics chosen above enter the model.",
)
covariates = tuple(chosen) if adjust else ()
references = {k: v for k, v in references.items() if k in covariates}
with st.spinner("Fitting the random-intercept model..."):
    model = state.cached("random_intercept", fit_random_intercept, episodes, covariates, reference_levels=references)
for warning in model.warnings:
    st.caption(warning)
if model.icc.empty:
    st.stop()
icc = model.icc.iloc[0]
st.metric("Share of dropout differences between therapists (ICC)", percent(icc["icc"], 1))
st.markdown(f"**{model.takeaway}**")
st.markdown(
    "Published studies find 5–13% (Zimmermann et al. 2017; Saxon et al. 2017). The share is the intraclass "
    "correlation of a random-intercept logistic model on the latent scale, fitted by maximum likelihood with "
    f"adaptive Gauss-Hermite quadrature ({model.n_agq} points); {model.n_used:,} clients with a known outcome "
    f"of {model.n_clusters} therapists ({model.n_unknown_outcome:,} without one yet left out); "
    f"interval: {icc['method']}."
    + (f" Adjusted for {', '.join(sentence_label(c) for c in covariates)}." if covariates else "")
)
widgets.for_researchers(model.icc, "therapist_icc")
private = state.cached("therapist_private_effects", private_effects, model.effects, funnel, suppress_below)
effects = private.assign(therapist=private["therapist_id"].map(labels))
widgets.figure(
    state.cached_shown("chart_therapist_effects", charts.caterpillar_figure, private, labels),
    effects.sort_values("therapist", key=lambda s: s.map(label_order))[["therapist", "effect", "ci_lower", "ci_upper"]],
    "therapist_effects",
    "Each therapist's estimated odds of dropout relative to an average therapist, with 95% intervals, in the order "
    "of the labels. Estimates are shrunk towards the average, most for therapists with few clients; an interval "
    "that crosses 1 is compatible with an average therapist. Therapists whose counts are hidden keep their row "
    "without an estimate.",
)
