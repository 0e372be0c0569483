"""Table 1 against base R on the sample's episodes (stored output of
tests/reference/make_table_one_reference.R; R is not called here)."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from analytics.models.table_one import COLUMNS, table_one
from tests.paths import REFERENCE

EPISODES = pd.read_csv(REFERENCE / "table_one_episodes.csv")
CHARACTERISTICS = ["age", "env_privacy", "srs_first", "court_mandated", "referral"]


@pytest.fixture(scope="module")
def result():
    return table_one(EPISODES, CHARACTERISTICS, "site")


def test_numbers_equal_r(result):
    ref = pd.read_csv(REFERENCE / "table_one_numbers.csv")
    ours = result.table.loc[result.table["mean"].notna()].reset_index(drop=True)
    assert list(result.table.columns) == COLUMNS
    assert ours[["variable", "group"]].values.tolist() == ref[["variable", "group"]].values.tolist()
    np.testing.assert_allclose(ours[["n", "mean", "sd", "median", "q1", "q3", "missing"]],
                               ref[["n", "mean", "sd", "median", "q1", "q3", "missing"]], rtol=0, atol=1e-9)


def test_levels_equal_r(result):
    ref = pd.read_csv(REFERENCE / "table_one_levels.csv")
    ours = result.table.loc[result.table["percent"].notna()].reset_index(drop=True)
    assert ours[["variable", "level", "group"]].values.tolist() == ref[["variable", "level", "group"]].values.tolist()
    np.testing.assert_allclose(ours[["n", "percent"]], ref[["n", "percent"]], rtol=0, atol=1e-9)


def test_standardized_mean_differences_equal_r(result):
    ref = pd.read_csv(REFERENCE / "table_one_smd.csv").set_index("variable").loc[CHARACTERISTICS]
    np.testing.assert_allclose(result.smd["smd"], ref["smd"], rtol=0, atol=1e-9)
    assert "env privacy" in result.takeaway and "age" not in result.takeaway


def test_display_reads_as_a_paper_table_and_hides_small_counts():
    small = table_one(EPISODES, ["court_mandated", "env_privacy"], "site", suppress_below=60)
    display = small.display.set_index("characteristic")
    assert list(small.display.columns) == ["characteristic", "overall", "Site A", "Site B", "Site C", "smd", "missing"]
    assert display.loc["  yes", "Site A"] == "<60"  # 50 clients: below the threshold
    assert display.loc["  yes", "Site B"] == "61 (9.7%)"  # 61 of 631
    assert display.loc["env_privacy, mean (SD)", "missing"] == "171"
    pa.Table.from_pandas(small.display)  # every column one type: the dashboard's grid reads it as it is


def test_without_a_group_there_is_one_column_and_no_smd():
    result = table_one(EPISODES, ["age"])
    assert result.smd.empty and list(result.display.columns) == ["characteristic", "overall", "smd", "missing"]


def test_unknown_column_is_named():
    with pytest.raises(ValueError, match="nonsense"):
        table_one(EPISODES, ["age", "nonsense"], "site")
