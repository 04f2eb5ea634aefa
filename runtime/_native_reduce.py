"""runtime.reduce of NumPy's own sum: the leaves on NumPy's loop, with no GIL.

``runtime.reduce(np.sum, x, combine=operator.add)`` runs ``np.sum`` on
each leaf in Python, and each leaf's call takes the GIL before NumPy gives
it up for the loop.  Leaves of a memory-bound sum are short (2**17 doubles:
~35 us), and on this kind of VM a thread waiting for the GIL gets it only
after a 30-100 us wake-up: two threads took turns rather than overlapped
(1e6 doubles: 0.86x np.sum, one thread doing all 8 leaves while the other
waited).  When func is ``np.sum`` or ``np.add.reduce`` and combine adds, a
C-contiguous array whose sum NumPy computes in its own dtype (float32,
float64, int64, uint64) has each leaf summed by the very loop NumPy's
reduction calls, the same way (the partial starts at 0 and the loop adds
the whole leaf into it, runtime/numpy/_loops.pyx): the same bits as
``np.sum(leaf)``, with no GIL.  The partials combine in leaf order with the
caller's combine, as on the Python path.  A leaf that raised a
floating-point error, or a loop that failed, sends the call back to the
Python path, which warns exactly as NumPy does.
"""

from __future__ import annotations

import operator
from typing import Any, Callable

import numpy as np

from . import _core, _schedule

# The dtypes whose np.sum runs the (d, d) -> d loop: smaller integers and
# bool are summed in a wider type, float16 in NumPy's own way.
_DTYPES = frozenset(np.dtype(c) for c in "fdqQ")
_ADDS = (operator.add, np.add)
_loops_for: dict[np.dtype, Any] = {}


def _is_sum(func: object) -> bool:
    return func is np.sum or (getattr(func, "__self__", None) is np.add
                              and getattr(func, "__name__", None) == "reduce")


def _loop(dtype: np.dtype) -> Any:
    if dtype not in _loops_for:
        from .numpy import _loops
        _loops_for[dtype] = _loops.strided_loop(np.add, (dtype, dtype, dtype),
                                                (0, dtype.itemsize, 0))
    return _loops_for[dtype]


def leaf_sums(x: np.ndarray, leaf_elements: int) -> np.ndarray | None:
    """Each leaf's sum (leaves of `leaf_elements` elements of the
    C-contiguous `x`, the last shorter) by NumPy's add loop on the pool;
    None when there is no such loop for x's dtype, or a leaf raised a
    floating-point error (the caller then runs NumPy's reduction itself)."""
    if x.dtype not in _DTYPES or not x.flags.c_contiguous or not x.flags.aligned \
            or x.dtype.byteorder not in "=|":
        return None
    loop = _loop(x.dtype)
    if loop is None:
        return None
    from .numpy import _loops
    job = _loops.LeafReduction(loop, x.reshape(-1), leaf_elements, 0)
    kernel, ctx = job.kernel, job.ctx
    _schedule.run(lambda start, stop: _core.call_native(kernel, ctx, start, stop), job.leaves,
                  key=_schedule.cost_key(np.add, "leaves", leaf_elements, x.dtype.char),
                  native=(kernel, ctx), limit_blas=False)
    if job.failed or job.fp_status:
        return None
    return job.parts


def native_partials(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                    combine: Callable[[Any, Any], Any], leaf_rows: int,
                    row_elements: int) -> list[Any] | None:
    """runtime.reduce's leaves' partial sums, or None when this call is
    not one this path takes (or a leaf raised a floating-point error)."""
    if not _is_sum(func) or combine not in _ADDS or kwargs or len(args) != 1:
        return None
    (x,) = args
    if type(x) is not np.ndarray:
        return None
    sums = leaf_sums(x, leaf_rows * row_elements)
    return None if sums is None else list(sums)
