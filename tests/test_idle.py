"""An idle pool parks: no CPU burned while nothing runs."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

import runtime
from runtime import _core


def wait_until_parked(timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        stats = _core.stats()
        if stats["sleeping"] == stats["workers"] or time.monotonic() > deadline:
            return stats
        time.sleep(0.005)


def test_workers_park_after_work(threads):
    runtime.set_num_threads(3)
    runtime.map(np.sin, np.zeros(1_000_000), grain=10_000)
    stats = wait_until_parked()
    assert stats["workers"] == 2
    assert stats["sleeping"] == 2
    assert stats["parks"] >= 2


def worker_cpu_seconds() -> float:
    """On-CPU time of the pool's threads (named runtime-worker), from Linux
    schedstat: other libraries' threads (OpenBLAS spins ~0.1 s after a BLAS
    call) must not count against the pool."""
    total = 0
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                if f.read().strip() != "runtime-worker":
                    continue
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            continue  # the thread ended while we looked
    return total / 1e9


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="needs Linux /proc")
def test_parked_pool_uses_no_cpu(threads):
    runtime.map(np.exp, np.zeros(1_000_000), grain=10_000)
    wait_until_parked()
    before = worker_cpu_seconds()
    time.sleep(0.5)
    # Parked workers are blocked in the kernel: no CPU at all (a little
    # allowed for a spurious wake-up).
    assert worker_cpu_seconds() - before < 0.002


def test_shutdown_and_restart(threads):
    runtime.map(np.exp, np.zeros(100_000), grain=1000)
    assert _core.started()
    assert runtime.shutdown() is True
    assert not _core.started() and _core.stats()["workers"] == 0
    assert runtime.map(np.exp, np.zeros(100_000), grain=1000).sum() == 100_000.0
    assert _core.started()
