"""The number of threads a job runs on, and where that number came from;
the environment variables that configure runtime, checked."""

from __future__ import annotations

import math
import os
import sys
import threading
from typing import Callable

from . import _core, _inline
from ._cpus import cpu_budget

MAX_THREADS: int = _core.MAX_THREADS

_lock = threading.Lock()
_configured = False
_source = ""
_ignored = ""  # why OMP_NUM_THREADS was not followed, when it was set and unusable


class EnvironmentVariableError(ValueError):
    """A RUNTIME_* environment variable holds a value runtime cannot use.
    The message names each such variable, what it holds and what is
    allowed; `problems` lists them one per variable.  Raised by ``import
    runtime`` (and by the call that reads a variable set after the import)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


EnvironmentVariableError.__module__ = "runtime"  # its public name: runtime.EnvironmentVariableError


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


def _from_openmp() -> tuple[int | None, str]:
    """OMP_NUM_THREADS, as numexpr, numba and the BLAS libraries follow it:
    joblib's loky workers (``inner_max_num_threads``) and Dask's nanny set
    it so that each worker process uses its share of the CPUs.  Its first
    entry counts ("4,2": 4 at the outer level of nested OpenMP), capped at
    MAX_THREADS.  Another library's variable, so a value runtime cannot use
    is ignored, not an error (as OpenMP runtimes do); the reason is
    returned instead of a count, for runtime.info()."""
    text = os.environ.get("OMP_NUM_THREADS", "").strip()
    if not text:
        return None, ""
    first = text.split(",")[0].strip()
    try:
        value = int(first)
    except ValueError:
        value = 0
    if value < 1:
        return None, f"OMP_NUM_THREADS={text!r} ignored: not a whole number of threads >= 1"
    return min(value, MAX_THREADS), ""


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
    global _configured, _source, _ignored
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
        ignored = ""
        if chosen is None:
            openmp, ignored = _from_openmp()
            if openmp is not None:
                chosen = openmp, "OMP_NUM_THREADS"
        if chosen is None:
            budget = cpu_budget()
            chosen = budget.count, budget.source
        _core.configure(chosen[0], spin_us)
        _inline.set_threads(chosen[0])
        # Before any job: _core reads the switch per job, and a pool exists
        # only after configure().
        _core.set_tail_boost(tail_boost)
        _source = chosen[1]
        _ignored = ignored
        _configured = True
    from . import _qos  # (imports _config)

    try:
        _qos.ensure_placed()  # each level's CPUs, and the tail boost's, from the topology
    except ValueError:
        pass  # a malformed RUNTIME_TOPOLOGY: runtime.topology() and runtime.qos() say so


def num_threads() -> int:
    """Threads that work on a job, the calling thread included.

    Default: the CPUs this process may use (its affinity mask, capped by a
    cgroup CPU quota); ``OMP_NUM_THREADS`` replaces that (as in numexpr,
    numba and BLAS: joblib and Dask set it in their worker processes),
    ``RUNTIME_NUM_THREADS`` replaces both, and :func:`set_num_threads`
    overrides them all.  ``runtime.info()["num_threads_source"]`` says
    which one chose the count.

    >>> import runtime
    >>> runtime.num_threads() >= 1
    True
    """
    ensure_configured()
    return _core.configured_threads()


def get_num_threads() -> int:
    """The same as :func:`num_threads` (the name numexpr, numba and
    threadpoolctl users know).

    >>> import runtime
    >>> runtime.get_num_threads() == runtime.num_threads()
    True
    """
    return num_threads()


# Called after set_num_threads: decisions learned for one thread count
# (runtime.numpy's inline thresholds) are dropped.
thread_count_listeners: list[Callable[[], None]] = []


def set_num_threads(n: int) -> int:
    """Use ``n`` threads per job, the caller included (1 runs everything on
    the caller).  Takes effect at once, also while other threads run jobs.
    Returns the count before the call (as numexpr's does), to put back.

    >>> import runtime
    >>> before = runtime.set_num_threads(2)
    >>> runtime.num_threads()
    2
    >>> runtime.set_num_threads(before)
    2
    """
    global _configured, _source
    _check_count(n, "num_threads")
    ensure_configured()
    with _lock:
        previous = _core.configured_threads()
        _core.configure(n)
        _inline.set_threads(n)
        _source = "set_num_threads"
        _configured = True
    for listener in thread_count_listeners:
        listener()
    return previous


def follow_environment() -> int:
    """Forget set_num_threads: choose the count again as at first use
    (RUNTIME_NUM_THREADS, OMP_NUM_THREADS, the CPUs), as runtime.dask's
    uninstall does in a worker whose count it had set.  Returns the count."""
    global _configured
    with _lock:
        _configured = False
    ensure_configured()
    for listener in thread_count_listeners:
        listener()
    return _core.configured_threads()


def thread_source() -> str:
    """What chose the thread count: "affinity", "cgroup quota",
    "OMP_NUM_THREADS", "RUNTIME_NUM_THREADS" or "set_num_threads"."""
    ensure_configured()
    return _source


def ignored_setting() -> str:
    """Why OMP_NUM_THREADS did not choose the count though it was set
    (empty when it did, or was not set, or a stronger setting won)."""
    ensure_configured()
    return _ignored


def check_environment() -> None:
    """Read every RUNTIME_* variable now and raise EnvironmentVariableError
    naming each one that holds a value runtime cannot use (``import
    runtime`` calls this, as numexpr and numba check theirs at import).
    The variables are read again where they are used: this check only
    brings their errors forward.

    >>> import os
    >>> os.environ["RUNTIME_SPIN_US"] = "fast"
    >>> try:
    ...     check_environment()
    ... except EnvironmentVariableError as error:
    ...     print(error)
    RUNTIME_SPIN_US must be a number of microseconds from 0 to 1000000, got 'fast'
    >>> del os.environ["RUNTIME_SPIN_US"]
    >>> check_environment()
    """
    from . import _topology
    from .energy import _model

    problems = []
    for check in (_from_environment, _spin_us, lambda: env_flag("RUNTIME_TAIL_BOOST", True),
                  lambda: env_flag("RUNTIME_PATCH_NUMPY", False)):
        try:
            check()
        except ValueError as error:
            problems.append(str(error))
    topology_read = True
    if os.environ.get(_topology.ENVIRONMENT) is not None:
        try:
            _topology.topology()
        except ValueError as error:
            problems.append(str(error))
            topology_read = False  # the power model's kinds cannot be checked against it
    power_model = os.environ.get(_model.ENVIRONMENT)
    if power_model is not None and topology_read:
        kinds = [kind.name for kind in _topology.topology().kinds]
        try:
            _model.parse_power_model(power_model, kinds)
        except ValueError as error:
            problems.append(str(error))
    if problems:
        raise EnvironmentVariableError(problems)


def started_as_command() -> bool:
    """Whether this interpreter is starting ``python -m runtime`` and is
    still importing the package: then a bad variable is reported by the
    command, in one line with exit status 2, instead of as a traceback of
    the import.  (While -m locates its module, sys.argv[0] is "-m".)"""
    if sys.argv[:1] != ["-m"]:
        return False
    arguments = getattr(sys, "orig_argv", [])
    for i, argument in enumerate(arguments[1:], 1):
        if argument == "-m":
            return arguments[i + 1:i + 2] == ["runtime"]
        if argument.startswith("-m"):
            return argument == "-mruntime"
    return False
