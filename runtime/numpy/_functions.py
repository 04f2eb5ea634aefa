"""where, clip, copyto and array copies: elementwise NumPy functions that
are not ufuncs, split like ufunc calls (runtime.numpy._elementwise).

Each chunk runs NumPy's own function on box views of the operands, so
results are NumPy's bits; calls with anything unusual (subclasses, lists,
object dtypes, overlapping operands, small arrays) are NumPy's calls.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

import numpy as np
from numpy._core import umath

from .. import _core, _schedule
from ._elementwise import (
    NUMERIC_KINDS,
    SCALAR_TYPES,
    _allocate,
    execute,
    overlap_is_safe,
)
from ._fperrors import recorded_fp_errors
from ._ufunc import ParallelUfunc
from . import _elementwise

# Below this many elements a call is NumPy's at once: even a perfect split
# would save less than the pool's dispatch (5-30 us measured here).
MIN_PARALLEL_ELEMENTS = 16384

F = TypeVar("F", bound=Callable[..., Any])


def _like(numpy_function: Callable[..., Any]) -> Callable[[F], F]:
    """NumPy's name and docstring, runtime.numpy's module."""
    def decorate(function: F) -> F:
        functools.update_wrapper(function, numpy_function, assigned=("__name__", "__qualname__",
                                                                      "__doc__"), updated=())
        function.__module__ = "runtime.numpy"
        return function
    return decorate


def _numeric_operand(a: Any) -> bool:
    if type(a) is np.ndarray:
        return a.dtype.kind in NUMERIC_KINDS
    return isinstance(a, SCALAR_TYPES) and np.asarray(a).dtype.kind in NUMERIC_KINDS


def _discards_imaginary(source: Any, target: Any) -> bool:
    """Casting source to target warns ComplexWarning: NumPy warns once per
    call, every chunk would warn again (from its thread), so such calls are
    NumPy's."""
    source_kind = np.asarray(source).dtype.kind if not isinstance(source, np.dtype) \
        else source.kind
    return source_kind == "c" and np.dtype(target).kind not in "cb"


def _worth_splitting(key: Any, size: int) -> bool:
    if _core.configured_threads() == 1 or size == 0:
        return False
    if _schedule._forced_grain is not None:
        return True
    return size >= MIN_PARALLEL_ELEMENTS and not _schedule.runs_inline(key, size)


def _key(function: Callable[..., Any], *operands: Any) -> Any:
    return _schedule.cost_key(function, *(a.dtype.char if isinstance(a, np.ndarray) else type(a)
                                          for a in operands))


@_like(np.where)
def where(condition: Any, *xy: Any) -> Any:
    if len(xy) != 2 or not all(_numeric_operand(a) for a in (condition, *xy)) \
            or type(condition) is not np.ndarray:
        return np.where(condition, *xy)
    arrays = [a for a in (condition, *xy) if isinstance(a, np.ndarray)]
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays))
    except ValueError:
        return np.where(condition, *xy)
    size = int(np.prod(shape))
    key = _key(np.where, condition, *xy)
    if not _worth_splitting(key, size):
        return np.where(condition, *xy)
    corner = tuple(slice(0, 1) for _ in shape)
    probe = np.where(*(a[corner[len(corner) - a.ndim:]] if isinstance(a, np.ndarray) else a
                       for a in (condition, *xy)))
    (out,) = _allocate(arrays, [probe.dtype], shape, "K")

    def kernel(ins: list[Any], outs: list[np.ndarray]) -> None:
        outs[0][...] = np.where(*ins)

    with recorded_fp_errors("cast", stacklevel=2):
        execute(kernel, [condition, *xy], [out], shape, key)
    return out


@_like(np.copyto)
def copyto(dst: Any, src: Any, casting: str = "same_kind", where: Any = True) -> None:
    if type(dst) is not np.ndarray or dst.dtype.kind not in NUMERIC_KINDS \
            or not dst.flags.writeable or not _numeric_operand(src) \
            or not (where is True or (type(where) is np.ndarray and where.dtype == np.bool_)):
        return np.copyto(dst, src, casting=casting, where=where)
    inputs = [src] if where is True else [src, where]
    try:
        shape = np.broadcast_shapes(dst.shape, *(a.shape for a in inputs
                                                 if isinstance(a, np.ndarray)))
    except ValueError:
        shape = None
    key = _key(np.copyto, dst, *inputs)
    if shape != dst.shape or not _worth_splitting(key, dst.size) \
            or not overlap_is_safe([dst], inputs) \
            or _discards_imaginary(src.dtype if isinstance(src, np.ndarray) else src, dst.dtype):
        return np.copyto(dst, src, casting=casting, where=where)

    def kernel(ins: list[Any], outs: list[np.ndarray]) -> None:
        np.copyto(outs[0], ins[0], casting=casting, where=ins[1] if len(ins) > 1 else True)

    with recorded_fp_errors("cast", stacklevel=2):
        execute(kernel, inputs, [dst], dst.shape, key)
    return None


def _parallel_copy(a: np.ndarray, out: np.ndarray, stacklevel: int) -> np.ndarray:
    def kernel(ins: list[Any], outs: list[np.ndarray]) -> None:
        np.copyto(outs[0], ins[0], casting="unsafe")

    with recorded_fp_errors("cast", stacklevel=stacklevel + 1):
        execute(kernel, [a], [out], a.shape, _key(np.copyto, out, a))
    return out


def _copy_is_parallel(a: Any, dtype: Any) -> bool:
    if type(a) is not np.ndarray or a.ndim == 0 or a.dtype.kind not in NUMERIC_KINDS:
        return False
    if dtype is not None:
        try:
            if np.dtype(dtype).kind not in NUMERIC_KINDS or _discards_imaginary(a.dtype, dtype):
                return False
        except TypeError:
            return False
    return _worth_splitting(_key(np.copyto, a, a), a.size)


def _contiguous(numpy_func: Callable[..., Any], order: str, a: Any, dtype: Any,
                like: Any) -> Any:
    """np.ascontiguousarray (order "C") or np.asfortranarray ("F"): `a`
    itself when it already is, else a parallel copy."""
    contiguous = order == "C" and a.flags.c_contiguous or order == "F" and a.flags.f_contiguous \
        if type(a) is np.ndarray else False
    if like is not None or not _copy_is_parallel(a, dtype) or (
            contiguous and (dtype is None or np.dtype(dtype) == a.dtype)):
        return numpy_func(a, dtype=dtype, like=like)
    out = np.empty(a.shape, dtype=a.dtype if dtype is None else dtype, order=order)
    return _parallel_copy(a, out, stacklevel=3)


@_like(np.ascontiguousarray)
def ascontiguousarray(a: Any, dtype: Any = None, *, like: Any = None) -> Any:
    return _contiguous(np.ascontiguousarray, "C", a, dtype, like)


@_like(np.asfortranarray)
def asfortranarray(a: Any, dtype: Any = None, *, like: Any = None) -> Any:
    return _contiguous(np.asfortranarray, "F", a, dtype, like)


@_like(np.copy)
def copy(a: Any, order: str = "K", subok: bool = False) -> Any:
    if order not in ("K", "A", "C", "F") or not _copy_is_parallel(a, None):
        return np.copy(a, order=order, subok=subok)
    if order == "A":
        order = "F" if a.flags.f_contiguous and not a.flags.c_contiguous else "C"
    return _parallel_copy(a, np.empty_like(a, order=order), stacklevel=2)


# NumPy's clip ufunc (np.clip's engine: numpy/_core/_methods.py, _clip).
_clip_ufunc = ParallelUfunc(umath.clip, _elementwise.call)


@_like(np.clip)
def clip(a: Any, a_min: Any = np._NoValue, a_max: Any = np._NoValue, out: Any = None, *,
         min: Any = np._NoValue, max: Any = np._NoValue, **kwargs: Any) -> Any:
    if type(a) is not np.ndarray:
        return np.clip(a, a_min, a_max, out, min=min, max=max, **kwargs)
    # np.clip's own argument rules (numpy/_core/fromnumeric.py), then the
    # engine of ndarray.clip (numpy/_core/_methods.py, _clip) with parallel ufuncs.
    if a_min is np._NoValue and a_max is np._NoValue:
        a_min = None if min is np._NoValue else min
        a_max = None if max is np._NoValue else max
    elif a_min is np._NoValue or a_max is np._NoValue \
            or min is not np._NoValue or max is not np._NoValue:
        return np.clip(a, a_min, a_max, out, min=min, max=max, **kwargs)  # NumPy's error
    lo, hi = a_min, a_max
    if a.dtype.kind in "iu":
        if type(lo) is int and lo <= np.iinfo(a.dtype).min:
            lo = None
        if type(hi) is int and hi >= np.iinfo(a.dtype).max:
            hi = None
    from . import maximum, minimum, positive  # the parallel ufuncs
    if lo is None and hi is None:
        return positive(a, out=out, **kwargs)
    if lo is None:
        return minimum(a, hi, out=out, **kwargs)
    if hi is None:
        return maximum(a, lo, out=out, **kwargs)
    return _clip_ufunc(a, lo, hi, out=out, **kwargs)
