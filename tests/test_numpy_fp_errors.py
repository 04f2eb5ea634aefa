"""Warnings, floating-point errors and the class of results are NumPy's.

Each case runs through NumPy and through runtime.numpy at a size where
runtime splits (and, where that is possible, with every call forced to
split), under np.errstate's warn, raise and call modes: the same result
(bit for bit, NaN payloads aside), the same warnings in the same order,
the same exception with the same message.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy
import pytest

import runtime.numpy as np
from runtime import _schedule
from runtime.numpy._ufunc import set_small_call_gates

pytestmark = pytest.mark.usefixtures("threads")

N = 1_200_000  # above runtime.numpy's thresholds: reductions take 2**18-element leaves


def canonical(value: Any) -> Any:
    """Bits of a result, NaN payloads and signs made one (NumPy's own SIMD and
    scalar loops make NaNs of different signs), zero signs kept."""
    if isinstance(value, tuple):
        return tuple(canonical(v) for v in value)
    if value is None or isinstance(value, (str, bool)):
        return value
    a = numpy.asarray(value)
    if a.dtype.kind in "fc":
        a = a.copy()
        if a.dtype.kind == "c":
            a.real[numpy.isnan(a.real)] = numpy.nan
            a.imag[numpy.isnan(a.imag)] = numpy.nan
        else:
            a[numpy.isnan(a)] = numpy.nan
    return (type(value).__name__, a.dtype.str, a.shape, a.tobytes())


def outcome(call: Callable[[Any], Any], module: Any, mode: str) -> tuple:
    calls: list = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if mode == "call":
                with numpy.errstate(all="call", call=lambda kind, flag: calls.append(kind)):
                    result = canonical(call(module))
            else:
                with numpy.errstate(all=mode):
                    result = canonical(call(module))
        except Exception as error:  # noqa: BLE001 - compared
            result = (type(error).__name__, str(error))
    return result, [(w.category.__name__, str(w.message)) for w in caught], calls


def f32(value: float, n: int = N) -> numpy.ndarray:
    return numpy.full(n, value, numpy.float32)


def halves(first: float, second: float, n: int = N) -> numpy.ndarray:
    return numpy.concatenate([numpy.full(n // 2, first), numpy.full(n - n // 2, second)])


BIG = numpy.full((800, 800), 1e30, numpy.float32)
STRIDED = numpy.ones(2 * N, numpy.float32)[::2]
COMPLEX = numpy.full(N, 1 + 1j)
ROWS = numpy.arange(N, dtype=float).reshape(-1, 60)
MASK = numpy.ones(ROWS.shape, bool)
MASK[7] = False

CASES: dict[str, Callable[[Any], Any]] = {
    # item 3: once, and with NumPy's words
    "sum f32 overflow": lambda m: m.sum(f32(3e38)),
    "sum f32 overflow axis": lambda m: m.sum(f32(3e38).reshape(-1, 40), axis=0),
    "nansum f32 overflow": lambda m: m.nansum(f32(3e38)),
    "mean f32 overflow": lambda m: m.mean(f32(3e38)),
    "var f32 overflow": lambda m: m.var(f32(3e30)),
    "matmul f32 1e30": lambda m: m.matmul(BIG, BIG),
    "dot f32 1e30": lambda m: m.dot(BIG, BIG),
    "tensordot f32 1e30": lambda m: m.tensordot(BIG, BIG, 1),
    "inner f32 1e30": lambda m: m.inner(BIG, BIG),
    "strided add 1e300": lambda m: m.add(STRIDED, 1e300),
    "strided multiply 1e300 twice": lambda m: m.multiply(1e300, STRIDED) * 0,
    "clip strided lower": lambda m: m.clip(STRIDED, 1e300, None),
    "clip strided both": lambda m: m.clip(STRIDED, 1e300, 1e301),
    "clip strided upper": lambda m: m.clip(STRIDED, None, -1e300),
    "mean where all False": lambda m: m.mean(numpy.ones(N), where=numpy.zeros(N, bool)),
    "mean where one empty row": lambda m: m.mean(ROWS, axis=1, where=MASK),
    "var ddof too big": lambda m: m.var(ROWS, axis=1, ddof=60),
    "var where one empty row": lambda m: m.var(ROWS, axis=1, where=MASK),
    "nanmean all-NaN row": lambda m: m.nanmean(_all_nan_row(), axis=1),
    "nanvar all-NaN row": lambda m: m.nanvar(_all_nan_row(), axis=1),
    "nanstd all-NaN row": lambda m: m.nanstd(_all_nan_row(), axis=1),
    "nanmax all-NaN row": lambda m: m.nanmax(_all_nan_row(), axis=1),
    "nanmean all-NaN": lambda m: m.nanmean(numpy.full(N, numpy.nan)),
    "copyto complex unsafe": lambda m: (m.copyto(dst := numpy.empty(N), COMPLEX,
                                                 casting="unsafe"), dst)[1],
    "amin complex into uint16": lambda m: m.amin(COMPLEX.reshape(-1, 20), axis=1,
                                                 out=numpy.empty(N // 20, numpy.uint16)),
    "sum complex dtype float": lambda m: m.sum(COMPLEX, dtype=float),
    "ascontiguousarray complex to float": lambda m: m.ascontiguousarray(COMPLEX[::2], float),
    "divide by zero": lambda m: m.divide(numpy.ones(N), numpy.zeros(N)),
    "log of negative strided": lambda m: m.log(-numpy.ones(2 * N)[::2]),
    "integer divide by zero": lambda m: m.floor_divide(numpy.ones(N, int), 0),
    # item 4: the class of the result
    "prod underflow then overflow": lambda m: m.prod(numpy.concatenate(
        [numpy.full(300_000, 1e-10), numpy.full(300_001, 1e10)])),
    "sum +inf and -inf partials": lambda m: m.sum(halves(1e308, -1e308)),
    "sum overflowing partial": lambda m: m.sum(numpy.concatenate(
        [numpy.full(300_000, 1e304), numpy.full(300_000, -1e304), numpy.ones(300_000)])),
    "sum -0.0 initial -0.0": lambda m: m.sum(numpy.full(600_000, -0.0), initial=-0.0),
    "sum -0.0": lambda m: m.sum(numpy.full(600_000, -0.0)),
    "add.reduce -0.0 initial": lambda m: m.add.reduce(numpy.full(600_000, -0.0), initial=-0.0),
    "max of signed zeros": lambda m: m.max(halves(-0.0, 0.0)),
    "min of signed zeros": lambda m: m.min(halves(0.0, -0.0)),
    "nanmax of signed zeros": lambda m: m.nanmax(halves(-0.0, 0.0)),
    "mean of -0.0": lambda m: m.mean(numpy.full(N, -0.0)),
    "complex sum of zeros": lambda m: m.sum(numpy.full(N, complex(-0.0, 1.0))),
    "nanprod overflow": lambda m: m.nanprod(halves(1e-200, 1e200)),
    "float16 sum": lambda m: m.sum(numpy.concatenate([numpy.full(300_000, 10.0, numpy.float16),
                                                       numpy.full(300_000, -10.0,
                                                                  numpy.float16)])),
}


def _all_nan_row() -> numpy.ndarray:
    x = ROWS.copy()
    x[5] = numpy.nan
    return x


@pytest.mark.parametrize("mode", ["warn", "raise", "call"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_same_warnings_errors_and_results(name, mode):
    call = CASES[name]
    assert outcome(call, np, mode) == outcome(call, numpy, mode)


@pytest.fixture
def forced():
    np._forget_learned_sizes()
    set_small_call_gates(False)
    try:
        with _schedule.forced_split(5):
            yield
    finally:
        set_small_call_gates(True)
        np._forget_learned_sizes()


@pytest.mark.parametrize("mode", ["warn", "raise"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_same_under_forced_split(name, mode, forced):
    call = CASES[name]
    assert outcome(call, np, mode) == outcome(call, numpy, mode)


def test_warnings_point_at_the_caller():
    # As NumPy's ufuncs' warnings do (NumPy's Python functions' warnings
    # point into NumPy's own files; runtime's split versions at the caller).
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        np.add(STRIDED, 1e300)
        np.divide(numpy.ones(N), numpy.zeros(N))
        np.matmul(BIG, BIG)
        np.dot(BIG, BIG)
    assert [w.filename for w in caught] == [__file__] * 4


@pytest.mark.parametrize("call", [
    lambda m, a, mask: m.add(a, a, where=mask),
    lambda m, a, mask: m.divmod(a, 3.0, where=mask),
    lambda m, a, mask: m.add(a, a, where=mask, out=None),
    lambda m, a, mask: m.add(a, a, numpy.zeros_like(a), where=mask),
    lambda m, a, mask: m.exp(a, where=mask[::-1]),
])
def test_where_without_out_warns_as_numpy(call, forced):
    # NumPy 2.4's test_ufunc.py::TestUfunc::test_where_warns, at a size
    # runtime splits and under forced splitting.
    for a in (numpy.arange(7.0), numpy.arange(float(N))):
        mask = a % 2 == 0
        with warnings.catch_warnings(record=True) as theirs:
            warnings.simplefilter("always")
            call(numpy, a, mask)
        with warnings.catch_warnings(record=True) as ours:
            warnings.simplefilter("always")
            call(np, a, mask)
        assert [(w.category, str(w.message), w.filename) for w in ours] == \
            [(w.category, str(w.message), w.filename) for w in theirs]
