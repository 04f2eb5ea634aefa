"""runtime against its baselines, side by side in one process: the ratios
the README quotes.

    python benchmarks/compare.py [--suite core|numpy|all] [--emulate-slow-core] [--hot]
                                 [--no-competitors] [--repeats N] [case ...]

core (runtime.bench.cases): each case's best baseline and runtime times
(interleaved; --hot: each side back to back) and their ratio; then the CPU
time of the 1e7 sin map against NumPy's and the CPU burned in the second
after work stops; --emulate-slow-core adds the busy-cpu1 scenario of
docs/BENCHMARKING.md.

numpy (runtime.bench.numpy_cases): NumPy against runtime.numpy, interleaved,
and each competitor (numexpr, numba: the [bench] extra) interleaved with
NumPy in a pass of its own; --emulate-slow-core adds matmul under the load.

Both measure with runtime.bench.measure, as python -m runtime bench does."""

from __future__ import annotations

import argparse
from typing import Any, Callable

import runtime
from runtime.bench import cases, numpy_cases
from runtime.bench.measure import measure_interleaved

SUITES = {"core": cases.CASES, "numpy": numpy_cases.CASES}


def best_of(functions: dict[str, Callable[[Any], Any]], data: Any, repeats: int,
            pause: float = 0.0, hot: bool = False) -> dict[str, float]:
    """Best time of each function: interleaved, or (hot) each one's calls
    back to back, so its workers stay awake between calls."""
    if hot:
        return {name: measure_interleaved({name: fn}, data, repeats, pause)[name].seconds
                for name, fn in functions.items()}
    return {name: m.seconds
            for name, m in measure_interleaved(functions, data, repeats, pause).items()}


def core(names: list[str], repeats: int | None, hot: bool, emulate_slow_core: bool) -> None:
    print(f"{'case':22} {'baseline':>12} {'runtime':>12} {'ratio':>8}  target")
    for name in names:
        case = cases.CASES[name]
        if case.data is None:
            case.data = case.setup()
        best = best_of({"baseline": case.baseline, "runtime": case.candidate}, case.data,
                       repeats or case.repeats, case.pause, hot)
        base, cand = best["baseline"], best["runtime"]
        shown = f"{cand * 1e6:7.2f} us" if case.target.startswith("<=") else f"{base / cand:7.2f}x"
        print(f"{name:22} {base * 1e3:9.3f} ms {cand * 1e3:9.3f} ms {shown:>8}  {case.target}")
    cases.shutdown_thread_pool()
    if names == list(cases.CASES) and not hot:
        rt_cpu, np_cpu = cases.cpu_time_ratio()
        print(f"CPU time of one sin map 1e7 (least of 9): runtime {rt_cpu * 1e3:.1f} ms, "
              f"NumPy {np_cpu * 1e3:.1f} ms, ratio {rt_cpu / np_cpu:.3f} (target <= 1.05)")
        burns = sorted(cases.idle_burn())
        print(f"CPU burned in the 1 s after work stops: median {burns[1] * 1e3:.2f} ms of "
              f"{', '.join(f'{b * 1e3:.2f}' for b in burns)} (target <= 1 ms)")
    if emulate_slow_core:
        r = cases.emulated_slow_core()
        print(f"emulated slow core, sin 1e7: cpu0 {r['cpu0'] * 1e3:.1f} ms, cpu1 "
              f"{r['cpu1'] * 1e3:.1f} ms, ideal {r['ideal'] * 1e3:.1f} ms, runtime "
              f"{r['runtime'] * 1e3:.1f} ms, time/ideal {r['ratio']:.3f} (target <= 1.05)")


def numpy(names: list[str], repeats: int | None, competitors: bool,
          emulate_slow_core: bool) -> None:
    print(f"{'case':12} {'NumPy':>10} {'runtime':>10} {'speedup':>8}  {'target':9} competitors")
    for name in names:
        case = numpy_cases.CASES[name]
        if case.data is None:
            case.data = case.setup()
        rounds = repeats or case.repeats
        best = best_of({"numpy": case.baseline, "runtime": case.candidate}, case.data, rounds,
                       case.pause)
        # Competitors in a pass of their own, each interleaved with NumPy:
        # their threads spin after a call (numba's ~10 ms) and would slow
        # runtime's next call (exp 1e5 fell from 1.6x to 0.9x behind numba).
        others = ""
        theirs_functions = numpy_cases.competitors(case) if competitors else {}
        if theirs_functions:
            theirs = best_of({"numpy": case.baseline, **theirs_functions}, case.data, rounds,
                             case.pause)
            others = "  ".join(f"{k} {theirs['numpy'] / v:.2f}x" for k, v in theirs.items()
                               if k != "numpy")
        per_call = {k: v / case.calls for k, v in best.items()}
        print(f"{name:12} {_time(per_call['numpy'])} {_time(per_call['runtime'])} "
              f"{best['numpy'] / best['runtime']:7.2f}x  {case.target:9} {others}")
    if emulate_slow_core:
        r = numpy_cases.matmul_slow_core()
        print(f"matmul 2000 idle: NumPy {r['numpy_idle'] * 1e3:.0f} ms, runtime "
              f"{r['runtime_idle'] * 1e3:.0f} ms ({r['numpy_idle'] / r['runtime_idle']:.2f}x, "
              f"target >= 0.95x)")
        print(f"matmul 2000, busy process on cpu1: NumPy {r['numpy_slow_core'] * 1e3:.0f} ms, "
              f"runtime {r['runtime_slow_core'] * 1e3:.0f} ms "
              f"({r['numpy_slow_core'] / r['runtime_slow_core']:.2f}x, target >= 1.3x)")


def _time(seconds: float) -> str:
    return f"{seconds * 1e3:7.2f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:7.2f} us"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*",
                        help="cases to run (default: all of the suite): "
                             + "; ".join(f"{suite}: {', '.join(found)}"
                                         for suite, found in SUITES.items()))
    parser.add_argument("--suite", choices=[*SUITES, "all"], default="all",
                        help="core: runtime's entry points; numpy: runtime.numpy (default: all)")
    parser.add_argument("--emulate-slow-core", action="store_true",
                        help="add the busy-cpu1 scenario (Linux, CPUs 0 and 1)")
    parser.add_argument("--hot", action="store_true",
                        help="core suite: each side's calls back to back instead of interleaved")
    parser.add_argument("--no-competitors", action="store_true",
                        help="numpy suite: leave out numexpr and numba")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed rounds per case (default: each case's own)")
    args = parser.parse_args()
    chosen = list(SUITES) if args.suite == "all" else [args.suite]
    unknown = [n for n in args.cases if not any(n in SUITES[s] for s in chosen)]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)} in suite {args.suite}")
    print(f"runtime {runtime.__version__}, {runtime.num_threads()} threads; ratios over the "
          f"baseline, best of N rounds")
    if "core" in chosen:
        names = [n for n in args.cases if n in cases.CASES] or (
            [] if args.cases else list(cases.CASES))
        if names:
            core(names, args.repeats, args.hot, args.emulate_slow_core)
    if "numpy" in chosen:
        names = [n for n in args.cases if n in numpy_cases.CASES] or (
            [] if args.cases else list(numpy_cases.CASES))
        if names:
            numpy(names, args.repeats, not args.no_competitors, args.emulate_slow_core)


if __name__ == "__main__":
    main()
