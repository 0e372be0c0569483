"""Run many `python -m analytics` command lines in one process, each as a fresh process would.

The corpus has dozens of cases and a new Python process spends about 2 s importing pandas,
statsmodels and pyarrow before it reads a file; one process per case made the corpus the slowest
fixture of the suite. `main()` is what `python -m analytics` calls (it catches every exception
itself), so each case here gets its own stdout and stderr, its own exit code and the warnings a
new process would print (catch_warnings clears the once-per-place memory of shown warnings).

`python -m tests.corpus.run_cli RESULTS` reads a JSON list of argument lists on stdin and writes a
JSON list of {"returncode", "stdout", "stderr"} to the file RESULTS.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import warnings

from analytics.__main__ import main


def run(argv: list[str]) -> dict:
    out, err = io.StringIO(), io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return {"returncode": code, "stdout": out.getvalue(), "stderr": err.getvalue()}


if __name__ == "__main__":
    results = [run(argv) for argv in json.load(sys.stdin)]
    with open(sys.argv[1], "w", encoding="utf-8") as file:
        json.dump(results, file)
