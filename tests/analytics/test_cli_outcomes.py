"""`python -m analytics report` with the unilateral_unimproved definition on hand-worked clients
with PHQ-9 and GAD-7 per session: the episodes it writes follow the outcome rules exactly."""

import json

from tests.analytics.test_cli import read
from tests.analytics.test_unilateral_unimproved import _clients, _sessions
from tests.command_line import run_cli


def test_report_writes_outcome_columns_and_events(tmp_path):
    _sessions().to_csv(tmp_path / "sessions.csv", index=False)
    _clients().to_csv(tmp_path / "clients.csv", index=False)
    config = tmp_path / "recipe.json"
    config.write_text(json.dumps({"dropout_definition": "unilateral_unimproved", "outcome_measure": "phq9",
                                  "suppress_below": 0}))
    done = run_cli("report", "--sessions", tmp_path / "sessions.csv", "--clients", tmp_path / "clients.csv",
                   "--config", config, "--out", tmp_path / "o", "--no-figures")
    assert done.returncode == 0, done.stderr
    episodes = read(tmp_path / "o" / "tables" / "episodes.csv").set_index("client_id")
    # the export date is the latest date in the data (2024-06-20): e's late cancel that day is ongoing
    assert episodes["ending"].to_dict() == {"a": "left_improved", "b": "left_unimproved", "c": "left_unimproved",
                                            "d": "completed", "e": "ongoing", "f": "other", "g": "left_unimproved"}
    assert episodes["event"].to_dict() == {"a": 2, "b": 1, "c": 1, "d": 2, "e": 0, "f": 0, "g": 1}
    assert episodes["phq9_change"].fillna(99).to_dict() == {"a": -6, "b": -5, "c": 99, "d": -9, "e": -8, "f": 99, "g": 99}
    assert episodes["phq9_reliable_improvement"].fillna(9).to_dict() == {"a": 1, "b": 0, "c": 9, "d": 1, "e": 1, "f": 9, "g": 9}
    assert episodes["nhs_reliable_improvement"].fillna(9).to_dict() == {"a": 1, "b": 1, "c": 9, "d": 0, "e": 1, "f": 9, "g": 9}
    assert episodes["nhs_recovery"].fillna(9).to_dict() == {"a": 0, "b": 0, "c": 9, "d": 0, "e": 1, "f": 9, "g": 9}
    assert json.loads((tmp_path / "o" / "recipe.json").read_text())["outcome_measure"] == "phq9"
    outcomes = read(tmp_path / "o" / "tables" / "outcomes.csv").set_index(["measure", "ending", "outcome"])
    left = outcomes.loc[("phq9", "left", "reliable_improvement")]
    assert (left["clients"], left["paired"], left["assessed"], left["reached"], left["share"]) == (4, 2, 2, 1, 0.5)
    assert outcomes.loc[("nhs", "completed", "reliable_improvement"), ["assessed", "reached"]].tolist() == [1, 0]
    methods = (tmp_path / "o" / "methods.md").read_text()
    assert "without two PHQ-9 scores who left counted as a dropout (no evidence of improvement; 2 such clients)" in methods
    assert "PHQ-9, 0-27, higher is worse, clinical range 10 or more, reliable change 6 points" in methods
    assert "NHS Talking Therapies paired rules applied" in methods


def test_a_registered_measure_through_the_command_line(tmp_path):
    _sessions().rename(columns={"phq9": "bdi2"}).to_csv(tmp_path / "sessions.csv", index=False)
    config = tmp_path / "recipe.json"
    config.write_text(json.dumps({
        "dropout_definition": "unilateral_unimproved", "outcome_measure": "bdi2",
        "outcome_measures": [{"name": "bdi2", "label": "BDI-II", "low": 0, "high": 63, "higher_is_better": False,
                              "cutoff": 14, "reliable_change": 6}]}))
    done = run_cli("report", "--sessions", tmp_path / "sessions.csv", "--config", config, "--out", tmp_path / "o",
                   "--no-figures")
    assert done.returncode == 0, done.stderr
    episodes = read(tmp_path / "o" / "tables" / "episodes.csv").set_index("client_id")
    assert episodes.loc["a", "ending"] == "left_improved" and episodes.loc["a", "event"] == 2
    assert episodes.loc["b", "bdi2_change"] == -5 and episodes.loc["b", "event"] == 1


def test_an_unknown_outcome_measure_is_a_one_line_error(tmp_path):
    _sessions().to_csv(tmp_path / "sessions.csv", index=False)
    config = tmp_path / "recipe.json"
    config.write_text(json.dumps({"dropout_definition": "unilateral_unimproved", "outcome_measure": "bdi2"}))
    done = run_cli("report", "--sessions", tmp_path / "sessions.csv", "--config", config, "--out", tmp_path / "o")
    assert done.returncode != 0
    assert "outcome_measure" in done.stderr and len(done.stderr.strip().splitlines()) == 1
