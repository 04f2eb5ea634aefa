"""Transparent mode, side by side in one process: plain NumPy code
(operators, methods, ``np.exp``) with NumPy's own loops, and with them
patched (runtime.numpy.patch()), interleaved round by round.  Shared by
``python -m runtime bench`` (its transparent section) and
benchmarks/transparent.py.

A sum reads memory and does one add per element: two threads gain at most
what memory bandwidth allows them.  bandwidth_ratio() measures that bound
here (runtime's native sum kernel on one thread and on two), and the sum's
target is that ratio, not a fixed figure.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .. import _config, _core, _kernels
from .measure import Measurement, Meter, measure_interleaved

BIG = 10**7
SMALL = 10**3
# Calls of the small cases per timed block: a block lasts about a millisecond.
SMALL_CALLS = 1000


@dataclass(frozen=True)
class Case:
    name: str  # as the code reads: "a * b + c"
    size: int
    run: Callable[[Any], Any]  # one call, plain NumPy
    arrays: int  # input arrays of `size` float64
    target: str  # ">= 1.8x"; "bandwidth" for the measured memory-bandwidth ratio
    calls: int = 1  # calls per timed block


def _exp(d: Any) -> Any:
    return np.exp(d[0])


def _fma(d: Any) -> Any:
    return d[0] * d[1] + d[2]


def _sum(d: Any) -> Any:
    return d[0].sum()


def _max_axis0(d: Any) -> Any:
    return d[0].reshape(100, -1).max(axis=0)  # rows of 1e5: each loop call splits


def _loop(fn: Callable[[Any], Any], calls: int) -> Callable[[Any], Any]:
    if calls == 1:
        return fn

    def run(d: Any) -> None:
        for _ in range(calls):
            fn(d)
    return run


CASES = (
    Case("np.exp(x)", BIG, _exp, 1, ">= 1.8x"),
    Case("a * b + c", BIG, _fma, 3, ">= 1.3x"),
    Case("x.sum()", BIG, _sum, 1, "bandwidth"),
    Case("x.max(axis=0)", BIG, _max_axis0, 1, ""),
    Case("np.exp(x)", SMALL, _exp, 1, ">= 0.97x", SMALL_CALLS),
    Case("a * b + c", SMALL, _fma, 3, ">= 0.97x", SMALL_CALLS),
    Case("x.sum()", SMALL, _sum, 1, ">= 0.97x", SMALL_CALLS),
)


def data(case: Case) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(0)
    return tuple(rng.random(case.size) for _ in range(case.arrays))


def patches_in_force() -> int:
    """How many runtime.numpy.patch() calls are in force."""
    from ..numpy import _patch

    return _patch._count


def set_patches(count: int) -> None:
    """Patch or restore until `count` patches are in force."""
    from ..numpy import _patch

    while patches_in_force() > count:
        _patch.restore()
    while patches_in_force() < count:
        _patch.patch()


def set_patched(patched: bool) -> None:
    set_patches(1 if patched else 0)


def measure(case: Case, repeats: int, meter: Meter | None = None,
            pause: float = 0.0) -> dict[str, Measurement]:
    """{"NumPy": NumPy's loops, "runtime": patched} for the case, interleaved
    round by round; the patches in force before are in force after."""
    sides = {"NumPy": _loop(case.run, case.calls), "runtime": _loop(case.run, case.calls)}
    before = patches_in_force()
    try:
        return measure_interleaved(sides, data(case), repeats, pause, meter,
                                   prepare={"NumPy": lambda: set_patched(False),
                                            "runtime": lambda: set_patched(True)})
    finally:
        set_patches(before)


def same_results(case: Case) -> bool:
    """Whether the patched call gives NumPy's result: the same bits for
    elementwise calls, within 1e-12 relative for a sum (it adds in leaves)."""
    d = data(case)
    before = patches_in_force()
    try:
        set_patched(False)
        expected = case.run(d)
        set_patched(True)
        got = case.run(d)
    finally:
        set_patches(before)
    if case.run is _sum:
        return bool(np.isclose(got, expected, rtol=1e-12, atol=0.0))
    return bool(np.asarray(got).tobytes() == np.asarray(expected).tobytes())


def bandwidth_ratio(elements: int = BIG, repeats: int = 10) -> tuple[float, float, float]:
    """(one thread s, two threads s, ratio) of runtime's native sum kernel
    over `elements` float64 in two halves: how much a second thread can
    speed up a sum on this machine's memory."""
    _config.ensure_configured()
    x = np.random.default_rng(1).random(elements)
    parts = np.empty(2)
    context = _kernels.sum_context(x, parts)
    kernel, ctx = _kernels.kernel("sum"), ctypes.addressof(context)
    _core.parallel_for_native(kernel, ctx, 0, 2, 1, 1, 1)  # the pool started, pages touched
    one = two = float("inf")
    for _ in range(repeats):
        one = min(one, _timed(lambda: _core.call_native(kernel, ctx, 0, 2)))
        two = min(two, _timed(lambda: _core.parallel_for_native(kernel, ctx, 0, 2, 1, 1, 1)))
    return one, two, one / two


def _timed(fn: Callable[[], Any]) -> float:
    import time

    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def target_for(case: Case, bandwidth: float) -> str:
    """The case's target as target_met reads it (">= 1.23x")."""
    return f">= {bandwidth:.2f}x" if case.target == "bandwidth" else case.target
