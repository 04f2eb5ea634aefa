"""Linux RAPL package energy through the powercap sysfs interface.

Which zones are read (Documentation/power/powercap/powercap.rst): the
package zones, ``<root>/intel-rapl:N`` whose ``name`` starts with
"package" (package-0, package-1, ... one per socket), summed.  Skipped,
so nothing is counted twice:

- subzones (``intel-rapl:N:M``: core, uncore, dram), which /sys/class/powercap
  lists beside their package and whose energy is inside it (dram is not,
  but it is not the CPU's);
- ``psys`` top-level zones (the whole platform, package included);
- ``intel-rapl-mmio:N``: a second interface to the same package counter.

AMD Zen processors are served by the same driver (intel_rapl_common
matches AMD families 17h, 19h, 1Ah and Hygon 18h) under the same
``intel-rapl`` control type.  ``amd-rapl:N`` zones are read only when no
``intel-rapl`` package zone exists, in case a kernel names them so.

The figure is machine-wide: every process on the package, and its idle
power, counts.  Since the Platypus fix (CVE-2020-8694, Linux 5.10 and
stable kernels) ``energy_uj`` is readable by root only; other users get a
CounterError saying so.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from ._counter import CounterError

DEFAULT_ROOT = Path("/sys/class/powercap")
CONTROL_TYPES = ("intel-rapl", "amd-rapl")  # preference order
_TOP_LEVEL_ZONE = re.compile(r"(intel-rapl|amd-rapl):([0-9]+)")
_UNSIGNED = re.compile(r"[0-9]+")

# No CPU package draws this much: the largest server parts are rated about
# 500 W.  The sampler reads the counters at least once per wrap period at
# this power, so no counter can wrap twice between two readings.
PEAK_PACKAGE_WATTS = 1000.0
SAMPLE_SECONDS_MIN, SAMPLE_SECONDS_MAX = 1.0, 300.0


@dataclass(frozen=True)
class Zone:
    path: Path  # the zone's directory, e.g. /sys/class/powercap/intel-rapl:0
    name: str  # its ``name`` file, e.g. "package-0"
    max_range_uj: int  # its ``max_energy_range_uj``: the largest value energy_uj shows

    @property
    def energy_file(self) -> Path:
        return self.path / "energy_uj"


def package_zones(root: str | Path = DEFAULT_ROOT) -> list[Zone]:
    """The package zones under `root` (see the module docstring), in
    number order.  Raises CounterError when there are none or one of
    their files cannot be read."""
    root = Path(root)
    if not root.is_dir():
        raise CounterError(str(root), "no such directory: no powercap interface (not Linux, "
                           "the RAPL driver is not loaded, or a virtual machine without RAPL)")
    try:
        entries = os.listdir(root)
    except OSError as error:
        raise CounterError(str(root), f"cannot list it: {error.strerror or error}") from None
    numbered: dict[str, list[tuple[int, str]]] = {}
    for entry in entries:
        match = _TOP_LEVEL_ZONE.fullmatch(entry)
        if match:
            numbered.setdefault(match[1], []).append((int(match[2]), entry))
    for control_type in CONTROL_TYPES:
        zones = []
        for _, entry in sorted(numbered.get(control_type, [])):
            path = root / entry
            name = _read(path / "name")
            if name.startswith("package"):
                zones.append(Zone(path, name, _read_unsigned(path / "max_energy_range_uj")))
        if zones:
            return zones
    raise CounterError(str(root), "no RAPL package zone (intel-rapl:N or amd-rapl:N whose "
                       "name starts with 'package')")


def read_energy_uj(zone: Zone) -> int:
    """The zone's energy counter in microjoules.  Raises CounterError for a
    missing or unreadable file, or contents that are not a counter value."""
    value = _read_unsigned(zone.energy_file)
    if value > zone.max_range_uj:
        raise CounterError(str(zone.energy_file), f"reads {value}, above its "
                           f"max_energy_range_uj {zone.max_range_uj}")
    return value


def delta_uj(before: int, after: int, max_range_uj: int) -> int:
    """Microjoules counted from reading `before` to reading `after`, the
    counter having wrapped at most once.

    energy_uj runs from 0 to max_energy_range_uj and then starts again at
    0, so a wrap adds the rest of the range, (max - before), the step from
    max to 0, and `after`.  The kernel sets max_energy_range_uj to the
    32-bit hardware counter's largest value in energy units
    (get_max_energy_counter: rapl_unit_xlate(ENERGY_STATUS_MASK)), so the
    true step from max to 0 is one hardware unit (15-61 uJ), which sysfs
    does not show; counting it as 1 uJ (arithmetic modulo max + 1) errs by
    less than 61 uJ per wrap.

    >>> delta_uj(100, 250, 1000), delta_uj(990, 5, 1000)
    (150, 16)
    """
    if after >= before:
        return after - before
    return (max_range_uj - before) + 1 + after


def sample_seconds(zones: list[Zone]) -> float:
    """How often the sampler reads the counters: within the shortest wrap
    period at PEAK_PACKAGE_WATTS, between 1 s and 5 min."""
    shortest = min(zone.max_range_uj for zone in zones) / 1e6 / PEAK_PACKAGE_WATTS
    return min(max(shortest, SAMPLE_SECONDS_MIN), SAMPLE_SECONDS_MAX)


class RaplCounter:
    """Package energy from start() to stop(), summed over packages.

    Two readings catch one wrap of a counter.  A block may last longer than
    a wrap period (65 kJ counters wrap after ~2 min at 500 W), so a thread
    named runtime-energy-rapl reads the counters every sample_seconds()
    while the block runs; stop() ends and joins it."""

    source = "rapl"

    def __init__(self, root: str | Path = DEFAULT_ROOT) -> None:
        self.root = Path(root)
        self._zones: list[Zone] = []
        self._first: list[int] = []
        self._last: list[int] = []
        self._total_uj = 0
        self._stopping = threading.Event()
        self._sampler: threading.Thread | None = None
        self._sampler_error: CounterError | None = None

    def start(self) -> None:
        self._zones = package_zones(self.root)
        self._first = self._last = [read_energy_uj(zone) for zone in self._zones]
        self._sampler = threading.Thread(target=self._sample_until_stopped,
                                         args=(sample_seconds(self._zones),),
                                         name="runtime-energy-rapl", daemon=True)
        self._sampler.start()

    def stop(self) -> tuple[float, dict[str, float] | None]:
        self._stopping.set()
        if self._sampler is not None:
            self._sampler.join()
        if self._sampler_error is not None:
            raise self._sampler_error
        self._sample()
        for zone, first, last in zip(self._zones, self._first, self._last):
            if first == 0 and last == 0:
                raise CounterError(str(zone.energy_file), "reads 0 at the start and the end: "
                                   "the counter does not count here (a virtual machine?)")
        return self._total_uj / 1e6, None

    def _sample(self) -> None:
        now = [read_energy_uj(zone) for zone in self._zones]
        for zone, before, after in zip(self._zones, self._last, now):
            self._total_uj += delta_uj(before, after, zone.max_range_uj)
        self._last = now

    def _sample_until_stopped(self, seconds: float) -> None:
        # Only this thread samples until stop() has joined it.
        while not self._stopping.wait(seconds):
            try:
                self._sample()
            except CounterError as error:
                self._sampler_error = error
                return


def _read(path: Path) -> str:
    try:
        with open(path) as file:
            return file.read().strip()
    except FileNotFoundError:
        raise CounterError(str(path), "missing") from None
    except PermissionError:
        hint = (": since the Platypus fix (CVE-2020-8694, Linux 5.10) energy_uj is readable "
                "by root only; run as root or grant read access (e.g. a udev rule)"
                if path.name == "energy_uj" else "")
        raise CounterError(str(path), "permission denied" + hint) from None
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise CounterError(str(path), f"cannot read it: {reason}") from None


def _read_unsigned(path: Path) -> int:
    text = _read(path)
    if not _UNSIGNED.fullmatch(text):
        raise CounterError(str(path), f"reads {text[:40]!r}, not a counter value")
    return int(text)
