# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: freethreading_compatible = True
"""The inline decision, compiled: the entry points' first few hundred
nanoseconds.

A call small enough to run inline should cost what the function costs,
plus next to nothing: NumPy's whole exp of 1000 doubles takes about a
microsecond, and the measured path (argument splitting, the cost model,
the plan) takes several.  So every public entry point starts here.  For
each function (keyed by its code object, so a lambda re-created on every
call shares one entry) and argument signature (how many arrays, their
dtype) a Memo keeps

  * rate: the best seconds per element seen when it ran inline here;
  * upto: the largest element count the measured path decided to run
    inline (runtime/_schedule.py tells us, see note_*).

A call runs inline here, timed (the rate stays current), when its element
count is at most `upto`, or its predicted time (rate x elements) is below
the cutoff the pool's measured overheads give (set_cutoffs), or, on its
first sight, when it is at most FIRST_INLINE_ELEMENTS elements: where the
model cannot tell in time, it errs inline.  Everything else takes the
measured path, which may split the call; so does one call in REFRESH, so
that a function whose cost grew is seen again.  A forced split (tests),
a QoS level in the context, out=, grain= or a change of the thread count
turn this path off or reset it (forget).

Results are exactly what the measured path gives inline: the function's
own result (checked the same way), or, for reductions small enough to be
one leaf, func(*arrays).
"""
cimport numpy as cnp
from cpython.contextvars cimport get_value
from cpython.dict cimport PyDict_Copy, PyDict_Size
from cpython.object cimport PyObject, PyTypeObject, ternaryfunc
from libc.string cimport memcmp, memset
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

import sys
import types

import numpy as np

from . import _core

cnp.import_array()

cdef extern from "_freethreading.h":
    object rt_dict_get_or_none(dict table, object key)
    bint rt_ft_build()

cdef extern from "Python.h":
    ctypedef object (*PyCFunction)(object, object)
    ctypedef struct PyMethodDef:
        const char *ml_name
        PyCFunction ml_meth
        int ml_flags
        const char *ml_doc
    int METH_FASTCALL
    int METH_KEYWORDS
    object PyCFunction_NewEx(PyMethodDef *ml, object self, object module)
    object PyObject_Vectorcall(object callable, PyObject **args, size_t nargsf,
                               PyObject *kwnames)
    PyObject **PySequence_Fast_ITEMS(object sequence)
    PyObject *PyFunction_GetCode(object op)
    bint PyFunction_Check(object op)
    bint PyMethod_Check(object op)
    PyObject *PyMethod_GET_FUNCTION(object op)

cdef enum:
    MAX_ARGS = 4      # arrays per call the memo tells apart
    MAX_TYPES = 24    # NumPy's built-in type numbers (bool .. clongdouble, object, ...)
    REFRESH = 1024    # one fast call in this many takes the measured path
    TIME_EVERY = 8    # inline calls timed: one in this many (two clock reads cost ~40 ns)
    MAX_MEMOS = 4096  # entries per table before it is cleared (keys are code objects)

# Addresses the measured path accepts (it says what is wrong with others).
MAX_ADDRESS = 2**64 - 1

# Calls of at most this many elements, never seen before, run inline (and
# are measured): 2**16 doubles of exp take ~60 us, about where splitting
# starts to pay on two cores; below it no plan is worth its own cost.
FIRST_INLINE_ELEMENTS = 1 << 16
cdef Py_ssize_t _first_inline = FIRST_INLINE_ELEMENTS
# Reductions of at most this many elements are one leaf (runtime/_map.py
# MIN_LEAF_ELEMENTS): func(*arrays), whatever the thread count.
cdef Py_ssize_t _one_leaf = 0

# Predicted seconds below which a call runs inline: from the pool's measured
# overheads once known (set_cutoffs), a cautious default before.
cdef double _cutoff_python = 25e-6
cdef double _cutoff_native = 25e-6
cdef bint _enabled = True     # off while a forced split is on (tests)
cdef int _threads = 0         # configured threads; 0 until configured
cdef unsigned long _generation = 1

cdef object _ndarray = np.ndarray
cdef object _qos_level = _core.qos_level
cdef object _function = types.FunctionType

_slow = {}  # name -> the measured path of each entry point (set by the Python modules)


cdef inline double now_s() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <double>ts.tv_sec + <double>ts.tv_nsec * 1e-9


# On a free-threaded interpreter (3.13t) two threads may update one Memo,
# or these module settings, at once: each field is one aligned word read
# and written whole, and a lost update only sends a call down the measured
# path (or inline) once more, so they take no lock.
cdef class Memo:
    """What is known of one function's inline calls, per argument signature."""
    cdef double rate[MAX_ARGS][MAX_TYPES]
    cdef Py_ssize_t upto[MAX_ARGS][MAX_TYPES]
    # A stretch where parallel lost lately: the next stretch_left calls of
    # at most stretch_upto elements run inline (then the measured path
    # retries parallel).
    cdef Py_ssize_t stretch_upto[MAX_ARGS][MAX_TYPES]
    cdef Py_ssize_t stretch_left[MAX_ARGS][MAX_TYPES]
    cdef unsigned long generation
    cdef unsigned int calls

    def __cinit__(self):
        self.reset()

    cdef void reset(self):
        memset(self.rate, 0, sizeof(self.rate))
        memset(self.upto, 0, sizeof(self.upto))
        memset(self.stretch_upto, 0, sizeof(self.stretch_upto))
        memset(self.stretch_left, 0, sizeof(self.stretch_left))
        self.generation = _generation
        self.calls = 0

    cdef bint inline(self, int slot, int kind, Py_ssize_t elements, double cutoff):
        if self.generation != _generation:
            self.reset()
        if _threads == 1:
            return True
        self.calls += 1
        if self.calls % REFRESH == 0:
            return False
        if elements <= self.upto[slot][kind]:
            return True
        if self.stretch_left[slot][kind] > 0 and elements <= self.stretch_upto[slot][kind]:
            self.stretch_left[slot][kind] -= 1
            return True
        cdef double rate = self.rate[slot][kind]
        if rate == 0.0:
            return elements <= _first_inline
        return rate * elements < cutoff

    cdef inline bint sample(self):
        """Whether to time this inline call: the first few but the very
        first (a function's first run pays for cold caches and first-time
        setup, and would make it look slower than it is: 2000 elements
        then took the measured path), then one in TIME_EVERY."""
        return 1 < self.calls < TIME_EVERY or self.calls % TIME_EVERY == 0

    cdef void timed(self, int slot, int kind, Py_ssize_t elements, double seconds):
        cdef double rate = seconds / (elements if elements > 0 else 1)
        if self.rate[slot][kind] == 0.0 or rate < self.rate[slot][kind]:
            self.rate[slot][kind] = rate


cdef inline object memo_key(object func):
    """A function's code object (lambdas re-created per call share it; a
    bound method's, as ``obj.method`` is a new object at every access), or
    the object itself (ufuncs, builtins, callables)."""
    cdef object inner
    if PyFunction_Check(func):
        return <object>PyFunction_GetCode(func)
    if PyMethod_Check(func):
        # Hashing a bound method hashes its instance and function, and a
        # lookup compares both: ~60 ns of a ~150 ns overhead measured on
        # parallel_for(100, obj.body).
        inner = <object>PyMethod_GET_FUNCTION(func)
        if PyFunction_Check(inner):
            return <object>PyFunction_GetCode(inner)
    return func


cdef inline Memo find(dict table, object key):
    # None for a key that is missing or cannot be hashed (never memoised);
    # a reference of our own, as another thread may clear the table
    # (free-threaded builds, _freethreading.h).
    return <Memo>rt_dict_get_or_none(table, key)


cdef class MemoTable:
    """The memos of one entry point, by function (memo_key), with the last
    one found kept aside: a call in a loop skips the dict lookup (~170
    instructions of a ~1000-instruction overhead on a 100-element exp,
    measured with callgrind; a code object's hash is not cached, and
    hashing one is ~35 ns).  Not on a free-threaded build (3.13t), where
    another thread could replace the pair between our reads of it (and
    free the memo we read): there every call looks its function up
    (rt_ft_build() is a constant: the test folds)."""
    cdef dict memos
    cdef object last_key
    cdef Memo last_memo

    def __cinit__(self):
        self.memos = {}

    cdef inline Memo find(self, object key):
        if rt_ft_build():
            return find(self.memos, key)
        if key is self.last_key:
            return self.last_memo
        memo = find(self.memos, key)
        if memo is not None:
            self.last_key = key
            self.last_memo = memo
        return memo

    cdef Memo find_or_add(self, object key):
        memo = find(self.memos, key)
        if memo is None:
            # A new memo may replace one the table dropped (clear): forget
            # the last one found, which may be that one.
            if not rt_ft_build():
                self.last_key = None
                self.last_memo = None
            try:
                hash(key)
            except TypeError:
                return None
            if len(self.memos) >= MAX_MEMOS:
                self.memos.clear()
            memo = Memo()
            self.memos[key] = memo
        return memo


cdef MemoTable _map_memos = MemoTable()
cdef MemoTable _for_memos = MemoTable()
cdef MemoTable _native_memos = MemoTable()
cdef MemoTable _items_memos = MemoTable()


cdef bint _levels_used = False  # a QoS level was ever set in a context


def levels_used():
    """runtime.qos or runtime.submit set a level: look it up from now on
    (until then every context is at the default, and the lookup is skipped)."""
    global _levels_used
    _levels_used = True


cdef inline bint default_level():
    if not _levels_used:
        return True
    cdef object level = get_value(_qos_level, -1)
    return level is None or <int>level < 0


cdef int signature(tuple arrays, Py_ssize_t *elements, Py_ssize_t *rows):
    """The type number shared by 1..MAX_ARGS NumPy arrays of one shape
    (not empty, not 0-d), with their element count and rows; -1 when the
    call is anything else."""
    cdef Py_ssize_t n = len(arrays)
    if n < 1 or n > MAX_ARGS:
        return -1
    first = arrays[0]
    if type(first) is not _ndarray:
        return -1
    cdef cnp.ndarray a = <cnp.ndarray>first
    cdef int ndim = cnp.PyArray_NDIM(a)
    if ndim < 1 or cnp.PyArray_DIMS(a)[0] == 0:
        return -1
    cdef int kind = cnp.PyArray_TYPE(a)
    if kind < 0 or kind >= MAX_TYPES:
        return -1
    cdef cnp.ndarray b
    cdef Py_ssize_t i
    for i in range(1, n):
        other = arrays[i]
        if type(other) is not _ndarray:
            return -1
        b = <cnp.ndarray>other
        if cnp.PyArray_TYPE(b) != kind or cnp.PyArray_NDIM(b) != ndim or \
                memcmp(cnp.PyArray_DIMS(a), cnp.PyArray_DIMS(b), ndim * sizeof(cnp.npy_intp)) != 0:
            return -1
    elements[0] = cnp.PyArray_SIZE(a)
    rows[0] = cnp.PyArray_DIMS(a)[0]
    return kind


cdef inline int signature_of_one(object first, Py_ssize_t *elements, Py_ssize_t *rows):
    """signature() of one array, without the tuple."""
    if type(first) is not _ndarray:
        return -1
    cdef cnp.ndarray a = <cnp.ndarray>first
    if cnp.PyArray_NDIM(a) < 1 or cnp.PyArray_DIMS(a)[0] == 0:
        return -1
    cdef int kind = cnp.PyArray_TYPE(a)
    if kind < 0 or kind >= MAX_TYPES:
        return -1
    elements[0] = cnp.PyArray_SIZE(a)
    rows[0] = cnp.PyArray_DIMS(a)[0]
    return kind


cdef inline object checked_rows(object result, Py_ssize_t rows, str what):
    """The result of an inline map, as the measured path returns it: an
    array of `rows` rows as is; anything else checked (and converted or
    refused) by runtime._arrays.Outputs."""
    if type(result) is _ndarray and cnp.PyArray_NDIM(<cnp.ndarray>result) >= 1 and \
            cnp.PyArray_DIMS(<cnp.ndarray>result)[0] == rows:
        return result
    return _slow["inline_result"](result, rows, what)


# ---- configuration, from runtime/_schedule.py and runtime/_config.py -----

def set_cutoffs(double python_s, double native_s):
    """Predicted seconds below which Python / native calls run inline."""
    global _cutoff_python, _cutoff_native
    _cutoff_python = python_s
    _cutoff_native = native_s


def set_threads(int threads):
    """The configured thread count changed: forget what was learned."""
    global _threads
    _threads = threads
    forget()


def set_enabled(bint enabled):
    """Off while a forced split is on: every call takes the measured path."""
    global _enabled
    _enabled = enabled
    forget()


def set_one_leaf(Py_ssize_t elements):
    global _one_leaf
    _one_leaf = elements


def forget():
    """Drop every memo (lazily: each resets on its next use)."""
    global _generation
    _generation += 1


cdef void learn(Memo memo, int slot, int kind, Py_ssize_t elements, bint inline,
                Py_ssize_t stretch):
    if memo.generation != _generation:
        memo.reset()
    if inline:
        if elements > memo.upto[slot][kind]:
            memo.upto[slot][kind] = elements
    elif stretch > 0:
        memo.stretch_upto[slot][kind] = elements
        memo.stretch_left[slot][kind] = stretch


def note(str table, func, tuple arrays, Py_ssize_t elements, bint inline, Py_ssize_t stretch):
    """What the measured path decided for a call: to run it inline
    (`inline`: calls of this function and signature with at most
    `elements` elements may skip the measured path from now on), or to run
    the next `stretch` such calls inline (parallel lost there lately)."""
    if not inline and stretch <= 0:
        return
    cdef Py_ssize_t count = 0, rows = 0
    cdef int kind = 0
    cdef MemoTable memos
    if table == "map":
        memos = _map_memos
        kind = signature(arrays, &count, &rows)
        if kind < 0:
            return
        elements = count
    elif table == "for":
        memos = _for_memos
    elif table == "native":
        memos = _native_memos
    else:
        memos = _items_memos
    memo = memos.find_or_add(memo_key(func))
    if memo is None:
        return
    learn(memo, len(arrays) - 1 if table == "map" else 0, kind, elements, inline, stretch)


# ---- the entry points ------------------------------------------------------

# What the helpers below return for a call that does not run inline here.
cdef object NOT_INLINE = object()


cdef object run_inline(Memo memo, object func, PyObject **args, Py_ssize_t nargs, int kind,
                       Py_ssize_t elements, Py_ssize_t rows, str what):
    """func(*args) on the caller if memo says this call runs inline (timed
    now and then, see Memo.sample), its result checked as the measured
    path checks it; NOT_INLINE otherwise."""
    cdef int slot = nargs - 1
    cdef double t0
    if not memo.inline(slot, kind, elements, _cutoff_python):
        return NOT_INLINE
    if not memo.sample():
        return checked_rows(PyObject_Vectorcall(func, args, nargs, NULL), rows, what)
    t0 = now_s()
    result = PyObject_Vectorcall(func, args, nargs, NULL)
    memo.timed(slot, kind, elements, now_s() - t0)
    return checked_rows(result, rows, what)


cdef object map_inline(object func, PyObject **arrays, Py_ssize_t nargs, int kind,
                       Py_ssize_t elements, Py_ssize_t rows):
    """runtime.map's decision: func's memo says (run_inline), or, on a
    function's first sight, calls of at most FIRST_INLINE_ELEMENTS run
    inline (not timed: see Memo.sample).  NOT_INLINE otherwise."""
    cdef Memo memo = _map_memos.find(memo_key(func))
    if memo is not None:
        return run_inline(memo, func, arrays, nargs, kind, elements, rows, "runtime.map")
    if elements > _first_inline:
        return NOT_INLINE
    memo = _map_memos.find_or_add(memo_key(func))
    if memo is not None:
        memo.calls = 1  # its first call
    return checked_rows(PyObject_Vectorcall(func, arrays, nargs, NULL), rows, "runtime.map")


def map(func, *arrays, out=None, grain=None, qos=None):
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
    cdef Py_ssize_t elements = 0, rows = 0
    cdef int kind
    if out is None and grain is None and qos is None and _enabled \
            and callable(func):
        kind = signature(arrays, &elements, &rows)
        if kind >= 0 and default_level():
            result = map_inline(func, PySequence_Fast_ITEMS(arrays), len(arrays), kind,
                                elements, rows)
            if result is not NOT_INLINE:
                return result
    return _slow["map"](func, arrays, out, grain, qos)


cdef object map_fastcall(object module, PyObject **args, Py_ssize_t nargs,
                         PyObject *kwnames):
    """runtime.map itself (METH_FASTCALL | METH_KEYWORDS): the common call,
    map(func, array) with no keywords, is decided here on the arguments as
    they lie on the caller's stack, with no tuple of them built and no
    keywords parsed (~40 ns of ~80 on a 100-element exp); any other call
    goes to the general entry (the def map above: the same decision for
    every form, and its errors)."""
    cdef Py_ssize_t elements = 0, rows = 0
    cdef int kind
    if nargs == 2 and kwnames == NULL and _enabled:
        func = <object>args[0]
        kind = signature_of_one(<object>args[1], &elements, &rows)
        if kind >= 0 and callable(func) and default_level():
            result = map_inline(func, args + 1, 1, kind, elements, rows)
            if result is not NOT_INLINE:
                return result
    return PyObject_Vectorcall(_map_general, args, nargs, kwnames)


# runtime.map is map_fastcall as a builtin function of this module, the def
# above its general entry.  The text signature lets inspect.signature read
# the builtin's parameters; the docstring is the def's (kept alive here: the
# method definition points into it).
cdef object fastcall_builtin(PyMethodDef *definition, const char *name, void *entry,
                             bytes doc):
    """A builtin function of this module calling `entry` (METH_FASTCALL |
    METH_KEYWORDS); `definition` and `doc` must live as long as it does."""
    definition.ml_name = name
    definition.ml_meth = <PyCFunction>entry
    definition.ml_flags = METH_FASTCALL | METH_KEYWORDS
    definition.ml_doc = doc
    return PyCFunction_NewEx(definition, sys.modules[__name__], __name__)


cdef object _map_general = map
cdef bytes _map_doc = ("map($module, func, /, *arrays, out=None, grain=None, qos=None)\n--\n\n"
                       + _map_general.__doc__).encode()
cdef PyMethodDef _map_def
map = fastcall_builtin(&_map_def, b"map", <void *>map_fastcall, _map_doc)


def reduce(func, *arrays, combine, grain=None, qos=None):
    """``func`` on chunks of ``arrays`` along axis 0, partial results
    combined with ``combine`` in a fixed order.

    Chunk boundaries depend only on the input's shape and ``grain``, and
    partials are combined pairwise in chunk order, so the result is the
    same, bit for bit, on every run and with any number of threads (for
    floats it can differ from ``func(*arrays)`` in the last bits, as
    any other summation order would).  Inputs of at most 2**17 elements
    are one chunk: ``func(*arrays)`` itself.

    >>> import operator, numpy as np, runtime
    >>> x = np.arange(1_000_000, dtype=np.int64)
    >>> int(runtime.reduce(np.sum, x, combine=operator.add)) == int(x.sum())
    True
    """
    cdef Py_ssize_t elements = 0, rows = 0
    if grain is None and qos is None and _enabled and _one_leaf > 0 and callable(combine) \
            and callable(func) and signature(arrays, &elements, &rows) >= 0 \
            and elements <= _one_leaf:
        # One leaf, whatever the thread count: exactly what the measured
        # path runs (and no QoS matters to a call that never splits).
        return func(*arrays)
    return _slow["reduce"](func, arrays, combine, grain, qos)


def parallel_for(n, body, ctx=None, *, grain=None, qos=None):
    """Run ``body(start, stop)`` over ``range(n)`` split into chunks, on all
    cores; returns when every chunk has run.

    ``body`` is a Python callable taking (start, stop), or a native kernel
    ``void kernel(int64_t begin, int64_t end, void *ctx)``: a cffi function
    pointer, a ctypes function (argtypes set), a numba ``cfunc`` or an int
    address.  Native kernels run with no GIL; ``ctx`` (None, an address, a
    cffi or ctypes pointer, or a NumPy array) is passed to them as is.
    ``n`` is 0 to 2**63 - 1; an int kernel or ctx address 0 to 2**64 - 1.

    An int address cannot be checked: it is called as a kernel of that
    signature, so an address that is not one (``parallel_for(10, 0x1234)``)
    crashes the process (segmentation fault), as a bad pointer in C would.
    A cffi, ctypes or numba kernel is checked against the signature.
    Small jobs run inline on the caller; ``grain`` overrides that decision
    and sets the chunk size (``grain`` to ``2 * grain`` indices).  ``qos``
    runs the call at that QoS level (as ``runtime.qos``).

    Chunks run at the same time, in any order, on any thread: a body that
    writes rows other chunks read (in place, ``a[i] = a[i - 1] + a[i]``
    over its own ``[start, stop)``, or reading a neighbour's rows) races,
    and its result varies from run to run.  Unlike ``runtime.map``'s
    ``out=``, nothing here can see what the body touches, so nothing is
    copied: read from one array and write another.

    >>> import numpy as np, runtime
    >>> out = np.zeros(10)
    >>> def body(start, stop):
    ...     out[start:stop] = np.arange(start, stop) ** 2
    >>> runtime.parallel_for(10, body)
    >>> out.tolist()[-3:]
    [49.0, 64.0, 81.0]
    """
    if grain is None and qos is None and _enabled and for_inline(n, body, ctx) is not NOT_INLINE:
        return None
    return _slow["parallel_for"](n, body, ctx, grain, qos)


cdef object for_inline(object n, object body, object ctx):
    """parallel_for's decision for a call with no grain or qos: None, having
    run the body inline, or NOT_INLINE."""
    cdef Py_ssize_t count
    cdef Memo memo
    cdef double t0
    if type(n) is not int:
        return NOT_INLINE
    count = n if 0 < n < (1 << 62) else -1
    if count > 0 and ctx is None and (PyFunction_Check(body) or PyMethod_Check(body)) \
            and default_level():
        memo = _for_memos.find(memo_key(body))
        if memo is not None and memo.inline(0, 0, count, _cutoff_python):
            if not memo.sample():
                body(0, count)
                return None
            t0 = now_s()
            body(0, count)
            memo.timed(0, 0, count, now_s() - t0)
            return None
    elif count > 0 and type(body) is int and 0 < body <= MAX_ADDRESS and (
            ctx is None or (type(ctx) is int and 0 <= ctx <= MAX_ADDRESS)) \
            and default_level():
        memo = _native_memos.find(body)
        if memo is not None and memo.inline(0, 0, count, _cutoff_native):
            if not memo.sample():
                _core.call_native(body, 0 if ctx is None else ctx, 0, count)
                return None
            t0 = now_s()
            _core.call_native(body, 0 if ctx is None else ctx, 0, count)
            memo.timed(0, 0, count, now_s() - t0)
            return None
    return NOT_INLINE


cdef object parallel_for_fastcall(object module, PyObject **args, Py_ssize_t nargs,
                                  PyObject *kwnames):
    """runtime.parallel_for itself (METH_FASTCALL | METH_KEYWORDS), as
    runtime.map: parallel_for(n, body) and parallel_for(n, kernel, ctx)
    with no keywords are decided on the caller's stack, with no tuple
    built and no keywords parsed (~35 ns of ~90 on an empty body); any
    other call goes to the general entry, the def above."""
    if kwnames == NULL and (nargs == 2 or nargs == 3) and _enabled:
        if for_inline(<object>args[0], <object>args[1],
                      <object>args[2] if nargs == 3 else None) is not NOT_INLINE:
            return None
    return PyObject_Vectorcall(_parallel_for_general, args, nargs, kwnames)


cdef object _parallel_for_general = parallel_for
cdef bytes _parallel_for_doc = (
    "parallel_for($module, n, body, ctx=None, *, grain=None, qos=None)\n--\n\n"
    + _parallel_for_general.__doc__).encode()
cdef PyMethodDef _parallel_for_def
parallel_for = fastcall_builtin(&_parallel_for_def, b"parallel_for",
                                <void *>parallel_for_fastcall, _parallel_for_doc)


def map_items(func, items, *, qos=None, progress=False):
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
    cdef Memo memo
    cdef double t0
    if qos is None and progress is False and _enabled and \
            (type(items) is list or type(items) is tuple) and len(items) > 0 and default_level():
        memo = _items_memos.find(memo_key(func))
        if memo is not None and memo.inline(0, 0, len(items), _cutoff_python):
            t0 = now_s()
            results = [func(item) for item in items]
            memo.timed(0, 0, len(items), now_s() - t0)
            return results
    return _slow["map_items"](func, items, qos, progress)


cdef class ParallelFunction:
    """A function decorated with @runtime.parallel: called on whole arrays,
    it runs on chunks (runtime/_parallel.py builds it).  Small calls go
    straight to the function, as runtime.map's do."""
    cdef object func
    cdef object slow  # slow(args, kwargs): the measured path
    cdef bint reduces
    cdef bint fixed_qos
    cdef str what
    cdef Memo memo
    cdef dict __dict__
    cdef object __weakref__

    def __init__(self, func, slow, bint reduces, bint fixed_qos, str what):
        self.func = func
        self.what = what
        self.slow = slow
        self.reduces = reduces
        self.fixed_qos = fixed_qos
        self.memo = Memo()

    def __call__(self, *args, **kwargs):
        return self.call(args, kwargs if kwargs else None)

    cdef object call(self, tuple args, object kwargs):
        """The call: `kwargs` a dict of keyword arguments, or None."""
        cdef Py_ssize_t elements = 0, rows = 0
        cdef int kind
        if kwargs is None and not self.fixed_qos and _enabled:
            kind = signature(args, &elements, &rows)
            if kind >= 0:
                if self.reduces:
                    if elements <= _one_leaf:
                        return self.func(*args)  # one leaf, as runtime.reduce
                elif default_level():
                    result = run_inline(self.memo, self.func, PySequence_Fast_ITEMS(args),
                                        len(args), kind, elements, rows, self.what)
                    if result is not NOT_INLINE:
                        return result
        return self.slow(args, {} if kwargs is None else kwargs)

    def note_inline(self, tuple args, bint inline, Py_ssize_t stretch):
        """What the measured path decided for a call (as note())."""
        cdef Py_ssize_t elements = 0, rows = 0
        if not inline and stretch <= 0:
            return
        cdef int kind = signature(args, &elements, &rows)
        if kind >= 0:
            learn(self.memo, len(args) - 1, kind, elements, inline, stretch)

    def __get__(self, instance, owner):
        # A decorated method binds like a plain function does.
        if instance is None:
            return self
        return types.MethodType(self, instance)

    def __repr__(self):
        return f"<runtime.parallel {self.func!r}>"


cdef object parallel_function_call(object self, object args, PyObject *kwds):
    """ParallelFunction's tp_call slot: the call without the empty keyword
    dict that a `def __call__(self, *args, **kwargs)` makes on every call
    (~30 ns of a ~140 ns overhead on a 100-element a * b + c).  The slot's
    contract: `args` a tuple, `kwds` NULL or a dict the callee must not
    change (so it is copied)."""
    if kwds == NULL or PyDict_Size(<object>kwds) == 0:
        return (<ParallelFunction>self).call(<tuple>args, None)
    return (<ParallelFunction>self).call(<tuple>args, PyDict_Copy(<object>kwds))


(<PyTypeObject *>ParallelFunction).tp_call = <ternaryfunc><void *>parallel_function_call
