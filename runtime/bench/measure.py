"""Time, CPU time and energy of benchmark calls, the competitors
interleaved in one process (docs/BENCHMARKING.md): shared by
python -m runtime bench and benchmarks/compare.py.

Each round runs every function once, in order, as one timed block; a
function's time is its best block (noise on a shared machine only ever
adds time).  Its CPU time (process CPU time over the block, all threads)
and energy (runtime.energy's meter around the block) are the median of
its blocks: a RAPL counter ticks about once a millisecond, so a single
short block can read 0 J or twice its share, and the median of many is
the honest figure.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable, ContextManager

Meter = Callable[[], ContextManager[Any]]

# Where joules come from when no meter is given (benchmarks/compare.py
# times only) or runtime.energy is not in this build.
NOT_MEASURED = "not measured"


@dataclass(frozen=True)
class Measurement:
    seconds: float  # best block
    cpu_seconds: float  # median block, process CPU time (all threads)
    joules: float | None  # median block; None when not measured
    energy_source: str  # "rapl", "darwin-rusage", "estimate" or NOT_MEASURED
    energy_note: str = ""  # why a counter was unreadable, when one was
    blocks: tuple[float, ...] = ()  # every block's seconds, round by round (the spread)


def default_meter() -> Meter | None:
    """runtime.energy.meter, or None where this build has no runtime.energy."""
    try:
        from .. import energy
    except ImportError:
        return None
    return energy.meter  # type: ignore[no-any-return]


def measure_interleaved(functions: dict[str, Callable[[Any], Any]], data: Any, repeats: int,
                        pause: float = 0.0, meter: Meter | None = None,
                        warmup: int = 2,
                        prepare: dict[str, Callable[[], None]] | None = None,
                        ) -> dict[str, Measurement]:
    """Each function on `data`, `repeats` rounds, interleaved; `pause`
    seconds of quiet before every block (OpenBLAS's threads spin ~0.1 s
    after a call and would slow whatever runs next); `warmup` calls of
    each first (caches, the pool's calibration, JIT, cost models).
    `prepare[name]`, where given, runs before each of that function's
    blocks and warm-ups, untimed (transparent mode: patch or restore
    NumPy's loops)."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    prepare = prepare or {}
    for name, fn in functions.items():
        prepare.get(name, _nothing)()
        for _ in range(warmup):
            fn(data)
    blocks: dict[str, list[float]] = {name: [] for name in functions}
    cpu: dict[str, list[float]] = {name: [] for name in functions}
    joules: dict[str, list[float]] = {name: [] for name in functions}
    sources: dict[str, set[str]] = {name: set() for name in functions}
    notes: dict[str, set[str]] = {name: set() for name in functions}
    for _ in range(repeats):
        for name, fn in functions.items():
            prepare.get(name, _nothing)()
            if pause:
                time.sleep(pause)
            if meter is None:
                seconds, cpu_seconds = _block(fn, data)
            else:
                with meter() as m:
                    seconds, cpu_seconds = _block(fn, data)
                if m.joules is not None:
                    joules[name].append(float(m.joules))
                    sources[name].add(str(m.source))
                notes[name].update(f"{counter}: {reason}" for counter, reason in m.unreadable)
            blocks[name].append(seconds)
            cpu[name].append(cpu_seconds)
    return {name: Measurement(min(blocks[name]), statistics.median(cpu[name]),
                              statistics.median(joules[name]) if joules[name] else None,
                              "+".join(sorted(sources[name])) or NOT_MEASURED,
                              "; ".join(sorted(notes[name])), tuple(blocks[name]))
            for name in functions}


def speedup_spread(baseline: Measurement, measured: Measurement) -> tuple[float, float] | None:
    """The least and the greatest speedup of one round: the baseline's
    block over the measured one's block of the same round (they ran side
    by side).  The best-of speedup (best baseline block over best block)
    always lies between the two.  None without blocks.

    >>> base = Measurement(1.0, 1.0, None, NOT_MEASURED, blocks=(1.0, 1.5))
    >>> speedup_spread(base, Measurement(0.5, 1.0, None, NOT_MEASURED, blocks=(0.5, 1.0)))
    (1.5, 2.0)
    """
    if not baseline.blocks or len(baseline.blocks) != len(measured.blocks):
        return None
    ratios = [b / m for b, m in zip(baseline.blocks, measured.blocks)]
    return min(ratios), max(ratios)


def _nothing() -> None:
    pass


def _block(fn: Callable[[Any], Any], data: Any) -> tuple[float, float]:
    c0 = time.process_time()
    t0 = time.perf_counter()
    fn(data)
    t1 = time.perf_counter()
    return t1 - t0, time.process_time() - c0
