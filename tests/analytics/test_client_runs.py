"""client_positions: a client's value per row, looked up once per run, equals a reindex on the ids."""

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.client_runs import client_positions

IDS = st.sampled_from(["c1", "c2", "c3", "c10", "x"])


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(IDS, max_size=30), clients=st.lists(IDS, unique=True, max_size=5), sorted_rows=st.booleans())
def test_positions_give_a_reindex(rows, clients, sorted_rows):
    rows = sorted(rows) if sorted_rows else rows
    table = pd.DataFrame({"client_id": clients, "event": np.arange(len(clients), dtype=np.int64) + 1})
    found = client_positions(pd.Series(rows, dtype=object), table["client_id"])
    got = pd.api.extensions.take(table["event"].to_numpy(), found, allow_fill=True)
    expected = table.set_index("client_id")["event"].reindex(rows).to_numpy()
    np.testing.assert_array_equal(got, expected)
    assert got.dtype == expected.dtype  # whole numbers stay whole unless a client is missing


def test_positions_by_hand():
    found = client_positions(pd.Series(["b", "b", "a", "z", "b"]), pd.Series(["a", "b"]))
    assert found.tolist() == [1, 1, 0, -1, 1]
    assert client_positions(pd.Series([], dtype=object), pd.Series(["a"])).tolist() == []
