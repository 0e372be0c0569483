"""The Cox (8 covariates, clustered by therapist) and logistic fits inside an engine on 1M to 10M
episodes read from Parquet, beside the in-memory fits where they fit in memory.

    .venv/bin/python -m benchmarks.engine_models --sizes 1000000 10000000 --data /tmp/alliance_networks

The episodes are those of the drawn 1M-client network of benchmarks/engines.py (therapist-judged
dropout, derived in memory once); a larger table repeats them with therapist ids renamed per copy,
so the work is that of a network with as many therapists. Each fit runs in its own process; its
peak is the largest resident memory of that process tree (DuckDB runs inside it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from benchmarks.engines import COVARIATES, dataset, measured

BASE = 1_000_000


def episodes_dataset(root: Path, clients: int) -> str:
    """Episodes of `clients` clients as Parquet files (one per 1M); made once."""
    import glob

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    folder = root / f"episodes_{clients}"
    if not (folder / "done").exists():
        folder.mkdir(parents=True, exist_ok=True)
        first = root / f"episodes_{BASE}" / "part-0000.parquet"
        if not first.exists():
            from analytics.episodes import EpisodeSettings, derive_episodes
            from analytics.ingest.load import load_caseload

            files = {t: glob.glob(p)[0] for t, p in dataset(root, BASE).items()}
            episodes = derive_episodes(load_caseload(files).caseload, EpisodeSettings("therapist_judged"))
            first.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.Table.from_pandas(episodes[["duration", "event", "therapist_id", "site"] + COVARIATES],
                                                preserve_index=False), first)
        table = pq.read_table(first)
        for copy in range(clients // BASE):
            ids = pc.binary_join_element_wise(pa.scalar(f"R{copy:02d}-"), table["therapist_id"], "")
            pq.write_table(table.set_column(table.column_names.index("therapist_id"), "therapist_id", ids),
                           folder / f"part-{copy:04d}.parquet")
        (folder / "done").write_text("")
    return str(folder / "*.parquet")


def run(engine_name: str, source: str, scratch: str) -> dict:
    """Fit both models once (in a fresh process) and time them."""
    times = {}
    if engine_name == "pandas":
        import glob

        import pandas as pd

        from analytics.models.regression import fit_logistic
        from analytics.survival.cox import fit_cox

        episodes = pd.concat([pd.read_parquet(f) for f in sorted(glob.glob(source))], ignore_index=True)
        cox = lambda: fit_cox(episodes, COVARIATES)
        logistic = lambda: fit_logistic(episodes, COVARIATES)
    else:
        from analytics.engines import open_engine
        from analytics.engines.cox import fit_cox
        from analytics.engines.logistic import fit_logistic

        engine = open_engine(engine_name, **({"memory_limit": "5GB", "threads": 2, "temp_directory": scratch}
                                             if engine_name == "duckdb" else {}))
        engine.register("episodes", source)
        cox = lambda: fit_cox(engine, "episodes", COVARIATES)
        logistic = lambda: fit_logistic(engine, "episodes", COVARIATES)
    start = time.perf_counter()
    fit = cox()
    times["Cox, clustered by therapist"] = time.perf_counter() - start
    start = time.perf_counter()
    odds = logistic()
    times["logistic"] = time.perf_counter() - start
    return {"engine": engine_name, "episodes": fit.n_used + fit.n_left_out, "times": times, "iterations": fit.iterations,
            "cox": dict(zip(fit.table["term"], fit.table["coef"])), "or": dict(zip(odds.table["term"], odds.table["or"]))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--engines", nargs="+", default=["pandas", "duckdb"])
    parser.add_argument("--data", type=Path, default=Path("/tmp/alliance_networks"))
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run:
        print(json.dumps(run(args.run, args.source, str(args.data / "scratch"))))
        return 0
    lines = ["| episodes | engine | Cox, clustered by therapist | logistic | peak memory | Cox iterations |",
             "|---|---|---|---|---|---|"]
    for size in args.sizes:
        source = episodes_dataset(args.data, size)
        for name in args.engines:
            if name == "pandas" and size > BASE:
                continue  # the in-memory path is measured up to the drawn network
            out, peak = measured([sys.executable, "-m", "benchmarks.engine_models", "--run", name, "--data",
                                  str(args.data), "--source", source])
            if out.returncode != 0:
                print(out.stderr[-3000:], file=sys.stderr)
                return 1
            r = json.loads(out.stdout.strip().splitlines()[-1])
            lines.append(f"| {r['episodes']:,} | {name} | {r['times']['Cox, clustered by therapist']:.1f} s | "
                         f"{r['times']['logistic']:.1f} s | {peak / 2**30:.2f} GiB | {r['iterations']} |")
            print(lines[-1], json.dumps(r["cox"]), file=sys.stderr, flush=True)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
