"""``with runtime.trace("run.json") as tr:``: what the pool's threads did.

The C core records events into bounded per-thread rings (csrc/trace.h):
every chunk (task) with its job, range, QoS level and the CPU it ran on,
every job on its caller, steals, parks, QoS and affinity changes, and
boosts.  On exit they become ``tr.events`` (flat records: pandas takes
them as they are) and, given a path, Chrome Trace Event JSON that opens in
Perfetto (ui.perfetto.dev) and chrome://tracing: one track per thread,
named with the core kinds its tasks ran on.
"""

from __future__ import annotations

import json
import os
import threading
import warnings
from collections import Counter, defaultdict
from typing import Any, NamedTuple

import numpy as np

from . import _config, _core, _qos, _topology

# The layout of rt_trace_event (csrc/trace.h; a static assert there keeps
# it 48 bytes).
EVENT_DTYPE = np.dtype([
    ("begin_ns", "<i8"), ("end_ns", "<i8"), ("lo", "<i8"), ("hi", "<i8"),
    ("job", "<u4"), ("tid", "<i4"), ("cpu", "<i2"), ("cpu_end", "<i2"),
    ("type", "u1"), ("level", "i1"), ("slot", "<u2"),
])
assert EVENT_DTYPE.itemsize == 48

NAMES = {1: "task", 2: "job", 3: "steal", 4: "park", 5: "qos", 6: "boost", 7: "boost_end",
         8: "submitted"}
MAX_WORKERS = _core.MAX_THREADS - 1  # callers' slots start here
OUTSIDE = 0xFFFF  # slot of events recorded by threads outside the pool
MECHANISMS = (("affinity", 1), ("SCHED_BATCH", 2), ("util-clamp", 4), ("nice", 8),
              ("QoS class", 16))
DEFAULT_CAPACITY = 1 << 16
# The most events per thread (csrc/trace.h: 2**24, 768 MiB per ring): far
# above any trace worth reading, and far below where the ring's size in
# bytes would overflow.
MAX_CAPACITY: int = _core.TRACE_MAX_CAPACITY


class TraceEvent(NamedTuple):
    """One event.  Times in seconds from the start of the trace."""

    name: str  # "task", "job", "steal", "park", "qos", "boost", "boost_end", "submitted"
    thread: str  # "worker 0", "caller 0" (by slot), "outside the pool" (never in a slot)
    tid: int  # OS thread id
    core_kind: str  # kind of `cpu` ("performance", ...; "unknown")
    cpu: int  # CPU at the start (-1: unknown)
    cpu_end: int  # CPU at the end
    start: float
    duration: float  # 0 for instants
    job: int  # job id within the trace (0: none)
    lo: int  # task/job: range; steal: the victim's slot; boost: the raised thread
    hi: int
    level: str | None  # QoS level in force ("boost": the level raised to); None: own setting
    cpus: tuple[int, ...]  # qos/boost: the CPUs set (CPUs 0-63; empty: affinity unchanged)
    mechanisms: str  # qos: what took effect, e.g. "affinity+SCHED_BATCH"


def _cpus(bits: int) -> tuple[int, ...]:
    bits &= (1 << 64) - 1
    return tuple(cpu for cpu in range(64) if bits >> cpu & 1)


def _mechanisms(bits: int) -> str:
    return "+".join(name for name, bit in MECHANISMS if bits & bit)


def _thread_label(slot: int) -> str:
    if slot == OUTSIDE:
        return "outside the pool"
    if slot >= MAX_WORKERS:
        return f"caller {slot - MAX_WORKERS}"
    return f"worker {slot}"


def decode(raw: np.ndarray, start_ns: int, kind_of_cpu: dict[int, str]) -> list[TraceEvent]:
    """TraceEvent records of an array of EVENT_DTYPE, sorted by start."""
    raw = np.sort(raw, order="begin_ns", kind="stable")
    # A caller's thread records its inline QoS change before it takes a
    # caller slot (slot OUTSIDE): label its events by the slot it took.
    slot_of_tid: dict[int, int] = {}
    for tid, slot in zip(raw["tid"].tolist(), raw["slot"].tolist()):
        if slot != OUTSIDE:
            slot_of_tid.setdefault(tid, slot)
    events = []
    for e in raw.tolist():
        begin, end, lo, hi, job, tid, cpu, cpu_end, kind, level, slot = e
        name = NAMES.get(kind, f"type {kind}")
        cpus: tuple[int, ...] = ()
        mechanisms = ""
        if name == "qos":
            cpus, mechanisms = _cpus(lo), _mechanisms(hi)
        elif name == "boost":
            cpus = _cpus(hi)
        events.append(TraceEvent(
            name=name, thread=_thread_label(slot_of_tid.get(tid, slot)), tid=tid,
            core_kind=kind_of_cpu.get(cpu, "unknown"), cpu=cpu, cpu_end=cpu_end,
            # A span begun before the trace (a job of the last one) starts at 0.
            start=max(begin - start_ns, 0) / 1e9, duration=max(end - max(begin, start_ns), 0) / 1e9,
            job=job,
            lo=lo, hi=hi, level=_qos.NAMES.get(level), cpus=cpus, mechanisms=mechanisms))
    return events


def kinds_by_cpu() -> dict[int, str]:
    return {cpu: kind.name for kind in _topology.topology().kinds for cpu in kind.cpus}


def track_names(events: list[TraceEvent]) -> dict[int, str]:
    """Per thread id: its label, its Python thread name if it has one, and
    the core kinds its tasks ran on with their share of task time."""
    python_names = {t.native_id: t.name for t in threading.enumerate()}
    labels: dict[int, str] = {}
    busy: dict[int, Counter[str]] = defaultdict(Counter)
    for e in events:
        labels.setdefault(e.tid, e.thread)
        if e.name == "task":
            busy[e.tid][e.core_kind] += e.duration
    names = {}
    for tid, label in labels.items():
        name = label
        if tid in python_names and label.startswith("caller"):
            name += f": {python_names[tid]}"
        total = sum(busy[tid].values())
        if total > 0:
            shares = [f"{kind} {100 * t / total:.0f}%" for kind, t in busy[tid].most_common()]
            name += " · " + ", ".join(shares)
        names[tid] = name
    return names


def chrome_trace(events: list[TraceEvent], dropped: int = 0) -> dict[str, Any]:
    """The Trace Event Format document (JSON object form) of `events`:
    spans as complete events ("X"), the rest as thread-scoped instants
    ("i"), one named track per thread; microseconds."""
    pid = os.getpid()
    out: list[dict[str, Any]] = [
        {"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": "runtime"}},
    ]
    for index, (tid, name) in enumerate(sorted(track_names(events).items(),
                                               key=lambda item: item[1])):
        out.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid,
                    "args": {"name": name}})
        out.append({"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": tid,
                    "args": {"sort_index": index}})
    for e in events:
        args: dict[str, Any] = {"cpu": e.cpu, "core_kind": e.core_kind, "level": e.level}
        if e.name in ("task", "job"):
            args.update(job=e.job, lo=e.lo, hi=e.hi, cpu_end=e.cpu_end)
            label = f"job {e.job} [{e.lo}, {e.hi})" if e.name == "job" else f"[{e.lo}, {e.hi})"
        elif e.name == "steal":
            args["from"] = _thread_label(e.lo)
            label = "steal"
        elif e.name == "qos":
            args.update(cpus=list(e.cpus), mechanisms=e.mechanisms)
            label = f"qos → {e.level or 'own setting'}"
        elif e.name in ("boost", "boost_end"):
            args.update(thread=e.lo, cpus=list(e.cpus))
            label = f"{e.name.replace('_', ' ')} of thread {e.lo}"
        else:
            label = e.name
        event: dict[str, Any] = {"name": label, "cat": e.name, "pid": pid, "tid": e.tid,
                                 "ts": e.start * 1e6, "args": args}
        if e.name in ("task", "job", "park", "submitted"):
            event.update(ph="X", dur=e.duration * 1e6)
        else:
            event.update(ph="i", s="t")
        out.append(event)
    return {"traceEvents": out, "displayTimeUnit": "ms",
            "otherData": {"producer": "runtime.trace", "dropped_events": dropped}}


class Trace:
    """A trace being recorded (the value of ``with runtime.trace(...) as tr``)."""

    def __init__(self, path: str | os.PathLike[str] | None, capacity: int) -> None:
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"runtime.trace: path must be a str or os.PathLike, got "
                            f"{type(path).__name__}")
        if isinstance(capacity, (bool, np.bool_)) or not isinstance(capacity, (int, np.integer)):
            raise TypeError(f"runtime.trace: capacity must be an int (events per thread, 1 to "
                            f"{MAX_CAPACITY}), got {type(capacity).__name__} {capacity!r}")
        capacity = int(capacity)
        if not 1 <= capacity <= MAX_CAPACITY:
            raise ValueError(f"runtime.trace: capacity must be 1 to {MAX_CAPACITY} events per "
                             f"thread, got {capacity}")
        self.path = None if path is None else os.fspath(path)
        if self.path is not None:
            folder = os.path.dirname(os.path.abspath(self.path))
            if not os.path.isdir(folder):
                raise FileNotFoundError(f"runtime.trace: no such directory for {self.path!r}")
        self.capacity = capacity
        self.events: list[TraceEvent] = []
        self.dropped = 0
        self._running = False
        self._used = False

    def __enter__(self) -> Trace:
        if self._used:
            raise RuntimeError("runtime.trace: a Trace records once; start a new one")
        _config.ensure_configured()
        _qos.ensure_placed()
        self._start_ns = _core.trace_start(self.capacity)
        self._running = self._used = True
        return self

    def __exit__(self, *exc: object) -> None:
        self._running = False
        start_ns, chunks = _core.trace_stop()
        raw = np.concatenate([np.frombuffer(data, dtype=EVENT_DTYPE) for data, _ in chunks])
        self.dropped = sum(dropped for _, dropped in chunks)
        self.events = decode(raw, start_ns, kinds_by_cpu())
        if self.dropped:
            # The C core counts a ring it could not allocate as dropping too.
            warnings.warn(f"runtime.trace: {self.dropped} events were dropped (rings of "
                          f"{self.capacity} events per thread were full, or no memory for "
                          f"them); pass a larger capacity= (at most {MAX_CAPACITY})",
                          RuntimeWarning, stacklevel=2)
        if self.path is not None:
            self.save(self.path)

    def to_chrome(self) -> dict[str, Any]:
        """The trace as a Chrome Trace Event Format document."""
        return chrome_trace(self.events, self.dropped)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the Chrome trace JSON (open it in ui.perfetto.dev)."""
        tmp = f"{os.fspath(path)}.tmp"
        with open(tmp, "w") as f:
            json.dump(self.to_chrome(), f)
        os.replace(tmp, path)  # never a half-written trace file

    def __repr__(self) -> str:
        state = "recording" if self._running else f"{len(self.events)} events"
        return f"<runtime.Trace {state}, dropped={self.dropped}>"


def trace(path: str | os.PathLike[str] | None = None, *,
          capacity: int = DEFAULT_CAPACITY) -> Trace:
    """Record what runtime's threads do inside the block: every task (job,
    range, QoS level, CPU), job, steal, park, QoS/affinity change and
    boost.  ``tr.events`` holds them on exit; with `path`, Chrome Trace
    Event JSON is written there too (Perfetto, chrome://tracing).  Rings
    hold `capacity` events per thread (an int, 1 to ``MAX_CAPACITY`` =
    2**24; 48 bytes each, allocated when a thread first records); events
    beyond are dropped, counted in ``tr.dropped`` and warned about.  A
    capacity out of range raises ValueError, a non-int TypeError.  One
    trace at a time.

    >>> import numpy as np, runtime
    >>> with runtime.trace() as tr:
    ...     y = runtime.map(np.sin, np.zeros(1_000_000), grain=100_000)
    >>> job = next(e for e in tr.events if e.name == "job")
    >>> tasks = [e for e in tr.events if e.name == "task" and e.job == job.job]
    >>> sum(e.hi - e.lo for e in tasks) == job.hi - job.lo  # every element, once
    True
    """
    return Trace(path, capacity)
