"""runtime.map, runtime.reduce and runtime.map_items: the measured path.

The public functions are compiled (runtime/_inline.pyx): they run small
calls inline at once and hand everything else to map_call, reduce_call
and map_items_call here, which check the arguments, split, and decide by
measurement (runtime/_schedule.py); a call they run inline by decision is
noted back, so the next one like it takes the short way."""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, TypeVar

import numpy as np

from . import _config, _inline, _qos, _schedule
from ._arrays import (Outputs, SplitArguments, chunk_caller, copy_inputs_overlapping,
                      make_first_and_body, split_arguments)
from ._native_reduce import native_partials
from ._progress import ItemProgress

T = TypeVar("T")
R = TypeVar("R")

# Reductions: leaves of at least this many scalar elements (1 MiB of
# float64: a leaf's Python cost, call and combine, ~2-4 us, stays under ~5%
# of a memory-bound sum of it; with 2**15 a 1e5-element np.sum ran 0.25-0.53x
# NumPy's, all of it in per-leaf overhead, and now 1e5 is one leaf, func
# itself), and at most this many leaves (enough for 16 threads to balance;
# from 1e7 elements on, leaves are as before, 64 of them: 2**18 measured
# no faster there).  Leaves depend only on these, the shape and grain=,
# never on the thread count or timing, so results are the same bits every run.
MIN_LEAF_ELEMENTS = 1 << 17
MAX_LEAVES = 64


def check_callable(func: object, what: str, name: str) -> None:
    if not callable(func):
        raise TypeError(f"{what}: {name} must be callable, got {type(func).__name__}")


# The pool counts rows in int64_t.
MAX_ROWS = 2**63 - 1


def check_grain(grain: object, what: str) -> int | None:
    if grain is None:
        return None
    if isinstance(grain, bool) or not isinstance(grain, (int, np.integer)):
        raise TypeError(f"{what}: grain must be a positive int (rows per chunk) or None, "
                        f"got {type(grain).__name__}")
    if not 1 <= grain <= MAX_ROWS:
        raise ValueError(f"{what}: grain must be 1 to 2**63 - 1 (rows per chunk), got {grain}")
    return int(grain)


def _whole(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
           out: Any, what: str) -> Any:
    """Nothing to split (0-d or empty input): one call, as NumPy would."""
    result = func(*args, **kwargs)
    if out is None:
        return result
    outs = out if isinstance(out, tuple) else (out,)
    results = result if isinstance(result, tuple) else (result,)
    if len(outs) != len(results):
        raise ValueError(f"{what}: func returned {len(results)} result(s) for "
                         f"{len(outs)} out= array(s)")
    for o, r in zip(outs, results):
        np.copyto(o, r, casting="same_kind")
    return out


def map_split(func: Callable[..., Any], split: SplitArguments, out: Any, grain: int | None,
              what: str) -> Any:
    """The chunked call behind runtime.map and @runtime.parallel."""
    if isinstance(out, tuple) and len(out) == 1 and isinstance(func, np.ufunc):
        out = out[0]
    outputs = Outputs(split.rows, what, out)
    if out is not None:
        assert outputs.arrays is not None
        split = copy_inputs_overlapping(split, outputs.arrays)
    key = _schedule.cost_key(func, split.dtype_key)
    if isinstance(func, np.ufunc) and func.nout == 1 and not split.kwargs:
        # NumPy's own loop writes each chunk straight into the output: no
        # temporary, no copy, and exactly NumPy's casting rules for out=.
        def ufunc_body(start: int, stop: int) -> None:
            func(*split.chunk(start, stop), out=outputs.arrays[0][start:stop])  # type: ignore[index]

        first = None
        if out is None:
            call = chunk_caller(func, split)

            def first(start: int, stop: int) -> None:
                outputs.first(call(start, stop), start, stop)

        _schedule.run(ufunc_body, split.rows, key=key, row_elements=split.row_elements,
                      align=split.align, grain=grain, first=first, limit_blas=False)
        return outputs.result

    first, body = make_first_and_body(func, split, outputs)
    _schedule.run(body, split.rows, key=key, row_elements=split.row_elements,
                  align=split.align, grain=grain, first=first if out is None else None,
                  cache_rows=split.cache_rows(_config.num_threads(),
                                                 split.row_bytes // len(split.split)),
                  limit_blas=not isinstance(func, np.ufunc))
    return outputs.result


def leaf_rows(rows: int, row_elements: int, align: int, grain: int | None,
              min_elements: int = MIN_LEAF_ELEMENTS) -> int:
    """Rows per reduction leaf (at least `min_elements` elements): from the
    shape and grain only."""
    if grain is not None:
        return grain
    leaf = max(math.ceil(min_elements / row_elements), math.ceil(rows / MAX_LEAVES))
    return -(-leaf // align) * align


def combine_in_order(partials: list[Any], combine: Callable[[Any, Any], Any]) -> Any:
    """Pairwise, in a fixed tree over the leaf order: the same operations on
    the same values on every run, whatever ran where."""
    while len(partials) > 1:
        paired = [combine(partials[i], partials[i + 1]) for i in range(0, len(partials) - 1, 2)]
        if len(partials) % 2:
            paired.append(partials[-1])
        partials = paired
    return partials[0]


def reduce_split(func: Callable[..., Any], split: SplitArguments,
                 combine: Callable[[Any, Any], Any], grain: int | None, what: str) -> Any:
    """The chunked reduction behind runtime.reduce and @runtime.parallel(reduce=)."""
    rows = split.rows
    leaf = leaf_rows(rows, split.row_elements, split.align, grain)
    leaves = -(-rows // leaf)
    if leaves <= 1:
        return func(*split.args, **split.kwargs)
    # np.sum: its leaves on NumPy's loop with no GIL (runtime/_native_reduce.py).
    native = native_partials(func, split.args, split.kwargs, combine, leaf, split.row_elements)
    if native is not None:
        return combine_in_order(native, combine)
    partials: list[Any] = [None] * leaves
    call = chunk_caller(func, split)

    def body(first_leaf: int, stop_leaf: int) -> None:
        for i in range(first_leaf, stop_leaf):
            partials[i] = call(i * leaf, min(rows, (i + 1) * leaf))

    key = _schedule.cost_key(func, "reduce", leaf, split.dtype_key)
    _schedule.run(body, leaves, key=key, limit_blas=not isinstance(func, np.ufunc))
    return combine_in_order(partials, combine)


def _checked(what: str, func: object, arrays: tuple[Any, ...], grain: object
             ) -> tuple[int | None, SplitArguments | None, tuple[Any, ...]]:
    """The checks runtime.map and runtime.reduce share: (grain, split,
    arrays); split is None when there is nothing to split (0-d or empty
    input), and the call should run whole on the arrays."""
    check_callable(func, what, "func")
    checked_grain = check_grain(grain, what)
    if not arrays:
        raise TypeError(f"{what}: pass at least one array after func")
    split = split_arguments(arrays, {}, strict=True, what=what)
    if split is None or split.rows == 0:
        whole = split.args if split is not None else tuple(np.asarray(a) for a in arrays)
        return checked_grain, None, whole
    return checked_grain, split, split.args


def map_call(func: Callable[..., Any], arrays: tuple[Any, ...], out: Any, grain: int | None,
             qos: str | None) -> Any:
    """runtime.map's measured path (runtime/_inline.pyx has the docs)."""
    if qos is not None:
        with _qos.maybe(qos, "runtime.map"):
            return map_call(func, arrays, out, grain, None)
    grain, split, args = _checked("runtime.map", func, arrays, grain)
    if split is None:
        return _whole(func, args, {}, out, "runtime.map")
    result = map_split(func, split, out, grain, "runtime.map")
    if out is None and grain is None:
        _inline.note("map", func, arrays, 0, _schedule.ran_inline(), _schedule.lost_stretch())
    return result


def inline_result(result: Any, rows: int, what: str) -> Any:
    """The output of a call that ran whole on the caller, checked as every
    chunk's is (one row per input row; converted to an array)."""
    outputs = Outputs(rows, what)
    outputs.first(result, 0, rows)
    return outputs.result


def reduce_call(func: Callable[..., Any], arrays: tuple[Any, ...],
                combine: Callable[[Any, Any], Any], grain: int | None, qos: str | None) -> Any:
    """runtime.reduce's measured path (runtime/_inline.pyx has the docs)."""
    if qos is not None:
        with _qos.maybe(qos, "runtime.reduce"):
            return reduce_call(func, arrays, combine, grain, None)
    check_callable(combine, "runtime.reduce", "combine")
    grain, split, args = _checked("runtime.reduce", func, arrays, grain)
    if split is None:
        return func(*args)
    return reduce_split(func, split, combine, grain, "runtime.reduce")


def map_items_call(func: Callable[[T], R], items: Iterable[T], qos: str | None,
                   progress: bool) -> list[R]:
    """runtime.map_items' measured path (runtime/_inline.pyx has the docs)."""
    if not isinstance(progress, bool):
        raise TypeError(f"runtime.map_items: progress must be True or False, "
                        f"got {type(progress).__name__}")
    if qos is not None:
        with _qos.maybe(qos, "runtime.map_items"):
            return map_items_call(func, items, None, progress)
    check_callable(func, "runtime.map_items", "func")
    items = items if isinstance(items, (list, tuple)) else list(items)
    results: list[Any] = [None] * len(items)
    done = ItemProgress(len(items), "runtime.map_items") if progress else None

    def body(start: int, stop: int) -> None:
        for i in range(start, stop):
            results[i] = func(items[i])
            if done is not None:
                done.advance()

    try:
        _schedule.run(body, len(items), key=_schedule.cost_key(func, "items"), cache_rows=1)
    finally:
        if done is not None:
            done.close()
    if done is None and isinstance(items, (list, tuple)):
        _inline.note("items", func, (), len(items), _schedule.ran_inline(),
                     _schedule.lost_stretch())
    return results


_inline._slow.update(map=map_call, reduce=reduce_call, map_items=map_items_call,
                     inline_result=inline_result)
_inline.set_one_leaf(MIN_LEAF_ELEMENTS)

