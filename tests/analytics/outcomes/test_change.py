"""The change rules on hand-worked clients: exact thresholds, ties, missing and single scores,
caseness, recovery, and the NHS Talking Therapies paired rules."""

import numpy as np
import pandas as pd
import pytest

from analytics.outcomes import MEASURES, Measure, change_columns, nhs_columns

NAN = np.nan


def _flags(frame, column):
    return [None if pd.isna(v) else int(v) for v in frame[column]]


def test_phq9_rules_at_and_around_the_thresholds():
    # first, last: 16->10 change -6 (exactly the reliable change 6: counts, and 10 is still caseness);
    # 16->11 (-5: not reliable); 15->9 (-6, below 10: reliable recovery); 9->15 (+6: reliable
    # deterioration, recovery undefined: not at caseness first); 10->9 (-1: recovered, not reliably);
    # 12 only (one score: only first and caseness known); none.
    frame = change_columns(MEASURES["phq9"], [16, 16, 15, 9, 10, 12, NAN], [10, 11, 9, 15, 9, NAN, NAN])
    assert _flags(frame, "phq9_change") == [-6, -5, -6, 6, -1, None, None]
    assert _flags(frame, "phq9_reliable_improvement") == [1, 0, 1, 0, 0, None, None]
    assert _flags(frame, "phq9_reliable_deterioration") == [0, 0, 0, 1, 0, None, None]
    assert _flags(frame, "phq9_caseness_first") == [1, 1, 1, 0, 1, 1, None]
    assert _flags(frame, "phq9_recovered") == [0, 0, 1, None, 1, None, None]
    assert _flags(frame, "phq9_reliable_recovery") == [0, 0, 1, None, 0, None, None]
    assert frame["phq9_first"].iloc[5] == 12 and pd.isna(frame["phq9_last"].iloc[5])


def test_gad7_reliable_change_is_four_and_caseness_eight():
    frame = change_columns(MEASURES["gad7"], [8, 8, 7, 12], [4, 5, 11, 8])
    assert _flags(frame, "gad7_reliable_improvement") == [1, 0, 0, 1]
    assert _flags(frame, "gad7_reliable_deterioration") == [0, 0, 1, 0]
    assert _flags(frame, "gad7_caseness_first") == [1, 1, 0, 1]
    assert _flags(frame, "gad7_recovered") == [1, 1, None, 0]  # 8 is caseness again
    assert _flags(frame, "gad7_reliable_recovery") == [1, 0, None, 0]


def test_ors_higher_is_better_with_decimal_scores():
    # 19.3 -> 24.3 is +5.0 in floating point (24.3 - 19.3 = 4.999...): reliable, still below 25;
    # 22 -> 25: +3, 25 is not the clinical range (recovered); 30 -> 25: -5 deterioration.
    frame = change_columns(MEASURES["ors"], [19.3, 22, 30], [24.3, 25, 25])
    assert _flags(frame, "ors_reliable_improvement") == [1, 0, 0]
    assert _flags(frame, "ors_reliable_deterioration") == [0, 0, 1]
    assert _flags(frame, "ors_caseness_first") == [1, 1, 0]
    assert _flags(frame, "ors_recovered") == [0, 1, None]


@pytest.mark.parametrize(("name", "first", "last", "improved", "recovered"), [
    ("oq45", 80, 66, 1, 0), ("oq45", 70, 57, 0, 1), ("oq45", 64, 50, 1, 1),
    ("core10", 17, 11, 1, 0), ("core10", 15, 10, 0, 1), ("core10", 11, 5, 1, 1),
])
def test_oq45_and_core10_thresholds(name, first, last, improved, recovered):
    frame = change_columns(MEASURES[name], [first], [last])
    assert frame[f"{name}_reliable_improvement"].iloc[0] == improved
    assert frame[f"{name}_recovered"].iloc[0] == recovered


def test_a_registered_measure_follows_the_same_rules():
    wemwbs = Measure("swemwbs", "SWEMWBS", 7, 35, True, 20, 3)
    frame = change_columns(wemwbs, [18, 18], [21, 20])
    assert _flags(frame, "swemwbs_reliable_improvement") == [1, 0]
    assert _flags(frame, "swemwbs_recovered") == [1, 1]


def test_a_measure_with_an_impossible_threshold_is_refused():
    with pytest.raises(ValueError, match="cutoff"):
        Measure("x", "X", 0, 10, False, 11, 2)
    with pytest.raises(ValueError, match="reliable change"):
        Measure("x", "X", 0, 10, False, 5, 0)


def _paired(phq_first, phq_last, gad_first, gad_last):
    return pd.concat([change_columns(MEASURES["phq9"], phq_first, phq_last),
                      change_columns(MEASURES["gad7"], gad_first, gad_last)], axis=1)


def test_nhs_paired_rules():
    # 0: PHQ-9 -6 and GAD-7 -3 -> reliable improvement; both below caseness at the end -> reliable recovery
    # 1: PHQ-9 -7 but GAD-7 +4 (improvement on one, deterioration on the other) -> neither
    # 2: PHQ-9 +6, GAD-7 0 -> reliable deterioration
    # 3: PHQ-9 -6 to 9 but GAD-7 stays at 8 -> reliable improvement, not recovered (caseness on GAD-7)
    # 4: not at caseness on either at first (9, 7) -> recovery undefined; -4 on GAD-7 -> improvement
    # 5: GAD-7 has one score only -> every paired rule undefined
    frame = _paired([15, 20, 12, 15, 9, 15], [9, 13, 18, 9, 8, 5], [9, 10, 12, 9, 7, 10], [6, 14, 12, 8, 3, NAN])
    nhs = nhs_columns(frame)
    assert _flags(nhs, "nhs_reliable_improvement") == [1, 0, 0, 1, 1, None]
    assert _flags(nhs, "nhs_reliable_deterioration") == [0, 0, 1, 0, 0, None]
    assert _flags(nhs, "nhs_recovery") == [1, 0, 0, 0, None, None]
    assert _flags(nhs, "nhs_reliable_recovery") == [1, 0, 0, 0, None, None]


def test_nhs_recovery_counts_caseness_on_either_measure():
    # PHQ-9 not at caseness at first (8) but GAD-7 is (10): at caseness on either -> recovery defined;
    # at the end PHQ-9 rises to 10 (caseness) -> not recovered although GAD-7 recovered.
    nhs = nhs_columns(_paired([8, 8], [10, 9], [10, 10], [5, 5]))
    assert _flags(nhs, "nhs_recovery") == [0, 1]
    assert _flags(nhs, "nhs_reliable_recovery") == [0, 1]
