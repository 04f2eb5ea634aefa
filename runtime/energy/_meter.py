"""The meter: one measured block's energy, wall and CPU seconds, with the
source of the figure (runtime.energy's docstring says which sources)."""

from __future__ import annotations

import math
import os
import sys
import time
from types import TracebackType
from typing import Callable, Mapping

from .. import _topology
from . import _cputime, _model
from ._counter import CounterError, EnergyCounter
from ._darwin import DarwinRusageCounter, read_rusage_v6
from ._rapl import DEFAULT_ROOT as DEFAULT_POWERCAP_ROOT
from ._rapl import RaplCounter

SOURCES = ("rapl", "darwin-rusage", "estimate")


class Meter:
    """One measured block (make it with meter()).  The results are set when
    the block ends, whether it returns or raises:

    - ``joules``: float, from ``source``; None only with no source at all
      (the estimate always exists, so in practice a float).
    - ``source``: "rapl" (machine-wide), "darwin-rusage" (this process)
      or "estimate".
    - ``joules_by_kind``: joules per core kind where the source splits
      them (darwin-rusage, estimate), else None (rapl: per package only).
    - ``estimate_joules``: the estimate, computed whatever the source.
    - ``seconds``: wall seconds of the block.
    - ``cpu_seconds``: this process's CPU seconds in the block (every
      thread); ``cpu_seconds_by_kind`` splits them per core kind, and
      ``cpu_attribution`` says how the split was made.
    - ``unreadable``: (counter, reason) pairs for counters that could not
      be read; empty when none.
    - ``power_model``: the watts per busy core per kind the estimate used.
    """

    def __init__(self, counter: EnergyCounter | None, topology: _topology.Topology,
                 power_model: dict[str, float]) -> None:
        self.topology = topology
        self.power_model = power_model
        self.joules: float | None = None
        self.joules_by_kind: dict[str, float] | None = None
        self.estimate_joules: float | None = None
        self.source: str | None = None
        self.seconds = 0.0
        self.cpu_seconds = 0.0
        self.cpu_seconds_by_kind: dict[str, float] = {}
        self.cpu_attribution = ""
        self.unreadable: tuple[tuple[str, str], ...] = ()
        self._counter = counter
        self._unreadable: list[tuple[str, str]] = []
        self._entered = False
        self._threads: dict[int, _cputime.ThreadSample] = {}
        self._cpu_start = self._wall_start = 0.0

    def __enter__(self) -> Meter:
        if self._entered:
            raise RuntimeError("a meter measures one block; call runtime.energy.meter() again "
                               "for another")
        self._entered = True
        if self._counter is not None:
            try:
                self._counter.start()
            except CounterError as error:
                self._unreadable.append((error.counter, error.reason))
                self._counter = None
        self._threads = _cputime.thread_samples()
        self._cpu_start = time.process_time()
        self._wall_start = time.perf_counter()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.seconds = time.perf_counter() - self._wall_start
        self.cpu_seconds = max(0.0, time.process_time() - self._cpu_start)
        threads = _cputime.thread_samples()
        measured: tuple[float, dict[str, float] | None] | None = None
        if self._counter is not None:
            try:
                measured = self._counter.stop()
            except CounterError as error:
                self._unreadable.append((error.counter, error.reason))
        split = self._split_cpu(threads)
        self.cpu_seconds_by_kind, self.cpu_attribution = split.by_kind, split.how
        self.estimate_joules, estimate_by_kind = _model.estimate(split.by_kind,
                                                                        self.power_model)
        if measured is not None and self._counter is not None:
            self.source = self._counter.source
            self.joules, self.joules_by_kind = measured
        else:
            self.source = "estimate"
            self.joules, self.joules_by_kind = self.estimate_joules, estimate_by_kind
        self.unreadable = tuple(self._unreadable)

    def _split_cpu(self, threads: dict[int, _cputime.ThreadSample]
                   ) -> _cputime.CpuSplit:
        if isinstance(self._counter, DarwinRusageCounter):
            share = self._counter.performance_share()
            if share is not None:
                return _cputime.split_by_performance_share(self.cpu_seconds, share,
                                                                  self.topology)
        return _cputime.split_by_threads(self.cpu_seconds, self._threads, threads,
                                                self.topology)

    def __str__(self) -> str:
        """The energy with its source, e.g. "1.23 J (estimate)"."""
        if self.source is None:
            return "not measured yet (the block has not ended)"
        return format_energy(self.joules, self.source)

    def summary(self) -> str:
        """One line for a report: energy and source, wall and CPU seconds
        (per kind), unreadable counters."""
        if self.source is None:
            return str(self)
        text = f"{self} in {_three_digits(self.seconds)} s, {_three_digits(self.cpu_seconds)} CPU s"
        if len(self.cpu_seconds_by_kind) > 1:
            text += " (" + ", ".join(f"{kind} {_three_digits(seconds)}"
                                     for kind, seconds in self.cpu_seconds_by_kind.items()) + ")"
        if self.source == "rapl":
            text += ", machine-wide"
        if self.unreadable:
            text += "; unreadable: " + "; ".join(f"{counter} ({reason})"
                                                 for counter, reason in self.unreadable)
        return text

    def __repr__(self) -> str:
        return f"<runtime.energy.Meter {self.summary()}>"


def meter(*, powercap_root: str | os.PathLike[str] | None = None,
          power_model: Mapping[str, float] | None = None,
          topology: _topology.Topology | None = None,
          rusage_reader: Callable[[], bytes] | None = None) -> Meter:
    """A meter for one ``with`` block: energy, wall and CPU seconds.

    The source is chosen by the platform (Linux: RAPL under
    /sys/class/powercap; macOS: proc_pid_rusage; else the estimate), or
    by an explicit argument: ``powercap_root`` reads RAPL from that
    directory (a recorded tree in tests), ``rusage_reader`` (returning the
    raw bytes of one struct rusage_info_v6) reads macOS rusage through it.
    ``power_model`` overrides watts per busy core for the kinds it names;
    ``topology`` replaces runtime.topology() (the core kinds).  A core
    kind the power model has no watts for is a ValueError here, and so is
    a kind in ``power_model`` or RUNTIME_POWER_MODEL that is neither a
    default one (performance, mid, mid1, ..., efficiency, low-power
    efficiency, all) nor one of the topology's.

    >>> import runtime.energy
    >>> with runtime.energy.meter(powercap_root="/nonexistent",
    ...                           power_model={"performance": 5.0}) as m:
    ...     _ = sorted(range(100_000), key=lambda i: -i)
    >>> m.source, m.unreadable[0][0], m.joules == m.estimate_joules, m.power_model["performance"]
    ('estimate', '/nonexistent', True, 5.0)
    """
    if powercap_root is not None and rusage_reader is not None:
        raise TypeError("pass powercap_root (Linux RAPL) or rusage_reader (macOS), not both")
    topology = _topology.topology() if topology is None else topology
    model = _model.power_model(power_model, kinds=[kind.name for kind in topology.kinds])
    for kind in topology.kinds:
        _model.watts_for(kind.name, model)  # a missing kind fails here, not at the end
    counter: EnergyCounter | None = None
    if rusage_reader is not None or (powercap_root is None and sys.platform == "darwin"):
        counter = DarwinRusageCounter(
            topology.kinds[0].name,
            topology.kinds[-1].name if len(topology.kinds) > 1 else None,
            read_rusage_v6 if rusage_reader is None else rusage_reader)
    elif powercap_root is not None or sys.platform.startswith("linux"):
        counter = RaplCounter(DEFAULT_POWERCAP_ROOT if powercap_root is None else powercap_root)
    return Meter(counter, topology, model)


def format_energy(joules: float | None, source: str) -> str:
    """Energy with its source, three significant digits.

    >>> format_energy(1.2345, "estimate"), format_energy(1234.5, "rapl")
    ('1.23 J (estimate)', '1234 J (rapl)')
    """
    if joules is None:
        return f"no energy figure ({source})"
    return f"{_three_digits(joules)} J ({source})"


def _three_digits(value: float) -> str:
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    return f"{value:.{max(0, 2 - math.floor(math.log10(abs(value))))}f}"
