"""One definition of each benchmark kernel, shared by benchmarks/
(pytest-benchmark) and benchmarks/compare.py (ratios side by side).

A case pairs a baseline (NumPy on one core, or the serial call) with the
runtime version of the same work, on data its setup makes once.  Ratios
are measured interleaved in one process, best of several repetitions
(docs/BENCHMARKING.md: the machines are shared; absolute times drift)."""

from __future__ import annotations

import concurrent.futures
import ctypes
import operator
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

import runtime

from .. import _core
from .. import _kernels as kernels


@dataclass
class Case:
    name: str
    description: str
    setup: Callable[[], Any]
    baseline: Callable[[Any], Any]
    candidate: Callable[[Any], Any]
    target: str  # e.g. ">= 1.9x" or "<= 5 us"
    repeats: int = 7
    calls: int = 1  # calls of the operation per timed block (small cases loop)
    # Seconds to sleep before each timed block: OpenBLAS's threads spin ~0.1 s
    # after a call, and would slow whatever is timed next.
    pause: float = 0.0
    data: Any = field(default=None, repr=False)


def random_array(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random(n)


@runtime.parallel
def fused_multiply_add(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    return a * b + c


def _skewed_setup(n: int = 4000, scale: int = 20) -> tuple[np.ndarray, Any]:
    out = np.zeros(n)
    return out, kernels.skewed_context(out, scale)


_executor: concurrent.futures.ThreadPoolExecutor | None = None


def _thread_pool_fork_join(_: Any) -> None:
    global _executor
    if _executor is None:
        _executor = concurrent.futures.ThreadPoolExecutor(2)
    noop = int  # a trivial callable
    for f in [_executor.submit(noop), _executor.submit(noop)]:
        f.result()


def shutdown_thread_pool() -> None:
    global _executor
    if _executor is not None:
        _executor.shutdown()
        _executor = None


NOOP = kernels.kernel("noop")
SKEWED = kernels.kernel("skewed")
SUM = kernels.kernel("sum")


def _native_sum_setup(n: int = 10**7, leaves: int = 64) -> tuple[np.ndarray, np.ndarray, Any]:
    x = random_array(n)
    parts = np.zeros(leaves)
    return x, parts, kernels.sum_context(x, parts)

CASES: dict[str, Case] = {
    c.name: c
    for c in [
        Case("map_sin_1e7", "runtime.map(np.sin, x) vs np.sin(x), 1e7 float64",
             lambda: random_array(10**7), np.sin, lambda x: runtime.map(np.sin, x), ">= 1.9x", 5),
        Case("map_exp_1e6", "runtime.map(np.exp, x) vs np.exp(x), 1e6 float64",
             lambda: random_array(10**6), np.exp, lambda x: runtime.map(np.exp, x), ">= 1.7x", 31),
        Case("parallel_fma_1e7", "@runtime.parallel a*b+c vs NumPy a*b+c, 1e7 float64",
             lambda: tuple(random_array(10**7, s) for s in range(3)),
             lambda d: d[0] * d[1] + d[2], lambda d: fused_multiply_add(*d), ">= 2.0x", 9),
        Case("reduce_sum_1e7", "runtime.reduce(np.sum, x, combine=add) vs np.sum(x), 1e7",
             lambda: random_array(10**7), np.sum,
             lambda x: runtime.reduce(np.sum, x, combine=operator.add), ">= 1.7x", 15),
        Case("native_sum_1e7", "memory ceiling: a C sum of 1e7 float64 (64 leaves) on all "
             "threads vs one; what the memory system allows sum_1e7 at this moment",
             _native_sum_setup,
             lambda d: _core.call_native(SUM, ctypes.addressof(d[2]), 0, len(d[1])),
             lambda d: runtime.parallel_for(len(d[1]), SUM, d[2], grain=1), "(reference)", 15),
        Case("parallel_for_skewed", "parallel_for of a native kernel, index i costs ~i, "
             "vs one serial call of it",
             _skewed_setup,
             lambda d: _core.call_native(SKEWED, ctypes.addressof(d[1]), 0, len(d[0])),
             lambda d: runtime.parallel_for(len(d[0]), SKEWED, d[1]), ">= 1.85x", 5),
        Case("fork_join_tiny", "fork-join of 2 one-index native chunks (hot) vs "
             "ThreadPoolExecutor submit+result of 2 no-op tasks",
             lambda: None, _thread_pool_fork_join,
             lambda _: runtime.parallel_for(2, NOOP, grain=1), "<= 5 us", 2001),
    ]
}


def cpu_time_ratio(n: int = 10**7, repeats: int = 9) -> tuple[float, float]:
    """Process CPU seconds (all threads) of one runtime.map(np.sin, x) and
    of one np.sin(x): interleaved, the least of `repeats` calls each (noise,
    like another tenant's page-fault storm, only ever adds time)."""
    x = random_array(n)
    runtime.map(np.sin, x)
    np.sin(x)
    best_numpy = best_runtime = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        np.sin(x)
        t1 = time.process_time()
        runtime.map(np.sin, x)
        t2 = time.process_time()
        best_numpy = min(best_numpy, t1 - t0)
        best_runtime = min(best_runtime, t2 - t1)
    return best_runtime, best_numpy


def idle_burn(seconds: float = 1.0, times: int = 3) -> list[float]:
    """CPU seconds the process burns in the `seconds` after work stops,
    measured `times` times (a shared VM adds noise; report them all)."""
    x = random_array(10**6)
    burns = []
    for _ in range(times):
        for _ in range(20):
            runtime.map(np.exp, x)
        t0 = time.process_time()
        time.sleep(seconds)
        burns.append(time.process_time() - t0)
    return burns


BUSY_LOOP = "import os; os.sched_setaffinity(0, {1})\nwhile True: pass"


def emulated_slow_core(n: int = 10**7, repeats: int = 5) -> dict[str, float]:
    """The emulated slow core (docs/BENCHMARKING.md): a busy process pinned
    to cpu1 makes it a half-speed core.  Measures np.sin on cpu0 alone and
    on cpu1 alone, the ideal two-core time 1/(1/t0 + 1/t1), and
    runtime.map(np.sin, x) at the default level and at "interactive" (one
    thread per CPU, performance kind first: the topology must declare the
    kinds)."""
    if not hasattr(os, "sched_setaffinity") or os.sched_getaffinity(0) < {0, 1}:
        raise RuntimeError("the emulation needs Linux and CPUs 0 and 1")
    x = random_array(n)
    runtime.map(np.sin, x)  # start the pool before changing this thread's affinity
    load = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
    try:
        time.sleep(0.2)
        mask = os.sched_getaffinity(0)

        def serial_on(cpu: int) -> float:
            os.sched_setaffinity(0, {cpu})
            try:
                return min(_timed(lambda: np.sin(x)) for _ in range(repeats))
            finally:
                os.sched_setaffinity(0, mask)

        fast, slow = serial_on(0), serial_on(1)
        parallel = interactive = float("inf")
        for _ in range(repeats):  # interleaved: the machine drifts
            parallel = min(parallel, _timed(lambda: runtime.map(np.sin, x)))
            interactive = min(interactive,
                              _timed(lambda: runtime.map(np.sin, x, qos="interactive")))
    finally:
        load.kill()
        load.wait()
    ideal = 1.0 / (1.0 / fast + 1.0 / slow)
    return {"cpu0": fast, "cpu1": slow, "ideal": ideal, "runtime": parallel,
            "ratio": parallel / ideal, "interactive": interactive,
            "interactive_ratio": interactive / ideal}


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0
