"""Speedup over NumPy (or the serial call) against the thread count:

    python benchmarks/scaling.py [--threads 1,2,4,8,16] [--repeats 5]

For machines with more than two cores; each figure is the best of
`repeats`, the baseline and runtime interleaved, per thread count."""

from __future__ import annotations

import argparse
import os

import runtime
from runtime.bench import cases
from runtime.bench.measure import measure_interleaved

SCALING_CASES = ["map_sin_1e7", "map_exp_1e6", "parallel_fma_1e7", "reduce_sum_1e7",
                 "native_sum_1e7", "parallel_for_skewed"]


def main() -> None:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default=",".join(
        str(t) for t in (1, 2, 4, 8, 16, 32) if t <= (cpus or 1)))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    counts = [int(t) for t in args.threads.split(",")]
    print(f"runtime {runtime.__version__}; {cpus} CPUs; speedup over the baseline "
          f"(best of {args.repeats}, interleaved)")
    print(f"{'case':22}" + "".join(f"{t:>8}" for t in counts) + "   (threads)")
    for name in SCALING_CASES:
        row = []
        for t in counts:
            runtime.set_num_threads(t)
            case = cases.CASES[name]
            if case.data is None:
                case.data = case.setup()
            best = measure_interleaved({"baseline": case.baseline, "runtime": case.candidate},
                                       case.data, args.repeats, case.pause)
            row.append(best["baseline"].seconds / best["runtime"].seconds)
        print(f"{name:22}" + "".join(f"{r:7.2f}x" for r in row), flush=True)
    cases.shutdown_thread_pool()


if __name__ == "__main__":
    main()
