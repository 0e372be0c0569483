"""Files to every survival figure per engine (pandas in memory, DuckDB, Spark local mode), stage by
stage, with the peak memory of each run, on synthetic networks of 10k to 10M clients (about 12.4
appointments each) written as Parquet datasets chunk by chunk (analytics.synth.write_parquet_dataset;
beyond 1M clients the drawn practices repeat under new ids, see `dataset`).

    .venv/bin/python -m benchmarks.engines                                  # 10k, 100k, 1M; every engine
    .venv/bin/python -m benchmarks.engines --sizes 10000000 --engines duckdb
    .venv/bin/python -m benchmarks.engines --data /tmp/networks             # where the datasets are kept
    .venv/bin/python -m benchmarks.engines --sizes 1000000 --engines pandas duckdb --format csv
    .venv/bin/python -m benchmarks.engines --sizes 10000000 --engines duckdb --memory-limit 5GB

Stages: read, map and validate; derive episodes (therapist-judged); Kaplan-Meier by site with the
log-rank test; cumulative incidence (Aalen-Johansen); the Cox model with 8 covariates clustered by
therapist; the three figures. Every run is its own process; its peak memory is the largest total
resident memory of that process and its children (the Spark JVM is a child), sampled every 0.2 s.
The Cox coefficients of each engine are compared with the first engine's (pandas when it runs).
Results are printed as Markdown and written to benchmarks/results/engines.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from benchmarks.host import host_line, host_speed

RESULTS = Path(__file__).parent / "results"
COVARIATES = [
    "srs_first", "referral", "env_comfort", "env_privacy", "goals_agreed",
    "expectations_explained", "prior_negative_therapy", "therapist_trainee",
]
STAGES = ["read, map and validate", "derive episodes", "KM by site + log-rank", "CIF (Aalen-Johansen)",
          "Cox, clustered by therapist", "survival figures"]
CHUNK = 500_000  # clients per generated chunk: one chunk takes about 2 GiB while it is drawn
# DuckDB's limit: the target allows 8 GiB for the whole process; DuckDB's buffers stay within 7 GB
# (6.5 GiB) and Python and DuckDB's memory outside its buffer manager take about 0.5 GiB more. The
# lower the limit, the more the episodes spill to disk (5 GB: 5.2 GiB peak, slower; see docs/scale.md).
MEMORY_LIMIT = "7GB"
DISTINCT = 1_000_000  # clients drawn for real; a larger network repeats these practices (see `dataset`)


def dataset(root: Path, clients: int) -> dict[str, str]:
    """The network of `clients` under `root`, made once in a child process (its memory is in no
    run's peak); one Parquet file per table up to 1M clients, so pandas can read it too. Beyond
    DISTINCT clients the practices repeat: the first DISTINCT / CHUNK parts are drawn, part k is a
    copy of drawn part k mod (DISTINCT / CHUNK) under its own id prefix (drawing 10M clients takes
    tens of minutes of a shared 2-core machine; the engines do the same work on a copy as on a
    fresh draw, and the fitted coefficients are those of the drawn network)."""
    folder = root / f"network_{clients}"
    done = folder / "done"
    if done.exists():
        return _globs(folder)
    if clients <= DISTINCT:
        _draw(folder, clients, clients)
    else:
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        kinds = DISTINCT // CHUNK
        if not all((folder / "therapists" / f"part-{k:04d}.parquet").exists() for k in range(kinds)):
            _draw(folder, DISTINCT, CHUNK)
        for table in ("sessions", "clients", "therapists"):
            (folder / table).mkdir(parents=True, exist_ok=True)
            for part in range(kinds, clients // CHUNK):
                frame = pq.read_table(folder / table / f"part-{part % kinds:04d}.parquet")
                for name in ("client_id", "therapist_id"):
                    if name in frame.column_names:
                        renamed = pc.replace_substring_regex(frame[name], "^P[0-9]{4}-", f"P{part:04d}-")
                        frame = frame.set_column(frame.column_names.index(name), name, renamed)
                pq.write_table(frame, folder / table / f"part-{part:04d}.parquet")
    done.write_text("")
    return _globs(folder)


def _draw(folder: Path, clients: int, chunk: int) -> None:
    subprocess.run([sys.executable, "-m", "analytics.synth", "--out", str(folder), "--clients", str(clients),
                    "--sites", "5", "--seed", "7", "--parquet-chunk", str(chunk)], check=True, stdout=subprocess.DEVNULL)


def _globs(folder: Path) -> dict[str, str]:
    return {table: str(folder / table / "*.parquet") for table in ("sessions", "clients", "therapists")}


def as_csv(parquet: dict[str, str], folder: Path) -> dict[str, str]:
    """The same network as one CSV file per table, written once (dates as days, as a practice
    system exports them)."""
    import duckdb

    files = {table: folder / f"{table}.csv" for table in parquet}
    if not (folder / "done").exists():
        folder.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect()
        for table, pattern in parquet.items():
            types = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{pattern}')").fetchall()
            days = [name for name, kind, *_ in types if kind.startswith("TIMESTAMP")]
            replace = f" REPLACE ({', '.join(f'CAST({d} AS DATE) AS {d}' for d in days)})" if days else ""
            con.execute(f"COPY (SELECT *{replace} FROM read_parquet('{pattern}')) TO '{files[table]}' (HEADER)")
        (folder / "done").write_text("")
    return {table: str(path) for table, path in files.items()}


def run(engine_name: str, sources: dict[str, str], scratch: str, memory_limit: str) -> dict:
    """Every stage on one engine (called in a fresh process); timings, sizes and the Cox table."""
    from analytics.charts.cox import forest_figure
    from analytics.charts.survival import cif_figure, km_figure
    from analytics.episodes import EpisodeSettings
    from analytics.survival.curves import cumulative_incidence, kaplan_meier, logrank

    settings = EpisodeSettings("therapist_judged")
    times: dict[str, float] = {}

    def timed(stage, fn, *args, **kwargs):
        print(f"{engine_name}: {stage}", file=sys.stderr, flush=True)
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        times[stage] = time.perf_counter() - start
        return out

    if engine_name == "pandas":
        import glob

        from analytics.episodes import derive_episodes
        from analytics.ingest.load import load_caseload
        from analytics.survival.cox import fit_cox

        files = {table: glob.glob(pattern)[0] for table, pattern in sources.items()}
        caseload = timed(STAGES[0], load_caseload, files).caseload
        episodes = timed(STAGES[1], derive_episodes, caseload, settings)
        by_site = overall = episodes
        cox = lambda: fit_cox(episodes, COVARIATES)
        sizes = (caseload.n_clients, caseload.n_sessions)
    else:
        from analytics.engines import open_engine
        from analytics.engines.counts import survival_tally
        from analytics.engines.cox import fit_cox
        from analytics.engines.ingest import load_tables
        from analytics.engines.rules import CaseloadFacts, stored_episodes

        options = ({"memory_limit": memory_limit, "threads": 2, "temp_directory": scratch} if engine_name == "duckdb"
                   else {"config": {"spark.driver.memory": "6g", "spark.local.dir": scratch}})
        engine = open_engine(engine_name, **options)
        ingest = timed(STAGES[0], load_tables, engine, sources)

        def derive():
            facts = CaseloadFacts.read(engine, settings, ingest.export_date)
            return stored_episodes(engine, facts, settings)

        view = timed(STAGES[1], derive)
        by_site = timed("count by site, time and event", survival_tally, engine, view, "site")
        overall = timed("count by time and event", survival_tally, engine, view)
        cox = lambda: fit_cox(engine, view, COVARIATES)
        sizes = (int(engine.scalar("SELECT COUNT(*) FROM clients")), int(engine.scalar("SELECT COUNT(*) FROM sessions")))
    km = timed(STAGES[2], lambda: (kaplan_meier(by_site, "site"), logrank(by_site, "site")))[0]
    cif = timed(STAGES[3], cumulative_incidence, overall)
    fit = timed(STAGES[4], cox)
    timed(STAGES[5], lambda: (km_figure(km), cif_figure(cif), forest_figure(fit.table)))
    for counted, stage in (("count by site, time and event", STAGES[2]), ("count by time and event", STAGES[3])):
        times[stage] += times.pop(counted, 0.0)  # the engine's counting is part of the curve's stage
    return {"engine": engine_name, "clients": sizes[0], "sessions": sizes[1], "times": times,
            "total": sum(times[s] for s in STAGES), "events": fit.events,
            "cox": dict(zip(fit.table["term"], fit.table["coef"])), "robust_se": dict(zip(fit.table["term"], fit.table["robust_se"]))}


def _tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and all its descendants."""
    parents, rss = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/statm") as f:
                rss[int(entry)] = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue
    tree, frontier = {pid}, [pid]
    while frontier:
        children = [p for p, parent in parents.items() if parent in frontier and p not in tree]
        tree.update(children)
        frontier = children
    return sum(rss.get(p, 0) for p in tree)


def measured(command: list[str]) -> tuple[subprocess.CompletedProcess, int]:
    """Run `command`, sampling the resident memory of its process tree; the output and the peak."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]

    def sample():
        while process.poll() is None:
            peak[0] = max(peak[0], _tree_rss(process.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = process.communicate()
    sampler.join()
    return subprocess.CompletedProcess(command, process.returncode, out, err), peak[0]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--engines", nargs="+", default=["pandas", "duckdb", "spark"])
    parser.add_argument("--data", type=Path, default=Path("/tmp/alliance_networks"))
    parser.add_argument("--format", choices=["parquet", "csv"], default="parquet",
                        help="the files the engines read (csv: one file per table, up to 1M clients)")
    parser.add_argument("--memory-limit", default=MEMORY_LIMIT,
                        help=f"DuckDB's memory limit (default {MEMORY_LIMIT}; see MEMORY_LIMIT)")
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--sources", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run:
        print(json.dumps(run(args.run, json.loads(args.sources), str(args.data / "scratch"), args.memory_limit)))
        return 0
    speed = host_speed()
    rows = []
    for size in args.sizes:
        sources = dataset(args.data, size)
        if args.format == "csv":
            sources = as_csv(sources, args.data / f"network_{size}_csv")
        for name in args.engines:
            out, peak = measured([sys.executable, "-m", "benchmarks.engines", "--run", name, "--data", str(args.data),
                                  "--sources", json.dumps(sources), "--memory-limit", args.memory_limit])
            if out.returncode != 0:
                print(out.stderr[-3000:], file=sys.stderr)
                return 1
            row = json.loads(out.stdout.strip().splitlines()[-1]) | {
                "peak_bytes": peak, "format": args.format, "memory_limit": args.memory_limit}
            rows.append(row)
            print(f"{size:,} clients, {name}: {row['total']:.1f} s, peak {peak / 2**30:.2f} GiB", file=sys.stderr)
    table = markdown(rows) + "\n\n" + host_line(speed)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "engines.md").write_text(table + "\n")
    (RESULTS / "engines.json").write_text(json.dumps({"host": speed, "runs": rows}, indent=1) + "\n")
    return 0


def markdown(rows: list[dict]) -> str:
    head = "| clients / appointments | engine | " + " | ".join(STAGES) + " | files to every survival figure | peak memory | Cox coefficients vs first engine |"
    lines = [head, "|" + "---|" * (len(STAGES) + 5)]
    first: dict[int, dict] = {}
    for r in rows:
        base = first.setdefault(r["clients"], r)
        if base is r:
            same = "reference"
        elif set(r["cox"]) != set(base["cox"]):
            same = "different terms: " + ", ".join(sorted(set(r["cox"]) ^ set(base["cox"])))
        else:
            same = f"max rel. diff {max(abs(r['cox'][t] / base['cox'][t] - 1) for t in base['cox']):.1e}"
        engine = r["engine"] + (" from CSV" if r.get("format") == "csv" else "")
        lines.append(f"| {r['clients']:,} / {r['sessions']:,} | {engine} | "
                     + " | ".join(f"{r['times'][s]:.2f} s" for s in STAGES)
                     + f" | **{r['total']:.1f} s** | {r['peak_bytes'] / 2**30:.2f} GiB | {same} |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
