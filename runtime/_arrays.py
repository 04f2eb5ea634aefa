"""Splitting array arguments along axis 0, and assembling chunk results.

Shared by runtime.map, runtime.reduce and @runtime.parallel.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from . import _outputs

CACHE_LINE = 64


def cache_sizes(root: str = "/sys/devices/system/cpu/cpu0/cache") -> dict[int, int]:
    """Data/unified cache size in bytes by level, from Linux sysfs; {} elsewhere."""
    sizes: dict[int, int] = {}
    try:
        entries = os.listdir(root)
    except OSError:
        return sizes
    for entry in entries:
        try:
            with open(os.path.join(root, entry, "type")) as f:
                if f.read().strip() == "Instruction":
                    continue
            with open(os.path.join(root, entry, "level")) as f:
                level = int(f.read())
            with open(os.path.join(root, entry, "size")) as f:
                text = f.read().strip()
        except (OSError, ValueError):
            continue
        units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
        try:
            size = int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)
        except ValueError:
            continue
        sizes[level] = size
    return sizes


@functools.lru_cache(maxsize=None)
def chunk_cache_bytes(threads: int) -> int:
    """Cache one thread's chunk may use: its L2 plus its share of the L3
    (at most MAX_L3_SHARE).

    A chunk of a function that makes temporaries (a * b + c) should keep its
    inputs, output and temporaries in cache, so chunk-sized temporaries are
    reused from cache rather than streamed to memory (and through the page
    fault handler, as NumPy's whole-array temporaries are).  Measured here
    (2 threads, L2 1 MiB, L3 32 MiB), @parallel a*b+c on 1e7 float64 was
    fastest with 128-256 K-row chunks, ~10 MiB of data each: per-chunk
    Python overhead argues for big chunks as much as the cache for small."""
    sizes = cache_sizes()
    l2 = sizes.get(2, 1 << 20)
    l3 = sizes.get(3, 8 << 20)
    return l2 + min(l3 // max(1, threads), MAX_L3_SHARE)


# The most L3 a thread's chunk counts on.  sysfs reports the L3 of a whole
# socket (or what a hypervisor declares): 480 MiB on this project's 2-vCPU
# VM, an Intel Xeon whose L3 is shared with the rest of the host's cores.
# Split between our two threads it sized chunks of ~240 MiB of data, which
# stay in no core's cache and leave a job too few chunks to balance.  One
# core of a current CPU has at most ~12 MiB of L3 to itself (AMD's 3D
# V-Cache parts: 96 MiB per 8-core die; Intel Xeons: 2-4 MiB per core), so
# above 16 MiB the figure is not a cache this thread can use.
MAX_L3_SHARE = 16 << 20


@dataclass
class SplitArguments:
    """The arguments of a call, which of them are split, and how."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    split: tuple[int, ...]  # indices into args of the arrays split along axis 0
    rows: int
    align: int  # rows per chunk boundary step, so chunks keep the arrays' alignment
    row_elements: int  # scalar elements in one row of the first split array
    row_bytes: int  # bytes in one row of all split arrays together
    dtype_key: tuple[str, ...]

    def chunk(self, start: int, stop: int) -> list[Any]:
        args = list(self.args)
        for i in self.split:
            args[i] = args[i][start:stop]
        return args

    def cache_rows(self, threads: int, result_row_bytes: int = 0) -> int:
        """Rows per chunk that keep a chunk's data and temporaries in cache
        (inputs and output, and as much again for temporaries)."""
        per_row = 2 * (self.row_bytes + result_row_bytes) or 1
        rows = max(self.align, chunk_cache_bytes(threads) // per_row)
        return -(-rows // self.align) * self.align


def _row_alignment(a: np.ndarray) -> int:
    """Smallest row step that moves a C-contiguous array by a multiple of a
    cache line: chunks then start on the same alignment as the array, so
    NumPy's SIMD loops see the same alignment in every chunk, and no two
    chunks write the same cache line."""
    if not a.flags.c_contiguous or a.ndim == 0:
        return 1
    row_bytes = a.itemsize * math.prod(a.shape[1:])
    if row_bytes == 0:
        return 1
    return CACHE_LINE // math.gcd(row_bytes, CACHE_LINE)


def _row_bytes(a: np.ndarray) -> int:
    return a.itemsize * math.prod(a.shape[1:])


def split_arguments(args: Sequence[Any], kwargs: dict[str, Any], *, strict: bool,
                    what: str) -> SplitArguments | None:
    """strict (runtime.map, runtime.reduce): every positional argument is an
    array split along axis 0, and all have the same length.  Otherwise
    (@runtime.parallel): the leading length is that of the first positional
    ndarray with at least one dimension; positional ndarrays of that length
    are split, everything else passes whole.  None when nothing is split."""
    args = list(args)
    split: list[int] = []
    rows = -1
    if strict:
        for i, a in enumerate(args):
            if not isinstance(a, np.ndarray):
                a = args[i] = np.asarray(a)
            if a.ndim == 0:
                if len(args) > 1:
                    raise ValueError(
                        f"{what}: argument {i + 1} is 0-dimensional; every array passed "
                        f"to {what} is split along axis 0 (pass scalars through a closure "
                        f"or functools.partial)")
                return None
            if rows < 0:
                rows = a.shape[0]
            elif a.shape[0] != rows:
                raise ValueError(
                    f"{what}: argument {i + 1} has {a.shape[0]} rows along axis 0 but "
                    f"argument 1 has {rows}; arrays passed to {what} are split together "
                    f"and must have the same length (pass other arrays through a closure "
                    f"or functools.partial)")
            split.append(i)
    else:
        for i, a in enumerate(args):
            if isinstance(a, np.ndarray) and a.ndim >= 1:
                if rows < 0:
                    rows = a.shape[0]
                if a.shape[0] == rows:
                    split.append(i)
    if not split:
        return None
    arrays = [args[i] for i in split]
    align = 1
    for a in arrays:
        step = _row_alignment(a)
        align = align * step // math.gcd(align, step)
    return SplitArguments(
        args=tuple(args),
        kwargs=kwargs,
        split=tuple(split),
        rows=rows,
        align=min(align, CACHE_LINE),
        row_elements=max(1, math.prod(arrays[0].shape[1:])),
        row_bytes=sum(_row_bytes(a) for a in arrays),
        dtype_key=tuple(a.dtype.str for a in arrays),
    )


# How hard np.shares_memory may work to prove two views disjoint (its
# max_work): exact for the common cases (slices of one array) at a bounded
# cost; an undecided case counts as overlapping, and costs only a copy.
SHARES_MEMORY_WORK = 1000


def _same_view(a: np.ndarray, b: np.ndarray) -> bool:
    """The same elements at the same places: an in-place call (out= x).
    Row i of one is row i of the other, and a chunk reads and writes only
    its own rows, so no chunk can see another's writes."""
    return (a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
            and a.shape == b.shape and a.strides == b.strides
            and a.dtype.itemsize == b.dtype.itemsize)


def overlaps(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether a chunked call writing `b` could change what another chunk
    reads from `a` (memory shared other than as the same view)."""
    if not np.may_share_memory(a, b) or _same_view(a, b):
        return False
    try:
        return bool(np.shares_memory(a, b, max_work=SHARES_MEMORY_WORK))
    except np.exceptions.TooHardError:
        return True


def copy_inputs_overlapping(split: SplitArguments, outs: Sequence[np.ndarray]
                            ) -> SplitArguments:
    """`split` with every input that shares memory with an output copied
    first, as NumPy's ufuncs do: chunks run in any order on any thread,
    so a chunk writing its rows of out= must not change another chunk's
    input (out=z[1:] with input z[:-1] did, on about one element per chunk
    boundary).  Inputs that are out= itself (in place) are not copied."""
    args = list(split.args)
    copied = False
    for i in split.split:
        a = args[i]
        if isinstance(a, np.ndarray) and any(overlaps(a, o) for o in outs):
            args[i] = a.copy()
            copied = True
    return dataclasses.replace(split, args=tuple(args)) if copied else split


class Outputs:
    """The output array(s) of a chunked call: allocated from the first
    chunk's result (dtype, trailing shape), or supplied by the caller (out=);
    every later chunk's result is checked against them and copied in."""

    def __init__(self, rows: int, what: str, out: Any = None) -> None:
        self.rows = rows
        self.what = what
        self.arrays: list[np.ndarray] | None = None
        self.is_tuple = False
        # Results are cast into a caller's out= as NumPy's out= does; outputs
        # allocated here must keep the first chunk's dtype exactly.
        self.given = out is not None
        self.first_rows = (0, 0)  # the first chunk's range (messages name it)
        if out is not None:
            self.is_tuple = isinstance(out, tuple)
            outs = list(out) if self.is_tuple else [out]
            for k, o in enumerate(outs):
                name = f"out[{k}]" if self.is_tuple else "out"
                if not isinstance(o, np.ndarray):
                    raise TypeError(f"{what}: {name} must be a NumPy array, "
                                    f"got {type(o).__name__}")
                if o.ndim == 0 or o.shape[0] != rows:
                    raise ValueError(f"{what}: {name} has shape {o.shape}, but the inputs "
                                     f"have {rows} rows along axis 0")
                if not o.flags.writeable:
                    raise ValueError(f"{what}: {name} is read-only")
            self.arrays = outs

    @property
    def result(self) -> Any:
        assert self.arrays is not None
        return tuple(self.arrays) if self.is_tuple else self.arrays[0]

    def _results(self, result: Any, start: int, stop: int) -> list[np.ndarray]:
        results = list(result) if isinstance(result, tuple) else [result]
        checked = []
        for k, r in enumerate(results):
            if not isinstance(r, np.ndarray):
                r = np.asarray(r)
            if r.ndim == 0 or r.shape[0] != stop - start:
                which = f"result {k + 1} of " if len(results) > 1 else ""
                raise ValueError(
                    f"{self.what}: {which}chunk [{start}:{stop}] returned shape {r.shape}; "
                    f"each chunk must return one row per input row ({stop - start} rows) — "
                    f"for one value per chunk, use reduce= (or runtime.reduce)")
            checked.append(r)
        return checked

    def first(self, result: Any, start: int, stop: int) -> None:
        """Store the first chunk's result, allocating the outputs from it.
        A first chunk that covers every row (the call ran inline) is the
        output itself: no copy."""
        results = self._results(result, start, stop)
        if self.arrays is None:
            self.is_tuple = isinstance(result, tuple)
            self.first_rows = (start, stop)
            if start == 0 and stop == self.rows:
                self.arrays = results
                return
            # From the output cache: a loop of such calls reuses its last,
            # dropped output's pages (runtime/_outputs.pyx).
            self.arrays = [_outputs.empty((self.rows,) + r.shape[1:], r.dtype) for r in results]
        self.store(result, start, stop, results)

    def store(self, result: Any, start: int, stop: int,
              results: list[np.ndarray] | None = None) -> None:
        assert self.arrays is not None
        if results is None:
            o = self.arrays[0]
            # The common case, checked cheaply: one array of the right rows
            # and exactly the output's dtype (no cast to decide on).
            if (type(result) is np.ndarray and len(self.arrays) == 1
                    and result.dtype is o.dtype and result.ndim == o.ndim
                    and result.shape[0] == stop - start and result.shape[1:] == o.shape[1:]):
                o[start:stop] = result
                return
            results = self._results(result, start, stop)
        if len(results) != len(self.arrays) or isinstance(result, tuple) != self.is_tuple:
            got = _count(isinstance(result, tuple), len(results))
            want = _count(self.is_tuple, len(self.arrays))
            if self.given:
                raise ValueError(
                    f"{self.what}: chunk [{start}:{stop}] returned {got}, but out= is {want}; "
                    f"pass out= as func's results are: one array, or a tuple of one array "
                    f"per result")
            first = "[{}:{}]".format(*self.first_rows)
            raise ValueError(
                f"{self.what}: chunk [{start}:{stop}] returned {got}, but the first chunk "
                f"{first} returned {want}; every chunk must return the same number of "
                f"results, as the same kind (one array, or a tuple)")
        for k, (o, r) in enumerate(zip(self.arrays, results)):
            if r.shape[1:] != o.shape[1:] or (r.dtype != o.dtype and not self.given):
                self._mismatch(k, o, r, start, stop)
        for o, r in zip(self.arrays, results):
            # same_kind, as NumPy's out= casts: float results into an int
            # out= raise rather than truncate.
            np.copyto(o[start:stop], r, casting="same_kind")

    def _mismatch(self, k: int, o: np.ndarray, r: np.ndarray, start: int, stop: int) -> None:
        """Raise for a chunk's result `r` that does not fit output `o`,
        naming what differs and what it is compared with."""
        which = f"result {k + 1}" if self.is_tuple else "a result"
        if self.given:
            name = f"out[{k}]" if self.is_tuple else "out"
            raise ValueError(
                f"{self.what}: chunk [{start}:{stop}] returned {which} with rows of shape "
                f"{r.shape[1:]}, but {name} has rows of shape {o.shape[1:]}; {name} must "
                f"have shape {(self.rows,) + r.shape[1:]}")
        first = "[{}:{}]".format(*self.first_rows)
        if r.shape[1:] != o.shape[1:]:
            raise ValueError(
                f"{self.what}: chunk [{start}:{stop}] returned {which} with rows of shape "
                f"{r.shape[1:]}, but the first chunk {first} returned rows of shape "
                f"{o.shape[1:]}; every chunk's rows must have one shape")
        raise ValueError(
            f"{self.what}: chunk [{start}:{stop}] returned {which} of dtype {r.dtype}, but "
            f"the first chunk {first} returned {o.dtype}; every chunk must return one dtype "
            f"(cast in func, or pass out= to have results cast into it)")


def _count(is_tuple: bool, n: int) -> str:
    """How a message names a chunk's results: 'one array (not a tuple)',
    'a tuple of 2 arrays'."""
    if not is_tuple:
        return "one array (not a tuple)"
    return f"a tuple of {n} array{'s' if n != 1 else ''}"


def chunk_caller(func: Callable[..., Any], split: SplitArguments) -> Callable[[int, int], Any]:
    """func applied to rows [start, stop) of the split arguments; the
    common shapes of call get closures without per-chunk list building."""
    args, kwargs = split.args, split.kwargs
    if split.split == tuple(range(len(args))) and not kwargs:
        if len(args) == 1:
            (a,) = args
            return lambda start, stop: func(a[start:stop])
        if len(args) == 2:
            a, b = args
            return lambda start, stop: func(a[start:stop], b[start:stop])
        if len(args) == 3:
            a, b, c = args
            return lambda start, stop: func(a[start:stop], b[start:stop], c[start:stop])
    return lambda start, stop: func(*split.chunk(start, stop), **kwargs)


def make_first_and_body(func: Callable[..., Any], split: SplitArguments,
                        outputs: Outputs) -> tuple[Callable[[int, int], None],
                                                   Callable[[int, int], None]]:
    """Chunk functions for a call whose results are stored row by row."""
    call = chunk_caller(func, split)

    def first(start: int, stop: int) -> None:
        outputs.first(call(start, stop), start, stop)

    def body(start: int, stop: int) -> None:
        outputs.store(call(start, stop), start, stop)

    return first, body
