# cython: language_level=3, boundscheck=False, wraparound=False
# cython: freethreading_compatible = True
"""NumPy's own strided ufunc loops, run on the pool with no GIL.

A ufunc chunk run as Python must take the GIL before NumPy releases it
again for the loop; on this kind of VM a waiting thread gets the GIL only
after a 30-100 us wake-up, so a 1e5-element exp (77 us) gained nothing.
NumPy exports the loop itself (``ufunc._resolve_dtypes_and_context`` and
``ufunc._get_strided_loop``, NEP 43; the capsule layout is documented in
``_get_strided_loop``'s docstring and versioned by the capsule's name), so
chunks can call it from C like any native kernel: ~50 ns a chunk.  It is
the very function NumPy calls for a contiguous whole-array call, with the
same strides, so results are the same bits.

Floating-point flags are per thread: each chunk clears them, runs the loop
and ORs what it raised into the job's status, which the caller replays
under its np.errstate (runtime.numpy._fperrors).
"""
from cpython.pycapsule cimport PyCapsule_GetPointer, PyCapsule_IsValid
from libc.stdint cimport int64_t, uintptr_t

cimport numpy as cnp

import numpy

cnp.import_array()

cdef extern from "fenv.h" nogil:
    int feclearexcept(int excepts)
    int fetestexcept(int excepts)
    int FE_DIVBYZERO
    int FE_OVERFLOW
    int FE_UNDERFLOW
    int FE_INVALID

# GCC/Clang atomic builtins (C11 atomics on plain ints; no header needed).
cdef extern from * nogil:
    int __atomic_load_n(int *ptr, int order)
    void __atomic_store_n(int *ptr, int value, int order)
    int __atomic_fetch_or(int *ptr, int value, int order)
    int __ATOMIC_RELAXED

ctypedef int (*strided_loop_fn)(void *context, char **data, cnp.npy_intp *dimensions,
                                cnp.npy_intp *strides, void *auxdata) noexcept nogil

# The "numpy_1.24_ufunc_call_info" capsule (see ufunc._get_strided_loop.__doc__).
ctypedef struct ufunc_call_info:
    strided_loop_fn strided_loop
    void *context
    void *auxdata
    cnp.npy_bool requires_pyapi
    cnp.npy_bool no_floatingpoint_errors

cdef const char *CALL_INFO = b"numpy_1.24_ufunc_call_info"

cdef enum:
    MAX_OPERANDS = 8
    # NumPy's NPY_FPE_* bits, which _fperrors replays.
    FPE_DIVIDEBYZERO = 1
    FPE_OVERFLOW = 2
    FPE_UNDERFLOW = 4
    FPE_INVALID = 8


cdef struct LoopJob:
    strided_loop_fn strided_loop
    void *context
    void *auxdata
    int nargs
    int check_fpe
    char *data[MAX_OPERANDS]
    cnp.npy_intp strides[MAX_OPERANDS]
    int fpe  # NPY_FPE_* bits raised by any chunk (atomic OR)
    int failed  # a loop returned an error (atomic)


cdef inline void collect_fp_errors(int *fpe) noexcept nogil:
    """OR the floating-point flags this thread raised into `fpe` (NumPy's
    NPY_FPE_* bits)."""
    cdef int raised = fetestexcept(FE_DIVBYZERO | FE_OVERFLOW | FE_UNDERFLOW | FE_INVALID)
    if raised:
        __atomic_fetch_or(fpe, (FPE_DIVIDEBYZERO if raised & FE_DIVBYZERO else 0)
                          | (FPE_OVERFLOW if raised & FE_OVERFLOW else 0)
                          | (FPE_UNDERFLOW if raised & FE_UNDERFLOW else 0)
                          | (FPE_INVALID if raised & FE_INVALID else 0), __ATOMIC_RELAXED)


cdef void run_range(int64_t begin, int64_t end, void *ctx) noexcept nogil:
    """Elements [begin, end) of the job: one call of NumPy's loop."""
    cdef LoopJob *job = <LoopJob *>ctx
    cdef char *data[MAX_OPERANDS]
    cdef cnp.npy_intp count = end - begin
    cdef int i
    if __atomic_load_n(&job.failed, __ATOMIC_RELAXED):
        return
    for i in range(job.nargs):
        data[i] = job.data[i] + begin * job.strides[i]
    if job.check_fpe:
        feclearexcept(FE_DIVBYZERO | FE_OVERFLOW | FE_UNDERFLOW | FE_INVALID)
    if job.strided_loop(job.context, data, &count, job.strides, job.auxdata) < 0:
        __atomic_store_n(&job.failed, 1, __ATOMIC_RELAXED)
    if job.check_fpe:
        collect_fp_errors(&job.fpe)


cdef class StridedLoop:
    """NumPy's loop for one ufunc, dtype combination and set of strides."""

    cdef object capsule  # owns the loop's context and auxdata
    cdef ufunc_call_info *info
    cdef readonly tuple dtypes
    cdef readonly tuple strides

    def __cinit__(self, object capsule, tuple dtypes, tuple strides):
        self.capsule = capsule
        self.info = <ufunc_call_info *>PyCapsule_GetPointer(capsule, CALL_INFO)
        self.dtypes = dtypes
        self.strides = strides


def strided_loop(ufunc, tuple operand_dtypes, tuple strides):
    """NumPy's loop for ``ufunc`` with exactly these operand dtypes (inputs
    then outputs) and byte strides; None when NumPy would cast, the loop
    needs the GIL, or this NumPy does not offer the capsule."""
    if len(operand_dtypes) > MAX_OPERANDS:
        return None
    try:
        dtypes, capsule = ufunc._resolve_dtypes_and_context(operand_dtypes)
        if tuple(dtypes) != operand_dtypes or not PyCapsule_IsValid(capsule, CALL_INFO):
            return None
        ufunc._get_strided_loop(capsule, fixed_strides=strides)
    except (AttributeError, TypeError, ValueError):
        return None  # no loop, or NumPy's API changed: the Python path decides
    loop = StridedLoop(capsule, tuple(dtypes), strides)
    if loop.info.requires_pyapi or loop.info.strided_loop == NULL:
        return None
    return loop


cdef class LoopCall:
    """One call of a StridedLoop over 1-D operands (length `length`, or 0-d
    with stride 0): ``kernel`` and ``ctx`` for _core.parallel_for_native."""

    cdef LoopJob job
    cdef readonly StridedLoop loop
    cdef list operands  # kept alive while the job runs

    def __cinit__(self, StridedLoop loop, list operands):
        cdef int i
        cdef cnp.ndarray array
        if len(operands) != len(loop.strides):
            raise ValueError("one operand per loop stride")
        self.loop = loop
        self.operands = operands
        self.job.strided_loop = loop.info.strided_loop
        self.job.context = loop.info.context
        self.job.auxdata = loop.info.auxdata
        self.job.nargs = len(operands)
        self.job.check_fpe = not loop.info.no_floatingpoint_errors
        self.job.fpe = 0
        self.job.failed = 0
        for i in range(self.job.nargs):
            array = operands[i]
            self.job.data[i] = <char *>cnp.PyArray_DATA(array)
            self.job.strides[i] = loop.strides[i]

    @property
    def kernel(self) -> int:
        return <uintptr_t>&run_range

    @property
    def ctx(self) -> int:
        return <uintptr_t>&self.job

    @property
    def fp_status(self) -> int:
        """NPY_FPE_* bits raised by the chunks run so far."""
        return self.job.fpe

    @property
    def failed(self) -> bool:
        """A chunk's loop reported an error (the call must be redone by NumPy)."""
        return self.job.failed != 0


cdef struct ReduceJob:
    strided_loop_fn strided_loop
    void *context
    void *auxdata
    int check_fpe
    char *x         # the input, contiguous
    char *parts     # one partial per leaf
    char *identity  # the ufunc's identity in the loop's dtype (itemsize bytes)
    cnp.npy_intp itemsize
    cnp.npy_intp leaf  # elements per leaf (the last may be shorter)
    cnp.npy_intp size  # elements in all
    int fpe
    int failed


cdef void reduce_range(int64_t begin, int64_t end, void *ctx) noexcept nogil:
    """Leaves [begin, end): each partial starts at the identity and the
    loop adds the leaf into it, as NumPy's reduction of a contiguous 1-D
    array calls it (data = (partial, leaf, partial), strides (0, itemsize, 0))."""
    cdef ReduceJob *job = <ReduceJob *>ctx
    cdef char *data[3]
    cdef cnp.npy_intp strides[3]
    cdef cnp.npy_intp count, start, k
    cdef int64_t l
    if __atomic_load_n(&job.failed, __ATOMIC_RELAXED):
        return
    strides[0] = 0
    strides[1] = job.itemsize
    strides[2] = 0
    if job.check_fpe:
        feclearexcept(FE_DIVBYZERO | FE_OVERFLOW | FE_UNDERFLOW | FE_INVALID)
    for l in range(begin, end):
        start = l * job.leaf
        count = job.leaf if start + job.leaf <= job.size else job.size - start
        data[0] = job.parts + l * job.itemsize
        data[1] = job.x + start * job.itemsize
        data[2] = data[0]
        for k in range(job.itemsize):
            data[0][k] = job.identity[k]
        if job.strided_loop(job.context, data, &count, strides, job.auxdata) < 0:
            __atomic_store_n(&job.failed, 1, __ATOMIC_RELAXED)
            return
    if job.check_fpe:
        collect_fp_errors(&job.fpe)


cdef class LeafReduction:
    """A reduction of a contiguous array into fixed leaves, one partial per
    leaf, by NumPy's own loop for (dtype, dtype) -> dtype with no GIL:
    ``kernel`` and ``ctx`` for _core.parallel_for_native over leaves."""

    cdef ReduceJob job
    cdef readonly StridedLoop loop
    cdef readonly object parts
    cdef object x
    cdef object identity

    def __cinit__(self, StridedLoop loop, cnp.ndarray x, cnp.npy_intp leaf, identity):
        if len(loop.strides) != 3 or not x.flags.c_contiguous or leaf < 1:
            raise ValueError("a 3-operand loop, a contiguous input and leaves of >= 1 element")
        dtype = loop.dtypes[0]
        self.loop = loop
        self.x = x
        self.identity = numpy.array(identity, dtype=dtype)
        leaves = -(-x.size // leaf) if x.size else 0
        self.parts = numpy.empty(leaves, dtype=dtype)
        self.job.strided_loop = loop.info.strided_loop
        self.job.context = loop.info.context
        self.job.auxdata = loop.info.auxdata
        self.job.check_fpe = not loop.info.no_floatingpoint_errors
        self.job.x = <char *>cnp.PyArray_DATA(x)
        self.job.parts = <char *>cnp.PyArray_DATA(<cnp.ndarray>self.parts)
        self.job.identity = <char *>cnp.PyArray_DATA(<cnp.ndarray>self.identity)
        self.job.itemsize = x.itemsize
        self.job.leaf = leaf
        self.job.size = x.size
        self.job.fpe = 0
        self.job.failed = 0

    @property
    def kernel(self) -> int:
        return <uintptr_t>&reduce_range

    @property
    def ctx(self) -> int:
        return <uintptr_t>&self.job

    @property
    def leaves(self) -> int:
        return len(self.parts)

    @property
    def fp_status(self) -> int:
        return self.job.fpe

    @property
    def failed(self) -> bool:
        return self.job.failed != 0
