"""Command line: run the whole analysis headless and write a report bundle, the one- or
two-page summary for the team meeting, or the suggested mapping of an export to edit. It takes
the same choices as the Data page.

    python -m analytics report --sessions sessions.csv --clients clients.csv \
        --therapists therapists.csv --config recipe.json --out report/
    python -m analytics summary --sessions sessions.csv --clients clients.csv \
        --config recipe.json --out summary.pdf --paper a4
    python -m analytics map --sessions appointments.csv --out mapping.json
    python -m analytics report --engine duckdb --sessions 'sessions/*.parquet' --out report/

`report --engine pandas` (the default) is the in-memory path; `duckdb` and `spark` run the
mapping, the checks, the episodes and the counts behind the curves inside the engine
(analytics/engines). On a terminal each stage of a report shows on a progress bar (stderr).

Every failure ends with exit status 1 (2 for a usage error) and one line on stderr saying
which file or column is wrong and what to do; never a traceback.
"""

from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import re
import shlex
import sys
from pathlib import Path

from tqdm import tqdm

from analytics.engines.engine import ENGINES, is_remote, is_table_name
from analytics.output.summary import PAPERS
from analytics.recipe import Recipe, RecipeError
from analytics.schema import TABLES

ID_COLUMNS = ("client_id", "therapist_id")
# the master URLs listed on Spark's "Submitting Applications" page (Mesos left Spark in 4.0)
SPARK_MASTER = re.compile(r"local(\[(\d+|\*)(,\d+)?\])?|local-cluster\[\d+,\d+,\d+\]|(spark|k8s)://\S+|yarn")
MEMORY_SIZE = re.compile(r"\s*\d+(\.\d+)?\s*(B|[KMGT]i?B|[KMGT])\s*", re.IGNORECASE)  # units DuckDB accepts


class CliError(Exception):
    """A problem the user can fix; its message is the one line printed."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of usage + message
        print(f"error: {message} (see python -m analytics --help)", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m analytics",
        description="Alliance Lens: psychotherapy dropout analysis from the command line.",
        epilog="Run `python -m analytics report --help` for the report's options. Example: python -m analytics "
        "report --sessions sessions.csv --clients clients.csv --config recipe.json --out report/",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    report = commands.add_parser(
        "report",
        help="run the analysis and write a report bundle",
        description=(
            "Run the whole analysis described by a recipe (saved from the app's Export page) and write "
            "tables/ (CSV), figures/ (SVG, PDF, PNG), report.html, methods.md and recipe.json into --out. "
            "Give a sessions file, a clients file or both (CSV, Excel, Parquet, FHIR JSON or NDJSON); the "
            "therapists file is optional."
        ),
        epilog="Example: python -m analytics report --sessions sessions.csv --clients clients.csv "
        "--therapists therapists.csv --config recipe.json --out report/",
    )
    _add_inputs(report)
    report.add_argument("--engine", choices=ENGINES, default="pandas",
                        help="where the analysis runs: pandas (in memory, the default), duckdb (embedded, for inputs "
                        "larger than memory) or spark (a Spark session; see --spark-master). With an engine the "
                        "inputs are CSV or Parquet files, globs such as 'sessions/*.parquet' or folders (with spark also "
                        "table names); --sheet, --hash-identifiers and --drop-identifiers work only in memory")
    report.add_argument("--memory-limit", metavar="SIZE", help="duckdb: the memory it may use, e.g. 8GB (it spills to "
                        "disk beyond it)")
    report.add_argument("--spark-master", metavar="URL", default="local[2]",
                        help="spark: spark.master, e.g. local[2] (the default), spark://host:7077, or 'active' to use "
                        "the session already running (Databricks)")
    report.add_argument("--config", metavar="RECIPE", help="recipe.json with the analysis settings (defaults if omitted)")
    report.add_argument("--out", metavar="DIR", required=True, help="folder to write the bundle into (created if needed)")
    report.add_argument("--no-figures", action="store_true", help="skip the figure files (no Chromium needed)")
    mapper = commands.add_parser(
        "map",
        help="write the suggested mapping of your files, to edit and pass back with --mapping",
        description=(
            "Read the files as the report would and write the mapping suggested from their headers and values "
            "(canonical column -> your column, what each status and ending means, date formats, the "
            "cancelled-by column). Values it does not know are listed with null: give each a meaning, then run "
            "the report with --mapping FILE."
        ),
        epilog="Example: python -m analytics map --sessions appointments.csv --out mapping.json",
    )
    _add_inputs(mapper)
    mapper.add_argument("--out", metavar="FILE", required=True, help="the mapping JSON file to write")
    summary = commands.add_parser(
        "summary",
        help="write the one- or two-page summary for the team meeting (PDF)",
        description=(
            "Write the de-identified summary a director hands out at the team meeting: the dropout rate against "
            "the published benchmark, the trend and this month and quarter, how the definition moves the rate, "
            "what the practice can change, how many therapists may need support and how many clients to check in "
            "with. The same document as the Overview page's button. Needs Chromium, as figure export does."
        ),
        epilog="Example: python -m analytics summary --sessions sessions.csv --clients clients.csv "
        "--config recipe.json --out summary.pdf --paper letter",
    )
    _add_inputs(summary)
    summary.add_argument("--config", metavar="RECIPE", help="recipe.json with the analysis settings (defaults if omitted)")
    summary.add_argument("--out", metavar="FILE", required=True, help="the PDF file to write")
    summary.add_argument("--paper", choices=sorted(PAPERS), default="a4", help="paper size (default a4)")
    return parser


def _add_inputs(parser: argparse.ArgumentParser) -> None:
    """The options that say how to read the files: the same choices as the Data page."""
    for table in TABLES:
        parser.add_argument(f"--{table}", metavar="FILE", nargs="+",
                            help=f"the {table} table (CSV, Excel, Parquet or FHIR; several FHIR NDJSON files may be given)")
    parser.add_argument("--mapping", metavar="FILE", help="a mapping JSON (from `map` or the Data page's Mapping JSON); "
                        "it replaces the recipe's mapping")
    parser.add_argument("--sheet", metavar="TABLE=SHEET", action="append", default=[],
                        help="the Excel sheet to read for a table, e.g. --sheet sessions=Appointments (repeatable)")
    parser.add_argument("--export-date", metavar="YYYY-MM-DD",
                        help="the day the export was taken: appointments after it have not been held yet")
    parser.add_argument("--hash-identifiers", action="store_true",
                        help="keep id columns that hold names as a salted hash (needs --salt-file) and leave the other "
                        "direct identifiers out")
    parser.add_argument("--salt-file", metavar="FILE", help="a file holding the secret phrase for --hash-identifiers")
    parser.add_argument("--drop-identifiers", action="store_true",
                        help="drop columns flagged as direct identifiers (names, e-mails, phone numbers, ...) "
                        "instead of stopping")


def run_report(args) -> str:
    """Load, check, analyse and write (in memory or inside an engine); returns the summary line."""
    _writable_folder(Path(args.out), "report")  # before the run, not after it
    stages = 3 if args.engine == "pandas" else 4
    with tqdm(total=stages, unit="stage", file=sys.stderr, leave=False, disable=None,  # None: off unless a terminal
              bar_format="{desc} (stage {n_fmt}/{total_fmt}, {elapsed})") as bar:
        started = []

        def step(stage: str) -> None:
            """A stage starts: the bar counts the ones before it as done."""
            if started:
                bar.update(1)
            started.append(stage)
            bar.set_description_str(stage)

        bundle, chosen = (_in_memory if args.engine == "pandas" else _in_engine)(args, step)
    from analytics.output.report import write_bundle

    try:
        write_bundle(bundle, args.out)
    except OSError as error:
        raise CliError(f"--out {args.out}: the report could not be written ({error.strerror or error}); give a "
                       "folder you can write to.") from None
    return (f"Wrote {len(bundle.files)} files to {args.out} ({len(bundle.warnings)} warnings, listed in report.html)."
            + chosen)


def _in_memory(args, step):
    step("Reading, mapping and checking the files")
    recipe, result, chosen = _checked(args)
    from analytics.output.report import assemble

    step("Deriving episodes and running the analyses")
    bundle = assemble(result, recipe, render_figures=not args.no_figures)
    step("Writing tables and figures")
    return bundle, chosen


def _in_engine(args, step):
    """The report with the tables inside DuckDB or Spark; the reading options that need the
    in-memory import are refused, never ignored."""
    from analytics.engines import open_engine
    from analytics.engines.ingest import load_tables
    from analytics.engines.rules import CaseloadFacts
    from analytics.output.report import assemble_in_engine

    memory_only = [flag for flag, given in (("--sheet", args.sheet), ("--hash-identifiers", args.hash_identifiers),
                                            ("--drop-identifiers", args.drop_identifiers)) if given]
    if memory_only:
        raise CliError(f"{', '.join(memory_only)}: Excel sheets and the direct-identifier scan are read only in memory; "
                       f"run without --engine, or with --engine {args.engine} give CSV or Parquet files without "
                       "identifier columns.")
    sources, recipe = _sources(args), _recipe(args.config)
    mapping, export_date = _mapping(args, recipe), _export_date(args.export_date)
    if args.engine == "duckdb":
        options = {"memory_limit": _memory_limit(args.memory_limit)}
    else:
        options = {"master": None if args.spark_master == "active" else _spark_master(args.spark_master)}
    step(f"Reading, mapping and checking the files in {args.engine}")
    try:
        engine = open_engine(args.engine, **options)
    except RuntimeError as error:  # pyspark's PySparkRuntimeError: the JVM did not start
        raise CliError(f"Spark could not start with --spark-master {args.spark_master} ({_one_line(error)}); check "
                       "that Java 17 is installed (java -version) and that the cluster is reachable.") from None
    try:
        ingest = load_tables(engine, sources, mapping, export_date)
        if not ingest.ready:
            _raise_problems(ingest.problems, args)
        facts = CaseloadFacts.read(engine, recipe.episodes, ingest.export_date)
        recipe, chosen = _fitting_definition(recipe, facts.definitions(), args.config)
        return assemble_in_engine(engine, ingest, recipe, render_figures=not args.no_figures, progress=step), chosen
    except Exception as exc:
        import duckdb

        if isinstance(exc, duckdb.OutOfMemoryException):
            limit = (f"--memory-limit {args.memory_limit}" if args.memory_limit
                     else "its default limit (80% of this machine's memory)")
            raise CliError(f"DuckDB needed more memory than {limit} allows ({_one_line(exc)}); give it more with "
                           "--memory-limit (e.g. 4GB), or run on a machine with more memory.") from None
        raise
    finally:
        engine.close()


def _checked(args):
    """The recipe (with a definition the data support), the checked import and the sentence saying
    when the definition was changed; an identifier or the import's first error stops here."""
    from analytics.episodes import available_definitions

    recipe = _recipe(args.config)
    result = _load(args, _mapping(args, recipe), refuse_identifiers=True)
    _raise_errors(result, args)
    recipe, chosen = _fitting_definition(recipe, available_definitions(result.caseload, recipe.episodes), args.config)
    return recipe, result, chosen


def _fitting_definition(recipe: Recipe, options: list[str], config) -> tuple[Recipe, str]:
    """The recipe with the first dropout definition the data support (`options`) when no recipe
    named one (as the app does after an import), and the sentence saying so; a definition the
    recipe names is kept."""
    from dataclasses import replace

    named = config is not None and "dropout_definition" in json.loads(Path(config).read_text(encoding="utf-8"))
    default = recipe.episodes.dropout_definition
    if named or not options or default in options:
        return recipe, ""
    chosen = options[0]
    return (replace(recipe, episodes=replace(recipe.episodes, dropout_definition=chosen)),
            f" The data cannot support the '{default}' dropout definition, so '{chosen}' was used "
            "(name one with dropout_definition in --config).")


def run_map(args) -> str:
    """Write the suggested (or given) mapping completed for these files; returns the summary line."""
    out = Path(args.out)
    _writable_folder(out.parent, out.name)
    result = _load(args, _mapping(args, Recipe()), refuse_identifiers=False)
    if not result.raw:
        _raise_errors(result, args)
    _write_file(out, (result.mapping.to_json() + "\n").encode("utf-8"), "the mapping")
    unknown = [f"{table} {column} '{value}'" for table, mapping in result.mapping.tables.items()
               for column, values in mapping.values.items() for value, meaning in values.items() if meaning is None]
    listed = f"; {len(unknown)} value(s) need a meaning (null in the file): {', '.join(unknown[:10])}" if unknown else ""
    return (f"Wrote the mapping of {', '.join(dict.fromkeys(result.files.values()))} to {args.out}{listed}. Edit it if needed, "
            f"then run: python -m analytics report {_input_flags(args)} --mapping {shlex.quote(args.out)} --out DIR")


def run_summary(args) -> str:
    """Load, check, compose the meeting summary and print it to PDF; returns the line printed."""
    out = Path(args.out)
    if out.is_dir():
        raise CliError(f"{out}: is a folder; give --out the name of the PDF file to write, e.g. {out / 'summary.pdf'}.")
    _writable_folder(out.parent, out.name)  # before the run, not after it
    recipe, result, chosen = _checked(args)
    from analytics.output.export import RendererUnavailable
    from analytics.output.summary import meeting_summary, summary_pdf

    try:
        data = summary_pdf(meeting_summary(result.caseload, recipe), args.paper)
    except RendererUnavailable as exc:
        raise CliError(str(exc)) from None
    _write_file(out, data, "the PDF")
    return f"Wrote the meeting summary to {out} ({PAPERS[args.paper]} paper)." + chosen


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        commands = {"report": run_report, "summary": run_summary, "map": run_map}
        print(commands[args.command](args))
        return 0
    except SystemExit as exc:
        return int(exc.code or 0)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
    except Exception as exc:  # noqa: BLE001 - the promise is one line, never a traceback
        print(f"error: {type(exc).__name__}: {_one_line(exc)}", file=sys.stderr)
    return 1


def _load(args, mapping, refuse_identifiers: bool):
    """Import as the Data page does: sheets, export date, then identifiers dropped or hashed."""
    from analytics.ingest.load import load_caseload

    sources = _sources(args)
    options = {"sheets": _sheets(args.sheet, sources), "export_date": _export_date(args.export_date)}
    salt = _salt(args) if args.hash_identifiers else None
    result = load_caseload(sources, mapping=mapping, **options)
    if not result.identifiers:
        return result
    if not (args.hash_identifiers or args.drop_identifiers):
        if refuse_identifiers:
            raise CliError(_identifier_message(result.identifiers))
        return result
    drop, hashed = _identifier_choices(result, args.hash_identifiers)
    return load_caseload(sources, mapping=mapping, drop_columns=drop, hash_columns=hashed, salt=salt, **options)


def _raise_errors(result, args) -> None:
    """Every blocking problem in one line; a stop on unknown values says how to write and pass a mapping."""
    if result.caseload is None:
        _raise_problems(result.problems, args)


def _raise_problems(problems, args) -> None:
    """The import's blocking problems as one line (the in-memory and the engine import)."""
    errors = [p for p in problems if p.severity == "error"]
    if not errors:
        raise CliError("The data could not be loaded; check the files.")
    text = " Also: ".join(p.as_text() for p in errors)
    if any("--mapping" in p.fix for p in errors):
        text += (f" To write the suggested mapping: python -m analytics map {_input_flags(args)} --out mapping.json")
    raise CliError(text)


def _input_flags(args) -> str:
    """The file and reading flags of this run, to repeat in a suggested command."""
    parts = []
    for table in TABLES:
        for path in getattr(args, table) or []:
            parts += [f"--{table}", path]
    for sheet in args.sheet:
        parts += ["--sheet", sheet]
    if args.export_date:
        parts += ["--export-date", args.export_date]
    if args.hash_identifiers:
        parts += ["--hash-identifiers", "--salt-file", args.salt_file or "FILE"]
    if args.drop_identifiers:
        parts.append("--drop-identifiers")
    return " ".join(shlex.quote(str(p)) for p in parts)


def _sources(args) -> dict:
    sources = {t: getattr(args, t) for t in TABLES if getattr(args, t)}
    if not sources.keys() & {"sessions", "clients"}:
        raise CliError("Give a sessions file (--sessions), a clients file (--clients) or both.")
    engine = getattr(args, "engine", "pandas")
    for table, paths in sources.items():
        for path in paths:
            if engine == "pandas" and os.path.isdir(path):
                raise CliError(f"{path}: a folder; the in-memory import reads one file per table. Give the {table} "
                               "file itself (report --engine duckdb reads a folder of CSV or Parquet files).")
            if engine == "pandas" and not os.path.isfile(path):
                raise CliError(f"{path}: the {table} file was not found; check the path given to --{table}.")
            spark_only = engine == "spark" and (is_table_name(path) or is_remote(path))
            if engine != "pandas" and not glob.glob(path) and not spark_only:
                raise CliError(f"{path}: no file matches; check the path or glob given to --{table}"
                               + (" (or give a table name)." if engine == "spark" else "."))
    return {t: paths[0] if len(paths) == 1 else list(paths) for t, paths in sources.items()}

def _sheets(pairs: list[str], sources: dict) -> dict[str, str]:
    sheets = {}
    for pair in pairs:
        table, _, sheet = pair.partition("=")
        if table not in TABLES or not sheet:
            raise CliError(f"--sheet {pair}: write TABLE=SHEET with TABLE one of {', '.join(TABLES)}, "
                           "e.g. --sheet sessions=Appointments.")
        if table not in sources:
            raise CliError(f"--sheet {pair}: no --{table} file was given.")
        sheets[table] = sheet
    return sheets


def _export_date(text):
    if text is None:
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise CliError(f"--export-date {text}: write the date as YYYY-MM-DD, e.g. --export-date 2025-06-30.") from None


def _write_file(out: Path, data: bytes, what: str) -> None:
    """Write `data` (`what` it is, for the message) to --out, its folder made if needed."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    except OSError as error:
        raise CliError(f"--out {out}: {what} could not be written ({error.strerror or error}); give a path you can "
                       "write to.") from None


def _spark_master(text: str) -> str:
    """The --spark-master URL in one of the forms Spark takes (a wrong one otherwise fails inside
    the JVM with a Java stack trace on the terminal)."""
    if SPARK_MASTER.fullmatch(text):
        return text
    raise CliError(f"--spark-master {text}: give local[2] (this machine, 2 cores), spark://host:7077 (a standalone "
                   "cluster), yarn, k8s://https://host:443, or active (the session already running).")


def _writable_folder(folder: Path, example: str) -> None:
    """Say in one line, before the run, when --out cannot be written: `folder`, or the nearest
    folder above it that exists (made only when the run writes, so a refused run leaves none), is
    a file or not writable; `example` names an --out that would do."""
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir():
        raise CliError(f"--out: {existing} is a file, not a folder; give another place, e.g. --out "
                       f"{existing.parent / example}.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise CliError(f"--out: {folder} cannot be written: {existing} is not a folder you can write to; choose "
                       "another place.")


def _memory_limit(text):
    """The --memory-limit size as DuckDB reads it (a number and a unit: 8GB, 512MB, 4GiB), checked
    here so a typo is not reported as DuckDB's parser error."""
    if text is None or MEMORY_SIZE.fullmatch(text):
        return text
    raise CliError(f"--memory-limit {text}: write a size as a number and a unit, e.g. --memory-limit 8GB or 512MB.")


def _salt(args) -> str:
    if not args.salt_file:
        raise CliError("--hash-identifiers needs --salt-file FILE: a file holding a secret phrase (keep it, and the "
                       "same phrase hashes next month's export to the same codes).")
    if not os.path.isfile(args.salt_file):
        raise CliError(f"{args.salt_file}: the salt file was not found; check the path given to --salt-file.")
    salt = Path(args.salt_file).read_text(encoding="utf-8", errors="replace").strip()
    if not salt:
        raise CliError(f"{args.salt_file}: the salt file is empty; write a secret phrase into it.")
    return salt


def _recipe(path) -> Recipe:
    if path is None:
        return Recipe()
    if not os.path.isfile(path):
        raise CliError(f"{path}: the recipe file was not found; check the path given to --config.")
    try:
        return Recipe.load(path)
    except RecipeError as exc:
        raise CliError(f"{path}: {exc}") from None


def _mapping(args, recipe: Recipe):
    """The mapping file given with --mapping, else the recipe's mapping, else None (suggested)."""
    from analytics.ingest.mapping import Mapping

    if args.mapping:
        if not os.path.isfile(args.mapping):
            raise CliError(f"{args.mapping}: the mapping file was not found; check the path given to --mapping.")
        try:
            return Mapping.from_json(Path(args.mapping).read_text(encoding="utf-8", errors="replace"))
        except ValueError as exc:
            raise CliError(f"{args.mapping}: {_one_line(exc)}") from None
    if recipe.mapping is None:
        return None
    try:
        return Mapping.from_dict(recipe.mapping)
    except ValueError as exc:
        raise CliError(f"{args.config}: recipe key 'mapping': {_one_line(exc)}") from None


def _identifier_message(findings) -> str:
    """Every identifier column, by file: a refusal the user can act on at once."""
    by_file: dict[str, list[str]] = {}
    for f in findings:
        by_file.setdefault(f.file, []).append(f"'{f.column}' ({f.kind})")
    listed = "; ".join(f"{file}: {', '.join(columns)}" for file, columns in by_file.items())
    return (f"These columns look like direct identifiers: {listed}. Remove them from the files, re-run with "
            "--hash-identifiers --salt-file FILE to keep id columns as salted hashes and leave the others out, "
            "or with --drop-identifiers to leave them all out.")


def _identifier_choices(result, hash_ids: bool) -> tuple[dict, dict]:
    """(drop_columns, hash_columns) by table: with hashing, an identifier column used as the client or
    therapist id is hashed and the others are dropped; without, all are dropped. A workbook read for
    two tables has its findings applied to each table holding the column."""
    drop: dict[str, list[str]] = {}
    hashed: dict[str, list[str]] = {}
    for f in result.identifiers:
        tables = [t for t, name in result.files.items() if name == f.file and f.column in result.raw.get(t, {})]
        for table in tables:
            ids = {result.mapping.table(table).columns.get(c) for c in ID_COLUMNS}
            (hashed if hash_ids and f.column in ids else drop).setdefault(table, []).append(f.column)
    return drop, hashed


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
