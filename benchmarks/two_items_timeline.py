"""Where the two coarse items of benchmarks/heterogeneous.py run:

    python benchmarks/two_items_timeline.py [--rounds N]

Under the emulated slow core (busy process on cpu1, RUNTIME_TOPOLOGY
declaring cpu1 an efficiency core), runtime.map_items runs two equal
items of np.sin work, tail boost on and off in turn; each item samples
the CPU it runs on 20 times.  Prints the makespan over one item alone on
cpu0, and per item: caller or worker, start and end (ms) and its CPUs.
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


def this_cpu() -> int:
    with open("/proc/thread-self/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[36])  # field 39: processor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    runtime.set_num_threads(2)
    item = np.random.default_rng(1).random(12 * 10**6)
    parts = np.array_split(item, 20)
    caller = threading.get_native_id()
    log: list[tuple[str, int, int, str]] = []
    start = [0.0]

    def work(_: int) -> None:
        began = time.perf_counter() - start[0]
        cpus = []
        for part in parts:
            np.sin(part)
            cpus.append(str(this_cpu()))
        who = "caller" if threading.get_native_id() == caller else "worker"
        log.append((who, round(began * 1e3), round((time.perf_counter() - start[0]) * 1e3),
                    "".join(cpus)))

    runtime.map_items(work, [0, 1])
    mask = os.sched_getaffinity(0)
    load = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
    try:
        time.sleep(0.3)
        os.sched_setaffinity(0, {0})
        one = float("inf")
        for _ in range(3):  # best of 3, as benchmarks/heterogeneous.py
            t0 = time.perf_counter()
            np.sin(item)
            one = min(one, time.perf_counter() - t0)
        os.sched_setaffinity(0, mask)
        for _ in range(args.rounds):
            for boost in (True, False):
                runtime.set_tail_boost(boost)
                log.clear()
                start[0] = time.perf_counter()
                runtime.map_items(work, [0, 1])
                total = time.perf_counter() - start[0]
                print(f"tail boost {'on ' if boost else 'off'}: {total / one:.2f}x of one item "
                      f"({total * 1e3:.0f} / {one * 1e3:.0f} ms): "
                      + "; ".join(f"{who} {a}-{b} ms on {cpus}" for who, a, b, cpus
                                  in sorted(log)))
    finally:
        load.kill()
        load.wait()
        runtime.set_tail_boost(True)


if __name__ == "__main__":
    main()
