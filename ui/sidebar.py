"""The shared sidebar: which data, which dropout definition, which clients, which privacy threshold."""

from __future__ import annotations

import streamlit as st

from analytics.caseload import label_order
from analytics.episodes import EpisodeSettings, available_definitions, measures_present
from analytics.schema import DEFINITION_LABELS, TIME_SCALES
from analytics.suppression import DEFAULT_THRESHOLD
from ui import state


def render() -> None:
    with st.sidebar:
        result = state.ingest_result()
        name = st.session_state.get(state.DATASET, "")
        loaded = result.caseload
        if loaded is None:
            st.warning(f"**{name}** has problems to fix on the Data page before analysis.")
            return
        st.markdown(f"**{name}**  \n{loaded.n_clients:,} clients · {loaded.n_sessions:,} sessions")
        _definition(loaded)
        _filters()
        st.session_state.setdefault(state.SUPPRESS_BELOW, DEFAULT_THRESHOLD)
        st.number_input(
            "Hide counts below",
            min_value=0,
            max_value=100,
            key=state.SUPPRESS_BELOW,
            help="Counts of fewer clients than this are hidden on the director pages (CMS rule: 11). "
            "0 shows every count, for a researcher's own data.",
        )
        st.checkbox("Show therapist ids", key=state.SHOW_IDS, help="Therapists appear as anonymous labels unless you tick this.")


def _definition(loaded) -> None:
    options = state.cached_for_every_definition("available_definitions", available_definitions, loaded,
                                                state.episode_settings())
    if not options:
        return
    if st.session_state.get(state.DEFINITION) not in options:
        st.session_state[state.DEFINITION] = options[0]
    st.selectbox(
        "Dropout definition",
        options,
        format_func=DEFINITION_LABELS.get,
        key=state.DEFINITION,
        help="Therapist-judged: the discharge reason says dropout. Unilateral: the client missed the last "
        "scheduled appointment and nothing followed. Early: fewer than the chosen number of sessions attended. "
        "Unilateral before reliable improvement: a unilateral ending without reliable improvement on the outcome "
        "measure (Swift, Callahan & Levine 2009).",
    )
    _outcome_measure(loaded)
    definition = st.session_state[state.DEFINITION]
    defaults = EpisodeSettings()
    st.session_state.setdefault(state.EARLY_SESSIONS, defaults.early_sessions)
    st.session_state.setdefault(state.ONGOING_WINDOW, defaults.ongoing_window_days)
    st.session_state.setdefault(state.TIME_SCALE, defaults.time_scale)
    if definition == "early":
        st.number_input("Early means fewer than (sessions)", min_value=1, max_value=50, key=state.EARLY_SESSIONS)
    if definition in ("unilateral", "early", "unilateral_unimproved"):
        st.number_input(
            "Still in therapy if seen within (days)", min_value=0, max_value=365, key=state.ONGOING_WINDOW,
            help="Clients with an appointment this close to the export date count as ongoing.",
        )
    st.radio(
        "Time measured in", TIME_SCALES, horizontal=True, key=state.TIME_SCALE,
        format_func={"sessions": "sessions attended", "days": "days in therapy"}.get,
    )


def _outcome_measure(loaded) -> None:
    """The measure improvement is judged on (the `ending` column, the unilateral_unimproved definition)."""
    settings = state.episode_settings()
    present = state.cached_for_every_definition("measures_present", measures_present, loaded.sessions, settings)
    if not present:
        return
    if st.session_state.get(state.OUTCOME_MEASURE) not in present:
        st.session_state[state.OUTCOME_MEASURE] = present[0]
    labels = {name: m.label for name, m in settings.measures().items()}
    st.selectbox(
        "Improvement measured on", present, format_func=labels.get, key=state.OUTCOME_MEASURE,
        help="A change of at least the measure's published reliable-change threshold from the first to the last "
        "scored session counts as reliable improvement.",
    )


def _filters() -> None:
    episodes, problem = state.episodes_or_problem()
    if problem:
        st.warning(problem)
        return
    sites, ids, intake = state.cached("filter_choices", _filter_choices, episodes)
    with st.expander("Filter clients"):
        if sites is not None:
            st.multiselect("Site", sites, key=state.FILTER_SITES)
        if ids is not None:
            labels = state.therapist_labels()
            st.multiselect("Therapist", sorted(ids, key=lambda i: label_order(labels[i])), format_func=labels.get,
                           key=state.FILTER_THERAPISTS)
        if intake is not None:
            first, last = intake
            st.session_state.setdefault(state.FILTER_INTAKE, (first, last))
            st.date_input("Intake between", min_value=first, max_value=last, key=state.FILTER_INTAKE)


def _filter_choices(episodes) -> tuple[list[str] | None, list[str] | None, tuple | None]:
    """What the filters offer: the sites, the therapist ids and the first and last intake date
    (None where the episodes have no such column); found once per episodes table, not every run."""
    sites = sorted(episodes["site"].dropna().astype(str).unique()) if "site" in episodes else None
    ids = sorted(episodes["therapist_id"].dropna().astype(str).unique()) if "therapist_id" in episodes else None
    intake = None
    if "intake_date" in episodes and episodes["intake_date"].notna().any():
        intake = episodes["intake_date"].min().date(), episodes["intake_date"].max().date()
    return sites, ids, intake
