"""Shared fixtures.  Every test file runs alone and in any order: tests that
need a thread count set it with the `threads` fixture, which restores it."""

from __future__ import annotations

import os
import sys
import threading

import psutil
import pytest

import runtime


@pytest.fixture
def threads(request: pytest.FixtureRequest):
    """Run the test with N threads per job (parametrize indirectly, default 2)."""
    before = runtime.num_threads()
    n = getattr(request, "param", 2)
    runtime.set_num_threads(n)
    yield n
    runtime.set_num_threads(before)


def worker_threads() -> int:
    """OS threads named runtime-worker (Linux; 0 elsewhere)."""
    count = 0
    for tid in os.listdir("/proc/self/task") if os.path.isdir("/proc/self/task") else []:
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                count += f.read().strip() == "runtime-worker"
        except OSError:
            pass  # the thread ended while we looked
    return count


@pytest.fixture(scope="session", autouse=True)
def nothing_left_running():
    """The suite leaves no threads or processes behind: after the last test
    the pool shuts down and its workers are joined; no Python thread or
    child process is left."""
    yield
    _stop_dask_offload_thread()
    assert runtime.shutdown(), "a runtime call was still running at the end of the suite"
    assert worker_threads() == 0
    assert psutil.Process().children(recursive=True) == []
    assert threading.active_count() == 1, threading.enumerate()


def _stop_dask_offload_thread() -> None:
    """distributed starts one 'Dask-Offload' thread the first time it
    offloads work and keeps it for the life of the process (its clusters
    and clients stop everything else they start); shut it down so the
    check above sees only what the suite itself left."""
    utils = sys.modules.get("distributed.utils")
    if utils is not None:
        utils._offload_executor.shutdown(wait=True)
