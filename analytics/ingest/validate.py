"""Check a mapped table and convert it to canonical types, reporting every problem at once.

Only what makes analysis impossible is an error (a required column missing). Everything else
is a warning and the valid rows are kept: an appointment that cannot be used (no client, no
readable date, an unknown status, a duplicate, a date after the export) is left out; a value
that cannot be used (an unreadable number, a score off its scale, an unknown ending) becomes
missing and the rest of its row stays. Frames keep the spreadsheet row number as their index
until the caseload is built, so every problem points at the rows a user can find in the file.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from analytics.caseload import in_threads, row_ranges
from analytics.client_runs import one_or_several
from analytics.ingest.dictionary import REQUIRED, column_type
from analytics.ingest.mapping import (
    CANCELLED_BY,
    CANONICAL_COLUMNS,
    ISO,
    VALUE_SETS,
    TableMapping,
    apply_mapping,
    as_category,
    distinct_text,
    format_label,
    map_values,
    parse_dates,
    text_counts,
    to_flags,
    to_ids,
    to_numbers,
)
from analytics.ingest.mapping import (
    given as present,
)
from analytics.ingest.problems import Problem, problem_at, quoted, row_numbers
from analytics.episodes import r_status_coding
from analytics.outcomes import MEASURES
from analytics.schema import SCALES

# Above this share of appointments with a status the mapping does not know, the import stops.
UNKNOWN_SHARE = 0.05
MAP_HOW = ("On the Data page, give them a meaning in the value table of the mapping (they are listed first) and "
           "apply; on the command line, write the suggested mapping with `python -m analytics map ... --out "
           "mapping.json`, fill in the values listed with null, and run again with --mapping mapping.json.")
_ROW_WORD = {"sessions": "appointment", "clients": "client row", "therapists": "therapist row"}


def conform(table: str, raw: pd.DataFrame, mapping: TableMapping, file: str,
            export_date: pd.Timestamp | None = None):
    """The canonical table (canonical dtypes, unusable rows left out; None when a required column is
    missing or the file has no rows), its problems, and for sessions the booked appointments it left
    out (see `_Checker.booked`): client_id, therapist_id, date; None for other tables or when there are none."""
    problems = _missing_sources(table, raw, mapping, file)
    frame = apply_mapping(raw, mapping, table)
    missing = [c for c in REQUIRED[table] if c not in frame.columns]
    if missing:
        problems += [_missing_required(table, column, raw, file) for column in missing]
        return None, problems, None
    if len(frame) == 0:
        return None, problems, None
    checker = _Checker(table, frame, mapping, file, export_date)
    checker.convert_columns([c for c in CANONICAL_COLUMNS[table] if c in frame.columns])
    checker.pass_through_numbers()
    checker.apply()
    booked = checker.booked()
    checker.duplicates()
    if checker.drop.all():
        checker.problems.append(no_usable_rows(file, len(frame), checker.dropped_by))
    return checker.frame.loc[~checker.drop] if checker.drop.any() else checker.frame, problems + checker.problems, booked


class _Checker:
    """Converts one table column by column, collecting problems and the rows to leave out."""

    def __init__(self, table, frame, mapping, file, export_date):
        self.table, self.frame, self.mapping, self.file = table, frame, mapping, file
        given = export_date is not None
        self.limit = pd.Timestamp(export_date if given else pd.Timestamp.today()).normalize()
        self.limit_name = f"the export date {self.limit:%Y-%m-%d}" if given else f"today ({self.limit:%Y-%m-%d})"
        self.rows = _ROW_WORD[table]
        self._collect()

    def _collect(self):
        """Start collecting: converted columns, problems and the rows to leave out."""
        self.drop = np.zeros(len(self.frame), dtype=bool)
        self.converted: dict[str, pd.Series] = {}
        self.problems: list[Problem] = []
        self.dropped_by: list[str] = []

    def warn(self, mask, column, message, fix, leave_out=False):
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        self.problems.append(problem_at(self.frame, mask, self.file, self.source(column), message, fix))
        if leave_out:
            self.drop |= mask
            self.dropped_by.append(drop_cause(self.source(column) if column else None))

    def apply(self):
        """The converted columns in place of the read ones, in one new frame: setting a column of a
        frame copies its values, a second copy of every converted column."""
        self.frame = pd.DataFrame({c: self.converted.get(c, self.frame[c]) for c in self.frame.columns},
                                  index=self.frame.index, copy=False)

    def source(self, column):
        return self.mapping.columns.get(column, column)

    def convert_columns(self, columns):
        """Each column converted and checked by a checker of its own, side by side in threads (at a
        million clients the columns' numpy and pandas work runs on every core), then their problems,
        left-out rows and converted columns taken in column order: as if one after the other."""
        for column in dict.fromkeys([*columns, self.mapping.cancelled_by]):
            if column in self.frame.columns:
                self.frame[column]  # pandas caches a frame's column on first read: read here, not in the threads
        for part in in_threads(self._column_part, columns):
            self.problems += part.problems
            self.drop |= part.drop
            self.dropped_by += part.dropped_by
            self.converted.update(part.converted)

    def _column_part(self, column) -> _Checker:
        part = copy.copy(self)
        part._collect()
        part.convert(column)
        return part

    def convert(self, column):
        kind = column_type(column)
        raw = self.frame[column]
        given = present(raw)
        if kind == "id":
            self.converted[column] = to_ids(raw)
            key = column == "client_id" or self.table == "therapists"
            if key:
                n = int((~given).sum())
                self.warn(~given, column, f"{_count(n, self.rows)} without a {column.replace('_', ' ')} left out",
                          "Fill in the id in the file if these rows matter.", leave_out=True)
        elif kind == "date":
            self.converted[column] = self.dates(column, raw, given)
        elif kind in VALUE_SETS:
            self.converted[column] = self.categories(column, raw, given)
        elif kind in ("score", "number", "event"):
            self.converted[column] = self.numbers(column, kind, raw, given)
        elif kind == "flag":
            flags = to_flags(raw)
            if flags is not None:
                self.converted[column] = flags

    def dates(self, column, raw, given):
        fmt = self.mapping.date_formats.get(column, ISO)
        parsed = parse_dates(raw, fmt)
        bad = given & parsed.isna().to_numpy()
        sessions = self.table == "sessions"
        outcome = "left out" if sessions else "set to missing"
        self.warn(bad, column,
                  f"{_count(bad.sum(), self.rows)} with a date that cannot be read as {format_label(fmt)} "
                  f"(e.g. {quoted(distinct_text(raw[bad]), 3)}); {outcome}",
                  "Correct these dates in the file, or choose the column's date format in the mapping.", leave_out=sessions)
        if sessions:
            self.warn(~given, column, f"{_count((~given).sum(), self.rows)} without a date left out",
                      "Fill in the appointment dates in the file if these rows matter.", leave_out=True)
        future = (parsed > self.limit).to_numpy()
        self.warn(future, column,
                  f"{_count(future.sum(), self.rows)} dated after {self.limit_name}; {outcome}",
                  "Future appointments have not happened yet; export only past appointments or give the right export date.",
                  leave_out=sessions)
        if not sessions:
            parsed = _masked(parsed, future)
        return parsed

    def categories(self, column, raw, given):
        mapped = map_values(raw, self.mapping.values.get(column, {}), VALUE_SETS[column])
        unknown = given & mapped.isna().to_numpy()
        listed = _counts(raw[unknown])
        sessions = self.table == "sessions"
        if column == "status":
            mapped, by_unknown, by_words = self.cancelled_by(mapped)
            listed = ", ".join(t for t in (listed, by_words) if t)
            unknown = unknown | by_unknown
            self.not_held(mapped)
        message, fix, severity = unknown_values(self.table, column, int(unknown.sum()), len(raw), listed)
        if severity == "error":
            self.problems.append(problem_at(self.frame, unknown, self.file, self.source(column), message, fix, severity))
        else:
            self.warn(unknown, column, message, fix, leave_out=sessions)
        if sessions:
            self.warn(~given, column, f"{_count((~given).sum(), self.rows)} without a status left out",
                      "Fill in the appointment status in the file if these rows matter.", leave_out=True)
        return mapped

    def cancelled_by(self, status):
        """The status after the "cancelled by" column: a cancellation by the clinician is a clinician
        cancellation. Returns it, the cancelled rows whose cancelled-by word is not known, and those words."""
        source = self.mapping.cancelled_by
        if not source or source not in self.frame.columns:
            return status, np.zeros(len(status), dtype=bool), ""
        raw = self.frame[source]
        by = map_values(raw, self.mapping.values.get("cancelled_by", {}), CANCELLED_BY).to_numpy(dtype=object)
        cancelled = status.isin(["cancelled", "late_cancel"]).to_numpy()
        unknown = cancelled & present(raw) & pd.isna(by)
        out = np.where(cancelled & (by == "clinician"), "clinician_cancelled", status.to_numpy(dtype=object))
        words = _counts(raw[unknown])
        return as_category(pd.Series(out, index=status.index)), unknown, f"{source}: {words}" if words else ""

    def not_held(self, status):
        """Appointments not yet held (booked, pending, ...) and entered in error: left out and counted."""
        for value, what in (("not_yet_held", "not yet held (booked or pending)"),
                            ("entered_in_error", "entered in error"), ("left_out", "left out as the mapping says")):
            rows = (status == value).to_numpy()
            self.warn(rows, "status", f"{_count(rows.sum(), self.rows)} {what}" + ("" if value == "left_out" else "; left out"),
                      "Nothing to do: these were not held appointments.", leave_out=True)

    def booked(self) -> pd.DataFrame | None:
        """Appointments booked but not yet held, kept apart for the watch list's next appointment: a
        status meaning not yet held (FHIR booked, pending, ...), or an attended status dated after the
        export date (SimplePractice writes a booked appointment as "Show"). Only rows with a client id
        and a readable date; each client, therapist and date once."""
        columns = [c for c in ("client_id", "therapist_id", "date") if c in self.frame.columns]
        if self.table != "sessions" or "status" not in self.frame.columns or "date" not in columns:
            return None
        status, date = self.frame["status"], self.frame["date"]
        rows = (status == "not_yet_held") | ((status == "attended") & (date > self.limit))
        if not rows.any():  # the usual export: nothing booked, nothing more to look at
            return None
        rows &= date.notna() & present(self.frame["client_id"])
        booked = self.frame.loc[rows.to_numpy(), columns].drop_duplicates().reset_index(drop=True)
        return booked if len(booked) else None

    def numbers(self, column, kind, raw, given):
        numbers = to_numbers(raw)
        bad = given & numbers.isna().to_numpy()
        self.warn(bad, column,
                  f"{_count(bad.sum(), 'value')} that are not numbers (e.g. {quoted(distinct_text(raw[bad]), 3)}); "
                  "set to missing", "Correct these entries in the file.")
        numbers = _masked(numbers, bad)
        if kind == "score":
            low, high = SCALES[column]
            outside = (numbers < low) | (numbers > high)
            values = sorted(set(numbers[outside].tolist()))
            self.warn(outside, column,
                      f"{_count(outside.sum(), _scale_name(column) + ' score')} outside the scale {low:g}-{high:g} "
                      f"(values {quoted([f'{v:g}' for v in values], 5)}); set to missing, the rest of each row is kept",
                      "Check these entries in the source; a total off the scale is usually a typing or scoring error.")
            numbers = _masked(numbers, outside)
        elif kind == "event":
            wrong = numbers.notna() & ~numbers.isin([0, 1, 2])
            self.warn(wrong.to_numpy() | (~given), column,
                      f"{_count(int(wrong.sum() + (~given).sum()), self.rows)} with an event that is not 0, 1 or 2; left out",
                      "Code event as 0 (ongoing or censored), 1 (dropout) or 2 (completed).", leave_out=True)
            r_coded = r_status_coding(_masked(numbers, wrong), self.source(column))
            if r_coded:
                message, fix = r_coded.split(" If 1 means censored, ")
                self.problems.append(Problem(self.file, self.source(column), [], message.rstrip("."),
                                             "If 1 means censored, " + fix, "error"))
        elif column == "duration":
            negative = (numbers < 0).to_numpy()
            self.warn(negative, column, f"{_count(negative.sum(), self.rows)} with a negative duration; left out",
                      "Durations count sessions or days and cannot be negative.", leave_out=True)
        return numbers

    def pass_through_numbers(self):
        """Passed-through columns written entirely as numbers become numeric (extra measures, covariates)."""
        canonical = set(CANONICAL_COLUMNS[self.table])
        for column in self.frame.columns:
            series = self.frame[column]
            text = series.dtype == object or isinstance(series.dtype, pd.CategoricalDtype)
            if column in canonical or not text or not series.notna().any():
                continue
            numbers = to_numbers(series)
            if numbers.notna().sum() == series.notna().sum():
                self.converted[column] = numbers

    def duplicates(self):
        """Sessions: the same client, therapist, date and status twice is one appointment recorded
        twice (kept once). Clients and therapists: one row per id (the first is kept)."""
        if self.table == "sessions":
            key = [c for c in ("client_id", "therapist_id", "date", "status") if c in self.frame.columns]
            noun, what, fix = ("appointment", "repeating an earlier row (same client, therapist, date and status); "
                               "each is counted once", "Remove the repeated rows from the export if they are not real.")
        else:
            key = ["client_id" if self.table == "clients" else "therapist_id"]
            noun, what, fix = ("row", f"repeating an earlier {key[0].replace('_', ' ')}; only the first row of each is used",
                               "Keep one row per id in the file (one row per client episode).")
        keep = ~self.drop
        repeated = np.zeros(len(self.frame), dtype=bool)
        rows = _row_codes(self.frame, key)[keep]
        repeated[keep] = _repeats(rows)
        self.warn(repeated, key[0] if self.table != "sessions" else None, f"{_count(repeated.sum(), noun)} {what}", fix,
                  leave_out=True)


# The checks between tables, the same words in memory and inside an engine
# (analytics.engines.links): each message is a function of the rows found (n), the distinct ids
# they hold (k), those ids quoted for the message and the word for a row of the table checked.
LINKS = {
    "unknown_client": (
        lambda n, k, ids, row: f"{_count(n, 'appointment')} of {k:,} client(s) missing from the clients file "
                               f"({ids}); they are analysed without client details",
        "Check that both files come from the same export and date range."),
    "client_without_sessions": (
        lambda n, k, ids, row: f"{_count(n, 'client')} with no appointment in the sessions file; they count as "
                               "episodes with no sessions",
        "Check that the sessions export covers the same period as the clients file."),
    "unknown_therapist": (
        lambda n, k, ids, row: f"{_count(n, row)} with a therapist missing from the therapists file ({ids}); "
                               "their therapist details will be missing",
        "Add these therapists to the therapists file, or check the ids match."),
    "several_therapists": (
        lambda n, k, ids, row: f"{k:,} client(s) were seen by more than one therapist ({ids}); each is assigned "
                               "to the therapist who held most of their attended sessions (the earliest seen on a "
                               "tie) unless the clients file names their therapist",
        "Nothing to do if that is right; otherwise give these clients a therapist_id in the clients file."),
}
LINK_IDS_SHOWN = 5


def drop_cause(source: str | None) -> str:
    """What left rows out, as no_usable_rows lists it: a column's check (by its name in the file),
    or the repeated-row check (None)."""
    return f"column '{source}'" if source else "repeated rows"


def no_usable_rows(file: str, n: int, causes: list[str]) -> Problem:
    """Every one of a file's `n` rows was left out, by the checks `causes` (drop_cause) in order;
    said by the in-memory import and an engine's."""
    return Problem(file, None, [], f"None of the {n:,} rows of this file can be used (because of: "
                   f"{', '.join(dict.fromkeys(causes))})",
                   "Fix the problems listed for this file, or correct the mapping.", "error")


def link_problem(check: str, table: str, file: str, column: str, rows: list[int], n: int, k: int, ids: str) -> Problem:
    """The problem of a check in LINKS that found `n` rows of `table` (`rows` the first of them as
    spreadsheet rows, at most MAX_LISTED_ROWS) holding `k` distinct ids (`ids` quoted)."""
    message, fix = LINKS[check]
    return Problem(file, column, rows, message(n, k, ids, _ROW_WORD[table]), fix, more=n - len(rows))


def check_links(tables: dict[str, pd.DataFrame], files: dict[str, str],
                sources: dict[str, dict[str, str]] | None = None) -> list[Problem]:
    """Problems between tables (LINKS): unknown clients or therapists, clients seen by several
    therapists. `sources` (table -> canonical -> source column) names columns as the files do."""
    sessions, clients, therapists = (tables.get(t) for t in ("sessions", "clients", "therapists"))
    sources = sources or {}
    problems = []

    def found(check, table, column, mask, ids):
        if mask.any():
            rows, _ = row_numbers(tables[table].index[mask])
            problems.append(link_problem(check, table, files[table], sources.get(table, {}).get(column, column), rows,
                                         int(mask.sum()), len(ids), quoted(ids, LINK_IDS_SHOWN)))

    if sessions is not None and clients is not None:
        orphan = ~sessions["client_id"].isin(clients["client_id"].unique()).to_numpy()
        found("unknown_client", "sessions", "client_id", orphan, sessions["client_id"][orphan].unique())
        lonely = ~clients["client_id"].isin(sessions["client_id"].unique()).to_numpy()
        found("client_without_sessions", "clients", "client_id", lonely, [])
    if therapists is not None:
        known = therapists["therapist_id"].unique()
        for name, frame in (("sessions", sessions), ("clients", clients)):
            if frame is not None and "therapist_id" in frame.columns:
                stray = (frame["therapist_id"].notna() & ~frame["therapist_id"].isin(known)).to_numpy()
                found("unknown_therapist", name, "therapist_id", stray, frame["therapist_id"][stray].unique())
    if sessions is not None and "therapist_id" in sessions.columns:
        shared = _shared_clients(sessions)
        found("several_therapists", "sessions", "therapist_id", sessions["client_id"].isin(shared).to_numpy(), shared)
    return problems


def _masked(values: pd.Series, rows) -> pd.Series:
    """`values` missing where `rows` is true; the same series when no row is (mask copies every row,
    a million of them at a network's scale, even with nothing to mask)."""
    return values.mask(rows) if rows.any() else values


def _row_codes(frame: pd.DataFrame, columns: list) -> np.ndarray:
    """One integer per row, equal for rows equal in `columns` (codes combined column by column,
    re-factorized before they could overflow): duplicates found on integers, not text. Each
    column's codes follow its values' order, so an export sorted by these columns gives ascending codes."""
    combined = np.zeros(len(frame), dtype=np.int64)
    for column in columns:
        codes, size = _ordered_codes(frame[column])
        if combined.max(initial=0) >= (2**62) // (size + 2):
            combined = pd.factorize(combined)[0].astype(np.int64)
        combined *= size + 2  # in place: no temporary of every row per step
        combined += codes
        combined += 1
    return combined


def _ordered_codes(series: pd.Series) -> tuple[np.ndarray, int]:
    """Codes (-1: missing) that are equal for equal values, and how many there are. Other columns are
    factorized sorted, so their codes follow the values' order; a categorical's codes follow its
    categories' order (sorted by the CSV reader, first appearance in a Parquet file's)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.cat.codes.to_numpy(), len(series.cat.categories)
    codes, uniques = pd.factorize(series, sort=True)
    return codes, len(uniques)


def _repeats(rows: np.ndarray) -> np.ndarray:
    """pandas' duplicated(keep="first") of integer row codes. Codes nearly in order (an export sorted
    by its key, or a few sorted exports one after the other: fewer descents than one row in 32) are
    sorted, which then costs a few passes, and equal codes are neighbours. Otherwise they are hashed in
    one part per core side by side: a multiplicative hash of the code picks the part, so equal codes
    share one, and each part keeps its rows' order, so the first of equal rows is the one kept."""
    if np.count_nonzero(rows[1:] < rows[:-1]) <= len(rows) // 32:
        order = np.argsort(rows, kind="stable")  # stable: the first of equal rows comes first
        ordered = rows[order]
        out = np.empty(len(rows), dtype=bool)
        out[order] = np.r_[False, ordered[1:] == ordered[:-1]] if len(rows) else []
        return out
    parts = len(row_ranges(len(rows)))
    if parts == 1:
        return pd.Series(rows).duplicated(keep="first").to_numpy()
    part = ((rows.astype(np.int64, copy=False).view(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(32)) % np.uint64(parts)
    masks = [part == k for k in range(parts)]
    out = np.empty(len(rows), dtype=bool)
    for mask, found in zip(masks, in_threads(lambda mask: pd.Series(rows[mask]).duplicated(keep="first").to_numpy(), masks)):
        out[mask] = found
    return out


def _shared_clients(sessions: pd.DataFrame) -> list:
    """Clients with appointments under more than one therapist, on integer codes (no pair hashed)."""
    client_codes, clients = pd.factorize(sessions["client_id"])
    therapist_codes, _ = pd.factorize(sessions["therapist_id"])
    return list(np.asarray(clients)[one_or_several(client_codes, therapist_codes, len(clients))[1]])


def _missing_sources(table: str, raw: pd.DataFrame, mapping: TableMapping, file: str) -> list[Problem]:
    """Mapped source columns that the file does not have (a saved mapping applied to a new export)."""
    out = []
    for canonical, source in mapping.columns.items():
        if source not in raw.columns and canonical not in REQUIRED[table]:
            out.append(Problem(file, source, [], f"The mapping reads {canonical} from the column '{source}', which is not in the file; "
                               f"{canonical} is left out", "Choose the right column for it in the mapping."))
    return out


def _missing_required(table: str, column: str, raw: pd.DataFrame, file: str) -> Problem:
    columns = quoted(list(raw.columns), 12)
    return Problem(
        file, column, [],
        f"The {table} file needs a {column} column and none is mapped to it (the file's columns: {columns})",
        f"In the mapping, choose which column holds {column}, or add a column named '{column}' to the file.",
        "error",
    )


def unknown_values(table: str, column: str, n: int, n_rows: int, values: str) -> tuple[str, str, str]:
    """Message, fix and severity for `n` of a table's `n_rows` rows whose `column` holds a value the
    mapping does not know (`values`: each with how many rows hold it). More than UNKNOWN_SHARE of
    the appointments, or any client ending, stops the import: guessing would bias the dropout rate."""
    sessions = table == "sessions"
    allowed = ", ".join(VALUE_SETS[column])
    what = f"{_count(n, _ROW_WORD[table])} with a {column} that is not recognised: {values}"
    if (n > UNKNOWN_SHARE * n_rows) if sessions else n > 0:
        why = (f"rather than leave out more than {UNKNOWN_SHARE:.0%} of the appointments" if sessions
               else "rather than read these clients' endings as unknown")
        return f"{what}. The import stops {why}", f"Give each of these values one of: {allowed}. {MAP_HOW}", "error"
    on_purpose = " (left_out leaves them out on purpose)" if sessions else ""
    return (f"{what}; " + ("left out" if sessions else "set to missing"),
            f"In the mapping, give each of these values one of: {allowed}{on_purpose}.", "warning")


def _counts(values: pd.Series) -> str:
    """'Rescheduled' (40), 'Waitlist' (3): each distinct value with how many rows hold it."""
    counts = text_counts(values)
    return quoted(counts.index, 50, counts.to_numpy())


def _count(n, noun: str) -> str:
    n = int(n)
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _scale_name(column: str) -> str:
    """PHQ-9, GAD-7, ... for an outcome measure; the column in capitals (SRS, WAI) otherwise."""
    return MEASURES[column].label if column in MEASURES else column.upper()
