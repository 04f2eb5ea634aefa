/* Workers, caller slots, fork–join and range jobs.  See pool.h for the
 * interface, deque.h for the deques, SLEEP.md for when threads park. */
#if !defined(__APPLE__)
#define _GNU_SOURCE /* clock_gettime, pthread_setname_np */
#endif
#include "pool.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "atomics.h"
#include "deque.h"
#include "injector.h"
#include "latch.h"
#include "partition.h"
#include "sleep.h"
#include "task.h"
#include "trace.h"

#define SLOT_COUNT (RT_MAX_WORKERS + RT_MAX_CALLERS)
/* callers_in_use is one 64-bit mask; the sleep counters hold 16-bit counts
 * of threads. */
_Static_assert(RT_MAX_CALLERS <= 64, "callers_in_use is a 64-bit mask");
_Static_assert(SLOT_COUNT <= RT_SLEEP_MAX_THREADS, "sleep counters are 16 bits");
/* Idle spinning, before parking, is budgeted for the pool as a whole: the
 * workers together spin at most SPIN_BUDGET_NS after a burst of work
 * (docs/BENCHMARKING.md: <= 1 ms of CPU in the second after work stops), each at
 * most MAX_SPIN_NS.  Long enough that back-to-back calls find workers
 * awake: waking a parked thread costs 10-30 us here, at times milliseconds
 * (a VM's idle vCPU), far more than a call's gap. */
#define SPIN_BUDGET_NS 400000
#define MAX_SPIN_NS 300000
#define MIN_SPIN_NS 20000
/* Pure pause-spinning for this long, then yield the CPU on every round, so
 * that a thread woken onto our CPU (the scheduler likes the waker's CPU)
 * gets to run instead of waiting for our time slice to end. */
#define PAUSE_ONLY_NS 10000
#define DEFAULT_INTERRUPT_PERIOD_NS 20000000
/* Python chunks run on workers; give them the stack a main thread gets
 * (macOS gives secondary threads only 512 KiB by default). */
#define WORKER_STACK_SIZE ((size_t)8 << 20)
#define INITIAL_DEQUE_CAPACITY 64

enum worker_state { WORKER_RUNNING = 1, WORKER_LEAVING = 2, WORKER_GONE = 3 };

typedef struct rt_job {
    rt_range_fn body;
    void *ctx;
    rt_partition partition;
    /* 0 while running, then the first RT_STOPPED / RT_INTERRUPTED.  Relaxed
     * everywhere: it only ever goes from 0 to nonzero, a late observer just
     * runs a chunk more, and the caller reads it after every chunk has
     * joined (the latches order that). */
    _Atomic int status;
    int qos; /* rt_qos_level, or -1: each thread's own setting */
    const rt_cpuset *qos_cpus;
    const rt_cpuset *thread_cpus;
    int thread_cpus_count;
    bool tail_boost;
    const rt_cpuset *boost_cpus;
    uint32_t id; /* for tracing: 1, 2, ... while a trace runs, else 0 */
} rt_job;

typedef struct rt_participant {
    rt_deque deque; /* first: its fields are cache-line aligned */
    rt_sleep_slot sleep;
    rt_pool *pool;
    int slot;
    bool is_worker;
    _Atomic int state; /* workers: enum worker_state */
    bool joinable;     /* workers: a thread was started and not yet joined (resize_mutex) */
    pthread_t thread;
    uint64_t rng;
    /* Set while this thread is a caller with an interrupt hook. */
    rt_interrupt_fn interrupt;
    void *interrupt_ctx;
    rt_job *interrupt_job;
    int64_t interrupt_period_ns;
    int64_t next_poll_ns;
    /* The QoS level this thread runs at for the job it is in (-1: its own
     * setting), and what rt_qos_apply changed, to restore. */
    int qos_level;
    const rt_cpuset *qos_cpus;
    rt_qos_saved qos_saved;
    /* While this thread waits for a piece of a job (a join), it steals only
     * tasks of jobs at that job's level or above (see task_tag): running a
     * background job's chunk would move an interactive caller onto the
     * efficiency cores at low priority, or put background work on the
     * performance cores, and delay its own job either way.  -1: none. */
    int floor_level;
    /* Set while this worker is about to park or parked at its top level,
     * where it takes injected work (a thread waiting in a join does not):
     * whoever injects work wakes such a worker (wake_top_level). */
    _Atomic bool parked_top_level;
    /* Statistics, written only by this thread (relaxed load + store, no
     * locked instruction), read by anyone. */
    _Atomic uint64_t leaves, steals, injected, parks, boosts;
    uint64_t thread_handle; /* rt_qos_thread_self() of the thread in this slot now */
    /* The stolen halves of tail-boosted jobs this thread is running, the
     * innermost first (linked through range_task.outer_run): their owners
     * may raise this thread while it runs them (see boost_runner). */
    struct range_task *boostable;
    rt_trace_ring ring; /* written only by the thread in this slot */
} rt_participant;

struct rt_pool {
    rt_sleep sleep;
    rt_injector injector;
    int64_t spin_ns;
    void (*on_worker_exit)(void *);
    void *hook_arg;
    alignas(RT_CACHE_LINE) _Atomic int num_workers;
    /* Worker threads started and not yet gone.  The last one to leave does
     * not leave injected work behind, and a thread that injects work while
     * none is live runs it itself (see worker_leaves, drain_if_no_workers). */
    _Atomic int live_workers;
    /* Thieves scan slots [0, worker_limit) and callers [0, caller_limit):
     * one past the highest slot ever used; both only grow. */
    _Atomic int worker_limit;
    _Atomic int caller_limit;
    _Atomic uint64_t callers_in_use; /* bit k: caller slot k is taken */
    pthread_mutex_t resize_mutex;    /* serializes resize and destroy */
    rt_qos_saved home_qos; /* the creator's setting: every worker starts from it */
    _Atomic(rt_participant *) slots[SLOT_COUNT];
    /* Tracing: the switch every record site loads (relaxed), the current
     * trace's epoch (rings of older epochs are reset on their next write)
     * and ring size, job ids, and a ring for threads outside the pool. */
    alignas(RT_CACHE_LINE) _Atomic int tracing;
    _Atomic uint32_t trace_epoch;
    /* Atomic: a late writer of the last trace may read it as the next one
     * starts (it then sizes a ring it resets again on its next write). */
    _Atomic int64_t trace_capacity;
    int64_t trace_start_ns;
    _Atomic uint32_t next_job_id;
    pthread_mutex_t trace_mutex; /* guards external_ring */
    rt_trace_ring external_ring;
};

static _Thread_local rt_participant *current;
/* The innermost level this thread set for itself outside the pool's jobs
 * (rt_pool_level_enter); NULL: its own setting. */
static _Thread_local rt_level_frame *plain_top;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void stat_add(_Atomic uint64_t *counter)
{
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

static inline uint32_t next_random(rt_participant *self)
{
    /* xorshift64*: victim order only needs to differ between threads. */
    uint64_t x = self->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    self->rng = x;
    return (uint32_t)((x * 0x2545F4914F6CDD1DULL) >> 32);
}

/* ---- tracing (trace.h) ------------------------------------------------- */

static inline bool trace_on(const rt_pool *pool)
{
    return RT_UNLIKELY(atomic_load_explicit(&((rt_pool *)pool)->tracing, memory_order_relaxed));
}

static void fill_event(rt_trace_event *e, int type, int64_t begin, int64_t end, int16_t cpu,
                       int16_t cpu_end, uint32_t job, int64_t lo, int64_t hi, int level, int slot)
{
    e->begin_ns = begin;
    e->end_ns = end;
    e->lo = lo;
    e->hi = hi;
    e->job = job;
    e->tid = rt_trace_tid();
    e->cpu = cpu;
    e->cpu_end = cpu_end;
    e->type = (uint8_t)type;
    e->level = (int8_t)level;
    e->slot = (uint16_t)slot;
}

/* The next free event of `ring` in the current trace, or NULL (full). */
static rt_trace_event *trace_slot(rt_pool *pool, rt_trace_ring *ring)
{
    uint32_t epoch = atomic_load_explicit(&pool->trace_epoch, memory_order_acquire);
    int64_t capacity = atomic_load_explicit(&pool->trace_capacity, memory_order_relaxed);
    return rt_trace_ring_next(ring, epoch, capacity);
}

/* Records an event at `level` (-1: the thread's own setting) on this
 * participant's ring (only while tracing). */
static void trace_record(rt_participant *self, int type, int level, int64_t begin, int64_t end,
                         int16_t cpu, int16_t cpu_end, uint32_t job, int64_t lo, int64_t hi)
{
    rt_trace_event *e = trace_slot(self->pool, &self->ring);
    if (e == NULL)
        return;
    fill_event(e, type, begin, end, cpu, cpu_end, job, lo, hi, level, self->slot);
    rt_trace_ring_publish(&self->ring);
}

/* An instant event at `level`. */
static void trace_instant_at(rt_participant *self, int type, int level, uint32_t job, int64_t lo,
                             int64_t hi)
{
    if (!trace_on(self->pool))
        return;
    int64_t now = rt_trace_now_ns();
    int16_t cpu = rt_trace_cpu();
    trace_record(self, type, level, now, now, cpu, cpu, job, lo, hi);
}

static void trace_instant(rt_participant *self, int type, uint32_t job, int64_t lo, int64_t hi)
{
    trace_instant_at(self, type, self->qos_level, job, lo, hi);
}

/* A change of this thread's QoS, recorded after it: the event's level is
 * the new one (-1: the thread's own setting back), with its CPUs and the
 * mechanisms that took effect. */
static void trace_qos(rt_participant *self, const rt_cpuset *cpus, int changed)
{
    trace_instant(self, RT_TRACE_QOS, 0, rt_trace_cpu_bits(cpus), changed);
}

/* ---- participants ------------------------------------------------------ */

static rt_participant *participant_new(rt_pool *pool, int slot, bool is_worker)
{
    size_t size = (sizeof(rt_participant) + RT_CACHE_LINE - 1) / RT_CACHE_LINE * RT_CACHE_LINE;
    rt_participant *p = rt_aligned_alloc(RT_CACHE_LINE, size);
    if (p == NULL)
        return NULL;
    memset(p, 0, size);
    if (rt_deque_init(&p->deque, INITIAL_DEQUE_CAPACITY) != 0) {
        rt_free(p);
        return NULL;
    }
    if (rt_sleep_slot_init(&p->sleep) != 0) {
        rt_deque_destroy(&p->deque);
        rt_free(p);
        return NULL;
    }
    p->pool = pool;
    p->slot = slot;
    p->is_worker = is_worker;
    atomic_init(&p->state, WORKER_GONE);
    p->rng = 0x9E3779B97F4A7C15ULL * (uint64_t)(slot + 1);
    p->qos_level = -1;
    p->floor_level = -1;
    atomic_init(&p->parked_top_level, false);
    atomic_init(&p->leaves, 0);
    atomic_init(&p->steals, 0);
    atomic_init(&p->injected, 0);
    atomic_init(&p->parks, 0);
    atomic_init(&p->boosts, 0);
    return p;
}

static void participant_free(rt_participant *p)
{
    rt_trace_ring_free(&p->ring);
    rt_sleep_slot_destroy(&p->sleep);
    rt_deque_destroy(&p->deque);
    rt_free(p);
}

static rt_participant *slot_get(rt_pool *pool, int slot)
{
    /* Acquire: pairs with the release that published the participant, so
     * its deque is initialized before we steal from it. */
    return atomic_load_explicit(&pool->slots[slot], memory_order_acquire);
}

static void raise_limit(_Atomic int *limit, int value)
{
    int seen = atomic_load_explicit(limit, memory_order_relaxed);
    while (seen < value &&
           !atomic_compare_exchange_weak_explicit(limit, &seen, value, memory_order_release,
                                                  memory_order_relaxed)) {
    }
}

/* ---- finding work ------------------------------------------------------ */

/* Deque entries carry their job's level in the low bits (deque.h): 1 + the
 * level (a job without one counts as initiated), and join tasks the top
 * tag, which every thief takes.  So a waiting thread can pass over work
 * below its floor without touching it. */
enum { TAG_ANY = 7 };

static inline uintptr_t job_tag(int qos)
{
    return 1 + (uintptr_t)(qos >= 0 ? qos : RT_QOS_INITIATED);
}

static inline rt_task *untag(rt_task *entry)
{
    return (rt_task *)((uintptr_t)entry & ~RT_DEQUE_TAG_MASK);
}

static inline uintptr_t min_tag(const rt_participant *self)
{
    return self->floor_level < 0 ? 0 : job_tag(self->floor_level);
}

static void wake_any(rt_pool *pool, uint32_t count)
{
    /* Workers first: a caller woken for general work would delay the
     * return to its own program. */
    int workers = atomic_load_explicit(&pool->worker_limit, memory_order_acquire);
    for (int i = 0; i < workers && count > 0; i++) {
        rt_participant *p = slot_get(pool, i);
        if (p != NULL && rt_sleep_wake_specific(&pool->sleep, &p->sleep))
            count--;
    }
    int callers = atomic_load_explicit(&pool->caller_limit, memory_order_acquire);
    for (int i = 0; i < callers && count > 0; i++) {
        rt_participant *p = slot_get(pool, RT_MAX_WORKERS + i);
        if (p != NULL && rt_sleep_wake_specific(&pool->sleep, &p->sleep))
            count--;
    }
}

/* P1 is the push; rt_sleep_new_work does P2–P3. */
static inline bool push_and_notify(rt_participant *self, rt_task *task, uintptr_t tag)
{
    bool was_empty = rt_deque_size_hint(&self->deque) == 0; /* owner: exact but for thieves */
    if (!rt_deque_push(&self->deque, (rt_task *)((uintptr_t)task | tag)))
        return false;
    uint32_t to_wake = rt_sleep_new_work(&self->pool->sleep, 1, was_empty);
    if (RT_UNLIKELY(to_wake > 0))
        wake_any(self->pool, to_wake);
    return true;
}

/* Wakes one worker parked at its top level, the only place injected work
 * is taken.  The flag is a hint read without the worker's mutex: a worker
 * sets it before its S4 fence and then looks at the injector, the poster
 * appended before its P2 fence and then reads the flags, so one of the
 * two sees the other (SLEEP.md, "Injected work"). */
static void wake_top_level(rt_pool *pool)
{
    int workers = atomic_load_explicit(&pool->worker_limit, memory_order_acquire);
    for (int i = 0; i < workers; i++) {
        rt_participant *p = slot_get(pool, i);
        if (p != NULL && atomic_load_explicit(&p->parked_top_level, memory_order_seq_cst) &&
            rt_sleep_wake_specific(&pool->sleep, &p->sleep))
            return;
    }
}

static void drain_if_no_workers(rt_pool *pool);

/* After appending to the injector (P1): P2, wake a worker that takes
 * injected work, and with none left, run it here. */
static void notify_injected(rt_pool *pool, bool was_empty)
{
    (void)rt_sleep_new_work(&pool->sleep, 1, was_empty); /* P2 (and its fence) */
    wake_top_level(pool);
    drain_if_no_workers(pool);
}

static rt_task *steal_work(rt_participant *self)
{
    rt_pool *pool = self->pool;
    int workers = atomic_load_explicit(&pool->worker_limit, memory_order_acquire);
    int callers = atomic_load_explicit(&pool->caller_limit, memory_order_acquire);
    int n = workers + callers;
    if (n <= 1)
        return NULL;
    for (;;) {
        bool lost_race = false;
        int start = (int)(next_random(self) % (uint32_t)n);
        for (int k = 0; k < n; k++) {
            int v = start + k < n ? start + k : start + k - n;
            int slot = v < workers ? v : RT_MAX_WORKERS + (v - workers);
            rt_participant *victim = slot_get(pool, slot);
            if (victim == NULL || victim == self)
                continue;
            rt_task *task;
            rt_steal_result r = rt_deque_steal(&victim->deque, min_tag(self), &task);
            if (r == RT_STEAL_SUCCESS) {
                stat_add(&self->steals);
                trace_instant(self, RT_TRACE_STEAL, 0, victim->slot, 0);
                return untag(task);
            }
            if (r == RT_STEAL_RETRY)
                lost_race = true;
        }
        /* A lost race means some deque was not empty: look again rather
         * than report "no work" to the sleep protocol. */
        if (!lost_race)
            return NULL;
    }
}

/* Own deque, then steal, then (at the top level only) the injector.  A
 * thread waiting in a join never starts injected work: it is independent
 * of the job being joined and may run for long or block (a submitted task
 * waiting for an event the joining caller sets after its job), and the
 * join would wait for it. */
static rt_task *find_work(rt_participant *self, bool in_join)
{
    rt_task *task = untag(rt_deque_pop(&self->deque));
    if (task != NULL)
        return task;
    task = steal_work(self);
    if (task != NULL || in_join)
        return task;
    task = rt_injector_pop(&self->pool->injector);
    if (task != NULL)
        stat_add(&self->injected);
    return task;
}

/* ---- waiting ----------------------------------------------------------- */

static inline bool job_cancelled(rt_job *job)
{
    return atomic_load_explicit(&job->status, memory_order_relaxed) != RT_OK;
}

static void job_cancel(rt_job *job, int status)
{
    int expected = RT_OK;
    atomic_compare_exchange_strong_explicit(&job->status, &expected, status,
                                            memory_order_relaxed, memory_order_relaxed);
}

static void poll_interrupt(rt_participant *self)
{
    if (self->interrupt == NULL || job_cancelled(self->interrupt_job))
        return;
    int64_t now = now_ns();
    if (now < self->next_poll_ns)
        return;
    self->next_poll_ns = now + self->interrupt_period_ns;
    if (self->interrupt(self->interrupt_ctx) != 0)
        job_cancel(self->interrupt_job, RT_INTERRUPTED);
}

/* A worker asked to leave (resize, destroy) claims its exit here, unless
 * the resize was undone first, or it would be the last live worker to go
 * while injected work waits: it stays and runs that first.  With
 * drain_if_no_workers: a poster appends, then reads live_workers with a
 * read-modify-write; we decrement it, then look at the injector.  The two
 * RMWs are ordered on live_workers: if the poster's comes first, ours
 * reads from it (acq_rel) and we see the append; if ours comes first, the
 * poster reads our count.  So injected work always has a thread that will
 * run it (and neither side needs a fence, which TSAN would not model). */
static bool worker_leaves(rt_participant *self)
{
    if (atomic_load_explicit(&self->state, memory_order_acquire) != WORKER_LEAVING)
        return false;
    rt_pool *pool = self->pool;
    int left = atomic_fetch_sub_explicit(&pool->live_workers, 1, memory_order_acq_rel) - 1;
    int expected = WORKER_LEAVING;
    if ((left > 0 || rt_injector_is_empty(&pool->injector)) &&
        atomic_compare_exchange_strong_explicit(&self->state, &expected, WORKER_GONE,
                                                memory_order_acq_rel, memory_order_acquire))
        return true;
    atomic_fetch_add_explicit(&pool->live_workers, 1, memory_order_acq_rel);
    return false;
}

/* A thread that injected work while no worker is live (all asked to leave
 * and gone) runs the injector's tasks itself.  See worker_leaves. */
static void drain_if_no_workers(rt_pool *pool)
{
    /* An RMW, not a load: see worker_leaves. */
    if (atomic_fetch_add_explicit(&pool->live_workers, 0, memory_order_acq_rel) > 0)
        return;
    rt_participant *self = current != NULL && current->pool == pool ? current : NULL;
    rt_task *task;
    while ((task = rt_injector_pop(&pool->injector)) != NULL)
        task->execute(task, self);
}

/* S4 of SLEEP.md: conditions not announced through the jobs counter, for
 * a worker at its top level: a request to leave, and injected work (which
 * only top-level workers take).  Inside a join nothing but the latch
 * matters (S3a): a request to leave waits for the stolen half. */
static bool stay_awake_top_level(void *arg)
{
    rt_participant *self = arg;
    return atomic_load_explicit(&self->state, memory_order_seq_cst) != WORKER_RUNNING ||
           !rt_injector_is_empty(&self->pool->injector);
}

static void drop_qos(rt_participant *self);

enum idle_phase { IDLE_SPIN, IDLE_SLEEPY, IDLE_BLOCK };

typedef struct idle_state {
    enum idle_phase phase;
    int64_t yield_after_ns;
    int64_t spin_until_ns;
    uint32_t jec;
} idle_state;

static int64_t spin_ns(const rt_pool *pool)
{
    if (pool->spin_ns >= 0)
        return pool->spin_ns;
    int workers = atomic_load_explicit(&((rt_pool *)pool)->num_workers, memory_order_relaxed);
    int64_t share = SPIN_BUDGET_NS / (workers > 0 ? workers : 1);
    return share > MAX_SPIN_NS ? MAX_SPIN_NS : share < MIN_SPIN_NS ? MIN_SPIN_NS : share;
}

static void idle_reset(rt_participant *self, idle_state *st)
{
    int64_t now = now_ns();
    st->phase = IDLE_SPIN;
    st->jec = 0;
    st->yield_after_ns = now + PAUSE_ONLY_NS;
    st->spin_until_ns = now + spin_ns(self->pool);
}

/* One step of doing nothing: spin (S0), announce sleepiness (S1, after
 * which the caller's loop makes the last search, S2), or block (S3–S5). */
static void idle_step(rt_participant *self, idle_state *st, rt_latch *latch)
{
    rt_pool *pool = self->pool;
    switch (st->phase) {
    case IDLE_SPIN: {
        for (int i = 0; i < 32; i++)
            rt_cpu_relax();
        int64_t now = now_ns();
        if (now >= st->spin_until_ns)
            st->phase = IDLE_SLEEPY;
        else if (now >= st->yield_after_ns)
            sched_yield();
        return;
    }
    case IDLE_SLEEPY:
        st->jec = rt_sleep_announce_sleepy(&pool->sleep);
        st->phase = IDLE_BLOCK;
        return;
    case IDLE_BLOCK: {
        int64_t timeout = 0;
        if (self->interrupt != NULL) {
            timeout = self->next_poll_ns - now_ns();
            if (timeout < 1000000)
                timeout = 1000000;
        }
        bool top_level = latch == NULL;
        if (top_level) {
            /* A parked worker holds no job's level: whatever it ran last,
             * it sleeps (and wakes) at its own setting. */
            drop_qos(self);
            atomic_store_explicit(&self->parked_top_level, true, memory_order_seq_cst);
        }
        bool traced = trace_on(pool);
        int64_t parked_at = traced ? rt_trace_now_ns() : 0;
        int16_t cpu = traced ? rt_trace_cpu() : -1;
        bool blocked = rt_sleep_try_block(&pool->sleep, &self->sleep, st->jec, latch,
                                          top_level ? stay_awake_top_level : NULL, self,
                                          timeout, &self->parks);
        if (top_level)
            atomic_store_explicit(&self->parked_top_level, false, memory_order_relaxed);
        if (blocked) {
            if (traced)
                trace_record(self, RT_TRACE_PARK, self->qos_level, parked_at,
                             rt_trace_now_ns(), cpu, rt_trace_cpu(), 0, 0, 0);
            idle_reset(self, st);
        } else {
            /* Work was posted or something changed: search again, then
             * re-announce before trying to block. */
            st->phase = IDLE_SLEEPY;
        }
        return;
    }
    }
}

typedef void (*idle_hook)(rt_participant *self, void *arg);

static void wait_until_hooked(rt_participant *self, rt_latch *latch, idle_hook on_idle,
                              void *arg);

/* Runs other work until `latch` is set; for a worker at its top level
 * (latch NULL) until it is asked to leave. */
static void wait_until(rt_participant *self, rt_latch *latch)
{
    wait_until_hooked(self, latch, NULL, NULL);
}

/* wait_until, calling on_idle(self, arg) once, when it has spun its whole
 * budget with nothing to do and is about to park. */
static void wait_until_hooked(rt_participant *self, rt_latch *latch, idle_hook on_idle,
                              void *arg)
{
    rt_pool *pool = self->pool;
    idle_state st;
    idle_reset(self, &st);
    rt_sleep_start_looking(&pool->sleep);
    for (;;) {
        if (latch != NULL ? rt_latch_probe(latch) : worker_leaves(self))
            break;
        rt_task *task = find_work(self, latch != NULL);
        if (task != NULL) {
            rt_sleep_stop_looking(&pool->sleep);
            task->execute(task, self);
            rt_sleep_start_looking(&pool->sleep);
            idle_reset(self, &st);
            continue;
        }
        poll_interrupt(self);
        if (on_idle != NULL && st.phase == IDLE_SLEEPY) {
            /* Spun for its whole budget with nothing to do: about to park,
             * freeing this CPU.  (At the first empty search the hook fired
             * at every short join of a fine-grained job, and a tail boost
             * then moved the worker onto the CPU this thread still spun on:
             * a sin map on the emulated slow core went from 1.01 to 1.21-1.28
             * of the ideal.) */
            on_idle(self, arg);
            on_idle = NULL;
            continue; /* the hook took time: look for the latch and work again */
        }
        idle_step(self, &st, latch);
    }
    rt_sleep_stop_looking(&pool->sleep);
}

/* ---- range jobs -------------------------------------------------------- */

/* The right half of a split, on the stack of the thread that split it. */
/* Tail boost of the thread running a stolen half (boost_state):
 *   0  running, no boost     1  the owner is starting one
 *   2  boosted               3  the half is done (no boost may start)
 * The owner moves 0 -> 1 -> 2; the runner, when its half is done, moves
 * 0 or 2 -> 3 and waits out a 1, taking a copy of what the boost saved.
 * It sets the latch first and ends the boost after, on its own thread:
 * ending it first could move the runner back onto a slow, busy CPU and
 * keep the owner waiting a whole time slice there (4 ms measured with
 * tracing, on every boosted half).  Every boost started is still ended by
 * the thread it raised, before that thread runs anything else, so a new
 * boost of it (which needs it running a new half) never captures a
 * boosted setting as its own.
 *
 * Ending a boost (Linux) puts back the setting the owner read when it
 * started it, so that setting must still be the runner's own when the
 * boost ends: the runner adopts the job's level before it lets owners see
 * it (runner_thread), and ends every boost on it before it changes its own
 * level (change_level, for a nested job or a stolen chunk at another
 * level), for good: a half whose boost ended early is not boosted again.
 * (A worker that stole a half while still at its previous job's
 * background level, boosted before its first chunk, was otherwise put
 * back to SCHED_BATCH at the boost's end and stayed there: the nesting
 * test failed about 2 runs in 100 under load.) */
enum { BOOST_NONE = 0, BOOST_STARTING = 1, BOOST_ON = 2, BOOST_DONE = 3 };
typedef struct range_task {
    rt_task base;
    rt_job *job;
    int64_t lo, hi;
    rt_splitter splitter;
    rt_participant *owner;
    rt_latch done;
    _Atomic uint64_t runner_thread; /* 0 until a thread runs it */
    _Atomic int boost_state;
    rt_qos_saved boost_saved;
    struct range_task *outer_run; /* the runner's enclosing boostable half */
} range_task;

static void run_range(rt_participant *self, rt_job *job, int64_t lo, int64_t hi,
                      rt_splitter splitter, bool migrated);

/* Claims the end of `right`'s boost: true, with what the boost saved in
 * *saved, if a boost is on that the caller must now end. */
static bool boost_claim_end(range_task *right, rt_qos_saved *saved)
{
    for (;;) {
        int state = atomic_load_explicit(&right->boost_state, memory_order_acquire);
        if (state == BOOST_STARTING) {
            rt_cpu_relax(); /* the owner is between its two steps */
            continue;
        }
        /* acq_rel: the owner's boost_saved (written before BOOST_ON) is seen. */
        if (atomic_compare_exchange_weak_explicit(&right->boost_state, &state, BOOST_DONE,
                                                  memory_order_acq_rel,
                                                  memory_order_relaxed)) {
            if (state != BOOST_ON)
                return false;
            *saved = right->boost_saved;
            return true;
        }
    }
}

static void adopt_qos(rt_participant *self, const rt_job *job);

/* Ends, on the runner's own thread, every boost on the halves it is
 * running (innermost first: an inner boost saved the outer one's setting),
 * before the runner changes its own level. */
static void end_boosts_before_level_change(rt_participant *self)
{
    for (range_task *half = self->boostable; half != NULL; half = half->outer_run) {
        rt_qos_saved saved;
        if (boost_claim_end(half, &saved)) {
            rt_qos_override_end(rt_qos_thread_self(), &saved);
            trace_instant(self, RT_TRACE_BOOST_END, half->job->id, (int64_t)self->thread_handle, 0);
        }
    }
}

static void range_task_execute(rt_task *task, rt_participant *self)
{
    range_task *right = (range_task *)task;
    rt_participant *owner = right->owner; /* read before the latch frees it */
    bool tail_boost = right->job->tail_boost;
    uint32_t job_id = right->job->id;
    if (tail_boost) {
        adopt_qos(self, right->job); /* the setting a boost will save */
        right->outer_run = self->boostable;
        self->boostable = right;
        atomic_store_explicit(&right->runner_thread, self->thread_handle, memory_order_release);
    }
    run_range(self, right->job, right->lo, right->hi, right->splitter, true);
    rt_qos_saved boost_saved;
    bool boosted = tail_boost && boost_claim_end(right, &boost_saved);
    if (tail_boost)
        self->boostable = right->outer_run; /* before the latch lets the owner free it */
    if (rt_latch_set(&right->done))
        rt_sleep_wake_specific(&owner->pool->sleep, &owner->sleep);
    if (boosted) {
        rt_qos_override_end(rt_qos_thread_self(), &boost_saved);
        trace_instant(self, RT_TRACE_BOOST_END, job_id, (int64_t)self->thread_handle, 0);
    }
}

/* The owner has nothing left but to wait for `right`: raise its runner. */
static void boost_runner(rt_participant *self, void *arg)
{
    range_task *right = arg;
    uint64_t thread = atomic_load_explicit(&right->runner_thread, memory_order_acquire);
    if (thread == 0 || thread == self->thread_handle)
        return;
    int expected = BOOST_NONE;
    if (!atomic_compare_exchange_strong_explicit(&right->boost_state, &expected, BOOST_STARTING,
                                                 memory_order_acquire, memory_order_relaxed))
        return; /* already done */
    rt_qos_override_start(thread, RT_QOS_INTERACTIVE, right->job->boost_cpus,
                          &right->boost_saved);
    stat_add(&self->boosts);
    trace_instant_at(self, RT_TRACE_BOOST, RT_QOS_INTERACTIVE, right->job->id, (int64_t)thread,
                     rt_trace_cpu_bits(right->job->boost_cpus));
    atomic_store_explicit(&right->boost_state, BOOST_ON, memory_order_release);
}

/* The CPUs this thread runs `job`'s chunks on: its own place in the
 * job's per-thread placement, else the level's. */
static const rt_cpuset *job_cpus_for(const rt_job *job, const rt_participant *self)
{
    int index = self->is_worker ? self->slot + 1 : 0;
    return index < job->thread_cpus_count ? &job->thread_cpus[index] : job->qos_cpus;
}

/* A thread adopts the QoS of the job whose chunk it is about to run, and
 * changes its setting only when level or CPUs differ: two compares per
 * chunk while they stay the same. */
/* A level on a thread outside the pool's jobs: the one it nests in is
 * undone first, and put back when this one ends. */
static int plain_enter(rt_qos_level level, const rt_cpuset *cpus, rt_level_frame *frame)
{
    frame->participant = NULL;
    frame->level = (int)level;
    frame->cpus = cpus;
    frame->outer = plain_top;
    frame->away = 0;
    if (frame->outer != NULL)
        rt_qos_restore(&frame->outer->saved);
    plain_top = frame;
    return rt_qos_apply(level, cpus, &frame->saved);
}

static void plain_leave(rt_level_frame *frame)
{
    rt_qos_restore(&frame->saved);
    plain_top = frame->outer;
    if (frame->outer != NULL)
        rt_qos_apply((rt_qos_level)frame->outer->level, frame->outer->cpus,
                     &frame->outer->saved);
}

/* Levels are always applied from the thread's own setting: one applied on
 * top of another keeps what the first raised (an interactive chunk nested
 * in a background job's ran at nice 10).  Level -1 is the thread's own
 * setting; for a caller that set a level for itself before calling
 * (plain_top), that level.  Runs on the participant's own thread. */
static int change_level(rt_participant *self, int level, const rt_cpuset *cpus)
{
    if (level == self->qos_level && cpus == self->qos_cpus)
        return 0;
    if (self->boostable != NULL)
        end_boosts_before_level_change(self);
    int changed = 0;
    rt_level_frame *plain = plain_top;
    if (self->qos_level >= 0) {
        rt_qos_restore(&self->qos_saved);
        if (plain != NULL && plain->away) {
            rt_qos_apply((rt_qos_level)plain->level, plain->cpus, &plain->saved);
            plain->away = 0;
        }
    }
    self->qos_level = -1;
    self->qos_cpus = NULL;
    if (level >= 0) {
        if (plain != NULL && !plain->away) {
            rt_qos_restore(&plain->saved);
            plain->away = 1;
        }
        changed = rt_qos_apply((rt_qos_level)level, cpus, &self->qos_saved);
        self->qos_level = level;
        self->qos_cpus = cpus;
    }
    trace_qos(self, cpus, changed);
    return changed;
}

static void adopt_qos(rt_participant *self, const rt_job *job)
{
    change_level(self, job->qos, job->qos >= 0 ? job_cpus_for(job, self) : NULL);
}

/* Back to the thread's own setting (a caller, when its job ends). */
static void drop_qos(rt_participant *self)
{
    change_level(self, -1, NULL);
}

static void run_range(rt_participant *self, rt_job *job, int64_t lo, int64_t hi,
                      rt_splitter splitter, bool migrated)
{
    if (job_cancelled(job))
        return;
    int64_t mid;
    if (rt_partition_split(&job->partition, &splitter, lo, hi, migrated, &mid)) {
        range_task right = {
            .base = {range_task_execute},
            .job = job,
            .lo = mid,
            .hi = hi,
            .splitter = splitter,
            .owner = self,
        };
        rt_latch_init(&right.done);
        atomic_init(&right.runner_thread, 0);
        atomic_init(&right.boost_state, BOOST_NONE);
        if (push_and_notify(self, &right.base, job_tag(job->qos))) {
            run_range(self, job, lo, mid, splitter, false);
            /* Everything the left half pushed has been popped or joined, so
             * the top of our deque is `right` unless a thief took it; and
             * thieves take the oldest entry first, so then the deque is
             * empty. */
            rt_task *task = untag(rt_deque_pop(&self->deque));
            if (task == &right.base) {
                run_range(self, job, mid, hi, splitter, false);
            } else {
                assert(task == NULL);
                /* While it waits, it takes no work below this job's level. */
                int saved_floor = self->floor_level;
                int level = job->qos >= 0 ? job->qos : RT_QOS_INITIATED;
                if (level > self->floor_level)
                    self->floor_level = level;
                if (job->tail_boost)
                    wait_until_hooked(self, &right.done, boost_runner, &right);
                else
                    wait_until(self, &right.done);
                self->floor_level = saved_floor;
            }
            return;
        }
        /* The deque could not grow (out of memory): run the range whole. */
    }
    if (self->interrupt != NULL)
        poll_interrupt(self);
    if (job_cancelled(job))
        return;
    stat_add(&self->leaves);
    adopt_qos(self, job);
    int stop;
    if (!trace_on(self->pool)) {
        stop = job->body(lo, hi, job->ctx);
    } else {
        int64_t begin = rt_trace_now_ns();
        int16_t cpu = rt_trace_cpu();
        stop = job->body(lo, hi, job->ctx);
        trace_record(self, RT_TRACE_TASK, job->qos, begin, rt_trace_now_ns(), cpu,
                     rt_trace_cpu(), job->id, lo, hi);
    }
    if (stop != 0)
        job_cancel(job, RT_STOPPED);
}

static int run_job(rt_participant *self, rt_job *job, int64_t begin, int64_t end,
                   const rt_for_options *options)
{
    rt_interrupt_fn saved_interrupt = self->interrupt;
    void *saved_ctx = self->interrupt_ctx;
    rt_job *saved_job = self->interrupt_job;
    int64_t saved_period = self->interrupt_period_ns;
    int64_t saved_next = self->next_poll_ns;
    if (options != NULL && options->interrupt != NULL) {
        self->interrupt = options->interrupt;
        self->interrupt_ctx = options->interrupt_ctx;
        self->interrupt_job = job;
        self->interrupt_period_ns = options->interrupt_period_ns > 0
                                        ? options->interrupt_period_ns
                                        : DEFAULT_INTERRUPT_PERIOD_NS;
        self->next_poll_ns = now_ns() + self->interrupt_period_ns;
    }
    if (!trace_on(self->pool)) {
        run_range(self, job, begin, end, rt_splitter_root(&job->partition), false);
    } else {
        job->id = atomic_fetch_add_explicit(&self->pool->next_job_id, 1, memory_order_relaxed) + 1;
        int64_t started = rt_trace_now_ns();
        int16_t cpu = rt_trace_cpu();
        int level = job->qos; /* the caller is at its own setting again at the end */
        run_range(self, job, begin, end, rt_splitter_root(&job->partition), false);
        trace_record(self, RT_TRACE_JOB, level, started, rt_trace_now_ns(), cpu, rt_trace_cpu(),
                     job->id, begin, end);
    }
    self->interrupt = saved_interrupt;
    self->interrupt_ctx = saved_ctx;
    self->interrupt_job = saved_job;
    self->interrupt_period_ns = saved_period;
    self->next_poll_ns = saved_next;
    return atomic_load_explicit(&job->status, memory_order_relaxed);
}

/* ---- callers ----------------------------------------------------------- */

static rt_participant *caller_acquire(rt_pool *pool)
{
    uint64_t used = atomic_load_explicit(&pool->callers_in_use, memory_order_relaxed);
    int k;
    for (;;) {
        if (used == ~(uint64_t)0)
            return NULL;
        k = __builtin_ctzll(~used);
        /* Acquire: the previous holder of slot k released it (release in
         * caller_release) after its last use of the slot. */
        if (atomic_compare_exchange_weak_explicit(&pool->callers_in_use, &used,
                                                  used | ((uint64_t)1 << k),
                                                  memory_order_acquire, memory_order_relaxed))
            break;
    }
    int slot = RT_MAX_WORKERS + k;
    rt_participant *p = atomic_load_explicit(&pool->slots[slot], memory_order_relaxed);
    if (p == NULL) {
        /* Only the holder of bit k creates slot k, so there is no race. */
        p = participant_new(pool, slot, false);
        if (p == NULL) {
            atomic_fetch_and_explicit(&pool->callers_in_use, ~((uint64_t)1 << k),
                                      memory_order_release);
            return NULL;
        }
        atomic_store_explicit(&pool->slots[slot], p, memory_order_release);
        raise_limit(&pool->caller_limit, k + 1);
    }
    return p;
}

static void caller_release(rt_pool *pool, rt_participant *p)
{
    int k = p->slot - RT_MAX_WORKERS;
    atomic_fetch_and_explicit(&pool->callers_in_use, ~((uint64_t)1 << k), memory_order_release);
}

/* A job from a thread that found no free caller slot: it goes through the
 * injector and the caller blocks without helping. */
typedef struct injected_root {
    rt_task base;
    rt_job *job;
    int64_t lo, hi;
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    bool done;
} injected_root;

static void injected_root_execute(rt_task *task, rt_participant *self)
{
    injected_root *root = (injected_root *)task;
    if (self != NULL) {
        run_range(self, root->job, root->lo, root->hi, rt_splitter_root(&root->job->partition),
                  true);
    } else if (!job_cancelled(root->job)) {
        /* Run by a thread outside the pool (no worker was left, see
         * drain_if_no_workers): whole, with nobody to share it with. */
        if (root->job->body(root->lo, root->hi, root->job->ctx) != 0)
            job_cancel(root->job, RT_STOPPED);
    }
    pthread_mutex_lock(&root->mutex);
    root->done = true;
    pthread_cond_signal(&root->cond);
    pthread_mutex_unlock(&root->mutex);
}

static int run_injected(rt_pool *pool, rt_job *job, int64_t begin, int64_t end,
                        const rt_for_options *options)
{
    injected_root root = {.base = {injected_root_execute}, .job = job, .lo = begin, .hi = end};
    pthread_mutex_init(&root.mutex, NULL);
    pthread_cond_init(&root.cond, NULL);
    bool was_empty = rt_injector_is_empty(&pool->injector);
    if (rt_injector_push(&pool->injector, &root.base) != 0) {
        if (job->body(begin, end, job->ctx) != 0) /* out of memory: run it here */
            job_cancel(job, RT_STOPPED);
    } else {
        notify_injected(pool, was_empty);
        int64_t period = options != NULL && options->interrupt_period_ns > 0
                             ? options->interrupt_period_ns
                             : DEFAULT_INTERRUPT_PERIOD_NS;
        pthread_mutex_lock(&root.mutex);
        while (!root.done) {
            if (options != NULL && options->interrupt != NULL) {
                /* A relative wait on the realtime clock is good enough for a
                 * polling period. */
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_sec += (time_t)(period / 1000000000);
                ts.tv_nsec += (long)(period % 1000000000);
                if (ts.tv_nsec >= 1000000000) {
                    ts.tv_sec += 1;
                    ts.tv_nsec -= 1000000000;
                }
                pthread_cond_timedwait(&root.cond, &root.mutex, &ts);
                if (!root.done && options->interrupt(options->interrupt_ctx) != 0)
                    job_cancel(job, RT_INTERRUPTED);
            } else {
                pthread_cond_wait(&root.cond, &root.mutex);
            }
        }
        pthread_mutex_unlock(&root.mutex);
    }
    pthread_cond_destroy(&root.cond);
    pthread_mutex_destroy(&root.mutex);
    return atomic_load_explicit(&job->status, memory_order_relaxed);
}

int rt_parallel_for(rt_pool *pool, int64_t begin, int64_t end, const rt_for_options *options,
                    rt_range_fn body, void *ctx)
{
    if (end <= begin)
        return RT_OK;
    int workers = atomic_load_explicit(&pool->num_workers, memory_order_relaxed);
    rt_job job = {
        .body = body,
        .ctx = ctx,
        .partition =
            {
                .grain = options != NULL && options->grain > 0 ? options->grain : 1,
                .max_chunk = options != NULL && options->max_chunk > 0 ? options->max_chunk : 0,
                .align = options != NULL && options->align > 0 ? options->align : 1,
                .nthreads = workers + 1,
            },
    };
    atomic_init(&job.status, RT_OK);
    job.qos = options != NULL && options->has_qos ? (int)options->qos : -1;
    job.qos_cpus = options != NULL ? options->qos_cpus : NULL;
    if (options != NULL && options->thread_cpus != NULL && options->thread_cpus_count > 0) {
        job.thread_cpus = options->thread_cpus;
        job.thread_cpus_count = options->thread_cpus_count;
    }
    if (job.qos >= RT_QOS_LEVELS)
        job.qos = RT_QOS_INITIATED;
    /* Background and utility work is never boosted. */
    job.tail_boost = options != NULL && options->tail_boost &&
                     (job.qos < 0 || job.qos >= RT_QOS_INITIATED);
    job.boost_cpus = options != NULL ? options->boost_cpus : NULL;

    rt_participant *self = current;
    if (self != NULL && self->pool == pool) {
        /* Nested, inside a chunk: levels nest as a stack, so the chunk is
         * back at its own job's level when the nested job returns (two
         * compares when the levels are the same). */
        int level = self->qos_level;
        const rt_cpuset *cpus = self->qos_cpus;
        int status = run_job(self, &job, begin, end, options);
        change_level(self, level, cpus);
        return status;
    }
    if (workers == 0) {
        rt_level_frame frame;
        const rt_cpuset *cpus = job.thread_cpus_count > 0 ? &job.thread_cpus[0] : job.qos_cpus;
        if (job.qos >= 0)
            plain_enter((rt_qos_level)job.qos, cpus, &frame);
        int status = body(begin, end, ctx) != 0 ? RT_STOPPED : RT_OK;
        if (job.qos >= 0)
            plain_leave(&frame);
        return status;
    }
    rt_participant *caller = caller_acquire(pool);
    if (caller == NULL)
        return run_injected(pool, &job, begin, end, options);
    current = caller;
    caller->thread_handle = job.tail_boost ? rt_qos_thread_self() : 0;
    int status = run_job(caller, &job, begin, end, options);
    drop_qos(caller); /* the caller's thread gets its own setting back */
    current = self;
    caller_release(pool, caller);
    return status;
}

/* ---- join and submit --------------------------------------------------- */

typedef struct join_task {
    rt_task base;
    rt_fn fn;
    void *ctx;
    rt_participant *owner;
    rt_latch done;
} join_task;

static void join_task_execute(rt_task *task, rt_participant *self)
{
    (void)self;
    join_task *j = (join_task *)task;
    rt_participant *owner = j->owner; /* read before the latch frees it */
    j->fn(j->ctx);
    if (rt_latch_set(&j->done))
        rt_sleep_wake_specific(&owner->pool->sleep, &owner->sleep);
}

static void join_here(rt_participant *self, rt_fn a, void *a_ctx, rt_fn b, void *b_ctx)
{
    join_task right = {.base = {join_task_execute}, .fn = b, .ctx = b_ctx, .owner = self};
    rt_latch_init(&right.done);
    if (!push_and_notify(self, &right.base, TAG_ANY)) {
        a(a_ctx);
        b(b_ctx);
        return;
    }
    a(a_ctx);
    rt_task *task = untag(rt_deque_pop(&self->deque)); /* see run_range */
    if (task == &right.base) {
        b(b_ctx);
    } else {
        assert(task == NULL);
        wait_until(self, &right.done);
    }
}

void rt_join(rt_pool *pool, rt_fn a, void *a_ctx, rt_fn b, void *b_ctx)
{
    rt_participant *self = current;
    if (RT_LIKELY(self != NULL && self->pool == pool)) {
        join_here(self, a, a_ctx, b, b_ctx);
        return;
    }
    rt_participant *caller = NULL;
    if (atomic_load_explicit(&pool->num_workers, memory_order_relaxed) > 0)
        caller = caller_acquire(pool);
    if (caller == NULL) {
        a(a_ctx);
        b(b_ctx);
        return;
    }
    current = caller;
    join_here(caller, a, a_ctx, b, b_ctx);
    current = self;
    caller_release(pool, caller);
}

typedef struct submitted_task {
    rt_task base;
    rt_fn fn;
    void *ctx;
} submitted_task;

static void submitted_task_execute(rt_task *task, rt_participant *self)
{
    submitted_task *s = (submitted_task *)task;
    rt_fn fn = s->fn;
    void *ctx = s->ctx;
    rt_free(s);
    if (self == NULL || !trace_on(self->pool)) {
        fn(ctx);
        return;
    }
    int64_t begin = rt_trace_now_ns();
    int16_t cpu = rt_trace_cpu();
    fn(ctx);
    trace_record(self, RT_TRACE_SUBMITTED, self->qos_level, begin, rt_trace_now_ns(), cpu,
                 rt_trace_cpu(), 0, 0, 0);
}

int rt_pool_submit(rt_pool *pool, rt_fn fn, void *ctx)
{
    if (atomic_load_explicit(&pool->num_workers, memory_order_relaxed) == 0) {
        fn(ctx);
        return 0;
    }
    submitted_task *s = rt_malloc(sizeof *s);
    if (s == NULL)
        return ENOMEM;
    s->base.execute = submitted_task_execute;
    s->fn = fn;
    s->ctx = ctx;
    bool was_empty = rt_injector_is_empty(&pool->injector);
    if (rt_injector_push(&pool->injector, &s->base) != 0) {
        rt_free(s);
        return ENOMEM;
    }
    notify_injected(pool, was_empty);
    return 0;
}

/* ---- workers and the pool's life --------------------------------------- */

static void name_this_thread(void)
{
    /* Shown by top -H, ps -L, gdb, and used by the tests to find workers. */
#if defined(__APPLE__)
    pthread_setname_np("runtime-worker");
#elif defined(__linux__)
    pthread_setname_np(pthread_self(), "runtime-worker");
#endif
}

static void *worker_main(void *arg)
{
    rt_participant *self = arg;
    name_this_thread();
    /* It inherited whatever its creator ran at: start from the pool's home. */
    rt_qos_restore(&self->pool->home_qos);
    self->thread_handle = rt_qos_thread_self();
    current = self;
    wait_until(self, NULL);
    current = NULL;
    if (self->pool->on_worker_exit != NULL)
        self->pool->on_worker_exit(self->pool->hook_arg);
    return NULL;
}

static int worker_start(rt_participant *w)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, WORKER_STACK_SIZE);
    atomic_store_explicit(&w->state, WORKER_RUNNING, memory_order_release);
    atomic_fetch_add_explicit(&w->pool->live_workers, 1, memory_order_seq_cst);
    int rc = pthread_create(&w->thread, &attr, worker_main, w);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        atomic_store_explicit(&w->state, WORKER_GONE, memory_order_release);
        atomic_fetch_sub_explicit(&w->pool->live_workers, 1, memory_order_seq_cst);
        return rc;
    }
    w->joinable = true;
    return 0;
}

/* Under resize_mutex. */
static int worker_ensure_running(rt_pool *pool, int i)
{
    rt_participant *w = slot_get(pool, i);
    if (w == NULL) {
        w = participant_new(pool, i, true);
        if (w == NULL)
            return ENOMEM;
        atomic_store_explicit(&pool->slots[i], w, memory_order_release);
        raise_limit(&pool->worker_limit, i + 1);
    }
    int expected = WORKER_LEAVING;
    if (atomic_compare_exchange_strong_explicit(&w->state, &expected, WORKER_RUNNING,
                                                memory_order_acq_rel, memory_order_acquire) ||
        expected == WORKER_RUNNING)
        return 0; /* still running (its leaving was undone in time) */
    if (w->joinable) {
        pthread_join(w->thread, NULL);
        w->joinable = false;
    }
    return worker_start(w);
}

/* Under resize_mutex. */
static void worker_ask_to_leave(rt_pool *pool, int i)
{
    rt_participant *w = slot_get(pool, i);
    if (w == NULL)
        return;
    int expected = WORKER_RUNNING;
    /* Seq-cst: the worker's S4 check (stay_awake_top_level) reads the state after
     * registering as sleeping; either it sees LEAVING, or our wake below
     * finds it blocked (SLEEP.md). */
    if (atomic_compare_exchange_strong_explicit(&w->state, &expected, WORKER_LEAVING,
                                                memory_order_seq_cst, memory_order_seq_cst))
        rt_sleep_wake_specific(&pool->sleep, &w->sleep);
}

int rt_pool_resize(rt_pool *pool, int num_workers)
{
    if (num_workers < 0 || num_workers > RT_MAX_WORKERS)
        return EINVAL;
    pthread_mutex_lock(&pool->resize_mutex);
    int rc = 0;
    int running = 0;
    while (running < num_workers && (rc = worker_ensure_running(pool, running)) == 0)
        running++;
    int limit = atomic_load_explicit(&pool->worker_limit, memory_order_relaxed);
    for (int i = running; i < limit; i++)
        worker_ask_to_leave(pool, i);
    atomic_store_explicit(&pool->num_workers, running, memory_order_relaxed);
    pthread_mutex_unlock(&pool->resize_mutex);
    return rc;
}

int rt_pool_num_workers(const rt_pool *pool)
{
    return atomic_load_explicit(&((rt_pool *)pool)->num_workers, memory_order_relaxed);
}

int rt_pool_create(const rt_pool_config *config, rt_pool **out)
{
    if (config->num_workers < 0 || config->num_workers > RT_MAX_WORKERS)
        return EINVAL;
    rt_pool *pool = rt_aligned_alloc(RT_CACHE_LINE, (sizeof(rt_pool) + RT_CACHE_LINE - 1) /
                                                     RT_CACHE_LINE * RT_CACHE_LINE);
    if (pool == NULL)
        return ENOMEM;
    memset(pool, 0, sizeof *pool);
    rt_sleep_init(&pool->sleep);
    int rc = rt_injector_init(&pool->injector);
    if (rc != 0) {
        rt_free(pool);
        return rc;
    }
    pthread_mutex_init(&pool->resize_mutex, NULL);
    pthread_mutex_init(&pool->trace_mutex, NULL);
    atomic_init(&pool->tracing, 0);
    atomic_init(&pool->trace_epoch, 0);
    atomic_init(&pool->trace_capacity, 0);
    atomic_init(&pool->next_job_id, 0);
    atomic_init(&pool->external_ring.count, 0);
    atomic_init(&pool->external_ring.dropped, 0);
    atomic_init(&pool->external_ring.epoch, 0);
    rt_qos_capture(&pool->home_qos); /* the creating thread, at its own setting */
    pool->spin_ns = config->spin_ns; /* < 0: budgeted, see spin_ns() */
    pool->on_worker_exit = config->on_worker_exit;
    pool->hook_arg = config->hook_arg;
    atomic_init(&pool->num_workers, 0);
    atomic_init(&pool->live_workers, 0);
    atomic_init(&pool->worker_limit, 0);
    atomic_init(&pool->caller_limit, 0);
    atomic_init(&pool->callers_in_use, 0);
    for (int i = 0; i < SLOT_COUNT; i++)
        atomic_init(&pool->slots[i], NULL);
    rc = rt_pool_resize(pool, config->num_workers);
    if (rc != 0) {
        rt_pool_destroy(pool);
        return rc;
    }
    *out = pool;
    return 0;
}

void rt_pool_destroy(rt_pool *pool)
{
    /* Submissions nobody waits for still run, here, before the workers go. */
    rt_task *task;
    while ((task = rt_injector_pop(&pool->injector)) != NULL)
        task->execute(task, NULL);

    pthread_mutex_lock(&pool->resize_mutex);
    int limit = atomic_load_explicit(&pool->worker_limit, memory_order_relaxed);
    for (int i = 0; i < limit; i++)
        worker_ask_to_leave(pool, i);
    for (int i = 0; i < limit; i++) {
        rt_participant *w = slot_get(pool, i);
        if (w != NULL && w->joinable) {
            pthread_join(w->thread, NULL);
            w->joinable = false;
        }
    }
    pthread_mutex_unlock(&pool->resize_mutex);

    for (int i = 0; i < SLOT_COUNT; i++) {
        rt_participant *p = slot_get(pool, i);
        if (p != NULL)
            participant_free(p);
    }
    rt_injector_destroy(&pool->injector);
    pthread_mutex_destroy(&pool->resize_mutex);
    rt_trace_ring_free(&pool->external_ring);
    pthread_mutex_destroy(&pool->trace_mutex);
    rt_free(pool);
}

void rt_pool_get_stats(rt_pool *pool, rt_pool_stats *out)
{
    memset(out, 0, sizeof *out);
    uint64_t c = atomic_load_explicit(&pool->sleep.counters, memory_order_relaxed);
    out->sleeping = (int)rt_sleep_sleeping(c);
    out->inactive = (int)rt_sleep_inactive(c);
    int workers = atomic_load_explicit(&pool->worker_limit, memory_order_acquire);
    int callers = atomic_load_explicit(&pool->caller_limit, memory_order_acquire);
    for (int v = 0; v < workers + callers; v++) {
        int slot = v < workers ? v : RT_MAX_WORKERS + (v - workers);
        rt_participant *p = slot_get(pool, slot);
        if (p == NULL)
            continue;
        if (p->is_worker &&
            atomic_load_explicit(&p->state, memory_order_relaxed) == WORKER_RUNNING)
            out->workers++;
        out->leaves += atomic_load_explicit(&p->leaves, memory_order_relaxed);
        out->steals += atomic_load_explicit(&p->steals, memory_order_relaxed);
        out->injected += atomic_load_explicit(&p->injected, memory_order_relaxed);
        out->parks += atomic_load_explicit(&p->parks, memory_order_relaxed);
        out->boosts += atomic_load_explicit(&p->boosts, memory_order_relaxed);
    }
}

int rt_pool_trace_start(rt_pool *pool, int64_t capacity)
{
    if (capacity <= 0 || capacity > RT_TRACE_MAX_CAPACITY)
        return EINVAL;
    if (atomic_load_explicit(&pool->tracing, memory_order_relaxed))
        return EBUSY;
    atomic_store_explicit(&pool->trace_capacity, capacity, memory_order_relaxed);
    pool->trace_start_ns = rt_trace_now_ns();
    atomic_store_explicit(&pool->next_job_id, 0, memory_order_relaxed);
    /* Release: a thread that sees the new epoch sees the capacity. */
    atomic_fetch_add_explicit(&pool->trace_epoch, 1, memory_order_release);
    atomic_store_explicit(&pool->tracing, 1, memory_order_release);
    return 0;
}

/* Each ring of the pool (the external one last) in turn. */
static rt_trace_ring *ring_at(rt_pool *pool, int v, int workers, int callers)
{
    if (v == workers + callers)
        return &pool->external_ring;
    rt_participant *p = slot_get(pool, v < workers ? v : RT_MAX_WORKERS + (v - workers));
    return p != NULL ? &p->ring : NULL;
}

int64_t rt_pool_trace_stop(rt_pool *pool, int64_t *start_ns)
{
    atomic_store_explicit(&pool->tracing, 0, memory_order_relaxed);
    *start_ns = pool->trace_start_ns;
    uint32_t epoch = atomic_load_explicit(&pool->trace_epoch, memory_order_relaxed);
    int workers = atomic_load_explicit(&pool->worker_limit, memory_order_acquire);
    int callers = atomic_load_explicit(&pool->caller_limit, memory_order_acquire);
    int64_t total = 0;
    pthread_mutex_lock(&pool->trace_mutex);
    for (int v = 0; v <= workers + callers; v++) {
        rt_trace_ring *ring = ring_at(pool, v, workers, callers);
        if (ring != NULL && atomic_load_explicit(&ring->epoch, memory_order_acquire) == epoch)
            total += atomic_load_explicit(&ring->count, memory_order_acquire);
    }
    pthread_mutex_unlock(&pool->trace_mutex);
    return total;
}

int64_t rt_pool_trace_read(rt_pool *pool, rt_trace_event *out, int64_t max, int64_t *dropped)
{
    uint32_t epoch = atomic_load_explicit(&pool->trace_epoch, memory_order_relaxed);
    int workers = atomic_load_explicit(&pool->worker_limit, memory_order_acquire);
    int callers = atomic_load_explicit(&pool->caller_limit, memory_order_acquire);
    int64_t n = 0;
    *dropped = 0;
    pthread_mutex_lock(&pool->trace_mutex);
    for (int v = 0; v <= workers + callers; v++) {
        rt_trace_ring *ring = ring_at(pool, v, workers, callers);
        if (ring != NULL)
            n += rt_trace_ring_read(ring, epoch, out + n, max - n, dropped);
    }
    pthread_mutex_unlock(&pool->trace_mutex);
    /* A thread that took its timestamps during the last trace can write the
     * event after this one started (it reads the epoch after the clock):
     * an event that ended before this trace began is not part of it. */
    int64_t kept = 0;
    for (int64_t i = 0; i < n; i++)
        if (out[i].end_ns >= pool->trace_start_ns)
            out[kept++] = out[i];
    return kept;
}

void rt_pool_trace_note(rt_pool *pool, int type, int level, int64_t lo, int64_t hi)
{
    if (!trace_on(pool))
        return;
    rt_participant *self = current;
    if (self != NULL && self->pool == pool) {
        trace_instant_at(self, type, level, 0, lo, hi);
        return;
    }
    pthread_mutex_lock(&pool->trace_mutex);
    rt_trace_event *e = trace_slot(pool, &pool->external_ring);
    if (e != NULL) {
        int64_t now = rt_trace_now_ns();
        int16_t cpu = rt_trace_cpu();
        fill_event(e, type, now, now, cpu, cpu, 0, lo, hi, level, 0xFFFF);
        rt_trace_ring_publish(&pool->external_ring);
    }
    pthread_mutex_unlock(&pool->trace_mutex);
}

int rt_pool_level_enter(rt_pool *pool, rt_qos_level level, const rt_cpuset *cpus,
                        rt_level_frame *frame)
{
    rt_participant *self = current;
    memset(frame, 0, sizeof *frame);
    if (pool == NULL || self == NULL || self->pool != pool)
        return plain_enter(level, cpus, frame);
    frame->participant = self;
    frame->prev_level = self->qos_level;
    frame->prev_cpus = self->qos_cpus;
    return change_level(self, (int)level, cpus);
}

void rt_pool_level_leave(rt_level_frame *frame)
{
    rt_participant *self = frame->participant;
    if (self == NULL)
        plain_leave(frame);
    else
        change_level(self, frame->prev_level, frame->prev_cpus);
}

int rt_pool_current_slot(const rt_pool *pool)
{
    rt_participant *self = current;
    return self != NULL && self->pool == pool ? self->slot : -1;
}

void rt_after_fork_child(void) { current = NULL; }
