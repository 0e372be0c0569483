"""The display dictionary: what a director reads for a column, a level and a value."""

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.practice.display import column_label, director_table, level_label, number


def test_values_read_as_a_director_reads_them():
    assert number(0.227, percent=True) == "22.7%"
    assert number(6.94e-18) == "<0.001"
    assert number(1234.0) == "1,234" and number(np.int64(12)) == "12"
    assert number(3.14159) == "3.14" and number(123456.7) == "123,457"
    assert number(pd.Timestamp("2023-01-01")) == "2023-01-01"
    assert number(None) == number(np.nan) == number(pd.NaT) == "–"
    assert number(True) == "yes" and number("left_improved") == "left after improving"


def test_a_column_inside_a_sentence_keeps_its_acronym():
    from analytics.practice.display import sentence_label

    assert sentence_label("srs_first") == "first alliance rating (SRS)"
    assert sentence_label("env_noise") == "room quiet" and sentence_label("SRS_total") == "SRS total"


def test_model_notes_in_words_name_the_cluster_and_keep_longer_names():
    from analytics.practice.display import in_words

    notes = ["There are only 15 therapist_id clusters; standard errors clustered on so few groups can be too small.",
             "age_gap: 3 of 90 clients were left out (missing age)."]
    assert in_words(notes, {"age": "age"}) == [
        "There are only 15 therapists; standard errors clustered on so few groups can be too small.",
        "Age_gap: 3 of 90 clients were left out (missing age).",
    ]


def test_columns_levels_and_model_terms_in_words():
    assert column_label("ci_lower") == "95% CI from" and column_label("env_comfort") == "Room comfort"
    assert column_label("referral[court-mandated]") == "Referral: court-mandated"
    assert column_label("some_new_column") == "Some new column"
    assert level_label("both_not") == "both not" and level_label("within") == "within the limits"


def test_a_director_table_has_words_percentages_and_hidden_cells():
    table = pd.DataFrame({"factor": ["env_comfort", "env_noise"], "clients": [40.0, np.nan], "rate": [0.2, np.nan],
                          "ci_lower": [0.1, np.nan], "ci_upper": [0.3, np.nan], "suppressed": [False, True]})
    shown = director_table(table)
    assert list(shown.columns) == ["Factor", "Clients", "Dropout rate", "95% CI from", "95% CI to"]
    assert shown.iloc[0].tolist() == ["Room comfort", "40", "20.0%", "10.0%", "30.0%"]
    assert shown.iloc[1].tolist() == ["Room quiet", "hidden", "hidden", "hidden", "hidden"]
    means = director_table(pd.DataFrame({"mean": [31.25], "ci_lower": [30.5], "ci_upper": [32.0]}))
    assert means.iloc[0].tolist() == ["31.2", "30.5", "32"]  # an interval of a mean is not a percentage


def test_months_and_quarters_read_as_the_takeaways_name_them():
    """The intake trend's quarters (and the rolling rate's months) read as their sentences name them,
    not as the first day of the period."""
    from analytics.episodes import EpisodeSettings, derive_episodes
    from analytics.practice.overview import dropout_by_intake_month
    from tests.practice_data import small_caseload

    assert number(pd.Period("2024-04", "Q")) == "Q2 2024" and number(pd.Period("2025-05", "M")) == "May 2025"
    episodes = derive_episodes(small_caseload(), EpisodeSettings())
    quarters = dropout_by_intake_month(episodes, suppress_below=11)
    assert director_table(quarters.table)["Intake"].tolist() == ["Q1 2024", "Q2 2024"]
    assert "Q2 2024" in quarters.warnings[0]


def test_rate_rows_of_a_mixed_table_read_as_percentages():
    headline = pd.DataFrame({"figure": ["clients", "dropout rate", "median sessions attended"],
                             "value": [1500.0, 0.227, 6.0], "ci_lower": [np.nan, 0.204, 5.0],
                             "ci_upper": [np.nan, 0.251, 7.0], "note": ["episodes", "of ended", "ended"]})
    shown = director_table(headline)
    assert shown["Value"].tolist() == ["1,500", "22.7%", "6"]
    assert shown["95% CI from"].tolist() == ["–", "20.4%", "5"]


@settings(max_examples=200, deadline=None)
@given(
    floats=st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=False, width=64), st.sampled_from(
        [0.0, -0.0, 1.0, 2.5, 1e-4, -1e-9, 1e15, 123456.7, 0.0005])), min_size=1, max_size=40),
    seconds=st.lists(st.one_of(st.none(), st.integers(0, 3 * 10**8)), min_size=1, max_size=40),
    percent=st.booleans(),
    texts=st.lists(st.sampled_from(["left_improved", "left improved", "T01", "", None, np.nan]), min_size=1, max_size=40),
    mixed=st.lists(st.sampled_from([1, True, 1.0, "1", "yes", 0, False, None]), min_size=1, max_size=40),
)
def test_a_director_tables_numbers_dates_and_text_read_cell_by_cell(floats, seconds, percent, texts, mixed):
    """director_table writes each distinct number, date or text once; the text must be what `number`
    gives each cell (whole numbers, a minus zero, missing values, dates with and without a time, coded
    levels; in a column of mixed types 1 and True, equal to a hash, read "1" and "yes")."""
    n = min(len(floats), len(seconds), len(texts), len(mixed))
    table = pd.DataFrame({
        "rate" if percent else "value": floats[:n],
        "clients": np.arange(n, dtype=np.int64) % 3 * 1000,
        "date": pd.to_datetime([pd.NaT if s is None else pd.Timestamp("2020-01-01") + pd.Timedelta(seconds=s)
                                for s in seconds[:n]]),
        "ending": pd.Series(texts[:n], dtype=object),
        "answer": pd.Series(mixed[:n], dtype=object),
    })
    shown = director_table(table)
    for column, words in zip(table.columns, shown.columns):
        expected = [number(v, percent and column == "rate") for v in table[column].to_numpy(dtype=object)]
        assert shown[words].tolist() == expected
