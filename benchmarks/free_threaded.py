"""What runtime gains on free-threaded CPython (3.13t), where Python chunk
bodies run truly in parallel; run it with each interpreter, one after the
other, and compare:

    python benchmarks/free_threaded.py [--repeats 7] [--chunks]

python_body   a @runtime.parallel function doing pure Python work per
              element (a loop over the chunk's tolist()), 2e5 elements:
              the plain call (1 thread) against the decorated one at 2
              threads, interleaved (the GIL build gives ~1.0x: only one
              chunk at a time holds the interpreter);
map_exp_1e7   runtime.map(np.exp, x) over 1e7 doubles against np.exp(x) at
              2 threads: NumPy's loop releases the GIL, so both builds gain.

--chunks re-measures the cost model's Python-chunk rules on the running
interpreter (runtime/_schedule.py): the pool's overheads as calibrated, and
the 2-thread speedup of pure Python chunks whose length is 1/2 to 8 times
the measured dispatch cost (HANDOFFS_PER_CHUNK is the multiple from which
chunks overlap rather than take turns).
"""

from __future__ import annotations

import argparse
import sys
import sysconfig
import time
from typing import Any, Callable

import numpy as np

import runtime
from runtime import _schedule
from runtime.bench.measure import measure_interleaved

ELEMENTS = 200_000
EXP_ELEMENTS = 10_000_000


def python_work(a: np.ndarray) -> np.ndarray:
    """Pure Python per element (~1 us each): the interpreter runs every
    step; little memory, so splitting gains nothing but threads."""
    out = []
    for v in a.tolist():
        for _ in range(20):
            v = v * 0.5 + 1.0
        out.append(v)
    return np.array(out)


parallel_python_work = runtime.parallel(python_work)


def interleaved(functions: dict[str, Callable[[Any], Any]], data: Any,
                repeats: int) -> dict[str, float]:
    """Best time of each, at 2 threads per job, the functions interleaved
    round by round (a load that comes and goes hits them alike)."""
    before = runtime.set_num_threads(2)
    try:
        return {name: m.seconds
                for name, m in measure_interleaved(functions, data, repeats).items()}
    finally:
        runtime.set_num_threads(before)


def interpreter() -> str:
    version = sys.version.split()[0]
    if not sysconfig.get_config_var("Py_GIL_DISABLED"):
        return f"Python {version}, GIL build"
    gil = sys._is_gil_enabled()  # a module without free-threading support turns it on
    return f"Python {version}, free-threaded build, GIL {'on' if gil else 'off'}"


def acceptance(repeats: int) -> None:
    # 1 thread: the plain function (what runtime runs at 1 thread per job).
    x = np.random.default_rng(0).random(ELEMENTS)
    assert np.array_equal(parallel_python_work(x), python_work(x))
    t = interleaved({"one": python_work, "two": parallel_python_work}, x, repeats)
    print(f"{'python_body_2e5':16} 1 thread {t['one'] * 1e3:8.1f} ms   2 threads "
          f"{t['two'] * 1e3:8.1f} ms   {t['one'] / t['two']:5.2f}x")
    y = np.random.default_rng(1).random(EXP_ELEMENTS)
    assert np.array_equal(runtime.map(np.exp, y), np.exp(y))
    t = interleaved({"numpy": np.exp, "runtime": lambda a: runtime.map(np.exp, a)}, y, repeats)
    print(f"{'map_exp_1e7':16} NumPy    {t['numpy'] * 1e3:8.1f} ms   runtime   "
          f"{t['runtime'] * 1e3:8.1f} ms   {t['numpy'] / t['runtime']:5.2f}x")


def chunk_rules(repeats: int) -> None:
    """The Python-chunk overheads as the cost model measures them here, and
    pure Python chunks of a few dispatch costs each, 2 threads against 1."""
    before = runtime.set_num_threads(2)
    try:
        overheads = _schedule.overheads()
    finally:
        runtime.set_num_threads(before)
    print(f"calibrated: dispatch {overheads.dispatch_s * 1e6:.1f} us, Python chunk "
          f"{overheads.chunk_s * 1e6:.2f} us, native dispatch "
          f"{overheads.native_dispatch_s * 1e6:.1f} us")
    n = 200_000

    def body(start: int, stop: int) -> None:
        # Local work only: stores into one shared list would take its lock
        # per item on 3.13t and measure that contention instead.
        total = 0
        for i in range(start, stop):
            total += i * i % 7

    t0 = time.perf_counter()
    body(0, n)
    per_element = (time.perf_counter() - t0) / n
    print(f"pure Python body: ~{per_element * 1e9:.0f} ns per element, {n} elements")
    print(f"{'chunk / dispatch':>17} {'chunk':>10} {'1 thread':>10} {'2 threads':>10} speedup")
    for multiple in (0.5, 1, 2, 4, 8):
        grain = max(1, int(multiple * overheads.dispatch_s / per_element))
        t = interleaved({"one": lambda m: body(0, m),
                         "two": lambda m: runtime.parallel_for(m, body, grain=grain)},
                        n, repeats)
        print(f"{multiple:17} {grain * per_element * 1e6:7.1f} us {t['one'] * 1e3:7.2f} ms "
              f"{t['two'] * 1e3:7.2f} ms {t['one'] / t['two']:6.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--chunks", action="store_true",
                        help="re-measure the Python-chunk rules of the cost model")
    args = parser.parse_args()
    print(f"{interpreter()}; runtime {runtime.__version__}; best of {args.repeats}")
    if args.chunks:
        chunk_rules(args.repeats)
    else:
        acceptance(args.repeats)
    runtime.shutdown()


if __name__ == "__main__":
    main()
