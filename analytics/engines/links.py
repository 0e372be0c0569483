"""The checks between the canonical tables inside an engine (analytics.ingest.validate.LINKS):
appointments of clients the clients file lacks, clients without appointments, therapists the
therapists file lacks, clients seen by several therapists. The appointments are read once per
client and once per therapist; the checks compare those summaries, and only counts, the first
rows and the first ids come back, listed in file order as the in-memory check lists them."""

from __future__ import annotations

from analytics.engines.engine import q
from analytics.ingest.problems import MAX_LISTED_ROWS, Problem, quoted
from analytics.ingest.validate import LINK_IDS_SHOWN, link_problem


def check_links(engine, ingest) -> list[Problem]:
    """The LINKS problems of the canonical views `load_tables` left in `engine`."""
    tables = set(ingest.tables)
    has_therapist = {t: t in tables and "therapist_id" in engine.columns(t) for t in ("sessions", "clients")}
    problems = []

    def found(check: str, table: str, column: str, ids: str, named: str | None = None) -> None:
        """`ids` selects the ids found (id) with their first row (_first) and rows (n) in `table`'s
        `column`; the problem names `named` (by default `column`) as the file names it."""
        counts = engine.collect(f"SELECT COUNT(*) AS k, SUM(n) AS n FROM ({ids})").iloc[0]
        k = int(counts["k"])
        if not k:
            return
        first = engine.collect(f"SELECT id FROM ({ids}) ORDER BY _first LIMIT {LINK_IDS_SHOWN}")["id"]
        rows = engine.collect(f"SELECT _row FROM {table} WHERE {q(column)} IN (SELECT id FROM ({ids})) "
                              f"ORDER BY _row LIMIT {MAX_LISTED_ROWS}")["_row"]
        named = named or column
        source = ingest.mapping.table(table).columns.get(named, named)
        problems.append(link_problem(check, table, ingest.files[table], source, [int(r) + 1 for r in rows],
                                     int(counts["n"]), k, quoted(list(first), LINK_IDS_SHOWN, total=k)))

    def by(table: str, column: str, name: str, extra: str = "") -> str:
        """`table`'s rows summed per given value of `column` (id, _first, n), stored as `name`."""
        return engine.materialize(f"SELECT {q(column)} AS id, MIN(_row) AS _first, COUNT(*) AS n{extra} FROM {table} "
                                  f"WHERE {q(column)} IS NOT NULL GROUP BY {q(column)}", name)

    def absent(ids: str, other: str, column: str) -> str:
        return f"SELECT * FROM {ids} i WHERE NOT EXISTS (SELECT 1 FROM {other} o WHERE o.{q(column)} = i.id)"

    if "sessions" in tables:
        several = ", MIN(therapist_id) AS lo, MAX(therapist_id) AS hi" if has_therapist["sessions"] else ""
        clients_seen = by("sessions", "client_id", "session_clients", several)
    if {"sessions", "clients"} <= tables:
        found("unknown_client", "sessions", "client_id", absent(clients_seen, "clients", "client_id"))
        found("client_without_sessions", "clients", "client_id",
              absent("(SELECT client_id AS id, _row AS _first, 1 AS n FROM clients)", clients_seen, "id"))
    if "therapists" in tables:
        for table in ("sessions", "clients"):
            if has_therapist[table]:
                found("unknown_therapist", table, "therapist_id",
                      absent(by(table, "therapist_id", f"{table}_therapists"), "therapists", "therapist_id"))
    if has_therapist["sessions"]:
        found("several_therapists", "sessions", "client_id", f"SELECT * FROM {clients_seen} WHERE lo <> hi",
              "therapist_id")
    return problems
