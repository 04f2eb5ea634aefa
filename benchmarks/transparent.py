"""Transparent mode: plain NumPy code, unpatched against patched
(runtime.numpy.patch()), side by side in one process.

    python benchmarks/transparent.py [--repeats 9] [--threads N] [--no-sklearn]

Prints, for each case of runtime/bench/transparent.py (np.exp(x), a * b + c,
x.sum(), x.max(axis=0) at 1e7 elements; the same at 1e3), the best time
with NumPy's own loops and with them patched, the speedup and its target;
beside them the memory-bandwidth ratio (runtime's native sum kernel on one
thread and on two), which is the target of x.sum().  With scikit-learn
installed (pip install "hetero-runtime[bench]"), an unmodified workflow too:
StandardScaler then KMeans, and pairwise euclidean distances, on 2e5 x 50,
with the time of each side and whether the results agree.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from typing import Any, Callable

import numpy as np

import runtime
from runtime.bench import transparent
from runtime.bench.plan import size_label
from runtime.bench.suite import target_met

SKLEARN_ROWS = 200_000
SKLEARN_FEATURES = 50


def best_of(repeats: int, fn: Callable[[], Any]) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def sklearn_workflow(repeats: int) -> None:
    """StandardScaler + KMeans and pairwise distances, NumPy's loops then
    patched, interleaved; prints times and how close the results are."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import pairwise_distances
    from sklearn.preprocessing import StandardScaler

    X = np.random.default_rng(0).standard_normal((SKLEARN_ROWS, SKLEARN_FEATURES))
    queries = X[:2000]

    def kmeans() -> Any:
        scaled = StandardScaler().fit_transform(X)
        return KMeans(n_clusters=8, n_init=1, max_iter=30, random_state=0).fit(scaled)

    def distances() -> Any:
        return pairwise_distances(queries, X[:20000])

    shapes = {"StandardScaler + KMeans": f"{SKLEARN_ROWS:.0e} x {SKLEARN_FEATURES}",
              "pairwise_distances": f"{len(queries)} x 20000 x {SKLEARN_FEATURES}"}
    before = transparent.patches_in_force()
    for name, fn in (("StandardScaler + KMeans", kmeans), ("pairwise_distances", distances)):
        times: dict[bool, float] = {False: float("inf"), True: float("inf")}
        results: dict[bool, Any] = {}
        for _ in range(repeats):
            for patched in (False, True):
                transparent.set_patched(patched)
                t0 = time.perf_counter()
                results[patched] = fn()
                times[patched] = min(times[patched], time.perf_counter() - t0)
        transparent.set_patches(before)
        if name.startswith("Standard"):
            plain, fast = results[False], results[True]
            agree = (f"labels equal {np.mean(plain.labels_ == fast.labels_):.4%}, centres "
                     f"within {np.max(np.abs(plain.cluster_centers_ - fast.cluster_centers_)):.1e}")
        else:
            agree = f"max |difference| {np.max(np.abs(results[False] - results[True])):.1e}"
        print(f"{name:24} {shapes[name]:18} NumPy {times[False]:7.3f} s  "
              f"patched {times[True]:7.3f} s  {times[False] / times[True]:5.2f}x  ({agree})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="rounds (best counts)")
    parser.add_argument("--threads", type=int, default=None,
                        help="runtime's threads (default: its own choice)")
    parser.add_argument("--no-sklearn", action="store_true", help="skip the scikit-learn rows")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    if args.threads is not None:
        runtime.set_num_threads(args.threads)
    load = runtime._info.load_note(runtime.num_threads())
    print(f"NumPy {np.__version__}, runtime {runtime.__version__}, "
          f"{runtime.num_threads()} threads" + (f"; {load}" if load else ""))
    one, two, ratio = transparent.bandwidth_ratio(repeats=args.repeats)
    print(f"memory bandwidth: native sum of {size_label(transparent.BIG)} float64: one thread "
          f"{one * 1e3:.2f} ms, two {two * 1e3:.2f} ms: {ratio:.2f}x")
    print(f"{'case':16} {'size':>5} {'NumPy':>10} {'patched':>10} {'speedup':>8}  target")
    failed = False
    for case in transparent.CASES:
        measured = transparent.measure(case, args.repeats)
        numpy_s = measured["NumPy"].seconds / case.calls
        patched_s = measured["runtime"].seconds / case.calls
        speedup = numpy_s / patched_s
        target = transparent.target_for(case, ratio)
        met = target_met(target, speedup, patched_s)
        same = transparent.same_results(case)
        failed |= not same
        print(f"{case.name:16} {size_label(case.size):>5} {numpy_s * 1e6:8.1f}us "
              f"{patched_s * 1e6:8.1f}us {speedup:7.2f}x  {target or '-'}"
              + ("" if met is None else " met" if met else " NOT met")
              + ("" if same else "  RESULTS DIFFER"))
    if not args.no_sklearn:
        if importlib.util.find_spec("sklearn") is None:
            print("scikit-learn rows skipped: not installed (pip install scikit-learn)")
        else:
            sklearn_workflow(max(1, min(args.repeats, 3)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
