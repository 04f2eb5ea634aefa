"""runtime.numpy: ``import runtime.numpy as np``, and NumPy's hot operations
run on every core.

Every public NumPy name is here, with the same signature and results.
Ufuncs (``np.exp``, ``np.add``, ...), the reductions (``np.sum``,
``np.mean``, ...), ``matmul``/``dot``/``tensordot`` and ``where``,
``clip``, ``copyto`` and array copies are parallel versions; everything
else is NumPy's own object (``np.linalg``, ``np.random``, ``np.fft``,
dtypes, ``np.ndarray``).  Methods of arrays (``x.sum()``) stay NumPy's,
unless :func:`patch` makes NumPy's own loops parallel (transparent mode).
Calls runtime cannot split correctly (object dtype, subclasses and other
``__array_ufunc__``/``__array_function__`` overrides, generalized ufuncs,
small arrays) go to NumPy unchanged.

>>> import numpy, runtime.numpy as np
>>> x = np.linspace(0.0, 1.0, 1_000_000)
>>> bool((np.exp(x) == numpy.exp(x)).all())
True
>>> np.float64 is numpy.float64 and np.linalg is numpy.linalg
True
"""

from __future__ import annotations

import numpy as _np

from .. import _config
from . import _elementwise, _functions, _linalg, _reductions, _submodules, _ufunc
from ._ufunc import PRODUCT_SIZE as _PRODUCT_SIZE
from ._ufunc import SMALL_SIZE as _SMALL_SIZE
from ._ufunc import ParallelUfunc as _ParallelUfunc
from ._ufunc import SmallCallsToNumPy as _SmallCallsToNumPy
from ._ufunc import set_methods as _set_methods

# NumPy's public names first; the parallel versions below replace some.
globals().update({name: value for name, value in vars(_np).items() if not name.startswith("_")})
__all__ = list(_np.__all__)

# One wrapper per NumPy ufunc (aliases such as abs/absolute share it).
# Generalized ufuncs (core dimensions: matmul, vecdot, ...) are not
# elementwise: NumPy's own, except matmul below.
_wrappers: dict[_np.ufunc, _ParallelUfunc] = {}
for _name, _value in vars(_np).items():
    if isinstance(_value, _np.ufunc) and _value.signature is None and not _name.startswith("_"):
        if _value not in _wrappers:
            _wrappers[_value] = _ParallelUfunc(_value, _elementwise.call)
        globals()[_name] = _wrappers[_value]


# Elementwise functions that are not ufuncs (small calls: NumPy's, at once).
where = _SmallCallsToNumPy(_np.where, _functions.where, _SMALL_SIZE)
clip = _SmallCallsToNumPy(_np.clip, _functions.clip, _SMALL_SIZE)
copyto = _SmallCallsToNumPy(_np.copyto, _functions.copyto, _SMALL_SIZE)
copy = _SmallCallsToNumPy(_np.copy, _functions.copy, _SMALL_SIZE)
ascontiguousarray = _SmallCallsToNumPy(_np.ascontiguousarray, _functions.ascontiguousarray,
                                       _SMALL_SIZE)
asfortranarray = _SmallCallsToNumPy(_np.asfortranarray, _functions.asfortranarray, _SMALL_SIZE)


# Linear algebra: products tiled over the pool.  np.matmul stays a ufunc
# object (a generalized one: every call goes to _linalg.matmul).
matmul = _ParallelUfunc(_np.matmul, lambda wrapper, args, kwargs: _linalg.matmul(*args, **kwargs))
dot = _SmallCallsToNumPy(_np.dot, _linalg.dot, _PRODUCT_SIZE)
inner = _SmallCallsToNumPy(_np.inner, _linalg.inner, _PRODUCT_SIZE)
tensordot = _SmallCallsToNumPy(_np.tensordot, _linalg.tensordot, _PRODUCT_SIZE)
# vdot is NumPy's: one dot product of two vectors is memory-bound, and on
# this machine memory bandwidth barely grows with a second thread.
vdot = _np.vdot

# Reductions.  Behind the same gate as the functions above, with no size
# limit (their own small-call paths beat NumPy's Python layers): any
# argument runtime does not handle itself (a duck array, a subclass, a
# list) makes the call NumPy's, with the caller's arguments untouched.
_REDUCTIONS = ("sum", "prod", "min", "max", "amin", "amax", "mean", "var", "std", "argmin",
               "argmax", "any", "all", "count_nonzero", "nansum", "nanprod", "nanmin", "nanmax",
               "nanmean", "nanvar", "nanstd")
for _name in _REDUCTIONS:
    globals()[_name] = _SmallCallsToNumPy(getattr(_np, _name), getattr(_reductions, _name), 0)


class _UfuncMethods:
    """ParallelUfunc's reduce and outer (accumulate, reduceat, at: NumPy's)."""

    @staticmethod
    def reduce(wrapper: _ParallelUfunc, args: tuple, kwargs: dict) -> object:
        # NumPy's ufunc (not the wrapper): ufunc_reduce may hand the call to
        # ufunc.reduce, which must not come back here.
        return _reductions.reduce_call(wrapper.ufunc, args, kwargs)

    outer = staticmethod(_elementwise.outer)


_set_methods(_UfuncMethods)


def _forget_learned_sizes() -> None:
    """Decisions learned for one thread count: drop them when it changes."""
    for wrapper in _wrappers.values():
        wrapper._forget()
    _functions._clip_ufunc._forget()
    matmul._forget()
    _elementwise._hot.clear()


_config.thread_count_listeners.append(_forget_learned_sizes)
_submodules.install()
# numpy._core.umath._add_newdoc_ufunc rejects anything but NumPy's own ufunc
# type (TypeError); given runtime.numpy's wrapper, it must act on the ufunc
# inside as NumPy would (ValueError for a ufunc that has a docstring).  The
# replacement passes NumPy's own ufuncs through unchanged.
if _ufunc._numpy_add_newdoc_ufunc is not None:
    for _module in (_np._core.umath, _np._core._multiarray_umath):
        if getattr(_module, "_add_newdoc_ufunc", None) is _ufunc._numpy_add_newdoc_ufunc:
            _module._add_newdoc_ufunc = _ufunc._add_newdoc_ufunc


# RUNTIME_FORCE_SPLIT=N: every split path at once, for tests (_forced.py).
from . import _forced  # noqa: E402

_forced.from_environment()


# Transparent mode: NumPy's own loops split over the pool (_patch.py).
# runtime.numpy's own names: not in __all__, which stays NumPy's.
from ._patch import is_patched, patch, patched, restore  # noqa: E402, F401


def __getattr__(name: str) -> object:
    # NumPy's lazily loaded names (np.testing, np.ma, ...) and private ones.
    try:
        return getattr(_np, name)
    except AttributeError:
        raise AttributeError(f"module 'runtime.numpy' has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted(set(dir(_np)) | set(globals()))
