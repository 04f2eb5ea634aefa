"""Per call: run inline or on the pool, and how finely to split.

Decisions come from measured costs, not from size thresholds:

* the pool's own overheads, measured once per process on first use
  (:func:`overheads`): what it costs to go parallel at all (waking a
  worker, stealing, handing over the GIL) and what each Python chunk costs;
* the cost per row of the function being run, measured on the call's own
  first chunk and remembered per function and dtype (:class:`CostCache`),
  so that a repeated call on small data runs inline in one piece.

From those, a call runs inline when the pool could not make it at least
10% faster, and otherwise splits into chunks big enough that per-chunk
overhead stays under ~5% but small enough (``LEAVES_PER_THREAD``) that a
slow core finishing its last chunk does not hold up the job for long.
"""

from __future__ import annotations

import ctypes
import math
import os
import sys
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Hashable, Iterator

import numpy as np

from . import _config, _core, _inline, _kernels
from ._blas import single_threaded_blas

Body = Callable[[int, int], object]

# A chunk must cost at least this many times the per-chunk overhead (~5%).
CHUNK_COST_RATIO = 20
# At least this many leaves per thread when the work allows (a worker that
# wakes late still finds pieces to take, and the last leaf is short).
MIN_LEAVES_PER_THREAD = 4
# At most this many leaves per thread: bounds the tail a slow core adds to
# a job to about 1/(2 * LEAVES_PER_THREAD) of the ideal time (1.5% for 32).
LEAVES_PER_THREAD = 32
# A Python chunk lasts at least this many GIL hand-off latencies: measured
# here, shorter chunks make the threads take turns rather than overlap.
# With no GIL (3.13t) the latency it counts is a worker's wake-up and steal;
# `python benchmarks/free_threaded.py --chunks` measures pure Python chunks
# of 1/2 to 8 such latencies, 2 threads against 1, on either build.  On
# 3.13t (2 cores) all of them ran 1.9-2.1x and the dispatch cost calibrated
# ~10x lower than under the GIL, so the same rule holds there and costs
# next to nothing.
HANDOFFS_PER_CHUNK = 4
# Go parallel only if the model predicts at least this speedup.
MIN_GAIN = 1.1
# A probe is trusted once its work is this many times the chunk overhead.
PROBE_RELIABLE_RATIO = 10
# A first probe covers this fraction of the rows (then grows 8x per probe).
FIRST_PROBE_FRACTION = 64
COST_CACHE_SIZE = 512
# A size where a parallel run lost to the serial prediction runs inline for
# this many calls before parallel is tried there again.
RETRY_PARALLEL_AFTER = 32
# ... doubled each time parallel loses again there, up to this many calls:
# a size where parallel always loses (a*b+c of 1e5 doubles in Python
# chunks: 4x serial) then costs ~0.1% rather than 2 lost runs in 34 (~20%).
MAX_INLINE_STRETCH = 4096
# ... a loss being a parallel run this much slower than the size's best
# serial run: the floor promised is 0.95x serial, and one parallel run has
# to be clearly slower for noise not to flag it.
LOST_MARGIN = 1.1
# ... judged on the median of the last JUDGED_RUNS parallel runs there: one
# run a busy moment delayed is no verdict, and runs that alternate between
# fast and slow (GIL-bound leaves: 250 us, 800 us, 250 us... against 330
# serial) are.
JUDGED_RUNS = 3
# A size bucket's one serial reference run (wants_serial_reference) is made
# only for calls predicted to take at most this long.  The run is the call
# itself, inline: never slower than serial, it only forgoes the parallel
# gain once.  map_items of 1e5 small NumPy items (0.3 s) ran 0.4x serial,
# every call, without one.
SERIAL_REFERENCE_MAX_S = 1.0
# ... and again every this many parallel runs at a size: the best serial
# time stays current (at most 1/32 of the calls forgo the parallel gain).
SERIAL_REFERENCE_EVERY = 32
# Until the pool's overheads are measured (a millisecond or two, with the
# workers' start), a call whose serial time is predicted below this runs
# inline: measuring then would cost more than the call could gain, and the
# promise is never to be slower than the serial call.
CALIBRATE_WHEN_S = 1e-3
# ... judged from a first piece that took at least this long (see
# _before_calibration).
PROBE_TRUSTED_S = 1e-4
# ... unless the calls run inline that way add up to this much: then the
# pool's measurement (~0.5-1.5 ms) is small against the work, and calls that
# might gain from it (a program of many 1e5-element calls, ~70 us each,
# would otherwise never measure the pool and never split) get their chance.
CALIBRATE_AFTER_S = 5e-3
_inline_before_calibration_s = 0.0

# What the last run() on this thread did: decided to run inline or not.
# The entry points read it right after, to note calls that may skip the
# measured path next time (runtime/_inline.pyx).
_decision = threading.local()


def ran_inline() -> bool:
    """Whether this thread's last run() ran inline by decision (not by a
    forced grain, not split, not finished while probing)."""
    return getattr(_decision, "inline", False)


def lost_stretch() -> int:
    """For an entry point whose compiled path can run calls inline: the
    rest of the lost stretch this thread's last run() ran inline in (a
    size where parallel lost lately), taken off the model (see
    take_lost_stretch); 0 if none.  Entry points that cannot (reductions,
    whose inline run must still be their leaves) leave it to the model."""
    stretch_of = getattr(_decision, "stretch_of", None)
    if stretch_of is None:
        return 0
    _decision.stretch_of = None
    return take_lost_stretch(*stretch_of)


@dataclass(frozen=True)
class Overheads:
    dispatch_s: float  # cost of running a job of Python chunks on the pool rather than inline
    chunk_s: float  # cost of each Python chunk: the call and the GIL hand-off
    native_chunk_s: float  # cost of each native chunk
    # Cost of running a job of native chunks on the pool rather than inline:
    # no GIL to hand over, so a spinning worker starts at once; a parked one
    # starts late, but the caller meanwhile takes the chunks itself.
    native_dispatch_s: float = 0.0


_overheads: Overheads | None = None
_overheads_threads = 0  # the thread count _overheads was measured with
_overheads_lock = threading.Lock()


def gil_enabled() -> bool:
    """Whether Python code runs under the GIL: always, but on a
    free-threaded interpreter (3.13t) where nothing turned it back on."""
    return getattr(sys, "_is_gil_enabled", lambda: True)()


def _best_of(repeats: int, run: Callable[[], object]) -> float:
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return best


def _calibrate(threads: int) -> Overheads:
    """Measure the pool on this machine, now (a few milliseconds).

    * dispatch: two chunks of GIL-free work (NumPy loops) in parallel versus
      one of them alone.  The excess is what going parallel costs: a worker
      steals, then waits for the GIL, which a sleeping thread gets only after
      a wake-up (10-30 us on this kind of VM).
    * chunk: many empty Python chunks; what each chunk's call and GIL
      round trip cost when nothing else holds the GIL.  Under the GIL the
      chunks take turns, and each costs the job its wall time (doubled
      where threads hand the GIL over); with no GIL (free-threaded 3.13t)
      they overlap, and each thread pays for its own: the wall time per
      chunk times the threads.

    Minimum of several runs (noise only adds time), clamped to sane bounds
    so that a hiccup cannot wreck later decisions."""
    noop: Body = lambda start, stop: None  # noqa: E731
    per_chunk = 16384  # elements: ~15-25 us of np.exp on current cores
    x = np.ones(2 * per_chunk)
    out = np.empty_like(x)

    def work(start: int, stop: int) -> None:
        for i in range(start, stop):
            np.exp(x[i * per_chunk:(i + 1) * per_chunk], out=out[i * per_chunk:(i + 1) * per_chunk])

    _core.parallel_for_python(work, 0, 2, 1, 1, 1)  # start the workers, warm up
    one = _best_of(5, lambda: work(0, 1))
    two = _best_of(5, lambda: _core.parallel_for_python(work, 0, 2, 1, 1, 1))
    chunks = 256
    empty = _best_of(3, lambda: _core.parallel_for_python(noop, 0, chunks, 1, 1, 1)) / chunks
    # The same two pieces of work as native chunks (the shipped sum kernel).
    summed, parts = np.ones(2 * 4 * per_chunk), np.empty(2)  # (the context points into these)
    sums = _kernels.sum_context(summed, parts)
    sum_kernel, sum_ctx = _kernels.kernel("sum"), ctypes.addressof(sums)
    native_one = _best_of(5, lambda: _core.call_native(sum_kernel, sum_ctx, 0, 1))
    native_two = _best_of(5, lambda: _core.parallel_for_native(sum_kernel, sum_ctx, 0, 2, 1, 1, 1))
    return Overheads(
        dispatch_s=min(max(two - one, 2e-6), 200e-6),
        chunk_s=min(max(empty * (min(threads, 2) if gil_enabled() else threads), 0.3e-6), 50e-6),
        # csrc/tests/bench_spawn.c measures ~6 ns per native chunk; 50 ns is a safe bound.
        native_chunk_s=50e-9,
        native_dispatch_s=min(max(native_two - native_one, 1e-6), 200e-6),
    )


def overheads() -> Overheads:
    """The pool's overheads, measured on first use and again after the
    thread count changes (more threads, more hand-offs)."""
    global _overheads, _overheads_threads
    threads = _config.num_threads()
    if _overheads is None or _overheads_threads != threads:
        with _overheads_lock:
            if _overheads is None or _overheads_threads != threads:
                if threads > 1:
                    _overheads = _calibrate(threads)
                else:
                    _overheads = Overheads(dispatch_s=0.0, chunk_s=1e-6, native_chunk_s=50e-9)
                _overheads_threads = threads
                measured = _overheads
                _inline.set_cutoffs(
                    inline_cutoff(threads, measured.chunk_s, measured.dispatch_s),
                    inline_cutoff(threads, measured.native_chunk_s, measured.native_dispatch_s))
    return _overheads


def calibrated() -> bool:
    """Whether the overheads for the current thread count are measured."""
    return _overheads is not None and _overheads_threads == _core.configured_threads()


class CostModel:
    """How long one call of a function takes on `rows` rows: the fastest
    time seen at the nearest measured size, scaled in proportion.

    Sizes are bucketed by powers of two and each bucket keeps its fastest
    time per row (noise only ever adds time).  Serial calls give exact
    points; a parallel run an upper bound (wall time x threads), which
    counts only where it beats what is known.  Proportional scaling from
    the nearest size errs in the safe directions: scaling up from a small
    call counts its fixed cost many times (toward parallel, for work that
    is big anyway); scaling down from a big call leaves it out (toward
    inline, where the call is small).  A straight line a + b * rows through
    such points was tried and was fragile: one slow first call, or work
    whose cost grows along the range, made the intercept absurd."""

    __slots__ = ("points", "serial", "serial_runs", "lost", "referenced_at", "recent",
                 "parallel_runs", "stretch", "retrying")

    def __init__(self) -> None:
        self.points: dict[int, tuple[int, float]] = {}
        # Fastest seconds per row of serial runs (inline calls and probes),
        # per size bucket: what a parallel run at that size must beat.
        self.serial: dict[int, float] = {}
        self.serial_runs: dict[int, int] = {}  # how many, per bucket
        # Size buckets where a parallel run took longer than the serial
        # call was predicted to: how many more calls there run inline
        # before parallel is tried again (the machine may have been busy,
        # or the body holds the GIL more than the model knows).
        self.lost: dict[int, int] = {}
        # Parallel runs per size bucket, and their count when the last
        # serial reference run was made (or skipped) there.
        self.parallel_runs: dict[int, int] = {}
        self.referenced_at: dict[int, int] = {}
        # The last JUDGED_RUNS parallel runs' times over the serial time,
        # per size bucket.
        self.recent: dict[int, list[float]] = {}
        # The next inline stretch per size bucket: RETRY_PARALLEL_AFTER,
        # doubled each time the first parallel run after a stretch loses
        # again (up to MAX_INLINE_STRETCH), back to the start on a win; and
        # the buckets whose next parallel run is such a retry (one loss is
        # then a verdict: the size has lost before).
        self.stretch: dict[int, int] = {}
        self.retrying: set[int] = set()

    def parallel_lost(self, rows: int) -> bool:
        """Whether to run this size inline because parallel lost here lately
        (counts down: after RETRY_PARALLEL_AFTER such calls, try again)."""
        bucket = rows.bit_length()
        left = self.lost.get(bucket, 0)
        if left <= 0:
            return False
        self.lost[bucket] = left - 1
        if left == 1:
            self.retrying.add(bucket)
        return True

    def wants_serial_reference(self, rows: int) -> bool:
        """Whether to run this call inline as a serial reference for the
        parallel runs at its size (note_parallel judges them by it): at a
        size with fewer than two serial runs of its own, once, and then
        every SERIAL_REFERENCE_EVERY parallel runs, for calls predicted at
        most SERIAL_REFERENCE_MAX_S.  Without references a size that only
        ever ran parallel was never found to lose (reduce of 1e6 doubles:
        0.86x, always parallel).  One early serial run is no reference: a
        function's first calls pay cold caches and their outputs' page
        faults (runtime.numpy.exp of 1e5 doubles: 226-386 us in its first
        two calls, 65 us warm, and parallel at 76 us looked like a win);
        the later ones keep the best serial time current."""
        bucket = rows.bit_length()
        runs = self.parallel_runs.get(bucket, 0)
        if self.referenced_at.get(bucket) == runs:
            return False  # one per stretch of parallel runs
        first = bucket not in self.referenced_at and self.serial_runs.get(bucket, 0) < 2
        if not first and (runs == 0 or runs % SERIAL_REFERENCE_EVERY):
            return False
        self.referenced_at[bucket] = runs
        return self.predict(rows) <= SERIAL_REFERENCE_MAX_S

    def judged(self, rows: int) -> bool:
        """A serial reference at this size exists, and parallel has not
        lost here lately: parallel runs at this size may skip the plan
        (their time still goes to note_parallel)."""
        bucket = rows.bit_length()
        return (bucket in self.referenced_at or self.serial_runs.get(bucket, 0) >= 2) \
            and self.lost.get(bucket, 0) <= 0 \
            and (self.parallel_runs.get(bucket, 0) + 1) % SERIAL_REFERENCE_EVERY != 0

    def note_parallel(self, rows: int, seconds: float) -> None:
        """A parallel run's wall time, judged against serial runs of the same
        size bucket only (a rate scaled up from smaller calls, cache-warm
        and free of page faults, would make big parallel calls look lost):
        the median of the last JUDGED_RUNS runs over LOST_MARGIN times the
        best serial time sends the size inline for a stretch."""
        bucket = rows.bit_length()
        self.parallel_runs[bucket] = self.parallel_runs.get(bucket, 0) + 1
        rate = self.serial.get(bucket)
        if rate is None:
            return
        ratio = seconds / (rate * rows)
        if bucket in self.retrying:
            # The first run after a lost stretch: its own verdict.
            self.retrying.discard(bucket)
            verdict = ratio
        else:
            recent = self.recent.setdefault(bucket, [])
            recent.append(ratio)
            del recent[:-JUDGED_RUNS]
            # One copy, judged alone: another thread may append to `recent`
            # meanwhile (3.13t).
            ordered = sorted(recent)
            verdict = ordered[len(ordered) // 2] if len(ordered) == JUDGED_RUNS else 0.0
        if verdict <= LOST_MARGIN:
            if verdict > 0.0:
                self.stretch.pop(bucket, None)  # parallel holds here: short stretches again
            return
        self.recent.pop(bucket, None)
        stretch = self.stretch.get(bucket, RETRY_PARALLEL_AFTER)
        self.lost[bucket] = stretch
        self.stretch[bucket] = min(2 * stretch, MAX_INLINE_STRETCH)

    def add(self, rows: int, seconds: float, serial: bool = True) -> None:
        bucket = rows.bit_length()
        old = self.points.get(bucket)
        if old is None:
            # A new size: a new dict, so that rate() and near() on another
            # thread iterate one that does not grow under them (no GIL on
            # 3.13t; under the GIL too, between their bytecodes).
            self.points = {**self.points, bucket: (rows, seconds)}
        elif seconds / rows < old[1] / old[0]:
            self.points[bucket] = (rows, seconds)
        if serial:
            self.serial_runs[bucket] = self.serial_runs.get(bucket, 0) + 1
            rate = seconds / rows
            if rate < self.serial.get(bucket, math.inf):
                self.serial[bucket] = rate

    def knows(self, rows: int) -> bool:
        """A time was measured at about this size (same power of two)."""
        return rows.bit_length() in self.points

    def near(self, rows: int) -> bool:
        """A time was measured within a factor of 8 of this size: close
        enough to predict from; further away, measure first."""
        bucket = rows.bit_length()
        return any(abs(b - bucket) <= 3 for b in self.points)

    def rate(self, rows: int) -> float:
        """Seconds per row at about this size."""
        bucket = rows.bit_length()
        k, t = self.points[min(self.points, key=lambda b: (abs(b - bucket), -b))]
        return t / k

    def predict(self, rows: int) -> float:
        return self.rate(rows) * rows


class CostCache:
    """A CostModel per (function, dtypes, ...) key; LRU-bounded."""

    def __init__(self, size: int = COST_CACHE_SIZE) -> None:
        self._models: OrderedDict[Hashable, CostModel] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: Hashable | None) -> CostModel | None:
        if key is None:
            return None
        if _core.FREE_THREADED_BUILD:
            # 3.13t's OrderedDict may crash when read while another thread
            # reorders it (CPython gh-125996); under the GIL a read is safe.
            with self._lock:
                return self._models.get(key)
        return self._models.get(key)

    def record(self, key: Hashable | None, rows: int, seconds: float,
               serial: bool = True) -> None:
        """A call's time; `serial`: it ran on one thread (not wall x threads
        of a parallel run)."""
        if key is None or rows <= 0:
            return
        with self._lock:
            model = self._models.get(key)
            if model is None:
                model = self._models[key] = CostModel()
                while len(self._models) > self._size:
                    self._models.popitem(last=False)
            else:
                self._models.move_to_end(key)
            model.add(rows, seconds, serial)


costs = CostCache()


def _after_fork_child() -> None:
    # A thread of the parent that held one of these locks is gone in the
    # child: fresh locks (the measured costs still hold there).
    global _overheads_lock
    _overheads_lock = threading.Lock()
    costs._lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_child)


def cost_key(func: object, *parts: Hashable) -> Hashable | None:
    """What identifies a function's cost: its code object (so a lambda
    re-created on every call shares one entry), else the object itself."""
    code = getattr(func, "__code__", None)
    if code is None:
        inner = getattr(func, "__func__", None) or getattr(func, "func", None)
        code = getattr(inner, "__code__", None)
    ident = code if code is not None else func
    try:
        hash(ident)
    except TypeError:
        return None
    return (ident, *parts)


@dataclass(frozen=True)
class Split:
    grain: int  # rows, >= align
    max_chunk: int  # rows, >= grain


def inline_cutoff(threads: int, overhead_s: float, dispatch_s: float) -> float:
    """Serial time below which a call runs inline: split one chunk per
    thread it would take serial/threads + dispatch + overhead, and that
    must be MIN_GAIN times faster than serial to be worth it."""
    spare = 1.0 - MIN_GAIN / threads
    return math.inf if spare <= 0 else MIN_GAIN * (dispatch_s + overhead_s) / spare


def plan(row_s: float, rows: int, threads: int, chunk_s: float, dispatch_s: float,
         align: int = 1, cache_rows: int = 0) -> Split | None:
    """How to split `rows` rows costing `row_s` seconds each over `threads`
    threads; None when running inline in one call is (about) as fast."""
    if threads < 2 or rows < 2:
        return None
    if row_s * rows < inline_cutoff(threads, chunk_s, dispatch_s):
        return None
    # A chunk should cost CHUNK_COST_RATIO times its overhead, and several
    # hand-off latencies (dispatch), so that threads overlap rather than take
    # turns at the GIL.
    # Both floors beat MIN_LEAVES_PER_THREAD: with many threads and little
    # work, fewer threads with long chunks beat all threads taking turns
    # (measured on 16 cores: exp 1e6 fell below 1x with 64 short chunks).
    chunk_time = max(CHUNK_COST_RATIO * chunk_s, HANDOFFS_PER_CHUNK * dispatch_s)
    floor = max(align, math.ceil(chunk_time / max(row_s, 1e-12)))
    grain = max(floor, min(rows // (MIN_LEAVES_PER_THREAD * threads), 4 * floor))
    grain = min(grain, max(align, rows // 2))
    grain = -(-grain // align) * align
    max_chunk = max(grain, math.ceil(rows / (LEAVES_PER_THREAD * threads)))
    if cache_rows > 0:
        max_chunk = max(grain, min(max_chunk, cache_rows))
    return Split(grain=grain, max_chunk=max_chunk)


# Set by forced_split (tests): every run() splits at this grain.
_forced_grain: int | None = None


@contextmanager
def forced_split(grain: int) -> Iterator[None]:
    """For tests: inside, every run() without grain= splits its rows into
    chunks of `grain` (to 2 * grain) rows on the pool, however small the
    work, so that the parallel code paths run on small inputs.  Not
    thread-safe; tests only."""
    global _forced_grain
    before, _forced_grain = _forced_grain, grain
    _inline.set_enabled(False)  # every call takes the path that splits
    try:
        yield
    finally:
        _forced_grain = before
        _inline.set_enabled(before is None)


def _dispatch(native: bool, call_s: float = 0.0) -> tuple[float, float]:
    """(chunk, dispatch) overheads of Python or native jobs, as measured,
    plus the caller's own cost of a parallel call (`call_s`)."""
    assert _overheads is not None
    if native:
        return _overheads.native_chunk_s, _overheads.native_dispatch_s + call_s
    return _overheads.chunk_s, _overheads.dispatch_s + call_s


def runs_inline(key: Hashable | None, elements: int, native: bool = False,
                call_s: float = 0.0) -> bool:
    """True when a call of `elements` elements certainly runs inline: the
    caller may then skip planning and call the function directly."""
    if _overheads is None or key is None or _forced_grain is not None:
        return False
    threads = _core.configured_threads()
    if threads == 1:
        return True
    if threads != _overheads_threads:
        return False  # measure the pool again first (overheads())
    model = costs.get(key)
    if model is None or not model.knows(elements):
        return False  # first look at this size: take the measured path
    cutoff = inline_cutoff(threads, *_dispatch(native, call_s))
    return model.predict(elements) < cutoff


def _run_split(body: Body, start: int, stop: int, split: Split, align: int,
               native: object, limit_blas: bool) -> None:
    if native is not None:
        kernel, ctx = native  # type: ignore[misc]
        _core.parallel_for_native(kernel, ctx, start, stop, split.grain, split.max_chunk, align)
    elif limit_blas:
        with single_threaded_blas():
            _core.parallel_for_python(body, start, stop, split.grain, split.max_chunk, align)
    else:
        _core.parallel_for_python(body, start, stop, split.grain, split.max_chunk, align)


def _first_probe_rows(rows: int, align: int) -> int:
    """The first probe: 1/FIRST_PROBE_FRACTION of the rows, whole align steps."""
    return -(-max(align, rows // FIRST_PROBE_FRACTION) // align) * align


def _timed_piece(call: Body, start: int, size: int, key: Hashable | None, row_elements: int,
                 local: CostModel) -> float:
    """call on rows [start, start + size), inline and timed; the time is
    recorded (a serial run) for the key and in `local`.  Returns it."""
    t0 = time.perf_counter()
    call(start, start + size)
    elapsed = time.perf_counter() - t0
    costs.record(key, size * row_elements, elapsed)
    local.add(size * row_elements, elapsed)
    return elapsed


def _probe(first: Body, body: Body, rows: int, align: int, key: Hashable | None,
           row_elements: int, trusted_s: float) -> tuple[int, CostModel]:
    """Run growing first chunks (1/64 of the rows, then 8x more each time)
    until one takes long enough to trust its timing, or the rows run out.
    Every probe is real work and is recorded.  Returns the rows done and
    the function's model (a model of these probes alone when the function
    cannot be a cache key)."""
    size = _first_probe_rows(rows, align)
    done = 0
    call = first
    local = CostModel()
    while done < rows:
        size = min(size, rows - done)
        elapsed = _timed_piece(call, done, size, key, row_elements, local)
        done += size
        call = body
        if elapsed >= trusted_s:
            break
        size *= 8
    return done, costs.get(key) or local


def _before_calibration(first: Body, body: Body, rows: int, align: int, key: Hashable | None,
                        row_elements: int, model: CostModel | None
                        ) -> tuple[int, CostModel | None]:
    """Before the pool is measured: a call predicted (or, for a function
    never seen at about this size, estimated from growing first pieces of
    its rows, 1/64 and then 8x more each) to take less than
    CALIBRATE_WHEN_S runs inline here.  An estimate counts once its piece
    took PROBE_TRUSTED_S: a first piece of a few rows mostly times the
    function's first-call costs (a 100-row parallel_for body's first row
    took ~20 us, which made 2 ms of 100 rows).  Returns the rows done (all
    of them, or the first pieces of a call big enough to measure the pool
    for) and the model."""
    global _inline_before_calibration_s
    elements = rows * row_elements
    if model is not None and model.near(elements):
        if model.predict(elements) >= CALIBRATE_WHEN_S \
                or _inline_before_calibration_s >= CALIBRATE_AFTER_S:
            return 0, model
        t0 = time.perf_counter()
        first(0, rows)
        elapsed = time.perf_counter() - t0
        costs.record(key, elements, elapsed)
        _inline_before_calibration_s += elapsed
        _decision.inline = True
        return rows, model
    size = _first_probe_rows(rows, align)
    done = 0
    call = first
    local = CostModel()
    while True:
        size = min(size, rows - done)
        elapsed = _timed_piece(call, done, size, key, row_elements, local)
        done += size
        call = body
        if done >= rows:
            _decision.inline = True
            return rows, costs.get(key) or local
        rest_s = elapsed * (rows - done) / size
        if rest_s < CALIBRATE_WHEN_S:
            t0 = time.perf_counter()
            body(done, rows)
            costs.record(key, (rows - done) * row_elements, time.perf_counter() - t0)
            _decision.inline = True
            return rows, costs.get(key) or local
        if elapsed >= PROBE_TRUSTED_S:
            return done, costs.get(key) or local
        size *= 8


def run(body: Body, rows: int, **options: object) -> None:
    """Run body over rows [0, rows): inline, or split on the pool (see
    _run).  Under a QoS level (runtime.qos) the calling thread runs at that
    level for the whole call, inline parts included, and gets its own
    setting back after; the pool's threads adopt the job's level."""
    level = _core.qos_level.get()
    _decision.inline = False
    _decision.stretch_of = None
    if level < 0:
        _run(body, rows, **options)  # type: ignore[arg-type]
        return
    _config.ensure_configured()
    with _core.ThreadQos(level):
        _run(body, rows, **options)  # type: ignore[arg-type]


def _run(body: Body, rows: int, *, key: Hashable | None, row_elements: int = 1,
        align: int = 1, grain: int | None = None, cache_rows: int = 0,
        first: Body | None = None, native: tuple[int, int] | None = None,
        limit_blas: bool = True, min_grain: int = 1, call_s: float = 0.0) -> None:
    """Run body over rows [0, rows): inline, or split on the pool.

    first(start, stop), if given, runs instead of body on the first chunk
    (it allocates outputs); inline, it runs alone on all rows.  With `grain`
    the caller has decided the split: no probing.  `native` = (kernel
    address, ctx address) runs a C kernel for the parallel part (body must
    call the same kernel).  `limit_blas` holds BLAS to one thread while
    Python chunks run in parallel.  Costs are recorded per scalar element
    (`row_elements` per row), so one key serves arrays of any row width.
    Every chunk of a split has at least `min_grain` rows.  `call_s` is what
    the caller's own parallel path costs beyond the pool's dispatch.
    """
    if rows <= 0:
        return
    if grain is None and _forced_grain is not None:
        grain = max(_forced_grain, min_grain, align)
    has_first = first is not None
    first = first or body
    model = costs.get(key)
    done = 0
    if grain is None and not calibrated():
        # Before configuring: a first call that runs inline should not pay
        # for the pool's start (topology, threads: ~1 ms, against a call of
        # microseconds).
        done, model = _before_calibration(first, body, rows, align, key, row_elements, model)
        if done >= rows:
            return
    threads = _config.num_threads()
    if threads == 1:
        (first if done == 0 else body)(done, rows)
        _decision.inline = True
        return

    if grain is not None:
        if grain < align:
            align = 1  # the caller asked for chunks finer than the alignment step
        # grain= fixes the chunk size: chunks of grain to 2 * grain rows.
        split = Split(grain=grain, max_chunk=grain)
        done = min(rows, grain) if has_first else 0
        if done:
            first(0, done)
        if done < rows:
            _run_split(body, done, rows, split, align, native, limit_blas)
        return

    overheads()  # measured on first use (and per thread count)
    chunk_s, dispatch_s = _dispatch(native is not None, call_s)
    if done == 0 and (model is None or not model.near(rows * row_elements)):
        done, model = _probe(first, body, rows, align, key, row_elements,
                             PROBE_RELIABLE_RATIO * (chunk_s + dispatch_s))
        if done >= rows:
            return
    remaining = rows - done
    element_s = model.rate(remaining * row_elements)
    split = plan(element_s * row_elements, remaining, threads, chunk_s, dispatch_s,
                 align, cache_rows)
    if split is not None and split.grain < min_grain:
        split = Split(grain=min_grain, max_chunk=max(split.max_chunk, min_grain))
    # Inline for now, but a size the plan splits: the caller must not note
    # it as one that runs inline (runtime/_inline.pyx would keep it inline).
    lost = split is not None and model.parallel_lost(remaining * row_elements)
    for_now = lost or (split is not None and  # once per size, and now and then:
                       model.wants_serial_reference(remaining * row_elements))
    if split is None or for_now:
        t0 = time.perf_counter()
        (first if done == 0 else body)(done, rows)
        costs.record(key, remaining * row_elements, time.perf_counter() - t0)
        _decision.inline = done == 0 and not for_now
        if lost and done == 0:
            # The rest of the stretch may go to the caller's compiled path,
            # which runs those calls inline without this path's cost.
            _decision.stretch_of = (key, remaining * row_elements)
        return
    if done == 0 and has_first:
        # The first chunk only has to allocate the outputs: keep it to about
        # one chunk overhead's worth of work.
        size = math.ceil(chunk_s / max(element_s * row_elements, 1e-12))
        done = min(rows, -(-max(align, size) // align) * align)
        first(0, done)
    if done < rows:
        t0 = time.perf_counter()
        _run_split(body, done, rows, split, align, native, limit_blas)
        wall = time.perf_counter() - t0
        # Wall time x threads bounds the serial time from above (tightly when
        # the run went well): it keeps the model honest where only the first
        # call's probes, slowed by first-touch page faults, were measured.
        costs.record(key, (rows - done) * row_elements, wall * threads, serial=False)
        model.note_parallel(remaining * row_elements, wall)


def inline_for_now(key: Hashable | None, elements: int) -> bool:
    """Whether a call the plan would split runs inline this time: parallel
    lost at this size lately, or the size needs its serial reference run
    (CostModel).  Consumes the count of a lost stretch, as run() does; a
    caller that then runs the call its own way records its time with
    costs.record(key, elements, seconds)."""
    model = costs.get(key)
    if model is None or _forced_grain is not None:
        return False
    return model.parallel_lost(elements) or (
        model.knows(elements) and model.wants_serial_reference(elements))


def take_lost_stretch(key: Hashable | None, elements: int) -> int:
    """The calls left in the lost stretch at this size, handed to a caller
    that will run them inline its own cheaper way (the count is zeroed and
    the next call here is the retry)."""
    model = costs.get(key)
    if model is None:
        return 0
    bucket = elements.bit_length()
    left = model.lost.get(bucket, 0)
    if left > 0:
        model.lost[bucket] = 0
        model.retrying.add(bucket)
    return left


def inline_elements(key: Hashable | None, native: bool = False, call_s: float = 0.0) -> int:
    """Calls with this key and fewer elements than this run inline, as far
    as the measured costs tell (0 when nothing is known yet).  Estimated
    from the rate at the nearest measured size, refined once at the
    estimate itself; small measured calls overstate the per-element cost,
    which errs low (toward asking again)."""
    if _forced_grain is not None:
        return 0
    threads = _core.configured_threads()
    if threads == 1:
        return 1 << 62  # everything runs inline
    if _overheads is None or key is None or threads != _overheads_threads:
        return 0
    model = costs.get(key)
    if model is None or not model.points:
        return 0
    cutoff = inline_cutoff(threads, *_dispatch(native, call_s))
    elements = max(1, int(cutoff / model.rate(1 << 20)))
    return max(1, int(cutoff / model.rate(elements)))


def planned_split(key: Hashable | None, rows: int, *, native: bool = False,
                  call_s: float = 0.0) -> Split | None | bool:
    """The split run() would choose now for `rows` rows of this key without
    probing: a Split, None for inline, or False when costs near this size
    are not known yet (run() would measure first)."""
    model = costs.get(key)
    if model is None or not model.near(rows) or _forced_grain is not None or not calibrated():
        return False  # (not calibrated: run() would measure the pool first, not this)
    threads = _config.num_threads()
    overheads()
    return plan(model.rate(rows), rows, threads, *_dispatch(native, call_s))
