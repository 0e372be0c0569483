"""ClientRuns.positions and per_row: a client's value on each row, looked up once per run of its rows,
equals a reindex on the ids, for every kind of column."""

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.client_runs import ClientRuns, per_row

IDS = st.sampled_from(["c1", "c2", "c3", "c10", "x"])


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(IDS, max_size=30), clients=st.lists(IDS, unique=True, max_size=5), sorted_rows=st.booleans())
def test_positions_give_a_reindex(rows, clients, sorted_rows):
    rows = sorted(rows) if sorted_rows else rows
    n = len(clients)
    table = pd.DataFrame({
        "client_id": clients,
        "event": np.arange(n, dtype=np.int64) + 1,
        "score": pd.array([None if i == 1 else i for i in range(n)], dtype="Int64"),
        "site": pd.Categorical([f"Site {i % 2}" for i in range(n)]),
        "flag": np.arange(n) % 2 == 0,
        "therapist_id": [f"T{i}" for i in range(n)],
        "intake_date": pd.to_datetime("2024-01-01") + pd.to_timedelta(np.arange(n), unit="D"),
    })
    found = ClientRuns(pd.Series(rows, dtype=object)).positions(table["client_id"])
    for column in table.columns[1:]:
        got = per_row(table[column], found)
        expected = table.set_index("client_id")[column].reindex(rows).to_numpy()
        assert got.dtype == expected.dtype, column  # whole numbers stay whole unless a client is missing
        assert pd.Series(got).equals(pd.Series(expected)), column


def test_positions_by_hand():
    found = ClientRuns(pd.Series(["b", "b", "a", "z", "b"])).positions(pd.Series(["a", "b"]))
    assert found.tolist() == [1, 1, 0, -1, 1]
    assert ClientRuns(pd.Series([], dtype=object)).positions(pd.Series(["a"])).tolist() == []
