"""Outcomes: did clients get better, and did those who left get better first? Reliable change and
recovery by ending, pre-post effect sizes and the average score by session for each ending."""

import streamlit as st

from analytics.charts import practice as charts
from analytics.practice import outcomes
from analytics.practice.alliance import rated_rows
from ui import state, widgets

st.title("Outcomes")
state.require_caseload()
settings = state.episode_settings()
episodes = state.current_episodes()
suppress_below = state.suppress_below()
sessions = state.current_sessions()

rates = widgets.result_or_reason("outcome_rates", outcomes.outcome_rates, episodes, settings)
if rates is None:
    st.stop()
measure = outcomes.chosen_measure(episodes, settings)
label = settings.measures()[measure].label
st.caption(outcomes.ENDINGS_NOTE)

# Only the open section is computed and drawn, so a change of definition or filter redraws one of them.
SECTIONS = ("Reliable change and recovery by ending", "How much clients changed", "Over the course of therapy")
rates_tab, effects_tab, course_tab = st.tabs(SECTIONS, key="outcomes_section", on_change="rerun")

with rates_tab:
    if rates_tab.open:
        widgets.figure(state.cached_shown("chart_outcome_rates", charts.outcome_rates_figure, rates.table, measure, suppress_below),
                       None, "outcome_rates_chart",
                       f"**{rates.takeaway}** Points are shares of the clients with a first and a last score, bars their 95% "
                       "intervals; recovery counts only clients who began in the clinical range.")
        widgets.table(rates.table.drop(columns="measure"), "outcome_rates", rates.privacy)  # named by its label

        leavers = state.cached("outcomes_leavers_improved", outcomes.leavers_improved, episodes, settings, suppress_below)
        st.subheader("How many who left had improved?")
        st.markdown(f"**{leavers.takeaway}**")
        for warning in leavers.warnings:
            st.caption(warning)
        widgets.table(leavers.table, "leavers_improved", leavers.privacy)

with effects_tab:
    if effects_tab.open:
        effects = state.cached("outcomes_pre_post", outcomes.pre_post_effects, episodes, settings)
        st.markdown(f"**{effects.takeaway}** {outcomes.EFFECT_NOTE}")
        widgets.table(effects.table.drop(columns="measure"), "pre_post_effects", effects.privacy)  # named by its label

with course_tab:
    if course_tab.open:
        st.subheader(f"{label} over the course of therapy")
        rows = state.cached_for_every_definition("outcome_rated_rows", rated_rows, sessions, measure)  # as on Alliance
        trajectories = state.cached("outcomes_trajectories", outcomes.outcome_trajectories, sessions, episodes, settings,
                                    rows=rows)
        widgets.figure(state.cached_shown("chart_outcome_trajectories", charts.trajectory_figure, trajectories.table, measure,
                                          suppress_below, settings.measures()[measure].cutoff, group="ending", label=label,
                                          names=outcomes.GROUP_LABELS),
                       None, "outcome_trajectories_chart",
                       f"**{trajectories.takeaway}** Lines are mean scores at each attended session, bands their 95% "
                       "intervals; points resting on fewer clients than the privacy threshold are left out; the dotted "
                       "line is the clinical cutoff.")
        widgets.table(trajectories.table, "outcome_trajectories", trajectories.privacy)
