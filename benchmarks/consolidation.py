"""Dask's default against runtime's consolidation policy, measured on a
LocalCluster:

    python benchmarks/consolidation.py [--duration 180] [--modes default,adaptive,consolidate]

4 workers x 1 thread, in this process (processes=False) on 127.0.0.1.
One generated bursty trace (runtime.dask.simulate, seed 0, ~25% load:
a quarter of the 20 s periods at three times the mean rate) is replayed
in real time against each mode in turn:

- ``default``: the 4 workers, Dask's placement, no scaling;
- ``adaptive``: Dask's own ``cluster.adapt(minimum=1, maximum=4)``;
- ``consolidate``: runtime.dask.consolidate (pack, retire workers idle
  for --suspend-after seconds, scale up when tasks wait).

A task sleeps for its duration (so the figures hardly depend on how
loaded the machine is) and returns a small NumPy sum of its own seeded
data.  Per mode: awake worker-seconds (from each worker joining the
scheduler to its removal, up to the end of the last task), busy seconds,
an energy estimate, task latency (arrival to end of run) p50/p99,
tasks lost (no result), run more than once, and whether every result is
identical to the default mode's.

The energy estimate uses runtime's power model: a worker is taken as a
one-core machine whose busy core draws the model's watts for this
machine's first core kind (runtime.energy; RUNTIME_POWER_MODEL changes
it) and which draws half of that awake and idle (idle = 50% of peak).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from typing import Any

import numpy as np
from distributed import Client, LocalCluster, SchedulerPlugin

import runtime
from runtime.dask.consolidate import consolidate
from runtime.dask.simulate import generate_trace
from runtime.energy._model import power_model, watts_for

WORKERS = 4
LOAD = 0.25

_runs: dict[int, int] = {}          # task -> times it ran (this process: processes=False)
_runs_lock = threading.Lock()


def task(index: int, seconds: float) -> tuple[int, float, float, float]:
    """Sleep like an I/O-bound task; return (index, value, start, end)."""
    start = time.monotonic()
    # Dask ships this function by value, with copies of the globals it
    # names; the script's own module (workers share this process) holds
    # the one count.
    this = sys.modules[__name__]
    with this._runs_lock:
        this._runs[index] = this._runs.get(index, 0) + 1
    time.sleep(seconds)
    value = float(np.random.default_rng(index).random(1000).sum())
    return index, value, start, time.monotonic()


class WorkerTimeline(SchedulerPlugin):
    """Scheduler plugin: when each worker joined and left (monotonic s)."""

    name = "benchmark-worker-timeline"

    def __init__(self) -> None:
        self.joined: dict[str, float] = {}
        self.spans: list[tuple[float, float]] = []

    def add_worker(self, scheduler: Any, worker: str) -> None:
        self.joined[worker] = time.monotonic()

    def remove_worker(self, scheduler: Any, worker: str, **kwargs: Any) -> None:
        began = self.joined.pop(worker, None)
        if began is not None:
            self.spans.append((began, time.monotonic()))

    def awake_seconds(self, start: float, end: float) -> float:
        spans = self.spans + [(began, end) for began in self.joined.values()]
        return sum(max(0.0, min(b, end) - max(a, start)) for a, b in spans)


def run_mode(mode: str, arrivals: list[float], durations: list[float],
             suspend_after: float) -> dict[str, Any]:
    timeline = WorkerTimeline()
    _runs.clear()
    with LocalCluster(n_workers=WORKERS, threads_per_worker=1, processes=False,
                      protocol="tcp", host="127.0.0.1", dashboard_address=None) as cluster, \
            Client(cluster) as client:
        cluster.scheduler.add_plugin(timeline)
        for address in cluster.scheduler.workers:
            timeline.add_worker(cluster.scheduler, address)
        if mode == "adaptive":
            cluster.adapt(minimum=1, maximum=WORKERS)
        elif mode == "consolidate":
            consolidate(cluster, suspend_after=suspend_after, interval=0.5, maximum=WORKERS)
        start = time.monotonic()
        futures = []
        for i, (at, seconds) in enumerate(zip(arrivals, durations)):
            time.sleep(max(0.0, start + at - time.monotonic()))
            futures.append(client.submit(task, i, seconds, pure=False))
        results = []
        for future in futures:
            try:
                results.append(future.result(timeout=600))
            except Exception as error:  # a lost task is reported, not raised
                results.append(error)
        done = [r for r in results if isinstance(r, tuple)]
        end = max(r[3] for r in done)
        awake = timeline.awake_seconds(start, end)
    latencies = np.array([r[3] - (start + arrivals[r[0]]) for r in done])
    busy = sum(r[3] - r[2] for r in done)
    kind = runtime.topology().kinds[0].name
    busy_w = watts_for(kind, power_model())
    idle_w = busy_w / 2
    return {"mode": mode, "tasks": len(arrivals), "lost": len(arrivals) - len(done),
            "ran_twice": sum(1 for n in _runs.values() if n > 1),
            "values": [r[1] for r in done], "elapsed_s": end - start,
            "awake_worker_s": awake, "busy_s": busy,
            "energy_j": awake * idle_w + busy * (busy_w - idle_w),
            "watts": f"{kind}: {busy_w:g} W busy, {idle_w:g} W idle",
            "p50_s": float(np.percentile(latencies, 50)),
            "p99_s": float(np.percentile(latencies, 99))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of arrivals")
    parser.add_argument("--task-seconds", type=float, default=1.0, help="mean task duration")
    parser.add_argument("--suspend-after", type=float, default=5.0)
    parser.add_argument("--modes", default="default,adaptive,consolidate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    args = parser.parse_args()
    trace = generate_trace("bursty", load=LOAD, machines=WORKERS, cores=1,
                           duration_s=args.duration, task_s=args.task_seconds, seed=args.seed,
                           burst_period_s=20.0)
    arrivals, durations = list(trace.arrivals), list(trace.durations)
    print(f"trace: {trace.tasks} tasks over {args.duration:g} s, offered load "
          f"{sum(durations) / (WORKERS * args.duration):.2f}; load average now "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rows = [run_mode(mode.strip(), arrivals, durations, args.suspend_after)
            for mode in args.modes.split(",")]
    base = rows[0]
    print(f"{'mode':<12} {'awake worker-s':>14} {'vs ' + base['mode']:>12} {'energy J':>9} "
          f"{'p50 s':>6} {'p99 s':>6} {'p99 vs':>7} {'lost':>5} {'ran twice':>9} identical")
    for row in rows:
        print(f"{row['mode']:<12} {row['awake_worker_s']:>14.1f} "
              f"{100 * (row['awake_worker_s'] / base['awake_worker_s'] - 1):>+11.1f}% "
              f"{row['energy_j']:>9.1f} {row['p50_s']:>6.2f} {row['p99_s']:>6.2f} "
              f"{100 * (row['p99_s'] / base['p99_s'] - 1):>+6.1f}% {row['lost']:>5} "
              f"{row['ran_twice']:>9} {row['values'] == base['values']}")
    print(f"energy: {rows[0]['watts']} per worker (runtime's power model, an estimate)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump([{k: v for k, v in row.items() if k != "values"} for row in rows], f,
                      indent=1)


if __name__ == "__main__":
    main()
