"""Never slower than serial: every public entry point against the same work
run serially (the function inline, or NumPy's own call), hot (each side's
calls back to back) and interleaved (every timed call follows a plain NumPy
call on other data, as in a program that mixes them), optionally on the
first call in a fresh process.

Run by ``python benchmarks/floor.py`` (sizes 1e2..1e8, a table, floor.json
and the heat map floor.png) and by ``python -m runtime bench --cases floor``
(the bench's sizes, rows of its table).  A ratio is serial time / runtime
time: above 1 is faster.  The floor is 0.95, and 0.8 at 1e3 elements and
fewer, where NumPy's whole call takes about a microsecond.

>>> from runtime.bench import floor
>>> floor.floor_for(100), floor.floor_for(10**6)
(0.8, 0.95)
>>> sorted(floor.ENTRIES)[:2]
['@parallel a*b+c', '@parallel(reduce=)']
"""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import operator
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

import runtime
import runtime.numpy as rnp
from runtime import _kernels as kernels

FLOOR = 0.95
SMALL_FLOOR = 0.8  # at SMALL_SIZE elements and fewer
SMALL_SIZE = 1000
DEFAULT_SIZES = [10**k for k in range(2, 9)]
MATMUL_MAX = 10**6  # matmul at n elements multiplies sqrt(n)-square matrices
BLOCK_S = 0.002  # a timed block lasts at least this long (small calls loop)
IOTA = kernels.kernel("iota")
SUM = kernels.kernel("sum")


@runtime.parallel
def fma(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    return a * b + c


@runtime.parallel(reduce=operator.add)
def total(a: np.ndarray) -> Any:
    return np.sum(a)


def _fma_serial(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    return a * b + c


class Data:
    """The inputs of one size, made once."""

    def __init__(self, n: int) -> None:
        rng = np.random.default_rng(0)
        self.n = n
        self.x = rng.random(n)
        self.b = rng.random(n)
        self.c = rng.random(n)
        self.out = np.zeros(n)
        self.blocks = [self.x[i:i + 1000] for i in range(0, n, 1000)]
        side = int(math.isqrt(min(n, MATMUL_MAX)))
        self.m = rng.random((side, side))
        self.other = rng.random(min(n, 100_000))  # the plain NumPy call between timed ones
        # The memory system's own ratio: a C sum on 2 threads against 1
        # (leaves of at least 2**14 elements, at most 64).
        self.sum_parts = np.zeros(max(1, min(64, n // (1 << 14))))
        self.sum_ctx = kernels.sum_context(self.x, self.sum_parts)
        self.sum_ctx_address = ctypes.addressof(self.sum_ctx)

    def body(self, start: int, stop: int) -> None:
        np.exp(self.x[start:stop], out=self.out[start:stop])


# name -> (serial, runtime): each takes the Data.
ENTRIES: dict[str, tuple[Callable[[Data], Any], Callable[[Data], Any]]] = {
    "map(np.exp)": (lambda d: np.exp(d.x), lambda d: runtime.map(np.exp, d.x)),
    "reduce(np.sum)": (lambda d: np.sum(d.x),
                       lambda d: runtime.reduce(np.sum, d.x, combine=operator.add)),
    "@parallel a*b+c": (lambda d: _fma_serial(d.x, d.b, d.c), lambda d: fma(d.x, d.b, d.c)),
    "@parallel(reduce=)": (lambda d: np.sum(d.x), lambda d: total(d.x)),
    "parallel_for python": (lambda d: d.body(0, d.n), lambda d: runtime.parallel_for(d.n, d.body)),
    "parallel_for native": (lambda d: runtime._core.call_native(IOTA, d.out.ctypes.data, 0, d.n),
                            lambda d: runtime.parallel_for(d.n, IOTA, ctx=d.out.ctypes.data)),
    "map_items": (lambda d: [np.exp(b) for b in d.blocks],
                  lambda d: runtime.map_items(np.exp, d.blocks)),
    "numpy.exp": (lambda d: np.exp(d.x), lambda d: rnp.exp(d.x)),
    "numpy.sum": (lambda d: np.sum(d.x), lambda d: rnp.sum(d.x)),
    "numpy.matmul": (lambda d: np.matmul(d.m, d.m), lambda d: rnp.matmul(d.m, d.m)),
    # A reference, not an entry point: what two threads can gain on a
    # memory-bound sum here (reduce's target at 1e6 and 1e7).
    "C sum 2 threads vs 1": (
        lambda d: runtime._core.call_native(SUM, d.sum_ctx_address, 0, len(d.sum_parts)),
        lambda d: runtime.parallel_for(len(d.sum_parts), SUM, d.sum_ctx_address, grain=1)),
}
# Rows that are references, not entry points: never below the floor.
REFERENCES = frozenset({"C sum 2 threads vs 1"})
# Seconds of quiet before each timed block: OpenBLAS's threads spin ~0.1 s
# after a call, and would slow the other side's next block.
PAUSE_S = {"numpy.matmul": 0.3}


def floor_for(n: int) -> float:
    return SMALL_FLOOR if n <= SMALL_SIZE else FLOOR


def _calls_per_block(fn: Callable[[Data], Any], data: Data) -> int:
    t0 = time.perf_counter()
    fn(data)
    once = time.perf_counter() - t0
    return max(1, min(100_000, int(BLOCK_S / max(once, 1e-9))))


def _block(fn: Callable[[Data], Any], data: Data, calls: int, plain: bool) -> float:
    """Seconds per call: `calls` calls back to back, or each after an
    untimed plain NumPy call (`plain`)."""
    if not plain:
        t0 = time.perf_counter()
        for _ in range(calls):
            fn(data)
        return (time.perf_counter() - t0) / calls
    spent = 0.0
    for _ in range(calls):
        np.exp(data.other)
        t0 = time.perf_counter()
        fn(data)
        spent += time.perf_counter() - t0
    return spent / calls


def ratio(entry: str, data: Data, repeats: int, interleaved: bool) -> tuple[float, float, float]:
    """(serial s, runtime s, ratio), each side the best of `repeats` blocks,
    the two sides' blocks alternating."""
    serial, candidate = ENTRIES[entry]
    for fn in (serial, candidate):  # warm up: caches, calibration, cost models
        fn(data)
        fn(data)
    calls = _calls_per_block(serial, data)
    best = [math.inf, math.inf]
    pause = PAUSE_S.get(entry, 0.0)
    for _ in range(repeats):
        for side, fn in enumerate((serial, candidate)):
            time.sleep(pause)
            best[side] = min(best[side], _block(fn, data, calls, interleaved))
    return best[0], best[1], best[0] / best[1]


FIRST_CALL = """
import time
from runtime.bench import floor
d = floor.Data({n})
serial, candidate = floor.ENTRIES[{entry!r}]
serial(d)  # NumPy itself warm: only runtime's first call is measured
t0 = time.perf_counter(); serial(d); s = time.perf_counter() - t0
t0 = time.perf_counter(); candidate(d); r = time.perf_counter() - t0
print(s, r)
"""


def first_call(entry: str, n: int) -> tuple[float, float, float]:
    """(serial s, runtime s, ratio) of runtime's very first call, in a
    fresh process (pool start and measurement included)."""
    code = FIRST_CALL.format(n=n, entry=entry)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=600, check=True).stdout.split()
    serial, candidate = float(out[0]), float(out[1])
    return serial, candidate, serial / candidate


@dataclass(frozen=True)
class Cell:
    entry: str
    size: int
    mode: str  # "hot", "interleaved" or "first call"
    serial_s: float
    runtime_s: float

    @property
    def ratio(self) -> float:
        return self.serial_s / self.runtime_s

    @property
    def below(self) -> bool:
        return self.entry not in REFERENCES and self.ratio < floor_for(self.size)


def sweep(entries: list[str], sizes: list[int], modes: list[str],
          repeats: int) -> Iterator[Cell]:
    """Every entry x size x mode, entry by entry (each size's data made
    once and freed before the next)."""
    for entry in entries:
        for n in sizes:
            data = Data(n)
            for mode in modes:
                if mode == "first call":
                    serial, candidate, _ = first_call(entry, n)
                else:
                    serial, candidate, _ = ratio(entry, data, repeats, mode == "interleaved")
                yield Cell(entry, n, mode, serial, candidate)
            del data


def _size_label(n: int) -> str:
    return f"1e{round(math.log10(n))}" if n > 0 and 10 ** round(math.log10(n)) == n else str(n)


def heat_map(results: dict[str, dict[str, dict[int, float]]], path: str) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.colors import LinearSegmentedColormap
    except ImportError:
        return False
    modes = list(results)
    entries = list(next(iter(results.values())))
    sizes = sorted({n for mode in results.values() for row in mode.values() for n in row})
    fig, axes = plt.subplots(1, len(modes), figsize=(4.5 + 1.1 * len(sizes) * len(modes), 6),
                             layout="constrained", squeeze=False)
    # Red below the floor, white at it, green above (up to 2x).
    cmap = LinearSegmentedColormap.from_list("floor", ["#c0392b", "#ffffff", "#27ae60"])
    for ax, mode in zip(axes[0], modes):
        grid = np.full((len(entries), len(sizes)), np.nan)
        for i, entry in enumerate(entries):
            for j, n in enumerate(sizes):
                value = results[mode][entry].get(n)
                if value is not None:
                    grid[i, j] = value
        shown = np.clip(grid, 0.0, 2.0)
        ax.imshow(shown, cmap=cmap, vmin=0.0, vmax=2.0, aspect="auto")
        for i in range(len(entries)):
            for j, n in enumerate(sizes):
                if not np.isnan(grid[i, j]):
                    below = entries[i] not in REFERENCES and grid[i, j] < floor_for(n)
                    ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=8,
                            color="white" if below and grid[i, j] < 0.5 else "black",
                            fontweight="bold" if below else "normal")
        ax.set_xticks(range(len(sizes)), [_size_label(n) for n in sizes])
        ax.set_yticks(range(len(entries)), entries if ax is axes[0][0] else [""] * len(entries))
        ax.set_xlabel("elements (float64)")
        ax.set_title(f"{mode}: serial time / runtime time")
    fig.suptitle(f"runtime vs serial, {runtime.num_threads()} threads: red below "
                 f"{FLOOR} ({SMALL_FLOOR} at <= {SMALL_SIZE} elements)")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(_size_label(n) for n in DEFAULT_SIZES),
                        help="comma-separated element counts (default 1e2..1e8)")
    parser.add_argument("--entries", default=",".join(ENTRIES),
                        help=f"comma-separated entry points (default all: {', '.join(ENTRIES)})")
    parser.add_argument("--repeats", type=int, default=5, help="timed blocks per side (best kept)")
    parser.add_argument("--out", default=".", help="directory for floor.json and floor.png")
    parser.add_argument("--first-call", action="store_true",
                        help="also time each entry's first call in a fresh process")
    args = parser.parse_args(argv)
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    entries = args.entries.split(",")
    unknown = [e for e in entries if e not in ENTRIES]
    if unknown:
        parser.error(f"unknown entries {unknown}; known: {', '.join(ENTRIES)}")
    modes = ["hot", "interleaved"] + (["first call"] if args.first_call else [])
    results: dict[str, dict[str, dict[int, float]]] = {m: {e: {} for e in entries} for m in modes}
    print(f"runtime {runtime.__version__}, {runtime.num_threads()} threads, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'entry':22} {'mode':12}" + "".join(f"{_size_label(n):>8}" for n in sizes))
    below = 0
    cells = sweep(entries, sizes, modes, args.repeats)
    for entry in entries:
        rows: dict[str, list[Cell]] = {m: [] for m in modes}
        for _ in range(len(sizes) * len(modes)):
            cell = next(cells)
            results[cell.mode][entry][cell.size] = cell.ratio
            rows[cell.mode].append(cell)
            below += cell.below
        for mode in modes:
            print(f"{entry:22} {mode:12}" + "".join(
                f"{c.ratio:7.2f}{'*' if c.below else ' '}" for c in rows[mode]), flush=True)
    judged = len([e for e in entries if e not in REFERENCES]) * len(sizes) * len(modes)
    print(f"* below the floor ({FLOOR}; {SMALL_FLOOR} at <= {SMALL_SIZE} elements): "
          f"{below} of {judged} (the reference row not counted)")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "floor.json"), "w") as f:
        json.dump({m: {e: {str(n): v for n, v in r.items()} for e, r in rows.items()}
                   for m, rows in results.items()}, f, indent=1)
    wrote = ["floor.json"]
    if heat_map(results, os.path.join(args.out, "floor.png")):
        wrote.append("floor.png")
    print(f"wrote {', '.join(os.path.join(args.out, w) for w in wrote)}")


if __name__ == "__main__":
    main()
