"""Heterogeneous-core behaviour, measured on an emulated heterogeneous machine:

    python benchmarks/heterogeneous.py [--repeats N]

cpu1 becomes a slow core (a busy process pinned to it, docs/BENCHMARKING.md) and
RUNTIME_TOPOLOGY="performance:0;efficiency:1" declares it an efficiency
core.  Prints, each measured in this run:

1. a fine-grained compute-bound map (np.sin on 1e7): time / ideal, the
   ideal computed from np.sin alone on cpu0 and alone on cpu1;
2. two equal coarse items (~100 ms each, runtime.map_items): makespan
   with the tail boost and without, over one item alone on cpu0 (ideal
   1.33x, no migration 2.0x);
1 and 2 at the default level ("initiated") and at "interactive";
3. a background job next to an interactive one: where the background
   chunks ran, and the interactive job's time alone and beside it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time

os.environ.setdefault("RUNTIME_TOPOLOGY", "performance:0;efficiency:1")

import numpy as np  # noqa: E402

import runtime  # noqa: E402
from runtime.bench.cases import BUSY_LOOP  # noqa: E402


# "initiated" (the default): the OS places the job's threads; "interactive":
# one thread per CPU, performance kind first (runtime/_qos.py).
LEVELS = ("initiated", "interactive")


def best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def on_cpu(cpu: int, fn, repeats: int) -> float:
    mask = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        return best(fn, repeats)
    finally:
        os.sched_setaffinity(0, mask)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if not hasattr(os, "sched_setaffinity") or not {0, 1} <= os.sched_getaffinity(0):
        raise SystemExit("needs Linux and CPUs 0 and 1")
    runtime.set_num_threads(2)
    print(f"topology: {[(k.name, k.cpus) for k in runtime.topology().kinds]} "
          f"({runtime.topology().source})")
    x = np.random.default_rng(0).random(10**7)
    item = np.random.default_rng(1).random(12 * 10**6)  # np.sin on it: ~100 ms here
    runtime.map(np.sin, x)
    runtime.map_items(np.sin, [item, item])
    load = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
    try:
        time.sleep(0.3)
        r = args.repeats
        # 1. Fine-grained map against the ideal of this run.
        fast, slow = on_cpu(0, lambda: np.sin(x), r), on_cpu(1, lambda: np.sin(x), r)
        ideal = 1 / (1 / fast + 1 / slow)
        for level in LEVELS:
            mapped = best(lambda: runtime.map(np.sin, x, qos=level), r)
            print(f"1. sin map 1e7 ({level}): cpu0 {fast * 1e3:.1f} ms, cpu1 {slow * 1e3:.1f} "
                  f"ms, ideal {ideal * 1e3:.1f} ms, runtime {mapped * 1e3:.1f} ms: time/ideal "
                  f"{mapped / ideal:.3f} (target <= 1.05)")

        # 2. Two coarse items, tail boost on and off, interleaved.
        one = on_cpu(0, lambda: np.sin(item), r)
        for level in LEVELS:
            with_boost = without = float("inf")
            for _ in range(r):
                runtime.set_tail_boost(True)
                with_boost = min(with_boost, best(
                    lambda: runtime.map_items(np.sin, [item, item], qos=level), 1))
                runtime.set_tail_boost(False)
                without = min(without, best(
                    lambda: runtime.map_items(np.sin, [item, item], qos=level), 1))
            runtime.set_tail_boost(True)
            print(f"2. two items of {one * 1e3:.0f} ms ({level}; one alone on cpu0): makespan "
                  f"with tail boost {with_boost / one:.2f}x, without {without / one:.2f}x "
                  f"(ideal 1.33x, no migration 2.0x, target <= 1.6x)")

        # 3. A background job beside an interactive one.
        cpus_seen: set[tuple[int, ...]] = set()
        lock = threading.Lock()

        def background_chunk(a: np.ndarray) -> np.ndarray:
            with lock:
                cpus_seen.add(tuple(sorted(os.sched_getaffinity(0))))
            return np.sin(a)

        alone = best(lambda: runtime.map(np.sin, x, qos="interactive"), r)
        stop = threading.Event()

        def background() -> None:
            while not stop.is_set():
                runtime.map(background_chunk, x, qos="background", grain=250_000)

        thread = threading.Thread(target=background)
        thread.start()
        time.sleep(0.2)
        beside = best(lambda: runtime.map(np.sin, x, qos="interactive"), r)
        stop.set()
        thread.join()
        print(f"3. background chunks ran on CPUs {sorted(cpus_seen)}; interactive sin map "
              f"alone {alone * 1e3:.1f} ms, beside the background job {beside * 1e3:.1f} ms "
              f"({beside / alone:.2f}x; cpu0 alone, the ideal beside it: "
              f"{fast * 1e3:.1f} ms = {fast / alone:.2f}x)")
    finally:
        load.kill()
        load.wait()


if __name__ == "__main__":
    main()
