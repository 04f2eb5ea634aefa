"""What python -m runtime bench measures, and the measuring of it.

The kernels are the ones benchmarks/ times (runtime/bench/cases.py,
runtime/bench/numpy_cases.py): the op cases of the README's table where
they exist, the same construction at the other sizes.  Each case is
measured interleaved with its baseline (runtime/bench/measure.py) and
becomes rows: one per implementation, per call, with CPU time and energy.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

import runtime

from .. import _progress
from . import cases, numpy_cases, transparent
from .measure import (NOT_MEASURED, Measurement, Meter, measure_interleaved,
                             speedup_spread)
from .plan import (BINARY_OPS, ELEMENTS_PER_BLOCK, FORK_JOIN_CALLS, QUICK_REPEATS,
                          SLOW_CORE_TOPOLOGY, TIMELINE_ELEMENTS, TIMELINE_GRAIN, Plan,
                          size_label)


@dataclass
class Row:
    """One implementation of one case, per call."""
    section: str  # "overheads", "ops", "matmul", "slow core"
    case: str  # "exp", "fork-join", ...
    size: int | None  # elements, matrix order, or None
    impl: str  # "NumPy", "runtime", "numexpr", ...
    seconds: float | None
    speedup: float | None  # over the section's baseline (NumPy for ops)
    cpu_seconds: float | None
    joules: float | None
    energy_source: str
    ops: float | None  # operations per call, in op_unit
    op_unit: str
    target: str = ""
    energy_note: str = ""
    met: bool | None = None  # the target, where the row has one that can be judged
    # The least and greatest speedup of a single round (see speedup_spread).
    speedup_low: float | None = None
    speedup_high: float | None = None

    @property
    def ops_per_joule(self) -> float | None:
        if self.ops is None or not self.joules:
            return None
        return self.ops / self.joules


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # figures that are not rows
    # PNG file stem -> (title, trace events)
    timelines: dict[str, tuple[str, list[Any]]] = field(default_factory=dict)
    failed: bool = False
    files: list[str] = field(default_factory=list)  # written into the output folder so far
    bandwidth_ratio: float | None = None  # one thread's native sum time over two threads


SECTION_BASELINES = {
    "overheads": "baseline: ThreadPoolExecutor for fork-join, one thread for the native kernel",
    "ops": "baseline: NumPy on one core, float64",
    "matmul": "baseline: NumPy (OpenBLAS, its own threads)",
    "floor": "baseline: the same work serially, the function inline or NumPy's call; "
             "floor 0.95x, 0.8x at <= 1e3 elements",
    "slow core": "busy process pinned to cpu1; "
                 f"RUNTIME_TOPOLOGY={SLOW_CORE_TOPOLOGY}",
    "transparent": "baseline: the same code with NumPy's own loops, float64; runtime: "
                   "NumPy's loops patched",
}


@dataclass
class Context:
    """What every step gets: the plan, the energy meter, the output
    folder (trace files) and the results to add to."""
    plan: Plan
    meter: Meter | None
    out_dir: Path
    results: Results = field(default_factory=Results)


Step = Callable[[Context], None]


def steps(plan: Plan) -> list[tuple[str, Step]]:
    """The plan as (label, step) pairs, in the order they run."""
    out: list[tuple[str, Step]] = []
    if "overheads" in plan.cases:
        out.append(("overheads: fork-join", _fork_join))
        if not plan.quick:
            out += [("overheads: skewed native kernel", _skewed),
                    ("overheads: idle CPU", _idle_burn)]
    for size in plan.sizes:
        for op in plan.ops:
            out.append((f"{op} {size_label(size)}",
                        lambda ctx, op=op, size=size: _op(ctx, op, size)))
    if "matmul" in plan.cases:
        out.append((f"matmul {plan.matmul_size}", _matmul))
    if "transparent" in plan.cases:
        out.append(("transparent: memory bandwidth", _bandwidth))
        for case in transparent.CASES:
            out.append((f"transparent: {case.name} {size_label(case.size)}",
                        lambda ctx, case=case: _transparent(ctx, case)))
    if "floor" in plan.cases:
        from . import floor
        for entry in floor.ENTRIES:
            out.append((f"floor: {entry}", lambda ctx, entry=entry: _floor(ctx, entry)))
    if plan.timeline:
        out.append(("trace timeline", _timeline))
    if plan.emulate_slow_core:
        out.append(("emulated slow core", _slow_core))
    return out


def run(plan: Plan, meter: Meter | None, out_dir: Path, progress: bool = True) -> Results:
    """Every step of the plan, with a progress bar over them on stderr."""
    ctx = Context(plan, meter, out_dir)
    todo = steps(plan)
    bar = _progress.progress_bar(len(todo), "bench", "case", disable=not progress, leave=False)
    try:
        for label, step in todo:
            bar.set_postfix_str(label)
            step(ctx)
            bar.update(1)
    finally:
        bar.close()
        cases.shutdown_thread_pool()
    return ctx.results


def op_case(op: str, size: int) -> cases.Case:
    """runtime.numpy's case for op at size: benchmarks/'s own where it has
    one (same kernel, calls and target), else built the same way."""
    known = numpy_cases.CASES.get(f"{op}_{size_label(size)}")  # e.g. "exp_1e6"
    if known is not None:
        return dataclasses.replace(known, data=None)  # data made here, freed after
    target = ">= 0.9x" if size <= 10**4 else ""
    return numpy_cases.ufunc_case(op, size, target, 9,
                                         calls=max(1, ELEMENTS_PER_BLOCK // size),
                                         binary=op in BINARY_OPS)


def repeats_for(plan: Plan, case_repeats: int) -> int:
    if plan.repeats is not None:
        return plan.repeats
    return min(case_repeats, QUICK_REPEATS) if plan.quick else case_repeats


def rows_per_call(section: str, case: str, size: int | None,
                  measured: dict[str, Measurement], baseline: str, calls: int, ops: float,
                  op_unit: str, target: str,
                  speedup_over: dict[str, Measurement] | None = None) -> list[Row]:
    """Rows per call; speedup of each over the baseline's time (or over the
    baseline of the pass it was measured in, `speedup_over`), with the
    spread of single rounds; the target, met or not, on runtime's row."""
    rows = []
    for impl, m in measured.items():
        base = (speedup_over or {}).get(impl, measured[baseline])
        speedup = base.seconds / m.seconds
        spread = speedup_spread(base, m) or (None, None)
        mine = target if impl == "runtime" else ""
        rows.append(Row(section, case, size, impl, m.seconds / calls, speedup,
                        m.cpu_seconds / calls, None if m.joules is None else m.joules / calls,
                        m.energy_source, ops, op_unit, mine, m.energy_note,
                        target_met(mine, speedup, m.seconds / calls), *spread))
    return rows


def target_met(target: str, speedup: float, seconds: float) -> bool | None:
    """Whether a row meets a target of the forms ">= 1.9x" (speedup, as
    printed: two decimals) or "<= 5 us" (time per call); None for other
    targets and none.

    >>> target_met(">= 1.9x", 1.896, 0.1), target_met(">= 1.9x", 1.89, 0.1)
    (True, False)
    >>> target_met("<= 5 us", 0.0, 1.2e-6), target_met("(reference)", 1.0, 1.0)
    (True, None)
    """
    found = re.fullmatch(r">= ([0-9.]+)x", target)
    if found:
        return round(speedup, 2) >= float(found[1])
    found = re.fullmatch(r"<= ([0-9.]+) (ns|us|ms|s)", target)
    if found:
        scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[found[2]]
        return seconds <= float(found[1]) * scale
    return None


def _op(ctx: Context, op: str, size: int) -> None:
    plan, meter = ctx.plan, ctx.meter
    case = op_case(op, size)
    data = case.setup()
    repeats = repeats_for(plan, case.repeats)
    sides = {"NumPy": case.baseline, "runtime": case.candidate}
    measured = measure_interleaved(sides, data, repeats, case.pause, meter)
    speedup_over = {}
    competitors = {name: fn for name, fn in numpy_cases.competitors(case).items()
                   if name in plan.compare}
    if competitors:
        # Competitors in a pass of their own, each interleaved with NumPy:
        # their threads spin after a call (numba's ~10 ms) and would slow
        # runtime's next call (benchmarks/compare.py).
        theirs = measure_interleaved({"NumPy": case.baseline, **competitors}, data, repeats,
                                     case.pause, meter)
        for name in competitors:
            measured[name] = theirs[name]
            speedup_over[name] = theirs["NumPy"]
    ctx.results.rows += rows_per_call("ops", op, size, measured, "NumPy", case.calls, size,
                                      "elem", case.target, speedup_over)


def _matmul(ctx: Context) -> None:
    plan, meter = ctx.plan, ctx.meter
    n = plan.matmul_size
    case = numpy_cases.CASES["matmul_2000"]
    a, b = numpy_cases.matrices(n)
    measured = measure_interleaved({"NumPy": case.baseline, "runtime": case.candidate},
                                   (a, b), repeats_for(plan, case.repeats), case.pause, meter)
    ctx.results.rows += rows_per_call("matmul", "matmul", n, measured, "NumPy", 1,
                                      2.0 * n**3, "flop", case.target)


def _bandwidth(ctx: Context) -> None:
    one, two, ratio = transparent.bandwidth_ratio(repeats=repeats_for(ctx.plan, 10))
    ctx.results.bandwidth_ratio = ratio
    ctx.results.notes.append(f"memory bandwidth: a native sum of {size_label(transparent.BIG)} "
                             f"float64 takes {one * 1e3:.2f} ms on one thread, "
                             f"{two * 1e3:.2f} ms on two: {ratio:.2f}x (the target of the "
                             "transparent x.sum())")


def _transparent(ctx: Context, case: transparent.Case) -> None:
    if ctx.results.bandwidth_ratio is None:
        _bandwidth(ctx)
    measured = transparent.measure(case, repeats_for(ctx.plan, 9), ctx.meter)
    target = transparent.target_for(case, ctx.results.bandwidth_ratio or 1.0)
    ctx.results.rows += rows_per_call("transparent", case.name, case.size, measured, "NumPy",
                                      case.calls, case.size, "elem", target)
    if not transparent.same_results(case):
        ctx.results.failed = True
        ctx.results.notes.append(f"transparent {case.name} {size_label(case.size)}: the "
                                 "patched result differs from NumPy's")


def _loop(fn: Callable[[Any], Any], calls: int) -> Callable[[Any], None]:
    def run(data: Any) -> None:
        for _ in range(calls):
            fn(data)
    return run


def _floor(ctx: Context, entry: str) -> None:
    """One entry point against its serial call at the plan's sizes, hot
    and interleaved with plain NumPy calls (runtime/bench/floor.py)."""
    from . import floor
    repeats = repeats_for(ctx.plan, 5)
    for cell in floor.sweep([entry], list(ctx.plan.sizes), ["hot", "interleaved"], repeats):
        reference = entry in floor.REFERENCES
        target = "(reference)" if reference else f">= {floor.floor_for(cell.size)}x"
        case = f"{entry}, {cell.mode}"
        ctx.results.rows += [
            Row("floor", case, cell.size, "serial", cell.serial_s, 1.0, None, None,
                NOT_MEASURED, cell.size, "elem"),
            Row("floor", case, cell.size, "runtime", cell.runtime_s, cell.ratio, None, None,
                NOT_MEASURED, cell.size, "elem", target,
                met=None if reference else not cell.below)]


def _fork_join(ctx: Context) -> None:
    plan, meter = ctx.plan, ctx.meter
    case = cases.CASES["fork_join_tiny"]
    calls = FORK_JOIN_CALLS
    sides = {"ThreadPoolExecutor": _loop(case.baseline, calls),
             "runtime": _loop(case.candidate, calls)}
    measured = measure_interleaved(sides, None, repeats_for(plan, 15), 0.0, meter)
    ctx.results.rows += rows_per_call("overheads", "fork-join, 2 chunks", None,
                                      measured, "ThreadPoolExecutor", calls, 1.0, "fork-join",
                                      case.target)


def _skewed(ctx: Context) -> None:
    plan, meter = ctx.plan, ctx.meter
    case = cases.CASES["parallel_for_skewed"]
    data = case.setup()
    measured = measure_interleaved({"one thread": case.baseline, "runtime": case.candidate},
                                   data, repeats_for(plan, case.repeats), 0.0, meter)
    n = len(data[0])
    ctx.results.rows += rows_per_call("overheads", "native, cost i ~ i", n,
                                      measured, "one thread", 1, n, "index", case.target)


def _idle_burn(ctx: Context) -> None:
    burns = sorted(cases.idle_burn())
    ctx.results.notes.append(f"CPU burned in the 1 s after work stops: median "
                             f"{burns[len(burns) // 2] * 1e3:.2f} ms of "
                             f"{', '.join(f'{b * 1e3:.2f}' for b in burns)} ms "
                             "(target <= 1 ms)")


def _timeline(ctx: Context) -> None:
    trace = getattr(runtime, "trace", None)
    if trace is None:
        ctx.results.notes.append("timeline skipped: this build has no runtime.trace yet")
        return
    title = (f"runtime.map(np.sin, x, grain={TIMELINE_GRAIN}), {size_label(TIMELINE_ELEMENTS)} "
             "float64")
    ctx.results.timelines["timeline"] = (title, trace_map(trace, ctx.out_dir / "trace.json"))
    ctx.results.files.append("trace.json")
    ctx.results.notes.append(f"trace of {title}: trace.json (Chrome Trace Event JSON: open "
                             "it in Perfetto or chrome://tracing)")


def trace_map(trace: Callable[[str], Any], path: Path,
              qos: runtime.QosLevel | None = None) -> list[Any]:
    """Events of one runtime.map(np.sin, x, qos=qos) over TIMELINE_ELEMENTS
    in chunks of TIMELINE_GRAIN rows, traced into path (the warm-up call is
    not traced).  The grain is fixed so that the traced call always splits:
    left to the cost model, a call may run inline (the size's one serial
    reference run, or a size where parallel lost lately)."""
    x = np.random.default_rng(0).random(TIMELINE_ELEMENTS)
    runtime.map(np.sin, x, qos=qos, grain=TIMELINE_GRAIN)
    with trace(str(path)) as tr:
        runtime.map(np.sin, x, qos=qos, grain=TIMELINE_GRAIN)
    return list(tr.events)


def _slow_core(ctx: Context) -> None:
    """The busy-cpu1 scenario, in a child process: RUNTIME_TOPOLOGY must be
    set before runtime reads its topology, and this process has read it."""
    plan, results = ctx.plan, ctx.results
    command = [sys.executable, "-m", "runtime.bench.slow_core", "--out", str(ctx.out_dir)]
    if plan.quick:
        command.append("--quick")
    if plan.repeats is not None:
        command += ["--repeats", str(plan.repeats)]
    env = {**os.environ, "RUNTIME_TOPOLOGY": SLOW_CORE_TOPOLOGY}
    child = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    if child.returncode != 0:
        results.failed = True
        results.notes.append("emulated slow core failed: "
                             + (child.stderr.strip().splitlines() or ["no output"])[-1])
        return
    found = json.loads(child.stdout.strip().splitlines()[-1])
    results.rows += [Row(**row) for row in found["rows"]]
    results.notes += found["notes"]
    for stem, (title, events) in found["timelines"].items():
        results.timelines[stem] = (title, [CarriedEvent(**e) for e in events])
    results.files += found["files"]


@dataclass(frozen=True)
class CarriedEvent:
    """A trace event carried over from the child process (the fields of
    runtime.trace's records that the timeline uses)."""
    name: str
    thread: str
    tid: int
    core_kind: str
    cpu: int
    start: float
    duration: float
    job: int
    lo: int
    hi: int
    level: str | None


def event_dict(event: Any) -> dict[str, Any]:
    return {f.name: getattr(event, f.name) for f in dataclasses.fields(CarriedEvent)}


def energy_sources(rows: list[Row]) -> list[str]:
    seen = []
    for row in rows:
        if row.energy_source != NOT_MEASURED and row.energy_source not in seen:
            seen.append(row.energy_source)
    return seen
