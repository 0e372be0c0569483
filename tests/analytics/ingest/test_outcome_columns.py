"""Outcome measures on import: common headers map to the canonical columns, and scores off a
measure's range become missing with the row kept."""

import pandas as pd

from analytics.episodes import EpisodeSettings, derive_episodes
from analytics.ingest.load import load_caseload

HEADER = "Client ID,Date of Service,Appointment Status,PHQ-9 Total,GAD-7 Score,OQ-45.2,CORE-10,ORS Total\n"


def test_common_headers_map_to_the_outcome_columns_and_ranges_are_checked():
    rows = ("C1,2024-01-01,Show,28,12,181,15,19.5\n"
            "C1,2024-01-08,Show,9,22,70,41,24.5\n"
            "C1,2024-01-15,Show,10,6,56,9,30\n")
    result = load_caseload({"sessions": ("export.csv", (HEADER + rows).encode())}, export_date="2024-01-20")
    assert result.mapping.tables["sessions"].columns == {
        "client_id": "Client ID", "date": "Date of Service", "status": "Appointment Status", "phq9": "PHQ-9 Total",
        "gad7": "GAD-7 Score", "oq45": "OQ-45.2", "core10": "CORE-10", "ors": "ORS Total"}
    off = {p.column: p.rows for p in result.problems if "outside the scale" in p.message}
    assert off == {"PHQ-9 Total": [2], "GAD-7 Score": [3], "OQ-45.2": [2], "CORE-10": [3]}  # named as in the file
    s = result.caseload.sessions
    assert pd.isna(s["phq9"].iloc[0]) and s["phq9"].tolist()[1:] == [9, 10]
    # first scored PHQ-9 is now 9 (not at caseness): change +1; GAD-7 from 12 to 6 (first and last scored)
    e = derive_episodes(result.caseload, EpisodeSettings("unilateral")).iloc[0]
    assert (e["phq9_first"], e["phq9_last"], e["phq9_caseness_first"]) == (9, 10, 0)
    assert (e["gad7_change"], e["gad7_reliable_improvement"], e["gad7_recovered"]) == (-6, 1, 1)
    assert (e["ors_change"], e["ors_reliable_improvement"], e["ors_recovered"]) == (10.5, 1, 1)
    assert (e["oq45_change"], e["oq45_reliable_improvement"]) == (-14, 1)
