"""NumPy's reductions (sum, mean, var, argmax, nanmin, ...) on all cores.

Every function has NumPy 2.x's signature and gives NumPy's results.  A call
on a big plain ``numpy.ndarray`` is split one of two ways, chosen from the
shape, memory layout and axes alone (never from timings or the thread
count), so the same call always splits the same way:

* **Along a kept axis** (one that is not reduced, at least KEPT_MIN_ROWS
  long, and not the innermost in memory unless nothing better is left):
  each chunk is NumPy's own call on a range of rows, so each output element
  is computed by NumPy on the same data in the same order: the same bits
  as NumPy.  Chunks are at least two rows wide: on a one-row slice NumPy
  drops the axis and may sum in another (pairwise) order.
* **Along a reduced axis** (full reductions; a C array summed over axis 0,
  whose column blocks NumPy sums slowly): leaves fixed by the shape only
  (``_map.leaf_rows``), NumPy's reduction on each leaf, partials combined
  pairwise in leaf order (``_map.combine_in_order``): the same bits on every
  run and for every thread count, within NumPy's error bound (exact for
  integers and booleans).  mean and var follow numpy/_core/_methods.py
  step by step, with their sums (and var's squared deviations) on leaves.

Everything else goes to NumPy unchanged, with its results, errors and
warnings: small arrays (checked first: it costs a few tens of ns), anything
that is not exactly ``numpy.ndarray``, dtypes other than bool, integer,
float and complex, and unusual arguments.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, Callable, Hashable

import numpy as _np

from .. import _schedule
from .._map import combine_in_order, leaf_rows
from .._native_reduce import leaf_sums
from ._elementwise import cast_is_quiet, distinct_elements
from ._fperrors import recorded_fp_errors, user_stacklevel

_NoValue: Any = _np._NoValue
_ndarray = _np.ndarray
_FORWARD: Any = object()  # "let NumPy do this call"

# Leaves of at least 2**18 elements (2 MiB of float64).  NumPy's reductions
# are memory-bound and fast (sum: ~0.2 ns/element here), so each leaf must
# be long for its Python cost (a slice, a ufunc.reduce call, a combine:
# a few us) and the GIL hand-offs to vanish: with leaves of 2**15 elements
# np.sum took 2x NumPy's time at 1e5 elements and 0.5-0.7x at 3e5
# (python -m runtime bench --quick); with 2**18, 1.03-1.07x at both.
LEAF_ELEMENTS = 1 << 18
# Below this many elements a call goes straight to NumPy: two leaves at least.
MIN_PARALLEL_ELEMENTS = 2 * LEAF_ELEMENTS
# A kept axis this long is split (the same bits as NumPy); shorter ones leave
# too few pieces for many threads, and the reduced axes are split instead.
KEPT_MIN_ROWS = 16
# Where the only kept axis to split is the innermost one in memory, NumPy's
# inner loop runs along it, and column blocks of a C array summed over axis 0
# run slower than the whole (1024 columns: 1.75x the time; 40 columns: 10x).
# The reduced axis is split instead when its leaves have at least
# LEAF_MIN_ROWS rows (combining the partials then costs at most 1/8 of the
# work); otherwise the kept axis, in blocks of at least INNER_MIN_ROWS.
INNER_MIN_ROWS = 1024
LEAF_MIN_ROWS = 8

_KINDS = "biufc"
_BOOL = _np.dtype(bool)
_INTP = _np.dtype(_np.intp)
_F2, _F4, _F8 = _np.dtype(_np.float16), _np.dtype(_np.float32), _np.dtype(_np.float64)
_COMPLEX_TO_FLOAT = {_np.dtype(_np.complex64): _F4, _np.dtype(_np.complex128): _F8}
_add, _multiply = _np.add, _np.multiply
_maximum, _minimum = _np.maximum, _np.minimum
_logical_or, _logical_and = _np.logical_or, _np.logical_and
_fmax, _fmin = _np.fmax, _np.fmin
# What np.mean, np.var, np.std and np.count_nonzero run for a plain ndarray
# once NumPy's dispatch has found no override: called directly for small
# inputs, where the dispatch is a good part of the time.
_mean_impl = getattr(_np.mean, "_implementation", _np.mean)
_var_impl = getattr(_np.var, "_implementation", _np.var)
_std_impl = getattr(_np.std, "_implementation", _np.std)
_count_nonzero_all = _np._core.multiarray.count_nonzero
# The ufuncs whose reduce is split here; ufunc_reduce forwards the others.
PARALLEL_UFUNCS = frozenset({_add, _multiply, _maximum, _minimum, _logical_and, _logical_or,
                             _np.bitwise_and, _np.bitwise_or, _np.bitwise_xor})


class _Redo(Exception):
    """A split would not give NumPy's answer: NumPy must do the call whole.

    Raised by a chunk that finds NumPy's function would warn on it (a slice
    with nothing to average: each chunk would warn again), and after the
    leaves of a floating-point reduction when a partial is inf or NaN or the
    result is zero: split sums can overflow where NumPy's order does not,
    inf - inf makes NaN where NumPy has inf, and the sign of a zero depends
    on the order of the additions.  (Not caught: NumPy's order overflowing
    where no leaf does, which needs partial sums near the largest float.)"""


def _redo_as_numpy(func: Callable[..., Any]) -> Callable[..., Any]:
    """func's _Redo becomes _FORWARD: the caller then makes NumPy's call."""
    @functools.wraps(func)
    def attempt(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except _Redo:
            return _FORWARD
    return attempt


def _nonfinite(values: Any) -> bool:
    """Some value is inf or NaN.  (This module's own all/any shadow the
    builtins: no generator tricks.)"""
    for v in values:
        if not _np.isfinite(v).all():
            return True
    return False


def _has_zero(x: Any) -> bool:
    """An element (or a real or imaginary part) is +-0: its sign is the
    order's."""
    if x.dtype.kind == "c":
        return bool((x.real == 0).any() or (x.imag == 0).any())
    return bool((x == 0).any())


def _quiet_casts(in_dtype: Any, dtype: Any, out: Any, result_dtype: Any) -> bool:
    """The casts NumPy makes for dtype= and out= report nothing: no
    ComplexWarning (which each chunk would repeat), no overflow in a cast
    (which NumPy names by the size of what it casts)."""
    if dtype is not None and not cast_is_quiet(in_dtype, _np.dtype(dtype)):
        return False
    return out is None or cast_is_quiet(result_dtype, out.dtype)


def _like(numpy_func: Any, name: str | None = None) -> Callable[[Any], Any]:
    """Give a function NumPy's name and docstring, and this package as module."""
    def decorate(func: Any) -> Any:
        func.__name__ = func.__qualname__ = name or numpy_func.__name__
        func.__doc__ = numpy_func.__doc__
        func.__module__ = "runtime.numpy"
        func.__wrapped__ = numpy_func
        return func
    return decorate


def _is_number(value: object) -> bool:
    if type(value) in (int, float, complex, bool):
        return True
    return isinstance(value, _np.generic) and value.dtype.kind in _KINDS


def _dtype_or_none(dtype: object) -> Any:
    """dtype= as a native NumPy dtype of a kind split here, else None."""
    try:
        dt = _np.dtype(dtype)
    except Exception:
        return None
    return dt if dt.kind in _KINDS and dt.isnative else None


class _Plan:
    """How one reduction call is split: the reduced axes, and either the
    kept axis whose rows are split, or the view, axis and leaves of a split
    along a reduced axis."""

    __slots__ = ("a", "axes", "keepdims", "where", "keep_shape", "out_shape", "kept",
                 "out_axis", "align", "view", "vaxes", "split", "leaf", "leaves")

    a: Any
    axes: tuple[int, ...]
    keepdims: bool
    where: Any  # bool mask broadcast to a.shape, or None
    keep_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    kept: int  # the kept axis to split, or -1
    out_axis: int  # where that axis is in the output
    align: int  # kept split: chunk boundaries at multiples of this many row pairs
    view: Any  # the reduced-split view of a (a itself, or a raveled)
    vaxes: tuple[int, ...]  # the reduced axes of view
    split: int  # the axis of view split into leaves
    leaf: int  # rows of view per leaf
    leaves: int


def _plan(a: Any, axis: Any, keepdims: Any, where: Any, out: Any,
          index: bool = False) -> _Plan | None:
    """Split plan for a reduction of `a`, or None when NumPy should do it
    (unusual arguments, which NumPy also checks and reports).  `index`: the
    result is an index (argmax), so a full reduction must keep C order."""
    ndim = a.ndim
    if axis is None:
        axes = tuple(range(ndim))
    else:
        if type(axis) is int:
            axis = (axis,)
        elif type(axis) is not tuple or not axis:
            return None
        seen: list[int] = []
        for ax in axis:
            if type(ax) is not int or not -ndim <= ax < ndim or ax % ndim in seen:
                return None
            seen.append(ax % ndim)
        axes = tuple(sorted(seen))
    if keepdims is _NoValue:
        keepdims = False
    elif type(keepdims) is not bool:
        return None
    mask = None
    if where is not _NoValue and where is not True:
        if type(where) is not _ndarray or where.dtype != _BOOL:
            return None
        try:
            mask = _np.broadcast_to(where, a.shape)
        except ValueError:
            return None
    shape = a.shape
    keep_shape = tuple(1 if i in axes else n for i, n in enumerate(shape))
    out_shape = keep_shape if keepdims else tuple(n for i, n in enumerate(shape) if i not in axes)
    if out is not None and (type(out) is not _ndarray or out.shape != out_shape
                            or _np.may_share_memory(out, a) or not distinct_elements(out)):
        return None  # (elements of out sharing memory: NumPy's order decides)
    p = _Plan()
    p.a, p.axes, p.keepdims, p.where = a, axes, keepdims, mask
    p.keep_shape, p.out_shape = keep_shape, out_shape
    # Split the kept axis with the largest stride: contiguous blocks of rows.
    strides = a.strides
    inner = -1  # the innermost axis in memory (of those longer than 1)
    for i in range(ndim):
        if shape[i] > 1 and (inner < 0 or abs(strides[i]) <= abs(strides[inner])):
            inner = i
    p.kept = -1
    for i in range(ndim):
        if i not in axes and i != inner and shape[i] >= KEPT_MIN_ROWS \
                and (p.kept < 0 or abs(strides[i]) > abs(strides[p.kept])):
            p.kept = i
    if p.kept < 0 and inner >= 0 and inner not in axes and shape[inner] >= 2 * INNER_MIN_ROWS:
        if _reduced_plan(p, index) and p.leaf >= LEAF_MIN_ROWS:
            return p
        p.kept = inner
    if p.kept >= 0:
        p.out_axis = p.kept if keepdims else p.kept - len([ax for ax in axes if ax < p.kept])
        p.align = INNER_MIN_ROWS // 2 if p.kept == inner else 1
        return p
    return p if _reduced_plan(p, index) else None


def _reduced_plan(p: _Plan, index: bool) -> bool:
    """Fill in the split along a reduced axis; False if there is none (fewer
    than two leaves, or an index over a non-C-contiguous array)."""
    a, axes = p.a, p.axes
    ndim = a.ndim
    view, vaxes = a, axes
    if len(axes) == ndim > 1 and p.where is None:
        # A full reduction of a contiguous array: one long axis to cut anywhere.
        if a.flags.c_contiguous:
            view, vaxes = a.reshape(-1), (0,)
        elif a.flags.f_contiguous and not index:
            view, vaxes = a.T.reshape(-1), (0,)
    if index and len(vaxes) > 1:
        return False  # argmax of a non-C-contiguous array: NumPy copies it anyway
    split = vaxes[0]
    for ax in vaxes:
        if view.shape[ax] > view.shape[split]:
            split = ax
    rows = view.shape[split]
    p.view, p.vaxes, p.split = view, vaxes, split
    p.leaf = leaf_rows(rows, view.size // rows, 1, None, LEAF_ELEMENTS)
    p.leaves = -(-rows // p.leaf)
    return p.leaves >= 2


def _key(func: object, p: _Plan, *parts: Hashable) -> Hashable | None:
    """Cost-model key: the function, the dtype and the reduction layout."""
    layout = ("kept", p.a.ndim, p.axes, p.kept) if p.kept >= 0 else \
        ("reduced", p.view.ndim, p.vaxes, p.split)
    return _schedule.cost_key(func, p.a.dtype.str, layout, p.where is not None, *parts)


def _run_kept(p: _Plan, call: Callable[[Any, Any, Any], Any], key: Hashable | None,
              out: Any) -> Any:
    """NumPy's call on ranges of rows of the kept axis, assembled (or written
    into `out`).  call(rows, where rows or None, out rows or None).  The
    chunks' floating-point errors are reported once, with NumPy's names."""
    with recorded_fp_errors("reduce"):
        return _run_kept_chunks(p, call, key, out)


def _run_kept_chunks(p: _Plan, call: Callable[[Any, Any, Any], Any], key: Hashable | None,
                     out: Any) -> Any:
    a, rows = p.a, p.a.shape[p.kept]
    head, out_head = (slice(None),) * p.kept, (slice(None),) * p.out_axis
    units = rows // 2  # pairs of rows; the last unit takes an odd row too

    def rows_of(start: int, stop: int) -> slice:
        return slice(2 * start, rows if stop == units else 2 * stop)

    def piece(start: int, stop: int, into: Any) -> Any:
        span = rows_of(start, stop)
        index = head + (span,)
        mask = None if p.where is None else p.where[index]
        return call(a[index], mask, None if into is None else into[out_head + (span,)])

    if out is not None:
        _schedule.run(lambda start, stop: piece(start, stop, out), units, key=key,
                      row_elements=2 * (a.size // rows), align=p.align, limit_blas=False)
        return out
    result: Any = None

    def first(start: int, stop: int) -> None:
        nonlocal result
        part = piece(start, stop, None)
        if start == 0 and stop == units:
            result = part  # inline: NumPy's own result for the whole array
            return
        shape = list(part.shape)
        shape[p.out_axis] = rows
        result = _np.empty(shape, part.dtype)
        result[out_head + (rows_of(start, stop),)] = part

    def body(start: int, stop: int) -> None:
        result[out_head + (rows_of(start, stop),)] = piece(start, stop, None)

    _schedule.run(body, units, key=key, row_elements=2 * (a.size // rows), align=p.align,
                  first=first, limit_blas=False)
    return result


def _run_leaves(p: _Plan, leaf: Callable[[Any, Any, int], Any], key: Hashable | None) -> list:
    """leaf(rows of view, where rows or None, first row) on every leaf, in
    parallel or inline: the partials in leaf order."""
    view, split, size = p.view, p.split, p.leaf
    rows = view.shape[split]
    head = (slice(None),) * split
    partials: list[Any] = [None] * p.leaves

    def body(start: int, stop: int) -> None:
        for i in range(start, stop):
            index = head + (slice(i * size, (i + 1) * size),)
            partials[i] = leaf(view[index], None if p.where is None else p.where[index],
                               i * size)

    _schedule.run(body, p.leaves, key=key, row_elements=size * (view.size // rows),
                  limit_blas=False)
    return partials


def _shaped(p: _Plan, r: Any, keepdims: bool) -> Any:
    """A combined partial (reduced axes kept, in view's shape) in the
    shape NumPy returns."""
    return r.reshape(p.keep_shape if keepdims else p.out_shape)


def _finish(p: _Plan, r: Any, out: Any) -> Any:
    """The final result as ufunc.reduce returns it: in out, or an array, or
    a NumPy scalar for a 0-d result."""
    r = _shaped(p, r, p.keepdims)
    if out is not None:
        _np.copyto(out, r)
        return out
    return r[()] if r.ndim == 0 else r


def _add_pairs(x: tuple, y: tuple) -> tuple:
    """Combine tuples of partial sums, in place in the left one."""
    return tuple(_add(u, v, out=u) for u, v in zip(x, y))


# --- ufunc reductions: sum, prod, min, max, any, all, nansum, nanprod, nanmin, nanmax

def _reduce_dtype(ufunc: Any, in_dtype: Any, dtype: Any) -> Any:
    """The dtype ufunc.reduce(a, dtype=dtype) returns (with out=None), or
    None where NumPy's own rules are better left to NumPy."""
    if ufunc in (_logical_or, _logical_and):
        return _BOOL if dtype is None or _dtype_or_none(dtype) == _BOOL else None
    if dtype is not None:
        dt = _dtype_or_none(dtype)
        return dt if dt is not None and _np.can_cast(in_dtype, dt, "same_kind") else None
    if ufunc in (_add, _multiply) and in_dtype.kind in "biu" \
            and in_dtype.itemsize < _INTP.itemsize:
        return _np.dtype(_np.uint) if in_dtype.kind == "u" else _np.dtype(_np.int_)
    return in_dtype


def _nan_replaced(value: float) -> Callable[[Any], Any]:
    """A copy with NaN replaced by `value`, as numpy's _replace_nan makes."""
    def replace(chunk: Any) -> Any:
        copy = _np.array(chunk, copy=True)
        _np.copyto(copy, value, where=_np.isnan(chunk))
        return copy
    return replace


@_redo_as_numpy
def _ufunc_reduction(ufunc: Any, a: Any, axis: Any, dtype: Any, out: Any, keepdims: Any,
                     initial: Any, where: Any, nan_to: float | None = None) -> Any:
    """ufunc.reduce(a, axis, dtype, out, keepdims, initial, where) split on
    the pool, or _FORWARD.  nan_to: NaNs count as this value (nansum)."""
    in_dtype = a.dtype
    if in_dtype.kind not in _KINDS or not in_dtype.isnative \
            or not (initial is _NoValue or _is_number(initial)):
        return _FORWARD
    natural = _reduce_dtype(ufunc, in_dtype, dtype)
    if natural is None or not _quiet_casts(in_dtype, dtype, out, natural):
        return _FORWARD
    p = _plan(a, axis, keepdims, where, out)
    if p is None or (p.where is not None and initial is _NoValue and ufunc.identity is None):
        return _FORWARD  # NumPy raises: a where= mask needs initial= here
    prep = _nan_replaced(nan_to) if nan_to is not None and in_dtype.kind in "fc" else None
    extra = {} if initial is _NoValue else {"initial": initial}
    key = _key(ufunc, p, natural.str, prep is not None)
    if p.kept >= 0:
        def call(chunk: Any, mask: Any, into: Any) -> Any:
            if prep is not None:
                chunk = prep(chunk)
            return ufunc.reduce(chunk, p.axes, dtype, into, p.keepdims,
                                where=True if mask is None else mask, **extra)
        return _run_kept(p, call, key, out)
    if out is not None and out.dtype != natural:
        return _FORWARD  # NumPy then computes in out's dtype
    sums = ufunc in (_add, _multiply)
    if sums and natural == _F2:
        # NumPy's half loops round to float16 after each buffer: a sum whose
        # running total passes 65504 is inf there, whatever follows.
        return _FORWARD
    floating = natural.kind in "fc"
    # initial counts once (on the first leaf) where the ufunc has an
    # identity; maximum and minimum have none, and need it on every leaf.
    once = ufunc.identity is not None

    def leaf(chunk: Any, mask: Any, start: int) -> Any:
        if prep is not None:
            chunk = prep(chunk)
        return ufunc.reduce(chunk, p.vaxes, dtype, None, True,
                            where=True if mask is None else mask,
                            **(extra if start == 0 or not once else {}))

    with recorded_fp_errors("reduce") as errors:
        partials = None
        if ufunc is _add and p.where is None and prep is None and not extra \
                and natural == in_dtype and p.split == 0 \
                and p.vaxes == tuple(range(p.view.ndim)):
            # Leaves summed by NumPy's loop with no GIL (runtime/_native_reduce.py):
            # each partial as ufunc.reduce(leaf, keepdims=True) gives it.
            sums_ = leaf_sums(p.view, p.leaf * (p.view.size // p.view.shape[0]))
            if sums_ is not None:
                ones = (1,) * p.view.ndim
                partials = [sums_[i:i + 1].reshape(ones) for i in range(len(sums_))]
        if partials is None:
            partials = _run_leaves(p, leaf, key)
        if floating and sums and _nonfinite(partials):
            raise _Redo
        errors.override = "reduce"  # NumPy's reduction has no separate combining step
        total = combine_in_order(partials, lambda x, y: ufunc(x, y, out=x))
        errors.override = None
        if floating and ((sums and _nonfinite([total])) or _has_zero(total)):
            raise _Redo
    return _finish(p, total, out)


@_like(_np.ufunc.reduce, "ufunc_reduce")
def ufunc_reduce(ufunc: Any, array: Any, axis: Any = 0, dtype: Any = None, out: Any = None,
                 keepdims: Any = False, initial: Any = _NoValue, where: Any = True) -> Any:
    if type(array) is _ndarray and array.size >= MIN_PARALLEL_ELEMENTS \
            and ufunc in PARALLEL_UFUNCS:
        result = _ufunc_reduction(ufunc, array, axis, dtype, out, keepdims, initial, where)
        if result is not _FORWARD:
            return result
    return ufunc.reduce(array, axis, dtype, out, keepdims, initial, where)


def _reduce_arguments(array: Any, axis: Any = 0, dtype: Any = None, out: Any = None,
                      keepdims: Any = False, initial: Any = _NoValue,
                      where: Any = True) -> tuple[Any, ...]:
    return array, axis, dtype, out, keepdims, initial, where


def reduce_call(ufunc: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``ufunc.reduce(*args, **kwargs)`` as runtime.numpy's ufuncs run it:
    split on the pool, or else NumPy's call exactly as the caller made it
    (so its errors, and what overrides receive, are NumPy's)."""
    if args and type(args[0]) is _ndarray and args[0].size >= MIN_PARALLEL_ELEMENTS \
            and ufunc in PARALLEL_UFUNCS:
        try:
            bound = _reduce_arguments(*args, **kwargs)
        except TypeError:
            bound = None  # NumPy says what is wrong
        if bound is not None:
            result = _ufunc_reduction(ufunc, *bound)
            if result is not _FORWARD:
                return result
    return ufunc.reduce(*args, **kwargs)


def _plain(out: Any, keepdims: Any, initial: Any, where: Any) -> bool:
    """No optional argument given: for a plain ndarray, np.sum(a, axis,
    dtype) is then exactly np.add.reduce(a, axis, dtype) (numpy's
    _wrapreduction), without the Python layers in between."""
    return out is None and keepdims is _NoValue and initial is _NoValue and where is _NoValue


def _sum_or_prod(ufunc: Any, numpy_func: Any, a: Any, axis: Any, dtype: Any, out: Any,
                 keepdims: Any, initial: Any, where: Any) -> Any:
    """np.sum (ufunc np.add) or np.prod (np.multiply)."""
    if type(a) is _ndarray:
        if a.size < MIN_PARALLEL_ELEMENTS:
            if _plain(out, keepdims, initial, where):
                return ufunc.reduce(a, axis, dtype)
        else:
            result = _ufunc_reduction(ufunc, a, axis, dtype, out, keepdims, initial, where)
            if result is not _FORWARD:
                return result
    return numpy_func(a, axis, dtype, out, keepdims, initial, where)


@_like(_np.sum)
def sum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: Any = _NoValue,
        initial: Any = _NoValue, where: Any = _NoValue) -> Any:
    return _sum_or_prod(_add, _np.sum, a, axis, dtype, out, keepdims, initial, where)


@_like(_np.prod)
def prod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: Any = _NoValue,
         initial: Any = _NoValue, where: Any = _NoValue) -> Any:
    return _sum_or_prod(_multiply, _np.prod, a, axis, dtype, out, keepdims, initial, where)


def _extreme(ufunc: Any, numpy_func: Any, a: Any, axis: Any, out: Any, keepdims: Any,
             initial: Any, where: Any) -> Any:
    if type(a) is _ndarray:
        if a.size < MIN_PARALLEL_ELEMENTS:
            if _plain(out, keepdims, initial, where):
                return ufunc.reduce(a, axis)
        else:
            result = _ufunc_reduction(ufunc, a, axis, None, out, keepdims, initial, where)
            if result is not _FORWARD:
                return result
    return numpy_func(a, axis, out, keepdims, initial, where)


@_like(_np.max)
def max(a: Any, axis: Any = None, out: Any = None, keepdims: Any = _NoValue,
        initial: Any = _NoValue, where: Any = _NoValue) -> Any:
    return _extreme(_maximum, _np.max, a, axis, out, keepdims, initial, where)


@_like(_np.min)
def min(a: Any, axis: Any = None, out: Any = None, keepdims: Any = _NoValue,
        initial: Any = _NoValue, where: Any = _NoValue) -> Any:
    return _extreme(_minimum, _np.min, a, axis, out, keepdims, initial, where)


@_like(_np.amax)
def amax(a: Any, axis: Any = None, out: Any = None, keepdims: Any = _NoValue,
         initial: Any = _NoValue, where: Any = _NoValue) -> Any:
    return _extreme(_maximum, _np.amax, a, axis, out, keepdims, initial, where)


@_like(_np.amin)
def amin(a: Any, axis: Any = None, out: Any = None, keepdims: Any = _NoValue,
         initial: Any = _NoValue, where: Any = _NoValue) -> Any:
    return _extreme(_minimum, _np.amin, a, axis, out, keepdims, initial, where)


def _any_all(ufunc: Any, numpy_func: Any, a: Any, axis: Any, out: Any, keepdims: Any,
             where: Any) -> Any:
    # numpy's _wrapreduction_any_all: ufunc.reduce with dtype=bool.
    if type(a) is _ndarray:
        if a.size < MIN_PARALLEL_ELEMENTS:
            if _plain(out, keepdims, _NoValue, where):
                return ufunc.reduce(a, axis, bool)
        else:
            result = _ufunc_reduction(ufunc, a, axis, bool, out, keepdims, _NoValue, where)
            if result is not _FORWARD:
                return result
    return numpy_func(a, axis, out, keepdims, where=where)


@_like(_np.any)
def any(a: Any, axis: Any = None, out: Any = None, keepdims: Any = _NoValue, *,
        where: Any = _NoValue) -> Any:
    return _any_all(_logical_or, _np.any, a, axis, out, keepdims, where)


@_like(_np.all)
def all(a: Any, axis: Any = None, out: Any = None, keepdims: Any = _NoValue, *,
        where: Any = _NoValue) -> Any:
    return _any_all(_logical_and, _np.all, a, axis, out, keepdims, where)


@_like(_np.nansum)
def nansum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None,
           keepdims: Any = _NoValue, initial: Any = _NoValue, where: Any = _NoValue) -> Any:
    if type(a) is _ndarray and a.size >= MIN_PARALLEL_ELEMENTS:
        result = _ufunc_reduction(_add, a, axis, dtype, out, keepdims, initial, where, nan_to=0.0)
        if result is not _FORWARD:
            return result
    return _np.nansum(a, axis, dtype, out, keepdims, initial, where)


@_like(_np.nanprod)
def nanprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None,
            keepdims: Any = _NoValue, initial: Any = _NoValue, where: Any = _NoValue) -> Any:
    if type(a) is _ndarray and a.size >= MIN_PARALLEL_ELEMENTS:
        result = _ufunc_reduction(_multiply, a, axis, dtype, out, keepdims, initial, where,
                                  nan_to=1.0)
        if result is not _FORWARD:
            return result
    return _np.nanprod(a, axis, dtype, out, keepdims, initial, where)


def _nan_extreme(ufunc: Any, a: Any, axis: Any, out: Any, keepdims: Any, initial: Any,
                 where: Any) -> Any:
    # numpy's nanmin/nanmax for a plain ndarray: fmin/fmax.reduce, then one
    # warning if a slice was all NaN.
    result = _ufunc_reduction(ufunc, a, axis, None, out, keepdims, initial, where)
    if result is not _FORWARD and _np.isnan(result).any():
        warnings.warn("All-NaN slice encountered", RuntimeWarning, stacklevel=user_stacklevel())
    return result


def _nan_max_or_min(ufunc: Any, numpy_func: Any, a: Any, axis: Any, out: Any, keepdims: Any,
                    initial: Any, where: Any) -> Any:
    """np.nanmax (ufunc np.fmax) or np.nanmin (np.fmin)."""
    if type(a) is _ndarray and a.size >= MIN_PARALLEL_ELEMENTS:
        result = _nan_extreme(ufunc, a, axis, out, keepdims, initial, where)
        if result is not _FORWARD:
            return result
    return numpy_func(a, axis, out, keepdims, initial, where)


@_like(_np.nanmax)
def nanmax(a: Any, axis: Any = None, out: Any = None, keepdims: Any = _NoValue,
           initial: Any = _NoValue, where: Any = _NoValue) -> Any:
    return _nan_max_or_min(_fmax, _np.nanmax, a, axis, out, keepdims, initial, where)


@_like(_np.nanmin)
def nanmin(a: Any, axis: Any = None, out: Any = None, keepdims: Any = _NoValue,
           initial: Any = _NoValue, where: Any = _NoValue) -> Any:
    return _nan_max_or_min(_fmin, _np.nanmin, a, axis, out, keepdims, initial, where)


# --- count_nonzero, argmin, argmax

@_like(_np.count_nonzero)
def count_nonzero(a: Any, axis: Any = None, *, keepdims: Any = False) -> Any:
    if type(a) is _ndarray:
        if a.size < MIN_PARALLEL_ELEMENTS:
            if axis is None and keepdims is False:
                return _count_nonzero_all(a)
        elif a.dtype.kind in _KINDS:
            p = _plan(a, axis, keepdims, _NoValue, None)
            if p is not None:
                return _count_nonzero(p)
    return _np.count_nonzero(a, axis, keepdims=keepdims)


def _count_nonzero(p: _Plan) -> Any:
    key = _key(_np.count_nonzero, p)
    if p.kept >= 0:
        return _run_kept(p, lambda chunk, mask, into: _np.count_nonzero(
            chunk, p.axes, keepdims=p.keepdims), key, None)
    if len(p.axes) == p.a.ndim and not p.keepdims:
        # NumPy's count for the whole array, as a NumPy integer.
        return combine_in_order(_run_leaves(
            p, lambda chunk, mask, start: _np.count_nonzero(chunk), key), _add)
    total = combine_in_order(_run_leaves(
        p, lambda chunk, mask, start: _np.count_nonzero(chunk, p.vaxes, keepdims=True), key),
        lambda x, y: _add(x, y, out=x))
    return _finish(p, total, None)


def _arg(numpy_func: Any, a: Any, axis: Any, out: Any, keepdims: Any) -> Any:
    """argmin/argmax split on the pool, or _FORWARD.  A leaf gives each
    slice's first extreme index and value; NumPy's own rule over the leaves'
    values (first occurrence, first NaN, complex lexicographic) then picks
    the leaf."""
    if a.dtype.kind not in _KINDS or not a.dtype.isnative \
            or (axis is not None and type(axis) is not int) \
            or (out is not None and getattr(out, "dtype", None) != _INTP):
        return _FORWARD
    p = _plan(a, axis, keepdims, _NoValue, out, index=True)
    if p is None:
        return _FORWARD
    key = _key(numpy_func, p)
    if p.kept >= 0:
        return _run_kept(p, lambda chunk, mask, into: numpy_func(
            chunk, p.axes[0], into, keepdims=p.keepdims), key, out)
    split = p.split

    def leaf(chunk: Any, mask: Any, start: int) -> tuple[Any, Any]:
        if chunk.ndim == 1:  # (the common case, without take_along_axis's cost)
            i = numpy_func(chunk)
            return _np.array([i + start], _INTP), chunk[i:i + 1]
        index = numpy_func(chunk, split, keepdims=True)
        value = _np.take_along_axis(chunk, index, split)
        index += start
        return index, value

    partials = _run_leaves(p, leaf, key)
    # The first leaf holding the extreme holds NumPy's answer; NumPy's own
    # rule on the leaves' extremes finds it (exact: one call, no pairing).
    best = numpy_func(_np.concatenate([v for _, v in partials], split), split, keepdims=True)
    index = _np.take_along_axis(_np.concatenate([i for i, _ in partials], split), best, split)
    return _finish(p, index, out)


@_like(_np.argmax)
def argmax(a: Any, axis: Any = None, out: Any = None, *, keepdims: Any = _NoValue) -> Any:
    if type(a) is _ndarray:
        if a.size < MIN_PARALLEL_ELEMENTS:
            if out is None and keepdims is _NoValue:
                return a.argmax(axis)  # what np.argmax calls for an ndarray
        else:
            result = _arg(_np.argmax, a, axis, out, keepdims)
            if result is not _FORWARD:
                return result
    return _np.argmax(a, axis, out, keepdims=keepdims)


@_like(_np.argmin)
def argmin(a: Any, axis: Any = None, out: Any = None, *, keepdims: Any = _NoValue) -> Any:
    if type(a) is _ndarray:
        if a.size < MIN_PARALLEL_ELEMENTS:
            if out is None and keepdims is _NoValue:
                return a.argmin(axis)
        else:
            result = _arg(_np.argmin, a, axis, out, keepdims)
            if result is not _FORWARD:
                return result
    return _np.argmin(a, axis, out, keepdims=keepdims)


# --- mean, var, std (numpy/_core/_methods.py) and their nan versions

def _sum_leaves(p: _Plan, dtype: Any, prep: Callable[[Any], Any] | None = None,
                count_nan: bool = False, zero_redo: bool = False) -> tuple[Any, Any] | None:
    """Sum of the (prepared) elements per output element, in NumPy's dtype
    for add.reduce(dtype=dtype), reduced axes kept in view's shape; and the
    count of elements summed: an array under where= or with count_nan (the
    non-NaN ones), else None.  None when NumPy's dtype rules are left to
    NumPy (and for float16 sums: NumPy rounds them after each buffer).
    Raises _Redo where the split could change the answer's class: an inf
    or NaN partial or total, or (zero_redo) a zero total, whose sign is the
    order's."""
    natural = _reduce_dtype(_add, p.a.dtype, dtype)
    if natural is None or natural == _F2:
        return None
    counted = p.where is not None or count_nan

    def leaf(chunk: Any, mask: Any, start: int) -> tuple[Any, ...]:
        where = True if mask is None else mask
        total = _add.reduce(chunk if prep is None else prep(chunk), p.vaxes, dtype, None,
                            True, where=where)
        if not counted:
            return (total,)
        valid = ~_np.isnan(chunk) if count_nan else mask
        count = _add.reduce(valid, p.vaxes, _INTP, None, True, where=where)
        return total, count

    floating = natural.kind in "fc"
    with recorded_fp_errors("reduce") as errors:
        partials = _run_leaves(p, leaf, _key(_add, p, "sum", natural.str, count_nan))
        if floating and _nonfinite(part[0] for part in partials):
            raise _Redo
        errors.override = "reduce"
        parts = combine_in_order(partials, _add_pairs)
        errors.override = None
        total = parts[0]
        if floating and (_nonfinite([total]) or (zero_redo and _has_zero(total))):
            raise _Redo
    return total, (parts[1] if counted else None)


def _rcount(p: _Plan, count: Any, keepdims: bool) -> Any:
    """numpy's _count_reduce_items: items per output element."""
    if count is None:
        items = 1
        for ax in p.axes:
            items *= p.a.shape[ax]
        return _np.intp(items)
    count = _shaped(p, count, keepdims)
    return count[()] if count.ndim == 0 else count  # a NumPy scalar, as NumPy's


def _result_dtype(a: Any, dtype: Any) -> Any:
    """The dtype of np.mean(a, dtype=dtype) (and of var's)."""
    if dtype is not None:
        return _np.dtype(dtype)
    return _F8 if a.dtype.kind in "biu" else a.dtype


def _none_empty(mask: Any, axes: tuple[int, ...], least: Any = 1) -> None:
    """Raise _Redo when a slice of a chunk has fewer than `least` elements
    selected by `mask`: NumPy's function would warn about that slice ("Mean
    of empty slice", "Degrees of freedom <= 0"), and each chunk would warn
    again, from its thread; NumPy then does the call whole."""
    if mask is not None and (_add.reduce(mask, axes, _INTP) < least).any():
        raise _Redo


@_redo_as_numpy
def _mean(a: Any, axis: Any, dtype: Any, out: Any, keepdims: Any, where: Any) -> Any:
    if a.dtype.kind not in _KINDS or not a.dtype.isnative \
            or (dtype is not None and _dtype_or_none(dtype) is None) \
            or not _quiet_casts(a.dtype, dtype, out, _result_dtype(a, dtype)):
        return _FORWARD
    p = _plan(a, axis, keepdims, where, out)
    if p is None:
        return _FORWARD

    def kept(chunk: Any, mask: Any, into: Any) -> Any:
        _none_empty(mask, p.axes)
        return _np.mean(chunk, p.axes, dtype, into, p.keepdims,
                        where=True if mask is None else mask)

    if p.kept >= 0:
        return _run_kept(p, kept, _key(_np.mean, p, str(dtype)), out)
    if out is not None:
        return _FORWARD
    # numpy/_core/_methods.py:_mean, with the sum on leaves.
    is_float16_result = False
    if dtype is None:
        if a.dtype.kind in "biu":
            dtype = _F8
        elif a.dtype == _F2:
            dtype, is_float16_result = _F4, True
    sums = _sum_leaves(p, dtype, zero_redo=True)
    if sums is None:
        return _FORWARD
    rcount = _rcount(p, sums[1], p.keepdims)
    if (rcount == 0) if p.where is None else _np.any(rcount == 0):
        warnings.warn("Mean of empty slice", RuntimeWarning, stacklevel=user_stacklevel())
    ret = _shaped(p, sums[0], p.keepdims)
    if ret.ndim:
        ret = _np.true_divide(ret, rcount, out=ret, casting="unsafe", subok=False)
        if is_float16_result:
            ret = a.dtype.type(ret)
    elif is_float16_result:
        ret = a.dtype.type(ret[()] / rcount)
    else:
        ret = ret.dtype.type(ret[()] / rcount)
    return ret


@_like(_np.mean)
def mean(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: Any = _NoValue,
         *, where: Any = _NoValue) -> Any:
    if type(a) is _ndarray:
        if a.size < MIN_PARALLEL_ELEMENTS:
            if out is None and where is _NoValue:  # no argument NumPy dispatches on
                return _mean_impl(a, axis, dtype, None, keepdims)
        else:
            result = _mean(a, axis, dtype, out, keepdims, where)
            if result is not _FORWARD:
                return result
    return _np.mean(a, axis, dtype, out, keepdims, where=where)


def _real(dtype: Any) -> Any:
    """The dtype of |x|**2 for x of this dtype (real for complex)."""
    return _np.empty(0, dtype).real.dtype if dtype.kind == "c" else dtype


def _squared_deviations(x: Any, in_dtype: Any) -> Any:
    """|x|**2 in place where possible, as numpy's _var computes it (with
    multiply, as NumPy: its errors are named "multiply")."""
    if in_dtype.kind in "iuf":
        return _np.multiply(x, x, out=x)
    float_dtype = _COMPLEX_TO_FLOAT.get(x.dtype)
    if float_dtype is not None:
        xv = x.view(dtype=(float_dtype, (2,)))
        _np.multiply(xv, xv, out=xv)
        return _add(xv[..., 0], xv[..., 1], out=x.real)
    return _np.multiply(x, _np.conjugate(x), out=x).real


@_redo_as_numpy
def _var(numpy_func: Any, a: Any, axis: Any, dtype: Any, out: Any, ddof: Any, keepdims: Any,
         where: Any, mean: Any, correction: Any) -> Any:
    """var (or std, by numpy_func) split on the pool, or _FORWARD."""
    if a.dtype.kind not in _KINDS or not a.dtype.isnative or mean is not _NoValue:
        return _FORWARD
    if dtype is not None and getattr(_dtype_or_none(dtype), "kind", "") not in ("f", "c"):
        return _FORWARD  # integer variances (std of them fails): NumPy's, warnings and all
    if correction is not _NoValue:
        if ddof != 0:
            return _FORWARD  # NumPy raises
        ddof = correction
    if type(ddof) not in (int, float) and not isinstance(ddof, (_np.integer, _np.floating)):
        return _FORWARD
    if not _quiet_casts(a.dtype, dtype, out, _result_dtype(a, dtype)):
        return _FORWARD
    p = _plan(a, axis, keepdims, where, out)
    if p is None:
        return _FORWARD

    def kept(chunk: Any, mask: Any, into: Any) -> Any:
        _none_empty(mask, p.axes, ddof + 1)
        return numpy_func(chunk, p.axes, dtype, into, ddof, p.keepdims,
                          where=True if mask is None else mask)

    if p.kept >= 0:
        if p.where is None and ddof >= _rcount(p, None, False):
            return _FORWARD  # NumPy warns "Degrees of freedom <= 0" once
        return _run_kept(p, kept, _key(numpy_func, p, str(dtype)), out)
    if out is not None:
        return _FORWARD
    ret = _var_leaves(p, a, dtype, ddof)
    if ret is _FORWARD or numpy_func is _np.var:
        return ret
    # numpy's _std
    if isinstance(ret, _ndarray):
        return _np.sqrt(ret, out=ret)
    return ret.dtype.type(_np.sqrt(ret))


def _var_leaves(p: _Plan, a: Any, dtype: Any, ddof: Any) -> Any:
    """numpy/_core/_methods.py:_var, two passes over leaves: the sums for
    the mean, then the sums of squared deviations."""
    if dtype is None and a.dtype.kind in "biu":
        dtype = _F8
    sums = _sum_leaves(p, dtype)
    if sums is None:
        return _FORWARD
    rcount = _rcount(p, sums[1], p.keepdims)
    if (ddof >= rcount) if p.where is None else _np.any(ddof >= rcount):
        warnings.warn("Degrees of freedom <= 0 for slice", RuntimeWarning,
                      stacklevel=user_stacklevel())
    div = rcount if sums[1] is None else sums[1]
    arrmean = _np.true_divide(sums[0], div, out=sums[0], casting="unsafe", subok=False)
    natural = _reduce_dtype(_add, _real(_np.result_type(a.dtype, arrmean.dtype)), dtype)
    if natural is None or natural == _F2:
        return _FORWARD

    def leaf(chunk: Any, mask: Any, start: int) -> Any:
        x = _squared_deviations(_np.subtract(chunk, arrmean), a.dtype)
        return _add.reduce(x, p.vaxes, dtype, None, True,
                           where=True if mask is None else mask)

    total = _combined_sum(p, leaf, _key(_np.var, p, str(dtype)))
    ret = _shaped(p, total, p.keepdims)
    rcount = _np.maximum(rcount - ddof, 0)
    if ret.ndim:
        return _np.true_divide(ret, rcount, out=ret, casting="unsafe", subok=False)
    ret = ret[()]
    return ret.dtype.type(ret / rcount)


def _combined_sum(p: _Plan, leaf: Callable[[Any, Any, int], Any], key: Hashable | None) -> Any:
    """Floating sums (of squared deviations) on leaves, combined in leaf
    order; _Redo when a partial or the total is inf or NaN."""
    with recorded_fp_errors("reduce") as errors:
        partials = _run_leaves(p, leaf, key)
        if _nonfinite(partials):
            raise _Redo
        errors.override = "reduce"
        total = combine_in_order(partials, lambda x, y: _add(x, y, out=x))
        errors.override = None
        if _nonfinite([total]):
            raise _Redo
    return total


def _var_or_std(numpy_func: Any, small_impl: Any, a: Any, axis: Any, dtype: Any, out: Any,
                ddof: Any, keepdims: Any, where: Any, mean: Any, correction: Any) -> Any:
    """np.var or np.std (numpy_func; small_impl: what it runs for a plain ndarray)."""
    if type(a) is _ndarray:
        if a.size < MIN_PARALLEL_ELEMENTS:
            if out is None and where is _NoValue and mean is _NoValue:
                return small_impl(a, axis, dtype, None, ddof, keepdims, correction=correction)
        else:
            result = _var(numpy_func, a, axis, dtype, out, ddof, keepdims, where, mean,
                          correction)
            if result is not _FORWARD:
                return result
    return numpy_func(a, axis, dtype, out, ddof, keepdims, where=where, mean=mean,
                      correction=correction)


@_like(_np.var)
def var(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: Any = 0,
        keepdims: Any = _NoValue, *, where: Any = _NoValue, mean: Any = _NoValue,
        correction: Any = _NoValue) -> Any:
    return _var_or_std(_np.var, _var_impl, a, axis, dtype, out, ddof, keepdims, where, mean,
                       correction)


@_like(_np.std)
def std(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: Any = 0,
        keepdims: Any = _NoValue, *, where: Any = _NoValue, mean: Any = _NoValue,
        correction: Any = _NoValue) -> Any:
    return _var_or_std(_np.std, _std_impl, a, axis, dtype, out, ddof, keepdims, where, mean,
                       correction)


def _divide_by_count(a: Any, b: Any) -> Any:
    """numpy's nanfunctions _divide_by_count, without out=."""
    with _np.errstate(invalid="ignore", divide="ignore"):
        if isinstance(a, _ndarray):
            return _np.divide(a, b, out=a, casting="unsafe")
        return a.dtype.type(a / b)


def _nan_plan(a: Any, axis: Any, dtype: Any, out: Any, keepdims: Any, where: Any
              ) -> _Plan | None:
    """The plan for nanmean/nanvar/nanstd of a float or complex array, or
    None for NumPy (including the dtype and out checks NumPy reports)."""
    if a.dtype.kind not in "fc" or not a.dtype.isnative:
        return None
    if dtype is not None:
        dt = _dtype_or_none(dtype)
        if dt is None or dt.kind not in "fc":
            return None
    if out is not None and getattr(out, "dtype", _BOOL).kind not in "fc":
        return None
    return _plan(a, axis, keepdims, where, out)


def _valid(chunk: Any, mask: Any) -> Any:
    """The elements a nan-function counts: not NaN, and selected by mask."""
    valid = ~_np.isnan(chunk)
    return valid if mask is None else _np.logical_and(valid, mask, out=valid)


@_redo_as_numpy
def _nanmean(a: Any, axis: Any, dtype: Any, out: Any, keepdims: Any, where: Any) -> Any:
    if a.dtype.kind not in "fc":  # no NaN possible: NumPy calls np.mean
        return _mean(a, axis, dtype, out, keepdims, where)
    p = _nan_plan(a, axis, dtype, out, keepdims, where)
    if p is None:
        return _FORWARD

    def kept(chunk: Any, mask: Any, into: Any) -> Any:
        _none_empty(_valid(chunk, mask), p.axes)  # all-NaN slices: NumPy warns once
        return _np.nanmean(chunk, p.axes, dtype, into, p.keepdims,
                           where=True if mask is None else mask)

    if p.kept >= 0:
        return _run_kept(p, kept, _key(_np.nanmean, p, str(dtype)), out)
    if out is not None:
        return _FORWARD
    sums = _sum_leaves(p, dtype, _nan_replaced(0.0), count_nan=True, zero_redo=True)
    if sums is None:
        return _FORWARD
    cnt = _shaped(p, sums[1], p.keepdims)
    avg = _divide_by_count(_finish(p, sums[0], None), cnt if cnt.ndim else cnt[()])
    if (cnt == 0).any():
        warnings.warn("Mean of empty slice", RuntimeWarning, stacklevel=user_stacklevel())
    return avg


@_like(_np.nanmean)
def nanmean(a: Any, axis: Any = None, dtype: Any = None, out: Any = None,
            keepdims: Any = _NoValue, *, where: Any = _NoValue) -> Any:
    if type(a) is _ndarray and a.size >= MIN_PARALLEL_ELEMENTS:
        result = _nanmean(a, axis, dtype, out, keepdims, where)
        if result is not _FORWARD:
            return result
    return _np.nanmean(a, axis, dtype, out, keepdims, where=where)


@_redo_as_numpy
def _nanvar(numpy_func: Any, a: Any, axis: Any, dtype: Any, out: Any, ddof: Any,
            keepdims: Any, where: Any, mean: Any, correction: Any) -> Any:
    """nanvar (or nanstd) split on the pool, or _FORWARD: numpy's
    nanfunctions code, with the sums and squared deviations on leaves."""
    if a.dtype.kind not in "fc":  # no NaN possible: NumPy calls np.var
        return _var(_np.var if numpy_func is _np.nanvar else _np.std, a, axis, dtype, out, ddof,
                    keepdims, where, mean, correction)
    if mean is not _NoValue:
        return _FORWARD
    if correction is not _NoValue:
        if ddof != 0:
            return _FORWARD  # NumPy raises
        ddof = correction
    if type(ddof) not in (int, float) and not isinstance(ddof, (_np.integer, _np.floating)):
        return _FORWARD
    p = _nan_plan(a, axis, dtype, out, keepdims, where)
    if p is None:
        return _FORWARD

    def kept(chunk: Any, mask: Any, into: Any) -> Any:
        _none_empty(_valid(chunk, mask), p.axes, ddof + 1)  # NumPy warns once
        return numpy_func(chunk, p.axes, dtype, into, ddof, p.keepdims,
                          where=True if mask is None else mask)

    if p.kept >= 0:
        return _run_kept(p, kept, _key(numpy_func, p, str(dtype)), out)
    if out is not None:
        return _FORWARD
    replace = _nan_replaced(0.0)
    sums = _sum_leaves(p, dtype, replace, count_nan=True)
    if sums is None:
        return _FORWARD
    avg = _divide_by_count(sums[0], sums[1])
    natural = _reduce_dtype(_add, _real(a.dtype), dtype)
    if natural is None or natural == _F2:
        return _FORWARD
    complex_input = a.dtype.kind == "c"

    def leaf(chunk: Any, mask: Any, start: int) -> Any:
        where = True if mask is None else mask
        arr = replace(chunk)
        _np.subtract(arr, avg, out=arr, casting="unsafe", where=where)
        _np.copyto(arr, 0, where=_np.isnan(chunk), casting="unsafe")
        if complex_input:
            sqr = _np.multiply(arr, arr.conj(), out=arr, where=where).real
        else:
            sqr = _np.multiply(arr, arr, out=arr, where=where)
        return _add.reduce(sqr, p.vaxes, dtype, None, True, where=where)

    total = _combined_sum(p, leaf, _key(_np.nanvar, p, str(dtype)))
    var = _finish(p, total, None)
    dof = _shaped(p, sums[1], p.keepdims) - ddof
    var = _divide_by_count(var, dof if dof.ndim else dof[()])
    isbad = dof <= 0
    if _np.any(isbad):
        warnings.warn("Degrees of freedom <= 0 for slice.", RuntimeWarning,
                      stacklevel=user_stacklevel())
        if isinstance(var, _ndarray):
            _np.copyto(var, _np.nan, where=isbad, casting="unsafe")
        else:
            var = var.dtype.type(_np.nan)
    if numpy_func is _np.nanvar:
        return var
    if isinstance(var, _ndarray):  # numpy's nanstd
        return _np.sqrt(var, out=var)
    return var.dtype.type(_np.sqrt(var))


@_like(_np.nanvar)
def nanvar(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: Any = 0,
           keepdims: Any = _NoValue, *, where: Any = _NoValue, mean: Any = _NoValue,
           correction: Any = _NoValue) -> Any:
    if type(a) is _ndarray and a.size >= MIN_PARALLEL_ELEMENTS:
        result = _nanvar(_np.nanvar, a, axis, dtype, out, ddof, keepdims, where, mean, correction)
        if result is not _FORWARD:
            return result
    return _np.nanvar(a, axis, dtype, out, ddof, keepdims, where=where, mean=mean,
                      correction=correction)


@_like(_np.nanstd)
def nanstd(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: Any = 0,
           keepdims: Any = _NoValue, *, where: Any = _NoValue, mean: Any = _NoValue,
           correction: Any = _NoValue) -> Any:
    if type(a) is _ndarray and a.size >= MIN_PARALLEL_ELEMENTS:
        result = _nanvar(_np.nanstd, a, axis, dtype, out, ddof, keepdims, where, mean, correction)
        if result is not _FORWARD:
            return result
    return _np.nanstd(a, axis, dtype, out, ddof, keepdims, where=where, mean=mean,
                      correction=correction)


__all__ = ["all", "amax", "amin", "any", "argmax", "argmin", "count_nonzero", "max", "mean",
           "min", "nanmax", "nanmean", "nanmin", "nanprod", "nanstd", "nansum", "nanvar", "prod",
           "std", "sum", "ufunc_reduce", "var"]
