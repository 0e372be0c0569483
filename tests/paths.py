"""Where the tests find the app, the sample data, their fixtures and R's reference outputs."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
SAMPLE_DIR = ROOT / "sample_data"
FIXTURES = ROOT / "tests" / "fixtures" / "ingest"
REFERENCE = ROOT / "tests" / "reference"
# a practice system's appointments and clients export, with problems to report
EHR = {"sessions": str(FIXTURES / "ehr_appointments.csv"), "clients": str(FIXTURES / "ehr_clients.csv")}
# clients and therapists one file lacks, clients without appointments, clients seen by two therapists
LINKS = {t: str(FIXTURES / "links" / f"{t}.csv") for t in ("sessions", "clients", "therapists")}
