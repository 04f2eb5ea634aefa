"""runtime.map, runtime.reduce and runtime.map_items."""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, TypeVar

import numpy as np

from . import _config, _core, _qos, _schedule
from ._arrays import (Outputs, SplitArguments, chunk_caller, copy_inputs_overlapping,
                      make_first_and_body, split_arguments)
from ._progress import ItemProgress

T = TypeVar("T")
R = TypeVar("R")

# Reductions: leaves of at least this many scalar elements (256 KiB of
# float64, so the per-leaf call overhead of ~2 us stays under ~5% of a
# memory-bound sum), and at most this many leaves (enough for 16 threads
# to balance).  Leaves depend only on these, the shape and grain=, never
# on the thread count or timing, so results are the same bits every run.
MIN_LEAF_ELEMENTS = 32768
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


def map(func: Callable[..., Any], *arrays: Any, out: Any = None, grain: int | None = None,
        qos: str | None = None) -> Any:
    """Apply ``func`` to chunks of ``arrays`` along axis 0, on all cores.

    ``func`` is called on aligned row ranges of every array (all must have
    the same length along axis 0) and must return one row per input row;
    the results are assembled into one output, allocated from the first
    chunk's result, or written into ``out`` in place.  For elementwise
    functions the result is the same as ``func(*arrays)``, bit for bit.
    Small inputs run inline on the caller; ``grain`` overrides that
    decision and sets the chunk size (chunks of ``grain`` to ``2 * grain``
    rows).  ``qos`` runs the call at that QoS level (as ``runtime.qos``).

    ``out`` may share memory with the inputs: an input that overlaps
    ``out`` other than as the very same view is copied first, as NumPy's
    ufuncs do, so the result is ``func`` of the inputs as they were before
    the call (``out=x`` for an input ``x`` runs in place, with no copy).

    >>> import numpy as np, runtime
    >>> z = np.arange(6.0)
    >>> _ = runtime.map(np.multiply, z[:-1], z[:-1], out=z[1:], grain=1)
    >>> z.tolist()  # as np.multiply(z[:-1], z[:-1], out=z[1:])
    [0.0, 0.0, 1.0, 4.0, 9.0, 16.0]
    >>> x = np.linspace(0.0, 10.0, 200_000)
    >>> np.array_equal(runtime.map(np.sin, x), np.sin(x))
    True
    >>> w = np.full_like(x, 2.0); buf = np.empty_like(x)
    >>> _ = runtime.map(lambda a, b: a * b + 1, x, w, out=buf)
    >>> float(buf[-1])
    21.0
    """
    if qos is not None:
        with _qos.maybe(qos, "runtime.map"):
            return map(func, *arrays, out=out, grain=grain)
    if len(arrays) == 1 and out is None and grain is None and _core.qos_level.get() < 0:
        x = arrays[0]
        if type(x) is np.ndarray and x.ndim >= 1 and x.shape[0] > 0:
            # Fast path for a call known to run inline: straight to func.
            key = _schedule.cost_key(func, (x.dtype.str,))
            if _schedule.runs_inline(key, x.size):
                result = func(x)
                if type(result) is np.ndarray and result.ndim >= 1 \
                        and result.shape[0] == x.shape[0]:
                    return result
                outputs = Outputs(x.shape[0], "runtime.map")
                outputs.first(result, 0, x.shape[0])  # checks, and raises if wrong
                return outputs.result
    grain, split, args = _checked("runtime.map", func, arrays, grain)
    if split is None:
        return _whole(func, args, {}, out, "runtime.map")
    return map_split(func, split, out, grain, "runtime.map")


def reduce(func: Callable[..., Any], *arrays: Any, combine: Callable[[Any, Any], Any],
           grain: int | None = None, qos: str | None = None) -> Any:
    """``func`` on chunks of ``arrays`` along axis 0, partial results
    combined with ``combine`` in a fixed order.

    Chunk boundaries depend only on the input's shape and ``grain``, and
    partials are combined pairwise in chunk order, so the result is the
    same, bit for bit, on every run and with any number of threads (for
    floats it can differ from ``func(*arrays)`` in the last bits, as
    any other summation order would).

    >>> import operator, numpy as np, runtime
    >>> x = np.arange(1_000_000, dtype=np.int64)
    >>> int(runtime.reduce(np.sum, x, combine=operator.add)) == int(x.sum())
    True
    """
    if qos is not None:
        with _qos.maybe(qos, "runtime.reduce"):
            return reduce(func, *arrays, combine=combine, grain=grain)
    check_callable(combine, "runtime.reduce", "combine")
    grain, split, args = _checked("runtime.reduce", func, arrays, grain)
    if split is None:
        return func(*args)
    return reduce_split(func, split, combine, grain, "runtime.reduce")


def map_items(func: Callable[[T], R], items: Iterable[T], *, qos: str | None = None,
              progress: bool = False) -> list[R]:
    """``[func(item) for item in items]`` with the items spread over all
    cores, results in order.

    Each item is a task of its own (images, files, parameter sets), unless
    items are so cheap that several are grouped to keep overhead down.  The
    first exception stops the remaining items and is raised here.  ``qos``
    runs the call at that QoS level (as ``runtime.qos``).  ``progress=True``
    shows a tqdm progress bar on stderr, advanced as each item completes on
    whichever thread ran it.

    >>> import runtime
    >>> runtime.map_items(lambda s: s.upper(), ["a", "b", "c"])
    ['A', 'B', 'C']
    """
    if not isinstance(progress, bool):
        raise TypeError(f"runtime.map_items: progress must be True or False, "
                        f"got {type(progress).__name__}")
    if qos is not None:
        with _qos.maybe(qos, "runtime.map_items"):
            return map_items(func, items, progress=progress)
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
    return results

