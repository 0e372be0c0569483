"""The browser session's state: the loaded data, the sidebar's settings and a per-session cache.

Everything lives in `st.session_state`, i.e. in this browser session's memory only: an upload is
never written to disk and never served to another session (no `st.cache_data` over user data).
Pages and the sidebar bind their widgets to the keys below, so a saved recipe can restore them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import replace
from typing import Any, Callable

import pandas as pd
import streamlit as st

from analytics.caseload import Caseload
from analytics.client_runs import in_client_order
from analytics.episodes import (
    EpisodeSettings,
    available_definitions,
    derive_episodes,
    episode_history,
    filter_episodes,
    measures_present,
)
from analytics.recipe import EPISODE_KEYS, Recipe
from analytics.schema import DEFINITIONS
from analytics.suppression import DEFAULT_THRESHOLD

INGEST = "ingest"
SOURCES = "sources"
DATASET = "dataset_name"
CACHE = "_cache"
IMPORTS = "import_count"
CACHE_SIZE = 48
SHARED_CACHE_SIZE = 400  # results on the bundled sample, for every session: a few settings' worth of every page
# What a page draws (tables as shown, charts) has a store of its own, so the tables and charts of
# a page's every run never push an analysis result out of the results' store.
SHOWN = "_shown"
SHOWN_SIZE = 96
SHARED_SHOWN_SIZE = 400

# Widget keys shared by the sidebar, the pages and the recipe.
DEFINITION = "dropout_definition"
EARLY_SESSIONS = "early_sessions"
ONGOING_WINDOW = "ongoing_window_days"
TIME_SCALE = "time_scale"
OUTCOME_MEASURE = "outcome_measure"
FILTER_SITES = "filter_sites"
FILTER_THERAPISTS = "filter_therapists"
FILTER_INTAKE = "filter_intake"
SUPPRESS_BELOW = "suppress_below"
TARGET_RATE = "target_rate"  # in percent in the widget, a proportion in the recipe
SHOW_IDS = "show_ids"
KM_GROUP = "km_group"
RMST_TAU = "rmst_tau"
ENTRY = "entry"
WEIGHTS = "weights"
TABLE_ONE_GROUP = "table_one_group"
COVARIATES = "covariates"
REFERENCE_LEVELS = "reference_levels"
SPLINES = "splines"
MISSING_COVARIATES = "missing_covariates"
CLUSTER = "cluster"
STRATA = "strata"
LANDMARK_SESSION = "landmark_session"
LANDMARK_MEASURE = "landmark_measure"
FIGURE = "figure"
OVERVIEW_SECTION = "overview_section"  # the Overview's open tab
RUPTURE_WITHIN = "rupture_within"  # the Alliance page's follow-up window after a rupture


def rupture_rule_key(part: str, measure: str) -> str:
    """The key of one part ("drop", "use_cutoff", "cutoff") of the Alliance page's rupture rule for `measure`."""
    return f"rupture_{part}_{measure}"


RUPTURE_RULE = tuple(rupture_rule_key(part, measure) for measure in ("srs", "wai")
                     for part in ("drop", "use_cutoff", "cutoff")) + (RUPTURE_WITHIN,)

SALT = "data_salt"  # the secret phrase identifier columns are hashed with; kept for re-imports

SAMPLE_NAME = "Sample caseload (synthetic)"
_KEPT = (DEFINITION, EARLY_SESSIONS, ONGOING_WINDOW, TIME_SCALE, OUTCOME_MEASURE, FILTER_SITES, FILTER_THERAPISTS, FILTER_INTAKE,
         SUPPRESS_BELOW, TARGET_RATE, SHOW_IDS, KM_GROUP, RMST_TAU, ENTRY, WEIGHTS, TABLE_ONE_GROUP, COVARIATES,
         REFERENCE_LEVELS, SPLINES, MISSING_COVARIATES, CLUSTER, STRATA, LANDMARK_SESSION, LANDMARK_MEASURE) + RUPTURE_RULE


def keep_widget_values() -> None:
    """Streamlit forgets a widget's value when its page is not shown; re-assigning the keys at the
    start of every run keeps the choices made on other pages (and so in the recipe)."""
    for key in _KEPT:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def set_ingest(result, name: str, sources: dict | None = None) -> None:
    """Make an import result the session's dataset; settings that no longer fit are reset.

    It changes widget values, so it runs before any widget is drawn: `ui.imports.run_pending`
    calls it at the start of a run (a page that imported itself would crash the run)."""
    st.session_state[INGEST] = result
    st.session_state[IMPORTS] = import_count() + 1
    st.session_state[DATASET] = name
    st.session_state[SOURCES] = sources
    st.session_state[CACHE] = _Store(CACHE_SIZE)
    st.session_state[SHOWN] = _Store(SHOWN_SIZE)
    for key in (FILTER_SITES, FILTER_THERAPISTS, FILTER_INTAKE, KM_GROUP, ENTRY, WEIGHTS, TABLE_ONE_GROUP, COVARIATES, REFERENCE_LEVELS, SPLINES,
                STRATA):
        st.session_state.pop(key, None)
    if result.caseload is not None:
        if st.session_state.get(OUTCOME_MEASURE) not in measures_present(result.caseload.sessions, episode_settings()):
            st.session_state.pop(OUTCOME_MEASURE, None)
        options = available_definitions(result.caseload, episode_settings())
        if options and st.session_state.get(DEFINITION) not in options:
            st.session_state[DEFINITION] = options[0]


def import_count() -> int:
    """How many imports this session has made: widgets that show an import's choices key on it."""
    return st.session_state.get(IMPORTS, 0)


def forget() -> None:
    """Drop the uploaded data and everything computed from it; the sample data comes back."""
    for key in (INGEST, SOURCES, DATASET, CACHE, SHOWN, SALT):
        st.session_state.pop(key, None)


def ingest_result():
    """The session's import result, loading the bundled sample the first time."""
    if INGEST not in st.session_state:
        set_ingest(_sample(), SAMPLE_NAME)
    return st.session_state[INGEST]


@st.cache_resource(show_spinner=False)
def _sample():
    """The bundled synthetic sample, imported once per server: it is no one's upload, and every
    session starts on it. Shared read-only (no analysis changes a table in place)."""
    from analytics.ingest.load import load_sample

    return load_sample()


def caseload() -> Caseload | None:
    return ingest_result().caseload


def require_caseload() -> Caseload:
    """The current caseload, or stop the page with a pointer to the Data page."""
    loaded = caseload()
    if loaded is None:
        st.info("No data is ready for analysis yet. Open the **Data** page to load files and fix the problems listed there.")
        st.stop()
    return loaded


def episode_settings() -> EpisodeSettings:
    """The episode settings chosen in this session (the sidebar's keys are the settings' names)."""
    return EpisodeSettings(**{key: st.session_state[key] for key in EPISODE_KEYS if key in st.session_state})


def filters() -> dict:
    s = st.session_state
    intake = s.get(FILTER_INTAKE) or (None, None)
    start, end = (tuple(intake) + (None, None))[:2]
    return {
        "sites": list(s.get(FILTER_SITES) or []),
        "therapists": list(s.get(FILTER_THERAPISTS) or []),
        "intake_from": None if start is None else pd.Timestamp(start),
        "intake_to": None if end is None else pd.Timestamp(end),
    }


def suppress_below() -> int:
    return int(st.session_state.get(SUPPRESS_BELOW, DEFAULT_THRESHOLD))


def target_rate() -> float | None:
    """The practice's dropout target as a proportion (None until one is set)."""
    percent = st.session_state.get(TARGET_RATE)
    return None if percent is None else float(percent) / 100


def show_ids() -> bool:
    return bool(st.session_state.get(SHOW_IDS, False))


def therapist_labels() -> dict:
    """How pages name therapists: the caseload's anonymous labels (the same on every page and under
    every filter), or the ids themselves when "Show therapist ids" is ticked. Keyed by the id and by
    its text (widgets hold ids as text). Taken from the caseload, where they are found once: the
    episodes carry the same labels, but reading them back cost every run 0.1 s at 100,000 clients."""
    labels = require_caseload().therapist_labels
    if show_ids():
        labels = {i: str(i) for i in labels}
    return {**labels, **{str(i): label for i, label in labels.items()}}


def episodes_or_problem() -> tuple[pd.DataFrame | None, str | None]:
    """Episodes of the whole caseload under the current settings (before the sidebar filters), or
    the plain reason they cannot be derived from this data."""
    loaded = caseload()
    if loaded is None:
        return None, "No data is ready for analysis yet."
    return cached("episodes", _derive, loaded, episode_settings())


def all_episodes() -> pd.DataFrame:
    """Episodes before the sidebar filters; stops the page with the reason when there are none."""
    require_caseload()
    episodes, problem = episodes_or_problem()
    if problem:
        st.error(f"{problem} Open the **Data** page to change what is loaded.")
        st.stop()
    return episodes


def _derive(loaded: Caseload, settings: EpisodeSettings) -> tuple[pd.DataFrame | None, str | None]:
    try:
        history = cached_for_every_definition("episode_history", episode_history, loaded, settings)
        return derive_episodes(loaded, settings, history), None
    except ValueError as exc:
        return None, str(exc)


def current_episodes() -> pd.DataFrame:
    """Episodes under the current settings and filters: what every analysis page works on."""
    chosen = filters()
    return cached("filtered_episodes", filter_episodes, all_episodes(), **chosen)


def current_sessions() -> pd.DataFrame | None:
    """The appointments of the clients the sidebar's filters keep (None without a sessions file):
    one table per choice of filters, the same under every definition (a filter keeps the same
    clients whoever is counted as a dropout), so what is computed from it alone stays cached when
    the definition changes."""
    sessions = require_caseload().sessions
    if sessions is None:
        return None
    ordered = cached("sessions_in_client_order", in_client_order, sessions)  # sorted once per dataset
    episodes = current_episodes()

    def kept(ordered: pd.DataFrame, **_chosen) -> pd.DataFrame:  # keyed on the filters, not the episodes
        return _sessions_of(ordered, episodes)

    return cached_for_every_definition("filtered_sessions", kept, ordered, **filters())


def _sessions_of(sessions: pd.DataFrame, episodes: pd.DataFrame) -> pd.DataFrame:
    return sessions.loc[sessions["client_id"].isin(episodes["client_id"])]


def current_recipe() -> Recipe:
    """Every choice made in this session, as a recipe that reproduces its numbers."""
    s = st.session_state
    chosen = filters()
    result = ingest_result()
    return Recipe(
        episodes=episode_settings(),
        km_group=s.get(KM_GROUP),
        rmst_tau=s.get(RMST_TAU),
        entry=s.get(ENTRY),
        weights=s.get(WEIGHTS),
        table_one_group=s.get(TABLE_ONE_GROUP),
        covariates=_names(s.get(COVARIATES)),
        reference_levels=dict(s.get(REFERENCE_LEVELS) or {}),
        splines=dict(s.get(SPLINES) or {}),
        missing_covariates=s.get(MISSING_COVARIATES, "complete_case"),
        cluster=s.get(CLUSTER, "therapist_id"),
        strata=_names(s.get(STRATA)),
        landmark_session=int(s.get(LANDMARK_SESSION, Recipe.landmark_session)),
        landmark_measure=s.get(LANDMARK_MEASURE),
        filters={
            "sites": chosen["sites"],
            "therapists": chosen["therapists"],
            "intake_from": None if chosen["intake_from"] is None else chosen["intake_from"].date().isoformat(),
            "intake_to": None if chosen["intake_to"] is None else chosen["intake_to"].date().isoformat(),
        },
        suppress_below=suppress_below(),
        target_rate=target_rate(),
        mapping=result.mapping.to_dict(),
        figure=dict(s.get(FIGURE) or {}),
    ).for_output(getattr(caseload(), "fingerprint", None))


def apply_settings(recipe: Recipe) -> None:
    """Restore a recipe's choices (before the widgets are drawn: from a callback, or from
    `ui.imports.run_pending` once the recipe's mapping was applied)."""
    s = st.session_state
    for key in EPISODE_KEYS:
        s[key] = getattr(recipe.episodes, key)  # registered measures stay Measure objects
    s[KM_GROUP] = recipe.km_group
    s[RMST_TAU] = recipe.rmst_tau
    s[ENTRY] = recipe.entry
    s[WEIGHTS] = recipe.weights
    s[TABLE_ONE_GROUP] = recipe.table_one_group
    s[COVARIATES] = list(recipe.covariates)
    s[REFERENCE_LEVELS] = dict(recipe.reference_levels)
    s[SPLINES] = dict(recipe.splines)
    s[MISSING_COVARIATES] = recipe.missing_covariates
    s[CLUSTER] = recipe.cluster
    s[STRATA] = list(recipe.strata)
    s[LANDMARK_SESSION] = recipe.landmark_session
    s[LANDMARK_MEASURE] = recipe.landmark_measure
    f = recipe.filter_kwargs()
    s[FILTER_SITES] = f["sites"]
    s[FILTER_THERAPISTS] = f["therapists"]
    if f["intake_from"] is not None and f["intake_to"] is not None:
        s[FILTER_INTAKE] = (f["intake_from"].date(), f["intake_to"].date())
    else:
        s.pop(FILTER_INTAKE, None)
    s[SUPPRESS_BELOW] = recipe.suppress_below
    s[TARGET_RATE] = None if recipe.target_rate is None else 100 * recipe.target_rate
    s[FIGURE] = dict(recipe.figure)


def cached(name: str, fn: Callable, *args, **kwargs) -> Any:
    """Memoize `fn(*args, **kwargs)`, keyed on the data fingerprint, the episode settings and the
    arguments. Tables and caseloads are keyed by identity (the cache entry holds its arguments, so
    an identity cannot be reused while the entry lives) — no hashing of data.

    On an upload the cache is this session's only. On the bundled sample (no one's data) it is the
    server's, shared by every session: a result computed for one visitor, and everything computed
    from it, is there for the next, and sessions asking at once wait for the one computing it."""
    return _memo(name, episode_settings(), fn, args, kwargs)


def cached_for_every_definition(name: str, fn: Callable, *args, **kwargs) -> Any:
    """`cached` for a result that covers every dropout definition (the definition comparison) or
    does not depend on it: choosing another definition in the sidebar finds it in the cache. Episode
    settings among the arguments are passed with the first definition, so the chosen one does not
    split the cache."""
    args = tuple(_every_definition(value) for value in args)
    kwargs = {key: _every_definition(value) for key, value in kwargs.items()}
    return _memo(name, _every_definition(episode_settings()), fn, args, kwargs)


def _every_definition(value: Any) -> Any:
    return replace(value, dropout_definition=DEFINITIONS[0]) if isinstance(value, EpisodeSettings) else value


def cached_shown(name: str, fn: Callable, *args, **kwargs) -> Any:
    """`cached` for what a page draws (a table as shown, a chart), in its own store (see SHOWN) and
    without the "Calculating" spinner: drawing is quick."""
    store = _store(_shared_shown_store, SHOWN, SHOWN_SIZE)
    return store.get(_memo_key(name, episode_settings(), args, kwargs), (args, kwargs), lambda: fn(*args, **kwargs))


def _memo(name: str, settings: EpisodeSettings, fn: Callable, args: tuple, kwargs: dict) -> Any:
    store = _store(_shared_store, CACHE, CACHE_SIZE)
    # Streamlit shows a spinner only after half a second: quick steps stay silent.
    return store.get(_memo_key(name, settings, args, kwargs), (args, kwargs), lambda: _calculating(name, fn, args, kwargs))


def _store(shared: Callable[[], _Store], key: str, size: int) -> _Store:
    """The server's store `shared` on the bundled sample, else this session's own under `key`."""
    if st.session_state.get(INGEST) is _sample():
        return shared()
    return st.session_state.setdefault(key, _Store(size))


def _memo_key(name: str, settings: EpisodeSettings, args: tuple, kwargs: dict) -> tuple:
    return (
        name,
        getattr(caseload(), "fingerprint", None),
        settings,
        tuple(_key(a) for a in args),
        tuple(sorted((k, _key(v)) for k, v in kwargs.items())),
    )


def _calculating(name: str, fn: Callable, args, kwargs) -> Any:
    with st.spinner(f"Calculating: {name.replace('_', ' ')}", show_time=True):
        return fn(*args, **kwargs)


class _Store:
    """A least-recently-used memo of (arguments, result) by key, safe to share between sessions'
    threads: one caller computes a missing entry while the others asking for it wait."""

    def __init__(self, size: int):
        self._entries: OrderedDict = OrderedDict()
        self._size = size
        self._lock = threading.Lock()
        self._pending: dict = {}

    def __iter__(self):
        with self._lock:
            return iter(list(self._entries))

    def get(self, key, held, compute: Callable[[], Any]) -> Any:
        while True:
            with self._lock:
                if key in self._entries:
                    self._entries.move_to_end(key)
                    return self._entries[key][1]
                waiting = self._pending.get(key)
                if waiting is None:
                    self._pending[key] = threading.Event()
                    break
            waiting.wait()  # another session is computing it; if that failed, compute it here
        try:
            result = compute()
            with self._lock:
                self._entries[key] = (held, result)
                while len(self._entries) > self._size:
                    self._entries.popitem(last=False)
            return result
        finally:
            with self._lock:
                self._pending.pop(key).set()


@st.cache_resource(show_spinner=False)
def _shared_store() -> _Store:
    """The server's cache of results on the bundled sample (see `cached`)."""
    return _Store(SHARED_CACHE_SIZE)


@st.cache_resource(show_spinner=False)
def _shared_shown_store() -> _Store:
    """The server's store of what pages draw on the bundled sample (see SHOWN)."""
    return _Store(SHARED_SHOWN_SIZE)


def _names(value) -> tuple[str, ...]:
    """Column choices as a tuple, whether a widget stored one name or a list of them."""
    if not value:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _hashable(value) -> bool:
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        return True  # keyed item by item below
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _by_identity(value) -> bool:
    return isinstance(value, (pd.DataFrame, pd.Series, Caseload))


def _key(value):
    if _by_identity(value) or not _hashable(value):  # tables, caseloads, results: by identity
        return ("id", id(value))
    if isinstance(value, (list, tuple)):
        return tuple(_key(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _key(v)) for k, v in value.items()))
    if isinstance(value, (set, frozenset)):
        return tuple(sorted(map(repr, value)))
    return value
