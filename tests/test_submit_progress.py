"""Submitted work always has a thread that runs it, and soon: a burst wakes
enough workers, a resize never strands it, a thread waiting in a join does
not take it, and a pool thread waiting on a runtime Future never blocks
the work it waits for.  Every wait is bounded."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import runtime
from runtime import _core

WAIT_S = 30  # bound of every wait: a lost task fails the test, it never hangs it


@pytest.mark.parametrize("threads", [4], indirect=True)
def test_a_burst_of_submits_wakes_a_worker_per_task(threads):
    # Three tasks that can only finish together: with one wake-up per burst
    # (a woken worker counted as awake until it took its task) the other
    # two stayed queued behind it and the barrier broke.
    runtime.submit(lambda: None).result(timeout=WAIT_S)  # the workers exist...
    deadline = time.monotonic() + WAIT_S
    while _core.stats()["sleeping"] < threads - 1:  # ...and are parked
        assert time.monotonic() < deadline, _core.stats()
        time.sleep(0.001)
    barrier = threading.Barrier(threads - 1, timeout=WAIT_S)
    futures = [runtime.submit(barrier.wait) for _ in range(threads - 1)]
    assert sorted(f.result(timeout=WAIT_S) for f in futures) == list(range(threads - 1))


def test_work_submitted_before_a_resize_to_no_workers_still_runs(threads):
    for _ in range(50):
        future = runtime.submit(time.sleep, 0.001)
        runtime.set_num_threads(1)  # the only worker leaves...
        assert future.result(timeout=WAIT_S) is None  # ...but not before running it
        runtime.set_num_threads(2)


@pytest.mark.parametrize("threads", [2], indirect=True)
def test_a_thread_waiting_in_a_join_runs_no_submitted_work(threads):
    # A task submitted while both threads work on a map: the caller, which
    # keeps waiting on stolen halves, must leave it to the worker.  (It
    # took it, and the task waits for an event set after the map returns:
    # the map hung until the wait timed out.)
    for _ in range(3):
        release = threading.Event()
        started = threading.Event()
        ran_on: list[int] = []
        futures = []

        def submitted() -> bool:
            ran_on.append(_core.current_slot())
            return release.wait(WAIT_S)

        def submitter() -> None:
            started.wait(WAIT_S)
            time.sleep(0.05)  # mid-map
            futures.append(runtime.submit(submitted))

        def body(a):
            started.set()
            time.sleep(0.002)
            return np.sin(a)

        thread = threading.Thread(target=submitter)
        thread.start()
        runtime.map(body, np.ones(100_000), grain=1000)
        release.set()
        thread.join(WAIT_S)
        assert futures[0].result(timeout=WAIT_S) is True, "the task's wait timed out"
        assert 0 <= ran_on[0] < _core.MAX_THREADS - 1, ran_on  # a worker's slot


FUTURE_IN_POOL = textwrap.dedent("""
    import runtime
    runtime.set_num_threads(2)
    # Every pool thread waits on a future whose work is queued behind it.
    runtime.parallel_for(8, lambda s, e: runtime.submit(lambda: 1).result(), grain=1)

    def chain(depth):
        return 0 if depth == 0 else runtime.submit(chain, depth - 1).result() + 1

    out = []
    runtime.parallel_for(4, lambda s, e: out.append(chain(3)), grain=1)
    print(sorted(out))
""")


def test_pool_threads_waiting_on_runtime_futures_make_progress():
    result = subprocess.run([sys.executable, "-c", FUTURE_IN_POOL], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["[3,", "3,", "3,", "3]"]


def test_a_future_waited_outside_the_pool_is_run_by_the_pool(threads):
    # Only pool threads run the awaited work themselves; a plain thread waits.
    worker_slots = []
    future = runtime.submit(lambda: worker_slots.append(_core.current_slot()))
    future.result(timeout=WAIT_S)
    assert worker_slots and 0 <= worker_slots[0] < _core.MAX_THREADS - 1
