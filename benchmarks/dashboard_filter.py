"""How long the dashboard takes to redraw after a filter change, measured through Streamlit's own
test driver (the whole page script: sidebar, cached episodes, analyses, figures) on a synthetic
caseload of 100,000 clients.

    .venv/bin/python -m benchmarks.dashboard_filter [--clients 100000] [--page pages/survival.py]

Prints the time of the first draw, of a filter change (one site), and of changing the filter
back (served from the session's cache).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest, app_test

from analytics.synth import generate_caseload
from ui import imports

APP = Path(__file__).resolve().parent.parent / "app.py"


class _NavigationPagesManager(PagesManager):
    """Run pages through app.py as a server does (see tests/conftest.py)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        PagesManager.uses_pages_directory = False


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--page", default="pages/survival.py")
    args = parser.parse_args(argv)
    app_test.PagesManager = _NavigationPagesManager
    synthetic = generate_caseload(n_clients=args.clients, n_therapists=max(30, args.clients // 100), n_sites=5, seed=7)
    folder = Path(tempfile.mkdtemp(prefix="alliance_filter_"))
    sources = {}
    for table in ("sessions", "clients", "therapists"):
        sources[table] = str(folder / f"{table}.parquet")
        getattr(synthetic, table).to_parquet(sources[table], index=False)
    del synthetic

    at = AppTest.from_file(str(APP), default_timeout=600)
    at.session_state[imports.PENDING] = imports.ImportRequest(sources)
    at.switch_page("pages/data.py").run()
    at.switch_page(args.page)
    start = time.perf_counter()
    at.run()
    first = time.perf_counter() - start
    sites = sorted(at.sidebar.multiselect(key="filter_sites").options)
    timings = {"first draw of the page": first}
    for label, chosen in (("filter change (one site)", sites[:1]), ("filter back (cached)", []),
                          ("same site again (cached)", sites[:1])):
        at.sidebar.multiselect(key="filter_sites").set_value(chosen)
        start = time.perf_counter()
        at.run()
        timings[label] = time.perf_counter() - start
        if at.exception:
            print(at.exception)
            return 1
    print(f"{args.clients:,} clients, {args.page}")
    for label, seconds in timings.items():
        print(f"  {label:<28} {seconds:6.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
