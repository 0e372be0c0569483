"""Period comparison on an episode table built from known counts; p-values from R's prop.test
(tests/reference/periods_reference.R)."""

import numpy as np
import pandas as pd
import pytest

from analytics.practice.periods import period_comparison, rolling_rate
from tests.paths import ROOT

# (month the episodes ended, dropouts, completions)
ENDINGS = [("2023-04-10", 5, 25), ("2023-06-10", 15, 35), ("2024-02-10", 20, 80),
           ("2024-04-10", 12, 28), ("2024-05-10", 10, 50), ("2024-06-10", 30, 30)]


def episodes(endings=ENDINGS, ongoing_in_june=0):
    rows = [(date, event) for date, dropouts, completed in endings for event in [1] * dropouts + [2] * completed]
    rows += [("2024-06-20", 0)] * ongoing_in_june
    frame = pd.DataFrame(rows, columns=["last_scheduled", "event"])
    return frame.assign(last_scheduled=pd.to_datetime(frame["last_scheduled"]), client_id=range(len(frame)))


def test_periods_counts_and_p_values_match_r():
    result = period_comparison(episodes(), suppress_below=0)
    table = result.table.set_index(["kind", "role"])
    assert table.loc[("month", "this"), ["period", "known", "dropouts"]].tolist() == ["June 2024", 60, 30]
    assert table.loc[("month", "previous"), ["period", "known", "dropouts"]].tolist() == ["May 2024", 60, 10]
    assert table.loc[("month", "last year"), ["period", "known", "dropouts"]].tolist() == ["June 2023", 50, 15]
    assert table.loc[("quarter", "this"), ["period", "known", "dropouts"]].tolist() == ["Q2 2024", 160, 52]
    assert table.loc[("quarter", "previous"), ["period", "known", "dropouts"]].tolist() == ["Q1 2024", 100, 20]
    assert table.loc[("quarter", "last year"), ["period", "known", "dropouts"]].tolist() == ["Q2 2023", 80, 20]
    r = pd.read_csv(ROOT / "tests" / "reference" / "periods_prop_test.csv")["p"].tolist()
    p = [table.loc[k, "p"] for k in [("month", "previous"), ("month", "last year"), ("quarter", "previous"),
                                     ("quarter", "last year")]]
    assert p == pytest.approx(r, rel=1e-9)
    # rises beyond chance: all but Q2 2024 vs Q2 2023 (p = 0.23)
    assert [table.loc[k, "rise"] for k in [("month", "previous"), ("month", "last year"), ("quarter", "previous"),
                                           ("quarter", "last year")]] == [True, True, True, False]
    assert result.rises[0] == ("Dropout rose in June 2024 to 50.0% from 16.7% in May 2024, more than chance "
                               "would explain (two-proportion test, p < 0.001).")
    assert len(result.rises) == 3 and "Q2 2023" not in result.takeaway


def test_a_fall_is_not_flagged():
    endings = [(d, c, k) if d != "2024-06-10" else (d, 5, 55) for d, c, k in ENDINGS]
    result = period_comparison(episodes(endings))
    assert not result.table["rise"].any() and result.rises == []
    assert "no rise beyond chance" in result.takeaway


def test_suppression_hides_small_periods_and_their_flags():
    result = period_comparison(episodes(), suppress_below=11)
    assert bool(result.table.set_index(["kind", "role"]).loc[("month", "previous"), "rise"])
    assert all("May 2024" not in s for s in result.rises)  # its 10 dropouts may not be shown
    assert all("June 2023" not in s for s in result.rises)  # 15 dropouts, hidden so May's cannot be worked out
    shown = result.privacy.suppress(result.table, 11).set_index(["kind", "role"])
    assert np.isnan(shown.loc[("month", "previous"), "rate"]) and np.isnan(shown.loc[("month", "previous"), "p"])


def test_rolling_rate_and_target():
    e = episodes()
    rolling = rolling_rate(e["last_scheduled"], e["event"], target_rate=0.25).set_index("month")
    last = rolling.loc[pd.Period("2024-06", "M")]  # July 2023 to June 2024: everything after June 2023
    assert (last["known"], last["dropouts"]) == (260, 72) and last["target"] == 0.25
    assert rolling.index.min() == pd.Period("2024-03", "M")  # first month with 12 months of history
    result = period_comparison(e, target_rate=0.25)
    assert ("Over the 12 months to June 2024, 27.7% (95% CI 22.6% to 33.4%) of ended episodes were dropouts, "
            "not clearly different from the practice's target of 25.0%.") in result.takeaway


def test_the_rolling_rate_runs_to_the_latest_ending():
    """Episodes still open in July 2024, after the latest ending (June), end no window: the rate is
    quoted, and drawn, for the 12 months to June, as without them."""
    e = episodes()
    july = pd.DataFrame({"last_scheduled": pd.Timestamp("2024-07-05"), "event": 0, "client_id": range(1000, 1040)})
    with_open = period_comparison(pd.concat([e, july], ignore_index=True), target_rate=0.25)
    alone = period_comparison(e, target_rate=0.25)
    assert with_open.rolling["month"].max() == pd.Period("2024-06", "M")
    pd.testing.assert_frame_equal(with_open.rolling, alone.rolling)
    assert with_open.takeaway == alone.takeaway and "12 months to June 2024, 27.7%" in alone.takeaway


def test_open_episodes_make_the_period_provisional_and_no_history_is_refused():
    result = period_comparison(episodes(ongoing_in_june=200))
    assert any("June 2024 are still open" in w for w in result.warnings)
    with pytest.raises(ValueError, match="appointment history"):
        period_comparison(pd.DataFrame({"client_id": [1], "event": [1]}))
