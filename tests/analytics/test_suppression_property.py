"""Complementary suppression, proved over many tables: no masked count can be worked out from the
shown cells and the column totals, and nothing computed from a masked count is shown.

The reader modelled here knows each column's total (so the sum of its masked cells), that a masked
cell is at least 1 (zeros are shown) and at most the total of the masked cells less one for each
other masked cell. A masked cell is given away when that leaves it a single possible value."""

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.suppression import suppress_small_cells

counts = st.lists(st.integers(min_value=0, max_value=60), min_size=1, max_size=12)


def _possible_values(masked: np.ndarray) -> list[tuple[int, int]]:
    total, k = int(masked.sum()), len(masked)
    return [(1, total - (k - 1)) for _ in masked]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), min_size=1, max_size=12), st.integers(2, 20))
def test_no_masked_cell_can_be_derived_from_shown_cells_and_totals(rows, threshold):
    table = pd.DataFrame(rows, columns=["known", "dropouts"])
    table["rate"] = table["dropouts"] / table["known"].replace(0, np.nan)
    out = suppress_small_cells(table, ["known", "dropouts"], threshold, {"known": ["rate"], "dropouts": ["rate"]})
    for column in ("known", "dropouts"):
        values = table[column].to_numpy()
        masked = out[column].isna().to_numpy()
        assert not (masked & (values == 0)).any(), "a zero is shown, never masked"
        small = (values > 0) & (values < threshold)
        assert masked[small].all(), "every count from 1 to threshold - 1 is masked"
        assert out.loc[~masked, column].tolist() == values[~masked].tolist(), "shown cells keep their value"
        if not masked.any():
            continue
        shown_nonzero = (~masked & (values > 0)).any()
        derivable = [low == high for low, high in _possible_values(values[masked])]
        # A column is only left derivable when nothing is left to mask alongside.
        assert not any(derivable) or not shown_nonzero
        assert out.loc[masked, "rate"].isna().all(), "a rate worked out from a masked count is masked"
        assert out.loc[masked, "suppressed"].all()


@given(counts)
def test_a_column_without_small_counts_is_left_alone(values):
    table = pd.DataFrame({"clients": [v + 11 for v in values]})
    out = suppress_small_cells(table, ["clients"], 11)
    assert not out["suppressed"].any()
    assert out["clients"].tolist() == table["clients"].tolist()


def test_two_masked_ones_take_a_third_cell_with_them():
    out = suppress_small_cells(pd.DataFrame({"clients": [1, 1, 30, 50]}), ["clients"], 11)
    assert out["clients"].isna().tolist() == [True, True, True, False]
