/* The replacement of NumPy's inner loops installed by runtime.numpy.patch().
 *
 * NumPy keeps each ufunc's legacy loops in a table (PyUFuncObject's
 * functions[], one per type signature in types[]); NumPy 2.x's ArrayMethod
 * wrapper looks the pointer up again on every call (the legacy inner loop
 * selector), so replacing the entry is seen by the next call, whatever
 * calls the ufunc: operators, methods, other libraries.
 *
 * Each replaced entry points to a trampoline of its own (rt_trampolines
 * below), which knows its record by its index.  The loop's `data` pointer
 * (ufunc->data[i]) is left alone: swapping two pointers is not atomic, and
 * a thread reading the table meanwhile could pair the new function with
 * the old data.  One pointer store patches or restores a loop.
 *
 * The trampoline calls NumPy's original loop, whole below a size that the
 * cost model sets (runtime/_schedule.py: the native inline cutoff over the
 * loop's measured serial cost per element), or on sub-ranges from the pool
 * above it.  Records are never freed: a loop pointer NumPy or runtime.numpy
 * took before restore() (runtime.numpy caches strided loops) stays valid
 * and, once restored, calls the original whole.
 *
 * No Python here: the trampolines run without the GIL, as NumPy calls them.
 */
#ifndef RUNTIME_NUMPY_PATCHED_LOOPS_H
#define RUNTIME_NUMPY_PATCHED_LOOPS_H

#include <fenv.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef intptr_t rt_intp; /* npy_intp */
typedef void (*rt_legacy_loop)(char **args, const rt_intp *dims, const rt_intp *steps,
                               void *data);
typedef int (*rt_range_fn)(int64_t begin, int64_t end, void *ctx);

/* runtime._core.nogil_api ("runtime._core.nogil_api.v1"). */
typedef struct {
    int (*parallel_for)(int64_t begin, int64_t end, int64_t grain, int64_t max_chunk,
                        rt_range_fn body, void *ctx);
    int (*current_slot)(void);
    int (*num_threads)(void);
} rt_nogil_api;

#define RT_PATCH_SLOTS 2048
#define RT_PATCH_MAX_OPERANDS 8
#define RT_FPE_ALL (FE_DIVBYZERO | FE_OVERFLOW | FE_UNDERFLOW | FE_INVALID)

/* What a reduction's result is, for the value-class check. */
enum { RT_RESULT_EXACT = 0, RT_RESULT_REAL = 1, RT_RESULT_COMPLEX = 2 };

/* Calls of 2^(k + RT_FIRST_BUCKET - 1) to 2^(k + RT_FIRST_BUCKET) - 1
 * elements share bucket k (the bit length of the size, as in
 * runtime._schedule); the first holds everything below, the last
 * everything above. */
#define RT_SIZE_BUCKETS 32
#define RT_FIRST_BUCKET 15

/* runtime._schedule.JUDGED_RUNS may be at most this. */
#define RT_JUDGED_RUNS_MAX 3

/* runtime._schedule's CostModel at one size: the fastest serial run (what
 * a parallel run is judged by), the runs of each kind, when the last serial
 * reference was made (parallel runs + 1; 0: never), and the losing streak
 * and its penalty. */
typedef struct {
    int64_t serial_ps;
    int64_t serial_runs;
    int64_t parallel_runs;
    int64_t referenced_at;
    /* The last parallel runs' times over the serial time, x 1000 (the
     * newest last), and how many are there: judged on their median. */
    int64_t recent[RT_JUDGED_RUNS_MAX];
    int64_t recent_n;
    int64_t lost_left; /* calls left to run whole after parallel lost */
    int64_t stretch;   /* the next such penalty (0: retry_after) */
    int64_t retrying;  /* the next parallel run follows a penalty */
} rt_size_bucket;

typedef struct {
    rt_legacy_loop original; /* NumPy's loop (atomic: read by stale callers) */
    int nin, nout;
    int reducible;   /* associative ufunc, inputs and output of one type */
    int result_kind; /* RT_RESULT_*: a real/complex reduction is checked finite */
    rt_intp itemsize[RT_PATCH_MAX_OPERANDS];
    /* Fastest cost per element seen, picoseconds (0: none yet): serial
     * runs, and parallel runs' wall time x threads (an upper bound).  It
     * decides whether a call is worth splitting, and how finely. */
    int64_t best_ps;
    /* Whether a split paid off is judged per size, as runtime._schedule's
     * CostModel does: small calls run from cache and would make big
     * parallel calls look lost. */
    rt_size_bucket buckets[RT_SIZE_BUCKETS];
    /* Counters, for tests and runtime info (relaxed atomics). */
    uint64_t whole_calls;
    uint64_t split_calls;
} rt_patched;

/* Settings written by Python (with the GIL), read relaxed by every call. */
typedef struct {
    int enabled;              /* 0: every trampoline calls the original whole */
    int threads;              /* the thread count the costs below are for */
    int64_t min_elements;     /* below this, whole without looking further */
    int64_t cutoff_ps;        /* serial time below which a call runs whole */
    double chunk_s;           /* a chunk's least time, seconds (_schedule.plan's chunk_time) */
    int64_t min_leaves;       /* _schedule.MIN_LEAVES_PER_THREAD */
    int64_t max_leaves;       /* _schedule.LEAVES_PER_THREAD */
    int64_t leaf_elements;    /* a reduction's fixed leaf */
    int64_t forced_grain;     /* RUNTIME_FORCE_SPLIT: split everything at this grain */
    /* runtime._schedule's constants of the same names. */
    double lost_margin;       /* LOST_MARGIN: a split this much slower than serial lost */
    int64_t judged_runs;      /* JUDGED_RUNS: parallel runs whose median is judged */
    int64_t retry_after;      /* RETRY_PARALLEL_AFTER: whole calls after a loss... */
    int64_t max_stretch;      /* MAX_INLINE_STRETCH: ... doubling up to this many */
    int64_t reference_every;  /* SERIAL_REFERENCE_EVERY: a serial run every N parallel */
    int64_t reference_max_ps; /* SERIAL_REFERENCE_MAX_S, picoseconds */
} rt_patch_settings;

static rt_patched rt_records[RT_PATCH_SLOTS];
static rt_patch_settings rt_settings;
static const rt_nogil_api *rt_api;

#define RT_LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define RT_STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define RT_ADD(x, v) ((void)__atomic_fetch_add(&(x), (v), __ATOMIC_RELAXED))

static int64_t rt_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void rt_keep_min(int64_t *best_ps, int64_t ps)
{
    int64_t best = RT_LOAD(*best_ps);
    while ((best == 0 || ps < best)
           && !__atomic_compare_exchange_n(best_ps, &best, ps, 0, __ATOMIC_RELAXED,
                                           __ATOMIC_RELAXED)) {
    }
}

static rt_size_bucket *rt_bucket(rt_patched *rec, int64_t n)
{
    int bits = 64 - __builtin_clzll((unsigned long long)(n | 1));
    int k = bits - RT_FIRST_BUCKET;
    k = k < 0 ? 0 : k >= RT_SIZE_BUCKETS ? RT_SIZE_BUCKETS - 1 : k;
    return &rec->buckets[k];
}

/* Keep the fastest cost per element seen (noise only adds time); a serial
 * run is also the reference parallel runs of its size are judged by. */
static void rt_note_cost(rt_patched *rec, int64_t elapsed_ns, int64_t elements, int serial)
{
    int64_t ps = elapsed_ns * 1000 / (elements > 0 ? elements : 1);
    if (ps < 1)
        ps = 1;
    rt_keep_min(&rec->best_ps, ps);
    if (serial) {
        rt_size_bucket *bucket = rt_bucket(rec, elements);
        rt_keep_min(&bucket->serial_ps, ps);
        RT_ADD(bucket->serial_runs, 1);
    }
}

static double rt_load_double(double *source)
{
    double value;
    __atomic_load(source, &value, __ATOMIC_RELAXED);
    return value;
}

/* The grain and largest chunk for `rows` elements of `row_s` seconds each:
 * the C twin of runtime._schedule.plan() (same arithmetic, tested equal). */
static void rt_plan(double row_s, int64_t rows, int threads, int64_t *grain,
                    int64_t *max_chunk)
{
    double chunk_s = rt_load_double(&rt_settings.chunk_s);
    int64_t min_leaves = RT_LOAD(rt_settings.min_leaves);
    int64_t max_leaves = RT_LOAD(rt_settings.max_leaves);
    int64_t floor_rows = (int64_t)ceil(chunk_s / (row_s > 1e-12 ? row_s : 1e-12));
    int64_t spread = rows / (min_leaves * threads);
    int64_t g, most;
    if (floor_rows < 1)
        floor_rows = 1; /* max(align, ...) with align 1 */
    g = spread < 4 * floor_rows ? spread : 4 * floor_rows;
    if (g < floor_rows)
        g = floor_rows;
    if (g > (rows / 2 > 1 ? rows / 2 : 1))
        g = rows / 2 > 1 ? rows / 2 : 1;
    most = (rows + max_leaves * threads - 1) / (max_leaves * threads);
    *grain = g;
    *max_chunk = most > g ? most : g;
}

/* ---- elementwise: each chunk is the original loop on a sub-range ---- */

typedef struct {
    rt_legacy_loop loop;
    void *data;
    int nargs;
    char *args[RT_PATCH_MAX_OPERANDS];
    rt_intp steps[RT_PATCH_MAX_OPERANDS];
    int fpe; /* FE_* raised by any chunk (atomic OR) */
} rt_elementwise_job;

static int rt_elementwise_chunk(int64_t begin, int64_t end, void *ctx)
{
    rt_elementwise_job *job = ctx;
    char *args[RT_PATCH_MAX_OPERANDS];
    rt_intp count = (rt_intp)(end - begin);
    int raised;
    for (int i = 0; i < job->nargs; i++)
        args[i] = job->args[i] + (rt_intp)begin * job->steps[i];
    feclearexcept(RT_FPE_ALL);
    job->loop(args, &count, job->steps, job->data);
    raised = fetestexcept(RT_FPE_ALL);
    if (raised)
        __atomic_fetch_or(&job->fpe, raised, __ATOMIC_RELAXED);
    return 0;
}

/* Whether outputs overlap other operands other than exactly (same pointer,
 * same stride): accumulate and reduceat call loops whose output is the
 * next input, which only an element-by-element run computes right. */
static int rt_outputs_overlap(const rt_patched *rec, char **args, const rt_intp *steps,
                              rt_intp n)
{
    int nargs = rec->nin + rec->nout;
    for (int o = rec->nin; o < nargs; o++) {
        char *olo = args[o] + (steps[o] < 0 ? (n - 1) * steps[o] : 0);
        char *ohi = args[o] + (steps[o] > 0 ? (n - 1) * steps[o] : 0) + rec->itemsize[o];
        for (int j = 0; j < nargs; j++) {
            char *lo, *hi;
            if (j == o || (args[j] == args[o] && steps[j] == steps[o]))
                continue;
            lo = args[j] + (steps[j] < 0 ? (n - 1) * steps[j] : 0);
            hi = args[j] + (steps[j] > 0 ? (n - 1) * steps[j] : 0) + rec->itemsize[j];
            if (lo < ohi && olo < hi)
                return 1;
        }
    }
    return 0;
}

/* Returns 0 when the pool ran the call, -1 when it did not (no pool: the
 * caller runs it whole).  No other failure: the job polls for no signal and
 * the pool cannot stop while a call is inside (runtime._core.shutdown). */
static int rt_split_elementwise(rt_patched *rec, char **args, rt_intp n, const rt_intp *steps,
                                void *data, int64_t grain, int64_t max_chunk)
{
    rt_elementwise_job job;
    int prior = fetestexcept(RT_FPE_ALL);
    job.loop = RT_LOAD(rec->original);
    job.data = data;
    job.nargs = rec->nin + rec->nout;
    for (int i = 0; i < job.nargs; i++) {
        job.args[i] = args[i];
        job.steps[i] = steps[i];
    }
    job.fpe = 0;
    if (rt_api->parallel_for(0, n, grain, max_chunk, rt_elementwise_chunk, &job) == -1) {
        /* Not run (no pool); the caller's flags may have been cleared by
         * nothing, but restore them all the same. */
        feraiseexcept(prior);
        return -1;
    }
    /* The caller's own chunks cleared its flags: put back what it had and
     * what every chunk raised, for NumPy to check after the loop. */
    feclearexcept(RT_FPE_ALL);
    feraiseexcept(prior | __atomic_load_n(&job.fpe, __ATOMIC_RELAXED));
    return 0;
}

/* ---- binary reductions (x.sum(), np.maximum.reduce): fixed leaves ---- */

typedef struct {
    rt_legacy_loop loop;
    void *data;
    char *in;
    rt_intp in_step;
    rt_intp itemsize;
    int64_t leaf;
    int64_t n;
    char *partials;
    int fpe;
} rt_reduce_job;

static int rt_reduce_chunk(int64_t begin, int64_t end, void *ctx)
{
    rt_reduce_job *job = ctx;
    for (int64_t k = begin; k < end; k++) {
        int64_t start = k * job->leaf;
        int64_t count = job->n - start < job->leaf ? job->n - start : job->leaf;
        char *partial = job->partials + k * job->itemsize;
        /* The leaf starts from its first element, as NumPy's reduction does
         * without an initial value: no identity is needed. */
        memcpy(partial, job->in + start * job->in_step, (size_t)job->itemsize);
        if (count > 1) {
            char *args[3] = {partial, job->in + (start + 1) * job->in_step, partial};
            rt_intp steps[3] = {0, job->in_step, 0};
            rt_intp rest = (rt_intp)(count - 1);
            int raised;
            feclearexcept(RT_FPE_ALL);
            job->loop(args, &rest, steps, job->data);
            raised = fetestexcept(RT_FPE_ALL);
            if (raised)
                __atomic_fetch_or(&job->fpe, raised, __ATOMIC_RELAXED);
        }
    }
    return 0;
}

static int rt_is_finite(const char *value, rt_intp itemsize)
{
    switch (itemsize) {
    case 2: { /* half: exponent all ones is inf or nan */
        uint16_t h;
        memcpy(&h, value, 2);
        return (h & 0x7c00u) != 0x7c00u;
    }
    case 4: {
        float f;
        memcpy(&f, value, 4);
        return isfinite(f);
    }
    case 8: {
        double d;
        memcpy(&d, value, 8);
        return isfinite(d);
    }
    default: {
        long double g;
        memcpy(&g, value, sizeof(g) < (size_t)itemsize ? sizeof(g) : (size_t)itemsize);
        return isfinite(g);
    }
    }
}

static int rt_result_finite(const rt_patched *rec, const char *value)
{
    rt_intp size = rec->itemsize[2];
    if (rec->result_kind == RT_RESULT_REAL)
        return rt_is_finite(value, size);
    if (rec->result_kind == RT_RESULT_COMPLEX)
        return rt_is_finite(value, size / 2) && rt_is_finite(value + size / 2, size / 2);
    return 1;
}

static int rt_split_reduce(rt_patched *rec, char **args, rt_intp n, const rt_intp *steps,
                           void *data, int64_t leaf)
{
    rt_reduce_job job;
    rt_legacy_loop loop = RT_LOAD(rec->original);
    int64_t leaves = (n + leaf - 1) / leaf;
    rt_intp itemsize = rec->itemsize[2];
    char initial[64];
    char stack_partials[4096];
    int prior = fetestexcept(RT_FPE_ALL), raised;
    int threads = rt_api->num_threads();
    int64_t max_chunk;
    if (itemsize > (rt_intp)sizeof(initial))
        return -1;
    job.partials = leaves * itemsize <= (int64_t)sizeof(stack_partials)
                       ? stack_partials
                       : malloc((size_t)(leaves * itemsize));
    if (job.partials == NULL)
        return -1;
    memcpy(initial, args[0], (size_t)itemsize);
    job.loop = loop;
    job.data = data;
    job.in = args[1];
    job.in_step = steps[1];
    job.itemsize = itemsize;
    job.leaf = leaf;
    job.n = n;
    job.fpe = 0;
    max_chunk = (leaves + rt_settings.max_leaves * threads - 1)
                / (rt_settings.max_leaves * (threads > 0 ? threads : 1));
    if (rt_api->parallel_for(0, leaves, 1, max_chunk > 1 ? max_chunk : 1, rt_reduce_chunk,
                             &job) == -1) {
        if (job.partials != stack_partials)
            free(job.partials);
        feraiseexcept(prior);
        return -1;
    }
    /* The partial results in leaf order, into the accumulator. */
    {
        char *combine[3] = {args[0], job.partials, args[0]};
        rt_intp combine_steps[3] = {0, itemsize, 0};
        rt_intp count = (rt_intp)leaves;
        feclearexcept(RT_FPE_ALL);
        loop(combine, &count, combine_steps, data);
        raised = fetestexcept(RT_FPE_ALL) | __atomic_load_n(&job.fpe, __ATOMIC_RELAXED);
    }
    if (job.partials != stack_partials)
        free(job.partials);
    if (!rt_result_finite(rec, args[0])) {
        /* inf or nan where NumPy's order may give a number (a sum that
         * overflows half way): NumPy's own loop decides, flags and all. */
        memcpy(args[0], initial, (size_t)itemsize);
        feclearexcept(RT_FPE_ALL);
        loop(args, &n, steps, data);
        raised = fetestexcept(RT_FPE_ALL);
    }
    feclearexcept(RT_FPE_ALL);
    feraiseexcept(prior | raised);
    return 0;
}

/* ---- runtime._schedule's CostModel judgement, per loop and size ---- */

/* Whether a call that could split runs whole instead: parallel lost here
 * lately (a busy machine; the penalty counts down), or a serial reference
 * is due (twice at first, then every reference_every parallel runs, for
 * calls predicted at most reference_max_ps), as runtime._schedule's
 * parallel_lost and wants_serial_reference decide. */
static int rt_wants_whole(rt_size_bucket *b, int64_t predicted_ps)
{
    int64_t runs, every;
    if (RT_LOAD(b->lost_left) > 0) {
        if (__atomic_sub_fetch(&b->lost_left, 1, __ATOMIC_RELAXED) == 0)
            RT_STORE(b->retrying, 1);
        return 1;
    }
    runs = RT_LOAD(b->parallel_runs);
    every = RT_LOAD(rt_settings.reference_every);
    if (RT_LOAD(b->referenced_at) == runs + 1)
        return 0; /* one reference per stretch of parallel runs */
    if (!(RT_LOAD(b->referenced_at) == 0 && RT_LOAD(b->serial_runs) < 2)
        && (runs == 0 || runs % (every > 0 ? every : 1) != 0))
        return 0;
    RT_STORE(b->referenced_at, runs + 1);
    return predicted_ps <= RT_LOAD(rt_settings.reference_max_ps);
}

/* A parallel run's wall time, judged against the fastest serial run of its
 * size: the median of the last judged_runs runs over lost_margin times it,
 * or the run right after a penalty alone, runs calls of that size whole for
 * a stretch that doubles each time (runtime._schedule.CostModel.note_parallel). */
static void rt_note_parallel(rt_size_bucket *b, int64_t elapsed_ns, int64_t n)
{
    int64_t serial = RT_LOAD(b->serial_ps), stretch, verdict;
    int64_t window = RT_LOAD(rt_settings.judged_runs);
    int retry = (int)RT_LOAD(b->retrying);
    RT_ADD(b->parallel_runs, 1);
    if (serial == 0)
        return;
    RT_STORE(b->retrying, 0);
    if (window < 1 || window > RT_JUDGED_RUNS_MAX)
        window = RT_JUDGED_RUNS_MAX;
    /* elapsed_ns * 1000 is picoseconds; over serial_ps * n, x 1000. */
    double ratio = (double)elapsed_ns * 1e6 / ((double)serial * (double)n);
    int64_t milli = ratio > 9e15 ? (int64_t)9e15 : (int64_t)ratio;
    if (retry) {
        verdict = milli;
    } else {
        int64_t have = RT_LOAD(b->recent_n), sorted[RT_JUDGED_RUNS_MAX];
        if (have == window) {
            for (int64_t i = 1; i < window; i++)
                RT_STORE(b->recent[i - 1], RT_LOAD(b->recent[i]));
            have--;
        }
        RT_STORE(b->recent[have], milli);
        RT_STORE(b->recent_n, have + 1);
        verdict = 0;
        if (have + 1 == window) {
            for (int64_t i = 0; i < window; i++) {
                int64_t v = RT_LOAD(b->recent[i]), j = i;
                for (; j > 0 && sorted[j - 1] > v; j--)
                    sorted[j] = sorted[j - 1];
                sorted[j] = v;
            }
            verdict = sorted[window / 2];
        }
    }
    if ((double)verdict <= rt_load_double(&rt_settings.lost_margin) * 1000.0) {
        if (verdict > 0)
            RT_STORE(b->stretch, 0); /* parallel holds here: short stretches again */
        return;
    }
    RT_STORE(b->recent_n, 0);
    stretch = RT_LOAD(b->stretch);
    if (stretch == 0)
        stretch = RT_LOAD(rt_settings.retry_after);
    RT_STORE(b->lost_left, stretch);
    stretch *= 2;
    if (stretch > RT_LOAD(rt_settings.max_stretch))
        stretch = RT_LOAD(rt_settings.max_stretch);
    RT_STORE(b->stretch, stretch);
}

/* ---- the loop every trampoline calls ---- */

static void rt_patched_loop(rt_patched *rec, char **args, const rt_intp *dims,
                            const rt_intp *steps, void *data)
{
    rt_legacy_loop original = RT_LOAD(rec->original);
    rt_intp n = dims[0];
    int64_t forced = RT_LOAD(rt_settings.forced_grain);
    int64_t min_elements = RT_LOAD(rt_settings.min_elements);
    int reduce, threads;
    int64_t started, elapsed, best, grain, max_chunk;

    if (n < min_elements || !RT_LOAD(rt_settings.enabled) || n < 2)
        goto whole;
    /* A call inside a chunk of the pool (a runtime.map body, a chunk of
     * runtime.numpy) never splits again. */
    if (rt_api->current_slot() >= 0)
        goto whole;
    threads = rt_api->num_threads();
    if (threads < 2 || threads != RT_LOAD(rt_settings.threads))
        goto whole;
    reduce = rec->nin == 2 && rec->nout == 1 && args[0] == args[2] && steps[0] == 0
             && steps[2] == 0;
    if (!reduce) {
        for (int o = rec->nin; o < rec->nin + rec->nout; o++)
            if (steps[o] == 0)
                goto whole; /* many elements into one: a reduction we do not split */
        if (rt_outputs_overlap(rec, args, steps, n))
            goto whole;
    } else if (!rec->reducible) {
        goto whole;
    }
    if (forced > 0) {
        int64_t leaf = RT_LOAD(rt_settings.leaf_elements);
        if (reduce) {
            if (n < 2 * leaf || rt_split_reduce(rec, args, n, steps, data, leaf) != 0)
                goto whole;
        } else if (rt_split_elementwise(rec, args, n, steps, data, forced, 2 * forced) != 0) {
            goto whole;
        }
        RT_ADD(rec->split_calls, 1);
        return;
    }
    best = RT_LOAD(rec->best_ps);
    if (best == 0 || best * n < RT_LOAD(rt_settings.cutoff_ps))
        goto measured; /* first sight of this loop, or too cheap to split */
    if (rt_wants_whole(rt_bucket(rec, n), best * n))
        goto measured;
    started = rt_now_ns();
    if (reduce) {
        int64_t leaf = RT_LOAD(rt_settings.leaf_elements);
        if (n < 2 * leaf || rt_split_reduce(rec, args, n, steps, data, leaf) != 0)
            goto measured;
    } else {
        rt_plan((double)best * 1e-12, n, threads, &grain, &max_chunk);
        if (rt_split_elementwise(rec, args, n, steps, data, grain, max_chunk) != 0)
            goto measured;
    }
    /* Wall time x threads bounds the serial cost from above, as in
     * runtime._schedule: it corrects a first measurement slowed by page
     * faults of a fresh output. */
    elapsed = rt_now_ns() - started;
    rt_note_cost(rec, elapsed * threads, n, 0);
    rt_note_parallel(rt_bucket(rec, n), elapsed, n);
    RT_ADD(rec->split_calls, 1);
    return;

measured:
    started = rt_now_ns();
    original(args, dims, steps, data);
    rt_note_cost(rec, rt_now_ns() - started, n, 1);
    RT_ADD(rec->whole_calls, 1);
    return;

whole:
    original(args, dims, steps, data);
}

/* ---- for _patched_loops.pyx: the writes other threads may read ---- */

static void *rt_entry_load(void **entry) { return __atomic_load_n(entry, __ATOMIC_ACQUIRE); }
static void rt_entry_store(void **entry, void *value)
{
    __atomic_store_n(entry, value, __ATOMIC_RELEASE);
}
static void rt_store_int(int *target, int value)
{
    __atomic_store_n(target, value, __ATOMIC_RELEASE);
}
static void rt_store_i64(int64_t *target, int64_t value)
{
    __atomic_store_n(target, value, __ATOMIC_RELEASE);
}
static void rt_store_double(double *target, double value)
{
    __atomic_store(target, &value, __ATOMIC_RELEASE);
}
/* Costs and judgements gone (relaxed stores: a call running meanwhile may
 * leave one figure behind, which only steers one decision). */
static void rt_forget(rt_patched *record)
{
    rt_store_i64(&record->best_ps, 0);
    for (int k = 0; k < RT_SIZE_BUCKETS; k++) {
        rt_size_bucket *b = &record->buckets[k];
        int64_t *fields[] = {&b->serial_ps, &b->serial_runs, &b->parallel_runs,
                             &b->referenced_at, &b->recent_n, &b->lost_left, &b->stretch,
                             &b->retrying};
        for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++)
            rt_store_i64(fields[f], 0);
    }
}

static void rt_set_original(rt_patched *record, void *loop)
{
    __atomic_store_n(&record->original, (rt_legacy_loop)loop, __ATOMIC_RELEASE);
}

/* ---- one trampoline per record ---- */

#define RT_TRAMPOLINE(k)                                                                       \
    static void rt_trampoline_##k(char **args, const rt_intp *dims, const rt_intp *steps,      \
                                  void *data)                                                  \
    {                                                                                          \
        rt_patched_loop(&rt_records[0x##k], args, dims, steps, data);                          \
    }
#define RT_TRAMPOLINES_16(p)                                                                   \
    RT_TRAMPOLINE(p##0) RT_TRAMPOLINE(p##1) RT_TRAMPOLINE(p##2) RT_TRAMPOLINE(p##3)            \
    RT_TRAMPOLINE(p##4) RT_TRAMPOLINE(p##5) RT_TRAMPOLINE(p##6) RT_TRAMPOLINE(p##7)            \
    RT_TRAMPOLINE(p##8) RT_TRAMPOLINE(p##9) RT_TRAMPOLINE(p##a) RT_TRAMPOLINE(p##b)            \
    RT_TRAMPOLINE(p##c) RT_TRAMPOLINE(p##d) RT_TRAMPOLINE(p##e) RT_TRAMPOLINE(p##f)
#define RT_TRAMPOLINES_256(p)                                                                  \
    RT_TRAMPOLINES_16(p##0) RT_TRAMPOLINES_16(p##1) RT_TRAMPOLINES_16(p##2)                    \
    RT_TRAMPOLINES_16(p##3) RT_TRAMPOLINES_16(p##4) RT_TRAMPOLINES_16(p##5)                    \
    RT_TRAMPOLINES_16(p##6) RT_TRAMPOLINES_16(p##7) RT_TRAMPOLINES_16(p##8)                    \
    RT_TRAMPOLINES_16(p##9) RT_TRAMPOLINES_16(p##a) RT_TRAMPOLINES_16(p##b)                    \
    RT_TRAMPOLINES_16(p##c) RT_TRAMPOLINES_16(p##d) RT_TRAMPOLINES_16(p##e)                    \
    RT_TRAMPOLINES_16(p##f)
/* 0x000 .. 0x7ff: RT_PATCH_SLOTS trampolines. */
RT_TRAMPOLINES_256(0)
RT_TRAMPOLINES_256(1)
RT_TRAMPOLINES_256(2)
RT_TRAMPOLINES_256(3)
RT_TRAMPOLINES_256(4)
RT_TRAMPOLINES_256(5)
RT_TRAMPOLINES_256(6)
RT_TRAMPOLINES_256(7)

#define RT_ENTRY(k) rt_trampoline_##k,
#define RT_ENTRIES_16(p)                                                                       \
    RT_ENTRY(p##0) RT_ENTRY(p##1) RT_ENTRY(p##2) RT_ENTRY(p##3) RT_ENTRY(p##4) RT_ENTRY(p##5)  \
    RT_ENTRY(p##6) RT_ENTRY(p##7) RT_ENTRY(p##8) RT_ENTRY(p##9) RT_ENTRY(p##a) RT_ENTRY(p##b)  \
    RT_ENTRY(p##c) RT_ENTRY(p##d) RT_ENTRY(p##e) RT_ENTRY(p##f)
#define RT_ENTRIES_256(p)                                                                      \
    RT_ENTRIES_16(p##0) RT_ENTRIES_16(p##1) RT_ENTRIES_16(p##2) RT_ENTRIES_16(p##3)            \
    RT_ENTRIES_16(p##4) RT_ENTRIES_16(p##5) RT_ENTRIES_16(p##6) RT_ENTRIES_16(p##7)            \
    RT_ENTRIES_16(p##8) RT_ENTRIES_16(p##9) RT_ENTRIES_16(p##a) RT_ENTRIES_16(p##b)            \
    RT_ENTRIES_16(p##c) RT_ENTRIES_16(p##d) RT_ENTRIES_16(p##e) RT_ENTRIES_16(p##f)

static const rt_legacy_loop rt_trampolines[RT_PATCH_SLOTS] = {
    RT_ENTRIES_256(0) RT_ENTRIES_256(1) RT_ENTRIES_256(2) RT_ENTRIES_256(3)
    RT_ENTRIES_256(4) RT_ENTRIES_256(5) RT_ENTRIES_256(6) RT_ENTRIES_256(7)
};

#endif
