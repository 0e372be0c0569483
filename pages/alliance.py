"""Alliance: how session ratings move for clients who drop out or stay, ruptures under the
director's own rules, what follows a rupture, and dropout risk by alliance level."""

import streamlit as st

from analytics.charts import practice as charts
from analytics.charts import survival as survival_charts
from analytics.episodes import EpisodeSettings
from analytics.practice import alliance
from analytics.schema import SRS_CUTOFF
from analytics.survival.time_varying import session_intervals
from ui import state, widgets

st.title("Alliance and ruptures")
caseload = state.require_caseload()
episodes = state.current_episodes()
suppress_below = state.suppress_below()
sessions = state.current_sessions()

measures = [m for m in ("srs", "wai") if alliance.has_measure(sessions, m)]
if not measures:
    st.info(alliance.missing_measure_message("srs"))
    st.stop()
measure = st.radio("Alliance measure", measures, horizontal=True, key="alliance_measure",
                   format_func={"srs": "Session Rating Scale (SRS, 0-40)", "wai": "Working Alliance Inventory (WAI-SR, 12-60)"}.get)
cutoff_default = SRS_CUTOFF if measure == "srs" else None


def _rated():
    """The rated sessions with their outcomes, shared by the trajectories and the ruptures."""
    rows = state.cached_for_every_definition("alliance_rated_rows", alliance.rated_rows, sessions, measure)
    return state.cached("alliance_rated", alliance.rated_sessions, sessions, episodes, measure, rows)


# Only the open section is computed and drawn (the time-varying model, the ruptures), so a change
# of definition or filter redraws one of them.
SECTIONS = ("Over the course of therapy", "Ruptures", "Dropout risk by alliance level")
course_tab, ruptures_tab, risk_tab = st.tabs(SECTIONS, key="alliance_section", on_change="rerun")

with course_tab:
    if course_tab.open:
        rated = _rated()
        trajectories = state.cached("alliance_trajectories", alliance.trajectories_of, rated, measure)
        widgets.figure(state.cached_shown("chart_alliance_trajectories", charts.trajectory_figure, trajectories.table, measure, suppress_below,
                                    cutoff_default), None,
                       "alliance_trajectories_chart",
                       f"**{trajectories.takeaway}** Lines are mean scores at each attended session, bands their 95% intervals; "
                       "points resting on fewer clients than the privacy threshold are left out.")
        widgets.table(trajectories.table, "alliance_trajectories", trajectories.privacy)

        first = widgets.result_or_reason("alliance_first", alliance.first_session_alliance, episodes, measure, 2.0,
                                         suppress_below)
        if first is not None:
            st.subheader("The first rated session")
            widgets.figure(state.cached_shown("chart_first_alliance", charts.distribution_figure, first.distribution, measure, suppress_below),
                           None, "first_alliance_chart",
                           f"**{first.takeaway}** Bars are the share of each group whose first score fell in that band.")
            widgets.table(first.table, "first_session_alliance", first.privacy)

with ruptures_tab:
    if ruptures_tab.open:
        st.markdown("A **rupture** is a session whose score drops sharply from the previous rated session (or, if you "
                    "choose, falls below a cutoff). Set the rules your clinic uses; the share of clients each rule flags is "
                    "shown beside it.")
        left, middle, right = st.columns(3)
        default_rule = EpisodeSettings()
        # Kept while another section or page is open (state.RUPTURE_RULE), so set once, not by value=.
        drop_key, use_cutoff_key, cutoff_key = (state.rupture_rule_key(part, measure) for part in ("drop", "use_cutoff", "cutoff"))
        st.session_state.setdefault(drop_key, float(getattr(default_rule, f"{measure}_rupture_drop")))
        st.session_state.setdefault(use_cutoff_key, getattr(default_rule, f"{measure}_rupture_cutoff") is not None)
        st.session_state.setdefault(cutoff_key, float(cutoff_default or 40.0))
        st.session_state.setdefault(state.RUPTURE_WITHIN, 3)
        drop = left.number_input("Drop of at least (points)", min_value=1.0, max_value=40.0, step=1.0, key=drop_key)
        use_cutoff = middle.checkbox("Also: a fall below a cutoff", key=use_cutoff_key,
                                     help="Off by default: a client whose ratings hover around the cutoff crosses it on a one-point change.")
        cutoff = middle.number_input("Cutoff", step=1.0, key=cutoff_key, disabled=not use_cutoff)
        within = right.number_input("Follow-up window (sessions)", min_value=1, max_value=12, step=1, key=state.RUPTURE_WITHIN)
        ruptures = state.cached("alliance_ruptures", alliance.ruptures_of, _rated(), measure, drop,
                                cutoff if use_cutoff else None, int(within), suppress_below)
        left.metric("Clients this rule flags", ruptures.flagged_share(suppress_below),
                     help="Of the clients rated at least twice: a rule that flags most clients marks ordinary ups and downs.")
        for warning in ruptures.warnings:
            st.caption(warning)
        st.markdown(f"**{ruptures.takeaway}**")
        widgets.table(ruptures.table, "rupture_rate", ruptures.privacy)
        widgets.table(ruptures.per_client_counts, "ruptures_per_client", alliance.PER_CLIENT_PRIVACY)
        st.subheader(f"Repair within {int(within)} sessions")
        widgets.table(ruptures.repair, "rupture_repair", alliance.REPAIR_PRIVACY)
        st.subheader(f"Dropout within {int(within)} sessions")
        widgets.figure(state.cached_shown("chart_rupture_dropout", charts.comparison_figure, ruptures.comparison, "group", suppress_below),
                       None, "rupture_dropout_chart",
                       f"Clients after their first rupture against clients who had had no rupture by the same session number "
                       f"(dropout within {int(within)} attended sessions; 95% intervals).")
        widgets.table(ruptures.comparison, "rupture_dropout", alliance.COMPARISON_PRIVACY)
        with st.expander("How the comparison is made"):
            st.markdown(
                "- **Repaired**: one of the next sessions in the window scores at least the score just before the rupture. "
                "Open episodes without enough later sessions are *not yet known*.\n"
                "- **After a rupture**: clients with a rupture, counted from their first one; dropout means the episode "
                "ended in dropout with at most the window's number of further sessions attended.\n"
                "- **No rupture by the same session**: every client who reached the same session number without any rupture "
                "so far, with the same rule. Because dropout is more common early in therapy, their rate is weighted to the "
                "session numbers at which the ruptures happened. Its interval is approximate (clients count at several session numbers)."
            )

with risk_tab:
    if risk_tab.open:
        intervals = state.cached_for_every_definition("alliance_intervals", session_intervals, sessions, measure)
        risk = widgets.result_or_reason("alliance_risk", alliance.alliance_risk, sessions, episodes, measure, intervals=intervals)
        if risk is not None:
            for warning in risk.warnings:
                st.caption(warning)
            st.markdown(f"**{risk.takeaway}**")
            st.caption(f"Method: {risk.method}.")
            if risk.km is not None:
                widgets.figure(state.cached_shown("chart_alliance_km", survival_charts.km_figure, risk.km, at_risk=False,
                                            time_label="Sessions attended", group_by="alliance_level"), None,
                               "alliance_km_chart", "Share of clients not yet dropped out, by first-session alliance.")
                widgets.table(risk.table, "alliance_km_medians", risk.privacy)
            else:
                widgets.for_researchers(risk.table, "alliance_time_varying_cox",
                                        f"Hazard ratio per point of {measure.upper()} at the latest rated session: below 1 "
                                        "means a higher score goes with less dropout; 1 would mean no link.")
