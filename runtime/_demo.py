"""python -m runtime demo: the main job on generated data.

Each step does the same work with NumPy alone (one core, or OpenBLAS's
own threads) and with runtime, checks the results agree, and reports wall
time, speedup and the CPU time the process used.  Best of a few runs;
absolute times drift on shared machines, ratios much less."""

from __future__ import annotations

import ctypes
import operator
import textwrap
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

import runtime
import runtime.numpy as rnp

from . import _config, _core, _info
from .bench.plan import size_label
from . import _kernels as kernels


WIDTH = 100  # columns of the printed text


@dataclass
class Step:
    name: str
    numpy: Callable[[], Any]
    runtime: Callable[[], Any]
    same: Callable[[Any, Any], bool]


def _measure(fn: Callable[[], Any], repeats: int) -> tuple[float, float, Any]:
    """Best wall time, CPU time of that run (all threads), and the result."""
    best = (float("inf"), 0.0, None)
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        result = fn()
        t1, c1 = time.perf_counter(), time.process_time()
        if t1 - t0 < best[0]:
            best = (t1 - t0, c1 - c0, result)
    return best


def _steps(n: int) -> list[Step]:
    size = size_label(n)  # 1e7, not 1e+07
    rng = np.random.default_rng(42)
    x = rng.random(n)
    a, b = rng.random(n), rng.random(n)
    norm = runtime.parallel(lambda a, b: np.sqrt(a * a + b * b))
    skew_n = 3000
    skew_out = np.zeros(skew_n)
    skew_ctx = kernels.skewed_context(skew_out, 20)
    skewed = kernels.kernel("skewed")
    items = [rng.random(100_000) for _ in range(64)]

    def skewed_serial() -> np.ndarray:
        _core.call_native(skewed, ctypes.addressof(skew_ctx), 0, skew_n)
        return skew_out.copy()

    def skewed_parallel() -> np.ndarray:
        runtime.parallel_for(skew_n, skewed, skew_ctx)
        return skew_out.copy()

    return [
        Step(f"sin(x), {size} elements", lambda: np.sin(x), lambda: runtime.map(np.sin, x),
             np.array_equal),
        Step(f"sqrt(a*a + b*b), {size}", lambda: np.sqrt(a * a + b * b), lambda: norm(a, b),
             np.array_equal),
        Step(f"sum(x), {size}", lambda: np.sum(x),
             lambda: runtime.reduce(np.sum, x, combine=operator.add),
             lambda p, q: bool(np.isclose(p, q, rtol=1e-12))),
        Step(f"runtime.numpy: exp(x) * 2, {size}", lambda: np.multiply(np.exp(x), 2.0),
             lambda: rnp.multiply(rnp.exp(x), 2.0), np.array_equal),
        Step(f"runtime.numpy: mean, var, {size}", lambda: (np.mean(x), np.var(x)),
             lambda: (rnp.mean(x), rnp.var(x)),
             lambda p, q: bool(np.allclose(p, q, rtol=1e-12, atol=0))),
        Step("native kernel, skewed cost, 3000", skewed_serial, skewed_parallel,
             np.array_equal),
        Step("sort 64 arrays of 1e5 (map_items)", lambda: [np.sort(v) for v in items],
             lambda: runtime.map_items(np.sort, items),
             lambda p, q: all(np.array_equal(u, v) for u, v in zip(p, q))),
    ]


def run_demo(n: int = 10_000_000, repeats: int = 3) -> int:
    threads = runtime.num_threads()
    print(f"runtime {runtime.__version__} demo: {threads} threads per job "
          f"(from {_config.thread_source()}), NumPy {np.__version__}")
    load = _info.load_note(threads)
    if load is not None:  # a busy machine lowers every ratio: say so before the figures
        print(textwrap.fill(f"Machine: {load}.", WIDTH))
    print(textwrap.fill("Each step: NumPy alone vs runtime on the same data; best of "
                        f"{repeats}; CPU = process CPU time of that run, all threads.", WIDTH)
          + "\n")
    header = (f"{'step':38} {'NumPy':>10} {'runtime':>10} {'speedup':>8} {'CPU NumPy':>10} "
              f"{'CPU runtime':>12}")
    print(header)
    print("-" * len(header))
    totals = [0.0, 0.0, 0.0, 0.0]
    all_same = True
    for step in _steps(n):
        # Warm up both: the first touch of fresh memory is slow on VMs, and
        # runtime's first call starts the pool and measures costs.
        step.numpy()
        step.runtime()
        t_np, cpu_np, r_np = _measure(step.numpy, repeats)
        t_rt, cpu_rt, r_rt = _measure(step.runtime, repeats)
        same = step.same(r_np, r_rt)
        all_same &= same
        for i, v in enumerate((t_np, t_rt, cpu_np, cpu_rt)):
            totals[i] += v
        print(f"{step.name:38} {t_np * 1e3:8.1f}ms {t_rt * 1e3:8.1f}ms {t_np / t_rt:7.2f}x "
              f"{cpu_np * 1e3:8.0f}ms {cpu_rt * 1e3:10.0f}ms" + ("" if same else "  MISMATCH"))
    print("-" * len(header))
    print(f"{'total':38} {totals[0] * 1e3:8.1f}ms {totals[1] * 1e3:8.1f}ms "
          f"{totals[0] / totals[1]:7.2f}x {totals[2] * 1e3:8.0f}ms {totals[3] * 1e3:10.0f}ms")
    print(f"\nresults {'match NumPy' if all_same else 'DO NOT match NumPy'}; "
          f"pool: {_info.plural(_core.stats()['workers'], 'worker thread')} + the calling "
          "thread")
    return 0 if all_same else 1
