"""Core kinds: which CPUs are performance cores and which efficiency cores.

Sources, in order (../docs/ARCHITECTURE.md, "Heterogeneous cores"):

1. ``RUNTIME_TOPOLOGY="performance:0-3;efficiency:4-7"``: kinds in order,
   most performant first; a malformed value or a CPU this process may not
   use is an error that says what was wrong.
2. macOS: ``hw.nperflevels`` and ``hw.perflevelN.logicalcpu`` (perflevel0
   is the fastest; its name, ``hw.perflevelN.name``, is not relied on).
3. Linux, Intel hybrid: ``/sys/devices/cpu_core/cpus`` (P-cores),
   ``cpu_atom/cpus`` (E-cores), ``cpu_lowpower/cpus`` (low-power E-cores).
4. Linux, arm64 big.LITTLE: CPUs grouped by differing
   ``/sys/devices/system/cpu/cpuN/cpu_capacity``, highest first.
5. Otherwise one kind with every CPU.

Detected kinds keep only the CPUs this process may use (its affinity
mask); kinds left empty are dropped.  The sysfs root and the sysctl
reader are parameters, so tests run on recorded trees.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

ENVIRONMENT = "RUNTIME_TOPOLOGY"
# Intel hybrid PMU directories, fastest first, and the kind each is.
INTEL_HYBRID = (("cpu_core", "performance"), ("cpu_atom", "efficiency"),
                ("cpu_lowpower", "low-power efficiency"))

Sysctl = Callable[[str], "int | str | None"]


@dataclass
class CoreKind:
    """One kind of core: a name and the CPU ids (sorted) of its cores."""

    name: str
    cpus: list[int]


@dataclass
class Topology:
    """The machine's core kinds, most performant first.

    >>> import runtime
    >>> t = runtime.topology()
    >>> all(kind.cpus == sorted(kind.cpus) for kind in t.kinds), t.heterogeneous in (True, False)
    (True, True)
    """

    kinds: list[CoreKind]
    source: str  # where the kinds came from, e.g. "linux: /sys/devices/cpu_core, cpu_atom"
    heterogeneous: bool = field(init=False)

    def __post_init__(self) -> None:
        self.heterogeneous = len(self.kinds) > 1

    def kind_of(self, cpu: int) -> CoreKind | None:
        """The kind CPU `cpu` belongs to (None: a CPU this process may not use)."""
        return next((kind for kind in self.kinds if cpu in kind.cpus), None)


def parse_cpu_list(text: str) -> list[int]:
    """Linux's CPU list format ("0-3,8,10-11"): sorted, without duplicates.
    Raises ValueError saying what was wrong."""
    return _expand(cpu_ranges(text))


def _expand(ranges: list[tuple[int, int]]) -> list[int]:
    cpus: set[int] = set()
    for low, high in ranges:
        cpus.update(range(low, high + 1))
    return sorted(cpus)


def cpu_ranges(text: str) -> list[tuple[int, int]]:
    """The (low, high) ranges of a CPU list, checked but not expanded (so a
    caller can bound them first).  Raises ValueError saying what was wrong."""
    ranges = []
    for part in text.strip().split(","):
        part = part.strip()
        if not part:
            raise ValueError(f"empty entry in CPU list {text!r}")
        first, dash, last = part.partition("-")
        try:
            low, high = int(first), int(last) if dash else int(first)
        except ValueError:
            raise ValueError(f"{part!r} in CPU list {text!r} is not a CPU number or a range "
                             f"like 0-3") from None
        if low < 0 or high < low:
            raise ValueError(f"bad CPU range {part!r} in {text!r} (want low-high, low <= high)")
        ranges.append((low, high))
    return ranges


def kind_entries(text: str, environment: str, form: str, example: str) -> list[tuple[str, str]]:
    """(kind, value) pairs of a "kind:value;kind:value" setting (RUNTIME_TOPOLOGY,
    RUNTIME_POWER_MODEL), with errors that name the variable and show `example`."""
    entries = [entry.strip() for entry in text.split(";") if entry.strip()]
    if not entries:
        raise ValueError(f"{environment} is empty; expected e.g. '{example}'")
    pairs = []
    for entry in entries:
        name, colon, value = entry.partition(":")
        name = name.strip()
        if not colon or not name:
            raise ValueError(f"{environment}: {entry!r} is not '{form}' (e.g. '{example}')")
        pairs.append((name, value))
    return pairs


def parse_override(text: str, usable: Iterable[int]) -> Topology:
    """RUNTIME_TOPOLOGY's value: "name:cpus;name:cpus;...", most performant
    kind first.  Every CPU must be one this process may use (`usable`) and
    belong to one kind only."""
    usable_set = set(usable)
    top = max(usable_set, default=-1)
    kinds: list[CoreKind] = []
    seen: dict[int, str] = {}
    for name, cpu_text in kind_entries(text, ENVIRONMENT, "name:cpus",
                                       "performance:0-3;efficiency:4-7"):
        if any(kind.name == name for kind in kinds):
            raise ValueError(f"{ENVIRONMENT}: kind {name!r} is given twice")
        try:
            ranges = cpu_ranges(cpu_text)
        except ValueError as error:
            raise ValueError(f"{ENVIRONMENT}: kind {name!r}: {error}") from None
        # Bounded before expanding: "0-100000000" built a set of 1e8 ids
        # (tens of seconds) only to find CPU 2 unusable.
        for low, high in ranges:
            if high > top:
                raise ValueError(f"{ENVIRONMENT}: CPU {high} (kind {name!r}) is not one this "
                                 f"process may use (its CPUs: {_cpu_text(sorted(usable_set))})")
        cpus = _expand(ranges)
        for cpu in cpus:
            if cpu in seen:
                raise ValueError(f"{ENVIRONMENT}: CPU {cpu} is in both {seen[cpu]!r} and "
                                 f"{name!r}")
            if cpu not in usable_set:
                raise ValueError(f"{ENVIRONMENT}: CPU {cpu} (kind {name!r}) is not one this "
                                 f"process may use (its CPUs: {_cpu_text(sorted(usable_set))})")
            seen[cpu] = name
        kinds.append(CoreKind(name, cpus))
    return Topology(kinds, source=ENVIRONMENT)


def from_linux(root: str | Path = "/sys", usable: Iterable[int] | None = None) -> Topology:
    """Core kinds from Linux sysfs under `root` (see the module docstring)."""
    root = Path(root)
    usable_set = set(usable) if usable is not None else set(_usable_cpus())
    hybrid: list[tuple[str, str, list[int]]] = []
    for directory, name in INTEL_HYBRID:
        text = _read(root / "devices" / directory / "cpus")
        if text:
            hybrid.append((directory, name, parse_cpu_list(text)))
    if hybrid:
        kinds = _usable_kinds([(name, cpus) for _, name, cpus in hybrid], usable_set)
        if kinds:
            return Topology(kinds, "linux: /sys/devices/"
                            + ", ".join(directory for directory, _, _ in hybrid))
    capacities: dict[int, list[int]] = {}
    for cpu in sorted(usable_set):
        text = _read(root / "devices" / "system" / "cpu" / f"cpu{cpu}" / "cpu_capacity")
        if text is None or not text.isdigit():
            capacities = {}
            break
        capacities.setdefault(int(text), []).append(cpu)
    if len(capacities) > 1:
        ordered = sorted(capacities, reverse=True)
        kinds = [CoreKind(name, capacities[capacity])
                 for name, capacity in zip(_tier_names(len(ordered)), ordered)]
        return Topology(kinds, "linux: cpu_capacity " + ", ".join(
            f"{capacity} on {_cpu_text(capacities[capacity])}" for capacity in ordered))
    return Topology([CoreKind("all", sorted(usable_set))], "linux: one kind of core")


def from_darwin(sysctl: Sysctl, usable: Iterable[int] | None = None) -> Topology:
    """Core kinds from macOS's performance levels (perflevel0 fastest).

    macOS gives a count per level, not CPU ids; Apple Silicon numbers its
    CPUs cluster by cluster with the efficiency cores first (M1: E 0-3,
    P 4-7, as powermetrics shows), so ids are assigned that way, the
    slowest level lowest.  They are informational: Apple Silicon has no
    thread affinity, and QoS classes, not ids, steer threads there."""
    levels = sysctl("hw.nperflevels")
    counts = []
    if isinstance(levels, int) and levels > 0:
        for level in range(levels):
            count = sysctl(f"hw.perflevel{level}.logicalcpu")
            if not isinstance(count, int) or count <= 0:
                counts = []
                break
            counts.append(count)
    if len(counts) < 2:
        total = sysctl("hw.logicalcpu")
        cpus = list(range(total if isinstance(total, int) and total > 0 else os.cpu_count() or 1))
        return Topology([CoreKind("all", cpus)], "darwin: one performance level")
    first = sum(counts)
    kinds = []
    for name, count in zip(_tier_names(len(counts)), counts):
        first -= count
        kinds.append(CoreKind(name, list(range(first, first + count))))
    usable_set = set(usable) if usable is not None else None
    if usable_set is not None:
        kinds = _usable_kinds([(k.name, k.cpus) for k in kinds], usable_set)
    return Topology(kinds, "darwin: hw.perflevel0-" + str(len(counts) - 1) + " ("
                    + ", ".join(str(c) for c in counts) + " CPUs)")


def detect(environ: dict[str, str] | None = None) -> Topology:
    """The topology from RUNTIME_TOPOLOGY, else from this OS."""
    environ = os.environ if environ is None else environ
    override = environ.get(ENVIRONMENT)
    if override is not None:
        return parse_override(override, _usable_cpus())
    if sys.platform == "darwin":
        return from_darwin(_darwin_sysctl)
    if sys.platform.startswith("linux"):
        return from_linux()
    return Topology([CoreKind("all", _usable_cpus())], f"{sys.platform}: one kind of core")


_cached: Topology | None = None
# The last failed RUNTIME_TOPOLOGY value (None: unset) and its message:
# every runtime call asks for the topology until one is found, and a bad
# value must not be parsed again each time.
_failed: tuple[str | None, str] | None = None


def topology() -> Topology:
    """This machine's core kinds, most performant first (detected once).

    ``RUNTIME_TOPOLOGY="performance:0-3;efficiency:4-7"`` overrides the
    detection; a malformed value or a CPU this process may not use raises
    ValueError saying what was wrong (remembered for that value: the same
    value is not read again; a changed one is).

    >>> import runtime
    >>> t = runtime.topology()
    >>> [kind.name for kind in t.kinds][:1] != [], isinstance(t.source, str)
    (True, True)
    """
    global _cached, _failed
    if _cached is None:
        value = os.environ.get(ENVIRONMENT)
        if _failed is not None and _failed[0] == value:
            raise ValueError(_failed[1])
        try:
            _cached = detect()
        except ValueError as error:
            _failed = (value, str(error))
            raise
    return _cached


def _tier_names(count: int) -> list[str]:
    """Kind names, fastest first: performance, (mid, mid2, ...), efficiency."""
    if count == 1:
        return ["all"]
    middle = ["mid" if count == 3 else f"mid{i}" for i in range(1, count - 1)]
    return ["performance", *middle, "efficiency"]


def _usable_kinds(kinds: list[tuple[str, list[int]]], usable: set[int]) -> list[CoreKind]:
    kept = [CoreKind(name, [cpu for cpu in cpus if cpu in usable]) for name, cpus in kinds]
    return [kind for kind in kept if kind.cpus]


def _usable_cpus() -> list[int]:
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _cpu_text(cpus: list[int]) -> str:
    """CPU ids in Linux's list format: [0, 1, 2, 5] -> "0-2,5"."""
    ranges: list[list[int]] = []
    for cpu in cpus:
        if ranges and cpu == ranges[-1][1] + 1:
            ranges[-1][1] = cpu
        else:
            ranges.append([cpu, cpu])
    return ",".join(f"{low}-{high}" if high > low else str(low) for low, high in ranges)


def _darwin_sysctl(name: str) -> int | str | None:
    """sysctlbyname(3) for an int or a string value; None when missing."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    size = ctypes.c_size_t(0)
    if libc.sysctlbyname(name.encode(), None, ctypes.byref(size), None, 0) != 0:
        return None
    buffer = ctypes.create_string_buffer(size.value)
    if libc.sysctlbyname(name.encode(), buffer, ctypes.byref(size), None, 0) != 0:
        return None
    if size.value in (4, 8) and not name.endswith(".name"):
        return int.from_bytes(buffer.raw[:size.value], sys.byteorder, signed=True)
    return buffer.value.decode(errors="replace")
