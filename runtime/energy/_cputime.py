"""This process's CPU time in a block, split by core kind.

The total is the process's CPU clock (time.process_time: every thread,
ended ones included).  The split, in order of preference:

1. macOS: the kernel counts CPU time on performance cores
   (rusage ri_user_ptime + ri_system_ptime); the rest is efficiency time.
2. Linux: each thread's CPU time from /proc/self/task/<tid>/schedstat
   (nanoseconds on CPU; stat's utime + stime in clock ticks where
   schedstat is missing), read at the start and the end of the block.  A
   thread whose affinity mask holds CPUs of one kind only (a QoS level, a
   pinned thread) is charged to that kind, exactly.  Any other thread is
   charged to the kind of the CPU it last ran on (stat field 39,
   ``processor``): an approximation, since Linux keeps no per-CPU time
   per thread, and a thread that moved between kinds during the block is
   charged to its last one.  The total is split in the measured
   proportions, which also covers threads that ended during the block.
3. Otherwise, or when no thread's time could be measured, in proportion
   to the number of CPUs of each kind: a guess, and said so.

One kind of core needs no split.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from .._topology import CoreKind, Topology

TASK_DIR = Path("/proc/self/task")

Affinity = Callable[[int], Iterable[int]]  # thread id -> the CPUs it may run on


@dataclass(frozen=True)
class ThreadSample:
    seconds: float  # the thread's CPU time so far
    cpu: int  # the CPU it last ran on
    allowed: frozenset[int] | None = None  # its affinity mask; None: not known


@dataclass(frozen=True)
class CpuSplit:
    by_kind: dict[str, float]
    how: str  # how the split was made, for the reader of a measurement


def thread_samples(task_dir: str | Path = TASK_DIR,
                   affinity: Affinity | None = None) -> dict[int, ThreadSample]:
    """Each thread's CPU time, last CPU and affinity mask (read with
    `affinity`, by default os.sched_getaffinity); {} where /proc is
    missing."""
    directory = os.fspath(task_dir)
    if affinity is None:
        affinity = getattr(os, "sched_getaffinity", None)
    try:
        tids = os.listdir(directory)
    except OSError:
        return {}
    samples = {}
    for tid in tids:
        try:
            samples[int(tid)] = _thread_sample(f"{directory}/{tid}", int(tid), affinity)
        except (OSError, ValueError, IndexError):
            continue  # the thread ended while we looked, or an unexpected format
    return samples


def split_by_threads(total: float, before: dict[int, ThreadSample],
                     after: dict[int, ThreadSample], topology: Topology) -> CpuSplit:
    """`total` CPU seconds split as the threads' own times were (see the
    module docstring, 2.)."""
    if len(topology.kinds) == 1:
        return CpuSplit({topology.kinds[0].name: total}, "one kind of core")
    measured = {kind.name: 0.0 for kind in topology.kinds}
    for tid, sample in after.items():
        kind = _kind_of(sample, topology)
        if kind is None:
            continue  # a CPU outside this process's affinity mask when detected
        start = before.get(tid)  # None: the thread started during the block
        measured[kind.name] += max(0.0, sample.seconds - (start.seconds if start else 0.0))
    measured_total = sum(measured.values())
    if measured_total <= 0.0:
        return split_by_cpu_count(total, topology)
    return CpuSplit({name: total * seconds / measured_total for name, seconds in measured.items()},
                    "per thread (/proc/self/task): to the one kind its affinity allows, else "
                    "to the kind of the CPU it last ran on (approximate)")


def split_by_performance_share(total: float, share: float, topology: Topology) -> CpuSplit:
    """`total` split by the kernel's count of time on performance cores
    (macOS), the fastest kind getting `share` and the slowest the rest."""
    if len(topology.kinds) == 1:
        return CpuSplit({topology.kinds[0].name: total}, "one kind of core")
    by_kind = {kind.name: 0.0 for kind in topology.kinds}
    by_kind[topology.kinds[0].name] = total * share
    by_kind[topology.kinds[-1].name] = total * (1.0 - share)
    return CpuSplit(by_kind, "the kernel's count of time on performance cores "
                    "(rusage ri_user_ptime + ri_system_ptime)")


def split_by_cpu_count(total: float, topology: Topology) -> CpuSplit:
    """`total` split in proportion to each kind's CPUs: a guess."""
    if len(topology.kinds) == 1:
        return CpuSplit({topology.kinds[0].name: total}, "one kind of core")
    cpus = sum(len(kind.cpus) for kind in topology.kinds)
    return CpuSplit({kind.name: total * len(kind.cpus) / cpus for kind in topology.kinds},
                    "not measured per thread: split in proportion to each kind's CPUs (a guess)")


def _kind_of(sample: ThreadSample, topology: Topology) -> CoreKind | None:
    if sample.allowed:
        kinds = {kind.name: kind for kind in map(topology.kind_of, sample.allowed) if kind}
        if len(kinds) == 1:
            return next(iter(kinds.values()))
    return topology.kind_of(sample.cpu)


def _thread_sample(directory: str, tid: int, affinity: Affinity | None) -> ThreadSample:
    stat = _read(f"{directory}/stat")
    # The command name (field 2) is in parentheses and may hold spaces and
    # parentheses itself: fields 3.. follow the last ')'.
    fields = stat.rpartition(b")")[2].split()
    cpu = int(fields[39 - 3])
    try:
        seconds = int(_read(f"{directory}/schedstat").split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        seconds = (int(fields[14 - 3]) + int(fields[15 - 3])) / os.sysconf("SC_CLK_TCK")
    allowed = None
    if affinity is not None:
        try:
            allowed = frozenset(affinity(tid))
        except OSError:
            pass  # the thread ended: its last CPU still tells
    return ThreadSample(seconds, cpu, allowed)


def _read(path: str) -> bytes:
    # os.open/os.read rather than pathlib: a meter reads every thread's
    # files twice per block, and pathlib's text reads cost several times more.
    descriptor = os.open(path, os.O_RDONLY)
    try:
        return os.read(descriptor, 4096)
    finally:
        os.close(descriptor)
