"""The number of threads a job runs on, and where that number came from."""

from __future__ import annotations

import math
import os
import threading
from typing import Callable

from . import _core
from ._cpus import cpu_budget

MAX_THREADS: int = _core.MAX_THREADS

_lock = threading.Lock()
_configured = False
_source = ""


def _after_fork_child() -> None:
    global _lock
    _lock = threading.Lock()  # its holder in the parent may be a thread that is gone


os.register_at_fork(after_in_child=_after_fork_child)


def _check_count(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, got {type(value).__name__}")
    if not 1 <= value <= MAX_THREADS:
        raise ValueError(f"{what} must be between 1 and {MAX_THREADS}, got {value}")
    return value


def _from_environment() -> tuple[int, str] | None:
    text = os.environ.get("RUNTIME_NUM_THREADS", "").strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise ValueError(
            f"RUNTIME_NUM_THREADS must be a whole number of threads, e.g. 4; got {text!r}"
        ) from None
    return _check_count(value, "RUNTIME_NUM_THREADS"), "RUNTIME_NUM_THREADS"


# The longest idle spin RUNTIME_SPIN_US may ask for: one second.  A longer
# spin is a busy core, not a wake-up latency saved; and the binding turns
# the value into int64 nanoseconds, undefined for NaN, inf or 1e30.
MAX_SPIN_US = 1e6


def _spin_us() -> float:
    """RUNTIME_SPIN_US: microseconds each idle thread spins before it parks
    (finite, 0 to MAX_SPIN_US); -1 when unset (the pool's default)."""
    text = os.environ.get("RUNTIME_SPIN_US", "").strip()
    if not text:
        return -1.0
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value <= MAX_SPIN_US:  # also NaN
        raise ValueError(f"RUNTIME_SPIN_US must be a number of microseconds from 0 to "
                         f"{MAX_SPIN_US:.0f}, got {text!r}")
    return value


TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def env_flag(name: str, default: bool) -> bool:
    """A yes/no environment variable: 1, true, yes, on or 0, false, no,
    off (any case, surrounding blanks ignored); unset or empty gives
    `default`; anything else is a ValueError naming the variable.

    >>> import os
    >>> os.environ["RUNTIME_EXAMPLE_FLAG"] = "Off"
    >>> env_flag("RUNTIME_EXAMPLE_FLAG", True)
    False
    >>> del os.environ["RUNTIME_EXAMPLE_FLAG"]
    >>> env_flag("RUNTIME_EXAMPLE_FLAG", True)
    True
    """
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    word = text.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"{name} must be one of {', '.join(TRUE_WORDS)} (on) or "
                     f"{', '.join(FALSE_WORDS)} (off), any case; got {text!r}")


def ensure_configured() -> None:
    """Configure the pool on first use (not at import: an invalid
    environment variable then fails the call that needs it, with its
    message, rather than the import)."""
    global _configured, _source
    if _configured:
        return
    with _lock:
        if _configured:
            return
        # Every variable is read before anything is set: a bad one fails
        # this call and the next, with its message, and configures nothing.
        chosen = _from_environment()
        spin_us = _spin_us()
        tail_boost = env_flag("RUNTIME_TAIL_BOOST", True)
        if chosen is None:
            budget = cpu_budget()
            chosen = budget.count, budget.source
        _core.configure(chosen[0], spin_us)
        # Before any job: _core reads the switch per job, and a pool exists
        # only after configure().
        _core.set_tail_boost(tail_boost)
        _source = chosen[1]
        _configured = True
    from . import _qos  # (imports _config)

    try:
        _qos.ensure_placed()  # each level's CPUs, and the tail boost's, from the topology
    except ValueError:
        pass  # a malformed RUNTIME_TOPOLOGY: runtime.topology() and runtime.qos() say so


def num_threads() -> int:
    """Threads that work on a job, the calling thread included.

    Default: the CPUs this process may use (its affinity mask, capped by a
    cgroup CPU quota); ``RUNTIME_NUM_THREADS`` or :func:`set_num_threads`
    override it.

    >>> import runtime
    >>> runtime.num_threads() >= 1
    True
    """
    ensure_configured()
    return _core.configured_threads()


# Called after set_num_threads: decisions learned for one thread count
# (runtime.numpy's inline thresholds) are dropped.
thread_count_listeners: list[Callable[[], None]] = []


def set_num_threads(n: int) -> None:
    """Use ``n`` threads per job, the caller included (1 runs everything on
    the caller).  Takes effect at once, also while other threads run jobs.

    >>> import runtime
    >>> before = runtime.num_threads()
    >>> runtime.set_num_threads(2); runtime.num_threads()
    2
    >>> runtime.set_num_threads(before)
    """
    global _configured, _source
    _check_count(n, "num_threads")
    ensure_configured()
    with _lock:
        _core.configure(n)
        _source = "set_num_threads"
        _configured = True
    for listener in thread_count_listeners:
        listener()


def thread_source() -> str:
    """What chose the thread count: "affinity", "cgroup quota",
    "RUNTIME_NUM_THREADS" or "set_num_threads"."""
    ensure_configured()
    return _source
