/* runtime's work-stealing pool: the public C interface.
 *
 * A pool has N worker threads.  A thread that calls into the pool from
 * outside (a "caller") takes one of RT_MAX_CALLERS caller slots for the
 * duration of the call and works on its own job like a worker: it runs
 * the first half of every split itself and, while it waits for stolen
 * halves, runs whatever work it can find.  So a job of a pool with N
 * workers runs on N + 1 threads, callers never idle while their job has
 * work, and a task may call the pool again (nested fork–join) without
 * blocking a thread.
 *
 * Nothing here knows Python; see runtime/_core.pyx for the binding.
 */
#ifndef RT_POOL_H
#define RT_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "qos.h"
#include "trace.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RT_MAX_WORKERS 255
#define RT_MAX_CALLERS 64

typedef struct rt_pool rt_pool;

typedef struct rt_pool_config {
    int num_workers;  /* threads besides the callers; 0 .. RT_MAX_WORKERS */
    int64_t spin_ns;  /* how long an idle thread spins before parking; <0: 0.4 ms shared
                         among the workers, 20..300 us each */
    /* Called on each worker thread just before it ends (the binding
     * releases the thread's interpreter state here).  May be NULL. */
    void (*on_worker_exit)(void *arg);
    void *hook_arg;
} rt_pool_config;

/* Status of a job, returned by rt_parallel_for. */
enum {
    RT_OK = 0,
    RT_STOPPED = 1,     /* a body returned nonzero; remaining chunks were skipped */
    RT_INTERRUPTED = 2, /* the interrupt hook returned nonzero; remaining chunks skipped */
};

/* Returns 0 or an errno value (EINVAL, ENOMEM, EAGAIN).  The calling
 * thread's QoS setting (affinity, policy, nice; QoS class) becomes the
 * pool's home: every worker starts from it, whatever thread starts it. */
int rt_pool_create(const rt_pool_config *config, rt_pool **out);
/* Stops and joins the workers.  No call into the pool may be running. */
void rt_pool_destroy(rt_pool *pool);
/* Changes the number of workers, also while jobs run: surplus workers
 * leave when they next run out of work; new ones start at once.
 * Returns 0 or an errno value. */
int rt_pool_resize(rt_pool *pool, int num_workers);
int rt_pool_num_workers(const rt_pool *pool);

/* body(begin, end, ctx) processes [begin, end).  A nonzero return stops
 * the job: chunks not yet started are skipped. */
typedef int (*rt_range_fn)(int64_t begin, int64_t end, void *ctx);
/* Polled by a waiting caller; a nonzero return cancels the job. */
typedef int (*rt_interrupt_fn)(void *ctx);

typedef struct rt_for_options {
    int64_t grain;     /* smallest chunk; <= 0 means 1 */
    int64_t max_chunk; /* split chunks above this; <= 0 means no bound */
    int64_t align;     /* chunk boundaries are multiples of align; <= 0 means 1 */
    rt_interrupt_fn interrupt; /* may be NULL */
    void *interrupt_ctx;
    int64_t interrupt_period_ns; /* <= 0: 20 ms */
    /* The job's QoS: every thread that runs one of its chunks (the caller
     * included) runs it at this level, confined to qos_cpus (NULL or empty:
     * any CPU); the caller's own setting is restored when the job ends.
     * has_qos = 0 (a zeroed struct): chunks run at each thread's own setting. */
    int has_qos;
    rt_qos_level qos;
    const rt_cpuset *qos_cpus; /* must outlive the job */
    /* Per-thread placement within the job (interactive jobs on a
     * heterogeneous machine: performance kinds first, one thread per CPU):
     * the caller runs its chunks confined to thread_cpus[0], worker w to
     * thread_cpus[w + 1]; threads beyond thread_cpus_count use qos_cpus.
     * NULL / 0: every thread uses qos_cpus.  Must outlive the job. */
    const rt_cpuset *thread_cpus;
    int thread_cpus_count;
    /* Tail boost: when a thread of the job has nothing left to do but wait
     * for a piece another thread took, that thread is raised to
     * RT_QOS_INTERACTIVE on boost_cpus (the performance kinds; NULL or
     * empty: level only) until the piece is done.  Never for utility or
     * background jobs. */
    int tail_boost;
    const rt_cpuset *boost_cpus; /* must outlive the job */
} rt_for_options;

/* Runs body over [begin, end) split into chunks on the pool and returns
 * when every chunk has finished (or was skipped).  Returns RT_OK,
 * RT_STOPPED or RT_INTERRUPTED.  Safe to call from any thread, from
 * inside a chunk, and from several threads at once. */
int rt_parallel_for(rt_pool *pool, int64_t begin, int64_t end, const rt_for_options *options,
                    rt_range_fn body, void *ctx);

/* Runs a(a_ctx) and b(b_ctx), possibly in parallel, and returns when both
 * have finished. */
typedef void (*rt_fn)(void *ctx);
void rt_join(rt_pool *pool, rt_fn a, void *a_ctx, rt_fn b, void *b_ctx);

/* Runs fn(ctx) on a worker later; nobody waits for it.  With no workers
 * it runs at once on the calling thread (also when the last worker left
 * as it was posted).  Only a worker at its top level starts it: never a
 * thread waiting in a join.  Returns 0 or ENOMEM. */
int rt_pool_submit(rt_pool *pool, rt_fn fn, void *ctx);

typedef struct rt_pool_stats {
    int workers;          /* running worker threads */
    int sleeping;         /* threads parked right now */
    int inactive;         /* threads looking for work right now (incl. sleeping) */
    uint64_t leaves;      /* chunks run */
    uint64_t steals;      /* tasks taken from another thread's deque */
    uint64_t injected;    /* tasks taken from the injector */
    uint64_t parks;       /* times a thread blocked */
    uint64_t boosts;      /* tail boosts: threads raised while others waited on them */
} rt_pool_stats;
void rt_pool_get_stats(rt_pool *pool, rt_pool_stats *out);

/* Tracing (trace.h).  rt_pool_trace_start begins recording every chunk,
 * job, steal, park, QoS change and boost of the pool's threads into rings
 * of `capacity` events per thread (1 to RT_TRACE_MAX_CAPACITY); returns 0,
 * EBUSY while a trace runs, or EINVAL.  rt_pool_trace_stop ends it, and returns how many
 * events it recorded (an upper bound for rt_pool_trace_read), plus the
 * start time (CLOCK_MONOTONIC ns).  rt_pool_trace_read copies up to `max`
 * of them into out (per thread in time order), returns how many, and sets
 * *dropped to the events lost to full rings.  One trace at a time: the
 * binding serializes start, stop and read. */
int rt_pool_trace_start(rt_pool *pool, int64_t capacity);
int64_t rt_pool_trace_stop(rt_pool *pool, int64_t *start_ns);
int64_t rt_pool_trace_read(rt_pool *pool, rt_trace_event *out, int64_t max, int64_t *dropped);
/* Records an instant event (RT_TRACE_QOS, _BOOST, _BOOST_END) from any
 * thread, in or outside the pool, while a trace runs (the binding's
 * overrides and inline QoS changes). */
void rt_pool_trace_note(rt_pool *pool, int type, int level, int64_t lo, int64_t hi);

/* The calling thread at QoS `level` (confined to `cpus`, NULL or empty:
 * affinity unchanged) until rt_pool_level_leave(frame); frames nest as a
 * stack.  On a thread inside one of `pool`'s jobs the level replaces the
 * job's (from the thread's own setting, not on top of the job's), and
 * leaving puts the job's back; elsewhere (or pool NULL) it is applied to
 * the thread and undone on leaving.  Same thread, strictly nested. */
typedef struct rt_level_frame {
    void *participant; /* NULL: applied to a thread outside the pool */
    int prev_level;    /* in a job: the level to go back to */
    const rt_cpuset *prev_cpus;
    /* Outside the pool: this level, what applying it changed, the frame
     * it nests in, and whether a job's level has replaced it for now. */
    int level;
    const rt_cpuset *cpus;
    struct rt_level_frame *outer;
    int away;
    rt_qos_saved saved;
} rt_level_frame;
int rt_pool_level_enter(rt_pool *pool, rt_qos_level level, const rt_cpuset *cpus,
                        rt_level_frame *frame);
void rt_pool_level_leave(rt_level_frame *frame);

/* The calling thread's slot in `pool`: 0 .. RT_MAX_WORKERS-1 for a worker,
 * RT_MAX_WORKERS + k for a caller, -1 when it is not taking part. */
int rt_pool_current_slot(const rt_pool *pool);

/* In the child after fork(): forget that this thread took part in any
 * pool (the pool's threads do not exist in the child). */
void rt_after_fork_child(void);

#ifdef __cplusplus
}
#endif

#endif /* RT_POOL_H */
