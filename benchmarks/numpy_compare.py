"""runtime.numpy against NumPy (and numexpr, numba when installed), side by
side in one process:

    python benchmarks/numpy_compare.py [--emulate-slow-core] [--no-competitors] [case ...]

For each case of runtime/_numpy_benchcases.py: the best time of NumPy,
runtime.numpy and each competitor, measured interleaved (best of N), and
the speedup over NumPy.  --emulate-slow-core adds matmul under the busy-cpu1
load of BENCHMARKS.md.  The numexpr / numba columns need the [bench] extra."""

from __future__ import annotations

import argparse
import time

import runtime
from runtime import _numpy_benchcases as cases
from runtime._benchcases import _timed


def best_of(functions: dict[str, object], data: object, repeats: int,
            pause: float) -> dict[str, float]:
    for fn in functions.values():  # warm up: caches, calibration, JIT, cost models
        fn(data)
        fn(data)
    best = {name: float("inf") for name in functions}
    for _ in range(repeats):
        for name, fn in functions.items():
            time.sleep(pause)
            best[name] = min(best[name], _timed(lambda: fn(data)))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help=f"any of {', '.join(cases.CASES)}")
    parser.add_argument("--emulate-slow-core", action="store_true")
    parser.add_argument("--no-competitors", action="store_true")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    print(f"runtime {runtime.__version__}, {runtime.num_threads()} threads; "
          f"speedup = NumPy time / time (interleaved, best of N)")
    print(f"{'case':12} {'NumPy':>10} {'runtime':>10} {'speedup':>8}  {'target':9} competitors")
    for name in args.cases or cases.CASES:
        case = cases.CASES[name]
        if case.data is None:
            case.data = case.setup()
        functions = {"numpy": case.baseline, "runtime": case.candidate}
        if not args.no_competitors:
            functions.update(cases.competitors(case))
        best = best_of(functions, case.data, args.repeats or case.repeats, case.pause)
        per_call = {k: v / case.calls for k, v in best.items()}
        others = "  ".join(f"{k} {best['numpy'] / v:.2f}x" for k, v in best.items()
                           if k not in ("numpy", "runtime"))
        print(f"{name:12} {_us(per_call['numpy'])} {_us(per_call['runtime'])} "
              f"{best['numpy'] / best['runtime']:7.2f}x  {case.target:9} {others}")
    if args.emulate_slow_core:
        r = cases.matmul_slow_core()
        print(f"matmul 2000 idle: NumPy {r['numpy_idle'] * 1e3:.0f} ms, runtime "
              f"{r['runtime_idle'] * 1e3:.0f} ms ({r['numpy_idle'] / r['runtime_idle']:.2f}x, "
              f"target >= 0.95x)")
        print(f"matmul 2000, busy process on cpu1: NumPy {r['numpy_slow_core'] * 1e3:.0f} ms, "
              f"runtime {r['runtime_slow_core'] * 1e3:.0f} ms "
              f"({r['numpy_slow_core'] / r['runtime_slow_core']:.2f}x, target >= 1.3x)")


def _us(seconds: float) -> str:
    return f"{seconds * 1e3:7.2f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:7.2f} us"


if __name__ == "__main__":
    main()
