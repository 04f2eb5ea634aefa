"""runtime.numpy against NumPy (and numexpr, numba when installed), side by
side in one process:

    python benchmarks/numpy_compare.py [--emulate-slow-core] [--no-competitors] [case ...]

For each case of runtime/_numpy_benchcases.py: the best time of NumPy and
runtime.numpy, measured interleaved (best of N), and the speedup; then each
competitor's speedup, measured interleaved with NumPy in a pass of its own.
--emulate-slow-core adds matmul under the busy-cpu1 load of docs/BENCHMARKING.md.
The numexpr / numba columns need the [bench] extra."""

from __future__ import annotations

import argparse

import runtime
from runtime import _numpy_benchcases as cases
from runtime._bench_measure import measure_interleaved


def best_of(functions, data, repeats: int, pause: float) -> dict[str, float]:
    """Best time of each function, interleaved, `pause` s of quiet before each."""
    measured = measure_interleaved(functions, data, repeats, pause)
    return {name: m.seconds for name, m in measured.items()}


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
        repeats = args.repeats or case.repeats
        best = best_of({"numpy": case.baseline, "runtime": case.candidate}, case.data,
                       repeats, case.pause)
        # Competitors in a pass of their own, each interleaved with NumPy:
        # their threads spin after a call (numba's ~10 ms) and would slow
        # runtime's next call (exp 1e5 fell from 1.6x to 0.9x behind numba).
        others = ""
        competitors = {} if args.no_competitors else cases.competitors(case)
        if competitors:
            theirs = best_of({"numpy": case.baseline, **competitors}, case.data, repeats,
                             case.pause)
            others = "  ".join(f"{k} {theirs['numpy'] / v:.2f}x" for k, v in theirs.items()
                               if k != "numpy")
        per_call = {k: v / case.calls for k, v in best.items()}
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
