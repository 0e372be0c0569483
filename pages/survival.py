"""Survival: how long clients stay before dropping out, by group, with completion as a competing ending."""

import streamlit as st

from analytics import survival
from analytics.charts import survival as charts
from ui import state, widgets

st.title("Time to dropout")
state.require_caseload()
episodes = state.current_episodes()
time_scale = state.episode_settings().time_scale
time_label, unit = ("Sessions attended", "session") if time_scale == "sessions" else ("Days in therapy", "day")

options = [None] + survival.grouping_columns(episodes)
if st.session_state.get(state.KM_GROUP) not in options:
    st.session_state[state.KM_GROUP] = None
group = st.selectbox(
    "Compare groups by", options, key=state.KM_GROUP,
    format_func=lambda c: "No grouping (all clients)" if c is None else c.replace("_", " "),
    help="Any client characteristic with a few values. Clients with no value for it are left out.",
)

km = state.cached("kaplan_meier", survival.kaplan_meier, episodes, group)
lr = state.cached("logrank", survival.logrank, episodes, group) if group else None
cif = state.cached("cumulative_incidence", survival.cumulative_incidence, episodes, group)
for warning in dict.fromkeys(km.warnings + (lr.warnings if lr else []) + cif.warnings):
    st.warning(warning)

st.header("Staying in therapy")
sentences = survival.km_sentences(km, group, time_scale)
widgets.figure(
    charts.km_figure(km, at_risk=True, time_label=time_label), km.table, "kaplan_meier",
    " ".join(sentences) + " The shaded band is the 95% confidence interval; + marks clients whose "
    "therapy ended without a dropout (completed or still ongoing); the numbers below the chart are the "
    "clients still in therapy at each point.",
)
widgets.table(km.medians, "median_time_to_dropout", counts=["n", "events"])

if lr is not None and len(lr.table):
    st.subheader("Do the groups differ?")
    overall = lr.table.iloc[0]
    verdict = ("differ by more than chance would easily explain" if overall["p"] < 0.05
               else "could differ by chance alone")
    st.markdown(f"The curves {verdict} (log-rank test: chi-square {overall['statistic']:.2f} on "
                f"{overall['df']} df, p = {overall['p']:.3g}). Pairwise p values are Holm-adjusted "
                "for the number of comparisons.")
    widgets.table(lr.table, "logrank")

st.header("Dropout and completion together")
st.markdown(
    "A client who completes therapy can no longer drop out. The cumulative incidence counts both "
    "endings (Aalen-Johansen); one minus the Kaplan-Meier curve treats completers as if they might "
    "still drop out, and so overstates dropout."
)
last = cif.table.groupby("group", sort=False).tail(1)
incidence = " ".join(
    f"{'' if g == survival.ALL else f'{g}: '}by {unit} {t:g}, "
    f"{d:.0%} had dropped out and {c:.0%} had completed."
    for g, t, d, c in zip(last["group"], last["time"], last["cif_dropout"], last["cif_completed"])
)
widgets.figure(charts.cif_figure(cif, time_label=time_label), cif.table, "cumulative_incidence",
               incidence + " Solid lines: dropout; dashed lines: planned completion; bands: 95% intervals.")
gap = cif.overstatement["difference"].max() if len(cif.overstatement) else 0.0
widgets.figure(
    charts.overstatement_figure(cif, time_label=time_label), cif.overstatement, "km_overstatement",
    f"Ignoring completion as a competing ending overstates dropout by up to {gap:.0%} "
    "(the shaded gap between the dashed and the solid curve).",
)
