"""Survival: how long clients stay before dropping out, by group, with completion as a competing ending."""

import pandas as pd
import streamlit as st

from analytics.charts import cox as cox_charts
from analytics.charts import survival as charts
from analytics.models.design import is_categorical, levels_by_frequency
from analytics.models.imputation import pooled_fit
from analytics.survival import cox, curves, fine_gray, landmark, rmst
from ui import state, widgets

st.title("Time to dropout")
state.require_caseload()
episodes = state.current_episodes()
time_scale = state.episode_settings().time_scale
time_label, unit = ("Sessions attended", "session") if time_scale == "sessions" else ("Days in therapy", "day")

NONE = "(none)"


def choice(label, options, recipe_key, widget_key, names, default=None, where=st, **kwargs):
    """A selectbox over `options` (None allowed) mirrored into the recipe's key. A widget's own
    key is forgotten while its page is not shown, so it is re-seeded from the recipe's value."""
    shown = [NONE if o is None else o for o in options]
    saved = st.session_state.get(recipe_key, default)
    if isinstance(saved, (list, tuple)):
        saved = saved[0] if saved else None
    if st.session_state.get(widget_key) not in shown:
        seed = saved if saved in options else default
        st.session_state[widget_key] = NONE if seed is None else seed
    value = where.selectbox(label, shown, key=widget_key, format_func=lambda o: names(None if o == NONE else o), **kwargs)
    return None if value == NONE else value


group = choice(
    "Compare groups by", [None] + curves.grouping_columns(episodes), state.KM_GROUP, "survival_group",
    lambda c: "No grouping (all clients)" if c is None else c.replace("_", " "),
    help="Any characteristic known at intake with a few values. Clients with no value for it are left out. "
         "Measures taken during therapy are compared at a landmark, below.",
)
st.session_state[state.KM_GROUP] = group

with st.expander("Delayed entry and case weights (a researcher's own episode table)"):
    st.markdown("A client first observed after the start of therapy is at risk only from that time on "
                "(delayed entry); case weights let one row stand for several clients. Both apply to the curves, "
                "the restricted mean and the Cox model (not to the cumulative incidence or the Fine-Gray model).")
    left, right = st.columns(2)
    numeric = curves.numeric_columns(episodes)
    entry = choice("Entry time from", [None] + numeric, state.ENTRY, "survival_entry",
                   lambda c: "none (observed from the start)" if c is None else c.replace("_", " "), where=left)
    weights = choice("Case weights from", [None] + numeric, state.WEIGHTS, "survival_weights",
                     lambda c: "none (every client counts once)" if c is None else c.replace("_", " "), where=right)
    st.session_state[state.ENTRY], st.session_state[state.WEIGHTS] = entry, weights

km = state.cached("kaplan_meier", curves.kaplan_meier, episodes, group, time_scale, entry, weights)
lr = state.cached("logrank", curves.logrank, episodes, group) if group else None
cif = state.cached("cumulative_incidence", curves.cumulative_incidence, episodes, group, time_scale)
for warning in dict.fromkeys(km.warnings + (lr.warnings if lr else []) + cif.warnings):
    st.warning(warning)

st.header("Staying in therapy")
widgets.figure(
    charts.km_figure(km, at_risk=True, time_label=time_label, group_by=group), km.table, "kaplan_meier",
    km.takeaway + " The shaded band is the 95% confidence interval; + marks clients whose "
    "therapy ended without a dropout (completed or still ongoing); the numbers below the chart are the "
    "clients still in therapy at each point.",
)
widgets.table(km.medians, "median_time_to_dropout", curves.MEDIAN_PRIVACY, plain=False)

if lr is not None and len(lr.table):
    st.subheader("Do the groups differ?")
    st.markdown(lr.takeaway)
    widgets.table(lr.table, "logrank", plain=False)

st.header("Dropout and completion together")
st.markdown(
    "A client who completes therapy can no longer drop out. The cumulative incidence counts both "
    "endings (Aalen-Johansen); one minus the Kaplan-Meier curve treats completers as if they might "
    "still drop out, and so overstates dropout."
)
widgets.figure(charts.cif_figure(cif, time_label=time_label, group_by=group), cif.table, "cumulative_incidence",
               cif.takeaway + " Solid lines: dropout; dashed lines: planned completion; bands: 95% intervals.")
widgets.figure(charts.overstatement_figure(cif, time_label=time_label, group_by=group), cif.overstatement, "km_overstatement",
               curves.overstatement_takeaway(cif, km, time_scale))

st.header("How long do clients stay? (restricted mean)")
st.markdown(
    f"The restricted mean is the area under the curve above: the average number of {unit}s a client stays "
    f"before dropping out, counting only up to a horizon. Unlike a hazard ratio it reads in {unit}s and "
    "needs no proportional hazards. Leave the horizon empty for the shortest group's last observed time."
)
tau = st.number_input(f"Horizon ({unit}s)", min_value=0.0, value=st.session_state.get(state.RMST_TAU), step=1.0,
                      key="rmst_tau_input", placeholder="shortest group's last observed time")
st.session_state[state.RMST_TAU] = tau or None
restricted = state.cached("restricted_mean", rmst.restricted_mean, episodes, tau or None, group, time_scale, entry,
                          weights)
for warning in restricted.warnings:
    st.warning(warning)
st.markdown(restricted.takeaway)
widgets.table(restricted.table, "restricted_mean", plain=False)
if len(restricted.contrasts):
    widgets.table(restricted.contrasts, "restricted_mean_contrasts", plain=False)

st.header("Measures taken during therapy: a landmark comparison")
st.markdown(landmark.EXPLANATION)
left, right = st.columns(2)
st.session_state.setdefault(state.LANDMARK_SESSION, landmark.DEFAULT_LANDMARK)
k = left.number_input("Landmark: after session", min_value=1, max_value=30, step=1, key=state.LANDMARK_SESSION)
measure = choice(
    "Compare by", list(landmark.LANDMARK_GROUPS), state.LANDMARK_MEASURE, "survival_landmark_measure",
    lambda m: landmark.LANDMARK_GROUPS[m][0], default="ruptures", where=right,
)
st.session_state[state.LANDMARK_MEASURE] = measure
marked = widgets.result_or_reason("landmark", landmark.landmark_km, episodes, state.current_sessions(), int(k),
                                  measure, state.episode_settings())
if marked is not None:
    for warning in marked.warnings:
        st.caption(warning)
    widgets.figure(charts.km_figure(marked.km, at_risk=True, time_label=f"Sessions attended after session {int(k)}",
                                    group_by=measure),
                   marked.km.table, "landmark_kaplan_meier", marked.takeaway)
    widgets.table(marked.km.medians, "landmark_medians", marked.privacy, plain=False)

st.header("What goes with a higher dropout rate? (Cox model)")
st.markdown(
    "A Cox model compares dropout rates while holding the other chosen characteristics constant. "
    "A hazard ratio above 1 means dropping out at a higher rate, below 1 at a lower rate. Only "
    "characteristics known at the start of therapy are offered."
)
candidates = state.cached("covariate_columns", curves.covariate_columns, episodes)
covariates, references = widgets.covariates_and_references(
    episodes, candidates, ["court_mandated", "srs_first", "prior_negative_therapy"], "Characteristics in the model"
)

left, right = st.columns(2)
clusters = [c for c in ("therapist_id", "site") if c in episodes] + [None]
cluster = choice(
    "Clients grouped by", clusters, state.CLUSTER, "cox_cluster",
    lambda c: {"therapist_id": "therapist", "site": "site", None: "no grouping"}[c], default=clusters[0],
    where=left, help="Clients of one therapist are alike; grouped (robust) standard errors allow for that.",
)
strata = choice(
    "Separate baseline for each", [None] + [c for c in curves.grouping_columns(episodes) if c not in covariates],
    state.STRATA, "cox_strata", lambda c: "nothing (one baseline)" if c is None else c.replace("_", " "),
    where=right, help="Stratify on a characteristic whose effect changes over time (see the test below).",
)
st.session_state[state.CLUSTER] = cluster
st.session_state[state.STRATA] = [strata] if strata else []
numbers = [c for c in covariates if not is_categorical(episodes[c]) and episodes[c].nunique() > 4]
left, right = st.columns(2)
saved = dict(st.session_state.get(state.SPLINES) or {})
bend = choice(
    "Let a number bend (natural spline)", [None] + numbers, state.SPLINES, "cox_spline",
    lambda c: "none (straight lines)" if c is None else c.replace("_", " "), where=left,
    default=next((c for c in saved if c in numbers), None),
    help="A natural cubic spline (as R's ns()) lets the dropout rate rise and fall across the values of a number.",
)
df = right.number_input("Spline degrees of freedom", min_value=1, max_value=8, value=saved.get(bend, 3), step=1,
                        key="cox_spline_df", disabled=bend is None)
splines = {bend: int(df)} if bend else {}
st.session_state[state.SPLINES] = splines

if not covariates:
    st.info("Choose at least one characteristic to fit the model.")
    st.stop()
try:
    # A fit is not hashable, so what is computed from it is memoized under the model's own arguments.
    model = (episodes, tuple(covariates))
    options = dict(reference_levels=references, strata=strata, cluster=cluster, splines=splines, entry=entry,
                   weights=weights)
    with st.spinner("Fitting the Cox model..."):
        fit = state.cached("cox", cox.fit_cox, *model, **options)
except ValueError as problem:
    st.error(str(problem))
    st.stop()
for warning in fit.warnings:
    st.warning(warning)
if fit.model is None:
    st.stop()
st.caption(f"{fit.n_used:,} clients, {fit.events:,} dropouts ({fit.events_per_parameter:.0f} per model term); "
           f"concordance {fit.concordance:.2f}" + (f"; standard errors grouped by {cluster.replace('_id', '')}"
                                                     f" ({fit.n_clusters} groups)" if cluster else "") + ".")
widgets.figure(cox_charts.forest_figure(fit.table), fit.table, "cox_hazard_ratios",
               fit.takeaway)
widgets.table(fit.table, "cox_hazard_ratio_table", plain=False)
for name, effect in fit.partial_effects.items():
    widgets.figure(cox_charts.partial_effect_figure(effect, name.replace("_", " ")), effect, f"cox_spline_{name}",
                   f"The hazard ratio of dropout across {name.replace('_', ' ')}, against a client at its median "
                   f"({fit.splines[name].median:g}), with the other characteristics held constant.")

if fit.n_left_out:
    imputing = st.toggle(
        f"Fill in missing characteristics instead of leaving {fit.n_left_out:,} clients out (multiple imputation)",
        value=st.session_state.get(state.MISSING_COVARIATES) == "multiple_imputation", key="cox_imputation",
        help="Chained equations with predictive mean matching, 20 imputed data sets, pooled by Rubin's rules. "
             "Complete cases (above) stay the main analysis; this shows whether the answer depends on them.")
    st.session_state[state.MISSING_COVARIATES] = "multiple_imputation" if imputing else "complete_case"
    if imputing:
        plain = {k: v for k, v in options.items() if k != "splines"}  # knots would differ between imputed sets
        with st.spinner("Imputing and fitting 20 models..."):
            pooled = state.cached("cox_imputed", lambda *_, **__: pooled_fit(
                episodes, covariates, lambda d: cox.fit_cox(d, covariates, **plain), "Cox model", "hazard ratios"),
                *model, **plain)
        for warning in pooled.warnings:
            st.warning(warning)
        st.markdown(pooled.takeaway)
        widgets.table(pooled.table, "cox_imputed", plain=False)

st.subheader("What goes with a larger share who end up dropping out? (Fine-Gray model)")
st.markdown(
    "The Cox model above compares dropout rates among clients still in therapy (cause-specific). The "
    "Fine-Gray model compares the share of clients who end up dropping out, with completion as the competing "
    "ending: a characteristic that speeds completion lowers it even if it leaves the dropout rate alone. "
    "Read the two together."
)
subdistribution = state.cached("fine_gray", fine_gray.fit_fine_gray, *model, reference_levels=references,
                               cluster=cluster, splines=splines)
if entry or weights:
    st.caption("The Fine-Gray model (as R's crr) takes neither delayed entry nor case weights; it uses every "
               "client from the start, once.")
for warning in subdistribution.warnings:
    st.warning(warning)
if subdistribution.table["shr"].notna().any():
    widgets.figure(cox_charts.forest_figure(subdistribution.table, estimate="shr"), subdistribution.table,
                   "fine_gray_subdistribution_hazard_ratios", subdistribution.takeaway)
    widgets.table(subdistribution.table, "fine_gray_table", plain=False)

st.subheader("Does each effect stay the same over time?")
with st.spinner("Testing proportional hazards..."):
    ph = state.cached("cox_ph_test", lambda *_, **__: cox.ph_test(fit), *model, **options)
st.markdown("The Cox model assumes each hazard ratio is constant over time (proportional hazards). "
            "A small p value below says it changes; then stratify on that characteristic or read "
            "its hazard ratio as an average over follow-up.")
widgets.table(ph.table, "ph_test", plain=False)
st.info(ph.takeaway)
with st.expander("Scaled Schoenfeld residuals"):
    widgets.figure(cox_charts.ph_residual_figure(ph, time_label=time_label), ph.residuals, "ph_residuals",
                   "A flat trend line is what proportional hazards look like.")

st.subheader("Adjusted curves")
left, right = st.columns(2)
curve_covariate = left.selectbox("Curves for", covariates, key="adjusted_covariate",
                                 format_func=lambda c: c.replace("_", " "))
categorical = curve_covariate in fit.reference
suggested = cox.curve_values(episodes, curve_covariate, categorical)
if categorical:
    values = right.multiselect("Values", levels_by_frequency(episodes[curve_covariate]), default=suggested,
                               key=f"adjusted_values_{curve_covariate}")
else:
    typed = right.text_input("Values (separated by commas)", ", ".join(f"{v:g}" for v in suggested),
                             key=f"adjusted_values_{curve_covariate}")
    values = pd.to_numeric(pd.Series([v.strip() for v in typed.split(",") if v.strip()]), errors="coerce")
    if values.isna().any():
        st.error("Type numbers separated by commas, e.g. 20, 30, 36.")
        st.stop()
    values = values.tolist()
if values:
    adjusted = state.cached("cox_adjusted_curves", lambda *_, **__: cox.adjusted_curves(fit, curve_covariate, values),
                          *model, curve_covariate, tuple(values), **options)
    widgets.figure(
        cox_charts.adjusted_curves_figure(adjusted, curve_covariate.replace("_", " "), time_label=time_label), adjusted, "cox_adjusted_curves",
        f"Share not dropped out by {unit}, predicted for each chosen value of "
        f"{curve_covariate.replace('_', ' ')}, with the other characteristics held at their average "
        "(numbers) or reference level (categories).",
    )
