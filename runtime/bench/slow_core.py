"""python -m runtime bench --emulate-slow-core: the busy-cpu1 scenario of
docs/BENCHMARKING.md, run by the bench in a child process of its own:

    RUNTIME_TOPOLOGY="performance:0;efficiency:1" python -m runtime.bench.slow_core --out DIR

RUNTIME_TOPOLOGY must be set before runtime first reads its topology,
which the parent process has done.  Prints one line of JSON: rows (as
runtime.bench.suite.Row), notes and trace timelines.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import runtime

from . import cases, numpy_cases, suite
from .measure import NOT_MEASURED, default_meter, measure_interleaved
from .plan import TIMELINE_ELEMENTS, Plan, size_label

SIN_ELEMENTS = 10**7
TIME_OVER_IDEAL = "<= 1.05x ideal"  # the sin map's target: its time over the ideal's


@contextmanager
def busy_cpu1() -> Iterator[None]:
    """A busy process pinned to cpu1 (a half-speed core for us) while the
    block runs; killed after, whatever happens."""
    load = subprocess.Popen([sys.executable, "-c", cases.BUSY_LOOP])
    try:
        time.sleep(0.2)  # the load is running before anything is timed
        yield
    finally:
        load.kill()
        load.wait()


def measure(plan: Plan, out_dir: Path) -> dict[str, Any]:
    runtime.set_num_threads(2)
    rows: list[suite.Row] = []
    notes: list[str] = []
    timelines: dict[str, tuple[str, list[dict[str, Any]]]] = {}  # as Results.timelines
    # 1. A fine-grained compute-bound map against the ideal of this run.
    r = cases.emulated_slow_core(SIN_ELEMENTS, suite.repeats_for(plan, 5))
    for impl, key in (("NumPy on cpu0", "cpu0"), ("NumPy on cpu1 (busy)", "cpu1"),
                      ("ideal, 2 cores", "ideal"), ("runtime", "runtime"),
                      ("runtime, interactive", "interactive")):
        judged = impl.startswith("runtime")  # its time over the ideal, as the note prints it
        rows.append(suite.Row("slow core", "sin", SIN_ELEMENTS, impl, r[key],
                               r["cpu0"] / r[key], None, None, NOT_MEASURED, None, "elem",
                               TIME_OVER_IDEAL if judged else "",
                               met=round(r[key] / r["ideal"], 3) <= 1.05 if judged else None))
    notes.append(f"emulated slow core, sin map {size_label(SIN_ELEMENTS)}: time / ideal "
                 f"{r['ratio']:.3f} at the default level (the OS places the threads), "
                 f"{r['interactive_ratio']:.3f} at qos=\"interactive\" (one thread per CPU, "
                 f"performance kind first); target <= 1.05; ideal = 1/(1/cpu0 + 1/cpu1), "
                 f"timed in this run")
    # 2. matmul under the load: OpenBLAS's static split waits on the slow core.
    n = plan.matmul_size
    case = numpy_cases.CASES["matmul_2000"]
    data = numpy_cases.matrices(n)
    with busy_cpu1():
        measured = measure_interleaved({"NumPy": case.baseline, "runtime": case.candidate},
                                       data, suite.repeats_for(plan, case.repeats),
                                       case.pause, default_meter())
        trace = getattr(runtime, "trace", None)
        if trace is not None:
            title = (f"runtime.map(np.sin, x, qos=\"interactive\"), "
                     f"{size_label(TIMELINE_ELEMENTS)} float64, busy process on cpu1")
            events = suite.trace_map(trace, out_dir / "trace_slow_core.json", "interactive")
            timelines["timeline_slow_core"] = (title, [suite.event_dict(e) for e in events])
    rows += suite.rows_per_call("slow core", "matmul", n, measured, "NumPy", 1, 2.0 * n**3,
                                 "flop", ">= 1.3x")
    return {"rows": [dataclasses.asdict(row) for row in rows], "notes": notes,
            "timelines": timelines, "files": ["trace_slow_core.json"] if timelines else []}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    plan = Plan(quick=args.quick, repeats=args.repeats)
    print(json.dumps(measure(plan, args.out)))


if __name__ == "__main__":
    main()
