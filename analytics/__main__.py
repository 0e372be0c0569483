"""Command line: run the whole analysis headless and write a report bundle.

    python -m analytics report --sessions sessions.csv --clients clients.csv \
        --therapists therapists.csv --config recipe.json --out report/
    python -m analytics report --engine duckdb --sessions 'sessions/*.parquet' --out report/

`--engine pandas` (the default) is the in-memory path; `duckdb` and `spark` run the mapping, the
checks, the episodes and the counts behind the curves inside the engine (analytics/engines).
Each stage shows on a progress bar (stderr).

Every failure ends with exit status 1 (2 for a usage error) and one line on stderr saying
which file or column is wrong and what to do; never a traceback.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
from pathlib import Path

from tqdm import tqdm

from analytics.engines.engine import ENGINES, is_remote, is_table_name
from analytics.recipe import Recipe, RecipeError
from analytics.schema import TABLES


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
            "Give a sessions file, a clients file or both (CSV or Excel); the therapists file is optional."
        ),
        epilog="Example: python -m analytics report --sessions sessions.csv --clients clients.csv "
        "--therapists therapists.csv --config recipe.json --out report/",
    )
    for table in TABLES:
        report.add_argument(f"--{table}", metavar="FILE", help=f"the {table} table (CSV or Excel; with an engine: "
                            "CSV or Parquet files or a glob such as 'sessions/*.parquet'; with spark also a table name)")
    report.add_argument("--engine", choices=ENGINES, default="pandas",
                        help="where the analysis runs: pandas (in memory, the default), duckdb (embedded, for inputs "
                        "larger than memory) or spark (a Spark session; see --spark-master)")
    report.add_argument("--memory-limit", metavar="SIZE", help="duckdb: the memory it may use, e.g. 8GB (it spills to "
                        "disk beyond it)")
    report.add_argument("--spark-master", metavar="URL", default="local[2]",
                        help="spark: spark.master, e.g. local[2] (the default), spark://host:7077, or 'active' to use "
                        "the session already running (Databricks)")
    report.add_argument("--config", metavar="RECIPE", help="recipe.json with the analysis settings (defaults if omitted)")
    report.add_argument("--out", metavar="DIR", required=True, help="folder to write the bundle into (created if needed)")
    report.add_argument("--drop-identifiers", action="store_true",
                        help="drop columns flagged as direct identifiers (names, e-mails, phone numbers, ...) "
                        "instead of stopping")
    report.add_argument("--no-figures", action="store_true", help="skip the figure files (no Chromium needed)")
    return parser


def run_report(args) -> str:
    """Load, check, analyse and write; returns the summary line."""
    sources = _sources(args)
    recipe = _recipe(args.config)
    mapping = _mapping(recipe, args.config)
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

        if args.engine == "pandas":
            bundle = _in_memory(args, sources, recipe, mapping, step)
        else:
            bundle = _in_engine(args, sources, recipe, mapping, step)
    from analytics.output.report import write_bundle

    write_bundle(bundle, args.out)
    return f"Wrote {len(bundle.files)} files to {args.out} ({len(bundle.warnings)} warnings, listed in report.html)."


def _in_memory(args, sources, recipe, mapping, step):
    from analytics.ingest.load import load_caseload

    step("Reading, mapping and checking the files")
    result = load_caseload(sources, mapping=mapping)
    if result.identifiers:
        if not args.drop_identifiers:
            raise CliError(_identifier_message(result.identifiers))
        result = load_caseload(sources, mapping=mapping, drop_columns=_drop_columns(result.identifiers, sources))
    errors = [p for p in result.problems if p.severity == "error"]
    if result.caseload is None:
        raise CliError(errors[0].as_text() if errors else "The data could not be loaded; check the files.")
    from analytics.output.report import assemble

    step("Deriving episodes and running the analyses")
    bundle = assemble(result, recipe, render_figures=not args.no_figures)
    step("Writing tables and figures")
    return bundle


def _in_engine(args, sources, recipe, mapping, step):
    from analytics.engines import open_engine
    from analytics.engines.ingest import load_tables
    from analytics.output.report import assemble_in_engine

    if args.engine == "duckdb":
        options = {"memory_limit": args.memory_limit}
    else:
        options = {"master": None if args.spark_master == "active" else args.spark_master}
    step(f"Reading, mapping and checking the files in {args.engine}")
    engine = open_engine(args.engine, **options)
    try:
        ingest = load_tables(engine, sources, mapping)
        errors = [p for p in ingest.problems if p.blocking]
        if errors or not ingest.ready:
            raise CliError(errors[0].as_text() if errors else "The data could not be loaded; check the files.")
        return assemble_in_engine(engine, ingest, recipe, render_figures=not args.no_figures, progress=step)
    finally:
        engine.close()


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        print(run_report(args))
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


def _sources(args) -> dict[str, str]:
    sources = {t: getattr(args, t) for t in TABLES if getattr(args, t)}
    if not sources.keys() & {"sessions", "clients"}:
        raise CliError("Give a sessions file (--sessions), a clients file (--clients) or both.")
    for table, path in sources.items():
        if args.engine == "pandas" and not os.path.isfile(path):
            raise CliError(f"{path}: the {table} file was not found; check the path given to --{table}.")
        spark_only = args.engine == "spark" and (is_table_name(path) or is_remote(path))
        if args.engine != "pandas" and not glob.glob(path) and not spark_only:
            raise CliError(f"{path}: no file matches; check the path or glob given to --{table}"
                           + (" (or give a table name)." if args.engine == "spark" else "."))
    return sources


def _recipe(path) -> Recipe:
    if path is None:
        return Recipe()
    if not os.path.isfile(path):
        raise CliError(f"{path}: the recipe file was not found; check the path given to --config.")
    try:
        return Recipe.load(path)
    except RecipeError as exc:
        raise CliError(f"{path}: {exc}") from None


def _mapping(recipe: Recipe, path):
    if recipe.mapping is None:
        return None
    from analytics.ingest.mapping import Mapping

    try:
        return Mapping.from_dict(recipe.mapping)
    except ValueError as exc:
        raise CliError(f"{path}: recipe key 'mapping': {_one_line(exc)}") from None


def _identifier_message(findings) -> str:
    first = findings[0]
    more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
    return (f"{first.file}, column '{first.column}': looks like a direct identifier ({first.kind}: {first.reason}){more}. "
            "Remove it from the file, or re-run with --drop-identifiers to leave it out.")


def _drop_columns(findings, sources: dict[str, str]) -> dict[str, list[str]]:
    """Findings name a file; drop_columns wants the table key."""
    by_name = {Path(p).name: t for t, p in sources.items()} | {t: t for t in sources}
    out: dict[str, list[str]] = {}
    for f in findings:
        table = by_name.get(f.file) or by_name.get(Path(str(f.file)).name)
        if table is None:
            raise CliError(f"{f.file}, column '{f.column}': cannot tell which table it belongs to; remove the column.")
        out.setdefault(table, []).append(f.column)
    return out


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
