"""The data dictionary and templates come from the schema, so they list exactly the canonical columns."""

from __future__ import annotations

import io

import pandas as pd

from analytics.ingest.dictionary import (
    data_dictionary,
    dictionary_markdown,
    template_csv,
)
from analytics.schema import CLIENT_COLUMNS, SESSION_COLUMNS, THERAPIST_COLUMNS


def test_dictionary_rows_types_and_scales():
    table = data_dictionary()
    assert len(table) == len(SESSION_COLUMNS) + len(CLIENT_COLUMNS) + len(THERAPIST_COLUMNS)
    rows = table.set_index(["table", "column"])
    assert rows.loc[("sessions", "status"), "allowed"] == "attended, no_show, late_cancel, cancelled, clinician_cancelled"
    assert rows.loc[("sessions", "wai"), "allowed"] == "12-60"
    assert rows.loc[("clients", "env_noise"), "allowed"].startswith("1-5")
    assert rows.loc[("clients", "court_mandated"), "type"] == "yes/no (stored as 1/0)"
    assert table.loc[table["required"], ["table", "column"]].values.tolist() == [
        ["sessions", "client_id"], ["sessions", "date"], ["sessions", "status"], ["clients", "client_id"],
        ["therapists", "therapist_id"]]
    assert (table["meaning"] != "").all()


def test_templates_are_headers_only():
    for table, columns in (("sessions", SESSION_COLUMNS), ("clients", CLIENT_COLUMNS), ("therapists", THERAPIST_COLUMNS)):
        frame = pd.read_csv(io.BytesIO(template_csv(table)))
        assert list(frame.columns) == list(columns) and len(frame) == 0


def test_markdown_has_a_row_per_column():
    text = dictionary_markdown()
    assert text.count("\n| `") == len(data_dictionary())
    assert "| `srs` |  | number on a closed scale | 0-40 |" in text
