"""runtime: every core for NumPy, fast and frugal.

A C work-stealing pool splits array work into fine-grained chunks, so fast
cores simply take more of them; the calling thread works too.

>>> import numpy as np, runtime
>>> x = np.linspace(0, 1, 1_000_000)
>>> y = runtime.map(np.sin, x)                      # same bits as np.sin(x)
>>> s = runtime.reduce(np.sum, x, combine=float.__add__)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import _config, _core
from ._config import EnvironmentVariableError, get_num_threads, num_threads, set_num_threads
from ._info import info
if TYPE_CHECKING:
    # The same functions, with generic signatures for type checkers
    # (runtime/_signatures.pyi): a wrong level or callable is a type error.
    # "map as map": exported though not in __all__ (see there).
    from ._signatures import map as map
    from ._signatures import map_items, parallel_for, reduce, submit
else:
    # Compiled (runtime/_inline.pyx): small calls run inline at once; the
    # measured paths are in _map and _parallel_for, which register them.
    from ._inline import map as map
    from ._inline import map_items, parallel_for, reduce
    from . import _map, _parallel_for  # noqa: F401
    from ._submit import submit
from ._executor import Executor
from ._parallel import parallel
from ._qos import QosLevel, qos, set_tail_boost
from ._topology import CoreKind, Topology, topology
from ._trace import Trace, TraceEvent, trace
from . import _threadpoolctl  # noqa: F401  (registers the pool with threadpoolctl)
from . import energy
from ._distribution import VERSION as __version__

# Every RUNTIME_* variable is checked now, so a bad value fails the import
# with its name and what it may hold, not some later call deep inside.
# `python -m runtime` reports it itself, in one line (runtime/__main__.py).
try:
    _config.check_environment()
except EnvironmentVariableError:
    if not _config.started_as_command():
        raise

# Not "map": `from runtime import *` must not shadow the builtin; write
# runtime.map.
__all__ = [
    "CoreKind",
    "EnvironmentVariableError",
    "Executor",
    "QosLevel",
    "Topology",
    "__version__",
    "energy",
    "get_num_threads",
    "info",
    "map_items",
    "num_threads",
    "parallel",
    "parallel_for",
    "qos",
    "reduce",
    "set_num_threads",
    "set_tail_boost",
    "shutdown",
    "submit",
    "topology",
    "trace",
    "Trace",
    "TraceEvent",
]


def shutdown() -> bool:
    """Stop the worker threads now (they start again on the next call).

    Runs at interpreter exit by itself (after submitted work has run);
    call it to release the threads earlier.  Returns False, leaving the
    threads alone, while another thread is inside a call or submitted work
    has not run yet.

    >>> import runtime
    >>> runtime.shutdown()
    True
    """
    return _core.shutdown()


import atexit as _atexit  # noqa: E402
import threading as _threading  # noqa: E402

from . import _submit as _submit_module  # noqa: E402


def _shutdown_at_exit() -> None:
    _submit_module.wait_for_submitted()  # submitted work runs to the end first
    _core.shutdown()


# Exit begins (threading's own exit hooks run before atexit's, while daemon
# threads may still run): from then on submit() raises, as
# concurrent.futures does, so a thread that keeps submitting cannot keep
# the wait below from ending.
_threading._register_atexit(_submit_module.refuse_new_work)
_atexit.register(_shutdown_at_exit)


def _patch_numpy_if_asked() -> None:
    # RUNTIME_PATCH_NUMPY=1: NumPy's own loops on the pool for the whole
    # program (runtime.numpy.patch()); never on a bare import.
    if _config.env_flag("RUNTIME_PATCH_NUMPY", False):
        from .numpy import _patch

        _patch.patch()


_patch_numpy_if_asked()
