# cython: language_level=3, boundscheck=False, wraparound=False
# cython: freethreading_compatible = True
"""The parallel ufunc type: NumPy's ufunc on the outside, the pool inside.

``ParallelUfunc.__call__`` is on every NumPy call a program makes, so it
is written in Cython: for a call too small to gain from the pool it must
hand over to NumPy in a few tens of nanoseconds (np.add on 1e3 float64
takes ~550 ns here; a Python-level wrapper alone costs ~250 ns).  It reads
the broadcast size of the call from the array headers and compares it with
the size below which this ufunc, for this dtype, runs inline (learned by
the Python side from measured costs).  Anything it does not recognise
(lists, subclasses, objects overriding __array_ufunc__) goes to NumPy
unchanged.  Bigger calls go to runtime.numpy._elementwise.
"""
cimport numpy as cnp
from cpython.object cimport PyObject, PyObject_Call
from cpython.tuple cimport PyTuple_GET_SIZE, PyTuple_GET_ITEM

cdef extern from "Python.h":
    ctypedef object (*vectorcallfunc)(PyObject *callable, PyObject **args, size_t nargsf,
                                      PyObject *kwnames)
    object PyObject_Vectorcall(object callable, PyObject **args, size_t nargsf,
                               PyObject *kwnames)
    Py_ssize_t PyVectorcall_NARGS(size_t nargsf)
    PyObject **PySequence_Fast_ITEMS(object sequence)
    unsigned long Py_TPFLAGS_HAVE_VECTORCALL
    ctypedef struct PyTypeObject:
        Py_ssize_t tp_vectorcall_offset
        unsigned long tp_flags
    void PyType_Modified(PyTypeObject *type)

import inspect

import numpy

cnp.import_array()

cdef enum:
    MAX_DIMS = 64
    # Functions and ufunc methods whose calls go to NumPy below this many
    # elements: even a perfect split would save less than the pool's
    # dispatch (5-30 us measured here).  Reductions need two leaves
    # (runtime.numpy._reductions.MIN_PARALLEL_ELEMENTS).
    SMALL_ELEMENTS = 16384
    REDUCE_ELEMENTS = 65536
    # Ufunc calls below this many elements go to NumPy from their first
    # call on, before the measured path has learned the ufunc's own
    # threshold: that first trip cost 50-150 us (probes, loop lookup, cold
    # Python code) against NumPy's 1-3 us for 100-1000 elements.  A split
    # of 1024 elements cannot pay unless each costs over ~50 ns (a complex
    # power does; float64 exp ~1 ns, arcsinh ~20 ns): the pool's dispatch
    # is 5-30 us here.
    FIRST_CALL_ELEMENTS = 1024
    # Products (matmul, dot, ...): operands of S elements in all make at most
    # S*S/2 multiply-adds (k = 1), under runtime.numpy._linalg's threshold of
    # 2e8 flops below 20000 elements.
    PRODUCT_ELEMENTS = 20000
    # NumPy's legacy type numbers (NPY_BOOL=0 ... NPY_HALF=23); others share the last slot.
    TYPE_SLOTS = 25
    OTHER_SLOT = 24

# 2-D products under this many flops go to NumPy from C: runtime.numpy._linalg
# sends them there too (MIN_PARALLEL_FLOPS), after its Python checks.
cdef double PRODUCT_FLOPS = 2e8

# Type numbers that runtime never runs in parallel (object, strings, void,
# datetimes): their calls go straight to NumPy.
cdef tuple NOT_NUMERIC = (cnp.NPY_OBJECT, cnp.NPY_STRING, cnp.NPY_UNICODE, cnp.NPY_VOID,
                          cnp.NPY_DATETIME, cnp.NPY_TIMEDELTA)
cdef Py_ssize_t NEVER = <Py_ssize_t>(((<size_t>1) << (sizeof(Py_ssize_t) * 8 - 1)) - 1)


cdef inline int fold_shape(cnp.ndarray a, Py_ssize_t *dims, int *ndim) noexcept:
    """Broadcast a's shape into dims (right-aligned, ndim entries used);
    -1 when the shapes do not broadcast (NumPy will say why)."""
    cdef int n = cnp.PyArray_NDIM(a)
    cdef cnp.npy_intp *shape = cnp.PyArray_DIMS(a)
    cdef int i
    cdef Py_ssize_t d, have
    if n > MAX_DIMS:
        return -1
    while ndim[0] < n:
        dims[MAX_DIMS - 1 - ndim[0]] = 1
        ndim[0] += 1
    for i in range(n):
        d = shape[n - 1 - i]
        have = dims[MAX_DIMS - 1 - i]
        if have == 1:
            dims[MAX_DIMS - 1 - i] = d
        elif d != 1 and d != have:
            return -1
    return 0


# Tests turn the size gates off so that small inputs take the parallel paths
# (with runtime._schedule.forced_split).
cdef bint _gates_open = True


def set_small_call_gates(bint enabled):
    """Tests: False makes every gated call take runtime's path."""
    global _gates_open
    _gates_open = enabled


cdef inline Py_ssize_t _small_call_elements(Py_ssize_t elements) noexcept:
    return elements if _gates_open else 0


cdef inline bint small_product(PyObject *a, PyObject *b) noexcept:
    """Two 2-D arrays whose product is under PRODUCT_FLOPS: NumPy's, with no
    Python layer (a 100 x 100 matmul is 26 us; the measured path added
    1.5-4 us to go to NumPy anyway)."""
    if type(<object>a) is not cnp.ndarray or type(<object>b) is not cnp.ndarray:
        return False
    cdef cnp.ndarray x = <cnp.ndarray>a, y = <cnp.ndarray>b
    if cnp.PyArray_NDIM(x) != 2 or cnp.PyArray_NDIM(y) != 2:
        return False
    return 2.0 * <double>cnp.PyArray_DIMS(x)[0] * <double>cnp.PyArray_DIMS(x)[1] \
        * <double>cnp.PyArray_DIMS(y)[1] < PRODUCT_FLOPS


cdef inline bint is_scalar(object x):
    return (x is None or type(x) is float or type(x) is int or type(x) is bool
            or type(x) is complex or isinstance(x, numpy.generic))


cdef object _NoValue = numpy._NoValue


cdef bint is_plain(object x, int depth=2):
    """x is something runtime handles itself: an exact ndarray, a number,
    None, a string, a dtype or type, NumPy's _NoValue, or a tuple of such.
    Anything else (a list, a subclass, a duck array with __array_function__
    or __array_ufunc__, Ellipsis) makes the whole call NumPy's, with the
    caller's arguments untouched: NumPy hands its overrides exactly what
    the caller passed (NEP 18, NEP 13), and so must runtime."""
    if type(x) is cnp.ndarray or is_scalar(x) or type(x) is str or x is _NoValue:
        return True
    if type(x) is tuple:
        if depth == 0:
            return False
        for item in <tuple>x:
            if not is_plain(item, depth - 1):
                return False
        return True
    return isinstance(x, (type, numpy.dtype))


cdef bint all_plain(PyObject **items, Py_ssize_t count) except -1:
    cdef Py_ssize_t j
    for j in range(count):
        if not is_plain(<object>items[j]):
            return False
    return True


cdef bint call_is_plain(tuple args, dict kwargs) except -1:
    for arg in args:
        if not is_plain(arg):
            return False
    if kwargs:
        for arg in kwargs.values():
            if not is_plain(arg):
                return False
    return True


cdef inline bint is_name(PyObject *name, str wanted) noexcept:
    return name == <PyObject *>wanted or (<object>name) == wanted


cdef Py_ssize_t call_size(PyObject **items, Py_ssize_t nargs, PyObject *kwnames,
                          int *type_slot) except? -2:
    """The broadcast size of a ufunc call (its positional arguments, out=
    and where=), or -1 when the call must go to NumPy unchanged: an
    argument runtime does not handle (a list, a subclass, an object
    overriding __array_ufunc__), shapes that do not broadcast, or no array
    at all.  type_slot receives the slot of the first array's dtype."""
    cdef Py_ssize_t dims[MAX_DIMS]
    cdef int ndim = 0, type_num = -1, i
    cdef Py_ssize_t j, nkw = PyTuple_GET_SIZE(<object>kwnames) if kwnames != NULL else 0
    cdef Py_ssize_t size = 1
    cdef object arg, name
    for j in range(nargs):
        arg = <object>items[j]
        if type(arg) is cnp.ndarray:
            if type_num < 0:
                type_num = cnp.PyArray_TYPE(<cnp.ndarray>arg)
            if fold_shape(<cnp.ndarray>arg, dims, &ndim) < 0:
                return -1
        elif not is_scalar(arg):
            return -1
    for j in range(nkw):
        arg = <object>items[nargs + j]
        name_ptr = PyTuple_GET_ITEM(<object>kwnames, j)
        if is_name(name_ptr, "out"):
            if type(arg) is tuple:
                for o in <tuple>arg:
                    if type(o) is cnp.ndarray:
                        if fold_shape(<cnp.ndarray>o, dims, &ndim) < 0:
                            return -1
                    elif o is not None:
                        return -1
            elif type(arg) is cnp.ndarray:
                if fold_shape(<cnp.ndarray>arg, dims, &ndim) < 0:
                    return -1
            elif arg is not None:
                return -1
        elif is_name(name_ptr, "where"):
            if type(arg) is cnp.ndarray:
                if fold_shape(<cnp.ndarray>arg, dims, &ndim) < 0:
                    return -1
            elif type(arg) is not bool:
                return -1
    if type_num < 0:
        return -1  # scalars only: nothing to split
    type_slot[0] = type_num if type_num < OTHER_SLOT else OTHER_SLOT
    for i in range(ndim):
        size *= dims[MAX_DIMS - 1 - i]
    return size


cdef object ufunc_vectorcall(PyObject *callable, PyObject **args, size_t nargsf,
                             PyObject *kwnames):
    """tp_vectorcall of ParallelUfunc: the arguments arrive as a C array and
    small calls pass them on to NumPy's vectorcall untouched (through
    tp_call, Python packs a dict that NumPy must unpack again: +250 ns)."""
    cdef ParallelUfunc self = <ParallelUfunc>callable
    cdef Py_ssize_t nargs = PyVectorcall_NARGS(nargsf)
    cdef int type_slot = OTHER_SLOT
    cdef Py_ssize_t size
    if not self._generalized:
        size = call_size(args, nargs, kwnames, &type_slot)
        if size < 0 or size < self._inline_below[type_slot] \
                or size < _small_call_elements(FIRST_CALL_ELEMENTS):
            return PyObject_Vectorcall(self.ufunc, args, nargsf, kwnames)
        if self._stretch_left[type_slot] > 0 and size < self._stretch_below[type_slot]:
            self._stretch_left[type_slot] -= 1
            return PyObject_Vectorcall(self.ufunc, args, nargsf, kwnames)
    elif not all_plain(args, nargs + (PyTuple_GET_SIZE(<object>kwnames)
                                      if kwnames != NULL else 0)):
        return PyObject_Vectorcall(self.ufunc, args, nargsf, kwnames)
    elif nargs == 2 and type(<object>args[0]) is cnp.ndarray \
            and type(<object>args[1]) is cnp.ndarray \
            and cnp.PyArray_SIZE(<cnp.ndarray>args[0]) + cnp.PyArray_SIZE(<cnp.ndarray>args[1]) \
            < _small_call_elements(PRODUCT_ELEMENTS):
        return PyObject_Vectorcall(self.ufunc, args, nargsf, kwnames)
    elif nargs == 2 and kwnames == NULL and _gates_open and small_product(args[0], args[1]):
        return PyObject_Vectorcall(self.ufunc, args, nargsf, kwnames)
    cdef tuple positional = tuple([<object>args[j] for j in range(nargs)])
    cdef dict keywords = {}
    if kwnames != NULL:
        for j in range(PyTuple_GET_SIZE(<object>kwnames)):
            keywords[<object>PyTuple_GET_ITEM(<object>kwnames, j)] = <object>args[nargs + j]
    return self._parallel_call(self, positional, keywords)


cdef class ParallelUfunc:
    """A NumPy ufunc whose big calls run on all cores.

    Same attributes and methods as the NumPy ufunc it wraps (``ufunc``);
    results are the same bits, because NumPy's own loops compute every chunk.

    >>> import numpy, runtime.numpy as np
    >>> x = numpy.linspace(0, 1, 1_000_000)
    >>> bool((np.exp(x) == numpy.exp(x)).all()), np.exp.nin, np.add.identity
    (True, 1, 0)
    """

    cdef vectorcallfunc vectorcall  # found through tp_vectorcall_offset
    cdef readonly object ufunc
    # Generalized ufuncs (matmul) have core dimensions: no broadcast size to
    # read here; every call goes to _parallel_call, which decides.
    cdef bint _generalized
    cdef object _parallel_call  # (wrapper, args, kwargs) -> result, for big calls
    cdef Py_ssize_t _inline_below[TYPE_SLOTS]
    # A stretch of calls sent to NumPy for now (parallel lost at their size
    # lately): the next _stretch_left calls below _stretch_below elements.
    cdef Py_ssize_t _stretch_left[TYPE_SLOTS]
    cdef Py_ssize_t _stretch_below[TYPE_SLOTS]
    cdef dict __dict__

    def __cinit__(self, ufunc, parallel_call):
        cdef int i
        if not isinstance(ufunc, numpy.ufunc):
            raise TypeError(f"ParallelUfunc wraps a numpy.ufunc, got {type(ufunc).__name__}")
        self.vectorcall = <vectorcallfunc>ufunc_vectorcall
        self.ufunc = ufunc
        self._generalized = ufunc.signature is not None
        self._parallel_call = parallel_call
        self._forget()
        # NumPy's ufuncs keep __module__ and __qualname__ in an instance dict
        # (and cache __signature__ there once asked): the wrapper's dict is a
        # copy of it, so that np.add.__dict__, np.add.__module__ ("numpy")
        # and inspect.signature(np.add) read as NumPy's.  Written into the
        # dict directly: __signature__ and __doc__ are properties here, and
        # a NumPy ufunc inspected before this import already holds a cached
        # __signature__ (setattr would fail on the read-only property).
        vars(self).update(getattr(ufunc, "__dict__", {}))
        vars(self).pop("__doc__", None)  # the ufunc's own docstring shows through

    def __call__(self, *args, **kwargs):
        # Only reached through type(f).__call__(f, ...): Python calls go
        # through ufunc_vectorcall below.
        cdef list items = list(args) + list(kwargs.values())
        cdef tuple names = tuple(kwargs) if kwargs else None
        cdef Py_ssize_t size
        cdef int type_num = OTHER_SLOT
        if self._generalized:
            if not call_is_plain(args, kwargs):
                return PyObject_Call(self.ufunc, args, kwargs)
            return self._parallel_call(self, args, kwargs)
        size = call_size(PySequence_Fast_ITEMS(items),
                         len(args), <PyObject *>names if names is not None else NULL, &type_num)
        if size < 0 or size < self._inline_below[type_num] \
                or size < _small_call_elements(FIRST_CALL_ELEMENTS):
            return PyObject_Call(self.ufunc, args, kwargs)
        return self._parallel_call(self, args, kwargs)

    def _learn(self, int type_num, Py_ssize_t inline_below):
        """Calls of this dtype below `inline_below` elements run inline:
        from now on they go straight to NumPy."""
        if 0 <= type_num < OTHER_SLOT and type_num not in NOT_NUMERIC:
            self._inline_below[type_num] = max(inline_below, 1)

    def _send_to_numpy_for(self, int type_num, Py_ssize_t below, Py_ssize_t calls):
        """The next `calls` calls of this dtype below `below` elements go
        straight to NumPy (a stretch where splitting lost lately), without
        the measured path's cost on each."""
        if 0 <= type_num < OTHER_SLOT and type_num not in NOT_NUMERIC:
            self._stretch_left[type_num] = max(calls, 0)
            self._stretch_below[type_num] = below

    def _forget(self):
        """Drop what _learn recorded (the thread count changed)."""
        cdef int i
        for i in range(TYPE_SLOTS):
            self._inline_below[i] = NEVER if (i in NOT_NUMERIC or i == OTHER_SLOT) else 1
            self._stretch_left[i] = 0
            self._stretch_below[i] = 0

    def _inline_threshold(self, int type_num):
        """The learned size below which calls of this dtype go to NumPy."""
        return self._inline_below[type_num if 0 <= type_num < OTHER_SLOT else OTHER_SLOT]

    # NumPy's ufunc attributes, unchanged.
    @property
    def nin(self):
        return self.ufunc.nin

    @property
    def nout(self):
        return self.ufunc.nout

    @property
    def nargs(self):
        return self.ufunc.nargs

    @property
    def ntypes(self):
        return self.ufunc.ntypes

    @property
    def types(self):
        return self.ufunc.types

    @property
    def identity(self):
        return self.ufunc.identity

    @property
    def signature(self):
        return self.ufunc.signature

    @property
    def __name__(self):
        return self.ufunc.__name__

    @property
    def __signature__(self):
        # As NumPy's ufunc: computed on first use, then kept in __dict__.
        cdef dict attributes = vars(self)
        signature = attributes.get("__signature__")
        if signature is None:
            signature = attributes["__signature__"] = inspect.signature(self.ufunc)
        return signature

    @property
    def __doc__(self):
        # As NumPy's ufuncs: a docstring set on the object wins; deleting it
        # brings back the ufunc's own.
        return vars(self).get("__doc__", self.ufunc.__doc__)

    @__doc__.setter
    def __doc__(self, value):
        vars(self)["__doc__"] = value

    @__doc__.deleter
    def __doc__(self):
        vars(self).pop("__doc__", None)

    def __eq__(self, other):
        # Equal to the NumPy ufunc it wraps (and hashed alike), so tables
        # keyed by NumPy's ufuncs find runtime.numpy's, and the other way.
        if isinstance(other, ParallelUfunc):
            return (<ParallelUfunc>other).ufunc is self.ufunc
        if type(other) is numpy.ufunc:
            return other is self.ufunc
        return NotImplemented

    def __ne__(self, other):
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self):
        return hash(self.ufunc)

    @property
    def __class__(self):
        # isinstance(np.exp, numpy.ufunc) holds, as it does for NumPy's own
        # exp, so code that checks for ufuncs treats this one as a ufunc
        # (the proxy convention of unittest.mock and wrapt); type() still
        # tells the truth.
        return numpy.ufunc

    def __repr__(self):
        return f"<ufunc '{self.ufunc.__name__}'>"

    def __reduce__(self):
        # Loads as runtime.numpy.<name> (not by global name: __module__ is
        # "numpy", as NumPy's, and numpy.<name> is NumPy's own ufunc).
        return _reconstruct, (self.ufunc.__name__,)

    # Methods: parallel where it pays (set by runtime.numpy), NumPy's otherwise.
    def reduce(self, *args, **kwargs):
        if not call_is_plain(args, kwargs):
            return PyObject_Call(self.ufunc.reduce, args, kwargs)
        if args and type(args[0]) is cnp.ndarray and \
                cnp.PyArray_SIZE(<cnp.ndarray>args[0]) < _small_call_elements(REDUCE_ELEMENTS):
            return PyObject_Call(self.ufunc.reduce, args, kwargs)
        return _methods.reduce(self, args, kwargs)

    def accumulate(self, *args, **kwargs):
        return PyObject_Call(self.ufunc.accumulate, args, kwargs)

    def reduceat(self, *args, **kwargs):
        return PyObject_Call(self.ufunc.reduceat, args, kwargs)

    def outer(self, *args, **kwargs):
        if not call_is_plain(args, kwargs):
            return PyObject_Call(self.ufunc.outer, args, kwargs)
        if len(args) == 2 and type(args[0]) is cnp.ndarray and type(args[1]) is cnp.ndarray \
                and cnp.PyArray_SIZE(<cnp.ndarray>args[0]) * cnp.PyArray_SIZE(
                    <cnp.ndarray>args[1]) < _small_call_elements(SMALL_ELEMENTS):
            return PyObject_Call(self.ufunc.outer, args, kwargs)
        return _methods.outer(self, args, kwargs)

    def at(self, *args, **kwargs):
        return PyObject_Call(self.ufunc.at, args, kwargs)

    def resolve_dtypes(self, *args, **kwargs):
        return PyObject_Call(self.ufunc.resolve_dtypes, args, kwargs)

    def _resolve_dtypes_and_context(self, *args, **kwargs):
        return PyObject_Call(self.ufunc._resolve_dtypes_and_context, args, kwargs)

    def _get_strided_loop(self, *args, **kwargs):
        return PyObject_Call(self.ufunc._get_strided_loop, args, kwargs)


def _reconstruct(name):
    """Unpickle runtime.numpy's ufunc `name`."""
    import runtime.numpy
    return getattr(runtime.numpy, name)


_numpy_add_newdoc_ufunc = getattr(numpy._core.umath, "_add_newdoc_ufunc", None)


def _add_newdoc_ufunc(*args):
    """NumPy's _add_newdoc_ufunc, which also takes runtime.numpy's ufuncs:
    NumPy's C function accepts only its own ufunc type, so with
    ``np = runtime.numpy`` ``_add_newdoc_ufunc(np.add, doc)`` said
    TypeError where NumPy says ValueError (the docstring is set).  A Cython
    function has no Python frame: NumPy's DeprecationWarning still points
    at the caller's line."""
    if args and type(args[0]) is ParallelUfunc:
        args = ((<ParallelUfunc>args[0]).ufunc,) + args[1:]
    return _numpy_add_newdoc_ufunc(*args)


if _numpy_add_newdoc_ufunc is not None:
    _add_newdoc_ufunc.__doc__ = _numpy_add_newdoc_ufunc.__doc__


class _NumPyMethods:
    """Until runtime.numpy installs its parallel reduce and outer."""

    @staticmethod
    def reduce(wrapper, args, kwargs):
        return wrapper.ufunc.reduce(*args, **kwargs)

    @staticmethod
    def outer(wrapper, args, kwargs):
        return wrapper.ufunc.outer(*args, **kwargs)


_methods = _NumPyMethods


def set_methods(methods):
    """Install the object whose reduce(wrapper, args, kwargs) and
    outer(wrapper, args, kwargs) implement those ufunc methods."""
    global _methods
    _methods = methods


def _enable_vectorcall():
    """Point the type's tp_vectorcall_offset at each instance's vectorcall
    field (Cython has no syntax for it; the offset is read off an instance)."""
    cdef ParallelUfunc probe = ParallelUfunc(numpy.negative, None)
    cdef PyTypeObject *tp = <PyTypeObject *>ParallelUfunc
    tp.tp_vectorcall_offset = <Py_ssize_t>(<char *>&probe.vectorcall - <char *><PyObject *>probe)
    tp.tp_flags |= Py_TPFLAGS_HAVE_VECTORCALL
    PyType_Modified(tp)


_enable_vectorcall()


cdef class SmallCallsToNumPy:
    """A runtime.numpy function whose small calls go straight to NumPy's.

    Its vectorcall adds up the sizes of the array arguments and, below
    ``min_elements`` (all arguments arrays or scalars), calls NumPy's
    function with the arguments untouched: ~30 ns, where a Python-level
    check cost 0.3-4 us (np.copyto on 1e3 elements takes 370 ns).  A call
    with any argument runtime does not handle itself (a duck array, a
    subclass, a list: see is_plain) is NumPy's too, with the caller's
    arguments untouched, so that ``__array_function__`` overrides see what
    NumPy would hand them.  Other calls go to the parallel version, which
    checks everything else.  It looks like NumPy's function: name,
    docstring, signature (``__signature__`` where NumPy's has one).
    """

    cdef vectorcallfunc vectorcall
    cdef readonly object numpy_function
    cdef readonly object parallel_function
    cdef readonly Py_ssize_t min_elements
    cdef dict __dict__

    def __cinit__(self, numpy_function, parallel_function, Py_ssize_t min_elements):
        self.vectorcall = <vectorcallfunc>gated_vectorcall
        self.numpy_function = numpy_function
        self.parallel_function = parallel_function
        self.min_elements = min_elements
        for key in ("__name__", "__qualname__", "__doc__"):
            setattr(self, key, getattr(numpy_function, key))
        setattr(self, "__module__", "runtime.numpy")
        setattr(self, "__wrapped__", numpy_function)  # inspect.signature: NumPy's
        if hasattr(numpy_function, "__signature__"):
            # NumPy's C functions with dispatchers carry one (its
            # test_c_func_dispatcher_signature); the others have none.
            setattr(self, "__signature__", numpy_function.__signature__)

    def __call__(self, *args, **kwargs):
        if not call_is_plain(args, kwargs):
            return PyObject_Call(self.numpy_function, args, kwargs)
        return self.parallel_function(*args, **kwargs)

    def __repr__(self):
        return f"<runtime.numpy function {self.numpy_function.__name__}>"

    def __reduce__(self):
        return self.numpy_function.__name__

    def __get__(self, instance, owner):
        return self  # like a builtin function: not a method when set on a class


cdef object gated_vectorcall(PyObject *callable, PyObject **args, size_t nargsf,
                             PyObject *kwnames):
    cdef SmallCallsToNumPy self = <SmallCallsToNumPy>callable
    cdef Py_ssize_t nargs = PyVectorcall_NARGS(nargsf)
    cdef Py_ssize_t total = PyTuple_GET_SIZE(<object>kwnames) if kwnames != NULL else 0
    cdef Py_ssize_t j, elements = 0
    cdef object arg
    for j in range(nargs + total):
        arg = <object>args[j]
        if type(arg) is cnp.ndarray:
            elements += cnp.PyArray_SIZE(<cnp.ndarray>arg)
        elif not is_plain(arg):
            # A list, a subclass, an override: NumPy's call, as the caller made it.
            return PyObject_Vectorcall(self.numpy_function, args, nargsf, kwnames)
    if elements < _small_call_elements(self.min_elements):
        return PyObject_Vectorcall(self.numpy_function, args, nargsf, kwnames)
    return PyObject_Vectorcall(self.parallel_function, args, nargsf, kwnames)


PRODUCT_SIZE = PRODUCT_ELEMENTS
SMALL_SIZE = SMALL_ELEMENTS


def _enable_gated_vectorcall():
    cdef SmallCallsToNumPy probe = SmallCallsToNumPy(numpy.copy, numpy.copy, 0)
    cdef PyTypeObject *tp = <PyTypeObject *>SmallCallsToNumPy
    tp.tp_vectorcall_offset = <Py_ssize_t>(<char *>&probe.vectorcall - <char *><PyObject *>probe)
    tp.tp_flags |= Py_TPFLAGS_HAVE_VECTORCALL
    PyType_Modified(tp)


_enable_gated_vectorcall()
