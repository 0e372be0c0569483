"""One row per client episode under a chosen dropout definition, derived without row loops.

Definitions (DESIGN.md):
- therapist_judged: the clients table says termination = dropout (completed = planned ending).
- unilateral: the last scheduled appointment was a client miss (no_show, late_cancel, cancelled)
  more than `ongoing_window_days` before the export date.
- early: fewer than `early_sessions` attended sessions and not ongoing.
- unilateral_unimproved (Swift, Callahan & Levine 2009): a unilateral ending without reliable
  improvement on the `outcome_measure` (first to last scored attended session); a unilateral ending
  after reliable improvement is a planned-like ending (event 2). A client without two scores has no
  evidence of improvement, so leaving unilaterally counts as dropout.
A transferred client did not leave therapy, so a transfer is censored under every definition; an
ending recorded as `other` that the definition does not call a dropout is censored, not a completion.

`event` is 0 (ongoing or censored), 1 (dropout) or 2 (planned completion, the competing event).
Wherever the sessions carry an outcome measure, every episode also gets the change columns of each
measure (analytics/outcomes/change.py) and an `ending`: completed, left_improved, left_unimproved,
ongoing or other (transferred, or ended another way), read as the unilateral rule reads the
appointments, with improvement on the outcome measure.

Every survival analysis reads `duration` and `event` through the checks at the end of this module:
times that differ only by floating-point noise merged as R's `timefix` does, and an event column
coded as R codes a status (1 = censored, 2 = event) refused with the one-line fix (the importer
refuses it too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from analytics.caseload import Caseload, anonymous_labels, in_threads
from analytics.client_runs import ClientRuns, one_or_several
from analytics.outcomes import MEASURES, NHS_PAIR, Measure, change_columns, nhs_columns
from analytics.ruptures import flag_ruptures
from analytics.schema import (
    CLIENT_MISSES,
    DEFINITION_LABELS,
    DEFINITIONS,
    EVENT_CENSORED,
    EVENT_COMPLETED,
    EVENT_DROPOUT,
    EVENT_LABELS,
    SESSION_STATUSES,
    THERAPIST_PREFIX,
    TIME_SCALES,
)


@dataclass(frozen=True)
class EpisodeSettings:
    """Everything that changes which clients count as dropouts and how time is measured."""

    dropout_definition: str = "therapist_judged"
    early_sessions: int = 4
    ongoing_window_days: int = 45
    time_scale: str = "sessions"
    srs_rupture_drop: float = 5.0
    # No cutoff rule by default: a fall below 36 fires on a one-point change for a client whose
    # ratings hover around it, so it marks ordinary ups and downs (64% of the sample's clients
    # rated twice) rather than ruptures; the drop rule alone flags 45%.
    srs_rupture_cutoff: float | None = None
    wai_rupture_drop: float = 6.0
    wai_rupture_cutoff: float | None = None
    outcome_measure: str | None = None  # None: the first measure the sessions carry
    outcome_measures: tuple[Measure, ...] = ()  # measures a user registers beside the built-in ones

    def __post_init__(self):
        if self.dropout_definition not in DEFINITIONS:
            raise ValueError(f"Unknown dropout definition {self.dropout_definition!r}; use one of {', '.join(DEFINITIONS)}.")
        if self.time_scale not in TIME_SCALES:
            raise ValueError(f"Unknown time scale {self.time_scale!r}; use one of {', '.join(TIME_SCALES)}.")
        if int(self.early_sessions) < 1:
            raise ValueError("early_sessions must be at least 1.")
        if int(self.ongoing_window_days) < 0:
            raise ValueError("ongoing_window_days cannot be negative.")
        clash = [m.name for m in self.outcome_measures if m.name in MEASURES]
        if clash:
            raise ValueError(f"{clash[0]!r} is a built-in outcome measure; register a measure under another name.")
        if self.outcome_measure is not None and self.outcome_measure not in self.measures():
            raise ValueError(f"Unknown outcome measure {self.outcome_measure!r}; use one of {', '.join(self.measures())}.")

    def measures(self) -> dict[str, Measure]:
        """The built-in outcome measures and the ones the user registered, by column name."""
        return {**MEASURES, **{m.name: m for m in self.outcome_measures}}

    def as_dict(self) -> dict:
        return asdict(self)


def available_definitions(caseload: Caseload, settings: EpisodeSettings = EpisodeSettings()) -> list[str]:
    """The definitions this caseload can support: the therapist's judgement needs `termination`,
    the others need the appointment history, and unilateral_unimproved an outcome measure in it."""
    return _definitions(caseload, measures_present(caseload.sessions, settings))


def _definitions(caseload: Caseload, present: list[str]) -> list[str]:
    """available_definitions given the measures present (found once per derivation)."""
    return supported_definitions(caseload.clients is not None and "termination" in caseload.clients,
                                 caseload.sessions is not None, bool(present))


def supported_definitions(termination: bool, sessions: bool, measured: bool) -> list[str]:
    """The definitions supported by a caseload with a `termination` column, appointments
    (`sessions`) and an outcome measure scored at an attended session (`measured`), wherever it is held."""
    return (["therapist_judged"] if termination else []) + (
        ["unilateral", "early"] + (["unilateral_unimproved"] if measured else []) if sessions else [])


def measures_present(sessions: pd.DataFrame | None, settings: EpisodeSettings = EpisodeSettings()) -> list[str]:
    """The outcome measures with at least one score at an attended session, in registry order."""
    if sessions is None:
        return []
    status = sessions["status"].to_numpy()

    def scored_when_attended(name: str) -> bool:
        # the status is read only where there is a score, the first thousand first: scores are
        # nearly always at attended sessions, so twelve million statuses are seldom compared
        scored = np.flatnonzero(pd.to_numeric(sessions[name], errors="coerce").notna().to_numpy())
        return any((status[rows] == "attended").any() for rows in (scored[:1000], scored[1000:]))

    return [name for name in settings.measures() if name in sessions and scored_when_attended(name)]


def episode_measures(episodes: pd.DataFrame, settings: EpisodeSettings = EpisodeSettings()) -> list[str]:
    """The outcome measures an episodes table carries change columns for, in registry order."""
    return [name for name in settings.measures() if f"{name}_change" in episodes]


def outcome_measure(sessions: pd.DataFrame | None, settings: EpisodeSettings = EpisodeSettings()) -> str | None:
    """The measure that decides improvement: the chosen one when the sessions carry it, else the
    first measure present (None when there is none)."""
    return _chosen_measure(measures_present(sessions, settings), settings)


def _chosen_measure(present: list[str], settings: EpisodeSettings) -> str | None:
    """outcome_measure given the measures present (found once per derivation)."""
    if settings.outcome_measure is not None:
        return settings.outcome_measure if settings.outcome_measure in present else None
    return present[0] if present else None


def derive_episodes(caseload: Caseload, settings: EpisodeSettings = EpisodeSettings(),
                    history: EpisodeHistory | None = None) -> pd.DataFrame:
    """The episodes table: one row per client, `duration`, `event` and the derived covariates.

    A clients table that already carries `duration` and `event` is taken as it is (the settings'
    definition and time scale do not apply to it). `history`: episode_history(caseload, settings)
    when already derived (it is the same under every definition; the dashboard keeps it).
    """
    if _taken_as_is(caseload):
        episodes = caseload.clients.copy()
        episodes["event"] = episodes["event"].astype(int)
        return _add_therapist_columns(episodes, caseload)
    present = (list(history.present) if history is not None and history.measures == tuple(settings.measures())
               else measures_present(caseload.sessions, settings))
    if settings.dropout_definition not in _definitions(caseload, present):
        raise ValueError(_unavailable_message(settings.dropout_definition))
    measure = _chosen_measure(present, settings)
    if settings.dropout_definition == "unilateral_unimproved" and measure is None:
        raise ValueError(f"The outcome measure {settings.outcome_measure!r} has no scores at attended sessions; "
                         "choose a measure the sessions carry.")
    if history is None:  # derived for this table alone: its table becomes the episodes, uncopied
        history = _history(caseload, settings, present, shared=False)
        episodes = history.table
    else:  # the history's columns, not copied: a definition only adds its own (the history is never written into)
        episodes = history.table.copy(deep=False)
    therapist_columns = history.therapist_columns
    if caseload.sessions is not None and measure is not None:
        _add_before(episodes, "ending", _endings(episodes, caseload.export_date, settings, measure), therapist_columns)
    _add_before(episodes, "event", _events(episodes, caseload.export_date, settings), therapist_columns)
    _add_before(episodes, "duration", _durations(episodes, settings.time_scale), therapist_columns)
    if not episodes["client_id"].is_monotonic_increasing:  # the merge with the clients file sorted them already
        episodes = episodes.sort_values("client_id", kind="stable")
    episodes.index = pd.RangeIndex(len(episodes))
    return episodes


def episode_history(caseload: Caseload, settings: EpisodeSettings = EpisodeSettings()) -> EpisodeHistory | None:
    """Per client, what every dropout definition reads or carries: appointment counts and dates,
    the last status, the main therapist, the alliance summaries and the outcome change columns
    (from the sessions table, joined with the clients table), or the clients table alone, then the
    therapist's label, attributes and match factors; None when the clients table is taken as the
    episodes as it is. The settings' definition, time scale, window and early threshold do not
    enter it. It notes the therapist's columns and the measures present, so a definition derived
    from it reads neither the therapists nor the appointments again."""
    if _taken_as_is(caseload):
        return None
    return _history(caseload, settings, measures_present(caseload.sessions, settings))


@dataclass(frozen=True)
class EpisodeHistory:
    """What every dropout definition reads or carries, derived once (see episode_history): the
    table, the therapist's columns it ends with, and the outcome measures `present` among those
    looked for (`measures`, the names of EpisodeSettings.measures())."""

    table: pd.DataFrame
    therapist_columns: tuple[str, ...]
    measures: tuple[str, ...]
    present: tuple[str, ...]


def _add_before(episodes: pd.DataFrame, name: str, values, block: tuple[str, ...]) -> None:
    """A definition's column, where a derivation from scratch puts it: in place when the table has
    it, else before the therapist's columns (`block`, which come last; none: at the end)."""
    if name in episodes.columns or not block:
        episodes[name] = values
    else:
        episodes.insert(episodes.columns.get_loc(block[0]), name, values)


def _taken_as_is(caseload: Caseload) -> bool:
    """A clients table that already carries `duration` and `event` is the episodes table."""
    return caseload.clients is not None and {"duration", "event"} <= set(caseload.clients.columns)


def _history(caseload: Caseload, settings: EpisodeSettings, present: list[str], shared: bool = True) -> EpisodeHistory:
    clients = caseload.clients
    if caseload.sessions is not None:
        timeline = _Timeline(caseload.sessions, lambda column: caseload.categorical_of("sessions", column))
        episodes = _session_summary(caseload.sessions, timeline)
        if clients is not None:
            episodes = _with_clients(episodes, clients)
            if "therapist_id_sessions" in episodes:  # the clients file's therapist, else the appointments' main one
                named, main = episodes["therapist_id"], episodes.pop("therapist_id_sessions")
                # not fillna: its silent downcasting of text columns is deprecated (a warning when no file
                # names a therapist); where, then infer_objects, gives today's result without it
                episodes["therapist_id"] = named.where(named.notna(), main).infer_objects(copy=False)
        episodes["sessions_scheduled"] = episodes["sessions_scheduled"].fillna(0).astype(int)
        episodes["sessions_attended"] = episodes["sessions_attended"].fillna(0).astype(int)
        episodes["missed"] = episodes["missed"].fillna(0).astype(int)
        if "intake_date" not in episodes:
            episodes["intake_date"] = episodes["first_scheduled"]
        else:
            episodes["intake_date"] = episodes["intake_date"].fillna(episodes["first_scheduled"])
        timeline.match(episodes["client_id"])
        episodes = _add_alliance_summaries(episodes, caseload.sessions, timeline, settings)
        episodes = _add_outcome_columns(episodes, caseload.sessions, timeline, settings, present)
    else:
        episodes = _clients_without_history(clients, settings)
    # The therapist's columns do not depend on the definition either: derived here once, they come
    # after each definition's own columns (see _add_before).
    read = set(episodes.columns)
    episodes = _add_therapist_columns(episodes, caseload)
    # A shared history is copied once here, which joins the columns added one by one into one block
    # per type: each definition's table then holds those few blocks instead of joining them again.
    # One derivation's own history is not copied at all (two copies of 1M clients took 4 s).
    return EpisodeHistory(episodes.copy() if shared else episodes, tuple(c for c in episodes.columns if c not in read),
                          tuple(settings.measures()), tuple(present))


SIDE_BY_SIDE_COLUMNS = 40  # a derivation adds up to about 60 columns (five measures, two alliance scales)


def _with_clients(summary: pd.DataFrame, clients: pd.DataFrame) -> pd.DataFrame:
    """`summary.merge(clients, on="client_id", how="outer", suffixes=("_sessions", ""))`. When both
    list the same clients once each in ascending order (an export whose every client has
    appointments), that merge only puts the columns side by side: they are copied so, one by one,
    without the merge consolidating both tables into blocks first (1.3 s of a 5 s derivation at a
    million clients). Each column is then a block of its own, so a wide clients file is merged: with
    the columns a derivation adds, pandas would find the table fragmented (over 100 blocks)."""
    ids, other = summary["client_id"].to_numpy(), clients["client_id"].to_numpy()
    shared = (set(summary.columns) & set(clients.columns)) - {"client_id"}
    names = [f"{c}_sessions" if c in shared else c for c in summary.columns]
    ascending = summary["client_id"].is_monotonic_increasing and bool(np.all(ids[1:] != ids[:-1]))  # once each
    if (len(names) + len(clients.columns) > SIDE_BY_SIDE_COLUMNS or not ascending or len(ids) != len(other)
            or not np.array_equal(ids, other) or set(names) & set(clients.columns) - {"client_id"}):
        return summary.merge(clients, on="client_id", how="outer", suffixes=("_sessions", ""))
    columns = dict(zip(names, (_copied(summary[c]) for c in summary.columns)))
    columns.update((c, _copied(clients[c])) for c in clients.columns if c != "client_id")
    return pd.DataFrame(columns, index=pd.RangeIndex(len(ids)), copy=False)


def _copied(column: pd.Series):
    """The column's values copied: a numpy array as such (pandas' wrapper of one would look at every
    value of a text column for missing ones), else pandas' own array (dates, categories)."""
    return column.to_numpy(copy=True) if isinstance(column.dtype, np.dtype) else column.array.copy()


def therapist_labels(episodes: pd.DataFrame) -> dict:
    """{therapist id: anonymous label} as the episodes carry it: the labels stay those of the whole
    caseload however the episodes were filtered (labels of the ids present for a table without them)."""
    if "therapist_id" not in episodes:
        return {}
    if "therapist_label" not in episodes:
        return anonymous_labels(episodes["therapist_id"])
    pairs = episodes[["therapist_id", "therapist_label"]].dropna().drop_duplicates("therapist_id")
    return dict(zip(pairs["therapist_id"], pairs["therapist_label"]))


def filter_episodes(
    episodes: pd.DataFrame,
    sites: list | None = None,
    therapists: list | None = None,
    intake_from: pd.Timestamp | None = None,
    intake_to: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """The episodes the sidebar's filters keep (an empty or None filter keeps everything); the table
    itself when it keeps every row (callers never change the table they are given)."""
    keep = np.ones(len(episodes), dtype=bool)
    if sites and "site" in episodes:
        keep &= episodes["site"].isin(sites).to_numpy()
    if therapists and "therapist_id" in episodes:
        keep &= episodes["therapist_id"].isin(therapists).to_numpy()
    if "intake_date" in episodes:
        if intake_from is not None:
            keep &= (episodes["intake_date"] >= pd.Timestamp(intake_from)).to_numpy()
        if intake_to is not None:
            keep &= (episodes["intake_date"] <= pd.Timestamp(intake_to)).to_numpy()
    if keep.all() and episodes.index.equals(pd.RangeIndex(len(episodes))):
        return episodes  # nothing left out: the table itself, not a copy (0.12 s at 100,000 clients)
    kept = episodes.take(np.flatnonzero(keep))  # a new table; numbered afresh without reset_index, which merges
    kept.index = pd.RangeIndex(len(kept))  # the table's column blocks (0.2 s at 100,000 clients)
    return kept


def _clients_without_history(clients: pd.DataFrame, settings: EpisodeSettings) -> pd.DataFrame:
    """A clients file on its own: time in therapy comes from a `sessions_attended` count when there
    is one; otherwise `duration` stays missing, so rates and logistic models work and time-to-event
    analyses say that they need the appointment history."""
    episodes = clients.copy()
    if "sessions_attended" in episodes:
        episodes["sessions_attended"] = pd.to_numeric(episodes["sessions_attended"], errors="coerce")
    else:
        episodes["sessions_attended"] = np.nan
    return episodes


def _unavailable_message(definition: str) -> str:
    if definition == "unilateral_unimproved":
        return (f"The \"{DEFINITION_LABELS[definition]}\" definition needs the appointment history with an outcome measure "
                "(PHQ-9, GAD-7, ORS, OQ-45, CORE-10 or a registered one) scored at attended sessions; "
                "load one or choose the unilateral definition.")
    if definition == "therapist_judged":
        return ("The therapist-judged definition needs a `termination` column in the clients file; "
                "map the discharge reason column or choose the unilateral or early definition.")
    return (f"The {definition} definition needs the appointment history (a sessions file); "
            "load one or choose the therapist-judged definition.")


class _Timeline:
    """Appointments sorted once by client and date, with each client's block of rows; every
    per-client statistic is then a `reduceat` over those blocks."""

    def __init__(self, sessions: pd.DataFrame, categorical: Callable[[str], pd.Categorical | None] = lambda column: None):
        """`categorical(column)`: the importer's categorical of a column of `sessions` (Caseload.categorical_of),
        whose codes number the ids already; None for a column to number here."""
        codes, self.ids = _codes(sessions["client_id"], categorical("client_id"))
        dates = sessions["date"].to_numpy("datetime64[ns]")
        self._order = None if _in_client_date_order(codes, dates) else _client_date_order(codes, dates)
        codes = self.ordered(codes)
        self.runs = ClientRuns(codes)
        self.starts = self.runs.first
        self.ends = np.r_[self.starts[1:], len(codes)]
        self.client_ids = self.ids[codes[self.starts]]
        self.dates = self.ordered(dates)
        status = self.ordered(_status_codes(sessions["status"], categorical("status")))
        self.status_codes = status
        self.attended = status == SESSION_STATUSES.index("attended")
        self.therapist_codes, self.therapist_names = None, None
        if "therapist_id" in sessions:
            codes, self.therapist_names = _codes(sessions["therapist_id"], categorical("therapist_id"))
            self.therapist_codes = self.ordered(codes)
        self.episode_blocks = None  # per episode row, its client's block (-1: no sessions); see match

    @property
    def in_order(self) -> bool:
        """Whether the appointments already come in client and date order (no sort was needed)."""
        return self._order is None

    @property
    def order(self) -> np.ndarray:
        """Row i of the timeline is appointment order[i]; made only when asked for, for an export
        already in order (the sort's own result otherwise)."""
        return np.arange(len(self.dates)) if self._order is None else self._order

    def ordered(self, values: np.ndarray) -> np.ndarray:
        """`values[self.order]`; for an export already in client and date order, the values
        themselves, read-only (a copy of every appointment's value is new memory, which costs more
        than the copying on a virtual machine)."""
        if self._order is not None:
            return values[self._order]
        view = values.view()
        view.flags.writeable = False
        return view

    def match(self, client_ids: pd.Series) -> None:
        """Find each episode's block of appointments: the one hashing of the client ids every
        `join` then reuses (joins keep the episodes' rows in their order). Episodes that list the
        timeline's clients in its order, as the clients file joined side by side does, are its blocks
        one by one."""
        ids = client_ids.to_numpy()
        if len(ids) == len(self.client_ids) and np.array_equal(ids, self.client_ids):
            self.episode_blocks = np.arange(len(ids))
        else:
            self.episode_blocks = pd.Index(self.client_ids).get_indexer(ids)

    def join(self, episodes: pd.DataFrame, summary: pd.DataFrame, blocks: np.ndarray) -> pd.DataFrame:
        """`episodes.merge(summary, left_on="client_id", right_index=True, how="left")` for a summary
        with one row per client block in `blocks` (indexed by those clients' ids), matched by block
        number after `match`, so a million client ids are not hashed again for every join. The
        columns are added to `episodes` itself (the derivation's own table), which is returned."""
        if set(summary.columns) & set(episodes.columns):  # the merge's suffixes decide the names
            return episodes.merge(summary, left_on="client_id", right_index=True, how="left")
        row = np.full(len(self.starts) + 1, -1, dtype=np.int64)  # row[-1]: where a client without sessions lands
        row[blocks] = np.arange(len(blocks))
        columns = summary.reset_index(drop=True).reindex(row[self.episode_blocks])  # -1: missing, as merge leaves it
        for column in columns.columns:  # added one by one: a concat would copy the whole table every join
            episodes[column] = columns[column].to_numpy()
        return episodes


    def total(self, flags: np.ndarray) -> np.ndarray:
        """Per client, how many of its appointments are flagged: counted in 64-bit integers as they
        are summed, not from a 64-bit copy of every appointment's flag."""
        return np.add.reduceat(flags, self.starts, dtype=np.int64) if len(self.starts) else np.array([], np.int64)

    def attended_dates(self, reduce) -> np.ndarray:
        """First (np.minimum) or last (np.maximum) attended date per client; NaT when none."""
        as_int = self.dates.view(np.int64)
        fill = np.iinfo(np.int64).max if reduce is np.minimum else np.iinfo(np.int64).min
        picked = reduce.reduceat(np.where(self.attended, as_int, fill), self.starts)
        out = picked.view("datetime64[ns]").copy()
        out[picked == fill] = np.datetime64("NaT")
        return out


def _codes(column: pd.Series, categorical: pd.Categorical | None) -> tuple[np.ndarray, np.ndarray]:
    """pd.factorize(column); from the importer's categorical of the column, its codes and categories
    instead: the same grouping numbered in another order, without hashing the ids (12 million
    appointments at a million clients). Every per-client result is in client order, not code order."""
    if categorical is None:
        return pd.factorize(column)
    return categorical.codes, np.asarray(categorical.categories, dtype=object)


def _status_codes(status: pd.Series, categorical: pd.Categorical | None) -> np.ndarray:
    """Each appointment's place in SESSION_STATUSES (-1: none), from the importer's categorical when
    there is one (its few categories placed, then its codes looked up)."""
    if categorical is None:
        return pd.Categorical(status, categories=SESSION_STATUSES).codes
    places = [SESSION_STATUSES.index(c) if c in SESSION_STATUSES else -1 for c in categorical.categories]
    return np.array(places + [-1], dtype=np.int8)[categorical.codes]  # a missing status's -1 takes the last


def _in_client_date_order(codes: np.ndarray, dates: np.ndarray) -> bool:
    """Whether the rows are already as np.lexsort((dates, codes)) would put them (missing dates last
    in a client's block): one pass, instead of a sort, for the many exports written in that order."""
    as_int = np.where(np.isnat(dates), np.iinfo(np.int64).max, dates.view(np.int64))  # NaT last, as numpy sorts it
    return bool(np.all((codes[1:] > codes[:-1]) | ((codes[1:] == codes[:-1]) & (as_int[1:] >= as_int[:-1]))))


def _client_date_order(codes: np.ndarray, dates: np.ndarray) -> np.ndarray:
    """np.lexsort((dates, codes)) as one stable sort of a single whole-number key (the client's
    code, then the rank of the date among the distinct dates): a tenth of the time on an export
    nearly in client and date order, where lexsort still compares both keys of every row."""
    ranks, distinct = pd.factorize(dates, sort=True)
    ranks = np.where(ranks < 0, len(distinct), ranks)  # NaT (-1) after every date, where numpy sorts it
    key = codes.astype(np.int64) * (len(distinct) + 1) + ranks
    return np.argsort(key, kind="stable")


def _session_summary(sessions: pd.DataFrame, timeline: _Timeline) -> pd.DataFrame:
    """Per client: appointment counts, first/last dates and the status of the last appointment."""
    t = timeline
    summary = pd.DataFrame(
        {
            "client_id": t.client_ids,
            "sessions_scheduled": t.ends - t.starts,
            "sessions_attended": t.total(t.attended),
            "missed": t.total(np.isin(t.status_codes, [SESSION_STATUSES.index(m) for m in CLIENT_MISSES])),
            "first_scheduled": t.dates[t.starts],
            "last_scheduled": t.dates[t.ends - 1],
            "first_session": t.attended_dates(np.minimum),
            "last_session": t.attended_dates(np.maximum),
            "last_status": _status_names(t.status_codes[t.ends - 1]),
        }
    )
    summary["therapist_id"] = _main_therapist(timeline)
    return summary


def _status_names(codes: np.ndarray) -> np.ndarray:
    names = np.array(SESSION_STATUSES + (None,), dtype=object)
    return names[np.where(codes < 0, len(SESSION_STATUSES), codes)]


def _main_therapist(timeline: _Timeline) -> np.ndarray:
    """Per client block, the therapist who held most of its attended sessions (ties: the one seen
    first; a client who attended nothing goes to the first therapist scheduled).

    This is how a client seen by several therapists is resolved; the importer reports such clients.
    """
    out = np.full(len(timeline.starts), None, dtype=object)
    if timeline.therapist_codes is None:
        return out
    codes, names = timeline.therapist_codes, timeline.therapist_names
    # Most clients see one therapist: theirs is found without hashing; only the blocks of several
    # therapists are counted below.
    one, several = one_or_several(timeline.runs.run, codes, len(timeline.starts))
    single = (one >= 0) & ~several
    out[single] = np.asarray(names, dtype=object)[one[single]]
    rows = np.flatnonzero((codes >= 0) & several[timeline.runs.run])
    block = timeline.runs.run[rows]
    # each (client block, therapist) pair numbered by hashing, in order of appearance: the rows are
    # in block order, so a pair's number rises with its first row (sorting the pairs took twice as long)
    inverse, pair = pd.factorize(block * len(names) + codes[rows])
    first_row = np.flatnonzero(np.r_[True, inverse[1:] > np.maximum.accumulate(inverse)[:-1]]) if len(rows) else rows
    attended = np.bincount(inverse, weights=timeline.attended[rows], minlength=len(pair))
    pair_block = pair // max(len(names), 1)
    best = np.lexsort((first_row, -attended, pair_block))
    chosen = best[np.r_[True, pair_block[best][1:] != pair_block[best][:-1]]] if len(best) else best
    out[pair_block[chosen]] = np.asarray(names, dtype=object)[pair[chosen] % len(names)]
    return out


def _add_alliance_summaries(
    episodes: pd.DataFrame, sessions: pd.DataFrame, timeline: _Timeline, settings: EpisodeSettings
) -> pd.DataFrame:
    """First, mean, last and lowest alliance score and the number of ruptures per client. The
    measures are summarised side by side in threads (numpy work over every appointment), then
    joined in their order."""
    measures = [m for m in ("srs", "wai") if m in sessions and sessions[m].notna().sum() > 0]
    for summary, blocks in in_threads(lambda measure: _alliance_summary(sessions, timeline, settings, measure), measures):
        episodes = timeline.join(episodes, summary, blocks)
        rupture_name = summary.columns[-1]
        episodes[rupture_name] = episodes[rupture_name].fillna(0).astype(int)
    return episodes


def _alliance_summary(sessions: pd.DataFrame, timeline: _Timeline, settings: EpisodeSettings,
                      measure: str) -> tuple[pd.DataFrame, np.ndarray]:
    """One measure's summary per client with a rated session (its ruptures' count last), and those
    clients' blocks."""
    scores = timeline.ordered(sessions[measure].to_numpy(dtype=float))
    rated = timeline.attended & ~np.isnan(scores)
    rows = np.flatnonzero(rated)
    client, values = timeline.runs.run[rows], scores[rows]
    drop = getattr(settings, f"{measure}_rupture_drop")
    cutoff = getattr(settings, f"{measure}_rupture_cutoff")
    # copy=False: the rated sessions' arrays are read as they are (a copy of each is new memory of
    # every rated appointment, which costs more than the work on it at a million clients)
    rupture = flag_ruptures(pd.DataFrame({"client_id": client, measure: values}, copy=False), measure, drop, cutoff).to_numpy()
    starts = np.flatnonzero(np.r_[True, client[1:] != client[:-1]]) if len(client) else np.array([], int)
    ends = np.r_[starts[1:], len(client)] if len(client) else starts  # scores only at missed sessions: none
    rupture_name = "ruptures" if measure == "srs" else f"{measure}_ruptures"
    summary = pd.DataFrame(
        {
            f"{measure}_first": values[starts],
            f"{measure}_mean": np.add.reduceat(values, starts) / (ends - starts) if len(starts) else [],
            f"{measure}_last": values[ends - 1],
            f"{measure}_min": np.minimum.reduceat(values, starts) if len(starts) else [],
            rupture_name: np.add.reduceat(rupture, starts, dtype=np.int64) if len(starts) else [],
        },
        index=timeline.client_ids[client[starts]],
    )
    return summary, client[starts]


def _add_outcome_columns(
    episodes: pd.DataFrame, sessions: pd.DataFrame, timeline: _Timeline, settings: EpisodeSettings, present: list[str]
) -> pd.DataFrame:
    """The change columns of every measure `present` (first and last scored attended session), and
    the NHS Talking Therapies paired columns where PHQ-9 and GAD-7 are both present. The measures
    are worked out side by side in threads, then joined in their order."""
    measures = settings.measures()

    def changes(name: str) -> tuple[pd.DataFrame, np.ndarray]:
        scores = timeline.ordered(pd.to_numeric(sessions[name], errors="coerce").to_numpy(dtype=float))
        rows = np.flatnonzero(timeline.attended & ~np.isnan(scores))
        client = timeline.runs.run[rows]
        starts = np.flatnonzero(np.r_[True, client[1:] != client[:-1]]) if len(client) else np.array([], int)
        ends = np.r_[starts[1:], len(client)]
        last = np.where(ends - starts >= 2, scores[rows][ends - 1] if len(ends) else [], np.nan)
        return change_columns(measures[name], scores[rows][starts], last, index=timeline.client_ids[client[starts]]), client[starts]

    for columns, blocks in in_threads(changes, present):
        episodes = timeline.join(episodes, columns, blocks)
    if set(NHS_PAIR) <= set(present):
        for column, values in nhs_columns(episodes).items():  # added, not concatenated: a copy of the whole table
            episodes[column] = values.to_numpy()
    return episodes


def _unilateral(episodes: pd.DataFrame, export_date: pd.Timestamp | None, settings: EpisodeSettings):
    """(left, still_open): the last appointment was a client miss outside the ongoing window; the
    episode is still open (a recent appointment, or none at all)."""
    window = pd.Timedelta(days=int(settings.ongoing_window_days))
    last = episodes["last_scheduled"]
    recent = ((export_date - last) <= window).to_numpy() if export_date is not None else np.zeros(len(episodes), bool)
    no_appointments = last.isna().to_numpy()
    left = episodes["last_status"].isin(CLIENT_MISSES).to_numpy() & ~recent & ~no_appointments
    return left, recent | no_appointments


def _endings(episodes: pd.DataFrame, export_date, settings: EpisodeSettings, measure: str) -> np.ndarray:
    """completed, left_improved, left_unimproved, ongoing or other, as the unilateral rule reads the
    appointments (a transfer is other; a left episode without two scores is unimproved)."""
    termination = episodes["termination"] if "termination" in episodes else pd.Series(pd.NA, index=episodes.index)
    transferred = (termination == "transferred").to_numpy()
    other = (termination == "other").to_numpy()
    left, still_open = _unilateral(episodes, export_date, settings)
    improved = (episodes[f"{measure}_reliable_improvement"] == 1).to_numpy()
    return np.select(
        [transferred, still_open, left & improved, left, other],
        ["other", "ongoing", "left_improved", "left_unimproved", "other"],
        "completed",
    ).astype(object)


def _events(episodes: pd.DataFrame, export_date: pd.Timestamp | None, settings: EpisodeSettings) -> np.ndarray:
    termination = episodes["termination"] if "termination" in episodes else pd.Series(pd.NA, index=episodes.index)
    transferred = (termination == "transferred").to_numpy()
    other = (termination == "other").to_numpy()
    if settings.dropout_definition == "therapist_judged":
        return np.select(
            [(termination == "dropout").to_numpy(), (termination == "completed").to_numpy()],
            [EVENT_DROPOUT, EVENT_COMPLETED],
            EVENT_CENSORED,
        )
    if settings.dropout_definition == "unilateral_unimproved":
        ending = episodes["ending"]
        return np.select([ending == "left_unimproved", ending.isin(["completed", "left_improved"])],
                         [EVENT_DROPOUT, EVENT_COMPLETED], EVENT_CENSORED)
    left, still_open = _unilateral(episodes, export_date, settings)
    if settings.dropout_definition == "unilateral":
        return np.select(
            [transferred | still_open, left, other], [EVENT_CENSORED, EVENT_DROPOUT, EVENT_CENSORED], EVENT_COMPLETED
        )
    known = termination.notna().to_numpy()
    ongoing = np.where(known, (termination == "ongoing").to_numpy(), still_open)
    few = episodes["sessions_attended"].to_numpy() < int(settings.early_sessions)
    return np.select(
        [transferred | ongoing, few, other], [EVENT_CENSORED, EVENT_DROPOUT, EVENT_CENSORED], EVENT_COMPLETED
    )


def _durations(episodes: pd.DataFrame, time_scale: str) -> np.ndarray:
    if time_scale == "sessions" or "last_session" not in episodes:
        return episodes["sessions_attended"].to_numpy(dtype=float)
    days = (episodes["last_session"] - episodes["first_session"]).dt.days
    return days.fillna(0).to_numpy(dtype=float)


def _add_therapist_columns(episodes: pd.DataFrame, caseload: Caseload) -> pd.DataFrame:
    """The therapist's anonymous label (`therapist_label`, fixed from the whole caseload), therapist
    attributes under the `therapist_` prefix, and the client-therapist match factors."""
    if "therapist_id" not in episodes:
        return episodes
    # Each therapist looked up once: the episodes' ids numbered by one hashing, then what belongs to
    # a therapist worked out per id and taken by that number (a million episodes, ten thousand ids).
    codes, ids = pd.factorize(episodes["therapist_id"], use_na_sentinel=False)
    episodes["therapist_label"] = pd.Series(ids).map(caseload.therapist_labels).to_numpy()[codes]
    therapists = caseload.therapists
    if therapists is None:
        return episodes
    attrs = therapists.set_index("therapist_id")
    attrs = attrs[~attrs.index.duplicated()]
    per_id = attrs.reset_index(drop=True).reindex(attrs.index.get_indexer(ids))  # -1: not a therapist of the file
    for column in attrs.columns:
        episodes[THERAPIST_PREFIX + column] = per_id[column].to_numpy()[codes]
    if "site" in attrs and "site" not in episodes:
        episodes["site"] = per_id["site"].to_numpy()[codes]
    for factor in ("gender", "ethnicity", "religion"):
        if factor in episodes and factor in attrs:
            episodes[f"{factor}_match"] = _same(_normalized(episodes[factor]), _normalized(per_id[factor])[codes])
    if "language" in episodes and "languages" in attrs:
        episodes["language_match"] = _speaks(_normalized(episodes["language"]), codes, ids, attrs["languages"])
    if "age" in episodes and "age" in attrs:
        client_age = pd.to_numeric(episodes["age"], errors="coerce").to_numpy(dtype=float)
        episodes["age_gap"] = np.abs(client_age - pd.to_numeric(per_id["age"], errors="coerce").to_numpy(dtype=float)[codes])
    return episodes


def _normalized(values: pd.Series) -> np.ndarray:
    """Trimmed, case-folded text (None where missing), worked out once per distinct value. A whole
    number reads without decimals: a code held as 1.0 (a number column with a gap, or a therapist
    the therapists file lacks) is the 1 it was written as."""
    codes, uniques = pd.factorize(values)
    text = [f"{v:.0f}" if isinstance(v, (float, np.floating)) and float(v).is_integer() else v for v in uniques]
    folded = pd.Series(text, dtype="string").str.strip().str.casefold().to_numpy(dtype=object, na_value=None)
    out = np.full(len(codes), None, dtype=object)
    out[codes >= 0] = folded[codes[codes >= 0]]
    return out


def _same(client: np.ndarray, therapist: np.ndarray) -> np.ndarray:
    """1 where the client's and the therapist's normalized texts agree, 0 where they differ, NaN
    where either is missing."""
    known = ~(pd.isna(client) | pd.isna(therapist))
    out = np.full(len(client), np.nan)
    out[known] = (client[known] == therapist[known]).astype(float)
    return out


def _speaks(client_language: np.ndarray, codes: np.ndarray, ids: pd.Index, languages: pd.Series) -> np.ndarray:
    """1 where the therapist's languages (separated by ; , / or |) include the client's language
    (`client_language` normalized; the therapist as `codes` into `ids`), on integer pairs."""
    spoken = (
        languages.astype("string").str.casefold().str.split(r"\s*[;,/|]\s*", regex=True).explode().str.strip()
    )
    language_codes, heard = pd.factorize(client_language)
    width = max(len(heard), 1)
    who, what = ids.get_indexer(spoken.index), pd.Index(heard, dtype=object).get_indexer(spoken.to_numpy(dtype=object))
    pairs = who[(who >= 0) & (what >= 0)] * width + what[(who >= 0) & (what >= 0)]
    out = np.isin(codes.astype(np.int64) * width + language_codes, pairs).astype(float)
    unknown = (language_codes < 0) | ~ids.isin(languages.dropna().index)[codes]
    out[unknown] = np.nan
    return out


def outcome_counts(episodes: pd.DataFrame) -> pd.DataFrame:
    """How many episodes ended each way (`outcome`, `clients`), most common first."""
    return episodes["event"].map(EVENT_LABELS).value_counts().rename_axis("outcome").reset_index(name="clients")


# --- the time-to-event columns, as every survival analysis reads them -------------------------

TIMEFIX_TOLERANCE = np.sqrt(np.finfo(float).eps)  # R's aeqSurv default


def timefix(*columns: np.ndarray) -> list[np.ndarray]:
    """Times (one column, or start and stop) with near-equal values merged as R's
    `survival::aeqSurv` does (used by survfit and coxph by default): among the sorted distinct
    finite times, a gap at most sqrt(eps), absolutely or relative to their mean absolute value,
    ties a time to the one below it, and every time becomes the first of its run. Days computed
    two ways (e.g. 30.000000000000004 and 30) then count as one time, as in R."""
    arrays = [np.asarray(c, dtype=float) for c in columns]
    values = np.unique(np.concatenate([a[np.isfinite(a)] for a in arrays]))
    if len(values) < 2:
        return arrays
    gaps = np.diff(values)
    tied = (gaps <= TIMEFIX_TOLERANCE) | (gaps / np.mean(np.abs(values)) <= TIMEFIX_TOLERANCE)
    if not tied.any():
        return arrays
    cuts = values[np.concatenate([[True], ~tied])]
    out = []
    for a in arrays:
        merged = a.copy()
        finite = np.isfinite(a)
        merged[finite] = cuts[np.searchsorted(cuts, a[finite], "right") - 1]
        out.append(merged)
    return out


def r_status_coding(event: pd.Series, column: str = "event") -> str | None:
    """Why an event column holding only 1 and 2 cannot be read here, with the one-line fix (R's
    status coding: 1 = censored, 2 = event, which would silently read as 1 = dropout, 2 =
    completion), or None for any other column."""
    codes = set(pd.to_numeric(event, errors="coerce").dropna().unique())
    if codes != {1, 2}:
        return None
    return (f"The {column} column holds only 1 and 2, as R codes a status (1 = censored, 2 = event); here 0 means "
            f"ongoing or censored, 1 dropout and 2 completed. If 1 means censored, recode it first: "
            f"episodes[{column!r}] = episodes[{column!r}] - 1. If every episode really ended in dropout (1) or "
            "completion (2), leave at least the ongoing episodes in the table as 0.")


def check_event_coding(event: pd.Series, column: str = "event") -> None:
    """Refuse R's status coding (see `r_status_coding`) before any survival analysis reads it."""
    message = r_status_coding(event, column)
    if message:
        raise ValueError(message)
