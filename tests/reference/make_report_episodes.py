"""Write report_sample_episodes.csv: the episodes the report bundle analyses for the bundled
sample data under the default recipe (duration, event and the covariates of
tests/analytics/output/test_report_competing.py), for make_competing_reference.R to fit in R,
and table_one_episodes.csv (site and baseline characteristics) for make_table_one_reference.R.

Run once from the repository root: `python tests/reference/make_report_episodes.py`.
"""

from analytics.ingest.load import load_sample
from analytics.output.report import analysis_episodes
from analytics.recipe import Recipe
from tests.paths import REFERENCE

COLUMNS = ["client_id", "therapist_id", "duration", "event", "court_mandated", "age", "env_privacy"]
TABLE_ONE = ["site", "age", "court_mandated", "referral", "env_privacy", "srs_first"]

if __name__ == "__main__":
    episodes = analysis_episodes(load_sample(), Recipe())
    episodes[COLUMNS].to_csv(REFERENCE / "report_sample_episodes.csv", index=False)
    episodes[TABLE_ONE].to_csv(REFERENCE / "table_one_episodes.csv", index=False)
