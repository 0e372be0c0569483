"""`python -m analytics ...` for the tests, each run in a new process forked from one that has
already imported the library.

A new Python process spends about 2 s importing pandas, statsmodels and pyarrow before it reads
a file, and the command-line tests start dozens. A fork server (multiprocessing's "forkserver":
a process started once, holding nothing but the imports, never a thread of the test process)
forks a fresh process per run; the run writes to its own standard output and error files, runs
the exit handlers and exits with main()'s code, as `python -m analytics` does (`sys.exit(main())`).
A test that must see the real entry point uses `subprocess` itself
(test_cli.py::test_help_documents_the_report_command).
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import subprocess
import sys
import tempfile

from tests.paths import ROOT

TIMEOUT = 600
_FORKS = multiprocessing.get_context("forkserver")  # started at the first run, preloading these imports
_FORKS.set_forkserver_preload(["analytics.__main__", "analytics.ingest.load", "analytics.output.report",
                               "analytics.engines.ingest"])


def _run(args: list[str], cwd: str, out: str, err: str) -> None:
    """In the forked process: the working folder and the two output files, then the command."""
    from analytics.__main__ import main

    os.chdir(cwd)
    for fd, path in ((1, out), (2, err)):
        with open(path, "wb") as file:
            os.dup2(file.fileno(), fd)
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)
    sys.stderr = open(2, "w", encoding="utf-8", closefd=False)
    try:
        code = main(args)
    finally:
        # what the interpreter does at exit and a multiprocessing child skips: the figure renderer
        # closes its browser and removes the browser's temporary profile
        atexit._run_exitfuncs()
    sys.exit(code)


def run_cli(*args, cwd=ROOT) -> subprocess.CompletedProcess:
    """The command's exit code, standard output and standard error, as `subprocess.run` gives them."""
    args = [str(a) for a in args]
    with tempfile.TemporaryDirectory(prefix="alliance-cli-") as folder:
        out, err = os.path.join(folder, "out"), os.path.join(folder, "err")
        process = _FORKS.Process(target=_run, args=(args, str(cwd), out, err))
        process.start()
        process.join(TIMEOUT)
        if process.exitcode is None:
            process.kill()
            process.join()
            raise subprocess.TimeoutExpired(["python", "-m", "analytics", *args], TIMEOUT)
        with open(out, encoding="utf-8") as stdout, open(err, encoding="utf-8") as stderr:
            return subprocess.CompletedProcess(args, process.exitcode, stdout.read(), stderr.read())
