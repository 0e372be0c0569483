"""Drivers of dropout: which client, therapist and therapy characteristics go with dropping out,
by logistic regression, GEE and the Cox model side by side in one forest plot."""

import streamlit as st

from analytics.charts import cox as cox_charts
from analytics.charts import regression as charts
from analytics.models import regression, table_one
from analytics.survival import cox
from analytics.survival.cox_results import hazard_ratio_sentences
from analytics.survival.curves import covariate_columns, grouping_columns
from ui import state, widgets

LOGISTIC, GEE, COX = "Logistic regression", "GEE (clients grouped by therapist)", "Cox model"
CAVEAT = ("These are associations in observational data, not proof of cause: clients who differ in one "
          "characteristic often differ in others that were not measured.")

st.title("Drivers of dropout")
state.require_caseload()
episodes = state.current_episodes()
st.markdown(
    "Which characteristics go with dropping out, each while holding the others constant? Three models answer "
    "in slightly different ways. **Logistic regression** compares clients who dropped out with clients who "
    "completed (odds ratios; ongoing clients are left out). **GEE** is the same comparison allowing for clients "
    "of one therapist being alike. The **Cox model** also uses how long each client stayed, including clients "
    "still in therapy (hazard ratios). A ratio above 1 goes with more dropout, below 1 with less."
)

models = st.multiselect("Models", [LOGISTIC, GEE, COX], default=[GEE, COX], key="drivers_models")
candidates = state.cached("covariate_columns", covariate_columns, episodes)
covariates, references = widgets.covariates_and_references(
    episodes, candidates, ["court_mandated", "srs_first", "prior_negative_therapy"], "Characteristics in the models"
)

if covariates:
    with st.expander("Table 1: the chosen characteristics, overall and by group", expanded=False):
        options = [None] + [c for c in grouping_columns(episodes) if c not in covariates]
        if st.session_state.get(state.TABLE_ONE_GROUP) not in options:
            st.session_state[state.TABLE_ONE_GROUP] = None
        group = st.selectbox("Columns by", options, key=state.TABLE_ONE_GROUP,
                             format_func=lambda c: "no grouping (all clients)" if c is None else c.replace("_", " "))
        baseline = state.cached("table_one", table_one.table_one, episodes, tuple(covariates), group, state.suppress_below())
        for warning in baseline.warnings:
            st.warning(warning)
        st.markdown(baseline.takeaway + " Numbers: mean (SD) and median [IQR]; categories: n (%) of the clients "
                    "with a value; smd: standardized mean difference (above 0.1 is the usual sign of imbalance).")
        widgets.table(baseline.display, "table_one", plain=False)

if not models or not covariates:
    st.info("Choose at least one model and one characteristic.")
    st.stop()

cluster = "therapist_id" if "therapist_id" in episodes else None
# the natural spline chosen on the Survival page (recipe key `splines`), for the covariates chosen here
splines = {k: v for k, v in (st.session_state.get(state.SPLINES) or {}).items() if k in covariates}
fits = {}
try:
    with st.spinner("Fitting the models..."):
        if LOGISTIC in models:
            fits[LOGISTIC] = state.cached("logistic", regression.fit_logistic, episodes, tuple(covariates), references,
                                          splines)
        if GEE in models:
            if cluster is None:
                st.info("GEE needs a therapist for each client; this dataset has none, so GEE is skipped.")
            else:
                fits[GEE] = state.cached("gee", regression.fit_gee, episodes, tuple(covariates), references)
        if COX in models:
            fits[COX] = state.cached("cox", cox.fit_cox, episodes, tuple(covariates), reference_levels=references,
                                     strata=None, cluster=cluster, splines=splines)
except ValueError as problem:
    st.error(str(problem))
    st.stop()

for name, fit in fits.items():
    for warning in fit.warnings:
        st.warning(f"{name}: {warning}")

tables = {name: fit.table for name, fit in fits.items() if not fit.table.empty}
if not tables:
    st.stop()
comparison = regression.comparison_table(tables)
counts = []
for name, fit in fits.items():
    if name == COX:
        counts.append(f"{name}: {fit.n_used:,} clients, {fit.events:,} dropouts")
    else:
        counts.append(f"{name}: {fit.n_used:,} clients with a known outcome, {fit.events:,} dropouts "
                      f"({fit.n_unknown_outcome:,} still in therapy or without a recorded ending left out)")
st.caption("; ".join(counts) + ".")

main = next(name for name in (GEE, LOGISTIC, COX) if name in tables)
if main == COX:
    sentences = [s for s in hazard_ratio_sentences(fits[COX]) if "observational" not in s]
else:
    sentences = regression.odds_ratio_sentences(fits[main])
st.header("What goes with dropping out")
st.markdown(f"From the {main.split(' (')[0]}:")
st.markdown("\n".join(f"- {s}" for s in sentences))
st.info(CAVEAT)

widgets.figure(
    charts.comparison_forest_figure(comparison), comparison, "drivers_forest",
    "Each row is a characteristic, each marker a model, with its 95% interval; the dashed line at 1 means no "
    "association. Odds ratios and hazard ratios measure different things (odds of ever dropping out vs. the rate "
    "of dropping out over time), so read agreement in direction rather than in size.",
)
widgets.table(comparison, "drivers_comparison", plain=False)

if LOGISTIC in fits and not fits[LOGISTIC].table.empty:
    fit = fits[LOGISTIC]
    st.subheader("How well does the logistic model sort clients?")
    left, right = st.columns(2)
    left.metric("AUC", f"{fit.auc:.2f}")
    left.caption("The chance that a client who dropped out had a higher predicted risk than one who completed "
                 "(0.5 is a coin toss, 1 a perfect ranking).")
    right.metric("Outcomes per model term", f"{fit.events_per_parameter:.1f}")
    right.caption("Fewer than 10 makes the estimates unstable.")
    widgets.figure(charts.calibration_figure(fit.calibration), fit.calibration, "logistic_calibration",
                   "Calibration: in each tenth of predicted risk, the share who actually dropped out (95% interval). "
                   "Points near the dashed line mean the predicted risks are right on average.")
    widgets.table(fit.vif, "logistic_vif", plain=False)
    for name, effect in fit.partial_effects.items():
        widgets.figure(cox_charts.partial_effect_figure(effect, name.replace("_", " "), estimate="or"), effect,
                       f"logistic_spline_{name}",
                       f"The odds ratio of dropping out across {name.replace('_', ' ')} (a natural spline), against a "
                       f"client at its median ({fit.splines[name].median:g}), the other characteristics held constant.")
if GEE in fits and not fits[GEE].table.empty:
    fit = fits[GEE]
    st.caption(f"GEE: {fit.n_clusters} therapists; working correlation between clients of one therapist "
               f"{fit.working_correlation:.3f}; robust (sandwich) standard errors.")
