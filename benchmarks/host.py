"""How fast the host is at the time of a benchmark, printed beside its figures. The development
machine is a virtual machine whose speed differs from day to day (on 3 December 2026 the same
code took twice as long as on 2 December), so a figure is read against the host's speed that day
and code is compared only in runs interleaved on one host."""

from __future__ import annotations

import time

import numpy as np


def host_speed() -> dict[str, float]:
    """The interpreter's speed (a loop of ten million additions) and the cost of new memory
    (filling 1 GiB a process has not touched before), in seconds."""
    start = time.perf_counter()
    total = 0
    for step in range(10_000_000):
        total += step
    loop = time.perf_counter() - start
    start = time.perf_counter()
    filled = np.ones(1 << 27)
    touch = time.perf_counter() - start
    del filled
    return {"python_loop_s": loop, "new_memory_s": touch}


def host_line(speed: dict[str, float]) -> str:
    return (f"Host at the time: a loop of ten million additions in Python {speed['python_loop_s']:.2f} s, "
            f"1 GiB of new memory filled in {speed['new_memory_s']:.2f} s (`benchmarks/host.py`).")
