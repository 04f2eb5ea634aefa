"""Outputs whose elements share memory.

NumPy writes such an output in its own order, and the last write to each
place stays; chunks finish in any order, so runtime.numpy must leave these
calls to NumPy whole.  The tests check both the value and that no chunk
ran (the split would differ only now and then: one call in six in the
report).
"""

from __future__ import annotations

import numpy
import pytest
from numpy.lib.stride_tricks import as_strided

import runtime.numpy as np
from runtime import _core, _schedule
from runtime.numpy import _elementwise, _reductions
from runtime.numpy._ufunc import set_small_call_gates

pytestmark = pytest.mark.usefixtures("threads")


@pytest.fixture(params=["default", "forced"])
def mode(request):
    """Default settings (sizes where runtime splits), or every call forced to split."""
    if request.param == "default":
        yield request.param
        return
    np._forget_learned_sizes()
    set_small_call_gates(False)
    try:
        with _schedule.forced_split(3):
            yield request.param
    finally:
        set_small_call_gates(True)
        np._forget_learned_sizes()


def size_for(mode: str) -> int:
    return 2_000_000 if mode == "default" else 3_000


def no_chunks(call):
    before = _core.stats()["leaves"]
    result = call()
    assert _core.stats()["leaves"] == before, "split a call whose output overlaps itself"
    return result


def test_distinct_elements():
    a = numpy.zeros((4, 5))
    assert _elementwise.distinct_elements(a) and _elementwise.distinct_elements(a.T[::-2])
    assert _elementwise.distinct_elements(numpy.zeros((1, 0, 3)))
    assert not _elementwise.distinct_elements(as_strided(a, (10,), (0,)))
    assert not _elementwise.distinct_elements(as_strided(a, (4, 5), (8, 8)))
    assert not _elementwise.distinct_elements(numpy.broadcast_to(a[0], (3, 5)))


def test_ufunc_into_one_place(mode):
    n = size_for(mode)
    x = numpy.random.default_rng(0).random(n)
    ours, theirs = numpy.zeros(1), numpy.zeros(1)
    numpy.multiply(x, x, out=as_strided(theirs, (n,), (0,)))
    no_chunks(lambda: np.multiply(x, x, out=as_strided(ours, (n,), (0,))))
    assert ours.tobytes() == theirs.tobytes()


def test_ufunc_into_overlapping_windows(mode):
    n = size_for(mode)
    x = numpy.linspace(0, 1, 2 * n)
    ours, theirs = numpy.zeros(n + 7), numpy.zeros(n + 7)
    # Element (i, j) of the output is at byte 8 * (i + j): rows overlap.
    numpy.add(x[:n].reshape(-1, 8)[:, :8], 1.0,
              out=as_strided(theirs, (n // 8, 8), (8, 8)))
    no_chunks(lambda: np.add(x[:n].reshape(-1, 8)[:, :8], 1.0,
                             out=as_strided(ours, (n // 8, 8), (8, 8))))
    assert ours.tobytes() == theirs.tobytes()


def test_copyto_into_one_place(mode):
    n = size_for(mode)
    x = numpy.arange(n, dtype=float)
    ours, theirs = numpy.zeros(1), numpy.zeros(1)
    numpy.copyto(as_strided(theirs, (n,), (0,)), x)
    no_chunks(lambda: np.copyto(as_strided(ours, (n,), (0,)), x))
    assert ours.tobytes() == theirs.tobytes()


def test_reduction_into_one_place(mode):
    rows = max(size_for(mode) // 64, 2 * _reductions.KEPT_MIN_ROWS)
    if mode == "default":
        rows = 2 * _reductions.MIN_PARALLEL_ELEMENTS // 64
    x = numpy.random.default_rng(1).random((rows, 64))
    ours, theirs = numpy.zeros(1), numpy.zeros(1)
    numpy.sum(x, axis=1, out=as_strided(theirs, (rows,), (0,)))
    no_chunks(lambda: np.sum(x, axis=1, out=as_strided(ours, (rows,), (0,))))
    assert ours.tobytes() == theirs.tobytes()


def test_matmul_into_overlapping_rows():
    a = numpy.random.default_rng(2).random((600, 600))
    ours, theirs = numpy.zeros(600 * 2 + 600), numpy.zeros(600 * 2 + 600)
    # Rows two elements apart: each row overlaps the next 598 elements.
    numpy.matmul(a, a, out=as_strided(theirs, (600, 600), (16, 8)))
    no_chunks(lambda: np.matmul(a, a, out=as_strided(ours, (600, 600), (16, 8))))
    assert ours.tobytes() == theirs.tobytes()
