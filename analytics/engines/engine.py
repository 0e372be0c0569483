"""The engines that run the episode rules and the sums behind every model: DuckDB (embedded,
out-of-core) and Spark (a cluster, or local mode on one machine).

An engine holds named tables (files, globs, a Spark table or a pandas frame) and runs SQL on them.
Every query is written once, in DuckDB's dialect, and sqlglot transpiles it for Spark, so the rules
in `analytics/engines/rules.py` are one text for every engine. What comes back to Python is a
pandas frame from `collect`: aggregates and small tables, or the episodes when a caller asks.

    engine = open_engine("duckdb")
    engine.register("sessions", "sessions/*.parquet")
    episodes = engine.episodes(EpisodeSettings("unilateral"))   # a view name inside the engine
    engine.collect(f"SELECT event, COUNT(*) AS n FROM {episodes} GROUP BY event")

Contract for callers (the Cox and logistic fits in analytics/engines/cox.py and logistic.py):
`episodes()` returns the name of a view with one row per client episode and the columns of
`derive_episodes` (`client_id`, `duration`, `event`, covariates, `therapist_id`, ...); build SQL
on that name and `collect` the aggregate.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import re
import shutil
import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace

import pandas as pd
import sqlglot

from analytics.engines.blank_lines import as_rows
from analytics.engines.sources import EmptyFile, Unreadable, file_format, stored_zones, table_source
from analytics.ingest.readers import (
    HEAD_BYTES,
    TextLayout,
    column_names,
    file_has_quote,
    memory_only_kind,
    text_layout,
)

ENGINES = ("pandas", "duckdb", "spark")
# A session this module starts itself: UTC dates, no web UI or console bars (the command line has its
# own progress), few shuffle partitions for one machine, and no planning-time evaluation of tables
# registered from pandas (ConvertToLocalRelation would run whole queries in the driver).
SPARK_LOCAL = {
    "spark.sql.session.timeZone": "UTC", "spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4", "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.driver.memory": "2g",
    "spark.sql.optimizer.excludedRules": "org.apache.spark.sql.catalyst.optimizer.ConvertToLocalRelation",
}
# the in-memory reader's encodings by their Java names, for Spark's CSV reader
JAVA_ENCODINGS = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "utf-16": "UTF-16", "cp1252": "windows-1252",
                  "latin-1": "ISO-8859-1"}
ROW = "_row"  # the row's place in its file: ties on a date keep the file's order, as in pandas
# Spark: the fields after the header's last, filled only in a row with too many fields (Spark drops any after them)
SURPLUS = tuple(f"_surplus_{i}" for i in range(8))


def whole(value) -> int:
    """A count or sum an engine sent back, as an int: 0 where it summed no rows (SQL's NULL, which
    pandas reads as NaN, and `NaN or 0` is NaN)."""
    return 0 if value is None or pd.isna(value) else int(value)


def q(name: str) -> str:
    """A quoted identifier (pass-through columns may hold spaces or quotes)."""
    return '"' + str(name).replace('"', '""') + '"'


def is_table_name(text) -> bool:
    """A Spark catalog name such as sessions or research.sessions: no file matches it, no path
    separator, no file suffix."""
    text = str(text)
    return (not glob.glob(text) and "/" not in text and os.sep not in text
            and not text.lower().endswith((".csv", ".parquet", ".pq")))


def is_remote(text) -> bool:
    """A path only the cluster can read: a URL such as hdfs://..., s3a://... or dbfs:/..."""
    return isinstance(text, str) and re.match(r"^[a-z][a-z0-9+.-]+:/", text) is not None


class Engine(ABC):
    """Named tables and SQL on them; subclasses say how to read, run and collect."""

    name = label = ""  # as --engine names it; as a sentence does

    def __init__(self):
        self._views = itertools.count()
        self.layouts: dict[str, TextLayout] = {}  # table -> how its text files are written
        self.rejected: dict[str, list[Rejected]] = {}  # table -> lines of its text files read as no row
        self.zones: dict[str, dict[str, str]] = {}  # table -> the time zones its Parquet files name (stored_zones)

    @property
    @abstractmethod
    def read_errors(self) -> tuple[type[Exception], ...]:
        """What the engine raises for a file it cannot read (damaged, cut short, not a table)."""

    @abstractmethod
    def register(self, table: str, source) -> None:
        """Make `source` queryable as `table`: a path, glob or folder of CSV or Parquet files (or a
        list of them; analytics/engines/sources.py), a pandas frame, or (Spark) the name of a table
        in the session's catalog. A column `_row` numbers the rows in file order."""

    @abstractmethod
    def run(self, query: str) -> None:
        """Run a statement (DuckDB dialect) for its effect."""

    @abstractmethod
    def collect(self, query: str) -> pd.DataFrame:
        """The result of a query (DuckDB dialect) or the rows of a view name, as pandas; a table
        with `_row` comes in file order (tables are not kept sorted: no engine query needs it)."""

    def view(self, query: str, name: str | None = None) -> str:
        """A temporary view over `query`; returns its name (given, or a fresh one)."""
        name = name or f"_v{next(self._views)}"
        self.run(f"CREATE OR REPLACE TEMP VIEW {q(name)} AS {query}")
        return name

    def materialize(self, query: str, name: str | None = None) -> str:
        """Like `view`, but computed once (a table or a cached view), for results read many times."""
        return self.view(query, name)

    def converts_once(self, raw: str) -> bool:
        """Whether an import stores the converted rows of the table `raw` (materialize) rather than
        converting them at each read (a view). Spark's cache is columnar and compressed, and each
        query is a job with a fixed cost, so it converts once."""
        return True

    def stage(self, query: str, name: str) -> str:
        """A step's result that one later query reads: a view (the later query computes it, and a
        cached copy would cost Spark a pass for nothing)."""
        return self.view(query, name)

    def columns(self, table: str) -> list[str]:
        return [c for c in self.collect(f"SELECT * FROM {q(table)} LIMIT 0").columns if c != ROW]

    def types(self, table: str, columns: list[str]) -> dict[str, str]:
        """Each column's type as the engine names it, in lower case (DuckDB's `double`, `timestamp`,
        Spark's `double`, `timestamp`, `string`); empty when the table has no rows."""
        if not columns:
            return {}
        first = self.collect(f"SELECT {', '.join(f'TYPEOF({q(c)}) AS {q(c)}' for c in columns)} FROM {table} LIMIT 1")
        return {} if first.empty else {c: str(first.at[0, c]).lower() for c in columns}

    def has(self, table: str) -> bool:
        return table in self.tables()

    @abstractmethod
    def tables(self) -> set[str]:
        """Names of the tables and views registered so far."""

    def scalar(self, query: str):
        frame = self.collect(query)
        return frame.iat[0, 0] if len(frame) else None

    def episodes(self, settings=None, export_date=None) -> str:
        """The episodes under `settings` (an EpisodeSettings) as a view; see analytics/engines/rules.py."""
        from analytics.engines.rules import episode_view

        return episode_view(self, settings, export_date)

    def close(self) -> None:
        """Free the engine's resources."""


class DuckDBEngine(Engine):
    """Embedded DuckDB: larger-than-memory inputs spill to `temp_directory` under `memory_limit`."""

    name, label = "duckdb", "DuckDB"

    def __init__(self, memory_limit: str | None = None, threads: int | None = None, temp_directory: str | None = None):
        import duckdb

        super().__init__()
        self.con = duckdb.connect()
        if memory_limit:
            self.con.execute(f"SET memory_limit = '{memory_limit}'")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        if temp_directory:
            self.con.execute(f"SET temp_directory = '{temp_directory}'")
        self.con.execute("SET preserve_insertion_order = true")
        self.con.execute("SET TimeZone = 'UTC'")  # a stored instant's date as in memory, not the machine's zone
        self._tables: set[str] = set()
        self._parsed: set[str] = set()  # read from text files into a stored table

    def register(self, table: str, source) -> None:
        if isinstance(source, pd.DataFrame):
            frame = source.assign(**{ROW: range(len(source))})
            self.con.register(f"_frame_{table}", frame)
            self.view(f"SELECT * FROM {q('_frame_' + table)}", table)
        else:
            named = table_source(source)
            files, listed = named.files, _sql_list(named.files)
            if file_format(files) == "parquet":  # partition values as text, as Spark is told to read them
                self.zones[table] = stored_zones(files[0])
                partitioned = str(bool(named.keys)).lower()
                self.view(f"SELECT * EXCLUDE (file_row_number), {self._parquet_rows(files, listed)} AS {ROW} "
                          f"FROM read_parquet({listed}, file_row_number = true, hive_partitioning = {partitioned}, "
                          "hive_types_autocast = false)", table)
            else:
                layout = self.layouts[table] = read_layout(files)
                with _utf8(files, layout.encoding) as utf8, tempfile.TemporaryDirectory(prefix="alliance-") as folder:
                    given = dict(zip(utf8, files))
                    readable = as_rows(utf8, replace(layout, encoding="utf-8"),
                                       lambda path: len(_column_names(given[path], layout)), folder)
                    parsed = self.materialize(self._text_read(table, files, readable, layout), f"{table}_parsed")
                    self.rejected[table] = self._rejected(table, dict(zip(readable, files)))
                # rows stored in file order; the title rows skipped above the header count, as in memory
                self.view(f"SELECT *, rowid + 1 + {layout.start} AS {ROW} FROM {q(parsed)}", table)
                self._parsed.add(table)
        self._tables.add(table)

    @property
    def read_errors(self) -> tuple[type[Exception], ...]:
        import duckdb

        return (duckdb.Error,)

    @staticmethod
    def _text_read(table: str, files: list[str], readable: list[str], layout: TextLayout) -> str:
        """The query reading text files (`readable`: the UTF-8 copies of `files`) as the in-memory
        reader reads them: every column as text under the names it gives them, a line with too many
        fields set aside in a rejects table (pandas skips it and says so), one with too few padded
        with missing values. DuckDB pads only in a file without quotes (padding where a quoted value
        may span lines needs one thread, which lets an unclosed quote swallow the rest of the file
        unreported); in one with quotes such a line is set aside too. Files with the same columns
        are read together; files with other columns are put beside them by name."""
        reads = []
        for names, run in itertools.groupby(zip(files, readable), key=lambda pair: _column_names(pair[0], layout)):
            run = list(run)
            columns = ", ".join(f"'{n.replace(chr(39), chr(39) * 2)}': 'VARCHAR'" for n in names)
            pad = not any(file_has_quote(original) for original, _ in run)
            reads.append(
                f"SELECT * FROM read_csv({_sql_list([copy for _, copy in run])}, header = true, auto_detect = false, "
                f"columns = {{{columns}}}, delim = '{layout.delimiter}', quote = '\"', escape = '\"', "
                f"skip = {layout.start}, null_padding = {str(pad).lower()}, "
                f"store_rejects = true, rejects_table = '{table}_rejects', rejects_scan = '{table}_scans')")
        return " UNION ALL BY NAME ".join(reads)

    def _rejected(self, table: str, originals: dict[str, str]) -> list[Rejected]:
        """The lines DuckDB read as no row, by file and reason: how many and the first."""
        found = self.con.execute(
            f"SELECT s.file_path, e.error_type, COUNT(*), MIN(e.line) FROM {table}_rejects e "
            f"JOIN {table}_scans s USING (scan_id, file_id) GROUP BY ALL ORDER BY 1, 4").fetchall()
        return [Rejected(originals.get(path, path), kind, n, int(line)) for path, kind, n, line in found]

    def _parquet_rows(self, files: list[str], listed: str) -> str:
        """The row's place among all the files (1, 2, ... in file order, as a numbering of the rows
        read would give) from each file's own row number and the row counts in the files' footers:
        Parquet files are read where they are, typed, without a copy or a window over every row."""
        counts = dict(self.con.execute(f"SELECT file_name, num_rows FROM parquet_file_metadata({listed})").fetchall())
        starts = list(itertools.accumulate((counts[f] for f in files[:-1]), initial=0))
        if len(files) == 1:
            return "file_row_number + 1"
        return f"file_row_number + 1 + [{', '.join(map(str, starts))}][CAST(file_index AS BIGINT) + 1]"

    def run(self, query: str) -> None:
        self.con.execute(query)

    def view(self, query: str, name: str | None = None) -> str:
        name = super().view(query, name)
        self._tables.add(name)
        return name

    def materialize(self, query: str, name: str | None = None) -> str:
        name = name or f"_v{next(self._views)}"
        self.run(f"CREATE OR REPLACE TEMP TABLE {q(name)} AS {query}")
        self._tables.add(name)
        return name

    def stage(self, query: str, name: str) -> str:
        """Stored: the query that built it no longer holds its memory when the later query runs
        (one query grouping 124 million appointments while holding the tables it joins spilled to
        disk)."""
        return self.materialize(query, name)

    def converts_once(self, raw: str) -> bool:
        """Only when `raw` is stored (CSV, parsed into a table of text once): DuckDB's tables in memory are
        not compressed (about 165 bytes a converted appointment), so storing 124 million converted
        appointments of a Parquet dataset spilled to disk, while converting them at each read of
        the files costs less."""
        return raw in self._parsed

    def collect(self, query: str) -> pd.DataFrame:
        if query not in self._tables:
            return self.con.execute(query).df()
        ordered = f" ORDER BY {ROW}" if ROW in self.con.execute(f"SELECT * FROM {q(query)} LIMIT 0").df().columns else ""
        frame = self.con.execute(f"SELECT * FROM {q(query)}{ordered}").df()
        return frame.drop(columns=ROW) if ROW in frame.columns else frame

    def tables(self) -> set[str]:
        return set(self._tables)

    def close(self) -> None:
        self.con.close()


class SparkEngine(Engine):
    """A Spark session: `master` is "local[2]" on one machine, a cluster URL (spark.master), or
    None to use the active session (e.g. a Databricks notebook or Databricks Connect)."""

    name, label = "spark", "Spark"

    def __init__(self, master: str | None = "local[2]", session=None, config: dict | None = None):
        super().__init__()
        self._own = session is None and master is not None  # a session started here is stopped here
        self._folder: str | None = None
        if session is None:
            from pyspark.sql import SparkSession

            builder = SparkSession.builder.appName("alliance-lens")
            if master:
                builder = builder.master(master)
            # A session started here writes no table, but Spark makes its warehouse folder on first
            # use: in the scratch folder, not as spark-warehouse/ in the user's working directory.
            warehouse = {"spark.sql.warehouse.dir": os.path.join(self._scratch(), "warehouse")} if self._own else {}
            settings = {**SPARK_LOCAL, **warehouse, **(config or {})}
            for key, value in settings.items():
                builder = builder.config(key, value)
            try:
                session = builder.getOrCreate()
            except BaseException:
                self._remove_scratch()  # a JVM that cannot start leaves no folder behind
                raise
            session.sparkContext.setLogLevel("ERROR")
        self.spark = session
        self._tables: set[str] = set()

    @property
    def read_errors(self) -> tuple[type[Exception], ...]:
        from py4j.protocol import Py4JJavaError
        from pyspark.errors import PySparkException

        return (PySparkException, Py4JJavaError)

    def register(self, table: str, source) -> None:
        from pyspark.sql import functions as F

        if isinstance(source, pd.DataFrame):
            frame = self.spark.createDataFrame(source.assign(**{ROW: range(len(source))}))
        elif isinstance(source, str) and is_table_name(source):
            frame = _numbered(self.spark.table(source), [F.spark_partition_id()])
        else:
            remote = is_remote(source)  # read by the cluster: a folder of Parquet files unless it ends in .csv
            named = table_source(source) if not remote else None
            files = [source] if remote else named.files
            originals = {}  # a copy Spark reads -> the file given
            reader = self.spark.read
            parquet = file_format(files) == "parquet" or (remote and not source.lower().endswith(".csv"))
            if parquet and named is not None:
                self.zones[table] = stored_zones(files[0])
            if parquet and named is not None and named.base is not None:
                frame = self._partitioned(named)
            elif parquet:
                frame = reader.parquet(*files)
            else:
                layout = self.layouts[table] = read_layout(files) if not remote else TextLayout("utf-8", ",", 0)
                if layout.start:
                    raise Unreadable(files[0], f"{layout.start} row(s) of title or notes stand above the column "
                                     "names, and Spark reads the names from the first row",
                                     "Remove those rows from the file, or run with --engine duckdb.")
                if layout.encoding == "cp1252":  # Spark 4 reads only Unicode and Latin-1 unless told otherwise
                    self.spark.conf.set("spark.sql.legacy.javaCharsets", "true")
                if not remote:  # a quoted value may span lines only in a file holding a quote (one task per file)
                    reader = (reader.schema(_text_schema(_column_names(files[0], layout)))
                              .option("multiLine", any(file_has_quote(f) for f in files)))
                    # read while the engine lives: Spark reads a view's files again at each query
                    folder = tempfile.mkdtemp(prefix="alliance-", dir=self._scratch())
                    given = as_rows(files, layout, lambda f: len(_column_names(f, layout)), folder)
                    originals = {os.path.abspath(g): f for g, f in zip(given, files) if g != f}
                    files = given
                frame = (reader.option("header", True).option("sep", layout.delimiter)
                         .option("encoding", JAVA_ENCODINGS[layout.encoding]).csv(files))
            try:
                frame = _numbered(frame, [F.col("_metadata.file_path"), F.col("_metadata.file_block_start")])
            except Unreadable as error:  # named by the file given, not by its copy
                given = next((f for g, f in originals.items() if error.file.endswith(g)), error.file)
                raise Unreadable(given, error.why, error.fix) from None
        frame.createOrReplaceTempView(table)
        self._tables.add(table)

    def _partitioned(self, named):
        """Parquet files in partition folders below `named.base`, each key a column of text (as
        DuckDB reads them): the session's type inference is off only while the files are listed."""
        inference = "spark.sql.sources.partitionColumnTypeInference.enabled"
        before = self.spark.conf.get(inference)
        self.spark.conf.set(inference, "false")
        try:
            return self.spark.read.option("basePath", named.base).parquet(*named.files)
        finally:
            self.spark.conf.set(inference, before)

    def translate(self, query: str) -> str:
        """DuckDB's dialect to Spark's. A literal such as 1.0 is a double in DuckDB but a decimal in
        Spark, so it is cast. TRY_STRPTIME has no twin sqlglot knows: it goes over as STRPTIME (to
        Spark's TO_TIMESTAMP, formats converted) and comes back as TRY_TO_TIMESTAMP. DuckDB's
        TIMEZONE(zone, instant), the clock in a zone, is Spark's FROM_UTC_TIMESTAMP(instant, zone)
        in a session kept in UTC."""
        tree = (sqlglot.parse_one(query.replace("TRY_STRPTIME(", "STRPTIME("), read="duckdb")
                .transform(_double).transform(_zone_clock))
        return tree.sql(dialect="spark").replace("TO_TIMESTAMP(", "TRY_TO_TIMESTAMP(")

    def run(self, query: str) -> None:
        self.spark.sql(self.translate(query))

    def view(self, query: str, name: str | None = None) -> str:
        name = name or f"_v{next(self._views)}"
        self.spark.sql(self.translate(query)).createOrReplaceTempView(name)
        self._tables.add(name)
        return name

    def materialize(self, query: str, name: str | None = None) -> str:
        name = name or f"_v{next(self._views)}"
        if name in self._tables:
            self.spark.catalog.uncacheTable(name)
        self.spark.sql(self.translate(query)).cache().createOrReplaceTempView(name)
        self._tables.add(name)
        return name

    def collect(self, query: str) -> pd.DataFrame:
        if query in self._tables:
            frame = self.spark.table(query)
            frame = frame.orderBy(ROW).drop(ROW) if ROW in frame.columns else frame
        else:
            frame = self.spark.sql(self.translate(query))
        return frame.toPandas()

    def tables(self) -> set[str]:
        return set(self._tables)

    def _scratch(self) -> str:
        """A folder for the copies of files Spark reads (as_rows) and the warehouse of a session
        started here, removed by close()."""
        if self._folder is None:
            self._folder = tempfile.mkdtemp(prefix="alliance-spark-")
        return self._folder

    def close(self) -> None:
        for name in self._tables:
            self.spark.catalog.dropTempView(name)
        if self._own:
            self.spark.stop()
        self._remove_scratch()

    def _remove_scratch(self) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


@dataclass(frozen=True)
class Rejected:
    """Lines of a text file the engine's reader read as no row: the file, DuckDB's reason (TOO
    MANY COLUMNS, UNQUOTED VALUE, ...), how many lines and the first one's number."""

    file: str
    kind: str
    n: int
    line: int


def _column_names(path: str, layout: TextLayout) -> tuple[str, ...]:
    try:
        return tuple(column_names(path, layout))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as error:
        raise Unreadable(path, f"its text could not be parsed ({str(error).strip()[:120]})",
                         "Export the table again as CSV.") from None


def _sql_list(files: list[str]) -> str:
    return "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"


def read_layout(files: list[str]) -> TextLayout:
    """The layout of a table's text files (they come from one export: the first file's)."""
    with open(files[0], "rb") as handle:
        head = handle.read(HEAD_BYTES)
    if not head.strip():
        raise EmptyFile(files[0])
    kind = memory_only_kind(head[:64])
    if kind:
        raise Unreadable(files[0], f"it is {kind}, which only the in-memory import reads",
                         "Run without --engine, or give the table as CSV or Parquet files.")
    layout = text_layout(files[0])
    if layout is None:
        raise Unreadable(files[0], "it is not a text table (it holds binary data)", "Export the table as CSV or Parquet.")
    return layout


@contextlib.contextmanager
def _utf8(files: list[str], encoding: str):
    """The files as UTF-8, which DuckDB reads: as they are, or each written out as UTF-8 to a
    temporary file while they are read (a Windows export in cp1252, a UTF-16 one), undecodable
    bytes replaced as the in-memory reader replaces them."""
    if encoding in ("utf-8", "utf-8-sig"):
        yield files
        return
    with tempfile.TemporaryDirectory(prefix="alliance-utf8-") as folder:
        written = []
        for i, name in enumerate(files):
            target = os.path.join(folder, f"{i:05d}.csv")
            with open(name, encoding=encoding, errors="replace", newline="") as source, \
                    open(target, "w", encoding="utf-8", newline="") as out:
                shutil.copyfileobj(source, out, 1 << 20)
            written.append(target)
        yield written


def _numbered(frame, blocks: list):
    """`frame` with its rows numbered 1, 2, ... (ROW) as DuckDB numbers a dataset's rows: files in
    path order, each file's rows in order. Spark's row ids count only within a partition (whose
    number sits in their high bits), and a partition holds blocks of files packed by size, not in
    file order; so the rows of each block (`blocks`: file and block start, or the partition of a
    table) are counted once and each block is placed after the blocks before it."""
    from urllib.parse import unquote

    from pyspark.sql import functions as F

    keys = [f"_block_{i}" for i in range(len(blocks))]
    frame = frame.select("*", *(b.alias(k) for b, k in zip(blocks, keys)), F.monotonically_increasing_id().alias("_id"))
    extra = [F.col(c) for c in SURPLUS if c in frame.columns]
    surplus = [F.count(F.coalesce(*extra)).alias("surplus")] if extra else [F.lit(0).alias("surplus")]
    counted = frame.groupBy(*keys).agg(F.count("*").alias("n"), F.min("_id").alias("first"), *surplus).collect()
    ragged = [r for r in counted if r["surplus"]]
    if ragged:  # counted in the numbering's own pass
        raise Unreadable(unquote(str(ragged[0][keys[0]])), f"{sum(r['surplus'] for r in ragged):,} row(s) have more "
                         "fields than the header, and Spark cannot skip them as the in-memory import does",
                         "Remove the stray delimiters from those rows, or run with --engine duckdb.")
    frame = frame.drop(*SURPLUS)
    if not counted:  # no rows
        return frame.withColumn(ROW, F.col("_id")).drop(*keys, "_id")
    counted.sort(key=lambda r: tuple(unquote(v) if isinstance(v, str) else v for v in (r[k] for k in keys)))
    starts = itertools.accumulate((r["n"] for r in counted), initial=0)
    bases = frame.sparkSession.createDataFrame([(*(r[k] for k in keys), start + 1 - r["first"])
                                                for r, start in zip(counted, starts)], [*keys, "_base"])
    return (frame.join(F.broadcast(bases), keys).withColumn(ROW, F.col("_id") + F.col("_base"))
            .drop(*keys, "_id", "_base"))


def _text_schema(names: tuple[str, ...]):
    """Every column as text under the in-memory import's names, and the SURPLUS fields only a row
    with more fields than the header fills (one with a value only beyond them is not found)."""
    from pyspark.sql.types import StringType, StructField, StructType

    return StructType([StructField(n, StringType()) for n in (*names, *SURPLUS)])


def _double(node):
    if isinstance(node, sqlglot.exp.Literal) and not node.is_string and "." in node.this:
        return sqlglot.exp.cast(node.copy(), "DOUBLE")
    return node


def _zone_clock(node):
    if isinstance(node, sqlglot.exp.Anonymous) and str(node.this).upper() == "TIMEZONE":
        zone, instant = node.expressions
        return sqlglot.exp.Anonymous(this="FROM_UTC_TIMESTAMP", expressions=[instant.copy(), zone.copy()])
    return node


def open_engine(name: str, **options) -> Engine:
    """An engine by name: "duckdb" (options: memory_limit, threads, temp_directory) or "spark"
    (options: master, session, config). "pandas" is the in-memory path and has no engine object."""
    if name == "duckdb":
        return DuckDBEngine(**options)
    if name == "spark":
        return SparkEngine(**options)
    raise ValueError(f"Unknown engine {name!r}; use one of {', '.join(ENGINES)} (pandas runs without an engine).")
