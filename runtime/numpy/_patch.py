"""Transparent mode: NumPy's own ufunc loops, split over the pool.

``runtime.numpy.patch()`` rewrites the inner-loop tables of NumPy's ufuncs
(every numeric type signature of every elementwise ufunc in ``numpy``) so
that each entry points to a trampoline of runtime.numpy._patched_loops,
which calls NumPy's loop whole for small calls and on sub-ranges from the
pool for big ones.  Everything that reaches those loops is then parallel:
operators (``a * b + c``), array methods (``x.sum()``, ``x.max(axis=0)``),
and libraries that import NumPy themselves.  ``restore()`` writes NumPy's
loops back.

Patching is reference-counted, as mkl_umath's is: each ``patch()`` needs
one ``restore()``, ``patched()`` is one of each, and the tables change only
on the first patch and the last restore.  A lock serialises patch and
restore.  Other threads may run NumPy meanwhile: each table entry changes
with one atomic pointer store, so a call uses either NumPy's loop or the
trampoline, both correct; a call that took the trampoline before a restore
still runs NumPy's loop whole.

What splits (see _patched_loops.h): elementwise calls whose outputs do not
partly overlap their inputs, and binary reductions of associative ufuncs
(add, multiply, maximum, ...) in fixed leaves, with NumPy's own loop
redoing any reduction whose float result is not finite.  What never
splits: object, string, datetime loops (not patched), generalized ufuncs
(not patched), calls below ``MIN_ELEMENTS`` elements, calls made inside a
chunk of the pool, accumulate and reduceat (their output feeds their next
input), and the casting or buffered paths, where NumPy hands the loop 8192
elements at a time (below the floor: those stay serial).
"""

from __future__ import annotations

import atexit
import os
import threading
from contextlib import contextmanager
from typing import Iterator

import numpy

from .. import _config, _core, _schedule
from . import _patched_loops, _reductions, _ufunc

# Loop type characters of the numeric dtypes (bool, integers, floats,
# complex): the loops that need no Python and no GIL.
NUMERIC_TYPES = frozenset("?bBhHiIlLqQefdgFDG")
REAL_TYPES = frozenset("efdg")
COMPLEX_TYPES = frozenset("FDG")
# Ufuncs whose binary reduction may be regrouped into leaves (associative;
# for floats, within rounding, as runtime.numpy's reductions).
ASSOCIATIVE = frozenset({"add", "multiply", "maximum", "minimum", "fmax", "fmin",
                         "logical_and", "logical_or", "logical_xor", "bitwise_and",
                         "bitwise_or", "bitwise_xor"})
# Calls below this many elements run NumPy's loop at once (one compare in
# the trampoline): even a perfect split would save less than the pool's
# dispatch.  runtime.numpy's ufuncs use the same floor.
MIN_ELEMENTS = _ufunc.SMALL_SIZE

_lock = threading.RLock()
_count = 0  # patch() calls not yet restored
# (ufunc, loop index, trampoline slot): every loop patch() replaces.  Built
# once; a loop keeps its slot for the life of the process (a trampoline
# taken before a restore must keep calling the same loop).
_loops: list[tuple[numpy.ufunc, int, int]] | None = None


def _numpy_ufuncs() -> list[numpy.ufunc]:
    """NumPy's elementwise ufuncs, each once (aliases share the object)."""
    found: dict[int, numpy.ufunc] = {}
    for name, value in vars(numpy).items():
        if isinstance(value, numpy.ufunc) and value.signature is None \
                and not name.startswith("_"):
            found.setdefault(id(value), value)
    return sorted(found.values(), key=lambda ufunc: ufunc.__name__)


def _numeric_loops() -> list[tuple[numpy.ufunc, int, int]]:
    """(ufunc, loop index, slot) of every loop patch() replaces, built once:
    a loop keeps its slot for the life of the process."""
    global _loops
    if _loops is None:
        loops = []
        for ufunc in _numpy_ufuncs():
            if ufunc.nargs > _patched_loops.MAX_OPERANDS:
                continue
            for index, signature in enumerate(ufunc.types):
                if set(signature.replace("->", "")) <= NUMERIC_TYPES:
                    loops.append((ufunc, index, len(loops)))
        if len(loops) > _patched_loops.SLOTS:
            raise RuntimeError(f"runtime.numpy.patch: NumPy {numpy.__version__} has "
                               f"{len(loops)} numeric loops, more than the "
                               f"{_patched_loops.SLOTS} trampolines built")
        _loops = loops
    return _loops


def _install_all() -> int:
    """Point every numeric loop at its trampoline; returns how many changed."""
    changed = 0
    for ufunc, index, slot in _numeric_loops():
        chars = ufunc.types[index].replace("->", "")
        result = chars[-1]
        reducible = (ufunc.__name__ in ASSOCIATIVE and ufunc.nin == 2 and ufunc.nout == 1
                     and len(set(chars)) == 1)
        kind = (_patched_loops.RESULT_REAL if result in REAL_TYPES else
                _patched_loops.RESULT_COMPLEX if result in COMPLEX_TYPES else
                _patched_loops.RESULT_EXACT)
        itemsizes = tuple(numpy.dtype(char).itemsize for char in chars)
        changed += _patched_loops.install(ufunc, index, slot, reducible, kind, itemsizes)
    return changed


def _uninstall_all() -> None:
    for ufunc, index, slot in _loops or ():
        _patched_loops.uninstall(ufunc, index, slot)


def _configure() -> None:
    """Give the trampolines the cost model's numbers for the current thread
    count (runtime._schedule: the native inline cutoff and chunk time)."""
    threads = _config.num_threads()
    if threads > 1:
        measured = _schedule.overheads()
        cutoff = _schedule.inline_cutoff(threads, measured.native_chunk_s,
                                         measured.native_dispatch_s)
        chunk = max(_schedule.CHUNK_COST_RATIO * measured.native_chunk_s,
                    _schedule.HANDOFFS_PER_CHUNK * measured.native_dispatch_s)
        _core.start_for_nogil_callers()
    else:
        cutoff, chunk = float("inf"), 0.0
    forced = _schedule._forced_grain or 0
    _patched_loops.configure(
        enabled=True, threads=threads,
        min_elements=2 if forced else MIN_ELEMENTS,
        cutoff_s=min(cutoff, 1e6), chunk_s=chunk,
        min_leaves=_schedule.MIN_LEAVES_PER_THREAD, max_leaves=_schedule.LEAVES_PER_THREAD,
        leaf_elements=_reductions.LEAF_ELEMENTS, forced_grain=forced,
        lost_margin=_schedule.LOST_MARGIN, judged_runs=_schedule.JUDGED_RUNS,
        retry_after=_schedule.RETRY_PARALLEL_AFTER, max_stretch=_schedule.MAX_INLINE_STRETCH,
        reference_every=_schedule.SERIAL_REFERENCE_EVERY,
        reference_max_s=_schedule.SERIAL_REFERENCE_MAX_S)


def _reconfigure() -> None:
    """The thread count or the forced split changed: new numbers, and the
    costs measured with the old thread count go."""
    with _lock:
        _patched_loops.forget_costs()
        if _count > 0:
            _configure()


def patch() -> None:
    """Make NumPy's own ufunc loops split big calls over runtime's pool, in
    this whole process: plain ``numpy`` code, operators, array methods and
    libraries that use NumPy.  Undo with :func:`restore` (patches count:
    each ``patch()`` needs one ``restore()``).  Results are NumPy's bits for
    elementwise calls; split reductions (``x.sum()``) add in fixed leaves,
    as runtime.numpy's reductions do.

    >>> import numpy, runtime.numpy
    >>> a = numpy.linspace(0.0, 1.0, 1_000_000)
    >>> expected = numpy.exp(a) * a
    >>> runtime.numpy.patch()
    >>> runtime.numpy.is_patched()
    True
    >>> bool((numpy.exp(a) * a == expected).all())
    True
    >>> runtime.numpy.restore()
    >>> runtime.numpy.is_patched()
    False
    """
    global _count
    with _lock:
        if _count == 0:
            _configure()
            _install_all()
        _count += 1


def restore() -> None:
    """Undo one :func:`patch`; after the last one NumPy's own loops are back
    in its tables.  Without a patch in force, does nothing.

    >>> import runtime.numpy
    >>> runtime.numpy.patch(); runtime.numpy.patch()
    >>> runtime.numpy.restore(); runtime.numpy.is_patched()
    True
    >>> runtime.numpy.restore(); runtime.numpy.is_patched()
    False
    """
    global _count
    with _lock:
        if _count == 0:
            return
        _count -= 1
        if _count == 0:
            # Trampolines already taken by running calls run NumPy's loop
            # whole from now on; then the tables get NumPy's loops back.
            _patched_loops.set_enabled(False)
            _uninstall_all()


def is_patched() -> bool:
    """Whether NumPy's ufunc loops are runtime's now (see :func:`patch`).

    >>> import runtime.numpy
    >>> runtime.numpy.is_patched()
    False
    """
    return _count > 0


@contextmanager
def patched() -> Iterator[None]:
    """NumPy's loops patched inside the block (:func:`patch` on entry,
    :func:`restore` on exit); blocks nest.

    >>> import numpy, runtime.numpy
    >>> x = numpy.arange(1_000_000, dtype=numpy.int64)
    >>> with runtime.numpy.patched():
    ...     total = int(x.sum())
    >>> total == 999_999 * 1_000_000 // 2, runtime.numpy.is_patched()
    (True, False)
    """
    patch()
    try:
        yield
    finally:
        restore()


def patched_loop_count() -> int:
    """How many of NumPy's loops are runtime's trampolines right now."""
    with _lock:
        return sum(_patched_loops.installed(ufunc, index, slot)
                   for ufunc, index, slot in _loops or ())


def loop_slot(ufunc: numpy.ufunc, signature: str) -> int:
    """The trampoline slot of `ufunc`'s loop for `signature` ("dd->d"), for
    the counters in _patched_loops (tests, benchmarks)."""
    with _lock:
        for candidate, index, slot in _numeric_loops():
            if candidate is ufunc and candidate.types[index] == signature:
                return slot
    raise ValueError(f"{ufunc.__name__} has no numeric loop {signature!r} "
                     f"(its loops: {', '.join(ufunc.types)})")


def _restore_all() -> None:
    """Interpreter exit: NumPy's loops back, whatever the count."""
    global _count
    with _lock:
        if _count:
            _count = 0
            _patched_loops.set_enabled(False)
            _uninstall_all()


def _after_fork_child() -> None:
    # A thread of the parent may have held the lock; it is gone in the child.
    # The tables stay patched; the child's pool starts on its first use.
    global _lock
    _lock = threading.RLock()


_config.thread_count_listeners.append(_reconfigure)
atexit.register(_restore_all)
os.register_at_fork(after_in_child=_after_fork_child)
