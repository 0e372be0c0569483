"""Where the tests find the app, the sample data, their fixtures and R's reference outputs."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
SAMPLE_DIR = ROOT / "sample_data"
FIXTURES = ROOT / "tests" / "fixtures" / "ingest"
REFERENCE = ROOT / "tests" / "reference"
