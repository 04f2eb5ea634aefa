"""Big elementwise calls on the pool: ufuncs, and copies that work the same way.

A call's iteration space (the broadcast shape) is walked in the memory
order of its output, split into chunks of that flat order, and each chunk
becomes one or a few rectangular boxes; NumPy's own loop then runs on the
box views of every operand, writing straight into the output.  Each
element is computed by the same NumPy loop from the same values as in one
whole call, so results are the same bits.

Anything outside what this handles goes to NumPy unchanged (the caller,
``call``, returns NumPy's own answer): arguments that are not exact
ndarrays or scalars, non-numeric dtypes, outputs that overlap inputs other
than element for element (NumPy copies such inputs first), unknown keywords.
"""

from __future__ import annotations

import math
import time
import warnings
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .. import _core, _schedule
from . import _loops
from ._fperrors import recorded_fp_errors, replay

NUMERIC_KINDS = frozenset("biufc")
WHERE_WITHOUT_OUT = ("'where' used without 'out', expect unitialized memory in output. "
                     "If this is intentional, use out=None.")
UFUNC_KEYWORDS = frozenset({"out", "where", "dtype", "casting", "order", "signature", "subok"})
SCALAR_TYPES = (int, float, complex, np.generic)  # bool is an int
# NumPy's loops pick their SIMD or scalar path from the strides they are
# given, and NumPy hands a single element over as contiguous: a chunk piece
# of one element from a strided operand can take the other path and differ
# in the last bit (float32 arccos on a reversed array, found by the tests).
# So a split keeps every piece of a strided operand at least two elements
# long: whole innermost rows when there are two or more rows, else chunks
# of at least two elements (the pool never makes a chunk below its grain).
MIN_STRIDED_PIECE = 2

# What runtime.numpy's own Python steps cost a parallel call, beyond the
# pool's dispatch (measured here: a planned native call 4-6 us: signature,
# output, LoopCall, posting; the Python path ~15 us: errstate, probe,
# allocation, boxes).  Decisions count them, or a 1e3-element sin (8 us)
# went parallel and took 10 us.
NATIVE_CALL_S = 5e-6
PYTHON_CALL_S = 15e-6

Kernel = Callable[[list[Any], list[np.ndarray]], None]


def boxes(start: int, stop: int, shape: Sequence[int]) -> Iterator[tuple[slice, ...]]:
    """Rectangular boxes (tuples of slices) covering the flat C-order range
    [start, stop) of an array of `shape`: at most 2 * ndim - 1 of them."""
    if len(shape) == 1:
        yield (slice(start, stop),)
        return
    inner = math.prod(shape[1:])
    first, first_offset = divmod(start, inner)
    last, last_offset = divmod(stop, inner)
    rest = shape[1:]
    if first == last:
        for box in boxes(first_offset, last_offset, rest):
            yield (slice(first, first + 1), *box)
        return
    if first_offset:
        for box in boxes(first_offset, inner, rest):
            yield (slice(first, first + 1), *box)
        first += 1
    if last > first:
        yield (slice(first, last),) + (slice(None),) * len(rest)
    if last_offset:
        for box in boxes(0, last_offset, rest):
            yield (slice(last, last + 1), *box)


def memory_order(a: np.ndarray) -> list[int] | None:
    """Axes of `a` from the slowest-varying to the fastest in memory (None
    when that is the C order already)."""
    if a.flags.c_contiguous:
        return None
    perm = sorted(range(a.ndim), key=lambda axis: -abs(a.strides[axis]))
    return None if perm == list(range(a.ndim)) else perm


def _full(operand: Any, shape: tuple[int, ...], perm: list[int] | None) -> Any:
    """An operand as a view of the whole iteration space in iteration order;
    scalars and 0-d arrays stay as they are (NumPy broadcasts them)."""
    if not isinstance(operand, np.ndarray) or operand.ndim == 0:
        return operand
    if operand.shape != shape:
        operand = np.broadcast_to(operand, shape)
    return operand if perm is None else operand.transpose(perm)


def execute(kernel: Kernel, inputs: Sequence[Any], outputs: Sequence[np.ndarray],
            shape: tuple[int, ...], key: Any, call_s: float = PYTHON_CALL_S) -> None:
    """Run kernel(input views, output views) over boxes covering `shape`,
    inline or on the pool as _schedule decides.  `outputs` all have
    exactly `shape`; inputs broadcast to it or are scalars."""
    perm = memory_order(outputs[0])
    ins = [_full(a, shape, perm) for a in inputs]
    outs = [o if perm is None else o.transpose(perm) for o in outputs]
    order_shape = tuple(shape[axis] for axis in perm) if perm is not None else shape
    total = math.prod(shape)
    arrays = [a for a in ins if isinstance(a, np.ndarray) and a.ndim] + outs
    contiguous = all(a.flags.c_contiguous for a in arrays)
    if len(order_shape) == 1 or contiguous:
        # One flat run over every operand: one slice per chunk.
        flat_ins = [a.reshape(-1) if isinstance(a, np.ndarray) and a.ndim else a for a in ins]
        flat_outs = [o.reshape(-1) for o in outs]
        sliced = [isinstance(a, np.ndarray) and a.ndim > 0 for a in flat_ins]

        def flat_body(start: int, stop: int) -> None:
            kernel([a[start:stop] if s else a for a, s in zip(flat_ins, sliced)],
                   [o[start:stop] for o in flat_outs])

        _schedule.run(flat_body, total, key=key, limit_blas=False, call_s=call_s,
                      min_grain=1 if contiguous else MIN_STRIDED_PIECE)
        return

    row = order_shape[-1]
    unit = row if total // row >= 2 else 1
    sliced = [isinstance(a, np.ndarray) and a.ndim > 0 for a in ins]
    box_shape = order_shape[:-1] if unit > 1 else order_shape

    def box_body(start: int, stop: int) -> None:
        for box in boxes(start, stop, box_shape):
            kernel([a[box] if s else a for a, s in zip(ins, sliced)], [o[box] for o in outs])

    _schedule.run(box_body, total // unit, key=key, row_elements=unit, limit_blas=False,
                  call_s=call_s, min_grain=1 if unit > 1 else MIN_STRIDED_PIECE)


def _same_elements(a: np.ndarray, b: np.ndarray) -> bool:
    """a and b are the same elements in the same places (an in-place call)."""
    return a is b or (a.shape == b.shape and a.strides == b.strides
                      and a.__array_interface__["data"][0] == b.__array_interface__["data"][0])


def distinct_elements(a: np.ndarray) -> bool:
    """Every element of `a` has memory of its own (a sufficient test: each
    axis's step clears everything the faster axes span).  An output whose
    elements share memory (a zero stride, as_strided views) gets one value
    per place from NumPy, the last in NumPy's order; chunks finish in any
    order, so such calls are NumPy's."""
    if a.size == 0:
        return True
    extent = a.itemsize
    for n, step in sorted(((n, abs(s)) for n, s in zip(a.shape, a.strides) if n > 1),
                          key=lambda axis: axis[1]):
        if step < extent:
            return False
        extent += (n - 1) * step
    return True


def overlap_is_safe(outputs: Sequence[np.ndarray], inputs: Sequence[Any]) -> bool:
    """Chunks may run in any order: an output may share memory with an
    input only element for element, outputs none with each other, and no
    output with itself."""
    if not all(distinct_elements(out) for out in outputs):
        return False
    for i, out in enumerate(outputs):
        for other in outputs[i + 1:]:
            if np.may_share_memory(out, other):
                return False
        for a in inputs:
            if isinstance(a, np.ndarray) and np.may_share_memory(out, a) \
                    and not _same_elements(out, a):
                return False
    return True


def _allocate(like: Sequence[Any], dtypes: Sequence[np.dtype], shape: tuple[int, ...],
              order: str) -> list[np.ndarray]:
    """Outputs as NumPy's ufunc machinery allocates them: order="K" keeps
    the inputs' memory order (NumPy's iterator decides it: nditer makes the
    same choice), "A" is F only if all inputs are F-contiguous."""
    arrays = [a for a in like if isinstance(a, np.ndarray) and a.ndim]
    if order in ("K", "A") and all(a.flags.c_contiguous for a in arrays):
        order = "C"
    elif order == "A":
        order = "F" if all(a.flags.f_contiguous for a in arrays) else "C"
    if order in ("C", "F"):
        return [np.empty(shape, dtype=d, order=order) for d in dtypes]
    operands = [np.broadcast_to(a, shape) if a.shape != shape else a for a in arrays]
    iterator = np.nditer(
        operands + [None] * len(dtypes),
        flags=["zerosize_ok", "refs_ok", "delay_bufalloc", "buffered"],
        op_flags=[["readonly"]] * len(operands) + [["writeonly", "allocate", "no_subtype"]]
        * len(dtypes),
        op_dtypes=[None] * len(operands) + list(dtypes), order="K")
    return list(iterator.operands[len(operands):])


def _dtype_char(a: Any) -> Any:
    return a.dtype.char if isinstance(a, (np.ndarray, np.generic)) else type(a)


# Before the pool is measured, a call this small that ran inline teaches
# ParallelUfunc to send calls up to its size straight to NumPy: no machine
# splits 2**14 elements of a ufunc with gain (exp: ~10 us), and otherwise
# every small call would take the measured path (~40-80 us) until some big
# call measures the pool.
PRECALIBRATION_INLINE = 1 << 14


def _learn_once(wrapper: Any, first: np.ndarray, key: Any, native: bool, size: int) -> None:
    """After a call: give ParallelUfunc its inline size for this dtype if
    it has none yet (calls found to run inline refresh it)."""
    if not _schedule.calibrated():
        if size < PRECALIBRATION_INLINE and wrapper._inline_threshold(first.dtype.num) <= size:
            wrapper._learn(first.dtype.num, size + 1)
        return
    if wrapper._inline_threshold(first.dtype.num) <= 1:
        wrapper._learn(first.dtype.num, _schedule.inline_elements(
            key, native=native, call_s=NATIVE_CALL_S if native else PYTHON_CALL_S))


# Repeated calls (same ufunc, dtypes, shapes, layouts; no keywords) reuse
# the loop and split of the last planned call: the Python work per call
# drops from ~20 us to ~4 us, which decides whether a 1e5-element exp
# (80 us) gains.  Re-planned after HOT_USES calls, as costs drift.
HOT_USES = 64
HOT_CACHE = 256
_hot: dict[tuple[Any, ...], list[Any]] = {}


def _hot_signature(ufunc: np.ufunc, args: tuple[Any, ...]) -> tuple[Any, ...]:
    return (ufunc, *[(a.dtype, a.shape, a.flags.c_contiguous, a.flags.f_contiguous)
                     if type(a) is np.ndarray else type(a) for a in args])


def _hot_call(ufunc: np.ufunc, signature: tuple[Any, ...], args: tuple[Any, ...]) -> Any:
    entry = _hot.get(signature)
    if entry is None or entry[0] >= HOT_USES or _schedule._forced_grain is not None:
        return NotImplemented
    entry[0] += 1
    _, loop, shape, size, split, order, model = entry
    outs = [np.empty(shape, dtype=dtype, order=order) for dtype in loop.dtypes[ufunc.nin:]]
    loop_call = _loop_call(loop, args, outs, order, stacklevel=4)
    t0 = time.perf_counter()
    _core.parallel_for_native(loop_call.kernel, loop_call.ctx, 0, size,
                              max(split.grain, SIMD_BLOCK), max(split.max_chunk, SIMD_BLOCK),
                              SIMD_BLOCK)
    model.note_parallel(size, time.perf_counter() - t0)
    if not model.judged(size):
        _hot.pop(signature, None)  # lost here: the measured path runs it inline a while
    return _native_result(ufunc, loop_call, outs, False, args, {}, stacklevel=4)


def _native_result(ufunc: np.ufunc, loop_call: _loops.LoopCall, outs: list[np.ndarray],
                   outs_given: bool, args: tuple[Any, ...], kwargs: dict[str, Any],
                   stacklevel: int) -> Any:
    """The call's result, its floating-point errors replayed (stacklevel:
    the user's frame, counted from the caller of this function as 1)."""
    if loop_call.failed:
        # Float and complex loops report errors through FPU flags only; were
        # one to fail, NumPy's own call says why, unless the outputs (which
        # may be inputs too) were the caller's and are now partly written.
        if outs_given:
            raise RuntimeError(f"NumPy's {ufunc.__name__} loop failed in a chunk; "
                               f"the out= arrays are partly written")
        return ufunc(*args, **kwargs)
    if loop_call.fp_status:
        replay(loop_call.fp_status, ufunc.__name__, stacklevel=stacklevel)
    return outs[0] if len(outs) == 1 else tuple(outs)


def call(wrapper: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A ufunc call big enough that the pool might pay (ParallelUfunc has
    checked the arguments are arrays and scalars and computed the size)."""
    ufunc: np.ufunc = wrapper.ufunc
    signature = None
    if not kwargs and len(args) == ufunc.nin:
        signature = _hot_signature(ufunc, args)
        result = _hot_call(ufunc, signature, args)
        if result is not NotImplemented:
            return result
    plan = _plan(ufunc, args, kwargs)
    if plan is None:
        return ufunc(*args, **kwargs)
    inputs, outs, where, options, shape, resolved = plan
    if where is not None and "out" not in kwargs and len(args) == ufunc.nin:
        # NumPy's own words, before it computes anything (runtime allocates
        # the outputs and hands them to NumPy, which then would not warn).
        warnings.warn(WHERE_WITHOUT_OUT, UserWarning, stacklevel=2)
    size = math.prod(shape)
    first = next(a for a in inputs if isinstance(a, np.ndarray))
    key = _schedule.cost_key(ufunc, *map(_dtype_char, inputs),
                             *(o.dtype.char if o is not None else None for o in outs),
                             where is not None, *options.items())
    native = _native_loop(ufunc, inputs, outs, shape) if where is None and not options else None
    call_s = NATIVE_CALL_S if native else PYTHON_CALL_S
    if _core.configured_threads() == 1 or _schedule.runs_inline(key, size, native=bool(native),
                                                                call_s=call_s):
        # From now on ParallelUfunc sends calls of this size (at least) to
        # NumPy by itself.
        wrapper._learn(first.dtype.num, max(
            _schedule.inline_elements(key, native=bool(native), call_s=call_s), size + 1))
        return ufunc(*args, **kwargs)

    if native is not None and _schedule.inline_for_now(key, size):
        # NumPy's own call, timed: the measured path would add ~50 us to a
        # 1e5-element exp (65 us) to run the same loop inline.  The rest of
        # a lost stretch goes to NumPy from ParallelUfunc itself, which
        # would otherwise bring each call here (~30 us) to run inline.
        t0 = time.perf_counter()
        result = ufunc(*args, **kwargs)
        _schedule.costs.record(key, size, time.perf_counter() - t0)
        if not kwargs:
            wrapper._send_to_numpy_for(first.dtype.num, size + 1,
                                       _schedule.take_lost_stretch(key, size))
        return result

    if native is not None:
        outs_given = any(o is not None for o in outs)
        loop, order = native
        outs = [o if o is not None else np.empty(shape, dtype=dtype, order=order)
                for o, dtype in zip(outs, loop.dtypes[ufunc.nin:])]
        loop_call = _loop_call(loop, inputs, outs, order, stacklevel=3)
        kernel, ctx = loop_call.kernel, loop_call.ctx
        _schedule.run(lambda start, stop: _core.call_native(kernel, ctx, start, stop), size,
                      key=key, native=(kernel, ctx), limit_blas=False, call_s=call_s,
                      align=SIMD_BLOCK)  # split points at NumPy's SIMD block starts
        _learn_once(wrapper, first, key, native=True, size=size)
        if signature is not None:
            split = _schedule.planned_split(key, size, native=True, call_s=call_s)
            model = _schedule.costs.get(key)
            # Hot calls are judged against this size's serial time, so only
            # once there is one (the measured path makes it) and parallel
            # has not lost here lately.
            if isinstance(split, _schedule.Split) and model is not None and model.judged(size):
                if len(_hot) >= HOT_CACHE:
                    _hot.clear()
                _hot[signature] = [0, loop, shape, size, split, order, model]
        return _native_result(ufunc, loop_call, outs, outs_given, args, kwargs, stacklevel=3)

    if resolved is None:
        resolved = _resolved_loop(ufunc, inputs, outs, options, force=True)
    if not isinstance(resolved, tuple) or any(d.kind not in NUMERIC_KINDS for d in resolved):
        return ufunc(*args, **kwargs)  # an object loop (dtype= or signature=), or NumPy's error
    if where is not None and any(isinstance(a, np.ndarray) and a.dtype != dtype
                                 for a, dtype in zip(inputs + outs, resolved)):
        # Copies of NumPy 2.4's iterator that buffer a cast under a where=
        # mask share its masked-transfer data: chunks walking two copies at
        # once crashed (a segmentation fault in NumPy's masked cast).
        return ufunc(*args, **kwargs)
    typed = typed_scalars(inputs, resolved, stacklevel=2)
    if typed is None:
        return ufunc(*args, **kwargs)
    with recorded_fp_errors(ufunc.__name__, stacklevel=2):
        outs = iterate_as_numpy(ufunc, typed, outs, where, options, resolved, key, call_s)
    _learn_once(wrapper, first, key, native=False, size=size)
    return outs[0] if len(outs) == 1 else tuple(outs)


# What NumPy's ufunc machinery asks of its iterator (numpy/_core/src/umath/
# ufunc_object.c: execute_ufunc_loop, and the default operand flags), plus
# "ranged", which lets each chunk take a range of the same iteration.
_ITER_FLAGS = ["external_loop", "refs_ok", "zerosize_ok", "buffered", "growinner",
               "delay_bufalloc", "copy_if_overlap", "ranged"]
_IN_FLAGS = ["readonly", "aligned", "overlap_assume_elementwise"]
_OUT_FLAGS = ["aligned", "allocate", "no_broadcast", "no_subtype", "overlap_assume_elementwise"]


def iterate_as_numpy(ufunc: np.ufunc, inputs: list[Any], outs: list[Any], where: Any,
                     options: dict[str, Any], dtypes: tuple[np.dtype, ...], key: Any,
                     call_s: float) -> list[np.ndarray]:
    """The call as NumPy makes it, in chunks: NumPy's own iterator, built as
    NumPy's ufunc machinery builds it (same flags, operand dtypes, order and
    buffer size), so it makes NumPy's choices: axis order, coalescing, which
    operands it buffers, output layout (it allocates the outputs).  Each
    chunk walks a range of that iteration and runs NumPy's loop on each of
    its inner-loop views (1-D arrays: NumPy's trivial path hands the loop
    exactly their strides).  So every element goes through the loop NumPy
    picks for the whole call, with the same strides and contiguity (SIMD or
    scalar path).  (Box views of the operands let NumPy re-plan each piece:
    a box that no longer coalesces is buffered, a one-element box goes down
    the trivial path, and float32 arctan came out 1 ULP off.)"""
    walk = _Iteration(ufunc, inputs, outs, where, options, dtypes)
    size = walk.size
    if walk.buffers():
        # NumPy buffers this call (a broadcast operand that does not coalesce,
        # a cast): its inner loops are buffers of at most np.getbufsize()
        # elements, each of which a walk from Python would have to copy while
        # holding the GIL, and it ran slower than NumPy's whole call (0.7x on
        # add(2000x2000, row), where cutting the operands into boxes gave
        # 1.9x but not NumPy's bits).  So NumPy's own call, whole.
        walk.whole()
        return walk.results
    first, buffered, views = walk.loop_at(0)
    if not buffered and first == size:
        # One unbuffered inner loop over everything (a strided or reversed
        # 1-D walk, a transposed array...): its views are whole 1-D views of
        # the operands; chunks are slices of them at SIMD_BLOCK multiples,
        # on which NumPy's loop runs with the same strides (and releases the
        # GIL: no Python iteration is involved).
        whole = views

        def slices(start: int, stop: int) -> None:
            begin, end = start * SIMD_BLOCK, min(stop * SIMD_BLOCK, size)
            walk.compute([view[begin:end] for view in whole])

        _schedule.run(slices, -(-size // SIMD_BLOCK), key=key, limit_blas=False,
                      call_s=call_s, row_elements=SIMD_BLOCK)
        return walk.results
    del views  # (the probe goes: its buffers, computed, are written back)
    layout = walk.inner_loops(first, buffered)
    if layout is None:
        # NumPy's inner loops could not be told apart: the rest of the
        # iteration in one piece (NumPy's own call, made here).
        walk.run(0, size)
        return walk.results
    index, units, unit_elements = layout
    _schedule.run(lambda start, stop: walk.run(index(start), index(stop)), units, key=key,
                  limit_blas=False, call_s=call_s, row_elements=unit_elements)
    return walk.results


class _Iteration:
    """NumPy's iterator for one ufunc call, walked in ranges."""

    def __init__(self, ufunc: np.ufunc, inputs: list[Any], outs: list[Any], where: Any,
                 options: dict[str, Any], dtypes: tuple[np.dtype, ...]) -> None:
        self.ufunc = ufunc
        self.nin, self.nout = ufunc.nin, ufunc.nout
        self.masked = where is not None
        out_flags = _OUT_FLAGS + (["readwrite", "writemasked"] if self.masked
                                  else ["writeonly"])
        operands = list(inputs) + list(outs) + ([where] if self.masked else [])
        self.operands = operands
        self.order = options.get("order", "K") or "K"
        # For NumPy's whole call: the caller's options but the order (its
        # outputs are given now) and dtype= (named by signature=).
        self.whole_options = {k: v for k, v in options.items() if k not in ("order", "dtype")}
        if "dtype" in options:
            self.whole_options["signature"] = dtypes
        op_flags = [_IN_FLAGS] * self.nin + [out_flags] * self.nout + (
            [["readonly", "arraymask"]] if self.masked else [])
        self.iterator = np.nditer(
            operands, _ITER_FLAGS, op_flags,
            op_dtypes=list(dtypes) + ([np.dtype(bool)] if self.masked else []),
            order=self.order, casting="unsafe", buffersize=np.getbufsize())
        self.size = self.iterator.itersize
        self.results = list(self.iterator.operands[self.nin:self.nin + self.nout])
        # The views have the loop's dtypes: naming them pins NumPy's loop.
        self.options = {"signature": dtypes} if "dtype" in options or "signature" in options \
            else {}
        # Loops computed while probing (begin -> end): not to be done twice
        # (an output may be an input: out=x).
        self.computed: dict[int, int] = {}

    def buffers(self) -> bool:
        """NumPy's iteration of this call uses buffers: read off a twin of the
        iterator whose outputs are read-write (a copy of an iterator writes
        its buffers back when it goes: write-only ones would write garbage;
        read-write ones write back what they read).  Its casts of whatever
        the outputs hold are no errors of the call; a complex output read
        into a real loop dtype would warn ComplexWarning: taken as buffered."""
        nin, nout = self.nin, self.nout
        operands = self.iterator.operands
        dtypes = self.iterator.dtypes
        if any(o.dtype.kind == "c" and d.kind != "c"
               for o, d in zip(operands[nin:nin + nout], dtypes[nin:nin + nout])):
            return True
        op_flags = [_IN_FLAGS] * nin + [[f for f in _OUT_FLAGS if f != "allocate"]
                                        + ["readwrite"] + (["writemasked"] if self.masked
                                                           else [])] * nout
        if self.masked:
            op_flags.append(["readonly", "arraymask"])
        with np.errstate(all="ignore"):
            twin = np.nditer(operands, _ITER_FLAGS, op_flags, op_dtypes=dtypes,
                             order=self.order, casting="unsafe", buffersize=np.getbufsize())
            twin.reset()
            return not all(np.may_share_memory(view, operand)
                           for view, operand in zip(twin.value, twin.operands))

    def whole(self) -> None:
        """NumPy's own call, whole, on the iterator's operands (the outputs it
        allocated: NumPy's layout; the inputs with their scalars converted)."""
        nin = self.nin
        operands = self.operands
        if self.masked:
            self.ufunc(*operands[:nin], out=tuple(self.results), where=operands[-1],
                       **self.whole_options)
        else:
            self.ufunc(*operands[:nin], out=tuple(self.results), **self.whole_options)

    def compute(self, views: Sequence[np.ndarray]) -> None:
        """NumPy's loop on one set of inner-loop views."""
        nin, nout = self.nin, self.nout
        if self.masked:
            self.ufunc(*views[:nin], out=tuple(views[nin:nin + nout]), where=views[-1],
                       **self.options)
        else:
            self.ufunc(*views[:nin], out=tuple(views[nin:]), **self.options)

    def loop_at(self, position: int) -> tuple[int, bool, tuple[np.ndarray, ...]]:
        """(length, buffered, views) of the inner loop NumPy's iteration makes
        from iteration index `position`: the first views of a copy ranged
        from there.  A copy writes its buffers back when it goes, so a
        buffered loop is computed here (and remembered as done)."""
        probe = self.iterator.copy()
        probe.iterrange = (position, self.size)
        probe.reset()
        views = probe.value
        buffered = not all(np.may_share_memory(view, operand)
                           for view, operand in zip(views, probe.operands))
        if buffered:
            self.compute(views)
            self.computed[position] = position + len(views[0])
        return len(views[0]), buffered, views

    def run(self, begin: int, end: int) -> None:
        """NumPy's loops over iteration indices [begin, end), but those
        computed while probing."""
        while begin < end:
            stop = min((b for b in self.computed if begin <= b < end), default=end)
            if begin < stop:
                part = self.iterator.copy()
                part.iterrange = (begin, stop)
                part.reset()
                for views in part:
                    self.compute(views)
            begin = self.computed[stop] if stop < end else end

    def inner_loops(self, first: int, buffered: bool
                    ) -> tuple[Callable[[int], int], int, int] | None:
        """How to cut NumPy's iteration into units that start where NumPy's
        own inner loops (or SIMD blocks inside long unbuffered ones) start:
        (index of unit u's first element, number of units, elements per
        unit), or None when the loops do not match a layout NumPy makes.

        NumPy's buffered iterator (numpy/_core/src/multiarray/nditer_constr.c,
        npyiter_find_buffering_setup) picks an outer axis d of its coalesced
        shape (fastest axis first): a core of c = shape[0] * ... *
        shape[d-1] elements, spans of s = c * shape[d].  Unbuffered, each
        inner loop is a core of the innermost axis (d = 0: c = 1, s =
        shape[0]); buffered, a span is cut into loops of as many whole cores
        as fit in a buffer, the last one shorter.  The candidate d is the
        one whose loops match NumPy's first loop (`first`, `buffered`),
        checked again at the end of the first span."""
        size = self.size
        shape = tuple(self.iterator.shape) or (size,)
        buffer_size = np.getbufsize()
        if not buffered:
            period = first
            if size % period or (period != shape[0] and period != size):
                return None
            per_period = -(-period // SIMD_BLOCK)

            def unbuffered(unit: int) -> int:
                whole, rest = divmod(unit, per_period)
                return whole * period + min(rest * SIMD_BLOCK, period)

            return unbuffered, size // period * per_period, min(SIMD_BLOCK, period)
        layouts = set()
        core = 1
        for axis in range(len(shape)):
            span = core * shape[axis]
            loop = span if span <= buffer_size else max(1, buffer_size // core) * core
            if loop == first and size % span == 0:
                layouts.add((loop, span))
            core = span
        if len(layouts) != 1:
            return None
        loop, span = layouts.pop()
        last = (span - 1) // loop * loop  # where the last loop of a span starts
        checks = [(last, span - last)] + ([(span, loop)] if span < size else [])
        for position, length in checks:
            if position and self.loop_at(position)[0] != length:
                return None
        per_span = -(-span // loop)

        def buffered_unit(unit: int) -> int:
            whole, rest = divmod(unit, per_span)
            return whole * span + min(rest * loop, span)

        return buffered_unit, size // span * per_span, loop


# NumPy's SIMD loops leave the last len % lanes elements of a call to scalar
# code, and some give other bits there (fmax/fmin: the sign of a zero).  So
# a chunk starts where one of NumPy's inner loops of the whole call starts,
# or inside a long unbuffered one at a multiple of SIMD_BLOCK elements from
# its start (a multiple of every vector length: 64 bytes of int8 ... 1024
# of complex128): each element is then in a SIMD block, or in the scalar
# tail, exactly where it is in NumPy's whole call.
SIMD_BLOCK = 64


# Native loops: inputs of these kinds only.  Float and complex loops report
# errors through the FPU flags alone; some integer loops (power with a
# negative exponent) raise Python exceptions from inside the loop, which a
# worker thread could not hand back, so integers take the Python path.
NATIVE_KINDS = frozenset("fc")
_native_loops: dict[Any, Any] = {}
NATIVE_LOOP_CACHE = 1024


def _flat_order(arrays: list[np.ndarray]) -> str | None:
    """"C" or "F" when every array is contiguous in that order (NumPy then
    runs one flat loop, and allocates its output in that order), else None."""
    if all(a.flags.c_contiguous for a in arrays):
        return "C"
    if all(a.flags.f_contiguous for a in arrays):
        return "F"
    return None


def _native_loop(ufunc: np.ufunc, inputs: list[Any], outs: list[Any], shape: tuple[int, ...]
                 ) -> tuple[Any, str] | None:
    """NumPy's strided loop for the flat call and the flat order, when every
    array has the call's shape (or is 0-d), all are contiguous in one order
    and none needs a cast; None otherwise."""
    signature: list[Any] = []
    full: list[np.ndarray] = []
    for a in inputs:
        if isinstance(a, np.ndarray):
            if a.dtype.kind not in NATIVE_KINDS or (a.ndim and a.shape != shape):
                return None
            if a.ndim:
                full.append(a)
            signature.append((a.dtype, a.ndim == 0))
        elif isinstance(a, np.generic):
            signature.append((a.dtype, True))
        else:
            signature.append((type(a), True))
    for o in outs:
        if o is not None:
            full.append(o)
        signature.append((o.dtype if o is not None else None, False))
    order = _flat_order(full)
    if order is None:
        return None
    key = (ufunc, *signature)
    loop = _native_loops.get(key, False)
    if loop is False:
        loop = _find_loop(ufunc, signature)
        if len(_native_loops) >= NATIVE_LOOP_CACHE:
            _native_loops.clear()
        _native_loops[key] = loop
    return None if loop is None else (loop, order)


def _loop_call(loop: Any, inputs: Sequence[Any], outs: list[np.ndarray], order: str,
               stacklevel: int) -> _loops.LoopCall:
    """A LoopCall over flat views (in `order`) of full arrays; 0-d arrays
    as they are; scalars converted to the loop's dtype, as NumPy does (a
    Python float beyond float32's range warns "overflow encountered in
    cast" at the caller's line, as NumPy's)."""
    operands: list[Any] = []
    for a, dtype in zip(inputs, loop.dtypes):
        if type(a) is np.ndarray:
            operands.append(a.reshape(-1, order=order) if a.ndim else a)
        elif isinstance(a, np.generic) and a.dtype == dtype:
            operands.append(np.asarray(a))
        else:
            with recorded_fp_errors("cast", stacklevel=stacklevel):
                operands.append(np.asarray(a, dtype=dtype))
    operands += [o.reshape(-1, order=order) for o in outs]
    return _loops.LoopCall(loop, operands)


def _find_loop(ufunc: np.ufunc, signature: list[Any]) -> Any:
    """The StridedLoop for (dtype or scalar type, is_scalar) operands, or None."""
    try:
        resolved = ufunc.resolve_dtypes(tuple(d for d, _ in signature))
    except (TypeError, ValueError):
        return None
    for (given, _), dtype in zip(signature, resolved):
        if isinstance(given, np.dtype) and given != dtype:
            return None  # NumPy would cast this operand: the Python path
    strides = tuple(0 if scalar else dtype.itemsize
                    for (_, scalar), dtype in zip(signature, resolved))
    return _loops.strided_loop(ufunc, tuple(resolved), strides)


def _plan(ufunc: np.ufunc, args: tuple[Any, ...], kwargs: dict[str, Any]
          ) -> tuple[list[Any], list[Any], Any, dict[str, Any], tuple[int, ...]] | None:
    """(inputs, outputs or None each, where mask or None, other keywords,
    shape) of a call runtime can split; None to leave it to NumPy."""
    nin, nout = ufunc.nin, ufunc.nout
    if ufunc.signature is not None or len(args) < nin or len(args) > nin + nout:
        return None
    if not UFUNC_KEYWORDS.issuperset(kwargs):
        return None
    inputs = list(args[:nin])
    out: Any = kwargs.get("out")
    if len(args) > nin:
        if "out" in kwargs:
            return None
        out = args[nin:]
    if out is None:
        outs: list[Any] = [None] * nout
    elif isinstance(out, tuple):
        outs = list(out)
        if len(outs) != nout:
            return None
    elif nout == 1:
        outs = [out]
    else:
        return None
    where = kwargs.get("where", True)
    if where is True:
        where = None
    elif not (type(where) is np.ndarray and where.dtype == np.bool_):
        return None
    for a in inputs:
        if isinstance(a, np.ndarray):
            if a.dtype.kind not in NUMERIC_KINDS:
                return None
        elif not isinstance(a, SCALAR_TYPES) or np.asarray(a).dtype.kind not in NUMERIC_KINDS:
            return None
    for o in outs:
        if o is not None and (type(o) is not np.ndarray or o.dtype.kind not in NUMERIC_KINDS
                              or not o.flags.writeable):
            return None
    arrays = [a for a in inputs + outs + [where] if isinstance(a, np.ndarray)]
    shape = arrays[0].shape
    if any(a.shape != shape for a in arrays):
        try:
            shape = np.broadcast_shapes(*(a.shape for a in arrays))
        except ValueError:
            return None
    if math.prod(shape) <= 1 or any(o is not None and o.shape != shape for o in outs):
        return None
    given = [o for o in outs if o is not None]
    if given and not overlap_is_safe(given, inputs + ([where] if where is not None else [])):
        return None
    options = {k: v for k, v in kwargs.items() if k not in ("out", "where")}
    loop = _resolved_loop(ufunc, inputs, outs, options)
    if loop is False or _casts_report_errors(ufunc, inputs, outs, where, loop):
        return None
    return inputs, outs, where, options, shape, loop


def _resolved_loop(ufunc: np.ufunc, inputs: list[Any], outs: list[Any],
                   options: dict[str, Any], force: bool = False
                   ) -> tuple[np.dtype, ...] | None | bool:
    """The operand dtypes of NumPy's loop for this call; None (unless
    `force`) when every operand is an array of one dtype and NumPy allocates
    the outputs (no cast, no scalar to convert: not worth asking NumPy yet);
    False when NumPy would refuse the call (it then raises its own error)."""
    dtypes = [a.dtype if isinstance(a, (np.ndarray, np.generic)) else None for a in inputs]
    given_outs = [o.dtype if o is not None else None for o in outs]
    known = [d for d in dtypes + given_outs if d is not None]
    if not force and "dtype" not in options and "signature" not in options \
            and all(d == known[0] for d in known) and all(d is not None for d in dtypes) \
            and all(o is None for o in outs):
        # (Not "None not in dtypes": a float64 dtype compares equal to None.)
        return None
    signature = options.get("signature")
    if "dtype" in options:
        if signature is not None:
            return False  # NumPy's error
        signature = (None,) * ufunc.nin + (options["dtype"],) * ufunc.nout
    resolve_options = {"casting": options.get("casting", "same_kind")}
    if signature is not None:
        resolve_options["signature"] = signature
    try:
        return tuple(ufunc.resolve_dtypes(
            tuple(d if d is not None else type(a) for d, a in zip(dtypes, inputs))
            + tuple(given_outs), **resolve_options))
    except (TypeError, ValueError):
        return False  # let NumPy raise its own error


def cast_is_quiet(source: np.dtype, target: np.dtype) -> bool:
    """A cast that can raise no floating-point flag and no ComplexWarning:
    a safe cast, one between integers (which wraps silently), or one to bool
    (nonzero: complex values too, without a warning)."""
    return source == target or np.can_cast(source, target, "safe") or (
        source.kind in "biu" and target.kind in "biu") or target.kind == "b"


def _casts_report_errors(ufunc: np.ufunc, inputs: list[Any], outs: list[Any], where: Any,
                         loop: tuple[np.dtype, ...] | None) -> bool:
    """NumPy reports errors of its array casts apart from its loop's, under
    a name that depends on the size ("overflow encountered in cast" where
    it copies a small input before the loop, "... in add" where it casts in
    its buffers), and a ComplexWarning once per call for complex values
    cast to real.  Chunks are small and every chunk would warn again, so
    calls with such casts are left to NumPy.  (Python scalars are converted
    once, in the caller: typed_scalars.)"""
    if loop is None:
        return False  # one dtype throughout: no cast at all
    nin = ufunc.nin
    for a, used in zip(inputs, loop[:nin]):
        if isinstance(a, (np.ndarray, np.generic)) and not cast_is_quiet(a.dtype, used):
            return True
    for out, used in zip(outs, loop[nin:]):
        if out is not None and (not cast_is_quiet(used, out.dtype)
                                or (where is not None and not cast_is_quiet(out.dtype, used))):
            return True
    return False


def typed_scalars(inputs: list[Any], loop: tuple[np.dtype, ...] | None,
                  stacklevel: int) -> list[Any] | None:
    """The inputs with each Python scalar converted to its operand's dtype,
    once, as NumPy converts them before its loop ("overflow encountered in
    cast" at the caller's line for 1e300 into float32, once per scalar);
    chunks would each convert and report it again, under their ufunc's
    name.  None when a conversion fails: NumPy's call raises its own error
    (a Python integer out of bounds for int8)."""
    if loop is None:
        return inputs
    typed = []
    for a, dtype in zip(inputs, loop):
        if type(a) in (int, float, complex):
            try:
                with recorded_fp_errors("cast", stacklevel=stacklevel + 1):
                    a = np.asarray(a, dtype=dtype)
            except (OverflowError, ValueError, TypeError):
                return None
        typed.append(a)
    return typed


def outer(wrapper: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """ufunc.outer(a, b): NumPy computes it as the call on a reshaped to
    a.shape + (1,) * b.ndim against b, so the parallel call gives its bits."""
    ufunc: np.ufunc = wrapper.ufunc
    if ufunc.nin != 2 or ufunc.signature is not None or len(args) != 2 \
            or not all(type(a) is np.ndarray for a in args):
        return ufunc.outer(*args, **kwargs)
    a, b = args
    return wrapper(a.reshape(a.shape + (1,) * b.ndim), b, **kwargs)
