"""The acceptance figures of the core, side by side in one process:

    python benchmarks/compare.py [--emulate-slow-core] [--hot] [case ...]

Prints, for each case of runtime/_benchcases.py, the best baseline and
runtime times (interleaved; --hot: each side back to back) and their
ratio; then the CPU time of the 1e7
sin map against NumPy's, the CPU burned in the second after work stops,
and with --emulate-slow-core the busy-cpu1 scenario of docs/BENCHMARKING.md."""

from __future__ import annotations

import argparse

import runtime
from runtime import _benchcases as cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help=f"any of {', '.join(cases.CASES)}")
    parser.add_argument("--emulate-slow-core", action="store_true")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--hot", action="store_true",
                        help="each side's calls back to back instead of interleaved")
    args = parser.parse_args()
    print(f"runtime {runtime.__version__}, {runtime.num_threads()} threads")
    print(f"{'case':22} {'baseline':>12} {'runtime':>12} {'ratio':>8}  target")
    for name in args.cases or cases.CASES:
        case = cases.CASES[name]
        base, cand = cases.best_times(case, args.repeats, interleaved=not args.hot)
        if case.target.startswith("<="):
            shown = f"{cand * 1e6:7.2f} us"
        else:
            shown = f"{base / cand:7.2f}x"
        print(f"{name:22} {base * 1e3:9.3f} ms {cand * 1e3:9.3f} ms {shown:>8}  {case.target}")
    cases.shutdown_thread_pool()
    if not args.cases and not args.hot:
        rt_cpu, np_cpu = cases.cpu_time_ratio()
        print(f"CPU time of one sin map 1e7 (least of 9): runtime {rt_cpu * 1e3:.1f} ms, "
              f"NumPy {np_cpu * 1e3:.1f} ms, ratio {rt_cpu / np_cpu:.3f} (target <= 1.05)")
        burns = sorted(cases.idle_burn())
        print(f"CPU burned in the 1 s after work stops: median {burns[1] * 1e3:.2f} ms of "
              f"{', '.join(f'{b * 1e3:.2f}' for b in burns)} (target <= 1 ms)")
    if args.emulate_slow_core:
        r = cases.emulated_slow_core()
        print(f"emulated slow core, sin 1e7: cpu0 {r['cpu0'] * 1e3:.1f} ms, cpu1 "
              f"{r['cpu1'] * 1e3:.1f} ms, ideal {r['ideal'] * 1e3:.1f} ms, runtime "
              f"{r['runtime'] * 1e3:.1f} ms, time/ideal {r['ratio']:.3f} (target <= 1.05)")


if __name__ == "__main__":
    main()
