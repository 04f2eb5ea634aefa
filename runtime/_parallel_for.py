"""runtime.parallel_for."""

from __future__ import annotations

import operator
from typing import Any, Callable

from . import _config, _core, _qos, _schedule
from ._map import MAX_ROWS, check_grain
from ._native import context_address, kernel_address


def parallel_for(n: int, body: Callable[[int, int], Any] | Any, ctx: Any = None, *,
                 grain: int | None = None, qos: _qos.QosLevel | None = None) -> None:
    """Run ``body(start, stop)`` over ``range(n)`` split into chunks, on all
    cores; returns when every chunk has run.

    ``body`` is a Python callable taking (start, stop), or a native kernel
    ``void kernel(int64_t begin, int64_t end, void *ctx)``: a cffi function
    pointer, a ctypes function (argtypes set), a numba ``cfunc`` or an int
    address.  Native kernels run with no GIL; ``ctx`` (None, an address, a
    cffi or ctypes pointer, or a NumPy array) is passed to them as is.
    ``n`` is 0 to 2**63 - 1; an int kernel or ctx address 0 to 2**64 - 1.

    An int address cannot be checked: it is called as a kernel of that
    signature, so an address that is not one (``parallel_for(10, 0x1234)``)
    crashes the process (segmentation fault), as a bad pointer in C would.
    A cffi, ctypes or numba kernel is checked against the signature.
    Small jobs run inline on the caller; ``grain`` overrides that decision
    and sets the chunk size (``grain`` to ``2 * grain`` indices).  ``qos``
    runs the call at that QoS level (as ``runtime.qos``).

    Chunks run at the same time, in any order, on any thread: a body that
    writes rows other chunks read (in place, ``a[i] = a[i - 1] + a[i]``
    over its own ``[start, stop)``, or reading a neighbour's rows) races,
    and its result varies from run to run.  Unlike ``runtime.map``'s
    ``out=``, nothing here can see what the body touches, so nothing is
    copied: read from one array and write another.

    >>> import numpy as np, runtime
    >>> out = np.zeros(10)
    >>> def body(start, stop):
    ...     out[start:stop] = np.arange(start, stop) ** 2
    >>> runtime.parallel_for(10, body)
    >>> out.tolist()[-3:]
    [49.0, 64.0, 81.0]
    """
    if qos is not None:
        with _qos.maybe(qos, "runtime.parallel_for"):
            return parallel_for(n, body, ctx, grain=grain)
    if isinstance(n, bool):
        raise TypeError("runtime.parallel_for: n must be an int (number of indices), got bool")
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"runtime.parallel_for: n must be an int (number of indices), "
                        f"got {type(n).__name__}") from None
    if not 0 <= n <= MAX_ROWS:  # the pool's indices are int64_t
        raise ValueError(f"runtime.parallel_for: n must be 0 to 2**63 - 1 (number of "
                         f"indices), got {n}")
    grain = check_grain(grain, "runtime.parallel_for")
    kernel = kernel_address(body)
    if kernel is None:
        if ctx is not None:
            raise TypeError("runtime.parallel_for: ctx= is passed to native kernels only; a "
                            "Python body gets (start, stop) — use a closure for its data")
        _schedule.run(body, n, key=_schedule.cost_key(body, "for"), grain=grain)
        return
    address = context_address(ctx)
    if n == 0:
        return
    if grain is not None and _config.num_threads() > 1:
        _core.parallel_for_native(kernel, address, 0, n, grain, grain, 1)
        return

    def inline(start: int, stop: int) -> None:
        _core.call_native(kernel, address, start, stop)

    _schedule.run(inline, n, key=("native", kernel), grain=grain, native=(kernel, address),
                  limit_blas=False)
