"""Files to canonical tables inside an engine: the mapping (renames, value maps, date parsing) and
the checks, as SQL; what comes back is counts of each problem with its first rows as examples.

The conversions follow analytics/ingest/mapping.py and the checks analytics/ingest/validate.py:
text files are read as text (as the in-memory reader does), an unusable appointment (no client,
no readable date, an unknown status, a repeat, a date after the export) is left out, an unusable
value becomes missing. Row numbers in problems are spreadsheet rows (the header is row 1).
The links between the files are checked by analytics.engines.links. Not checked inside an engine:
the direct-identifier scan (the in-memory import does it on files that fit in memory).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from analytics.engines.engine import ROW, Rejected, is_table_name, q
from analytics.engines.links import check_links
from analytics.engines.sources import Unreadable
from analytics.ingest.dictionary import REQUIRED, column_type
from analytics.ingest.mapping import (
    CANONICAL_COLUMNS,
    ISO,
    VALUE_SETS,
    Mapping,
    TableMapping,
    format_label,
    map_values,
    suggest_mapping,
    to_flags,
    value_key,
)
from analytics.ingest.problems import MAX_LISTED_ROWS, Problem, quoted, row_numbers
from analytics.ingest.load import nothing_to_analyse
from analytics.ingest.readers import (
    NA_VALUES,
    SEPARATORS,
    TOTAL_LABEL,
    TOTALS,
    extra_fields_skipped,
    is_unnamed,
    lines_left_out,
    no_rows,
    source_name,
    unnamed_with_values,
    unreadable,
)
from analytics.ingest.validate import (
    _ROW_WORD,
    _count,
    _missing_required,
    _missing_sources,
    _scale_name,
    drop_cause,
    no_usable_rows,
    unknown_values,
)
from analytics.schema import SCALES, TABLES

# readers.TOTAL_LABEL as DuckDB's RE2 (and Java's regex, for Spark) read it, with what Python reads in text
# where RE2 reads ASCII: case ignored; \s as ASCII \t to \r, \x1c-\x1f, \x85 and Unicode's separators; a word
# boundary before .* as "the end, or a character that is no letter, digit, _ or line end"; and . as Python's,
# any character but a line end (Java's . leaves out \r and \u2028 as well)
_SPACE = r"\t-\r\x{1c}-\x{1f}\x{85}\pZ"
TOTAL_SQL = "(?i)" + (TOTAL_LABEL.replace(r"[\s-]", f"[{_SPACE}-]").replace(r"\s", f"[{_SPACE}]")
                      .replace(r"\b.*", r"([^\pL\pN_\n][^\n]*)?"))
MAX_DISTINCT = 10_000  # a value-mapped column with more distinct values is normalised row by row
SAMPLE_ROWS = 2000  # rows the mapping is suggested from, as the Data page samples values
# stored types whose date is the one its text reads as (an instant's: on the clock of its file's zone, _wall_clock);
# a float's text is not its double, so floats are read as text
DATE_TYPES = {"date", "timestamp", "timestamp_s", "timestamp_ms", "timestamp_ns", "timestamp_ntz",
              "timestamp with time zone"}
_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})")
WHOLE_NUMBERS = {"tinyint", "smallint", "integer", "int", "bigint", "utinyint", "usmallint", "uinteger", "ubigint"}
NUMBER_TYPES = WHOLE_NUMBERS | {"double"}
_TIME_PART = r"[ T]+\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*([AaPp]\.?[Mm]\.?)?\s*(Z|[+-]\d{2}:?\d{2})?$"


@dataclass
class EngineIngest:
    """What an import inside an engine produced: the mapping used, the problems, the tables that
    became canonical views (named sessions, clients, therapists) and the export date."""

    mapping: Mapping
    problems: list[Problem] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    export_date: pd.Timestamp | None = None

    @property
    def ready(self) -> bool:
        return not any(p.blocking for p in self.problems) and bool({"sessions", "clients"} & set(self.tables))


def load_tables(engine, sources: dict, mapping: Mapping | None = None, export_date=None) -> EngineIngest:
    """Register each source (path, glob, list of files, Spark table name) as read_<table>, its rows
    less a text file's blank and totals rows as raw_<table>; map and check them inside `engine`,
    and leave the canonical tables as views named after the table."""
    held = [t for t in TABLES if engine.has(t)]
    if held:  # an earlier import's tables would mix with this one's (a table this import lacks, or fails to build)
        raise ValueError(f"This engine already holds an import ({', '.join(held)}); open a new engine for each "
                         "import (analytics.engines.open_engine).")
    files = {t: source_name(s if isinstance(s, str) else str(s)) for t, s in sources.items()}
    read, readable = [], []  # what reading the files tells the user (title rows skipped, lines left out)
    for table, source in sources.items():
        if table not in TABLES:
            raise ValueError(f"'{table}' is not a table of the caseload; use one of: {', '.join(TABLES)}.")
        read_as = f"read_{table}"
        try:
            engine.register(read_as, source)
        except Unreadable as error:
            read.append(error.problem(source_name(error.file)))
            continue
        except engine.read_errors as error:
            read.append(_not_read(engine, files[table], source, error))
            continue
        readable.append(table)
        layout, aside = engine.layouts.get(read_as), None
        if layout is not None:  # a text file: its header and title rows, the lines set aside
            read += layout.problems(files[table])
            read += [_rejected_problem(r, layout.delimiter) for r in engine.rejected.get(read_as, [])]
        columns = engine.columns(read_as)
        kept, found = _named_columns(engine, read_as, columns, files[table])
        read += found
        if layout is not None:  # its blank and totals rows
            aside, found = _spreadsheet_rows(engine, read_as, columns, files[table])
            read += found
        left_out = f" WHERE _row NOT IN (SELECT _row FROM {aside})" if aside else ""
        engine.view(f"SELECT {kept} FROM {read_as}{left_out}", f"raw_{table}")
    if any(p.blocking for p in read):  # as in memory: nothing is checked while a file is unreadable
        if not {"sessions", "clients"} & set(readable):
            read.append(nothing_to_analyse(files, {}))
        return EngineIngest(mapping or Mapping(), read, files=files)
    samples = {t: engine.collect(f"SELECT * FROM raw_{t} LIMIT {SAMPLE_ROWS}").drop(columns="_row")
               for t in readable}
    suggested = suggest_mapping({t: _as_text(f) for t, f in samples.items()})
    used = suggested if mapping is None else mapping.with_tables(suggested)
    limit = pd.Timestamp(export_date).normalize() if export_date is not None else None
    result, rows = EngineIngest(used, read, files=files), {}
    for table in TABLES:
        if table in sources:
            conversion = _Conversion(engine, table, used.table(table), files[table], limit)
            result.problems += conversion.run()
            rows[table] = conversion.n_rows
            if engine.has(table) and conversion.n_kept:  # as in memory: a table none of whose rows is usable is none
                result.tables.append(table)
    result.problems += check_links(engine, result)
    if not {"sessions", "clients"} & set(result.tables):
        result.problems.append(nothing_to_analyse(files, rows))
    return result


def _first_line(error: Exception) -> str:
    """An engine's message without its stack or its plan: the first line, at most 200 characters."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:200]


def _not_read(engine, name: str, source, error: Exception) -> Problem:
    """What the engine said when it could not read a file, or (Spark) a table of its catalog."""
    said = f"{engine.label} could not read it ({_first_line(error)})"
    if isinstance(source, str) and is_table_name(source):
        return Problem(name, None, [], f"The table could not be read: {said}",
                       "Check the table's name (database.table) and that this Spark session can see it.", "error")
    return unreadable(name, said, "Check that the file is a whole CSV or Parquet export (not cut short), or export "
                      "the table again.")


def _named_columns(engine, table: str, columns: list[str], name: str) -> tuple[str, list[Problem]]:
    """The `columns` of `table` as the in-memory reader keeps them (readers.finish_frame): one without
    a name in the header row is left out when it holds no value and said when it does. The
    select list of those kept and the problems; a pass over the rows only for a file with such a column."""
    unnamed = [c for c in columns if is_unnamed(c)]
    if not unnamed:
        return "*", []
    counts = engine.collect(f"SELECT {', '.join(f'COUNT({q(c)}) AS {q(c)}' for c in unnamed)} FROM {table}").iloc[0]
    empty = {c for c in unnamed if counts[c] == 0}
    kept = ", ".join(q(c) for c in [*columns, ROW] if c not in empty)
    return kept, [unnamed_with_values(name, c) for c in unnamed if c not in empty]


def _spreadsheet_rows(engine, table: str, columns: list[str], name: str) -> tuple[str | None, list[Problem]]:
    """A text file's blank separator rows and totals rows (a spreadsheet's "Total" or "Sum" row),
    left out and said as the in-memory reader does (readers.finish_frame); blank rows after the
    last filled one are left out unsaid. The table of the rows left out (None when there are
    none) and the problems. One pass over the file's rows and one over those found."""
    texts = [_text(q(c)) for c in columns]
    if not texts:
        return None, []
    blank = " AND ".join(f"{t} IS NULL" for t in texts)
    total = " OR ".join(f"REGEXP_MATCHES({t}, {_literal(TOTAL_SQL)})" for t in texts)
    aside = engine.materialize(f"SELECT _row, blank FROM (SELECT _row, ({blank}) AS blank, COALESCE({total}, FALSE) "
                               f"AS total FROM {table}) WHERE blank OR total", f"{table}_aside")
    found = engine.collect(f"SELECT _row, blank FROM {aside} ORDER BY _row")
    if found.empty:
        return None, []
    last = engine.scalar(f"SELECT MAX(_row) FROM {table} WHERE NOT ({blank})")
    rows = found["_row"].to_numpy(dtype="int64") + 1  # spreadsheet rows: the header is row 1
    blank_rows = found["blank"].to_numpy(dtype=bool)
    separators = rows[blank_rows & (found["_row"].to_numpy() < (last if last is not None else -1))]
    problems = []
    for listed, (message, fix) in ((separators, SEPARATORS), (rows[~blank_rows], TOTALS)):
        if len(listed):
            shown, more = row_numbers(listed)
            problems.append(Problem(name, None, shown, message.format(n=len(listed)), fix, more=more))
    return aside, problems


def _rejected_problem(rejected: Rejected, delimiter: str) -> Problem:
    """Lines the engine's reader set aside: too many fields as the in-memory reader says it (it
    skips them too), too few as left out (the in-memory reader pads them; see DuckDBEngine), and
    anything else (an unclosed quote, a line too long) stops the import, as it stops the in-memory
    one: DuckDB cannot tell which rows follow such a line."""
    name = source_name(rejected.file)
    if rejected.kind == "TOO MANY COLUMNS":
        return extra_fields_skipped(name, delimiter, rejected.line)
    if rejected.kind == "MISSING COLUMNS":
        return lines_left_out(name, rejected.n, rejected.line, "fewer fields than the header")
    return unreadable(name, f"DuckDB's reader stopped at line {rejected.line:,} ({rejected.kind.lower()})",
                      "Check that line in the file (an unclosed quote, a line too long), or export the table again.")


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(object).where(frame.notna(), None)


def _text(expression: str) -> str:
    """A raw value as text, missing when it is one of the reader's missing-value words. The words
    are compared one by one: DuckDB plans `IN (nine words)` as a join per column (counting the
    checks of a million clients' appointments took 15.1 s with it, 5.8 s without)."""
    text = f"CAST({expression} AS VARCHAR)"
    na = " OR ".join(f"{text} = {_literal(v)}" for v in NA_VALUES)
    return f"(CASE WHEN {na} THEN NULL ELSE {text} END)"


def _trimmed(text: str) -> str:
    """NULLIF(TRIM(text), ''), trimming only text that starts or ends with a character TRIM could
    strip (a space, ASCII or Unicode): a printable ASCII character at both ends keeps the text as
    it is, and trimming every id (a new string per row) was the dearest step of reading a file."""
    plain = f"UNICODE({text}) BETWEEN 33 AND 126 AND UNICODE(RIGHT({text}, 1)) BETWEEN 33 AND 126"
    return f"(CASE WHEN {plain} THEN {text} ELSE NULLIF(TRIM({text}), '') END)"


def _key(text: str) -> str:
    """value_key in SQL: lower case, runs of anything but letters and digits as one space, trimmed."""
    return f"TRIM(REGEXP_REPLACE(LOWER({text}), '[^0-9a-z]+', ' ', 'g'))"


def _number(text: str) -> str:
    """The text as a number, a decimal comma read as a point ("4,5"). A text with a comma is never
    a number as it is, so the pattern is matched only where the plain reading fails, not on every
    score of every appointment."""
    comma = f"CASE WHEN REGEXP_MATCHES(TRIM({text}), '^-?[0-9]+,[0-9]{{1,2}}$') " \
            f"THEN TRY_CAST(REPLACE(TRIM({text}), ',', '.') AS DOUBLE) END"
    return f"COALESCE(TRY_CAST(TRIM({text}) AS DOUBLE), {comma})"


def _wall_clock(value: str, zone: str) -> str:
    """A stored instant as the clock read in `zone` (a name such as Europe/London, or an offset such
    as +05:30), as the in-memory import reads a zoned column; the engines' sessions are in UTC."""
    offset = _OFFSET.fullmatch(zone)
    if offset:
        sign, hours, minutes = offset.groups()
        shift = int(hours) * 60 + int(minutes)
        return f"CAST({value} AS TIMESTAMP) {sign} INTERVAL '{shift}' MINUTE" if shift else value
    return value if zone.upper() in ("UTC", "Z", "ETC/UTC") else f"TIMEZONE({_literal(zone)}, {value})"


def _literal(value) -> str:
    return "NULL" if value is None else "'" + str(value).replace("'", "''") + "'"


def _lookup(key: str, table: dict) -> str:
    if not table:
        return "CAST(NULL AS VARCHAR)"
    cases = " ".join(f"WHEN {_literal(k)} THEN {_literal(v)}" for k, v in table.items())
    return f"CASE {key} {cases} ELSE NULL END"


class _Conversion:
    """One table: the canonical view, and the problems found on the way (counted in the engine)."""

    def __init__(self, engine, table: str, mapping: TableMapping, file: str, export_date):
        self.engine, self.table, self.mapping, self.file = engine, table, mapping, file
        self.limit = export_date if export_date is not None else pd.Timestamp.today().normalize()
        self.limit_name = (f"the export date {self.limit:%Y-%m-%d}" if export_date is not None
                           else f"today ({self.limit:%Y-%m-%d})")
        self.rows = _ROW_WORD[table]
        self.n_rows = self.n_kept = 0  # the file's rows and those kept, once run
        self.checks: list[tuple] = []  # (flag sql, column, message, fix, leave out, example sql, noun, shown, counted, order)
        self.texts: dict[str, str] = {}  # each raw column's text, computed once per row: sql -> name
        self.parts: dict[str, str] = {}  # per-row values several columns and checks read: sql -> name

    def run(self) -> list[Problem]:
        raw_columns = self.engine.columns(f"raw_{self.table}")
        header = pd.DataFrame(columns=raw_columns)
        problems = _missing_sources(self.table, header, self.mapping, self.file)
        present = {c: s for c, s in self.mapping.columns.items()
                   if s in raw_columns and c in CANONICAL_COLUMNS[self.table]}
        names = {canonical: source for canonical, source in present.items()}
        for column in raw_columns:
            if column not in present.values():
                names[f"{column}_source" if column in names else column] = column
        missing = [c for c in REQUIRED[self.table] if c not in names]
        if missing:
            self.n_rows = int(self.engine.scalar(f"SELECT COUNT(*) FROM raw_{self.table}"))
            empty = [] if self.n_rows else [no_rows(self.file)]
            return empty + problems + [_missing_required(self.table, c, header, self.file) for c in missing]
        self.stored = self.engine.types(f"raw_{self.table}", raw_columns)
        converted = {name: self.convert(name, source) for name, source in names.items()}
        converted.update(self.pass_through_numbers(names))
        parts = "".join(f", {sql} AS {name}" for sql, name in self.parts.items())
        select = ", ".join(f"{sql} AS {q(name)}" for name, sql in converted.items())
        flags = "".join(f", COALESCE({c[0]}, FALSE) AS _check_{i}" for i, c in enumerate(self.checks))
        drop = " OR ".join(f"_check_{i}" for i, c in enumerate(self.checks) if c[4]) or "FALSE"
        once = self.engine.converts_once(f"read_{self.table}")
        stored = [] if once else self.canonical_candidates(names, converted)
        as_stored = "".join(f", {q(names[name])} AS _stored_{i}" for i, name in enumerate(stored))
        typed = (self.engine.materialize if once else self.engine.view)(
            f"SELECT *, ({drop}) AS _drop FROM (SELECT {select}, _row{flags}{as_stored} "
            f"FROM (SELECT *{parts} FROM {self.source()}))", f"typed_{self.table}")
        counts = self.counts(typed, stored)
        problems += self.problems(typed, counts)
        n_all, n_dropped = int(counts["n_rows"]), int(counts["n_drop"])
        self.n_rows = n_all
        if not n_all:  # no canonical table, as in memory
            return [no_rows(self.file), *problems]
        left_out = ""
        if n_dropped and once:  # the stored rows carry their flag
            left_out = " WHERE NOT _drop"
        elif n_dropped:  # only the numbers of the rows left out are stored, never a copy of the rows
            dropped = self.engine.materialize(f"SELECT _row FROM {typed} WHERE _drop", f"dropped_{self.table}")
            left_out = f" WHERE NOT EXISTS (SELECT 1 FROM {dropped} d WHERE d._row = t._row)"
        canonical = {name: f"_stored_{i}" for i, name in enumerate(stored) if not counts[f"changed_{i}"]}
        columns = ", ".join(f"{canonical[c]} AS {q(c)}" if c in canonical else q(c) for c in converted)
        kept = f"(SELECT {columns}, _row FROM {typed} t{left_out})"
        repeats, repeated, n_repeated = self.duplicates(kept, list(converted))
        problems += repeats
        others = f" WHERE NOT EXISTS (SELECT 1 FROM {repeated} r WHERE r._row = k._row)" if repeated else ""
        self.engine.view(f"SELECT * FROM {kept} k{others}", self.table)
        n_kept = self.n_kept = n_all - n_dropped - n_repeated
        if n_all and not n_kept:  # the causes as in memory: the columns whose checks left rows out, in order
            causes = [drop_cause(self.mapping.columns.get(column, column) if column else None)
                      for i, (_, column, _, _, drop, *_) in enumerate(self.checks) if drop and int(counts[f"c{i}"])]
            problems.append(no_usable_rows(self.file, n_all, causes + ([drop_cause(None)] if n_repeated else [])))
        return problems

    def check(self, flag: str, column: str | None, message: str, fix: str, drop: bool = False,
              example: str | None = None, noun: str | None = None, shown: int = 3, counted: bool = False,
              by_value: bool = False) -> None:
        """A problem to count: rows where `flag` holds; `message` has {n} (the count) and {examples}
        (the most frequent first, or with `by_value` the smallest; with `counted`, each followed by
        how many rows hold it), or is a function of the count, the table's rows and the examples
        giving message, fix and severity."""
        order = "v" if by_value else "n DESC, v"
        self.checks.append((flag, column, message, fix, drop, example, noun or self.rows, shown, counted, order))

    def text(self, source: str) -> str:
        """The name of the raw column `source` as text (_text), computed once per row in the level
        below the parts: every conversion and check reads it, and an engine computes an expression
        as often as it is written (written out in each, a date's text was computed six times a row)."""
        return self.texts.setdefault(_text(q(source)), f"_text_{len(self.texts)}")

    def source(self) -> str:
        """The raw rows with their columns' texts (`text`)."""
        texts = "".join(f", {sql} AS {name}" for sql, name in self.texts.items())
        return f"(SELECT *{texts} FROM raw_{self.table})"

    def part(self, sql: str) -> str:
        """The name of `sql` computed once per row before the columns and checks that read it
        (an engine computes an expression as often as it is written)."""
        return self.parts.setdefault(sql, f"_part_{len(self.parts)}")

    def convert(self, column: str, source: str) -> str:
        """The column's value in SQL over the raw columns and the parts; adds its checks."""
        kind = column_type(column) if column in CANONICAL_COLUMNS[self.table] else "pass"
        text = self.text(source)
        given = f"({_trimmed(text)} IS NOT NULL)"
        if kind == "id":
            value = self.part(_trimmed(text))
            if column == "client_id" or self.table == "therapists":
                self.check(f"{value} IS NULL", column, "{n} without a " + column.replace("_", " ") + " left out",
                           "Fill in the id in the file if these rows matter.", drop=True)
            return value
        if kind == "date":
            return self.date(column, source, text, given)
        if kind in VALUE_SETS:
            return self.category(column, source, text, given)
        if kind in ("score", "number", "event"):
            return self.numbers(column, kind, source, text, given)
        if kind == "flag":
            return self.flags(column, source, text)
        return q(source)

    def date(self, column: str, source: str, text: str, given: str) -> str:
        fmt = self.mapping.date_formats.get(column, ISO)
        bare = f"TRIM(REGEXP_REPLACE(TRIM({text}), '{_TIME_PART}', ''))"
        parsed = (f"COALESCE(TRY_CAST(TRIM({text}) AS DATE), TRY_CAST({bare} AS DATE))" if fmt == ISO else
                  f"CAST(COALESCE(TRY_STRPTIME(TRIM({text}), '{fmt}'), TRY_STRPTIME({bare}, '{fmt}')) AS DATE)")
        if fmt == ISO and self.stored.get(source) in DATE_TYPES:  # the date of a stored date or time, as its text reads
            zone = self.engine.zones.get(f"read_{self.table}", {}).get(source, "UTC")
            parsed, given = f"CAST({_wall_clock(q(source), zone)} AS DATE)", f"({q(source)} IS NOT NULL)"
        parsed, given = self.part(parsed), self.part(given)
        sessions = self.table == "sessions"
        outcome = "left out" if sessions else "set to missing"
        self.check(f"({given} AND {parsed} IS NULL)", column,
                   "{n} with a date that cannot be read as " + format_label(fmt) + " (e.g. {examples}); " + outcome,
                   "Correct these dates in the file, or choose the column's date format in the mapping.",
                   drop=sessions, example=text)
        if sessions:
            self.check(f"NOT {given}", column, "{n} without a date left out",
                       "Fill in the appointment dates in the file if these rows matter.", drop=True)
        future = f"{parsed} > DATE '{self.limit:%Y-%m-%d}'"
        self.check(future, column, "{n} dated after " + self.limit_name + "; " + outcome,
                   "Future appointments have not happened yet; export only past appointments or give the right export date.",
                   drop=sessions)
        return parsed if sessions else f"CASE WHEN {future} THEN NULL ELSE {parsed} END"

    def distinct(self, source: str) -> pd.Series | None:
        """The distinct values of a column as text (None when there are more than MAX_DISTINCT):
        mapped in Python by the in-memory rules, then looked up per row, instead of normalised per
        row. Only the distinct stored values are turned into text (a double's -0.0 and 0.0 are one
        stored value but two texts, so doubles are turned into text row by row)."""
        text = _text(q(source))
        stored = f"raw_{self.table}" if self.stored.get(source) in ("double", "float", "real") else \
            f"(SELECT DISTINCT {q(source)} FROM raw_{self.table})"
        values = self.engine.collect(f"SELECT DISTINCT {text} AS v FROM {stored} "
                                     f"WHERE {text} IS NOT NULL LIMIT {MAX_DISTINCT + 1}")["v"]
        return None if len(values) > MAX_DISTINCT else values.astype(object).reset_index(drop=True)

    def category(self, column: str, source: str, text: str, given: str) -> str:
        values = self.distinct(source)
        if values is None:
            lookup = {value_key(v): v for v in VALUE_SETS[column]}
            lookup.update({value_key(k): v for k, v in self.mapping.values.get(column, {}).items()})
            mapped = _lookup(_key(text), lookup)
        else:
            means = map_values(values, self.mapping.values.get(column, {}), VALUE_SETS[column])
            # the distinct values hold no missing-value word, so the stored text is looked up as it is
            mapped = _lookup(f"CAST({q(source)} AS VARCHAR)",
                             dict(zip(values, means.astype(object).where(means.notna(), None))))
        mapped, given = self.part(mapped), self.part(given)
        sessions = self.table == "sessions"
        self.check(f"({given} AND {mapped} IS NULL)", column,
                   lambda n, n_rows, examples: unknown_values(self.table, column, n, n_rows, examples), None,
                   drop=sessions, example=text, shown=50, counted=True)
        if sessions:
            self.check(f"NOT {given}", column, "{n} without a status left out",
                       "Fill in the appointment status in the file if these rows matter.", drop=True)
        return mapped

    def numbers(self, column: str, kind: str, source: str, text: str, given: str) -> str:
        example, given = self.number(source, text, given)
        number = self.part(example)
        given = self.part(given) if given else f"({number} IS NOT NULL)"
        self.check(f"({given} AND {number} IS NULL)", column,
                   "{n} that are not numbers (e.g. {examples}); set to missing", "Correct these entries in the file.",
                   example=text, noun="value")
        if kind == "score":
            low, high = SCALES[column]
            outside = f"({number} < {low} OR {number} > {high})"
            self.check(outside, column, "{n} outside the scale " + f"{low:g}-{high:g} (values {{examples}}); "
                       "set to missing, the rest of each row is kept",
                       "Check these entries in the source; a total off the scale is usually a typing or scoring error.",
                       example=example, noun=f"{_scale_name(column)} score", shown=5, by_value=True)
            return f"CASE WHEN {outside} THEN NULL ELSE {number} END"
        if kind == "event":
            self.check(f"(({number} IS NOT NULL AND {number} NOT IN (0, 1, 2)) OR NOT {given})", column,
                       "{n} with an event that is not 0, 1 or 2; left out",
                       "Code event as 0 (ongoing or censored), 1 (dropout) or 2 (completed).", drop=True)
        elif column == "duration":
            self.check(f"{number} < 0", column, "{n} with a negative duration; left out",
                       "Durations count sessions or days and cannot be negative.", drop=True)
        return number

    def number(self, source: str, text: str, given: str) -> tuple[str, str | None]:
        """A column as a number, and whether a value is given (None: wherever the number is): its
        text read as a number (_number), or a stored double (NaN missing, as its text 'nan' is) or
        whole number as it is, which is the number its text reads as without printing and parsing
        every value."""
        stored, column = self.stored.get(source), q(source)
        if stored == "double":
            return f"(CASE WHEN ISNAN({column}) THEN NULL ELSE {column} END)", None
        if stored in WHOLE_NUMBERS:
            return f"CAST({column} AS DOUBLE)", None
        return _number(text), given

    def flags(self, column: str, source: str, text: str) -> str:
        """Yes/no answers as 1.0/0.0 when every value is one (to_flags); the column as it is otherwise."""
        values = self.distinct(source)
        flags = None if values is None else to_flags(values)
        if flags is None:
            return text
        cases = " ".join(f"WHEN {_literal(v)} THEN {f:.1f}" for v, f in zip(values, flags))
        return f"CASE CAST({q(source)} AS VARCHAR) {cases} END" if cases else "CAST(NULL AS DOUBLE)"

    def pass_through_numbers(self, names: dict[str, str]) -> dict[str, str]:
        """Passed-through text columns written entirely as numbers become numbers (a stored number
        is one wherever it is given)."""
        passed = {}
        for name, source in names.items():
            if name not in CANONICAL_COLUMNS[self.table]:
                number, _given = self.number(source, _text(q(source)), "")
                passed[name] = (number if self.stored.get(source) in NUMBER_TYPES else _text(q(source)), number)
        if not passed:
            return {}
        counts = self.engine.collect("SELECT " + ", ".join(
            f"COUNT({text}) AS {q('given_' + name)}, COUNT({number}) AS {q('number_' + name)}"
            for name, (text, number) in passed.items()) + f" FROM raw_{self.table}").iloc[0]
        return {name: number for name, (_text_value, number) in passed.items()
                if counts[f"given_{name}"] > 0 and counts[f"given_{name}"] == counts[f"number_{name}"]}

    def canonical_candidates(self, names: dict[str, str], converted: dict[str, str]) -> list[str]:
        """Columns whose stored values may already be what the conversion makes of them (text ids
        and categories stored as text, scores stored as doubles): where every row's converted value
        equals its stored value, the canonical table reads the stored column and no query converts
        it again (an export's ids are seldom padded or written 'NA', so this is the usual case)."""
        kinds = {"varchar": ("id", *VALUE_SETS), "double": ("score", "number")}
        return [name for name, sql in converted.items() if name in CANONICAL_COLUMNS[self.table]
                and sql != q(names[name]) and column_type(name) in kinds.get(self.stored.get(names[name]), ())]

    def counts(self, typed: str, stored: list[str]) -> pd.Series:
        """One pass over the typed rows: the rows (n_rows), those left out (n_drop), the rows each
        check found (c0, c1, ...) and, per candidate of `canonical_candidates`, the rows whose
        converted value differs from the stored one (changed_0, ...)."""
        sums = "".join(f", SUM(CASE WHEN _check_{i} THEN 1 ELSE 0 END) AS c{i}" for i in range(len(self.checks)))
        sums += "".join(f", SUM(CASE WHEN {q(name)} IS NOT DISTINCT FROM _stored_{i} THEN 0 ELSE 1 END) AS changed_{i}"
                        for i, name in enumerate(stored))
        counts = self.engine.collect(f"SELECT COUNT(*) AS n_rows, SUM(CASE WHEN _drop THEN 1 ELSE 0 END) AS n_drop"
                                     f"{sums} FROM {typed}").iloc[0]
        return counts.fillna(0)

    def problems(self, typed: str, counts: pd.Series) -> list[Problem]:
        """Each check's problem from its count (`counts`); the rows and values a check found are
        read again only for a check that found some."""
        out = []
        for i, (_flag, column, message, fix, _drop, example, noun, shown, counted, order) in enumerate(self.checks):
            n = int(counts[f"c{i}"])
            if not n:
                continue
            found = self.engine.collect(f"SELECT _row FROM {typed} WHERE _check_{i} ORDER BY _row LIMIT {MAX_LISTED_ROWS}")
            examples = ""
            if example is not None:
                values = self.engine.collect(
                    f"SELECT v, COUNT(*) AS n FROM (SELECT {example} AS v FROM {self.source()} WHERE _row IN "
                    f"(SELECT _row FROM {typed} WHERE _check_{i})) GROUP BY v ORDER BY {order} LIMIT 1000"
                ).dropna(subset=["v"])
                examples = quoted([f"{v:g}" if isinstance(v, float) else str(v) for v in values["v"]], shown,
                                  values["n"].to_numpy() if counted else None)
            if callable(message):
                text, fix, severity = message(n, int(counts["n_rows"]), examples)
            else:
                text, severity = message.format(n=_count(n, noun), examples=examples), "warning"
            rows = [int(r) + 1 for r in found["_row"]]
            out.append(Problem(self.file, self.mapping.columns.get(column, column), rows, text, fix, severity,
                               more=max(0, n - len(rows))))
        return out

    def duplicates(self, kept: str, columns: list[str]) -> tuple[list[Problem], str | None, int]:
        """Sessions: one appointment per client, therapist, date and status; clients and
        therapists: one row per id (the first is kept), among the `kept` rows. The problem, the
        table of the repeated rows' numbers (None when there are none) and their number. Rows are
        grouped by a hash of their key, which is cheaper than grouping by the key; only rows whose
        hash is shared are grouped by the key itself (equal hashes of different keys are no repeats)."""
        if self.table == "sessions":
            key = [c for c in ("client_id", "therapist_id", "date", "status") if c in columns]
            noun, what, fix = ("appointment", "repeating an earlier row (same client, therapist, date and status); "
                               "each is counted once", "Remove the repeated rows from the export if they are not real.")
        else:
            key = ["client_id" if self.table == "clients" else "therapist_id"]
            noun, what, fix = ("row", f"repeating an earlier {key[0].replace('_', ' ')}; only the first row of each "
                               "is used", "Keep one row per id in the file (one row per client episode).")
        keys = ", ".join(q(c) for c in key)
        shared = self.engine.materialize(f"SELECT _hash FROM (SELECT HASH({keys}) AS _hash FROM {kept}) "
                                         f"GROUP BY _hash HAVING COUNT(*) > 1", f"shared_hashes_{self.table}")
        if not self.engine.scalar(f"SELECT COUNT(*) FROM {shared}"):
            return [], None, 0
        same = " AND ".join(f"c.{q(c)} IS NOT DISTINCT FROM g.{q(c)}" for c in key)
        repeated = self.engine.materialize(
            f"WITH candidates AS (SELECT {keys}, _row FROM {kept} WHERE HASH({keys}) IN "
            f"(SELECT _hash FROM {shared})), first_rows AS (SELECT {keys}, MIN(_row) AS _first FROM candidates "
            f"GROUP BY {keys}) SELECT c._row FROM candidates c JOIN first_rows g ON {same} WHERE c._row > g._first",
            f"repeated_{self.table}")
        n = int(self.engine.scalar(f"SELECT COUNT(*) FROM {repeated}"))
        if not n:
            return [], None, 0
        found = self.engine.collect(f"SELECT _row FROM {repeated} ORDER BY _row LIMIT {MAX_LISTED_ROWS}")
        rows = [int(r) + 1 for r in found["_row"]]
        column = None if self.table == "sessions" else self.mapping.columns.get(key[0], key[0])
        return [Problem(self.file, column, rows, f"{_count(n, noun)} {what}", fix, more=max(0, n - len(rows)))], repeated, n
