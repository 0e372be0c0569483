"""Data: load the sample or your own exports, check the suggested mapping, fix every problem,
resolve identifiers, preview the canonical tables and episodes, get the data dictionary."""

import pandas as pd
import streamlit as st

from analytics.ingest.dictionary import REQUIRED, data_dictionary, template_csv
from analytics.ingest.load import files_received
from analytics.ingest.mapping import (
    DATE_FORMATS,
    ISO,
    VALUE_SETS,
    Mapping,
    column_table,
    format_label,
    table_mapping_from_tables,
    value_table,
)
from analytics.ingest.problems import problems_table
from analytics.episodes import outcome_counts
from analytics.schema import TABLES
from ui import imports, state, widgets

UPLOAD_FORM = "data_upload"
EXPORT_DATE = "data_export_date"
NO_FILE = "data_no_file"
UPLOAD_TYPES = ["csv", "tsv", "txt", "tab", "xlsx", "xlsm", "parquet", "json", "ndjson"]
DROP, HASH = "Drop the column", "Keep as a salted hash"

st.title("Data")
s = st.session_state


def _uploaded() -> None:
    """Form callback: the form cannot be sent while a chosen file is still uploading, so every
    file chosen is here; the import runs at the start of this run, before the sidebar."""
    picked = {t: s.get(f"data_upload_{t}") for t in TABLES}
    sources = {t: (f.name, f.getvalue()) for t, f in picked.items() if f is not None}
    if sources:
        imports.request_upload(sources, export_date=s.get(EXPORT_DATE))
    else:
        s[NO_FILE] = True


def _uploads() -> None:
    st.markdown("Load an appointments export (**sessions**), a **clients** file, or both; a **therapists** file "
                "adds therapist details. CSV (any delimiter), Excel, Parquet or FHIR R4 (a Bundle .json or Bulk Data .ndjson). Files stay in this browser "
                "session's memory and are never saved.")
    with st.form(UPLOAD_FORM, border=False):
        columns = st.columns(3)
        for column, table in zip(columns, TABLES):
            column.file_uploader(table.capitalize(), type=UPLOAD_TYPES, key=f"data_upload_{table}")
        st.date_input("Export date (optional: the day the files were exported; otherwise the latest date in them)",
                      key=EXPORT_DATE, value=None)
        st.form_submit_button("Import these files", type="primary", on_click=_uploaded)


result = state.ingest_result()
sources = s.get(state.SOURCES)
dataset = s.get(state.DATASET, state.SAMPLE_NAME)

top = st.columns([3, 1])
top[0].markdown(f"Current data: **{dataset}**")
if sources and top[1].button("Forget this data", help="Remove the uploaded files from this session; the sample comes back."):
    state.forget()
    s.pop(EXPORT_DATE, None)
    st.rerun()
if imports.failure():
    st.error(imports.failure())
if s.pop(NO_FILE, False):
    st.warning("No file was chosen: pick a sessions, clients or therapists file, then import.")

with st.expander("Load your own files", expanded=not sources):
    _uploads()
if sources:
    st.markdown("**Files received**")
    st.table(files_received(sources, result).set_index("table"))

loaded = result.caseload
if loaded is not None:
    counts = st.columns(4)
    counts[0].metric("Clients", f"{loaded.n_clients:,}")
    counts[1].metric("Sessions", f"{loaded.n_sessions:,}")
    counts[2].metric("Therapists", "-" if loaded.therapists is None else f"{len(loaded.therapists):,}")
    counts[3].metric("Export date", "-" if loaded.export_date is None else f"{loaded.export_date:%Y-%m-%d}")

st.header("Problems")
widgets.problems(result.problems)
if result.problems:
    st.download_button("Problems CSV", problems_table(result.problems).to_csv(index=False).encode(),
                       file_name="data_problems.csv", mime="text/csv")

if sources:
    version = state.import_count()  # every import starts the editors from what it applied
    applied = {"sheets": {}, "drop_columns": {}, "hash_columns": {}, "export_date": None, **result.options}
    files = result.files
    drop, hashed = {}, {}
    if result.identifiers:
        st.header("Direct identifiers")
        st.markdown("These columns look like they identify people. Drop them, or keep an id column as a salted hash "
                    "(the same salt gives the same codes next month; keep it secret).")
        id_sources = {t: {result.mapping.table(t).columns.get(c) for c in ("client_id", "therapist_id")} for t in files}
        for finding in result.identifiers:
            table = next((t for t, f in files.items() if f == finding.file), None)
            if table is None:
                continue
            choices = [DROP, HASH] if finding.hashable or finding.column in id_sources[table] else [DROP]
            was = (DROP if finding.column in applied["drop_columns"].get(table, [])
                   else HASH if finding.column in applied["hash_columns"].get(table, []) else None)
            choice = st.radio(f"**{finding.file}**, column **{finding.column}**: {finding.reason}", choices,
                              index=choices.index(was) if was in choices else None, horizontal=True,
                              key=f"data_identifier_{table}_{finding.column}_{version}")
            if choice == DROP:
                drop.setdefault(table, []).append(finding.column)
            elif choice == HASH:
                hashed.setdefault(table, []).append(finding.column)
        if hashed:
            st.text_input("Salt (a secret phrase)", type="password", key=f"data_salt_{version}",
                          value=s.get(state.SALT) or "")

    st.header("Mapping")
    st.markdown("How the columns and words of your files were read. Correct anything wrong, then apply.")
    edited, mapping_error, sheets = {}, None, dict(applied["sheets"])
    for table in (t for t in TABLES if t in result.raw):
        raw = result.raw[table]
        current = result.mapping.table(table)
        st.subheader(f"{table.capitalize()} ({files[table]})")
        names = result.sheet_names.get(table, [])
        if len(names) > 1:
            sheets[table] = st.selectbox("Sheet", names, index=names.index(sheets[table]) if sheets.get(table) in names else 0,
                                         key=f"data_sheet_{table}_{version}")
        required = ", ".join(REQUIRED[table])
        columns = st.data_editor(
            column_table(current, table),
            column_config={
                "column": st.column_config.TextColumn("Canonical column", disabled=True),
                "source": st.column_config.SelectboxColumn(f"Column in your file (required: {required})",
                                                           options=[""] + list(raw.columns)),
            },
            hide_index=True, key=f"data_columns_{table}_{version}",
        )
        cancelled_by = ""
        if table == "sessions":
            options = [""] + list(raw.columns)
            cancelled_by = st.selectbox(
                "Column saying who cancelled (optional: a cancellation by the clinician is then a clinician cancellation)",
                options, index=options.index(current.cancelled_by) if current.cancelled_by in options else 0,
                format_func=lambda c: c or "none", key=f"data_cancelled_by_{version}")
        values = {}
        for column in (c for c in VALUE_SETS if c in current.values):
            st.caption(f"What each {column.replace('_', ' ')} value in the file means (values not known yet come first)")
            values[column] = st.data_editor(
                value_table(current, column),
                column_config={
                    "value": st.column_config.TextColumn("In your file", disabled=True),
                    "means": st.column_config.SelectboxColumn("Means", options=[""] + list(VALUE_SETS[column])),
                },
                hide_index=True, key=f"data_values_{table}_{column}_{version}",
            )
        formats = {}
        for column, fmt in current.date_formats.items():
            choices = [ISO] + list(DATE_FORMATS)
            formats[column] = st.selectbox(f"Date format of {column}", choices, index=choices.index(fmt) if fmt in choices else 0,
                                           format_func=format_label, key=f"data_format_{table}_{column}_{version}")
        try:
            edited[table] = table_mapping_from_tables(table, columns, values, formats, cancelled_by)
        except ValueError as error:
            mapping_error = str(error)
    if mapping_error:
        st.error(mapping_error)
    export_date = st.date_input("Export date (optional: the day the files were exported; otherwise the latest date in them)",
                                value=None if applied["export_date"] is None else pd.Timestamp(applied["export_date"]).date(), key=f"data_export_date_{version}")
    if st.button("Apply mapping and choices", type="primary", disabled=mapping_error is not None):
        if hashed:
            s[state.SALT] = s.get(f"data_salt_{version}") or None
        imports.request_reload(Mapping(edited), sheets=sheets, drop_columns=drop, hash_columns=hashed,
                               export_date=export_date)
        st.rerun()
    st.download_button("Mapping JSON", result.mapping.to_json().encode(), file_name="mapping.json", mime="application/json")
    saved = st.file_uploader("Apply a saved mapping (JSON)", type=["json"], key=f"data_saved_mapping_{version}")
    if saved is not None and st.button("Apply the saved mapping"):
        try:
            imports.request_reload(Mapping.from_json(saved.getvalue().decode("utf-8", errors="replace")))
            st.rerun()
        except ValueError as error:
            st.error(str(error))

if loaded is not None:
    st.header("Preview")
    tabs = st.tabs([t.capitalize() for t in TABLES if getattr(loaded, t) is not None] + ["Episodes"])
    shown = [t for t in TABLES if getattr(loaded, t) is not None]
    for tab, table in zip(tabs, shown):
        frame = getattr(loaded, table)
        tab.caption(f"{len(frame):,} rows; the first 500 are shown.")
        dates = {c: st.column_config.DateColumn(format="YYYY-MM-DD") for c in ("date", "intake_date") if c in frame}
        tab.dataframe(frame.head(500), hide_index=True, column_config=dates)
    with tabs[-1]:
        if loaded.sessions is None and not {"duration", "event"} <= set(loaded.clients.columns):
            st.info("Episodes need the appointment history (a sessions file) or `duration` and `event` columns.")
        else:
            episodes = state.all_episodes()
            outcome = outcome_counts(episodes)
            st.caption(f"One row per client under the '{state.episode_settings().dropout_definition}' definition "
                       "(change it in the sidebar).")
            st.dataframe(outcome, hide_index=True)
            st.dataframe(episodes.head(500), hide_index=True)

st.header("Data dictionary")
st.markdown("The columns Alliance Lens understands. Only `client_id`, `date` and `status` (sessions) or "
            "`client_id` (clients) are required; any other column of yours is kept under its own name.")
dictionary = data_dictionary()
st.dataframe(dictionary, hide_index=True)
downloads = st.columns(4)
downloads[0].download_button("Dictionary CSV", dictionary.to_csv(index=False).encode(), file_name="data_dictionary.csv",
                             mime="text/csv")
for column, table in zip(downloads[1:], TABLES):
    column.download_button(f"Blank {table} template", template_csv(table), file_name=f"{table}_template.csv",
                           mime="text/csv", key=f"data_template_{table}")
