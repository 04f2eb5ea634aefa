"""runtime.numpy's benchmark cases, shared by benchmarks/compare.py
and benchmarks/test_numpy.py: each runs NumPy and runtime.numpy on the
same data (and numexpr / numba versions when they are installed).

Small cases repeat the call in a loop (`calls`), so a block is long enough
to time; the exp 1e5 case's loop is the "back-to-back calls" of the target.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any, Callable

import numpy

import runtime.numpy as rnp

from .cases import BUSY_LOOP, Case, random_array


def _loop(fn: Callable[..., Any], calls: int) -> Callable[[Any], None]:
    def run(data: Any) -> None:
        for _ in range(calls):
            fn(*data)
    return run


def ufunc_case(name: str, n: int, target: str, repeats: int, calls: int = 1,
                binary: bool = False) -> Case:
    def setup() -> tuple[numpy.ndarray, ...]:
        return (random_array(n), random_array(n, 1)) if binary else (random_array(n),)

    return Case(f"{name}_{n:.0e}".replace("+0", "").replace("+", ""),
                f"np.{name} on {n:.0e} float64" + (f", {calls} calls back to back"
                                                   if calls > 1 else ""),
                setup, _loop(getattr(numpy, name), calls), _loop(getattr(rnp, name), calls),
                target, repeats, calls)


def matrices(n: int = 2000) -> tuple[numpy.ndarray, numpy.ndarray]:
    rng = numpy.random.default_rng(0)
    return rng.random((n, n)), rng.random((n, n))


CASES: dict[str, Case] = {c.name: c for c in [
    ufunc_case("exp", 10**7, ">= 1.9x", 7),
    ufunc_case("exp", 10**6, ">= 1.7x", 21),
    ufunc_case("exp", 10**5, ">= 1.3x", 15, calls=100),
    ufunc_case("sin", 10**7, ">= 1.9x", 5),
    ufunc_case("add", 10**7, ">= 1.0x", 9, binary=True),
    Case("sum_1e7", "np.sum on 1e7 float64", lambda: (random_array(10**7),),
         _loop(numpy.sum, 1), _loop(rnp.sum, 1), ">= 1.7x", 15),
    Case("matmul_2000", "2000x2000 float64 matmul (OpenBLAS threads vs tiles)", matrices,
         _loop(numpy.matmul, 1), _loop(rnp.matmul, 1), ">= 0.95x", 5, pause=0.3),
] + [
    ufunc_case(name, 10**3, ">= 0.9x", 9, calls=2000, binary=binary)
    for name, binary in [("exp", False), ("add", True), ("sin", False), ("sqrt", False),
                         ("isnan", False), ("multiply", True)]
] + [
    Case("sum_1e3", "np.sum on 1e3 float64, 2000 calls back to back",
         lambda: (random_array(10**3),), _loop(numpy.sum, 2000), _loop(rnp.sum, 2000), ">= 0.9x", 9,
         2000),
]}


def competitors(case: Case) -> dict[str, Callable[[Any], Any]]:
    """numexpr and numba versions of a case, where installed and meaningful."""
    op = case.name.split("_")[0]
    found: dict[str, Callable[[Any], Any]] = {}
    expressions = {"exp": "exp(a)", "sin": "sin(a)", "add": "a + b", "sqrt": "sqrt(a)",
                   "multiply": "a * b", "sum": "sum(a)"}
    if op in expressions:
        try:
            import numexpr
        except ImportError:
            pass
        else:
            expression = expressions[op]
            calls = case.calls

            def with_numexpr(data: Any) -> None:
                names = dict(zip("ab", data))
                for _ in range(calls):
                    numexpr.evaluate(expression, local_dict=names)
            found["numexpr"] = with_numexpr
    numba_kernel = _numba_kernel(op)
    if numba_kernel is not None:
        calls = case.calls

        def with_numba(data: Any) -> None:
            for _ in range(calls):
                numba_kernel(*data)
        found["numba"] = with_numba
    return found


_numba_kernels: dict[str, Any] = {}


def _numba_kernel(op: str) -> Callable[..., Any] | None:
    """A numba prange version of op (compiled once), or None."""
    if op in _numba_kernels:
        return _numba_kernels[op]
    try:
        import numba
    except ImportError:
        return None
    bodies = {"exp": "numpy.exp(a[i])", "sin": "numpy.sin(a[i])", "sqrt": "numpy.sqrt(a[i])",
              "add": "a[i] + b[i]", "multiply": "a[i] * b[i]"}
    if op in bodies:
        args = "a, b" if op in ("add", "multiply") else "a"
        source = (f"def kernel({args}):\n    out = numpy.empty_like(a)\n"
                  f"    for i in numba.prange(a.size):\n        out[i] = {bodies[op]}\n"
                  f"    return out\n")
    elif op == "sum":
        source = ("def kernel(a):\n    total = 0.0\n    for i in numba.prange(a.size):\n"
                  "        total += a[i]\n    return total\n")
    else:
        return None
    namespace: dict[str, Any] = {"numpy": numpy, "numba": numba}
    exec(source, namespace)  # noqa: S102 - our own fixed source, compiled by numba
    kernel = numba.njit(parallel=True, cache=False)(namespace["kernel"])
    _numba_kernels[op] = kernel
    return kernel


def matmul_slow_core(n: int = 2000, repeats: int = 5) -> dict[str, float]:
    """matmul under the emulated slow core of docs/BENCHMARKING.md (a busy
    process pinned to cpu1): NumPy (OpenBLAS, its threads) and runtime.numpy
    (tiles on the pool), interleaved, best of `repeats`; and each idle
    first."""
    if not hasattr(os, "sched_setaffinity") or os.sched_getaffinity(0) < {0, 1}:
        raise RuntimeError("the emulation needs Linux and CPUs 0 and 1")
    a, b = matrices(n)
    rnp.matmul(a, b)
    numpy.matmul(a, b)
    result = _interleaved(lambda: numpy.matmul(a, b), lambda: rnp.matmul(a, b), repeats,
                          "idle")
    load = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
    try:
        time.sleep(0.2)
        result.update(_interleaved(lambda: numpy.matmul(a, b), lambda: rnp.matmul(a, b),
                                   repeats, "slow_core"))
    finally:
        load.kill()
        load.wait()
    return result


def _interleaved(numpy_call: Callable[[], Any], runtime_call: Callable[[], Any], repeats: int,
                 label: str, pause: float = 0.3) -> dict[str, float]:
    """Best times, the two interleaved, each after `pause` seconds of quiet
    (OpenBLAS's threads spin ~0.1 s after a call)."""
    best = {f"numpy_{label}": float("inf"), f"runtime_{label}": float("inf")}
    for _ in range(repeats):
        for name, fn in ((f"numpy_{label}", numpy_call), (f"runtime_{label}", runtime_call)):
            time.sleep(pause)
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best
