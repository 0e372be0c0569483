"""The one AppTest harness every page test uses: open a page through app.py (the routing fixture
in tests/conftest.py makes AppTest go through app.py as a server does), on the sample or on a
caseload given as a real import result, and read what the page shows."""

from __future__ import annotations

import base64
import re

import numpy as np
import pandas as pd
from streamlit.testing.v1 import AppTest

from analytics.caseload import Caseload
from analytics.ingest import IngestResult, Mapping
from analytics.synth import generate_caseload
from tests.paths import APP
from ui import state

# The practice caseload most page tests share (800 clients, 15 therapists).
PRACTICE_SAMPLE = generate_caseload(n_clients=800, n_therapists=15, seed=11).caseload()


def open_page(page: str, caseload: Caseload | None = None, suppress_below: int | None = None, timeout: int = 120,
              **session_state) -> AppTest:
    """Run `page` (a path under pages/) once, on `caseload` (else the bundled sample), with
    `suppress_below` as the privacy threshold and any further session-state keys set first."""
    at = AppTest.from_file(str(APP), default_timeout=timeout)
    if caseload is not None:
        at.session_state[state.INGEST] = IngestResult(caseload, Mapping())
        at.session_state[state.DATASET] = "test caseload"
    if suppress_below is not None:
        at.session_state[state.SUPPRESS_BELOW] = suppress_below
    for key, value in session_state.items():
        at.session_state[key] = value
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def number(cell: str) -> float:
    """A director table's cell as a number: "1,234" -> 1234, "22.7%" -> 22.7."""
    return float(str(cell).replace(",", "").rstrip("%"))


def text(at: AppTest) -> str:
    """Everything the page says in prose: markdown, captions, infos and warnings."""
    return " ".join([m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
                    + [w.value for w in at.warning])


def frame(at: AppTest, column: str) -> pd.DataFrame:
    """The first table on the page that has `column`, as written (a static table's cells and
    headers are sent with their Markdown marks escaped)."""
    return next(t for t in tables(at) if column in t.columns)


def tables(at: AppTest) -> list[pd.DataFrame]:
    """Every table on the page, static or grid, in the order drawn."""
    return [shown_table(e) for e in at.main if e.type in ("table", "dataframe")]


def shown_table(element) -> pd.DataFrame:
    """A table element as the browser shows it: a static table's cells and headers are sent with
    their Markdown marks escaped ("\\<0.001"), which the browser renders away."""
    def literal(value):
        return re.sub(r"\\(.)", r"\1", value) if isinstance(value, str) else value
    return element.value.map(literal).rename(columns=literal) if element.type == "table" else element.value


def chart_array(value) -> np.ndarray:
    """An array from a chart's plotly JSON: a plain list, or a typed array sent as base64 `bdata`."""
    if isinstance(value, dict):
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).astype(float)
    return np.array(value, dtype=float)
