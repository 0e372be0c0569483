"""Heavy work in a child process, so one session's large import does not stall the others.

Streamlit runs every session as a thread of one server process; a 4-million-row import there
holds the interpreter for tens of seconds and every other session's page waits. A child process
runs on another core and gives all its memory back when it exits. The child is a fresh
interpreter (`python -m ui.worker`), not a `multiprocessing` process: those re-run the parent's
`__main__`, which in a Streamlit server is the running app script. Requests and answers travel
pickled over two pipes. At most `MAX_WORKERS` children run at once, so a team importing
together cannot exhaust memory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Callable

MAX_WORKERS = max(1, (os.cpu_count() or 2) // 2)
POLL_S = 0.2
ROOT = Path(__file__).resolve().parent.parent

_slots = threading.BoundedSemaphore(MAX_WORKERS)


class WorkerFailed(RuntimeError):
    """The child process died without an answer (killed, or out of memory)."""


def run(fn: Callable, kwargs: dict, progress: Callable[[float, str], None]) -> Any:
    """`fn(**kwargs, progress=...)` in a child process; its progress reports reach `progress` here.

    `fn` must be importable by name (it is sent by reference). An exception in the child is
    raised here; while every worker is busy, `progress` hears that the call is waiting.
    """
    if not _slots.acquire(blocking=False):
        progress(0.0, "Waiting for another import on this server to finish")
        _slots.acquire()
    try:
        return _run(fn, kwargs, progress)
    finally:
        _slots.release()


def _run(fn: Callable, kwargs: dict, progress: Callable[[float, str], None]) -> Any:
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    child = subprocess.Popen([sys.executable, "-m", "ui.worker", str(to_child_r), str(from_child_w)],
                             pass_fds=(to_child_r, from_child_w), cwd=ROOT, env=env)
    os.close(to_child_r)
    os.close(from_child_w)
    requests, answers = Connection(to_child_w, readable=False), Connection(from_child_r, writable=False)
    try:
        requests.send((fn, kwargs))
        while True:
            if not answers.poll(POLL_S):
                if child.poll() is not None:
                    raise _died(child)
                continue
            try:
                kind, payload = answers.recv()
            except EOFError:
                child.wait(timeout=5)
                raise _died(child) from None
            if kind == "progress":
                progress(*payload)
            elif kind == "error":
                raise payload
            else:
                return payload
    finally:
        requests.close()
        answers.close()
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _died(child: subprocess.Popen) -> WorkerFailed:
    return WorkerFailed(f"The import stopped unexpectedly (exit code {child.returncode}); "
                        "the file may be too large for this server's memory.")


def _serve(read_fd: int, write_fd: int) -> None:
    requests, answers = Connection(read_fd, writable=False), Connection(write_fd, readable=False)
    fn, kwargs = requests.recv()
    try:
        result = fn(**kwargs, progress=lambda fraction, stage: answers.send(("progress", (fraction, stage))))
    except Exception as exc:  # noqa: BLE001 - handed to the parent, which raises it
        answers.send(("error", exc))
    else:
        answers.send(("result", result))
    answers.close()


if __name__ == "__main__":
    _serve(int(sys.argv[1]), int(sys.argv[2]))
