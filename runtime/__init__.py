"""runtime: every core for NumPy, fast and frugal.

A C work-stealing pool splits array work into fine-grained chunks, so fast
cores simply take more of them; the calling thread works too.

>>> import numpy as np, runtime
>>> x = np.linspace(0, 1, 1_000_000)
>>> y = runtime.map(np.sin, x)                      # same bits as np.sin(x)
>>> s = runtime.reduce(np.sum, x, combine=float.__add__)
"""

from __future__ import annotations

from . import _core
from ._config import num_threads, set_num_threads
from ._info import info
from ._map import map, map_items, reduce
from ._parallel import parallel
from ._parallel_for import parallel_for
from ._qos import qos, set_tail_boost
from ._submit import submit
from ._topology import CoreKind, Topology, topology
from ._trace import Trace, TraceEvent, trace
from . import _threadpoolctl  # noqa: F401  (registers the pool with threadpoolctl)
from . import energy
from ._distribution import VERSION as __version__

__all__ = [
    "CoreKind",
    "Topology",
    "__version__",
    "energy",
    "info",
    "map",
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
