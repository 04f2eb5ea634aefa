"""threadpoolctl sees and limits the pool; BLAS stays at one thread inside
parallel Python chunks."""

from __future__ import annotations

import numpy as np
import pytest
import threadpoolctl

import runtime
from runtime import _blas


def runtime_entries():
    return [lib for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "runtime"]


def test_threadpool_info_lists_the_pool(threads):
    entries = runtime_entries()
    assert len(entries) == 1
    assert entries[0]["num_threads"] == runtime.num_threads() == 2
    assert entries[0]["filepath"].endswith(runtime._core.__file__.rsplit("/", 1)[-1])


@pytest.mark.parametrize("threads", [3], indirect=True)
def test_threadpool_limits_limits_the_pool(threads):
    with threadpoolctl.threadpool_limits(limits=1, user_api="runtime"):
        assert runtime.num_threads() == 1
        assert runtime.map(np.sqrt, np.arange(10_000.0), grain=10).sum() > 0
    assert runtime.num_threads() == 3
    with threadpoolctl.threadpool_limits(limits=2):  # all libraries
        assert runtime.num_threads() == 2
    assert runtime.num_threads() == 3


def test_blas_is_single_threaded_inside_parallel_chunks(threads):
    outside = _blas.blas_threads()
    if not outside:
        pytest.skip("no BLAS library found by threadpoolctl")
    seen = []

    def body(start, stop):
        seen.append(_blas.blas_threads())
        a = np.ones((64, 64))
        return a @ a

    runtime.parallel_for(8, body, grain=1)
    assert seen and all(set(s.values()) == {1} for s in seen)
    assert _blas.blas_threads() == outside  # restored afterwards


def test_nested_and_concurrent_holds_restore_once(threads):
    outside = _blas.blas_threads()
    with _blas.single_threaded_blas():
        with _blas.single_threaded_blas():
            assert set(_blas.blas_threads().values()) <= {1}
        assert set(_blas.blas_threads().values()) <= {1}
    assert _blas.blas_threads() == outside
