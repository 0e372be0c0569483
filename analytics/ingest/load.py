"""Files -> Caseload: read, resolve direct identifiers, map, validate, build the canonical tables.

One call does it all and always returns: an IngestResult holds the caseload (None while any
error remains, including an identifier column that was neither dropped nor hashed), the mapping
used (suggested unless given, so the user can edit it and the recipe can save it), every problem,
the files as read (after identifiers were removed) and the identifier findings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from analytics.caseload import Caseload, fingerprint_frames
from analytics.ingest import privacy
from analytics.ingest.mapping import (
    Mapping,
    complete_values,
    detect_date_format,
    format_label,
    suggest_mapping,
)
from analytics.ingest.problems import Problem, has_errors
from analytics.ingest.fhir import EXPECTED, read_fhir
from analytics.ingest.readers import blob_of, is_json, list_sheets, read_table, source_name, without
from analytics.ingest.validate import check_links, conform
from analytics.schema import TABLES

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "sample_data"
ID_COLUMNS = ("client_id", "therapist_id")


@dataclass
class IngestResult:
    """What an import produced. `caseload` is None while `problems` holds an error.

    `options` holds the choices the import was made with except the salt (sheets, drop_columns,
    hash_columns, export_date), so it can be repeated with another mapping:
    `load_caseload(sources, mapping, salt=..., **result.options)`.
    """

    caseload: Caseload | None
    mapping: Mapping
    problems: list[Problem] = field(default_factory=list)
    raw: dict[str, pd.DataFrame] = field(default_factory=dict)
    identifiers: list = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    options: dict = field(default_factory=dict)
    sheet_names: dict[str, list[str]] = field(default_factory=dict)  # per table read from a workbook

    @property
    def ready(self) -> bool:
        return self.caseload is not None


def load_caseload(
    sources: dict,
    mapping: Mapping | None = None,
    sheets: dict[str, str] | None = None,
    drop_columns: dict[str, list[str]] | None = None,
    hash_columns: dict[str, list[str]] | None = None,
    salt: str | None = None,
    export_date=None,
    progress: Callable[[float, str], None] | None = None,
) -> IngestResult:
    """Import the files in `sources` ({"sessions" | "clients" | "therapists": path or (filename, bytes)}).

    A FHIR file (Bundle JSON or NDJSON; a list of them for one table, such as a Bulk Data export's
    Appointment.ndjson and Observation.ndjson) gives the sessions from its Appointments and, when
    no clients file is given, the clients from its EpisodeOfCare resources.

    `mapping` re-applies a saved or edited mapping (tables it does not cover are suggested);
    `sheets` picks the Excel sheet per table; `drop_columns` / `hash_columns` (source column names
    per table, hashing needs `salt`) resolve the identifier findings; `export_date` is the day the
    export was taken (by default the latest date in the data; dates after today are still reported).
    `progress(fraction, stage)` is told each stage as it starts, for a progress bar.
    """
    sheets, drop_columns, hash_columns = sheets or {}, drop_columns or {}, hash_columns or {}
    problems, raw, files, sheet_names = [], {}, {}, {}
    stages = 2 * len(sources) + 3
    step = _stepper(progress, stages)
    fhir_tables = {}
    for table, source in sources.items():
        if table not in TABLES:
            problems.append(Problem(source_name(source), None, [], f"'{table}' is not a table of the caseload",
                                    f"Load the file as one of: {', '.join(TABLES)}.", "error"))
            continue
        files[table] = source_name(source)
        step(f"Reading {files[table]}")
        if _is_json(source):
            fhir_tables[table] = source
            continue
        frame, found = read_table(source, sheet=sheets.get(table))
        sheet_names[table] = list_sheets(source)
        problems += found
        if frame is not None:
            raw[table] = frame
    if fhir_tables:
        problems += _read_fhir(fhir_tables, raw, files)

    step("Looking for direct identifiers")
    findings = {}
    for table in list(raw):
        findings[table] = privacy.scan_identifiers(raw[table], files[table])
        raw[table] = without(raw[table], [c for c in drop_columns.get(table, []) if c in raw[table].columns])

    step("Matching columns and values to the canonical tables")
    suggested = suggest_mapping(raw)
    used = suggested if mapping is None else complete_values(mapping.with_tables(suggested), raw)
    if mapping is None:
        problems += _ambiguous_dates(raw, used, files)

    for table in list(raw):
        raw[table], found = _resolve_identifiers(
            table, raw[table], findings[table],
            drop_columns.get(table, []), hash_columns.get(table, []), salt, used.table(table).columns,
        )
        problems += found

    limit = pd.Timestamp(export_date) if export_date is not None else None
    tables, booked = {}, None
    for table in TABLES:
        if table in raw:
            step(f"Checking {files[table]}")
            frame, found, left_booked = conform(table, raw[table], used.table(table), files[table], limit)
            problems += found
            booked = left_booked if table == "sessions" else booked
            if frame is not None and len(frame):
                tables[table] = frame
    problems += check_links(tables, files, {t: used.table(t).columns for t in tables})
    if "sessions" not in tables and "clients" not in tables:
        problems.append(nothing_to_analyse(files, {t: len(f) for t, f in raw.items()}))

    step("Building the caseload")
    caseload = None
    if not has_errors(problems):
        canonical = {t: tables.get(t) for t in TABLES}
        booked = None if booked is None else _plain(booked)
        fingerprint = fingerprint_frames(*canonical.values())  # of the values: the row numbers do not enter
        plain = {t: None if f is None else _plain(f) for t, f in canonical.items()}
        caseload = Caseload(plain["sessions"], plain["clients"], plain["therapists"], export_date=limit,
                            fingerprint=fingerprint, booked=booked, categorical={
                                t: (plain[t], _categoricals(f)) for t, f in canonical.items() if f is not None})
    identifiers = [f for table in findings for f in findings[table]]
    options = {"sheets": sheets, "drop_columns": drop_columns, "hash_columns": hash_columns, "export_date": export_date}
    return IngestResult(caseload, used, problems, raw, identifiers, files, options,
                        {t: names for t, names in sheet_names.items() if names})


def _is_json(source) -> bool:
    """A JSON file (FHIR), or a list of files given for one table (a Bulk Data export's NDJSON files)."""
    if isinstance(source, list):
        return True
    blob = blob_of(source)
    return not isinstance(blob, Problem) and is_json(blob.head(64))


def _read_fhir(fhir_tables: dict, raw: dict, files: dict) -> list[Problem]:
    """Read every FHIR source together (Observations join the appointments of another file) and
    give each table its frame; the clients frame of EpisodeOfCare resources also when no clients
    file was given."""
    pooled = [s for source in fhir_tables.values() for s in (source if isinstance(source, list) else [source])]
    tables, problems = read_fhir(pooled)
    resource = {"sessions": "Appointment", "clients": "EpisodeOfCare"}
    for table in fhir_tables:
        if table in tables:
            raw[table] = tables[table]
        elif not any(p.blocking for p in problems):
            problems.append(Problem(files[table], None, [], f"The FHIR file(s) hold no {resource.get(table, table)} "
                                    f"resources, which the {table} table is made from", EXPECTED, "error"))
    if "clients" in tables and "clients" not in files:
        raw["clients"] = tables["clients"]
        files["clients"] = files[next(iter(fhir_tables))]
    return problems


def files_received(sources: dict, result: IngestResult) -> pd.DataFrame:
    """One row per table of the caseload: the file received for it (or none), its size and how
    many rows were read, so a user sees at once whether every chosen file arrived."""
    rows = []
    for table in TABLES:
        source = sources.get(table)
        if source is None:
            rows.append({"table": table, "file": "no file", "size": "-", "rows read": "-"})
            continue
        frame = result.raw.get(table)
        rows.append({"table": table, "file": source_name(source), "size": _size_text(_size(source)),
                     "rows read": "could not be read" if frame is None else f"{len(frame):,}"})
    return pd.DataFrame(rows)


def _size(source) -> int | None:
    if isinstance(source, (str, Path)):
        path = Path(source)
        return path.stat().st_size if path.is_file() else None
    if isinstance(source, tuple) and len(source) == 2 and isinstance(source[1], (bytes, bytearray)):
        return len(source[1])
    return None


def _size_text(size: int | None) -> str:
    if size is None:
        return "-"
    if size < 1_000:
        return f"{size:,} bytes"
    return f"{size / 1e3:,.1f} KB" if size < 1_000_000 else f"{size / 1e6:,.1f} MB"


def _stepper(progress: Callable[[float, str], None] | None, stages: int) -> Callable[[str], None]:
    """Report stage after stage as a fraction of `stages` (a no-op without a listener)."""
    done = [0]

    def step(stage: str) -> None:
        if progress is not None:
            progress(min(done[0] / stages, 1.0), stage)
        done[0] += 1

    return step


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical text columns (how the importer holds text) as plain object columns of str,
    the canonical dtype every analysis expects; rows numbered 0, 1, ... (the spreadsheet row
    numbers have served the problems). Each column is built once and not copied again."""
    return pd.DataFrame({
        column: np.asarray(series, dtype=object) if isinstance(series.dtype, pd.CategoricalDtype) else series.array
        for column, series in frame.items()
    }, index=pd.RangeIndex(len(frame)), copy=False)


def _categoricals(frame: pd.DataFrame) -> dict[str, pd.Categorical]:
    """The id and status columns the importer holds as categoricals, kept beside the plain table
    (Caseload.categorical): the episodes number clients and therapists by their codes."""
    return {c: frame[c].array for c in ("client_id", "therapist_id", "status")
            if c in frame and isinstance(frame[c].dtype, pd.CategoricalDtype)}


def load_sample() -> IngestResult:
    """The bundled synthetic caseload in sample_data/ (canonical column names, nothing to map)."""
    sources = {t: SAMPLE_DIR / f"{t}.csv" for t in TABLES if (SAMPLE_DIR / f"{t}.csv").exists()}
    if not sources:
        problem = Problem("sample_data", None, [], "The sample data files are missing",
                          "Reinstall the project or load your own files.", "error")
        return IngestResult(None, Mapping(), [problem])
    return load_caseload(sources)


def _resolve_identifiers(table, frame, findings, dropped, hashed, salt, id_sources: dict):
    """Hash the columns asked for; every finding neither dropped nor hashed becomes an error.

    Record numbers and national ids may be hashed (privacy marks them `hashable`), and so may a
    column used as the client or therapist id (an export that identifies people by name): the
    salted hash is then the pseudonymous key the analysis needs. Other findings must be dropped.
    """
    problems = []
    keys = set(id_sources.get(c) for c in ID_COLUMNS)
    by_column = {f.column: f for f in findings}
    for column in hashed:
        if column not in frame.columns:
            continue
        finding = by_column.get(column)
        if finding is not None and not finding.hashable and column not in keys:
            problems.append(Problem(finding.file, column, [], f"This column cannot be kept as a hash: {finding.reason}",
                                    "Drop it; hashing only suits id columns.", "error"))
            continue
        if not salt:
            problems.append(Problem(finding.file if finding else table, column, [],
                                    "Hashing needs a salt (a secret phrase), and none was given",
                                    "Enter a salt, and keep it to hash next month's export the same way.", "error"))
            continue
        frame = frame.assign(**{column: privacy.hash_identifier(frame[column], salt)})
    for finding in findings:
        if finding.column in dropped or finding.column in hashed:
            continue
        can_hash = finding.hashable or finding.column in keys
        problems.append(Problem(
            finding.file, finding.column, [], f"This column looks like a direct identifier: {finding.reason}",
            "Drop the column" + (" or keep it as a salted hash" if can_hash else "") + " before analysis.", "error"))
    return frame, problems


def nothing_to_analyse(files: dict, rows: dict) -> Problem:
    """The blocking problem when neither a sessions nor a clients table is usable, saying why for
    each; `rows` holds the number of data rows of each table that could be read."""
    reasons = []
    for table in ("sessions", "clients"):
        if table not in files:
            reasons.append(f"no {table} file was given")
        elif table not in rows:
            reasons.append(f"{files[table]} could not be read")
        elif rows[table] == 0:
            reasons.append(f"{files[table]} has no rows of data")
        else:
            reasons.append(f"{files[table]} has no usable rows")
    return Problem(
        ", ".join(files.values()) or "(no file)", None, [], "There is nothing to analyse: " + "; ".join(reasons),
        "Load an appointments (sessions) export or a clients file; see the data dictionary for the columns.", "error")


def _ambiguous_dates(raw: dict, mapping: Mapping, files: dict) -> list[Problem]:
    """A warning for suggested date formats that could be read month-first or day-first."""
    out = []
    for table, frame in raw.items():
        table_mapping = mapping.table(table)
        for column, fmt in table_mapping.date_formats.items():
            source = table_mapping.columns.get(column)
            if source in frame.columns and detect_date_format(frame[source])[1]:
                out.append(Problem(
                    files[table], source, [],
                    f"No day in this column is above 12, so its dates could be month-first or day-first; "
                    f"they were read as {format_label(fmt)} (month first)",
                    "If your system writes the day first, choose the DD/MM date format in the mapping.",
                ))
    return out
