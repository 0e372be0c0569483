"""The outcome charts draw a result's table and leave out what rests on small counts."""

import pandas as pd

from analytics.charts.practice import outcome_rates_figure, trajectory_figure


def _rates():
    rows = []
    for ending, n, count in (("completed", 40, 26), ("left", 20, 6)):
        for outcome in ("reliable_improvement", "recovery", "reliable_deterioration"):
            rows.append({"measure": "phq9", "ending": ending, "outcome": outcome, "assessed": n, "reached": count,
                         "share": count / n, "ci_lower": 0.1, "ci_upper": 0.9})
    return pd.DataFrame(rows)


def test_rates_chart_draws_each_outcome_by_ending_and_hides_small_counts():
    fig = outcome_rates_figure(_rates(), "phq9", suppress_below=0)
    assert [t.name for t in fig.data] == ["reliable improvement", "recovery", "reliable deterioration"]
    assert list(fig.data[0].y) == ["completed", "left (ended unilaterally)"]
    assert list(fig.data[0].x) == [0.65, 0.3]
    hidden = outcome_rates_figure(_rates(), "phq9", suppress_below=11)  # 6 improved of 20 who left
    assert list(hidden.data[0].y) == ["completed"]
    assert "not shown (privacy)" in hidden.layout.annotations[0].text


def test_trajectory_chart_names_the_endings():
    table = pd.DataFrame({"ending": ["completed", "completed", "left"], "session_number": [1, 2, 1],
                          "clients": [30, 25, 12], "mean": [16.0, 10.0, 17.0], "sd": [3.0, 4.0, 3.0],
                          "ci_lower": [15.0, 9.0, 15.0], "ci_upper": [17.0, 11.0, 19.0]})
    fig = trajectory_figure(table, "phq9", 0, 10, group="ending", label="PHQ-9", names={"left": "left early"})
    assert [t.name for t in fig.data if t.showlegend is not False] == ["completed", "left early"]
    assert fig.layout.yaxis.title.text == "Mean PHQ-9"
