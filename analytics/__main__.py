"""Command line: run the whole analysis headless and write a report bundle, or the one- or
two-page summary for the team meeting.

    python -m analytics report --sessions sessions.csv --clients clients.csv \
        --therapists therapists.csv --config recipe.json --out report/
    python -m analytics summary --sessions sessions.csv --clients clients.csv \
        --config recipe.json --out summary.pdf --paper a4

Every failure ends with exit status 1 (2 for a usage error) and one line on stderr saying
which file or column is wrong and what to do; never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from analytics.output.summary import PAPERS
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
    _data_arguments(report)
    report.add_argument("--out", metavar="DIR", required=True, help="folder to write the bundle into (created if needed)")
    report.add_argument("--no-figures", action="store_true", help="skip the figure files (no Chromium needed)")
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
    _data_arguments(summary)
    summary.add_argument("--out", metavar="FILE", required=True, help="the PDF file to write")
    summary.add_argument("--paper", choices=sorted(PAPERS), default="a4", help="paper size (default a4)")
    return parser


def _data_arguments(command) -> None:
    """The options every command reads its data with: the three tables and the recipe."""
    for table in TABLES:
        command.add_argument(f"--{table}", metavar="FILE", help=f"the {table} table (CSV or Excel)")
    command.add_argument("--config", metavar="RECIPE", help="recipe.json with the analysis settings (defaults if omitted)")
    command.add_argument("--drop-identifiers", action="store_true",
                         help="drop columns flagged as direct identifiers (names, e-mails, phone numbers, ...) "
                         "instead of stopping")


def run_report(args) -> str:
    """Load, check, analyse and write; returns the summary line."""
    result, recipe = _load(args)
    from analytics.output.report import assemble, write_bundle

    bundle = assemble(result, recipe, render_figures=not args.no_figures)
    write_bundle(bundle, args.out)
    return f"Wrote {len(bundle.files)} files to {args.out} ({len(bundle.warnings)} warnings, listed in report.html)."


def run_summary(args) -> str:
    """Load, check, compose the meeting summary and print it to PDF; returns the line printed."""
    result, recipe = _load(args)
    from analytics.output.export import RendererUnavailable
    from analytics.output.summary import meeting_summary, summary_pdf

    try:
        data = summary_pdf(meeting_summary(result.caseload, recipe), args.paper)
    except RendererUnavailable as exc:
        raise CliError(str(exc)) from None
    out = Path(args.out)
    if out.is_dir():
        raise CliError(f"{out}: is a folder; give --out the name of the PDF file to write, e.g. {out / 'summary.pdf'}.")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return f"Wrote the meeting summary to {out} ({PAPERS[args.paper]} paper)."


def _load(args):
    """The checked import and the recipe; the import's first error, or an identifier, stops here."""
    sources = _sources(args)
    recipe = _recipe(args.config)
    from analytics.ingest.load import load_caseload

    mapping = _mapping(recipe, args.config)
    result = load_caseload(sources, mapping=mapping)
    if result.identifiers:
        if not args.drop_identifiers:
            raise CliError(_identifier_message(result.identifiers))
        result = load_caseload(sources, mapping=mapping, drop_columns=_drop_columns(result.identifiers, sources))
    errors = [p for p in result.problems if p.severity == "error"]
    if result.caseload is None:
        raise CliError(errors[0].as_text() if errors else "The data could not be loaded; check the files.")
    return result, recipe


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        print(run_summary(args) if args.command == "summary" else run_report(args))
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
        if not os.path.isfile(path):
            raise CliError(f"{path}: the {table} file was not found; check the path given to --{table}.")
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
