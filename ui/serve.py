"""Start the dashboard with the work no visitor should wait for already done.

    python -m ui.serve [streamlit run options]      # what `make run` runs

Before the server listens it runs the app once, headless (Streamlit's AppTest, in this process),
on the bundled sample with the default settings: the heavy libraries are imported, the sample is
imported (`state._sample`, once per server) and the Overview's results and charts land in the
server's shared cache for the sample (`state.cached`), so the first visitor's Overview is drawn
from memory. Nothing of anyone's upload is involved: uploads stay in their own session.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app.py"
WARM_TIMEOUT_S = 300
_LOG = logging.getLogger(__name__)


def warm() -> float:
    """Run the app's default page once on the sample; returns the seconds it took."""
    from streamlit.testing.v1 import AppTest

    from ui import sessions

    start = time.perf_counter()
    run = AppTest.from_file(str(APP), default_timeout=WARM_TIMEOUT_S).run()
    if run.exception:
        _LOG.warning("Warm-up run failed (the first visitor will do the work): %s", run.exception[0].message)
    # The headless run has no server, so the sweeper did not start; let the server start it.
    sessions.start_sweeper.clear()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    seconds = warm()
    print(f"Alliance Lens: warmed up on the sample in {seconds:.1f} s; starting the server.", flush=True)
    from streamlit.web import cli

    return cli.main(["run", str(APP), *args], prog_name="streamlit", standalone_mode=False) or 0


if __name__ == "__main__":
    sys.exit(main())
