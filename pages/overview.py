"""Overview: the practice's dropout rate with its interval next to the published benchmark, then one
section at a time (this month and quarter, the 12-month rate against the practice's target and the
trend by intake, groups, how the definition moves the rate, who left improved, when dropout
happens), and the team-meeting summary.

Only the open section is computed and drawn, and the first view holds words, numbers and tables
but no chart: a chart's script alone takes the browser the whole first-page budget, and every change of
definition or filter redraws one section (docs/scale.md, "Speed as a director feels it")."""


import streamlit as st

from analytics.charts import practice as charts
from analytics.charts import survival as survival_charts
from analytics.output import export, summary
from analytics.practice import outcomes as practice_outcomes
from analytics.practice import overview, periods
from analytics.proportions import percent
from analytics.survival import curves
from ui import state, widgets

st.title("Overview")
caseload = state.require_caseload()
settings = state.episode_settings()
episodes = state.current_episodes()
suppress_below = state.suppress_below()

h = state.cached("practice_headline", overview.headline, episodes).for_display(suppress_below)
st.markdown(f"**{h.takeaway}**")
st.caption(f"Dropout definition: {overview.definition_label(settings.dropout_definition, settings)} (change it in the sidebar).")
for warning in h.warnings:
    st.warning(warning)

clients, appointments, rate, median = st.columns(4)
clients.metric("Clients", f"{h.clients:,}")
appointments.metric("Appointments", f"{h.sessions:,}")
if h.hidden:
    rate.metric("Dropout rate", f"<{suppress_below} dropouts")
else:
    rate.metric("Dropout rate", percent(h.rate, 1), help=overview.DENOMINATOR_NOTE)
    rate.caption(f"95% CI {percent(h.ci_lower, 1)} to {percent(h.ci_upper, 1)}; "
                 f"{h.dropouts:,} dropouts of {h.known:,} ended episodes")
median.metric("Median sessions attended", "unknown" if h.median_sessions != h.median_sessions else f"{h.median_sessions:g}")
if h.median_ci_lower == h.median_ci_lower:
    median.caption(f"95% CI {h.median_ci_lower:g} to {h.median_ci_upper:g}; clients whose episode has ended")
st.info(
    f"Published benchmark: {percent(overview.BENCHMARK['rate'], 1)} (95% CI {percent(overview.BENCHMARK['ci_lower'], 1)} "
    f"to {percent(overview.BENCHMARK['ci_upper'], 1)}), {overview.BENCHMARK['source']}. {overview.BENCHMARK_CAVEAT} "
    f"{overview.DENOMINATOR_NOTE}"
)
widgets.table(h.table, "headline")


def target_rate_input() -> None:
    st.number_input("Practice target for the dropout rate (%)", min_value=0.5, max_value=99.5, value=None, step=0.5,
                    key=state.TARGET_RATE, help="Named in the 12-month rate's sentence and drawn as a line on its chart "
                    "(Over time); saved in the recipe.")


def recent_periods() -> periods.PeriodResult | None:
    """The period comparison and 12-month rate, or None after saying why this data has none."""
    try:
        return state.cached("practice_periods", periods.period_comparison, episodes, suppress_below, state.target_rate())
    except ValueError as exc:
        st.info(str(exc))
        return None


def this_month_and_quarter() -> None:
    target_rate_input()
    recent = recent_periods()
    if recent is None:
        return
    st.markdown(f"**{recent.takeaway}**")
    for warning in recent.warnings:
        st.caption(warning)
    widgets.table(recent.table, "dropout_by_period", recent.privacy)
    st.caption(periods.PERIOD_NOTE)


def over_time() -> None:
    st.subheader("The 12-month rate")
    target_rate_input()
    recent = recent_periods()
    if recent is not None:
        widgets.figure(state.cached_shown("chart_rolling_12_month", charts.rolling_figure, recent.rolling, suppress_below), None,
                       "rolling_12_month_chart",
                       "Each point is the share of dropouts among the episodes that ended in the 12 months up to that month.")
        widgets.table(recent.rolling, "rolling_12_month", periods.PeriodResult.privacy)
    st.subheader("By month of intake")
    if "intake_date" not in episodes or not episodes["intake_date"].notna().any():
        st.info("The trend needs intake dates: map an intake date column or load the appointment history.")
        return
    trend = state.cached("practice_trend", overview.dropout_by_intake_month, episodes, suppress_below)
    for warning in trend.warnings:
        st.caption(warning)
    widgets.figure(state.cached_shown("chart_dropout_by_intake", charts.month_figure, trend.table, suppress_below, trend.column), None, "dropout_by_intake_chart",
                   f"**{trend.takeaway}** Each point is the clients who started in that {trend.column}; "
                   "hollow points are provisional.")
    widgets.table(trend.table, "dropout_by_intake", trend.privacy)


def by_group() -> None:
    groups = overview.breakdown_columns(episodes)
    absent = overview.breakdown_absent_note(groups)
    if absent:
        st.caption(absent)
    for column in groups:
        st.subheader(overview.breakdown_heading(column))
        by = state.cached("practice_dropout_by", overview.dropout_by, episodes, column, suppress_below)
        for warning in by.warnings:
            st.caption(warning)
        widgets.figure(state.cached_shown("chart_dropout_by", charts.rate_figure, by.table, column, suppress_below), None, f"dropout_by_{column}_chart", f"**{by.takeaway}**")
        widgets.table(by.table, f"dropout_by_{column}", by.privacy)


def by_definition() -> None:
    outcomes = state.cached_for_every_definition("practice_definition_outcomes", overview.definition_outcomes, caseload,
                                                  settings)
    sensitivity = state.cached(
        "practice_sensitivity",
        lambda c, s, e, t, o: overview.definition_sensitivity(c, s, client_ids=e["client_id"], suppress_below=t, outcomes=o),
        caseload, settings, episodes, suppress_below, outcomes,
    )
    for warning in sensitivity.warnings:
        st.warning(warning)
    widgets.figure(state.cached_shown("chart_rate_by_definition", charts.rate_figure, sensitivity.table, "label", suppress_below),
                   None, "rate_by_definition_chart", f"**{sensitivity.takeaway}** Points are rates, bars their 95% intervals; the dashed line is the published average, the grey band its 95% interval.")
    widgets.table(sensitivity.table, "rate_by_definition", sensitivity.privacy)
    if len(sensitivity.agreement):
        st.subheader("Do the definitions pick the same clients?")
        widgets.figure(state.cached_shown("chart_definition_agreement", charts.agreement_figure, sensitivity.agreement,
                                    suppress_below), None, "definition_agreement_chart",
                       f"**{sensitivity.agreement_takeaway}** Clients are compared where both definitions know the outcome.")
        widgets.table(sensitivity.agreement, "definition_agreement", overview.AGREEMENT_PRIVACY)


def leavers_improved() -> None:
    if "ending" not in episodes:
        st.info(practice_outcomes.NO_MEASURE_NOTE)
        return
    leavers = state.cached("practice_leavers_improved", practice_outcomes.leavers_improved, episodes, settings,
                           suppress_below)
    st.markdown(f"**{leavers.takeaway}** {practice_outcomes.LEAVERS_NOTE}")
    for warning in leavers.warnings:
        st.caption(warning)
    widgets.table(leavers.table, "leavers_improved", leavers.privacy)


def when_dropout_happens() -> None:
    cif = state.cached("practice_cif", curves.cumulative_incidence, episodes)
    for warning in cif.warnings:
        st.caption(warning)
    unit = "session" if settings.time_scale == "sessions" else "day"
    cif_text = overview.incidence_takeaway(cif.table, unit)
    widgets.figure(
        state.cached_shown("chart_cumulative_incidence", survival_charts.cif_figure, cif,
                     time_label="Sessions attended" if unit == "session" else "Days in therapy", percent=True),
        cif.table, "cumulative_incidence_of_dropout",
        f"**{cif_text}** Completion is counted as a competing ending (cumulative incidence, Aalen-Johansen).",
    )


# One section at a time: only the open tab is computed and drawn, so every change of definition or
# filter draws one section's charts, not all of them.
SECTIONS = {
    "This month and quarter": this_month_and_quarter,
    "Over time": over_time,
    "By group": by_group,
    "How the definition changes the rate": by_definition,
    "Who left improved": leavers_improved,
    "When dropout happens": when_dropout_happens,
}
for tab, draw in zip(st.tabs(list(SECTIONS), key=state.OVERVIEW_SECTION, on_change="rerun"), SECTIONS.values()):
    if tab.open:
        with tab:
            draw()

st.header("Summary for the team meeting")
st.caption("One or two printed pages in plain words, with no therapist or client named and small counts hidden: "
           "the same document as `python -m analytics summary`.")
paper = st.radio("Paper", list(summary.PAPERS), format_func=summary.PAPERS.get, horizontal=True, key="summary_paper")
problem = export.renderer_problem()
if problem:
    st.info(problem)
else:
    recipe = state.current_recipe()
    st.download_button(
        "Download the meeting summary (PDF)", key="download_summary", on_click="ignore", mime="application/pdf",
        file_name=f"dropout_summary_{paper}.pdf",
        data=lambda: summary.summary_pdf(summary.meeting_summary(caseload, recipe, episodes), paper))
