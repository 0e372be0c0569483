"""A real server started as `make run` starts it (`python -m ui.serve`: warmed up on the sample,
then `streamlit run app.py`), for the real-browser test and the benchmarks: started on a free
port, ready once /_stcore/health answers, always ended; and the memory of it and of every process
below it (read from /proc: psutil is not a dependency)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 90
EXCEPTION = "[data-testid='stException']"


class ServerFailed(RuntimeError):
    """The server did not start; the message ends with its log."""


@contextmanager
def streamlit_server(log: Path, *options: str, env: dict[str, str] | None = None,
                     script: Path | None = None) -> Iterator[tuple[str, int]]:
    """Run the app with `options` (extra `--server.x value` pairs) and `env` added to the
    environment; yields (url, pid). The server's output goes to `log`. With `script`, that
    Streamlit script runs instead (`streamlit run`, no warm-up)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", *(("streamlit", "run", str(script)) if script else ("ui.serve",)), "--server.port", str(port), "--server.headless",
             "true", "--server.fileWatcherType", "none", *options],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    url = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise ServerFailed(f"streamlit did not start; {log}:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def imported_js(name: str) -> str:
    """The import of `name` is over: the sidebar shows it as the dataset, or the import failed,
    or the form arrived without files."""
    sidebar = "document.querySelector(\"[data-testid='stSidebar'] [data-testid='stMarkdown']\")"
    alerts = "[...document.querySelectorAll(\"[data-testid='stAlert']\")]"
    return (f"({sidebar}?.innerText || '').startsWith({json.dumps(name)})"
            f" || {alerts}.some(a => /could not be imported|No file was chosen/.test(a.innerText))"
            f" || !!document.querySelector({json.dumps(EXCEPTION)})")


def process_tree(pid: int) -> list[int]:
    """The process and all its living descendants."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo += [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                pass
    return pids


def rss_bytes(pid: int, descendants: bool = True) -> int:
    """Resident memory of the process and every process below it (`descendants=False`: the process
    alone, without the figure export's Chromium, which comes and goes on a timer of its own)."""
    total = 0
    for member in process_tree(pid) if descendants else [pid]:
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total
