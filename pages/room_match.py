"""Room, match and habits: what the practice could change, each factor against dropout with raw rates
and hazard ratios adjusted for case mix."""

import streamlit as st

from analytics.charts import practice as charts
from analytics.charts.cox import forest_figure
from analytics.practice import room_match
from analytics.practice.overview import BENCHMARK
from analytics.proportions import RATE_PRIVACY, percent
from ui import state, widgets

st.title("Room, match and habits")
state.require_caseload()
episodes = state.current_episodes()
suppress_below = state.suppress_below()

adjusted_for = state.cached("case_mix", room_match.case_mix, episodes)
st.markdown(
    "Each factor is shown twice: the dropout rate as it is, and a **hazard ratio** from a Cox model that compares "
    "clients alike in case mix (below 1: less dropout; 1: no difference). "
    + room_match.case_mix_sentence(adjusted_for)
)
HR_TABLE = ["factor", "label"] + room_match.HR_COLUMNS


def _notes(warnings: list[str]) -> None:
    if warnings:
        with st.expander(f"Model notes ({len(warnings)})"):
            for warning in dict.fromkeys(warnings):
                st.caption(warning)


# Only the open section's models are fitted (five adjusted Cox models each), so a filter change
# refits a third of them.
SECTIONS = ("The room", "Therapist-client match", "Five habits")
room_tab, match_tab, habits_tab = st.tabs(SECTIONS, key="room_match_section", on_change="rerun")

def _hazards(result, name: str, caption: str) -> None:
    """A factor's adjusted hazard ratios: forest plot under its takeaway, then the table."""
    chart = state.cached(f"chart_{name}_hazard_ratios", lambda hazard: forest_figure(hazard.rename(columns={"label": "term"})),
                         result.hazard)
    widgets.figure(chart, None, f"{name}_hazard_ratios_chart",
                   f"**{result.takeaway}** {caption}")
    widgets.for_researchers(result.hazard[HR_TABLE], f"{name}_hazard_ratios", privacy=room_match.HAZARD_PRIVACY)


with room_tab:
    room = (widgets.result_or_reason("room_vs_dropout", room_match.room_vs_dropout, episodes, adjust=adjusted_for)
            if room_tab.open else None)
    if room is not None:
        widgets.figure(state.cached_shown("chart_room_rates", charts.level_rates_figure, room.table, suppress_below), None, "room_rates_chart",
                       "Dropout rate by how clients rated the room (1 = poor, 5 = excellent), with 95% intervals; "
                       f"the dashed line is the published average ({percent(BENCHMARK['rate'], 1)}).")
        widgets.table(room.table, "room_rates", room.privacy)
        _hazards(room, "room", "Hazard ratio per point higher on each rating"
                 + (", compared within each site." if room.by_site is not None else "."))
        if room.by_site is not None:
            with st.expander("Dropout by rating within each site"):
                widgets.table(room.by_site, "room_rates_by_site", RATE_PRIVACY)
        _notes(room.warnings)

with match_tab:
    match = widgets.result_or_reason("match_vs_dropout", room_match.match_vs_dropout, episodes) if match_tab.open else None
    if match is not None:
        _hazards(match, "match", "A match compared with no match (age gap: per 10 years).")
        widgets.table(match.table, "match_rates", match.privacy)
        _notes(match.warnings)

with habits_tab:
    if habits_tab.open:
        card = state.cached("habits_scorecard", room_match.habits_scorecard, episodes, None, suppress_below)
        st.markdown(f"**{card.takeaway}**")
        if card.table["found"].any():
            widgets.figure(state.cached_shown("chart_habits_scorecard", charts.scorecard_figure, card.table, suppress_below), None,
                           "habits_scorecard_chart",
                           "Left: how often each habit is recorded as done (95% interval). Right: its adjusted hazard ratio.")
        st.markdown("\n".join(f"- **{row.habit}** ({row.meaning}): {row.reading}" for row in card.table.itertuples()))
        widgets.table(card.table[room_match.SCORECARD_COLUMNS], "habits_scorecard", card.privacy)
        widgets.for_researchers(card.table, "habits_scorecard_model", privacy=card.privacy)
        _notes(card.warnings)
