"""Imports into the session: requested by the Data page or a recipe, carried out by app.py at the
start of the next run, before the sidebar draws a widget.

Settings that depend on the data (the dropout definitions it supports, the filters' choices)
must change before the widgets that show them are drawn: Streamlit refuses to change a widget's
value once it is drawn in the same run. So no page imports by itself: it files a request and
reruns. Every import (a new upload, an edited mapping, a restored recipe) goes through one
`reload` of the same sources with the same options and salt, so nothing chosen earlier is lost.
The import itself runs in a worker process with its stages on a progress bar.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import streamlit as st

from analytics.ingest.load import IngestResult, load_caseload
from analytics.ingest.mapping import Mapping
from analytics.ingest.readers import source_name
from analytics.recipe import Recipe
from ui import state, worker

PENDING = "import_pending"
FAILURE = "import_failure"
_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportRequest:
    sources: dict
    mapping: Mapping | None = None
    options: dict = field(default_factory=dict)  # sheets, drop_columns, hash_columns, export_date
    recipe: Recipe | None = None  # settings restored once the data is in

    @property
    def name(self) -> str:
        return ", ".join(source_name(v) for v in self.sources.values())


def request_upload(sources: dict, export_date=None) -> None:
    """Import newly uploaded files (`{table: (file name, bytes)}`) from scratch."""
    st.session_state[PENDING] = ImportRequest(sources, options={"export_date": export_date})


def request_reload(mapping: Mapping | None = None, recipe: Recipe | None = None, **options) -> None:
    """Import the session's sources again with a new mapping and/or changed options (sheets,
    drop_columns, hash_columns, export_date); every option not named keeps its last value. A table
    now read from another sheet gets a suggested mapping, not the one made for the old sheet."""
    result: IngestResult = state.ingest_result()
    kept = dict(result.options)
    kept.update(options)
    mapping = mapping or result.mapping
    moved = [t for t, sheet in (options.get("sheets") or {}).items()
             if sheet != ((result.options.get("sheets") or {}).get(t) or (result.sheet_names.get(t) or [None])[0])]
    if moved:  # another sheet has other columns: its mapping is suggested afresh
        mapping = Mapping({t: m for t, m in mapping.tables.items() if t not in moved})
    st.session_state[PENDING] = ImportRequest(st.session_state[state.SOURCES], mapping, kept, recipe)


def run_pending() -> None:
    """Carry out a requested import (call before any widget is drawn), showing its stages."""
    request: ImportRequest | None = st.session_state.pop(PENDING, None)
    if request is None:
        return
    st.session_state.pop(FAILURE, None)
    with st.status(f"Importing {request.name}", expanded=True) as status:
        bar = st.progress(0.0, text="Starting")
        try:
            result = worker.run(load_caseload, {
                "sources": request.sources, "mapping": request.mapping,
                "salt": st.session_state.get(state.SALT) or None, **request.options,
            }, lambda fraction, stage: bar.progress(fraction, text=stage))
        except Exception as exc:  # noqa: BLE001 - the user keeps the previous data and reads why
            _LOG.exception("import of %s failed", request.name)
            reason = str(exc) if isinstance(exc, worker.WorkerFailed) else f"{type(exc).__name__}: {exc}"
            st.session_state[FAILURE] = f"{request.name} could not be imported ({reason}). The data loaded before is kept."
            status.update(label=f"{request.name} could not be imported", state="error")
            return
        bar.progress(1.0, text="Done")
        status.update(label=f"Imported {request.name}", state="complete", expanded=False)
    state.set_ingest(result, request.name, request.sources)
    if request.recipe is not None:
        state.apply_settings(request.recipe)


def failure() -> str | None:
    """Why the last requested import failed, if it did (shown on the Data page)."""
    return st.session_state.get(FAILURE)


def apply_recipe(recipe: Recipe) -> None:
    """Restore a recipe from a widget callback. A recipe whose column mapping differs from the
    one in use re-imports the upload with it (keeping the import's sheets, identifier choices,
    export date and salt); its settings are restored once that import is in."""
    sources = st.session_state.get(state.SOURCES)
    current = state.ingest_result().mapping
    if recipe.mapping is not None and sources and current.to_dict() != recipe.mapping:
        request_reload(Mapping.from_dict(recipe.mapping), recipe=recipe)
    else:
        state.apply_settings(recipe)
