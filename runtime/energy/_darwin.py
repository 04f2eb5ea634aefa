"""macOS: this process's energy from proc_pid_rusage(RUSAGE_INFO_V6).

``ri_energy_nj`` is the energy the kernel attributes to the process's
threads (all of them, ended ones included) since it started, in
nanojoules; ``ri_penergy_nj`` the part spent on performance cores.  No
privileges are needed.  Unlike RAPL this is the process's own share, not
the machine's.

Written to Apple's documented layout and NOT RUN ON macOS HERE (the
project's machine is Linux): the parser is tested on buffers built to the
header's layout, and the system call is isolated in read_rusage_v6.
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from typing import Callable

from ._counter import CounterError

RUSAGE_INFO_V6 = 6  # <sys/resource.h>: #define RUSAGE_INFO_V6 6

RusageReader = Callable[[], bytes]  # returns one raw struct rusage_info_v6


class RusageInfoV6(ctypes.Structure):
    """struct rusage_info_v6 from <sys/resource.h>, field for field, in order
    (xnu bsd/sys/resource.h, apple-oss-distributions/xnu): uint8_t[16]
    then 56 uint64_t, 464 bytes.  Newer SDKs name some of ri_reserved's 14
    words (ri_secure_time_in_system, ri_neural_footprint, ...) without
    moving any field or changing the size."""

    _fields_ = [
        ("ri_uuid", ctypes.c_uint8 * 16),
        ("ri_user_time", ctypes.c_uint64),
        ("ri_system_time", ctypes.c_uint64),
        ("ri_pkg_idle_wkups", ctypes.c_uint64),
        ("ri_interrupt_wkups", ctypes.c_uint64),
        ("ri_pageins", ctypes.c_uint64),
        ("ri_wired_size", ctypes.c_uint64),
        ("ri_resident_size", ctypes.c_uint64),
        ("ri_phys_footprint", ctypes.c_uint64),
        ("ri_proc_start_abstime", ctypes.c_uint64),
        ("ri_proc_exit_abstime", ctypes.c_uint64),
        ("ri_child_user_time", ctypes.c_uint64),
        ("ri_child_system_time", ctypes.c_uint64),
        ("ri_child_pkg_idle_wkups", ctypes.c_uint64),
        ("ri_child_interrupt_wkups", ctypes.c_uint64),
        ("ri_child_pageins", ctypes.c_uint64),
        ("ri_child_elapsed_abstime", ctypes.c_uint64),
        ("ri_diskio_bytesread", ctypes.c_uint64),
        ("ri_diskio_byteswritten", ctypes.c_uint64),
        ("ri_cpu_time_qos_default", ctypes.c_uint64),
        ("ri_cpu_time_qos_maintenance", ctypes.c_uint64),
        ("ri_cpu_time_qos_background", ctypes.c_uint64),
        ("ri_cpu_time_qos_utility", ctypes.c_uint64),
        ("ri_cpu_time_qos_legacy", ctypes.c_uint64),
        ("ri_cpu_time_qos_user_initiated", ctypes.c_uint64),
        ("ri_cpu_time_qos_user_interactive", ctypes.c_uint64),
        ("ri_billed_system_time", ctypes.c_uint64),
        ("ri_serviced_system_time", ctypes.c_uint64),
        ("ri_logical_writes", ctypes.c_uint64),
        ("ri_lifetime_max_phys_footprint", ctypes.c_uint64),
        ("ri_instructions", ctypes.c_uint64),
        ("ri_cycles", ctypes.c_uint64),
        ("ri_billed_energy", ctypes.c_uint64),
        ("ri_serviced_energy", ctypes.c_uint64),
        ("ri_interval_max_phys_footprint", ctypes.c_uint64),
        ("ri_runnable_time", ctypes.c_uint64),
        ("ri_flags", ctypes.c_uint64),
        ("ri_user_ptime", ctypes.c_uint64),
        ("ri_system_ptime", ctypes.c_uint64),
        ("ri_pinstructions", ctypes.c_uint64),
        ("ri_pcycles", ctypes.c_uint64),
        ("ri_energy_nj", ctypes.c_uint64),
        ("ri_penergy_nj", ctypes.c_uint64),
        ("ri_reserved", ctypes.c_uint64 * 14),
    ]


@dataclass(frozen=True)
class RusageSample:
    energy_nj: int
    p_energy_nj: int  # on performance cores
    cpu_time: int  # user + system, in Mach absolute time units
    p_cpu_time: int  # the part on performance cores, same units


def parse_rusage_v6(raw: bytes) -> RusageSample:
    """The fields the meter uses from one raw struct rusage_info_v6."""
    size = ctypes.sizeof(RusageInfoV6)
    if len(raw) < size:
        raise CounterError("proc_pid_rusage(RUSAGE_INFO_V6)",
                           f"returned {len(raw)} bytes, expected {size}")
    info = RusageInfoV6.from_buffer_copy(raw[:size])
    return RusageSample(info.ri_energy_nj, info.ri_penergy_nj,
                        info.ri_user_time + info.ri_system_time,
                        info.ri_user_ptime + info.ri_system_ptime)


def read_rusage_v6() -> bytes:
    """proc_pid_rusage(getpid(), RUSAGE_INFO_V6, &info) through libSystem.
    Raises CounterError when the call fails (macOS before 12 knows no V6:
    EINVAL).  Not run on macOS here."""
    counter = "proc_pid_rusage(RUSAGE_INFO_V6)"
    try:
        libsystem = ctypes.CDLL("/usr/lib/libSystem.B.dylib", use_errno=True)
        call = libsystem.proc_pid_rusage
    except (OSError, AttributeError) as error:
        raise CounterError(counter, f"not available: {error}") from None
    call.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.POINTER(RusageInfoV6)]
    call.restype = ctypes.c_int
    info = RusageInfoV6()
    if call(os.getpid(), RUSAGE_INFO_V6, ctypes.byref(info)) != 0:
        errno = ctypes.get_errno()
        raise CounterError(counter, f"failed: {os.strerror(errno)} (errno {errno})")
    return bytes(info)


class DarwinRusageCounter:
    """This process's energy from start() to stop(), split into performance
    and efficiency cores as the kernel counts it."""

    source = "darwin-rusage"

    def __init__(self, performance_kind: str, efficiency_kind: str | None,
                 reader: RusageReader = read_rusage_v6) -> None:
        self.performance_kind = performance_kind
        self.efficiency_kind = efficiency_kind  # None: one kind of core
        self.reader = reader
        self.first: RusageSample | None = None
        self.last: RusageSample | None = None

    def start(self) -> None:
        self.first = parse_rusage_v6(self.reader())

    def stop(self) -> tuple[float, dict[str, float] | None]:
        assert self.first is not None, "stop() before start()"
        self.last = parse_rusage_v6(self.reader())
        if self.last.energy_nj == 0:
            raise CounterError("ri_energy_nj", "reads 0: this Mac does not count energy per "
                               "process (Intel Macs do not)")
        if self.last.energy_nj < self.first.energy_nj:
            raise CounterError("ri_energy_nj", f"went back from {self.first.energy_nj} to "
                               f"{self.last.energy_nj}")
        joules = (self.last.energy_nj - self.first.energy_nj) / 1e9
        p_joules = max(0, self.last.p_energy_nj - self.first.p_energy_nj) / 1e9
        if self.efficiency_kind is None:
            return joules, {self.performance_kind: joules}
        return joules, {self.performance_kind: min(p_joules, joules),
                        self.efficiency_kind: max(0.0, joules - p_joules)}

    def performance_share(self) -> float | None:
        """The share of the block's CPU time on performance cores (the units,
        Mach ticks, cancel), None when no CPU time was counted."""
        if self.first is None or self.last is None:
            return None
        total = self.last.cpu_time - self.first.cpu_time
        if total <= 0:
            return None
        return min(1.0, max(0.0, (self.last.p_cpu_time - self.first.p_cpu_time) / total))
