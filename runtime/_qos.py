"""QoS levels of jobs: ``with runtime.qos("background"):`` and ``qos=``.

A level travels in a context variable (runtime._core.qos_level), so the
jobs a context starts, and jobs nested in their chunks, carry it; every
thread that runs one of their chunks (the caller included) runs it at that
level (csrc/qos*.c), and the caller gets its own setting back after.

Placement policy (../docs/ARCHITECTURE.md, "Heterogeneous cores"): on a
heterogeneous machine, utility and background jobs run on the efficiency
kinds only (every kind but the most performant); initiated jobs may use
every core, placed by the OS; interactive jobs use every core too, but
each of the job's threads is given a kind, performance kinds first, one
thread per CPU (the caller first): left to itself, Linux may start two
threads of a job on one fast CPU while another CPU runs a third program,
since both placements look equally loaded to it.  The tail boost then
moves a thread that others wait for onto the performance kind.  On Linux the levels also set
SCHED_BATCH (utility, background), util-clamp and nice where the kernel
and privileges allow (runtime.info() lists what is in force); on macOS
they are QoS classes.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Iterator, Literal

from . import _core, _inline, _topology

# The names of the levels, for type checkers: a misspelt level in a user's
# call is an error there (mypy, pyright) before it is a ValueError here.
QosLevel = Literal["interactive", "initiated", "utility", "background"]

LEVELS = {"background": 0, "utility": 1, "initiated": 2, "interactive": 3}
NAMES = {number: name for name, number in LEVELS.items()}

_placed = False
# Two threads placing at once (on 3.13t, truly at once) would each rewrite
# the binding's CPU sets while the other's jobs read them.
_placed_lock = threading.Lock()


def _after_fork_child() -> None:
    global _placed_lock
    _placed_lock = threading.Lock()  # its holder in the parent may be a thread that is gone


os.register_at_fork(after_in_child=_after_fork_child)


def level_number(level: object, what: str = "runtime.qos") -> int:
    """The number of a level name; ValueError/TypeError saying what to pass."""
    if not isinstance(level, str):
        raise TypeError(f"{what}: level must be one of {', '.join(map(repr, LEVELS))}, "
                        f"got {type(level).__name__}")
    try:
        return LEVELS[level]
    except KeyError:
        raise ValueError(f"{what}: unknown QoS level {level!r}; use one of "
                         f"{', '.join(map(repr, LEVELS))}") from None


def placement(topology: _topology.Topology) -> dict[int, list[int]]:
    """CPUs per level (empty: any CPU) under the policy above."""
    efficiency = sorted(cpu for kind in topology.kinds[1:] for cpu in kind.cpus)
    low = efficiency if topology.heterogeneous else []
    return {0: low, 1: low, 2: [], 3: []}


def thread_placement(topology: _topology.Topology) -> dict[int, list[list[int]]]:
    """Per level, the CPUs of the caller and of each worker in turn (an
    empty list: no per-thread placement): interactive jobs on a
    heterogeneous machine, one thread per CPU, most performant kind first."""
    spread: list[list[int]] = []
    if topology.heterogeneous:
        for kind in topology.kinds:
            spread += [list(kind.cpus)] * len(kind.cpus)
    return {0: [], 1: [], 2: [], 3: spread}


def ensure_placed() -> None:
    """Give the binding each level's CPUs, once (from runtime.topology()):
    where jobs run, and where an override moves a running thread (the
    low levels' CPUs, else every CPU of the topology)."""
    global _placed
    if _placed:
        return
    with _placed_lock:
        if _placed:
            return
        topology = _topology.topology()
        every = sorted(cpu for kind in topology.kinds for cpu in kind.cpus)
        for level, cpus in placement(topology).items():
            _core.set_placement(level, cpus, cpus or every)
        for level, per_thread in thread_placement(topology).items():
            _core.set_thread_placement(level, per_thread)
        # The tail boost moves a raised thread onto the performance kind.
        _core.set_tail_boost(_core.tail_boost_enabled(),
                             topology.kinds[0].cpus if topology.heterogeneous else [])
        _placed = True


@contextlib.contextmanager
def _jobs_at(number: int) -> Iterator[None]:
    ensure_placed()
    _inline.levels_used()
    token = _core.qos_level.set(number)
    try:
        yield
    finally:
        _core.qos_level.reset(token)


def qos(level: QosLevel) -> contextlib.AbstractContextManager[None]:
    """Jobs started inside run at QoS `level`: "interactive", "initiated"
    (the default for a caller that waits), "utility" or "background".

    Background and utility work stays on efficiency cores (on a
    heterogeneous machine) at lowered priority; the calling thread's own
    setting is restored when each call returns.

    >>> import numpy as np, runtime
    >>> with runtime.qos("background"):
    ...     y = runtime.map(np.sqrt, np.arange(100_000.0))
    >>> float(y[4])
    2.0
    """
    return _jobs_at(level_number(level))


def maybe(level: str | None, what: str) -> contextlib.AbstractContextManager[None]:
    """The `qos=` of an entry point named `what`: None keeps the context's level."""
    if level is None:
        return contextlib.nullcontext()
    return _jobs_at(level_number(level, what))


def current() -> int:
    """The level of jobs started here now (-1: none set)."""
    return _core.qos_level.get()


def set_tail_boost(enabled: bool) -> None:
    """Turn the tail boost on (the default) or off, e.g. to measure what it
    adds: when a job's caller or worker has nothing left to do but wait for
    a piece another thread runs, that thread is raised (interactive; on
    heterogeneous Linux machines, moved to the performance cores) until the
    piece is done.  ``RUNTIME_TAIL_BOOST=0`` (or ``false``, ``no``, ``off``,
    any case) turns it off from the start; ``1``, ``true``, ``yes``, ``on``
    keep it on; other values fail the first call with a ValueError.
    Utility and background jobs are never boosted.

    >>> import runtime
    >>> runtime.set_tail_boost(False); runtime.set_tail_boost(True)
    """
    if not isinstance(enabled, bool):
        raise TypeError(f"runtime.set_tail_boost: enabled must be a bool, got "
                        f"{type(enabled).__name__}")
    from . import _config  # (imports _qos)

    # Configuration sets the switch from RUNTIME_TAIL_BOOST once; done
    # first, so it cannot undo this call.
    _config.ensure_configured()
    ensure_placed()
    _core.set_tail_boost(enabled)
