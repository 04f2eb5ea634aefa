# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: freethreading_compatible = True
"""The binding between the C pool (csrc/) and Python.

It owns the process's one pool, runs Python chunk bodies with the GIL
taken per chunk, runs native kernels with no GIL at all, turns the first
exception of a job into the caller's exception, and polls for Ctrl-C while
the caller waits.  Everything user-facing (argument checking, chunking of
arrays) lives in the Python modules beside it.
"""
from cpython.exc cimport PyErr_CheckSignals
from cpython.pycapsule cimport PyCapsule_New
from cpython.ref cimport Py_DECREF, Py_INCREF
from libc.stdint cimport int64_t, uint64_t, uintptr_t
from libc.stdlib cimport free, malloc
from libc.string cimport memset

import contextvars
import os
import threading

cdef extern from "qos.h" nogil:
    ctypedef struct rt_cpuset:
        uint64_t bits[16]
    ctypedef struct rt_qos_saved:
        pass
    ctypedef int rt_qos_level
    int rt_qos_apply(rt_qos_level level, const rt_cpuset *cpus, rt_qos_saved *saved)
    void rt_qos_restore(const rt_qos_saved *saved)
    void rt_cpuset_add(rt_cpuset *cpus, int cpu)
    uint64_t rt_qos_thread_self()
    int rt_qos_override_start(uint64_t thread, rt_qos_level level, const rt_cpuset *cpus,
                              rt_qos_saved *saved)
    void rt_qos_override_end(uint64_t thread, rt_qos_saved *saved)
    int rt_qos_available()
    const char *rt_qos_platform()
    const char *rt_qos_unavailable_reason(int mechanism)
    enum:
        RT_QOS_AFFINITY
        RT_QOS_BATCH
        RT_QOS_UCLAMP
        RT_QOS_NICE
        RT_QOS_DARWIN_CLASS

cdef extern from "pool.h" nogil:
    ctypedef struct rt_pool:
        pass
    ctypedef int (*rt_range_fn)(int64_t begin, int64_t end, void *ctx) noexcept nogil
    ctypedef int (*rt_interrupt_fn)(void *ctx) noexcept nogil
    ctypedef struct rt_pool_config:
        int num_workers
        int64_t spin_ns
        void (*on_worker_exit)(void *arg) noexcept nogil
        void *hook_arg
    ctypedef struct rt_for_options:
        int64_t grain
        int64_t max_chunk
        int64_t align
        rt_interrupt_fn interrupt
        void *interrupt_ctx
        int64_t interrupt_period_ns
        int has_qos
        rt_qos_level qos
        const rt_cpuset *qos_cpus
        const rt_cpuset *thread_cpus
        int thread_cpus_count
        int tail_boost
        const rt_cpuset *boost_cpus
    ctypedef struct rt_pool_stats:
        int workers
        int sleeping
        int inactive
        unsigned long long leaves
        unsigned long long steals
        unsigned long long injected
        unsigned long long parks
        unsigned long long boosts
    enum:
        RT_OK
        RT_STOPPED
        RT_INTERRUPTED
        RT_MAX_WORKERS
    int rt_pool_create(const rt_pool_config *config, rt_pool **out)
    void rt_pool_destroy(rt_pool *pool)
    int rt_pool_resize(rt_pool *pool, int num_workers)
    int rt_pool_num_workers(const rt_pool *pool)
    int rt_parallel_for(rt_pool *pool, int64_t begin, int64_t end,
                        const rt_for_options *options, rt_range_fn body, void *ctx)
    void rt_pool_get_stats(rt_pool *pool, rt_pool_stats *out)
    ctypedef void (*rt_fn)(void *ctx) noexcept nogil
    int rt_pool_submit(rt_pool *pool, rt_fn fn, void *ctx)
    int rt_pool_current_slot(const rt_pool *pool)
    ctypedef struct rt_level_frame:
        pass
    int rt_pool_level_enter(rt_pool *pool, rt_qos_level level, const rt_cpuset *cpus,
                            rt_level_frame *frame)
    void rt_pool_level_leave(rt_level_frame *frame)
    void rt_after_fork_child()
    int rt_pool_trace_start(rt_pool *pool, int64_t capacity)
    int64_t rt_pool_trace_stop(rt_pool *pool, int64_t *start_ns)
    int64_t rt_pool_trace_read(rt_pool *pool, rt_trace_event *out, int64_t max, int64_t *dropped)
    void rt_pool_trace_note(rt_pool *pool, int type, int level, int64_t lo, int64_t hi)

cdef extern from "trace.h" nogil:
    ctypedef struct rt_trace_event:
        pass
    int64_t rt_trace_now_ns()
    int64_t rt_trace_cpu_bits(const rt_cpuset *cpus)
    enum:
        RT_TRACE_MAX_CAPACITY
        RT_TRACE_QOS
        RT_TRACE_BOOST
        RT_TRACE_BOOST_END

cdef extern from "_freethreading.h" nogil:
    ctypedef struct rt_ft_mutex:
        pass
    void rt_ft_lock(rt_ft_mutex *m)
    void rt_ft_unlock(rt_ft_mutex *m)
    void rt_ft_reset(rt_ft_mutex *m)
    int rt_ft_build()

cdef extern from "_pythread.h" nogil:
    void rt_python_attach_thread()
    void rt_python_detach_thread(void *unused)

cdef extern from *:
    const char *RUNTIME_BUILD  # "release", "debug" or "sanitize=..." (setup.py)

cdef extern from "pythread.h":
    unsigned long PyThread_get_thread_ident() nogil

cdef extern from "_kernels.h" nogil:
    void rt_kernel_noop(int64_t begin, int64_t end, void *ctx)
    void rt_kernel_iota(int64_t begin, int64_t end, void *ctx)
    void rt_kernel_skewed(int64_t begin, int64_t end, void *ctx)
    void rt_kernel_sum(int64_t begin, int64_t end, void *ctx)

MAX_THREADS = RT_MAX_WORKERS + 1
TRACE_MAX_CAPACITY = RT_TRACE_MAX_CAPACITY  # events per thread (csrc/trace.h)
BUILD = RUNTIME_BUILD.decode()

# Addresses of the demo kernels in _kernels.c (see runtime/_kernels.py).
KERNELS = {
    "noop": <uintptr_t>&rt_kernel_noop,
    "iota": <uintptr_t>&rt_kernel_iota,
    "skewed": <uintptr_t>&rt_kernel_skewed,
    "sum": <uintptr_t>&rt_kernel_sum,
}

# The module's state below is guarded by _state_lock: by the GIL alone on
# the GIL build (there the lock is nothing, _freethreading.h), by a mutex on
# a free-threaded one.  The pool may be shut down (freed) only while no call
# is inside it: every use of the pointer outside the lock holds a count in
# _active_calls (_acquire_pool / _release_pool).
cdef rt_ft_mutex _state_lock
cdef rt_pool *_pool = NULL
# Tracing (bottom of this file): a trace outlives a shutdown of the pool.
cdef int64_t _trace_capacity = 0  # events per thread; 0: no trace running
cdef int64_t _trace_started_ns = 0
_trace_chunks = []  # (events as bytes, dropped) of pools shut down mid-trace
cdef int _num_threads = 0          # configured; 0 until configure() is called
cdef int64_t _spin_ns = -1
cdef int _active_calls = 0         # calls inside the pool
cdef unsigned long _main_thread_ident = threading.main_thread().ident
# One thread starts the pool (rt_pool_create runs without the GIL).
_pool_lock = threading.Lock()
# Whether this module was built for a free-threaded interpreter (3.13t).
FREE_THREADED_BUILD = bool(rt_ft_build())


cdef class _Job:
    """State shared by the chunks of one Python job: the body, the caller's
    context, and the first exception a chunk raised.

    Every chunk runs in a copy of the caller's contextvars context, on
    whichever thread: np.errstate, decimal contexts and the caller's own
    context variables hold inside chunks as they would in a plain call (as
    asyncio.to_thread does).  A copy per chunk, because one context cannot
    be entered by two threads at once."""
    cdef object body
    cdef object context
    cdef object error
    cdef rt_ft_mutex error_lock  # chunks on several threads may fail at once

    def __cinit__(self, body):
        self.body = body
        self.context = contextvars.copy_context()
        self.error = None

    cdef int run_chunk(self, int64_t begin, int64_t end):
        # (Read without the lock: a chunk that misses an error set just now
        # runs, as it would have had it started a moment earlier.)
        if self.error is not None:
            return 1
        try:
            self.context.copy().run(self.body, begin, end)
        except BaseException as exc:
            self.keep_first(exc)
            return 1
        return 0

    cdef int check_signals(self):
        try:
            PyErr_CheckSignals()
        except BaseException as exc:
            self.keep_first(exc)
            return 1
        return 0

    cdef void keep_first(self, exc):
        rt_ft_lock(&self.error_lock)
        if self.error is None:
            self.error = exc
        rt_ft_unlock(&self.error_lock)


cdef int _python_chunk(int64_t begin, int64_t end, void *ctx) noexcept nogil:
    rt_python_attach_thread()
    with gil:
        return (<_Job>ctx).run_chunk(begin, end)


cdef int _poll_signals(void *ctx) noexcept nogil:
    with gil:
        return (<_Job>ctx).check_signals()


ctypedef void (*native_kernel)(int64_t begin, int64_t end, void *ctx) noexcept nogil

cdef struct NativeJob:
    native_kernel kernel
    void *ctx


cdef int _native_chunk(int64_t begin, int64_t end, void *ctx) noexcept nogil:
    cdef NativeJob *job = <NativeJob *>ctx
    job.kernel(begin, end, job.ctx)
    return 0


cdef rt_pool *_acquire_pool() except NULL:
    """The pool, created on first use; counts the caller as active."""
    global _active_calls
    cdef rt_pool *pool
    rt_ft_lock(&_state_lock)
    pool = _pool
    if pool != NULL:
        _active_calls += 1
    rt_ft_unlock(&_state_lock)
    return pool if pool != NULL else _start_pool()


cdef rt_pool *_start_pool() except NULL:
    """_acquire_pool when there is no pool: start one (or take the one
    another thread started meanwhile)."""
    global _pool, _active_calls
    cdef rt_pool_config config
    cdef rt_pool *pool
    cdef int rc
    with _pool_lock:
        rt_ft_lock(&_state_lock)
        try:
            if _pool == NULL:
                if _num_threads < 1:
                    raise RuntimeError("runtime._core.configure() was not called")
                config.num_workers = _num_threads - 1
                config.spin_ns = _spin_ns
                config.on_worker_exit = rt_python_detach_thread
                config.hook_arg = NULL
                with nogil:
                    rc = rt_pool_create(&config, &pool)
                if rc != 0:
                    raise OSError(rc, f"runtime: cannot start {_num_threads - 1} worker threads: "
                                      f"{os.strerror(rc)}")
                if _trace_capacity > 0:  # a trace outlives a shutdown
                    rt_pool_trace_start(pool, _trace_capacity)
                rt_store_release_ptr(<void **>&_pool, pool)
            _active_calls += 1
            return _pool
        finally:
            rt_ft_unlock(&_state_lock)


cdef inline void _release_pool() noexcept:
    global _active_calls
    rt_ft_lock(&_state_lock)
    _active_calls -= 1
    rt_ft_unlock(&_state_lock)


# The QoS level of the jobs a context starts (runtime.qos sets it; -1: each
# thread's own setting), and the CPUs each level may use (runtime._qos
# computes them from the topology; empty: any CPU).
qos_level = contextvars.ContextVar("runtime_qos_level", default=-1)
cdef rt_cpuset _placement[4]
# An override moves a running thread to the level's CPUs even where that
# level leaves a thread's own affinity alone (initiated, interactive): here
# every CPU the process may use.
cdef rt_cpuset _override_placement[4]


def set_placement(int level, cpus, override_cpus):
    """The CPUs jobs at `level` run on (empty: any), and those an override
    to `level` moves a running thread to (empty: affinity unchanged)."""
    if not 0 <= level < 4:
        raise ValueError(f"QoS level must be 0..3, got {level}")
    memset(&_placement[level], 0, sizeof(rt_cpuset))
    memset(&_override_placement[level], 0, sizeof(rt_cpuset))
    for cpu in cpus:
        rt_cpuset_add(&_placement[level], cpu)
    for cpu in override_cpus:
        rt_cpuset_add(&_override_placement[level], cpu)


# Per-thread placement within a job at each level (csrc/pool.h,
# rt_for_options.thread_cpus): runtime._qos spreads interactive jobs over
# the kinds, performance first.  Count 0: every thread uses the level's CPUs.
cdef rt_cpuset *_thread_placement[4]
cdef int _thread_placement_count[4]


def set_thread_placement(int level, per_thread):
    """The CPUs of the caller (per_thread[0]) and of each worker w
    (per_thread[w + 1]) for jobs at `level`; [] for none."""
    if not 0 <= level < 4:
        raise ValueError(f"QoS level must be 0..3, got {level}")
    cdef int n = len(per_thread)
    cdef rt_cpuset *sets = NULL
    if n > 0:
        sets = <rt_cpuset *>malloc(n * sizeof(rt_cpuset))
        if sets == NULL:
            raise MemoryError()
        memset(sets, 0, n * sizeof(rt_cpuset))
        for i, cpus in enumerate(per_thread):
            for cpu in cpus:
                rt_cpuset_add(&sets[i], cpu)
    # The old array is left allocated: a job started before may still use
    # it (placement is set once per process; a few KiB at most).
    _thread_placement[level] = sets
    _thread_placement_count[level] = n


cdef class ThreadQos:
    """Context manager: the calling thread at a QoS level (and its CPUs),
    its own setting restored on exit (for work that runs inline).  Levels
    nest as a stack; on a pool thread inside a job's chunk the level
    replaces the job's and the job's comes back on exit
    (rt_pool_level_enter)."""
    cdef rt_level_frame frame
    cdef int level
    cdef int applied

    def __cinit__(self, int level):
        self.level = level
        self.applied = 0

    def __enter__(self):
        cdef rt_pool *pool
        if 0 <= self.level < 4:
            # The pool's workers start from the setting of the thread that
            # creates the pool: create it before this thread leaves its own.
            # Held while the level is entered (another thread may shut the
            # pool down); a participant of the pool is inside one of its
            # jobs, which holds the pool alive until after this block ends.
            pool = _acquire_pool()
            try:
                changed = rt_pool_level_enter(pool, self.level, &_placement[self.level],
                                              &self.frame)
                self.applied = 1
                _trace_note(RT_TRACE_QOS, self.level,
                            rt_trace_cpu_bits(&_placement[self.level]), changed)
            finally:
                _release_pool()
        return self

    def __exit__(self, *exc):
        if self.applied:
            rt_pool_level_leave(&self.frame)
            self.applied = 0
            _trace_note(RT_TRACE_QOS, -1, 0, 0)
        return False


# Tail boost (csrc/pool.h): on unless RUNTIME_TAIL_BOOST (read by
# runtime/_config.py when it configures the pool, before any job) or
# set_tail_boost(False) turns it off; onto the performance kinds on
# heterogeneous machines.
cdef int _tail_boost = 1
cdef rt_cpuset _boost_cpus


def set_tail_boost(bint enabled, cpus=None):
    """Turn the tail boost on or off; `cpus`: where it moves a raised thread."""
    global _tail_boost
    _tail_boost = enabled
    if cpus is not None:
        memset(&_boost_cpus, 0, sizeof(rt_cpuset))
        for cpu in cpus:
            rt_cpuset_add(&_boost_cpus, cpu)


def tail_boost_enabled():
    return bool(_tail_boost)


cdef void _fill_options(rt_for_options *options, int64_t grain, int64_t max_chunk,
                        int64_t align, _Job job):
    options.grain = grain
    options.max_chunk = max_chunk
    options.align = align
    options.interrupt_period_ns = 0
    cdef int level = qos_level.get()
    options.has_qos = 0 <= level < 4
    options.qos = level if options.has_qos else 0
    options.qos_cpus = &_placement[level] if options.has_qos else NULL
    options.thread_cpus = _thread_placement[level] if options.has_qos else NULL
    options.thread_cpus_count = _thread_placement_count[level] if options.has_qos else 0
    options.tail_boost = _tail_boost
    options.boost_cpus = &_boost_cpus
    # Only the main thread receives signals, so only it polls.
    if PyThread_get_thread_ident() == _main_thread_ident:
        options.interrupt = _poll_signals
        options.interrupt_ctx = <void *>job
    else:
        options.interrupt = NULL
        options.interrupt_ctx = NULL


cdef _raise_for(int status, _Job job):
    cdef object error
    if job.error is not None:
        error = job.error
        job.error = None  # no cycle through the traceback's frames
        raise error
    if status == RT_INTERRUPTED:
        raise KeyboardInterrupt
    if status != RT_OK:
        raise RuntimeError(f"runtime: job stopped with status {status}")


cdef _run(int64_t begin, int64_t end, int64_t grain, int64_t max_chunk, int64_t align,
          rt_range_fn body, void *ctx, _Job job):
    """Run a job on the pool, the GIL released while it runs, and raise
    what it raised."""
    cdef rt_for_options options
    cdef int status
    _fill_options(&options, grain, max_chunk, align, job)
    cdef rt_pool *pool = _acquire_pool()
    try:
        with nogil:
            status = rt_parallel_for(pool, begin, end, &options, body, ctx)
    finally:
        _release_pool()
    _raise_for(status, job)


def parallel_for_python(body, int64_t begin, int64_t end, int64_t grain=1,
                        int64_t max_chunk=0, int64_t align=1):
    """Run body(start, stop) over [begin, end) split into chunks on the pool."""
    cdef _Job job = _Job(body)
    _run(begin, end, grain, max_chunk, align, _python_chunk, <void *>job, job)


def parallel_for_native(uintptr_t kernel, uintptr_t ctx, int64_t begin, int64_t end,
                        int64_t grain=1, int64_t max_chunk=0, int64_t align=1):
    """Run the C function kernel(start, stop, ctx) over [begin, end), no GIL."""
    cdef NativeJob native
    native.kernel = <native_kernel>kernel
    native.ctx = <void *>ctx
    _run(begin, end, grain, max_chunk, align, _native_chunk, &native, _Job(None))


# Jobs started by C code that runs without the GIL (NumPy's inner loops,
# replaced by runtime.numpy.patch()): it cannot create the pool or count
# itself in _active_calls, so it counts itself here, and shutdown() waits
# for none of these to be running (or returns False).
cdef extern from * nogil:
    int __atomic_load_n(int *ptr, int order)
    void __atomic_store_n(int *ptr, int value, int order)
    int __atomic_fetch_add(int *ptr, int value, int order)
    int __atomic_fetch_sub(int *ptr, int value, int order)
    int __ATOMIC_SEQ_CST

cdef int _nogil_calls = 0
cdef int _nogil_closing = 0

# The pool pointer as callers without any lock read it: written with
# release (_start_pool, shutdown), read with acquire.
cdef extern from *:
    """
    static inline void *rt_load_acquire_ptr(void **p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
    static inline void rt_store_release_ptr(void **p, void *v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
    """
    void *rt_load_acquire_ptr(void **p) noexcept nogil
    void rt_store_release_ptr(void **p, void *v) noexcept nogil


cdef int _nogil_parallel_for(int64_t begin, int64_t end, int64_t grain, int64_t max_chunk,
                             rt_range_fn body, void *ctx) noexcept nogil:
    """Run body over [begin, end) on the pool from any thread, GIL held or
    not: no QoS level (that lives in a context variable), no Ctrl-C polling
    (the job must finish: NumPy's loop cannot stop half way).  Returns -1,
    having run nothing, when the pool is not running (never started, shut
    down, or this is a forked child): the caller then runs the work itself."""
    cdef rt_for_options options
    cdef rt_pool *pool
    cdef int status
    __atomic_fetch_add(&_nogil_calls, 1, __ATOMIC_SEQ_CST)
    # The pointer only after the door: a caller that sees it open either
    # came in before shutdown looked at _nogil_calls (which then gives up),
    # or after shutdown cleared the pointer and reopened the door.  (Read
    # before the door, the pointer could be one shutdown was about to free.)
    if __atomic_load_n(&_nogil_closing, __ATOMIC_SEQ_CST):
        __atomic_fetch_sub(&_nogil_calls, 1, __ATOMIC_SEQ_CST)
        return -1
    pool = <rt_pool *>rt_load_acquire_ptr(<void **>&_pool)
    if pool == NULL:
        __atomic_fetch_sub(&_nogil_calls, 1, __ATOMIC_SEQ_CST)
        return -1
    memset(&options, 0, sizeof(options))
    options.grain = grain
    options.max_chunk = max_chunk
    options.align = 1
    options.tail_boost = _tail_boost
    options.boost_cpus = &_boost_cpus
    status = rt_parallel_for(pool, begin, end, &options, body, ctx)
    __atomic_fetch_sub(&_nogil_calls, 1, __ATOMIC_SEQ_CST)
    return status


cdef int _nogil_current_slot() noexcept nogil:
    """The calling thread's slot in the pool (-1: not inside a job)."""
    cdef rt_pool *pool = <rt_pool *>rt_load_acquire_ptr(<void **>&_pool)
    return -1 if pool == NULL else rt_pool_current_slot(pool)


cdef int _nogil_num_threads() noexcept nogil:
    return _num_threads


# The table runtime.numpy's patched loops call (runtime/numpy/_patched_loops.pyx
# declares the same struct); versioned by the capsule's name.
cdef struct NogilApi:
    int (*parallel_for)(int64_t, int64_t, int64_t, int64_t, rt_range_fn, void *) noexcept nogil
    int (*current_slot)() noexcept nogil
    int (*num_threads)() noexcept nogil

cdef NogilApi _nogil_api
_nogil_api.parallel_for = _nogil_parallel_for
_nogil_api.current_slot = _nogil_current_slot
_nogil_api.num_threads = _nogil_num_threads
nogil_api = PyCapsule_New(<void *>&_nogil_api, b"runtime._core.nogil_api.v1", NULL)


def start_for_nogil_callers():
    """Start the pool now if it is not running (callers without the GIL
    cannot start it); returns whether it runs."""
    if configured_threads() < 2:
        return started()
    _acquire_pool()
    _release_pool()
    return True


def call_native(uintptr_t kernel, uintptr_t ctx, int64_t begin, int64_t end):
    """Call the C function kernel(begin, end, ctx) once, here, without the GIL."""
    cdef native_kernel fn = <native_kernel>kernel
    with nogil:
        fn(begin, end, <void *>ctx)


def configure(int num_threads, double spin_us=-1.0):
    """Set the number of threads (caller included); resizes a running pool."""
    global _num_threads, _spin_ns
    cdef int rc = 0
    cdef rt_pool *pool
    if num_threads < 1 or num_threads > RT_MAX_WORKERS + 1:
        raise ValueError(f"num_threads must be between 1 and {RT_MAX_WORKERS + 1}, "
                         f"got {num_threads}")
    rt_ft_lock(&_state_lock)
    _num_threads = num_threads
    if spin_us >= 0:
        _spin_ns = <int64_t>(spin_us * 1000)
    running = _pool != NULL
    rt_ft_unlock(&_state_lock)
    if not running:
        return
    pool = _acquire_pool()
    try:
        with nogil:
            rc = rt_pool_resize(pool, num_threads - 1)
    finally:
        _release_pool()
    if rc != 0:
        raise OSError(rc, f"runtime: cannot start worker threads: {os.strerror(rc)} "
                          f"(running with {rt_pool_num_workers(pool) + 1} threads)")


def configured_threads():
    """The configured number of threads, 0 before configure()."""
    rt_ft_lock(&_state_lock)
    cdef int threads = _num_threads
    rt_ft_unlock(&_state_lock)
    return threads


def shutdown():
    """Stop and join the worker threads; the next call starts them again.
    Returns False (and leaves the pool alone) while calls are running."""
    global _pool
    cdef rt_pool *pool
    rt_ft_lock(&_state_lock)
    try:
        pool = _pool
        if pool == NULL:
            return True
        if _active_calls > 0:
            return False
        # Close the door to callers without the GIL (_nogil_parallel_for), then
        # look: either such a caller sees _nogil_closing, or this sees its count.
        __atomic_store_n(&_nogil_closing, 1, __ATOMIC_SEQ_CST)
        if __atomic_load_n(&_nogil_calls, __ATOMIC_SEQ_CST) > 0:
            __atomic_store_n(&_nogil_closing, 0, __ATOMIC_SEQ_CST)
            return False
        rt_store_release_ptr(<void **>&_pool, NULL)  # from here on no other thread can reach it
        __atomic_store_n(&_nogil_closing, 0, __ATOMIC_SEQ_CST)
        if _trace_capacity > 0:
            _trace_drain(pool)  # keep what the trace recorded so far
    finally:
        rt_ft_unlock(&_state_lock)
    with nogil:
        rt_pool_destroy(pool)
    return True


def started():
    """Whether the worker threads are running."""
    rt_ft_lock(&_state_lock)
    cdef bint running = _pool != NULL
    rt_ft_unlock(&_state_lock)
    return running


def stats():
    """Counters of the pool (all zero before it starts)."""
    cdef rt_pool_stats st
    rt_ft_lock(&_state_lock)
    cdef bint running = _pool != NULL
    if running:
        rt_pool_get_stats(_pool, &st)
    rt_ft_unlock(&_state_lock)
    if not running:
        return {"workers": 0, "sleeping": 0, "inactive": 0, "leaves": 0, "steals": 0,
                "injected": 0, "parks": 0, "boosts": 0}
    return {"workers": st.workers, "sleeping": st.sleeping, "inactive": st.inactive,
            "leaves": st.leaves, "steals": st.steals, "injected": st.injected,
            "parks": st.parks, "boosts": st.boosts}


def current_slot():
    """The calling thread's slot: a worker's index, RT_MAX_WORKERS + k for a
    caller inside a call, -1 otherwise."""
    cdef int slot = -1
    rt_ft_lock(&_state_lock)
    if _pool != NULL:
        slot = rt_pool_current_slot(_pool)
    rt_ft_unlock(&_state_lock)
    return slot


def _after_fork_child():
    # The pool's threads do not exist in the child: forget the pool (its
    # memory is lost, and its mutexes may be held by threads that are gone)
    # and start a new one on first use.  The locks too: a thread of the
    # parent that held one is gone.
    global _pool, _active_calls, _pool_lock, _nogil_calls, _nogil_closing
    rt_ft_reset(&_state_lock)
    _pool = NULL
    _active_calls = 0
    _nogil_calls = 0
    _nogil_closing = 0
    _pool_lock = threading.Lock()
    rt_after_fork_child()


os.register_at_fork(after_in_child=_after_fork_child)


# threadpoolctl finds this library by its file name and checks for this
# symbol before handing it to runtime's controller (runtime/_threadpoolctl.py).
cdef public int runtime_threadpool_get_num_threads() noexcept nogil:
    return _num_threads


_QOS_MECHANISMS = (("affinity", RT_QOS_AFFINITY), ("SCHED_BATCH", RT_QOS_BATCH),
                   ("util-clamp", RT_QOS_UCLAMP), ("nice", RT_QOS_NICE),
                   ("QoS classes", RT_QOS_DARWIN_CLASS))


def qos_mechanisms():
    """(platform, {mechanism: None if available, else why not}) of csrc/qos*.c."""
    reasons = {}
    for name, bit in _QOS_MECHANISMS:
        reason = rt_qos_unavailable_reason(bit)
        reasons[name] = None if reason == NULL else reason.decode()
    return rt_qos_platform().decode(), reasons



cdef class Override:
    """A raised QoS level on another thread (rt_qos_override_start), until end()."""
    cdef rt_qos_saved saved
    cdef uint64_t thread
    cdef int active

    def __cinit__(self, uint64_t thread, int level):
        self.thread = thread
        self.active = 0
        if 0 <= level < 4:
            rt_qos_override_start(thread, level, &_override_placement[level], &self.saved)
            self.active = 1
            _trace_note(RT_TRACE_BOOST, level, <int64_t>thread,
                        rt_trace_cpu_bits(&_override_placement[level]))

    def end(self):
        if self.active:
            rt_qos_override_end(self.thread, &self.saved)
            self.active = 0
            _trace_note(RT_TRACE_BOOST_END, -1, <int64_t>self.thread, 0)


def thread_handle():
    """This thread, as rt_qos_override_start names threads (Linux: its tid)."""
    return rt_qos_thread_self()


cdef void _submitted(void *ctx) noexcept nogil:
    rt_python_attach_thread()
    with gil:
        task = <object>ctx
        try:
            task()
        except BaseException:
            pass  # the task records its own outcome (runtime._submit)
        finally:
            Py_DECREF(task)
            _release_pool()


def submit(task):
    """Run task() on a worker, with no waiter; the pool stays up until it
    has run.  Needs at least one worker (the caller runs it otherwise)."""
    cdef rt_pool *pool = _acquire_pool()
    cdef int rc
    Py_INCREF(task)
    with nogil:
        rc = rt_pool_submit(pool, _submitted, <void *>task)
    if rc != 0:
        Py_DECREF(task)
        _release_pool()
        raise OSError(rc, f"runtime.submit: {os.strerror(rc)}")


# ---- tracing (csrc/trace.h; runtime/_trace.py builds on this) ----------



cdef void _trace_note(int kind, int level, int64_t lo, int64_t hi):
    rt_ft_lock(&_state_lock)
    if _trace_capacity > 0 and _pool != NULL:
        rt_pool_trace_note(_pool, kind, level, lo, hi)
    rt_ft_unlock(&_state_lock)


cdef _trace_drain(rt_pool *pool):
    """Stop the pool's trace and keep its events in _trace_chunks (the
    caller holds _state_lock)."""
    cdef int64_t start_ns, dropped = 0, n, got
    cdef rt_trace_event *events
    with nogil:
        n = rt_pool_trace_stop(pool, &start_ns)
    events = <rt_trace_event *>malloc((n if n > 0 else 1) * sizeof(rt_trace_event))
    if events == NULL:
        raise MemoryError(f"runtime.trace: no memory for {n} events")
    try:
        with nogil:
            got = rt_pool_trace_read(pool, events, n, &dropped)
        _trace_chunks.append(((<char *>events)[:got * sizeof(rt_trace_event)], dropped))
    finally:
        free(events)


def trace_start(int64_t capacity):
    """Start recording, `capacity` events per thread; returns the start
    time (CLOCK_MONOTONIC ns)."""
    global _trace_capacity, _trace_started_ns
    if capacity <= 0 or capacity > RT_TRACE_MAX_CAPACITY:
        raise ValueError(f"runtime.trace: capacity must be 1 to {RT_TRACE_MAX_CAPACITY} events "
                         f"per thread, got {capacity}")
    cdef rt_pool *pool = _acquire_pool()
    cdef int rc
    try:
        rt_ft_lock(&_state_lock)
        try:
            if _trace_capacity > 0:
                raise RuntimeError("runtime.trace: a trace is already running (one at a time)")
            _trace_chunks.clear()
            _trace_started_ns = rt_trace_now_ns()
            rc = rt_pool_trace_start(pool, capacity)
            if rc != 0:
                raise OSError(rc, f"runtime.trace: cannot start a trace: {os.strerror(rc)}")
            _trace_capacity = capacity
            return _trace_started_ns
        finally:
            rt_ft_unlock(&_state_lock)
    finally:
        _release_pool()


def trace_running():
    rt_ft_lock(&_state_lock)
    cdef bint running = _trace_capacity > 0
    rt_ft_unlock(&_state_lock)
    return running


def trace_stop():
    """Stop recording: (start ns, [(events as bytes, dropped), ...])."""
    global _trace_capacity
    cdef rt_pool *pool = NULL
    if started():
        pool = _acquire_pool()  # shutdown() must not free it while we read
    try:
        rt_ft_lock(&_state_lock)
        try:
            if _trace_capacity == 0:
                raise RuntimeError("runtime.trace: no trace is running")
            if pool != NULL:
                _trace_drain(pool)
            _trace_capacity = 0
            chunks = list(_trace_chunks)
            _trace_chunks.clear()
            return _trace_started_ns, chunks
        finally:
            rt_ft_unlock(&_state_lock)
    finally:
        if pool != NULL:
            _release_pool()
