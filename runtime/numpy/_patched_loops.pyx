# cython: language_level=3, boundscheck=False, wraparound=False
# cython: freethreading_compatible = True
"""NumPy's ufunc loop tables, rewritten in place (runtime.numpy.patch()).

The loops themselves, the trampolines and the split decision are C, in
_patched_loops.h (they run without the GIL).  This module only writes and
reads the tables: one entry of ``ufunc->functions`` per call of install()
or uninstall(), with the GIL held, serialised by runtime.numpy._patch's lock.
"""
from cpython.pycapsule cimport PyCapsule_GetPointer
from libc.stdint cimport int64_t, uint64_t

cimport numpy as cnp

from .. import _core

cnp.import_array()

cdef extern from "_patched_loops.h" nogil:
    ctypedef void (*rt_legacy_loop)(char **args, const cnp.npy_intp *dims,
                                    const cnp.npy_intp *steps, void *data)
    ctypedef struct rt_nogil_api:
        pass
    int RT_JUDGED_RUNS_MAX
    ctypedef struct rt_size_bucket:
        pass
    ctypedef struct rt_patched:
        rt_legacy_loop original
        int nin, nout
        int reducible
        int result_kind
        cnp.npy_intp itemsize[8]
        int64_t best_ps
        rt_size_bucket buckets[1]
        uint64_t whole_calls
        uint64_t split_calls
    ctypedef struct rt_patch_settings:
        int enabled
        int threads
        int64_t min_elements
        int64_t cutoff_ps
        double chunk_s
        int64_t min_leaves
        int64_t max_leaves
        int64_t leaf_elements
        int64_t forced_grain
        double lost_margin
        int64_t judged_runs
        int64_t retry_after
        int64_t max_stretch
        int64_t reference_every
        int64_t reference_max_ps
    enum:
        RT_PATCH_SLOTS
        RT_PATCH_MAX_OPERANDS
        RT_RESULT_EXACT
        RT_RESULT_REAL
        RT_RESULT_COMPLEX
    rt_patched rt_records[]
    rt_patch_settings rt_settings
    const rt_nogil_api *rt_api
    const rt_legacy_loop rt_trampolines[]
    void rt_plan(double row_s, int64_t rows, int threads, int64_t *grain, int64_t *max_chunk)

    void *rt_entry_load(void **entry)
    void rt_entry_store(void **entry, void *value)
    void rt_store_int(int *target, int value)
    void rt_store_i64(int64_t *target, int64_t value)
    void rt_store_double(double *target, double value)
    void rt_set_original(rt_patched *record, void *loop)
    void rt_forget(rt_patched *record)

rt_api = <const rt_nogil_api *>PyCapsule_GetPointer(_core.nogil_api, b"runtime._core.nogil_api.v1")

SLOTS = RT_PATCH_SLOTS
MAX_OPERANDS = RT_PATCH_MAX_OPERANDS
RESULT_EXACT = RT_RESULT_EXACT
RESULT_REAL = RT_RESULT_REAL
RESULT_COMPLEX = RT_RESULT_COMPLEX


cdef inline void **_entry(cnp.ufunc ufunc, int index) except NULL:
    if not 0 <= index < ufunc.ntypes:
        raise IndexError(f"{ufunc.__name__} has {ufunc.ntypes} loops, not a loop {index}")
    return <void **>&ufunc.functions[index]


cdef inline void _check_slot(int slot) except *:
    if not 0 <= slot < RT_PATCH_SLOTS:
        raise IndexError(f"a slot is 0 to {RT_PATCH_SLOTS - 1}, got {slot}")


def install(cnp.ufunc ufunc, int index, int slot, bint reducible, int result_kind,
            tuple itemsizes):
    """Point loop `index` of `ufunc` at trampoline `slot`, which calls the
    loop found there (kept in the slot's record).  True when it was
    installed now, False when the slot's trampoline was there already."""
    cdef void **entry = _entry(ufunc, index)
    cdef rt_patched *record
    cdef void *current = rt_entry_load(entry)
    cdef int i
    _check_slot(slot)
    if len(itemsizes) != ufunc.nin + ufunc.nout or len(itemsizes) > RT_PATCH_MAX_OPERANDS:
        raise ValueError(f"{ufunc.__name__}: one item size per operand "
                         f"({ufunc.nin + ufunc.nout}), got {len(itemsizes)}")
    if current == <void *>rt_trampolines[slot]:
        return False
    record = &rt_records[slot]
    record.nin = ufunc.nin
    record.nout = ufunc.nout
    record.reducible = reducible
    record.result_kind = result_kind
    for i in range(len(itemsizes)):
        record.itemsize[i] = itemsizes[i]
    # The original first, then the entry: a thread that finds the trampoline
    # finds the loop it calls.
    rt_set_original(record, current)
    rt_entry_store(entry, <void *>rt_trampolines[slot])
    return True


def uninstall(cnp.ufunc ufunc, int index, int slot):
    """Put NumPy's loop back where trampoline `slot` is.  False when the
    entry holds something else (not patched, or patched again by another
    library since): it is left alone."""
    cdef void **entry = _entry(ufunc, index)
    _check_slot(slot)
    if rt_entry_load(entry) != <void *>rt_trampolines[slot]:
        return False
    rt_entry_store(entry, <void *>rt_records[slot].original)
    return True


def installed(cnp.ufunc ufunc, int index, int slot):
    """Whether loop `index` of `ufunc` is trampoline `slot`."""
    _check_slot(slot)
    return rt_entry_load(_entry(ufunc, index)) == <void *>rt_trampolines[slot]


def configure(bint enabled, int threads, int64_t min_elements, double cutoff_s, double chunk_s,
              int64_t min_leaves, int64_t max_leaves, int64_t leaf_elements,
              int64_t forced_grain, double lost_margin=1.1, int64_t judged_runs=3,
              int64_t retry_after=32, int64_t max_stretch=4096, int64_t reference_every=32,
              double reference_max_s=1.0):
    """The settings every trampoline reads (see rt_patch_settings); chunk_s
    is runtime._schedule.plan's chunk_time for native chunks, the keywords
    runtime._schedule's constants of the same names."""
    if min_leaves < 1 or max_leaves < 1 or leaf_elements < 1 or forced_grain < 0:
        raise ValueError("leaves per thread and leaf elements must be positive, "
                         "the forced grain 0 (none) or positive")
    if not 1 <= judged_runs <= RT_JUDGED_RUNS_MAX:
        raise ValueError(f"judged_runs must be 1 to {RT_JUDGED_RUNS_MAX}, got {judged_runs}")
    rt_store_i64(&rt_settings.min_elements, max(min_elements, 2))
    rt_store_i64(&rt_settings.cutoff_ps, <int64_t>(cutoff_s * 1e12))
    rt_store_double(&rt_settings.chunk_s, chunk_s)
    rt_store_i64(&rt_settings.min_leaves, min_leaves)
    rt_store_i64(&rt_settings.max_leaves, max_leaves)
    rt_store_i64(&rt_settings.leaf_elements, leaf_elements)
    rt_store_i64(&rt_settings.forced_grain, forced_grain)
    rt_store_double(&rt_settings.lost_margin, lost_margin)
    rt_store_i64(&rt_settings.judged_runs, judged_runs)
    rt_store_i64(&rt_settings.retry_after, retry_after)
    rt_store_i64(&rt_settings.max_stretch, max_stretch)
    rt_store_i64(&rt_settings.reference_every, reference_every)
    rt_store_i64(&rt_settings.reference_max_ps, <int64_t>min(reference_max_s * 1e12, 9e18))
    rt_store_int(&rt_settings.threads, threads)
    rt_store_int(&rt_settings.enabled, enabled)


def set_enabled(bint enabled):
    """False: every trampoline calls NumPy's loop whole (restore() sets it
    before it writes the tables back, for callers holding a trampoline)."""
    rt_store_int(&rt_settings.enabled, enabled)


def counters(int slot):
    """(calls run whole after measuring, calls split) of trampoline `slot`
    (calls below the size floor run whole uncounted)."""
    _check_slot(slot)
    return rt_records[slot].whole_calls, rt_records[slot].split_calls


def cost_per_element(int slot):
    """The fastest cost per element seen by trampoline `slot` (serial runs,
    and parallel runs' wall time x threads), in seconds (0.0: none yet)."""
    _check_slot(slot)
    return rt_records[slot].best_ps * 1e-12


def forget_costs():
    """Drop every measured cost and judgement (the thread count changed, or
    a test).  Records never used stay untouched (their pages unmapped)."""
    cdef int i
    for i in range(RT_PATCH_SLOTS):
        if rt_records[i].best_ps != 0:
            rt_forget(&rt_records[i])


def plan(double row_s, int64_t rows, int threads):
    """(grain, max_chunk) the trampolines use for `rows` elements costing
    `row_s` seconds each (the twin of runtime._schedule.plan)."""
    cdef int64_t grain = 0, max_chunk = 0
    if threads < 1 or rows < 1:
        raise ValueError(f"plan needs threads >= 1 and rows >= 1, got {threads} and {rows}")
    rt_plan(row_s, rows, threads, &grain, &max_chunk)
    return grain, max_chunk
