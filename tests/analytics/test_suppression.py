"""Small-cell suppression on hand-made tables: what a director may and may not see."""

import numpy as np
import pandas as pd

from analytics.suppression import display_suppressed, suppress_small_cells


def test_counts_one_to_ten_are_masked_at_threshold_eleven_and_zero_and_eleven_are_shown():
    table = pd.DataFrame({"group": list("abcdefghijklm"), "n": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 250]})
    out = suppress_small_cells(table, ["n"], suppress_below=11)
    assert out["n"].isna().tolist() == [False] + [True] * 10 + [False, False]
    assert out["n"].iloc[0] == 0 and out["n"].iloc[11] == 11 and out["n"].iloc[12] == 250
    assert out["suppressed"].tolist() == [False] + [True] * 10 + [False, False]
    assert out["group"].tolist() == table["group"].tolist()
    assert table["n"].tolist()[1] == 1, "the input table is not modified"


def test_a_single_masked_cell_takes_the_next_smallest_cell_with_it():
    table = pd.DataFrame({"site": ["North", "South", "East", "West"], "clients": [40, 7, 300, 25]})
    out = suppress_small_cells(table, ["clients"], suppress_below=11)
    # 7 alone could be recovered from the total (372); the next smallest (25) is masked too.
    assert out["clients"].isna().tolist() == [False, True, False, True]
    assert out["suppressed"].tolist() == [False, True, False, True]
    assert out.loc[[0, 2], "clients"].tolist() == [40, 300]


def test_two_masked_cells_need_no_complement():
    table = pd.DataFrame({"clients": [3, 0, 9, 40, 12]})
    out = suppress_small_cells(table, ["clients"], suppress_below=11)
    assert out["clients"].isna().tolist() == [True, False, True, False, False]
    assert out["clients"].iloc[1] == 0


def test_linked_rate_and_interval_are_masked_with_their_count():
    table = pd.DataFrame({
        "therapist": ["T1", "T2", "T3"],
        "clients": [120, 80, 60],
        "dropouts": [30, 4, 15],
        "rate": [0.25, 0.05, 0.25],
        "ci_lower": [0.18, 0.01, 0.15],
        "ci_upper": [0.33, 0.12, 0.37],
    })
    out = suppress_small_cells(table, ["clients", "dropouts"], suppress_below=11,
                               linked={"dropouts": ["rate", "ci_lower", "ci_upper"]})
    # dropouts 4 is masked, and 15 (next smallest) as its complement; their rates go with them.
    assert out["dropouts"].isna().tolist() == [False, True, True]
    assert out["rate"].isna().tolist() == [False, True, True]
    assert out["ci_upper"].isna().tolist() == [False, True, True]
    assert out["clients"].tolist() == [120, 80, 60]
    assert out.loc[0, ["dropouts", "rate", "ci_lower"]].tolist() == [30, 0.25, 0.18]


def test_threshold_zero_or_one_disables_suppression():
    table = pd.DataFrame({"n": [1, 2, 50]})
    for threshold in (0, 1):
        out = suppress_small_cells(table, ["n"], suppress_below=threshold)
        assert out["n"].tolist() == [1, 2, 50] and not out["suppressed"].any()


def test_other_thresholds_move_the_boundary():
    out = suppress_small_cells(pd.DataFrame({"n": [4, 5, 6, 100]}), ["n"], suppress_below=5)
    assert out["n"].isna().tolist() == [True, True, False, False]  # 4 primary, 5 its complement


def test_non_default_and_repeated_index_labels_mask_only_the_small_rows():
    table = pd.DataFrame({"n": [50, 5, 120, 8]}, index=["x", "x", "y", "y"])
    out = suppress_small_cells(table, ["n"], suppress_below=11)
    assert out["n"].isna().tolist() == [False, True, False, True]
    assert out["suppressed"].tolist() == [False, True, False, True]


def test_missing_counts_stay_missing_and_are_not_complements():
    table = pd.DataFrame({"n": pd.array([6, pd.NA, 30, 90], dtype="Int64")})
    out = suppress_small_cells(table, ["n"], suppress_below=11)
    assert out["n"].isna().tolist() == [True, True, True, False]
    assert out["suppressed"].tolist() == [True, False, True, False]


def test_display_writes_less_than_threshold_in_masked_cells_only():
    table = pd.DataFrame({"site": ["A", "B", "C"], "clients": [40, 3, 25], "rate": [0.2, 0.5, np.nan]})
    out = suppress_small_cells(table, ["clients"], suppress_below=11, linked={"clients": ["rate"]})
    shown = display_suppressed(out, suppress_below=11)
    assert "suppressed" not in shown.columns
    assert shown["clients"].tolist() == ["40", "<11", "<11"]
    assert shown["rate"].tolist()[:2] == ["0.2", "<11"]
    assert shown["site"].tolist() == ["A", "B", "C"]
    assert display_suppressed(table).equals(table), "a table never suppressed is shown unchanged"
    named = display_suppressed(out, suppress_below=11, count_columns=["clients"])
    assert named["clients"].tolist() == ["40", "<11", "<11"]
    assert named["rate"].tolist()[:2] == ["0.2", "hidden"], "a masked rate is hidden, not 'below 11'"
