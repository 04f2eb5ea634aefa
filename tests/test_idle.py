"""An idle pool parks: no CPU burned while nothing runs."""

from __future__ import annotations

import time

import numpy as np

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


def test_parked_pool_uses_no_cpu(threads):
    runtime.map(np.exp, np.zeros(1_000_000), grain=10_000)
    wait_until_parked()
    t0 = time.process_time()
    time.sleep(0.5)
    # Parked threads burn nothing; allow for the interpreter's own noise.
    assert time.process_time() - t0 < 0.02


def test_shutdown_and_restart(threads):
    runtime.map(np.exp, np.zeros(100_000), grain=1000)
    assert _core.started()
    assert runtime.shutdown() is True
    assert not _core.started() and _core.stats()["workers"] == 0
    assert runtime.map(np.exp, np.zeros(100_000), grain=1000).sum() == 100_000.0
    assert _core.started()
