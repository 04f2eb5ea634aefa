"""What tracing costs (targets, docs/BENCHMARKING.md: not tracing <= 1%,
tracing <= 10% on the 1e6 exp map):

    python benchmarks/trace_overhead.py [--rounds N]

Times runtime.map(np.exp, x) on 1e6 elements untraced and inside
runtime.trace(), interleaved, best of 20 calls per block, and prints the
median block of each.  For the cost of tracing code that is switched off,
run the same script in a checkout from before tracing existed (it then
times the untraced map only) and compare the two untraced figures.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import runtime


def best_of(calls: int, fn) -> float:
    best = float("inf")
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    x = np.random.default_rng(0).random(1_000_000)
    work = lambda: runtime.map(np.exp, x)  # noqa: E731
    for _ in range(20):
        work()
    untraced, traced = [], []
    can_trace = hasattr(runtime, "trace")
    for _ in range(args.rounds):
        untraced.append(best_of(20, work))
        if can_trace:
            with runtime.trace():
                traced.append(best_of(20, work))
    u = statistics.median(untraced)
    print(f"exp map 1e6, untraced: {u * 1e6:.0f} us (median of {args.rounds} blocks, "
          f"best of 20 each)")
    if can_trace:
        t = statistics.median(traced)
        print(f"exp map 1e6, traced:   {t * 1e6:.0f} us: {100 * (t / u - 1):+.1f}% (target <= 10%)")


if __name__ == "__main__":
    main()
