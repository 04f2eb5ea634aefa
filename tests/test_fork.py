"""After os.fork() the child has a pool of its own."""

from __future__ import annotations

import multiprocessing
import os
import sys

import numpy as np
import pytest

import runtime

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="no fork"),
    # Python 3.12+ warns about fork() in a process with threads; forking with
    # the pool's threads running is exactly what these tests check.
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]


def child_work(queue) -> None:
    x = np.arange(200_000.0)
    queue.put(bool(np.array_equal(runtime.map(np.sqrt, x, grain=1000), np.sqrt(x))))


def test_child_of_fork_can_use_runtime(threads):
    runtime.map(np.sqrt, np.arange(200_000.0), grain=1000)  # the parent's pool runs
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=child_work, args=(queue,))
    process.start()
    assert queue.get(timeout=60) is True
    process.join(60)
    assert process.exitcode == 0


def test_fork_from_inside_a_chunk(threads):
    results = []

    def body(start, stop):
        pid = os.fork()
        if pid == 0:  # child: forked from a worker or the caller, mid-job
            try:
                ok = runtime.map(np.exp, np.zeros(50_000), grain=500).sum() == 50_000.0
            finally:
                os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        results.append(os.waitstatus_to_exitcode(status))

    runtime.parallel_for(2, body, grain=1)
    assert results == [0, 0]
