"""A director's short table is sent to the browser with its Markdown marks escaped, so that every
cell reads as written (Streamlit's static table renders Markdown in its cells)."""

import pandas as pd

from ui.widgets import _literal


def test_a_static_tables_cells_and_headers_are_escaped_before_their_marks():
    shown = pd.DataFrame({"Site | area": ["1. North", "2) South", "- East", "*West*", "a_b", "12.5%", "-", 3]})
    escaped = _literal(shown)
    # In Markdown a backslash escapes the punctuation after it; before a digit it would be shown.
    assert escaped.columns.tolist() == ["Site \\| area"]
    assert escaped.iloc[:, 0].tolist() == ["1\\. North", "2\\) South", "\\- East", "\\*West\\*", "a\\_b", "12.5%", "-", 3]
