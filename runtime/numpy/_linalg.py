"""matmul, dot, inner and tensordot for ``runtime.numpy``: BLAS products tiled on the pool.
(vdot stays NumPy's: one memory-bound dot product.)

OpenBLAS splits a product statically over its threads and waits for the slowest core.  Here
the output is cut into tiles (row blocks, or row x column blocks), each one a single-threaded
BLAS call (``np.matmul(a_rows, b_cols, out=c_tile)``) writing straight into its part of the
output, and the pool's threads take tiles as they finish: a slow core only delays its own
tiles.  Batched matmul splits over the batch, and also over tiles inside each matrix when
there are fewer matrices than tiles wanted.

Whatever is not that plain case goes to NumPy unchanged, so results, dtypes, errors and
``__array_ufunc__``/``__array_function__`` overrides are NumPy's: operands that are not
exactly ``numpy.ndarray``, dtypes NumPy does not hand to BLAS (integers, bool, object,
float16, longdouble), vector products (matrix-vector is memory-bound), small products,
outputs that may overlap an input, keywords other than out/casting/order/dtype/subok, and a
single thread.  Tiles are computed in the same precision by the same BLAS kernel, each
summing over the whole inner dimension, so results agree with NumPy's to rounding (not
always bit for bit: a tile's edges change how the kernel blocks the work).
"""

from __future__ import annotations

import functools
import math
import time
from typing import Any, Callable, TypeVar

import numpy as np

from .. import _config, _schedule
from ._elementwise import distinct_elements
from ._fperrors import recorded_fp_errors

_F = TypeVar("_F", bound=Callable[..., Any])

# The dtypes NumPy's matmul/dot hand to BLAS (sgemm, dgemm, cgemm, zgemm).
_BLAS_DTYPES = frozenset(np.dtype(t) for t in (np.float32, np.float64, np.complex64,
                                               np.complex128))
_CASTINGS = frozenset(("no", "equiv", "safe", "same_kind", "unsafe"))
_MATMUL_KEYWORDS = frozenset(("casting", "order", "dtype", "subok"))

# Products under this many floating-point operations (double-precision ones: single
# precision runs twice as many per second and counts half) go to NumPy whole: its
# OpenBLAS threads are as fast there, and a slow core costs little in a short product.
# Measured on the 2-vCPU development machine (OpenBLAS 0.3.31, SkylakeX kernel), square
# n x n, NumPy with 2 OpenBLAS threads / tiled, best of 3 x 30 back-to-back calls:
# float64 0.92 at n=256, 0.91 at 320, 0.95 at 384, 0.97 at 512; float32 0.95 at 512.
# 2e8 is n=464 in float64 (3.6 ms on one core), n=585 in float32.
MIN_PARALLEL_FLOPS = 2e8
# Tiles wanted per thread: enough that a slow core's last tile is a small part of the job,
# few enough that tiles stay big (see MIN_TILE_ROWS).  2000^3 float64, 2 threads, under a
# busy process pinned to cpu1, NumPy/tiled of 4 interleaved best-of-5 runs: 8 row blocks
# of 250 rows 1.41, 1.20, 1.44, 1.41; 16 of 125 rows 1.16, 1.22, 1.32, 1.28; shrinking
# (guided) blocks of 1008, 496, 256, 128, 112 rows 1.26, 1.18, 1.42, 1.26 (blocks of a
# quarter of the rows left gave up 4% idle).  The kernel shares the busy CPU among all
# three threads, so no thread stays the slow one, and tile efficiency beats a short tail.
# Idle, 8 row blocks ran at 0.96-0.97x NumPy.
TILES_PER_THREAD = 4
# Smallest tile sides.  Single-threaded dgemm, 2000 x 2000 output, k = 2000, all tiles
# together versus one whole call: full-width row blocks of 125 rows 0.90, 250 rows 0.95,
# 500 rows 0.99; cutting columns costs more (1000 cols 0.96, 500 cols 0.91, 250 cols
# 0.85 with full height), so split rows first and columns only when rows run out.
MIN_TILE_ROWS = 128
MIN_TILE_COLS = 512
# Tile edges fall on multiples of this, so that a tile's edge is not inside one of the
# BLAS kernel's micro-tiles (16 rows for the AVX-512 dgemm kernel); not measured apart.
TILE_ALIGN = 16


def _like(numpy_func: Callable[..., Any]) -> Callable[[_F], _F]:
    """Name and document a function as NumPy's; ``inspect.signature`` follows __wrapped__."""

    def decorate(func: _F) -> _F:
        functools.update_wrapper(func, numpy_func,
                                 assigned=("__name__", "__qualname__", "__doc__"), updated=())
        func.__module__ = "runtime.numpy"
        return func

    return decorate


def _blocks(size: int, count: int, align: int) -> list[int]:
    """Boundaries cutting range(size) into at most `count` nearly equal blocks whose inner
    edges are multiples of `align` (blocks are at least `align` long, so none is empty)."""
    count = max(1, min(count, size // align))
    step = size / count
    return [0] + [round(i * step / align) * align for i in range(1, count)] + [size]


def _grid(m: int, n: int, batches: int, threads: int) -> tuple[int, int]:
    """Row and column blocks per matrix.  Tiles per matrix: the first count, from enough for
    TILES_PER_THREAD per thread upward a little, then downward, that divides evenly among
    the threads (3 equal tiles on 2 threads take as long as 4) and keeps the minimum tile
    sides, rows before columns (see MIN_TILE_ROWS)."""
    enough = -(-TILES_PER_THREAD * threads // batches)
    for tiles in [*range(enough, enough + threads), *range(enough - 1, 0, -1)]:
        if batches * tiles % threads:
            continue
        for rows in range(min(tiles, max(1, m // MIN_TILE_ROWS)), 0, -1):
            if tiles % rows == 0 and tiles // rows <= max(1, n // MIN_TILE_COLS):
                return rows, tiles // rows
    # Matrices too small for that: cut the longer side so that every thread gets a tile.
    tiles = -(-threads // batches)
    return (tiles, 1) if m >= n else (1, tiles)


def _small(batches: int, m: int, n: int, k: int, dtype: np.dtype) -> bool:
    """Too few floating-point operations to split (see MIN_PARALLEL_FLOPS; a complex
    multiply-add is 4 real ones), or none (an empty product, or k = 0: NumPy fills zeros)."""
    flops = batches * m * n * k * (8 if dtype.kind == "c" else 2)
    if dtype.char in "fF":
        flops //= 2
    return flops == 0 or flops < MIN_PARALLEL_FLOPS


def _run_tasks(tasks: list[Callable[[], object]]) -> None:
    """Run the tasks on the pool, one task per leaf: a thread that finishes takes the next
    one, so a slow core runs fewer.  BLAS is held to one thread meanwhile (schedule.run's
    limit_blas): a tile runs on the thread that took it.  Tasks are sized here, so no
    probing: grain=1."""

    def body(start: int, stop: int) -> None:
        for task in tasks[start:stop]:
            task()

    _schedule.run(body, len(tasks), key=None, grain=1)


def _merge_batches(x: np.ndarray, batches: int) -> np.ndarray | None:
    """x (*S, r, c) as a view of shape (batches, r, c), or None when that needs a copy
    (batch dimensions broadcast in a way strides cannot express as one axis)."""
    try:
        return np.reshape(x, (batches, *x.shape[-2:]), copy=False)
    except ValueError:
        return None


class _Timings:
    """The last time of each way of computing one product shape: tiles on
    the pool, or NumPy's call whole (OpenBLAS's own threads)."""

    __slots__ = ("tiles", "whole", "calls")

    def __init__(self) -> None:
        self.tiles: float | None = None
        self.whole: float | None = None
        self.calls = 0

    def pick(self) -> str:
        """Each way once, then the faster last time; the other again every
        RETRY_OTHER_WAY calls, so a change (a busy core, gone or come) is
        seen."""
        self.calls += 1
        if self.whole is None:
            return "whole"
        if self.tiles is None:
            return "tiles"
        faster = "tiles" if self.tiles < self.whole else "whole"
        if self.calls % RETRY_OTHER_WAY == 0:
            return "whole" if faster == "tiles" else "tiles"
        return faster


# Tiles or NumPy's call, decided by measurement per product shape.  On an
# idle machine of one core kind OpenBLAS's own threads are as fast or a
# little faster (tiles 0.87-1.01x at n = 500-1400 here, 0.74-0.94x back to
# back); where a core is slow (another process on it, or an efficiency
# core) its static split waits on that core and tiles win (1.34x at 2000
# with a busy process on cpu1).  Neither is known in advance, so both are
# timed.
RETRY_OTHER_WAY = 32
# Tests and RUNTIME_FORCE_SPLIT: always tiles.
ALWAYS_TILE = False
_timings: dict[tuple[Any, ...], _Timings] = {}
_TIMINGS_KEPT = 256


def _product(a: np.ndarray, b: np.ndarray, out: np.ndarray, name: str = "matmul") -> None:
    """out[...] = a @ b: tiles on the pool or NumPy's call whole, whichever
    was faster for this shape lately (_Timings)."""
    if ALWAYS_TILE or _schedule._forced_grain is not None:
        _tiled(a, b, out, name)
        return
    key = (a.shape, b.shape, a.strides, b.strides, a.dtype.char, _config.num_threads())
    timings = _timings.get(key)
    if timings is None:
        if len(_timings) >= _TIMINGS_KEPT:
            _timings.clear()
        timings = _timings[key] = _Timings()
    way = timings.pick()
    t0 = time.perf_counter()
    if way == "whole":
        with recorded_fp_errors(name, rename={"matmul": name}):
            np.matmul(a, b, out=out)
        timings.whole = time.perf_counter() - t0
    else:
        _tiled(a, b, out, name)
        timings.tiles = time.perf_counter() - t0


def _tiled(a: np.ndarray, b: np.ndarray, out: np.ndarray, name: str = "matmul") -> None:
    """out[...] = a @ b on the pool.  a (*S, m, k), b (*S, k, n) and out (*S, m, n): batch
    dimensions already broadcast, one BLAS dtype, out writable and overlapping neither.
    Floating-point errors of the tiles are reported once, as NumPy's function `name`
    reports them ("overflow encountered in dot" for np.dot, inner and tensordot)."""
    while out.ndim > 3 and out.shape[0] == 1:
        a, b, out = a[0], b[0], out[0]
    m, n = out.shape[-2:]
    batches = math.prod(out.shape[:-2])
    threads = _config.num_threads()
    groups = 4 * TILES_PER_THREAD * threads
    if out.ndim == 2:
        a3, b3, o3 = a[None], b[None], out[None]
    else:
        a3, b3, o3 = (_merge_batches(x, batches) for x in (a, b, out))
    tasks: list[Callable[[], object]]
    if a3 is None or b3 is None or o3 is None:
        # Batch axes that do not merge: split the first one; NumPy loops over the others.
        edges = _blocks(out.shape[0], groups, 1)
        tasks = [functools.partial(np.matmul, a[i:j], b[i:j], out=out[i:j])
                 for i, j in zip(edges, edges[1:])]
    elif batches >= groups:
        # Many matrices: equal groups, many per thread, so that one matrix more or less
        # on a thread is a small part of its work.
        edges = _blocks(batches, groups, 1)
        tasks = [functools.partial(np.matmul, a3[i:j], b3[i:j], out=o3[i:j])
                 for i, j in zip(edges, edges[1:])]
    else:
        # Few matrices: tiles inside each.
        row_count, col_count = _grid(m, n, batches, threads)
        rows, cols = _blocks(m, row_count, TILE_ALIGN), _blocks(n, col_count, TILE_ALIGN)
        tasks = [functools.partial(np.matmul, a3[i, r0:r1], b3[i, :, c0:c1],
                                   out=o3[i, r0:r1, c0:c1])
                 for i in range(batches) for r0, r1 in zip(rows, rows[1:])
                 for c0, c1 in zip(cols, cols[1:])]
    with recorded_fp_errors(name, rename={"matmul": name}):
        _run_tasks(tasks)


def _usable_out(out: np.ndarray, shape: tuple[int, ...], dtype: np.dtype,
                *inputs: np.ndarray) -> bool:
    """out can take the product as it is: exact ndarray of this shape and dtype, writable,
    sharing no memory with an input (NumPy copies then; we leave that case to it) nor
    between its own elements (tiles would finish in any order)."""
    return (type(out) is np.ndarray and out.shape == shape and out.dtype == dtype
            and out.flags.writeable and not any(np.may_share_memory(out, x) for x in inputs)
            and distinct_elements(out))


def _batches_in_c_order(x: np.ndarray) -> bool:
    """x's batch axes (those longer than 1) have non-increasing positive strides: NumPy then
    allocates matmul's output in C order for order='K', as done here."""
    strides = [s for s, d in zip(x.strides[:-2], x.shape[:-2]) if d > 1]
    return all(s > 0 for s in strides) and all(p >= q for p, q in zip(strides, strides[1:]))


def _loop_dtype(x1: np.ndarray, x2: np.ndarray, dtype: object, casting: str) -> np.dtype | None:
    """The dtype NumPy's matmul computes in (its loops are homogeneous: ff->f, dd->d, ...)
    when both inputs are BLAS dtypes cast to it under `casting`; else None."""
    if x1.dtype not in _BLAS_DTYPES or x2.dtype not in _BLAS_DTYPES:
        return None
    if dtype is None:
        loop = np.result_type(x1.dtype, x2.dtype)
    else:
        try:
            loop = np.dtype(dtype)
        except (TypeError, ValueError):
            return None
    if loop not in _BLAS_DTYPES:
        return None
    if not (np.can_cast(x1.dtype, loop, casting) and np.can_cast(x2.dtype, loop, casting)):
        return None
    return loop


def _matmul_tiled(x1: object, x2: object, out: object,
                  kwargs: dict[str, Any]) -> np.ndarray | None:
    """The product on the pool, or None for NumPy to do it (see the module docstring)."""
    if type(x1) is not np.ndarray or type(x2) is not np.ndarray:
        return None
    if x1.ndim < 2 or x2.ndim < 2 or not kwargs.keys() <= _MATMUL_KEYWORDS:
        return None
    m, k = x1.shape[-2:]
    k2, n = x2.shape[-2:]
    if k != k2:
        return None
    if x1.ndim == 2 and x2.ndim == 2:
        batch_shape: tuple[int, ...] = ()
    else:
        try:
            batch_shape = np.broadcast_shapes(x1.shape[:-2], x2.shape[:-2])
        except ValueError:
            return None
    if _small(math.prod(batch_shape), m, n, k, x1.dtype):
        return None
    casting = kwargs.get("casting", "same_kind")
    order = kwargs.get("order", "K")
    if not isinstance(casting, str) or casting not in _CASTINGS or order not in ("K", "C"):
        return None
    if _config.num_threads() == 1:
        return None
    loop = _loop_dtype(x1, x2, kwargs.get("dtype"), casting)
    if loop is None:
        return None
    shape = (*batch_shape, m, n)
    if isinstance(out, tuple):
        if len(out) != 1:
            return None
        out = out[0]
    if out is None:
        if (order == "K" and len(batch_shape) > 1
                and not (_batches_in_c_order(x1) and _batches_in_c_order(x2))):
            return None  # NumPy would lay the batch axes out like the inputs
        out = np.empty(shape, loop)
    elif not _usable_out(out, shape, loop, x1, x2):  # type: ignore[arg-type]
        return None
    a, b = x1.astype(loop, copy=False), x2.astype(loop, copy=False)
    if batch_shape:
        a = np.broadcast_to(a, (*batch_shape, m, k))
        b = np.broadcast_to(b, (*batch_shape, k, n))
    _product(a, b, out)  # type: ignore[arg-type]
    return out  # type: ignore[return-value]


@_like(np.matmul)
def matmul(x1: Any, x2: Any, /, out: Any = None, **kwargs: Any) -> Any:
    result = _matmul_tiled(x1, x2, out, kwargs)
    if result is None:
        return np.matmul(x1, x2, out=out, **kwargs)
    return result


def _dot_2d(a: np.ndarray, b: np.ndarray, out: np.ndarray | None) -> np.ndarray | None:
    """dot of a (M, K) and b (K, N) on the pool into out (C-contiguous, as np.dot requires),
    or None for NumPy.  Same dtypes only: np.dot's mixed-dtype casting is left to it."""
    (m, k), n = a.shape, b.shape[1]
    if (a.dtype != b.dtype or a.dtype not in _BLAS_DTYPES or b.shape[0] != k
            or _small(1, m, n, k, a.dtype) or _config.num_threads() == 1):
        return None
    if out is None:
        out = np.empty((m, n), a.dtype)
    elif not (_usable_out(out, (m, n), a.dtype, a, b) and out.flags.c_contiguous):
        return None
    _product(a, b, out, "dot")
    return out


@_like(np.dot)
def dot(a: Any, b: Any, out: Any = None) -> Any:
    # N-D a with a 2-D b is a 2-D product of a's rows (the reshape copies only a
    # non-contiguous a; NumPy would compute each output element as a separate dot).
    if (type(a) is np.ndarray and type(b) is np.ndarray and a.ndim >= 2 and b.ndim == 2
            and a.shape[-1] == b.shape[0] and (out is None or type(out) is np.ndarray)):
        rows, (k, n) = math.prod(a.shape[:-1]), b.shape
        shape = (*a.shape[:-1], n)
        out2 = None
        if out is not None:
            if out.shape != shape or not out.flags.c_contiguous:
                return np.dot(a, b, out)
            out2 = out.reshape(rows, n)
        result = _dot_2d(a.reshape(rows, k), b, out2)
        if result is not None:
            return out if out is not None else result.reshape(shape)
    return np.dot(a, b, out)


@_like(np.inner)
def inner(a: Any, b: Any, /) -> Any:
    # inner(a, b) = rows of a times rows of b: a 2-D product with b transposed (a view;
    # BLAS takes it as is).
    if (type(a) is np.ndarray and type(b) is np.ndarray and a.ndim >= 2 and b.ndim >= 2
            and a.shape[-1] == b.shape[-1]):
        k = a.shape[-1]
        a2 = a.reshape(math.prod(a.shape[:-1]), k)
        b2 = b.reshape(math.prod(b.shape[:-1]), k)
        result = _dot_2d(a2, b2.T, None)
        if result is not None:
            return result.reshape(*a.shape[:-1], *b.shape[:-1])
    return np.inner(a, b)


def _tensordot_operands(a: np.ndarray, b: np.ndarray, axes: Any
                        ) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """NumPy's own reduction of tensordot to a 2-D dot (numpy/_core/numeric.py): the summed
    axes moved to the end of a and the front of b.  Raises where NumPy would (the caller
    then lets NumPy raise its own error)."""
    try:
        iter(axes)
    except Exception:
        axes_a, axes_b = list(range(-axes, 0)), list(range(0, axes))
    else:
        axes_a, axes_b = axes
    axes_a = list(axes_a) if hasattr(axes_a, "__len__") else [axes_a]
    axes_b = list(axes_b) if hasattr(axes_b, "__len__") else [axes_b]
    if len(axes_a) != len(axes_b):
        raise ValueError("shape-mismatch for sum")
    for i in range(len(axes_a)):
        if a.shape[axes_a[i]] != b.shape[axes_b[i]]:
            raise ValueError("shape-mismatch for sum")
        axes_a[i] %= a.ndim
        axes_b[i] %= b.ndim
    kept_a = [i for i in range(a.ndim) if i not in axes_a]
    kept_b = [i for i in range(b.ndim) if i not in axes_b]
    summed = math.prod(a.shape[i] for i in axes_a)
    at = a.transpose(kept_a + axes_a).reshape(math.prod(a.shape[i] for i in kept_a), summed)
    bt = b.transpose(axes_b + kept_b).reshape(summed, math.prod(b.shape[i] for i in kept_b))
    return at, bt, [a.shape[i] for i in kept_a] + [b.shape[i] for i in kept_b]


@_like(np.tensordot)
def tensordot(a: Any, b: Any, axes: Any = 2) -> Any:
    if type(a) is np.ndarray and type(b) is np.ndarray:
        try:
            at, bt, shape = _tensordot_operands(a, b, axes)
        except Exception:
            return np.tensordot(a, b, axes)  # NumPy raises its own error
        result = _dot_2d(at, bt, None)
        if result is not None:
            return result.reshape(shape)
    return np.tensordot(a, b, axes)


__all__ = ["dot", "inner", "matmul", "tensordot"]
