"""The episode rules as SQL: one text, run by DuckDB as written and by Spark after sqlglot.

The same rules as analytics/episodes.py (the in-memory path keeps its numpy code for the
dashboard's speed); tests/analytics/engines/test_rules_property.py proves the two equal on
generated caseloads under every definition and parameter. Reading order of the queries:

1. `timeline`: each appointment with its place `k` among its client's (by date, file order on ties);
2. `episode_summary` (a table): counts, first and last dates, the last appointment's status, each
   outcome measure's first and last score and the main therapist, from one aggregation of the
   appointments by client and therapist;
3. `episode_alliance` (a table): alliance summaries and ruptures (`srs`, `wai`), from the rated
   sessions in order (DuckDB: each client's scores as an ordered list; Spark: one window);
4. the episodes: the change columns of each outcome measure, the join with the clients table,
   then `ending`, `event` and `duration`; therapist attributes (`therapist_` prefix) and the
   client-therapist match factors.
"""

from __future__ import annotations

import pandas as pd

from analytics.caseload import anonymous_labels
from analytics.engines.engine import q
from analytics.episodes import EpisodeSettings, supported_definitions
from analytics.outcomes.measures import NHS_PAIR, TOLERANCE, Measure
from analytics.schema import (
    CLIENT_MISSES,
    EVENT_CENSORED,
    EVENT_COMPLETED,
    EVENT_DROPOUT,
    THERAPIST_PREFIX,
)

SUMMARY = ("sessions_scheduled", "sessions_attended", "missed", "first_scheduled", "last_scheduled",
           "first_session", "last_session", "last_status")
SUMMARY_TABLE, ALLIANCE_TABLE = "episode_summary", "episode_alliance"  # the per-client tables of `episode_stages`
LABELS = "therapist_labels"  # the table of anonymous therapist labels CaseloadFacts.read registers
_MISSES = "(" + ", ".join(f"'{m}'" for m in CLIENT_MISSES) + ")"
# An appointment's place in its client's timeline: by date, the file's order on ties. The first, last
# and main-therapist picks are MIN/MAX_BY this key in one aggregation, never a numbering of every row.
PAIR_PLACE = "{'d': date, 'r': _row}"
# DuckDB numbers rows 1, 2, ... so for dates without a time of day one whole number holds both (days
# times 2^40 plus the row: exact for 2^40 rows and dates to about the year 24,900), compared faster than a
# pair; Spark's row ids are not counts (the partition sits in the high bits).
WHOLE_PLACE = "date_diff('day', DATE '1970-01-01', date) * 1099511627776 + _row"
# The client's main therapist: most attended sessions, the earliest first appointment on ties.
MAIN_THERAPIST = "MIN_BY(therapist_id, CASE WHEN therapist_id IS NOT NULL THEN {'s': -seen, 'k': first_k} END)"


def literal(value) -> str:
    if value is None:
        return "NULL"
    return repr(float(value)) if isinstance(value, float) else str(value)


def episode_view(engine, settings: EpisodeSettings | None = None, export_date=None) -> str:
    """The episodes view in `engine`, built from its `sessions`, `clients` and `therapists` tables
    (any may be missing, not both sessions and clients). Returns the view's name."""
    settings = settings or EpisodeSettings()
    return stored_episodes(engine, CaseloadFacts.read(engine, settings, export_date), settings)


class CaseloadFacts:
    """What the SQL needs to know before it is written: the columns of each table, the alliance and
    outcome measures with scores, the export date and whether therapists have labels. Each is a
    small aggregate query."""

    def __init__(self, columns: dict[str, list[str]], alliance: list[str], measures: list[str],
                 export_date: pd.Timestamp | None, labelled: bool = False, place: str = PAIR_PLACE,
                 ordered_lists: bool = False):
        self.columns, self.alliance, self.measures, self.export_date = columns, alliance, measures, export_date
        self.labelled, self.place, self.ordered_lists = labelled, place, ordered_lists

    @classmethod
    def read(cls, engine, settings: EpisodeSettings, export_date=None) -> "CaseloadFacts":
        """The facts, the appointments read once for all of them (a pass over 124 million
        appointments is seconds)."""
        columns = {t: engine.columns(t) for t in ("sessions", "clients", "therapists") if engine.has(t)}
        sessions = columns.get("sessions", [])
        asked = [f"COUNT({q(m)}) AS {q('any_' + m)}" for m in ("srs", "wai") if m in sessions]
        asked += [f"COUNT(CASE WHEN status = 'attended' THEN {q(m)} END) AS {q('attended_' + m)}"
                  for m in settings.measures() if m in sessions]
        if export_date is None and "date" in sessions:
            asked.append("MAX(date) AS last_date")
        if "therapist_id" in sessions:
            asked.append("LIST(DISTINCT CAST(therapist_id AS VARCHAR)) AS therapist_ids")
        found = engine.collect(f"SELECT {', '.join(asked)} FROM sessions").iloc[0] if asked else pd.Series(dtype=object)
        alliance = [m for m in ("srs", "wai") if found.get(f"any_{m}", 0) > 0]
        measures = [m for m in settings.measures() if found.get(f"attended_{m}", 0) > 0]
        if export_date is None:
            dates = [found.get("last_date")]
            if "intake_date" in columns.get("clients", []):
                dates.append(engine.scalar("SELECT MAX(intake_date) FROM clients"))
            dates = [pd.Timestamp(d) for d in dates if d is not None and pd.notna(d)]
            export_date = max(dates) if dates else None
        seen = found.get("therapist_ids")
        seen = [] if seen is None else list(seen)
        return cls(columns, alliance, measures, None if export_date is None else pd.Timestamp(export_date),
                   _register_labels(engine, columns, seen), _place(engine, sessions), engine.name == "duckdb")

    def definitions(self) -> list[str]:
        """The dropout definitions these tables support (as analytics.episodes.available_definitions)."""
        return supported_definitions("termination" in self.columns.get("clients", []), "sessions" in self.columns,
                                     bool(self.measures))

    def outcome_measure(self, settings: EpisodeSettings) -> str | None:
        """The measure that decides improvement (as analytics.episodes.outcome_measure)."""
        if settings.outcome_measure is not None:
            return settings.outcome_measure if settings.outcome_measure in self.measures else None
        return self.measures[0] if self.measures else None


def _place(engine, sessions: list[str]) -> str:
    whole = engine.name == "duckdb" and "date" in sessions and engine.types("sessions", ["date"]).get("date") == "date"
    return WHOLE_PLACE if whole else PAIR_PLACE


def episode_stages(facts: CaseloadFacts, settings: EpisodeSettings) -> tuple[dict[str, str], str]:
    """The per-client tables the episodes are joined from (name: SELECT over the appointments) and
    the SELECT that yields one row per client episode from them, columns as `derive_episodes` has them."""
    clients = facts.columns.get("clients")
    if clients is not None and {"duration", "event"} <= set(clients):
        body = ("SELECT " + ", ".join(q(c) for c in clients if c != "event")
                + ", CAST(event AS BIGINT) AS event FROM clients")
        return {}, _with_therapists(facts, body, _ordered(clients, []))
    _check_available(facts, settings)
    if "sessions" not in facts.columns:
        return {}, _with_therapists(facts, _clients_only(clients), _ordered(clients, ["sessions_attended"]))
    return _from_sessions(facts, settings)


def stored_episodes(engine, facts: CaseloadFacts, settings: EpisodeSettings, name: str = "episodes") -> str:
    """The episodes stored in `engine` as `name`, each per-client table a stage of its own before
    them (`Engine.stage`)."""
    stages, body = episode_stages(facts, settings)
    for stage, sql in stages.items():
        engine.stage(sql, stage)
    return engine.materialize(body, name)


def _check_available(facts: CaseloadFacts, settings: EpisodeSettings) -> None:
    from analytics.episodes import _unavailable_message

    definition = settings.dropout_definition
    has_sessions = "sessions" in facts.columns
    available = ("termination" in facts.columns.get("clients", [])) if definition == "therapist_judged" else \
        has_sessions and (definition != "unilateral_unimproved" or bool(facts.measures))
    if not available:
        raise ValueError(_unavailable_message(definition))
    if definition == "unilateral_unimproved" and facts.outcome_measure(settings) is None:
        raise ValueError(f"The outcome measure {settings.outcome_measure!r} has no scores at attended sessions; "
                         "choose a measure the sessions carry.")


def _clients_only(clients: list[str]) -> str:
    """A clients file on its own (analytics.episodes._clients_without_history): time in therapy is
    its `sessions_attended` count when it has one; the therapist's judgement gives the event."""
    attended = "TRY_CAST(sessions_attended AS DOUBLE)" if "sessions_attended" in clients else "CAST(NULL AS DOUBLE)"
    own = ", ".join(q(c) for c in clients if c != "sessions_attended")
    event = event_sql(EpisodeSettings("therapist_judged"))
    return (f"SELECT {own}, {attended} AS sessions_attended, {attended} AS duration, CAST({event} AS BIGINT) AS event "
            "FROM (SELECT *, termination AS _termination FROM clients)")


def _ordered(columns: list[str], extra: list[str]) -> list[str]:
    return [c for c in columns if c != "_row"] + [c for c in extra if c not in columns] + \
        [c for c in ("event", "duration") if c not in columns and c not in extra]


def _from_sessions(facts: CaseloadFacts, settings: EpisodeSettings) -> tuple[dict[str, str], str]:
    sessions = facts.columns["sessions"]
    clients = facts.columns.get("clients")
    therapist = "therapist_id" in sessions
    measures = settings.measures()
    # a subquery, not a CTE: DuckDB would store a CTE read by several queries, a copy of every appointment
    timeline = ("(SELECT client_id, " + ("therapist_id, " if therapist else "") + "date, _row, status, "
                "status = 'attended' AS attended, " + "".join(f"{q(m)}, " for m in facts.alliance + facts.measures)
                + f"{facts.place} AS k FROM sessions) timeline")
    # One pass over the appointments, grouped by client and therapist: every per-client number is a
    # combination of these groups' (counts, extremes, first and last by place), so the client's
    # summary and its main therapist come from this small table, never from a second pass.
    partial, combined = [], []
    for name in facts.measures:
        rated = f"CASE WHEN attended AND {q(name)} IS NOT NULL THEN k END"
        first_k, first, last_k, last, n = (q(f"{name}_{part}") for part in ("first_k", "first", "last_k", "last", "rated"))
        partial.append(f"MIN({rated}) AS {first_k}, MIN_BY({q(name)}, {rated}) AS {first}, MAX({rated}) AS {last_k}, "
                       f"MAX_BY({q(name)}, {rated}) AS {last}, COUNT({rated}) AS {n}")
        combined.append(f"MIN_BY({first}, {first_k}) AS {q(name + '_first_score')}, CASE WHEN SUM({n}) >= 2 "
                        f"THEN MAX_BY({last}, {last_k}) END AS {q(name + '_last_score')}")
    groups = "client_id, therapist_id" if therapist else "client_id"
    stages = {SUMMARY_TABLE: (
        f"SELECT client_id, CAST(SUM(scheduled) AS BIGINT) AS sessions_scheduled, "
        "CAST(SUM(seen) AS BIGINT) AS sessions_attended, CAST(SUM(missed) AS BIGINT) AS missed, "
        "MIN(first_scheduled) AS first_scheduled, MAX(last_scheduled) AS last_scheduled, "
        "MIN(first_session) AS first_session, MAX(last_session) AS last_session, "
        + "".join(f"{sql}, " for sql in combined) + "MAX_BY(last_status, last_k) AS last_status, "
        + (MAIN_THERAPIST if therapist else "CAST(NULL AS VARCHAR)") + " AS therapist_id FROM "
        f"(SELECT {groups}, COUNT(*) AS scheduled, SUM(CASE WHEN attended THEN 1 ELSE 0 END) AS seen, "
        f"SUM(CASE WHEN status IN {_MISSES} THEN 1 ELSE 0 END) AS missed, MIN(date) AS first_scheduled, "
        "MAX(date) AS last_scheduled, MIN(CASE WHEN attended THEN date END) AS first_session, "
        "MAX(CASE WHEN attended THEN date END) AS last_session, MIN(k) AS first_k, MAX(k) AS last_k, "
        + "".join(f"{sql}, " for sql in partial) + f"MAX_BY(status, k) AS last_status FROM {timeline} "
        f"GROUP BY {groups}) pairs GROUP BY client_id")}
    ctes: list[str] = []
    joins = [f"{SUMMARY_TABLE} s"]
    session_columns = ["s.client_id AS client_id"] + [f"s.{c}" for c in SUMMARY] + ["s.therapist_id AS therapist_id"]
    derived: list[str] = []
    if facts.alliance:
        stages[ALLIANCE_TABLE] = _alliance_sql(facts.alliance, settings, timeline, facts.ordered_lists)
        joins.append(f"LEFT JOIN {ALLIANCE_TABLE} a ON s.client_id = a.client_id")
    for measure in facts.alliance:
        names = _alliance_columns(measure)
        session_columns += [f"a.{q(c)}" for c in names]
        derived += names
    for name in facts.measures:
        columns = change_sql(measures[name], f"s.{q(name + '_first_score')}", f"s.{q(name + '_last_score')}")
        session_columns += [f"{sql} AS {q(column)}" for column, sql in columns.items()]
        derived += list(columns)
    ctes.append("per_client AS (SELECT " + ", ".join(session_columns) + " FROM " + " ".join(joins) + ")")

    # the outer join with the clients table, as pandas' merge(how="outer", suffixes=("_sessions", ""))
    names = ["client_id"] + list(SUMMARY) + ["therapist_id"] + derived
    if clients is None:
        ctes.append("merged AS (SELECT * FROM per_client)")
        order = names[:-len(derived) or None]
    else:
        own = [c for c in clients if c != "client_id"]
        picked = ["COALESCE(p.client_id, c.client_id) AS client_id"]
        for column in names[1:]:
            if column == "therapist_id" and "therapist_id" in own:
                continue
            picked.append(f"p.{q(column)}" if column not in own else f"p.{q(column)} AS {q(column + '_sessions')}")
        picked += [f"c.{q(c)}" if c != "therapist_id" else "COALESCE(c.therapist_id, p.therapist_id) AS therapist_id"
                   for c in own]
        ctes.append("merged AS (SELECT " + ", ".join(picked) + " FROM per_client p FULL OUTER JOIN clients c "
                    "ON p.client_id = c.client_id)")
        order = ["client_id"] + [c if c not in own else c + "_sessions" for c in names[1:len(names) - len(derived)]
                                 if not (c == "therapist_id" and "therapist_id" in own)] + own
    if "intake_date" not in order:
        order.append("intake_date")
    order += derived
    if set(NHS_PAIR) <= set(facts.measures):
        extra = nhs_sql(measures)
        ctes.append("merged_nhs AS (SELECT *, " + ", ".join(f"{sql} AS {q(c)}" for c, sql in extra.items())
                    + " FROM merged)")
        order += list(extra)
    else:
        ctes.append("merged_nhs AS (SELECT * FROM merged)")

    has_termination = "termination" in (clients or [])
    has_intake = "intake_date" in (clients or [])
    intake = "COALESCE(intake_date, first_scheduled)" if has_intake else "first_scheduled"
    filled = {"sessions_scheduled": "COALESCE(sessions_scheduled, 0)", "sessions_attended": "COALESCE(sessions_attended, 0)",
              "missed": "COALESCE(missed, 0)", "intake_date": intake,
              **{c: f"COALESCE({q(c)}, 0)" for c in derived if c.endswith("ruptures")}}
    ctes.append("filled AS (SELECT " + ", ".join(f"{filled[c]} AS {q(c)}" if c in filled else q(c) for c in order)
                + " FROM merged_nhs)")
    termination = "termination" if has_termination else "CAST(NULL AS VARCHAR)"
    window = int(settings.ongoing_window_days)
    recent = ("FALSE" if facts.export_date is None else
              f"(date_diff('day', CAST(last_scheduled AS DATE), DATE '{facts.export_date:%Y-%m-%d}') <= {window})")
    ctes.append(
        f"flags AS (SELECT *, {termination} AS _termination, "
        f"(last_scheduled IS NULL OR COALESCE({recent}, FALSE)) AS _still_open, "
        f"(last_status IN {_MISSES} AND NOT COALESCE({recent}, FALSE) AND last_scheduled IS NOT NULL) AS _left "
        "FROM filled)")
    measure = facts.outcome_measure(settings)
    ending = "NULL"
    if measure is not None:
        ending = ("CASE WHEN _termination = 'transferred' THEN 'other' WHEN _still_open THEN 'ongoing' "
                  f"WHEN _left AND {q(measure + '_reliable_improvement')} = 1 THEN 'left_improved' "
                  "WHEN _left THEN 'left_unimproved' WHEN _termination = 'other' THEN 'other' ELSE 'completed' END")
        order.append("ending")
    ctes.append(f"ended AS (SELECT *, {ending} AS ending FROM flags)")
    event = event_sql(settings)
    duration = ("CAST(sessions_attended AS DOUBLE)" if settings.time_scale == "sessions" else
                "CAST(COALESCE(date_diff('day', CAST(first_session AS DATE), CAST(last_session AS DATE)), 0) AS DOUBLE)")
    order += ["event", "duration"]
    keep = ", ".join(q(c) for c in order)
    body = ("WITH " + ",\n".join(ctes) + f"\nSELECT {keep} FROM (SELECT *, CAST({event} AS BIGINT) AS event, "
            f"{duration} AS duration FROM ended)")
    return stages, _with_therapists(facts, body, order)


def _alliance_columns(measure: str) -> list[str]:
    rupture = "ruptures" if measure == "srs" else f"{measure}_ruptures"
    return [f"{measure}_first", f"{measure}_mean", f"{measure}_last", f"{measure}_min", rupture]


def _alliance_sql(measures: list[str], settings: EpisodeSettings, timeline: str, ordered_lists: bool) -> str:
    """First, mean, last and lowest score over rated attended sessions, and the ruptures (a drop of
    at least `drop` points from the previous rated session, or a fall from at or above the cutoff
    to below it), as analytics/ruptures.py flags them; a measure's previous score skips the
    sessions it has none for. With `ordered_lists` (DuckDB) each client's scores are gathered in
    order in the grouping and their ruptures counted along the list: a window over every rated
    session partitions and sorts them all (66 s against 57 s for 107 million rated sessions). Spark
    keeps the window: sqlglot carries neither an ordered list nor 1-based list indexing over."""
    rated = " OR ".join(f"{q(m)} IS NOT NULL" for m in measures)
    summaries, kept = [], []
    for measure in measures:
        score = q(measure)
        at = f"CASE WHEN {score} IS NOT NULL THEN k END"
        first, mean, last, low, rupture = _alliance_columns(measure)
        summaries.append(f"MIN_BY({score}, {at}) AS {first}, SUM({score}) / COUNT({score}) AS {mean}, "
                         f"MAX_BY({score}, {at}) AS {last}, MIN({score}) AS {low}")
        if ordered_lists:
            seq = q(measure + "_seq")
            flag = _rupture(settings, measure, f"{seq}[i]", f"{seq}[i + 1]")
            count = "0"
            if flag != "FALSE":
                summaries.append(f"list({score} ORDER BY k) FILTER (WHERE {score} IS NOT NULL) AS {seq}")
                count = f"COALESCE(len(list_filter(range(1, len({seq})), lambda i: {flag})), 0)"
            kept += [first, mean, last, low, f"CAST({count} AS BIGINT) AS {rupture}"]
        else:
            flag = _rupture(settings, measure, q(measure + "_previous"), score)
            summaries.append(f"CAST(SUM(CASE WHEN {flag} THEN 1 ELSE 0 END) AS BIGINT) AS {rupture}")
    if ordered_lists:
        scores = "".join(f", CAST({q(m)} AS DOUBLE) AS {q(m)}" for m in measures)
    else:
        window = "OVER (PARTITION BY client_id ORDER BY k)"
        scores = "".join(f", CAST({q(m)} AS DOUBLE) AS {q(m)}, LAG(CAST({q(m)} AS DOUBLE) IGNORE NULLS) {window} AS "
                         f"{q(m + '_previous')}" for m in measures)
    grouped = (f"SELECT client_id, {', '.join(summaries)} FROM (SELECT client_id, k{scores} FROM {timeline} "
               f"WHERE attended AND ({rated})) rated GROUP BY client_id")
    return f"SELECT client_id, {', '.join(kept)} FROM ({grouped}) scores" if ordered_lists else grouped


def _rupture(settings: EpisodeSettings, measure: str, previous: str, score: str) -> str:
    """Whether the step from `previous` to `score` is a rupture under the measure's rules (FALSE without any)."""
    drop = getattr(settings, f"{measure}_rupture_drop")
    cutoff = getattr(settings, f"{measure}_rupture_cutoff")
    rules = []
    if drop is not None:
        rules.append(f"({previous} - {score}) >= {literal(float(drop))}")
    if cutoff is not None:
        rules.append(f"({previous} >= {literal(float(cutoff))} AND {score} < {literal(float(cutoff))})")
    return " OR ".join(rules) if rules else "FALSE"


def _caseness(measure: Measure, score: str) -> str:
    at = f"{score} < {literal(float(measure.cutoff))}" if measure.higher_is_better else \
        f"{score} >= {literal(float(measure.cutoff))}"
    return f"(CASE WHEN {score} IS NULL THEN NULL WHEN {at} THEN 1.0 ELSE 0.0 END)"


def change_sql(measure: Measure, first: str, last: str) -> dict[str, str]:
    """The change columns of analytics/outcomes/change.py as SQL expressions, by column name."""
    m = measure.name
    change = f"({last} - {first})"
    better = change if measure.higher_is_better else f"(-{change})"
    threshold = literal(float(measure.reliable_change) - TOLERANCE)
    improved = f"(CASE WHEN {change} IS NULL THEN NULL WHEN {better} >= {threshold} THEN 1.0 ELSE 0.0 END)"
    worse = f"(CASE WHEN {change} IS NULL THEN NULL WHEN -{better} >= {threshold} THEN 1.0 ELSE 0.0 END)"
    case_first, case_last = _caseness(measure, first), _caseness(measure, last)
    recovered = (f"(CASE WHEN {change} IS NOT NULL AND {case_first} = 1 THEN "
                 f"(CASE WHEN {case_last} = 0 THEN 1.0 ELSE 0.0 END) END)")
    return {
        f"{m}_first": f"CAST({first} AS DOUBLE)",
        f"{m}_last": f"CAST({last} AS DOUBLE)",
        f"{m}_change": f"CAST({change} AS DOUBLE)",
        f"{m}_reliable_improvement": improved,
        f"{m}_reliable_deterioration": worse,
        f"{m}_caseness_first": case_first,
        f"{m}_recovered": recovered,
        f"{m}_reliable_recovery": f"({recovered} * {improved})",
    }


def nhs_sql(measures: dict[str, Measure]) -> dict[str, str]:
    """The NHS Talking Therapies paired rules on the PHQ-9 and GAD-7 change columns (change.nhs_columns)."""
    a, b = NHS_PAIR
    paired = f"({q(a + '_change')} IS NOT NULL AND {q(b + '_change')} IS NOT NULL)"
    improved = f"({q(a + '_reliable_improvement')} = 1 OR {q(b + '_reliable_improvement')} = 1)"
    worse = f"({q(a + '_reliable_deterioration')} = 1 OR {q(b + '_reliable_deterioration')} = 1)"
    case_first = f"({q(a + '_caseness_first')} = 1 OR {q(b + '_caseness_first')} = 1)"
    case_last = (f"(COALESCE({_caseness(measures[a], q(a + '_last'))} = 1, FALSE) OR "
                 f"COALESCE({_caseness(measures[b], q(b + '_last'))} = 1, FALSE))")
    yes = "CASE WHEN {} THEN 1.0 ELSE 0.0 END"
    nhs_improvement = f"(CASE WHEN {paired} THEN {yes.format(f'{improved} AND NOT {worse}')} END)"
    recovery = f"(CASE WHEN {paired} AND {case_first} THEN {yes.format(f'NOT {case_last}')} END)"
    return {
        "nhs_reliable_improvement": nhs_improvement,
        "nhs_reliable_deterioration": f"(CASE WHEN {paired} THEN {yes.format(f'{worse} AND NOT {improved}')} END)",
        "nhs_recovery": recovery,
        "nhs_reliable_recovery": f"({recovery} * {nhs_improvement})",
    }


def event_sql(settings: EpisodeSettings) -> str:
    """`event` under the settings' definition (analytics.episodes._events)."""
    definition = settings.dropout_definition
    if definition == "therapist_judged":
        return (f"CASE WHEN _termination = 'dropout' THEN {EVENT_DROPOUT} WHEN _termination = 'completed' "
                f"THEN {EVENT_COMPLETED} ELSE {EVENT_CENSORED} END")
    if definition == "unilateral_unimproved":
        return (f"CASE WHEN ending = 'left_unimproved' THEN {EVENT_DROPOUT} "
                f"WHEN ending IN ('completed', 'left_improved') THEN {EVENT_COMPLETED} ELSE {EVENT_CENSORED} END")
    if definition == "unilateral":
        return (f"CASE WHEN _termination = 'transferred' OR _still_open THEN {EVENT_CENSORED} "
                f"WHEN _left THEN {EVENT_DROPOUT} WHEN _termination = 'other' THEN {EVENT_CENSORED} "
                f"ELSE {EVENT_COMPLETED} END")
    ongoing = "(CASE WHEN _termination IS NOT NULL THEN _termination = 'ongoing' ELSE _still_open END)"
    return (f"CASE WHEN _termination = 'transferred' OR {ongoing} THEN {EVENT_CENSORED} "
            f"WHEN sessions_attended < {int(settings.early_sessions)} THEN {EVENT_DROPOUT} "
            f"WHEN _termination = 'other' THEN {EVENT_CENSORED} ELSE {EVENT_COMPLETED} END")


def _register_labels(engine, columns: dict[str, list[str]], in_sessions: list[str]) -> bool:
    """Register LABELS: each therapist id of the whole caseload (the therapists and clients tables,
    and `in_sessions`, the appointments' distinct ids) with its anonymous label
    (analytics.caseload.anonymous_labels, as Caseload.therapist_labels), so filters never relabel."""
    tables = [t for t in ("therapists", "clients") if "therapist_id" in columns.get(t, [])]
    ids = pd.Series(in_sessions, dtype=object)
    if tables:
        ids = pd.concat([ids, engine.collect(" UNION ".join(
            f"SELECT DISTINCT CAST(therapist_id AS VARCHAR) AS therapist_id FROM {t}" for t in tables))["therapist_id"]])
    labels = anonymous_labels(ids)
    if not labels:
        return False
    engine.register(LABELS, pd.DataFrame({"therapist_id": list(labels), "therapist_label": list(labels.values())}))
    return True


def _with_therapists(facts: CaseloadFacts, body: str, order: list[str]) -> str:
    """The therapist's anonymous label, therapist attributes under the `therapist_` prefix and the
    match factors (analytics.episodes._add_therapist_columns)."""
    if "therapist_id" not in order:
        return f"SELECT {', '.join(q(c) for c in order)} FROM ({body})"
    label = "l.therapist_label" if facts.labelled else "CAST(NULL AS VARCHAR) AS therapist_label"
    joins = (f" LEFT JOIN {LABELS} l ON CAST(e.therapist_id AS VARCHAR) = l.therapist_id" if facts.labelled else "")
    therapists = facts.columns.get("therapists")
    if therapists is None:
        return f"SELECT {', '.join([f'e.{q(c)}' for c in order] + [label])} FROM ({body}) e{joins}"
    attrs = [c for c in therapists if c != "therapist_id"]
    picked = [f"e.{q(c)}" for c in order] + [label] + [f"t.{q(c)} AS {q(THERAPIST_PREFIX + c)}" for c in attrs]
    if "site" in attrs and "site" not in order:
        picked.append("t.site AS site")
    norm = "LOWER(TRIM(CAST({} AS VARCHAR)))"
    own = []  # the therapist's side of each match, worked out once per therapist, not once per client
    for factor in ("gender", "ethnicity", "religion"):
        if factor in order and factor in attrs:
            a, b = norm.format(f"e.{factor}"), f"t._{factor}_match"
            own.append(f"{norm.format(factor)} AS _{factor}_match")
            picked.append(f"CASE WHEN {a} IS NULL OR {b} IS NULL THEN NULL WHEN {a} = {b} THEN 1.0 ELSE 0.0 END "
                          f"AS {factor}_match")
    if "language" in order and "languages" in attrs:
        own.append("('|' || REGEXP_REPLACE(LOWER(TRIM(CAST(languages AS VARCHAR))), '\\s*[;,/|]\\s*', '|', 'g') || '|') "
                   "AS _spoken")
        client = norm.format("e.language")
        picked.append(f"CASE WHEN {client} IS NULL OR t.languages IS NULL THEN NULL "
                      f"WHEN STRPOS(t._spoken, '|' || {client} || '|') > 0 THEN 1.0 ELSE 0.0 END AS language_match")
    if "age" in order and "age" in attrs:
        picked.append("ABS(TRY_CAST(e.age AS DOUBLE) - TRY_CAST(t.age AS DOUBLE)) AS age_gap")
    first = (f"(SELECT *{''.join(', ' + c for c in own)} FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY therapist_id "
             "ORDER BY _row) AS _pick FROM therapists) WHERE _pick = 1)")
    return (f"SELECT {', '.join(picked)} FROM ({body}) e LEFT JOIN {first} t ON e.therapist_id = t.therapist_id"
            + joins)
