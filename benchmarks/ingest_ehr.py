"""Scale run of the importer on an EHR-style appointment export (not a timed test).

    .venv/bin/python -m benchmarks.ingest_ehr                # 10M rows
    .venv/bin/python -m benchmarks.ingest_ehr --rows 1000000

The export uses EHR headers ("Client ID", "Clinician", "Date of Service", "Appointment Status",
"SRS Total"), US dates and status words, so the run includes suggesting the mapping, converting
every value and all checks. Written to benchmarks/results/ingest_ehr.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from analytics.ingest.load import load_caseload
from analytics.ingest.readers import read_table

RESULTS = Path(__file__).parent / "results"


def export(n_rows: int, path: Path, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    n_clients = max(n_rows // 10, 1)
    client = rng.integers(0, n_clients, n_rows)
    days = pd.to_datetime("2020-01-01") + pd.to_timedelta(rng.integers(0, 1800, n_rows), unit="D")
    pd.DataFrame({
        "Client ID": np.char.add("C", client.astype(str)),
        "Clinician": np.char.add("CL-", (client % 400).astype(str)),
        "Date of Service": days.strftime("%m/%d/%Y"),
        "Appointment Status": rng.choice(["Show", "Kept", "No Show", "Late Canceled", "Canceled", "Clinician Canceled"],
                                         n_rows, p=[0.6, 0.15, 0.1, 0.05, 0.05, 0.05]),
        "SRS Total": rng.integers(20, 41, n_rows),
    }).to_csv(path, index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "appointments.csv"
        export(args.rows, path)
        start = time.perf_counter()
        raw, _ = read_table(path)
        read = time.perf_counter() - start
        start = time.perf_counter()
        result = load_caseload({"sessions": raw}, export_date="2025-12-31")
        load = time.perf_counter() - start
    line = (f"| {args.rows:,} | {read:.1f} | {load:.1f} | {result.caseload.n_sessions:,} | "
            f"{len(result.problems)} |")
    table = ("| rows | read CSV (s) | map + validate + build (s) | sessions kept | problems |\n"
             "|---|---|---|---|---|\n" + line + "\n")
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ingest_ehr.md").write_text("Importer on an EHR-style CSV export (2 CPUs).\n\n" + table)


if __name__ == "__main__":
    main()
