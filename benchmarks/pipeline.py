"""Scale run of the whole pipeline: synthetic caseloads of 10k, 100k and 1M clients (~10 sessions
each), timed stage by stage from files to figures, with the peak memory of each size.

    .venv/bin/python -m benchmarks.pipeline                 # 10k, 100k, 1M
    .venv/bin/python -m benchmarks.pipeline --sizes 10000   # one size

Each size runs in its own process so its peak resident memory is its own. Results are printed as
a Markdown table and written to benchmarks/results/pipeline.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
COVARIATES = [
    "srs_first", "referral", "env_comfort", "env_privacy", "goals_agreed",
    "expectations_explained", "prior_negative_therapy", "therapist_trainee",
]


def make_files(n_clients: int, fmt: str, folder: Path) -> None:
    """Write a synthetic caseload as files (in its own process, so generation is not in the peak)."""
    from analytics.synth import generate_caseload

    synthetic = generate_caseload(n_clients=n_clients, n_therapists=max(30, n_clients // 100), n_sites=5, seed=7)
    for table in ("sessions", "clients", "therapists"):
        frame = getattr(synthetic, table)
        path = folder / f"{table}.{fmt}"
        frame.to_parquet(path, index=False) if fmt == "parquet" else frame.to_csv(path, index=False)


def run_size(folder: Path, fmt: str) -> dict:
    """Time every stage for one caseload on disk (called in a fresh process)."""
    import numpy as np

    from analytics.charts.cox import forest_figure
    from analytics.charts.survival import cif_figure, km_figure
    from analytics.episodes import EpisodeSettings, derive_episodes, filter_episodes
    from analytics.ingest import readers
    from analytics.ingest.load import load_caseload
    from analytics.models.regression import fit_gee, fit_logistic
    from analytics.survival.cox import fit_cox
    from analytics.survival.curves import cumulative_incidence, kaplan_meier, logrank

    paths = {table: folder / f"{table}.{fmt}" for table in ("sessions", "clients", "therapists")}
    times = {}

    def timed(stage, fn, *args, **kwargs):
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        times[stage] = time.perf_counter() - start
        return out

    timed("read", lambda: [readers.read_table(p) for p in paths.values()])
    result = timed("read, map and validate", load_caseload, {k: str(v) for k, v in paths.items()})
    caseload = result.caseload
    episodes = timed("derive episodes", derive_episodes, caseload, EpisodeSettings("therapist_judged"))
    km = timed("KM by site + log-rank", lambda: (kaplan_meier(episodes, "site"), logrank(episodes, "site")))[0]
    cif = timed("CIF (Aalen-Johansen)", cumulative_incidence, episodes)
    cox = timed("Cox, clustered by therapist", fit_cox, episodes, COVARIATES)
    timed("logistic", fit_logistic, episodes, COVARIATES)
    timed("GEE (exchangeable)", fit_gee, episodes, COVARIATES)
    timed("survival figures", lambda: (km_figure(km), cif_figure(cif), forest_figure(cox.table)))
    sites = sorted(episodes["site"].dropna().unique())[:2]

    def filter_change():
        chosen = filter_episodes(episodes, sites=sites)
        return km_figure(kaplan_meier(chosen, "site")), cif_figure(cumulative_incidence(chosen))

    timed("filter change (filter, KM, CIF, figures)", filter_change)
    files_to_figures = sum(
        times[s] for s in ("read, map and validate", "derive episodes", "KM by site + log-rank",
                           "CIF (Aalen-Johansen)", "Cox, clustered by therapist", "survival figures")
    )
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "clients": caseload.n_clients, "sessions": caseload.n_sessions, "format": fmt, "times": times,
        "files_to_survival_figures": files_to_figures, "peak_mib": peak_mib,
        "cox_events": int(cox.events), "km_points": int(np.asarray(len(km.table))),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--format", choices=["parquet", "csv"], default="csv")
    parser.add_argument("--make", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.make:
        make_files(args.make, args.format, args.folder)
        return 0
    if args.folder:
        print(json.dumps(run_size(args.folder, args.format)))
        return 0
    rows = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory(prefix="alliance_bench_") as folder:
            base = [sys.executable, "-m", "benchmarks.pipeline", "--format", args.format, "--folder", folder]
            for step in (base + ["--make", str(size)], base):
                out = subprocess.run(step, capture_output=True, text=True)
                if out.returncode != 0:
                    print(out.stderr[-3000:], file=sys.stderr)
                    return 1
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    table = _markdown(rows)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "pipeline.md").write_text(table + "\n")
    return 0


def _markdown(rows: list[dict]) -> str:
    stages = list(rows[0]["times"])
    head = "| stage | " + " | ".join(f"{r['clients']:,} clients / {r['sessions']:,} sessions" for r in rows) + " |"
    lines = [head, "|" + "---|" * (len(rows) + 1)]
    for stage in stages:
        lines.append(f"| {stage} | " + " | ".join(f"{r['times'][stage]:.2f} s" for r in rows) + " |")
    lines.append("| **files to every survival figure** | " + " | ".join(f"**{r['files_to_survival_figures']:.2f} s**" for r in rows) + " |")
    lines.append("| peak memory | " + " | ".join(f"{r['peak_mib'] / 1024:.2f} GiB" for r in rows) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
