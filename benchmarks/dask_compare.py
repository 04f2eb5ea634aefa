"""Dask alone against Dask with runtime inside, on one machine:

    python benchmarks/dask_compare.py [--size 4e8] [--repeats 2] [--chunk-factor 10]
                                      [--json out.json]

Two pipelines over `size` float64 elements made by da.random.random:
exp then sum, and a*b+c then mean.  Four configurations:

- Dask's threaded scheduler with its default chunks;
- Dask's local scheduler on runtime.Executor, chunks 10x larger;
- LocalCluster, 2 worker processes x 1 thread, default chunks;
- LocalCluster, 1 worker process x 1 thread + runtime.dask.install,
  chunks 10x larger.

In the runtime rows each block's NumPy work is split over the pool:
through transparent mode where runtime.numpy has patch(), else by
computing the blocks with runtime.numpy's functions (the same graph:
one task per block, a sum per block).  Each row reports the wall time,
the CPU-seconds of this process and its children (the workers) over the
compute (and the system part of them), and the task count of the optimized graph; best of `repeats`
by wall time, after a warm-up on 1/100 of the data.  The blocks differ
between chunk sizes, so do the random numbers and the results a little.
Clusters listen on 127.0.0.1 only.  4e8 elements need
some 10 GB of memory with the larger chunks.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterator

import dask
import dask.array as da
import numpy as np
import psutil  # a dependency of distributed
from distributed import Client, LocalCluster

import runtime
import runtime.dask
import runtime.numpy as rnp


@dataclass
class Row:
    configuration: str
    pipeline: str
    chunk: int  # elements per block
    tasks: int
    wall_s: float
    cpu_s: float  # user + system
    system_s: float  # of which in the kernel (page faults of fresh memory, mostly)
    result: float


def transparent() -> bool:
    return hasattr(rnp, "patch")


def default_chunk(size: int) -> int:
    """Dask's own choice for a 1-d float64 array (its array.chunk-size)."""
    return int(da.random.random(size).chunks[0][0])


# ------------------------------------------------------------- pipelines
# plain: NumPy in each block (split by runtime only in transparent mode);
# by_runtime: the same graph with runtime.numpy computing each block.


def block_sum(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    # A Python signature for da.reduction, which inspects its chunk function.
    return rnp.sum(x, axis=axis, keepdims=keepdims)


def exp_sum(x: da.Array, by_runtime: bool) -> da.Array:
    if not by_runtime:
        return da.exp(x).sum()
    return da.reduction(x.map_blocks(rnp.exp, dtype=x.dtype), chunk=block_sum,
                        aggregate=np.sum, dtype=x.dtype)


def fma(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    return rnp.add(rnp.multiply(a, b), c)


def fma_mean(arrays: tuple[da.Array, da.Array, da.Array], by_runtime: bool) -> da.Array:
    a, b, c = arrays
    if not by_runtime:
        return (a * b + c).mean()
    y = da.map_blocks(fma, a, b, c, dtype=a.dtype)
    return da.reduction(y, chunk=block_sum, aggregate=np.sum, dtype=a.dtype) / a.size


PIPELINES: dict[str, Callable[[int, int, bool], da.Array]] = {
    "exp then sum": lambda size, chunk, by_runtime: exp_sum(
        da.random.random(size, chunks=chunk), by_runtime),
    "a*b+c then mean": lambda size, chunk, by_runtime: fma_mean(
        tuple(da.random.random(size, chunks=chunk) for _ in range(3)),  # type: ignore[arg-type]
        by_runtime),
}


def task_count(y: da.Array) -> int:
    (optimized,) = dask.optimize(y)
    return len(optimized.__dask_graph__())


CpuTimes = dict[int, tuple[float, float]]  # pid -> (user + system, system)


def cpu_times() -> CpuTimes:
    """User + system CPU time, and the system part, of this process and each
    of its children now, by process id."""
    me = psutil.Process()
    found: CpuTimes = {}
    for process in [me, *me.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        found[process.pid] = (times.user + times.system, times.system)
    return found


def cpu_seconds_since(before: CpuTimes) -> tuple[float, float]:
    """CPU seconds (and the system part) spent since `before` by the
    processes alive now: each one's own difference, so a worker process
    that exited in between takes its earlier time with it rather than
    making the total go down (it loses what it spent since, which its
    own exit cannot tell)."""
    total = system = 0.0
    for pid, (now_total, now_system) in cpu_times().items():
        then_total, then_system = before.get(pid, (0.0, 0.0))
        total += max(0.0, now_total - then_total)
        system += max(0.0, now_system - then_system)
    return total, min(system, total)


# --------------------------------------------------------- configurations


def threaded(y: da.Array) -> float:
    return float(y.compute(scheduler="threads"))


def on_runtime_executor(y: da.Array) -> float:
    with runtime.Executor() as executor, patched():
        return float(y.compute(scheduler=executor))


class patched:
    """Transparent mode for the block, where runtime has it."""

    def __enter__(self) -> None:
        if transparent():
            rnp.patch()  # type: ignore[attr-defined]

    def __exit__(self, *exc: object) -> None:
        if transparent():
            undo = getattr(rnp, "restore", None) or getattr(rnp, "unpatch")
            undo()


def cluster(n_workers: int, install: bool) -> Callable[[], Iterator[Client]]:
    def start() -> Iterator[Client]:
        with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                          host="127.0.0.1", dashboard_address="127.0.0.1:0") as local:
            with Client(local, timeout=120) as client:
                if install:
                    runtime.dask.install(client)
                yield client
    return start


CONFIGURATIONS: list[tuple[str, int, bool, Any]] = [
    # name, chunk factor over Dask's default, blocks by runtime, how to run
    ("dask threads, default chunks", 1, False, threaded),
    ("dask + runtime.Executor, 10x chunks", 10, True, on_runtime_executor),
    ("LocalCluster 2 workers x 1 thread", 1, False, cluster(2, install=False)),
    ("LocalCluster 1 worker x 1 thread + runtime.dask.install, 10x chunks", 10, True,
     cluster(1, install=True)),
]


def measure(name: str, pipeline: str, size: int, chunk: int, by_runtime: bool,
            compute: Callable[[da.Array], float], repeats: int) -> Row:
    # A warm-up on 1/100 of the data, same block count: imports, the pool's
    # threads and runtime's calibration in every process, off the clock.
    compute(PIPELINES[pipeline](max(1, size // 100), max(1, chunk // 100),
                                by_runtime and not transparent()))
    best: Row | None = None
    for _ in range(repeats):
        # Blocks by runtime.numpy only where transparent mode cannot do it.
        y = PIPELINES[pipeline](size, chunk, by_runtime and not transparent())
        tasks = task_count(y)
        before, wall0 = cpu_times(), time.perf_counter()
        result = compute(y)
        wall = time.perf_counter() - wall0
        cpu, system = cpu_seconds_since(before)
        row = Row(name, pipeline, chunk, tasks, wall, cpu, system, result)
        if best is None or row.wall_s < best.wall_s:
            best = row
    assert best is not None
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=float, default=4e8, help="elements per array")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--chunk-factor", type=int, default=10,
                        help="blocks of the runtime rows, over Dask's default")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    size = int(args.size)
    if size < 1 or args.repeats < 1 or args.chunk_factor < 1:
        parser.error("--size, --repeats and --chunk-factor must be at least 1")
    chunk = default_chunk(size)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"runtime {runtime.__version__}, dask {dask.__version__}; {cpus} CPUs; "
          f"load average {os.getloadavg()[0]:.2f} before; {size:.3g} float64 elements; "
          f"blocks split by {'transparent mode' if transparent() else 'runtime.numpy'} "
          f"in the runtime rows; best of {args.repeats}", flush=True)
    rows = []
    for name, factor, by_runtime, how in CONFIGURATIONS:
        if factor != 1:
            factor = args.chunk_factor
            name = name.replace("10x", f"{factor}x")
        block = min(size, chunk * factor)
        if how in (threaded, on_runtime_executor):
            for pipeline in PIPELINES:
                rows.append(measure(name, pipeline, size, block, by_runtime, how, args.repeats))
                print_row(rows[-1])
        else:
            clients = how()
            client = next(clients)
            try:
                for pipeline in PIPELINES:
                    rows.append(measure(name, pipeline, size, block, by_runtime,
                                        lambda y: float(client.compute(y).result()),
                                        args.repeats))
                    print_row(rows[-1])
            finally:
                clients.close()
    print()
    print_table(rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([asdict(row) for row in rows], f, indent=1)
        print(f"wrote {args.json}")


def print_row(row: Row) -> None:
    print(f"  {row.configuration} / {row.pipeline}: {row.wall_s:.2f} s, "
          f"{row.cpu_s:.2f} CPU-s ({row.system_s:.2f} system), {row.tasks} tasks "
          f"(result {row.result:.6g})", flush=True)


def print_table(rows: list[Row]) -> None:
    """A Markdown table; per pipeline, wall time and CPU-seconds relative to
    the best plain-Dask row (by wall time)."""
    print("| configuration | pipeline | block | tasks | wall s | CPU-s | of which system "
          "| wall / best dask | CPU-s / best dask |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for pipeline in PIPELINES:
        of_pipeline = [row for row in rows if row.pipeline == pipeline]
        plain = [row for row in of_pipeline if "runtime" not in row.configuration]
        best = min(plain, key=lambda row: row.wall_s)
        for row in of_pipeline:
            print(f"| {row.configuration} | {row.pipeline} | {row.chunk:.3g} | {row.tasks} "
                  f"| {row.wall_s:.2f} | {row.cpu_s:.2f} | {row.system_s:.2f} "
                  f"| {ratio(row.wall_s, best.wall_s)} "
                  f"| {ratio(row.cpu_s, best.cpu_s)} |")


def ratio(value: float, best: float) -> str:
    return f"{value / best:.2f}" if best > 0 else "-"  # too short to count


if __name__ == "__main__":
    main()
