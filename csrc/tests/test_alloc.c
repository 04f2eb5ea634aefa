/* Out of memory (and out of threads) everywhere the C core allocates,
 * through the allocation seam (../alloc.h: rt_alloc_fail_after fails the
 * Nth allocation) and, on Linux, the linker's --wrap of pthread_create,
 * pthread_mutex_init and pthread_cond_init (RT_TEST_WRAP_PTHREAD):
 *   - rt_deque_init; a push that must grow (false, nothing lost);
 *   - rt_injector_init (buffer, mutex); a push that must grow (ENOMEM);
 *   - rt_sleep_slot_init (mutex, condition variable);
 *   - a trace ring (the event is dropped and counted), directly and
 *     through the pool's ring for outside threads;
 *   - rt_pool_create failing at each of its allocations in turn, and at
 *     each worker's thread start: the error comes back, nothing leaks
 *     (ASan's leak check at exit);
 *   - rt_pool_resize up failing: the workers it did start stay;
 *   - a caller's participant (each of its allocations, its sleep slot):
 *     rt_parallel_for goes through the injector, rt_join runs inline;
 *   - a pool deque that cannot grow: rt_join runs both halves inline,
 *     rt_parallel_for runs the range whole;
 *   - rt_pool_submit: the task (ENOMEM) and the injector's growth (ENOMEM),
 *     the tasks already queued still run;
 *   - a 65th caller (no caller slot left) whose injector push fails runs
 *     its job inline;
 *   - the last worker leaving between a post's look at the workers and its
 *     append (a hook on the next allocation, or mutex init, resizes to
 *     none): the poster runs the work itself.
 * Each failure is injected while no other thread of the pool allocates
 * (idle or blocked workers), so which allocation fails is deterministic. */
#define _GNU_SOURCE
#include "../alloc.h"
#include "../deque.h"
#include "../injector.h"
#include "../pool.h"
#include "../sleep.h"
#include "../trace.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "gate.h"
#include "watchdog.h"

#ifndef RT_TESTING
#error "test_alloc needs the test build's allocation seam (-DRT_TESTING)"
#endif

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Arms the seam to fail the allocation after `n` more. */
static void fail_allocation_after(long n) { atomic_store(&rt_alloc_fail_after, n); }

/* Whether the armed failure happened (and disarms it if not). */
static bool failure_happened(void)
{
    long left = atomic_exchange(&rt_alloc_fail_after, -1);
    return left < 0;
}

/* ---- pthread failures (Linux: -Wl,--wrap) ------------------------------- */

#ifdef RT_TEST_WRAP_PTHREAD
static _Atomic int fail_create_after = -1, fail_mutex_after = -1, fail_cond_after = -1;

static bool consume(_Atomic int *after)
{
    int n = atomic_load(after);
    while (n >= 0)
        if (atomic_compare_exchange_weak(after, &n, n - 1))
            return n == 0;
    return false;
}

int __real_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
                          void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
                          void *arg)
{
    return consume(&fail_create_after) ? EAGAIN : __real_pthread_create(t, attr, fn, arg);
}

/* With hold_failing_init set, the failing pthread_mutex_init first says so
 * (held_in_init) and waits for release_init: a caller slot's creation can
 * then be kept half done while another caller takes the next slot. */
static _Atomic int hold_failing_init, held_in_init, release_init;

/* When set, the next pthread_mutex_init takes it and calls it first. */
static _Atomic(rt_alloc_hook_fn) mutex_init_hook;

int __real_pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *attr);
int __wrap_pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *attr)
{
    rt_alloc_hook_fn hook = atomic_exchange(&mutex_init_hook, NULL);
    if (hook != NULL)
        hook();
    if (!consume(&fail_mutex_after))
        return __real_pthread_mutex_init(m, attr);
    if (atomic_load(&hold_failing_init)) {
        atomic_store(&held_in_init, 1);
        while (!atomic_load(&release_init))
            sleep_ms(1);
    }
    return ENOMEM;
}

int __real_pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *attr);
int __wrap_pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *attr)
{
    return consume(&fail_cond_after) ? ENOMEM : __real_pthread_cond_init(c, attr);
}
#endif

/* ---- deque, injector, sleep slot, trace ring ---------------------------- */

static rt_task items[64];

static void test_deque(void)
{
    /* The deque's fields are cache-line aligned: not on the stack's say-so. */
    rt_deque *d = aligned_alloc(RT_CACHE_LINE, (sizeof *d + RT_CACHE_LINE - 1) /
                                                   RT_CACHE_LINE * RT_CACHE_LINE);
    CHECK(d != NULL);
    fail_allocation_after(0);
    CHECK(rt_deque_init(d, 2) == ENOMEM);
    CHECK(failure_happened());

    CHECK(rt_deque_init(d, 2) == 0);
    CHECK(rt_deque_push(d, &items[0]) && rt_deque_push(d, &items[1]));
    fail_allocation_after(0);
    CHECK(!rt_deque_push(d, &items[2])); /* had to grow */
    CHECK(failure_happened());
    CHECK(rt_deque_size_hint(d) == 2 && atomic_load(&d->buffer)->capacity == 2);
    CHECK(rt_deque_push(d, &items[2])); /* grows now */
    CHECK(rt_deque_pop(d) == &items[2] && rt_deque_pop(d) == &items[1]);
    rt_task *t;
    CHECK(rt_deque_steal(d, 0, &t) == RT_STEAL_SUCCESS && t == &items[0]);
    rt_deque_destroy(d);
    free(d);
    printf("ok deque: init ENOMEM; a push that cannot grow returns false, nothing lost\n");
}

static void test_injector(void)
{
    rt_injector q;
    fail_allocation_after(0);
    CHECK(rt_injector_init(&q) == ENOMEM);
    CHECK(failure_happened());
#ifdef RT_TEST_WRAP_PTHREAD
    atomic_store(&fail_mutex_after, 0);
    CHECK(rt_injector_init(&q) == ENOMEM); /* its buffer is freed (ASan) */
    CHECK(atomic_load(&fail_mutex_after) == -1);
#endif
    CHECK(rt_injector_init(&q) == 0);
    for (int i = 0; i < 16; i++)
        CHECK(rt_injector_push(&q, &items[i]) == 0);
    fail_allocation_after(0);
    CHECK(rt_injector_push(&q, &items[16]) == ENOMEM);
    CHECK(failure_happened());
    CHECK(q.capacity == 16);
    CHECK(rt_injector_push(&q, &items[16]) == 0);
    for (int i = 0; i <= 16; i++)
        CHECK(rt_injector_pop(&q) == &items[i]);
    CHECK(rt_injector_pop(&q) == NULL);
    rt_injector_destroy(&q);
    printf("ok injector: init ENOMEM (buffer%s); a push that cannot grow: ENOMEM, "
           "nothing lost\n",
#ifdef RT_TEST_WRAP_PTHREAD
           ", mutex"
#else
           ""
#endif
    );
}

static void test_sleep_slot(void)
{
#ifdef RT_TEST_WRAP_PTHREAD
    rt_sleep_slot slot;
    atomic_store(&fail_mutex_after, 0);
    CHECK(rt_sleep_slot_init(&slot) == ENOMEM);
    CHECK(atomic_load(&fail_mutex_after) == -1);
    atomic_store(&fail_cond_after, 0);
    CHECK(rt_sleep_slot_init(&slot) == ENOMEM); /* its mutex is destroyed */
    CHECK(atomic_load(&fail_cond_after) == -1);
    CHECK(rt_sleep_slot_init(&slot) == 0);
    rt_sleep_slot_destroy(&slot);
    printf("ok sleep slot: mutex or condition variable init failing is returned\n");
#else
    printf("skip sleep slot init failures (needs the GNU linker's --wrap)\n");
#endif
}

static void test_trace_ring(void)
{
    rt_trace_ring ring;
    memset(&ring, 0, sizeof ring);
    fail_allocation_after(0);
    CHECK(rt_trace_ring_next(&ring, 1, 8) == NULL);
    CHECK(failure_happened());
    CHECK(ring.events == NULL && ring.capacity == 0 && atomic_load(&ring.dropped) == 1);
    /* The rest of this trace drops too (no allocation per event) ... */
    long count = atomic_load(&rt_alloc_count);
    CHECK(rt_trace_ring_next(&ring, 1, 8) == NULL);
    CHECK(atomic_load(&rt_alloc_count) == count && atomic_load(&ring.dropped) == 2);
    rt_trace_event out[8];
    int64_t dropped = 0;
    CHECK(rt_trace_ring_read(&ring, 1, out, 8, &dropped) == 0 && dropped == 2);
    /* ... and the next trace allocates again. */
    rt_trace_event *e = rt_trace_ring_next(&ring, 2, 8);
    CHECK(e != NULL && ring.capacity == 8);
    memset(e, 0, sizeof *e);
    rt_trace_ring_publish(&ring);
    dropped = 0;
    CHECK(rt_trace_ring_read(&ring, 2, out, 8, &dropped) == 1 && dropped == 0);
    rt_trace_ring_free(&ring);

    /* Through a pool: the ring for threads outside it. */
    rt_pool *pool;
    rt_pool_config config = {.num_workers = 0, .spin_ns = -1};
    CHECK(rt_pool_create(&config, &pool) == 0);
    CHECK(rt_pool_trace_start(pool, 16) == 0);
    fail_allocation_after(0);
    rt_pool_trace_note(pool, RT_TRACE_QOS, 1, 0, 0);
    CHECK(failure_happened());
    rt_pool_trace_note(pool, RT_TRACE_QOS, 1, 0, 0);
    int64_t start;
    CHECK(rt_pool_trace_stop(pool, &start) == 0);
    dropped = 0;
    CHECK(rt_pool_trace_read(pool, out, 8, &dropped) == 0 && dropped == 2);
    CHECK(rt_pool_trace_start(pool, 16) == 0);
    rt_pool_trace_note(pool, RT_TRACE_QOS, 1, 0, 0);
    CHECK(rt_pool_trace_stop(pool, &start) == 1);
    CHECK(rt_pool_trace_read(pool, out, 8, &dropped) == 1 && dropped == 0);
    rt_pool_destroy(pool);
    printf("ok trace ring: no memory drops and counts the trace's events; the next one "
           "allocates\n");
}

/* ---- pool creation and resize --------------------------------------------- */

static rt_pool *new_pool(int workers)
{
    rt_pool *pool = NULL;
    rt_pool_config config = {.num_workers = workers, .spin_ns = 0};
    CHECK(rt_pool_create(&config, &pool) == 0);
    return pool;
}

static void test_pool_create(void)
{
    /* How many allocations a successful creation makes. */
    long before = atomic_load(&rt_alloc_count);
    rt_pool *pool = new_pool(2);
    long allocations = atomic_load(&rt_alloc_count) - before;
    rt_pool_destroy(pool);
    CHECK(allocations >= 6); /* pool, injector, 2 x (participant, deque) */
    for (long n = 0; n < allocations; n++) {
        pool = NULL;
        rt_pool_config config = {.num_workers = 2, .spin_ns = 0};
        fail_allocation_after(n);
        CHECK(rt_pool_create(&config, &pool) == ENOMEM);
        CHECK(failure_happened());
        CHECK(pool == NULL);
    }
#ifdef RT_TEST_WRAP_PTHREAD
    for (int n = 0; n < 2; n++) {
        pool = NULL;
        rt_pool_config config = {.num_workers = 2, .spin_ns = 0};
        atomic_store(&fail_create_after, n);
        CHECK(rt_pool_create(&config, &pool) == EAGAIN);
        CHECK(atomic_load(&fail_create_after) == -1 && pool == NULL);
    }
    /* The injector's mutex. */
    atomic_store(&fail_mutex_after, 0);
    rt_pool_config config = {.num_workers = 1, .spin_ns = 0};
    CHECK(rt_pool_create(&config, &pool) == ENOMEM);
#endif
    printf("ok rt_pool_create: each of its %ld allocations failing in turn: ENOMEM%s; "
           "nothing leaks\n",
           allocations,
#ifdef RT_TEST_WRAP_PTHREAD
           "; each worker's thread start: EAGAIN; the injector's mutex"
#else
           ""
#endif
    );
}

static _Atomic int64_t ran;

static int count_body(int64_t lo, int64_t hi, void *ctx)
{
    (void)ctx;
    atomic_fetch_add(&ran, hi - lo);
    return 0;
}

static void test_pool_resize(void)
{
    rt_pool *pool = new_pool(1);
    fail_allocation_after(0); /* the new worker's participant */
    CHECK(rt_pool_resize(pool, 3) == ENOMEM);
    CHECK(failure_happened());
    CHECK(rt_pool_num_workers(pool) == 1);
    fail_allocation_after(1); /* its deque */
    CHECK(rt_pool_resize(pool, 3) == ENOMEM);
    CHECK(failure_happened());
    CHECK(rt_pool_num_workers(pool) == 1);
#ifdef RT_TEST_WRAP_PTHREAD
    atomic_store(&fail_create_after, 1); /* the third worker's thread */
    CHECK(rt_pool_resize(pool, 3) == EAGAIN);
    CHECK(rt_pool_num_workers(pool) == 2);
#endif
    CHECK(rt_pool_resize(pool, 3) == 0);
    CHECK(rt_pool_num_workers(pool) == 3);
    atomic_store(&ran, 0);
    CHECK(rt_parallel_for(pool, 0, 1000, NULL, count_body, NULL) == RT_OK);
    CHECK(atomic_load(&ran) == 1000);
    rt_pool_destroy(pool);
    printf("ok rt_pool_resize up, out of memory%s: the workers started stay, the pool "
           "works\n",
#ifdef RT_TEST_WRAP_PTHREAD
           " or threads"
#else
           ""
#endif
    );
}

/* ---- a caller's participant --------------------------------------------- */

typedef struct where {
    rt_pool *pool;
    _Atomic int on_caller_slot, on_worker, outside;
} where;

static void note_slot(where *w)
{
    int slot = rt_pool_current_slot(w->pool);
    if (slot < 0)
        atomic_fetch_add(&w->outside, 1);
    else if (slot < RT_MAX_WORKERS)
        atomic_fetch_add(&w->on_worker, 1);
    else
        atomic_fetch_add(&w->on_caller_slot, 1);
}

static int where_body(int64_t lo, int64_t hi, void *ctx)
{
    note_slot(ctx);
    atomic_fetch_add(&ran, hi - lo);
    return 0;
}

static int where_stop_body(int64_t lo, int64_t hi, void *ctx)
{
    where_body(lo, hi, ctx);
    return 1;
}

static void where_fn(void *ctx) { note_slot(ctx); }

static void test_caller_participant(void)
{
    rt_pool *pool = new_pool(1);
    rt_pool_stats st;
    /* Each allocation of the caller's participant, then its sleep slot:
     * the job goes through the injector to the worker instead. */
    int cases = 2;
#ifdef RT_TEST_WRAP_PTHREAD
    cases = 4;
#endif
    for (int c = 0; c < cases; c++) {
        if (c < 2)
            fail_allocation_after(c);
#ifdef RT_TEST_WRAP_PTHREAD
        else if (c == 2)
            atomic_store(&fail_mutex_after, 0);
        else
            atomic_store(&fail_cond_after, 0);
#endif
        where w = {.pool = pool};
        atomic_store(&ran, 0);
        rt_for_options options = {.max_chunk = 10};
        CHECK(rt_parallel_for(pool, 0, 100, &options, where_body, &w) == RT_OK);
        if (c < 2)
            CHECK(failure_happened());
#ifdef RT_TEST_WRAP_PTHREAD
        CHECK(atomic_load(&fail_mutex_after) == -1 && atomic_load(&fail_cond_after) == -1);
#endif
        CHECK(atomic_load(&ran) == 100);
        /* Every chunk ran on the worker: the caller had no slot to help. */
        CHECK(atomic_load(&w.on_caller_slot) == 0 && atomic_load(&w.outside) == 0);
        CHECK(atomic_load(&w.on_worker) >= 10);
    }
    rt_pool_get_stats(pool, &st);
    CHECK(st.injected == (uint64_t)cases);
    /* With memory, the caller gets its slot and works on its job. */
    where w = {.pool = pool};
    rt_for_options options = {.max_chunk = 10};
    CHECK(rt_parallel_for(pool, 0, 100, &options, where_body, &w) == RT_OK);
    CHECK(atomic_load(&w.outside) == 0 && atomic_load(&w.on_caller_slot) >= 1);
    rt_pool_destroy(pool);

    /* rt_join without a participant runs both functions here. */
    pool = new_pool(1);
    for (int c = 0; c < 2; c++) {
        where wj = {.pool = pool};
        fail_allocation_after(c);
        rt_join(pool, where_fn, &wj, where_fn, &wj);
        CHECK(failure_happened());
        CHECK(atomic_load(&wj.outside) == 2);
    }
    where wj = {.pool = pool};
    rt_join(pool, where_fn, &wj, where_fn, &wj);
    CHECK(atomic_load(&wj.outside) == 0);
    rt_pool_destroy(pool);
    printf("ok caller slot without memory%s: parallel_for goes through the injector, join runs "
           "inline\n",
#ifdef RT_TEST_WRAP_PTHREAD
           " (or mutex, condition variable)"
#else
           ""
#endif
    );
}

#ifdef RT_TEST_WRAP_PTHREAD
/* Caller slot 0 fails to be created while slot 1 is created: the stats,
 * the trace's stop and read then pass over an empty slot below the
 * callers' limit. */
typedef struct first_caller {
    rt_pool *pool;
    int status;
} first_caller;

static void *first_caller_main(void *arg)
{
    first_caller *c = arg;
    atomic_store(&ran, 0);
    c->status = rt_parallel_for(c->pool, 0, 10, NULL, count_body, NULL);
    return NULL;
}

static void test_empty_caller_slot(void)
{
    rt_pool *pool = new_pool(1);
    CHECK(rt_pool_trace_start(pool, 64) == 0);
    atomic_store(&hold_failing_init, 1);
    atomic_store(&fail_mutex_after, 0); /* slot 0's sleep slot, held */
    first_caller a = {pool, -1};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, first_caller_main, &a) == 0);
    while (!atomic_load(&held_in_init))
        sleep_ms(1);
    /* This thread gets slot 1 (slot 0 is taken, half made). */
    where w = {.pool = pool};
    CHECK(rt_parallel_for(pool, 0, 1, NULL, where_body, &w) == RT_OK);
    CHECK(atomic_load(&w.on_caller_slot) == 1);
    atomic_store(&release_init, 1);
    pthread_join(t, NULL);
    CHECK(a.status == RT_OK && atomic_load(&ran) >= 10);
    atomic_store(&hold_failing_init, 0);
    /* Slot 0 is empty, slot 1 is not. */
    rt_pool_stats st;
    rt_pool_get_stats(pool, &st);
    CHECK(st.workers == 1 && st.leaves >= 2);
    int64_t start, dropped;
    int64_t bound = rt_pool_trace_stop(pool, &start);
    rt_trace_event *events = calloc((size_t)bound + 1, sizeof *events);
    CHECK(events != NULL);
    CHECK(rt_pool_trace_read(pool, events, bound, &dropped) == bound);
    free(events);
    rt_pool_destroy(pool);
    printf("ok a caller slot that failed to be made below one that was: stats and traces "
           "pass over it\n");
}
#endif

/* ---- a worker kept busy, so that nothing steals or drains the injector --- */

/* gate.h: gate_init, gate_wait, gate_open, gate_destroy. */

static void gate_task(void *arg) { gate_wait(arg); }

static void until_waiting(gate *g, int n)
{
    while (atomic_load(&g->waiting) < n)
        sleep_ms(1);
}

/* ---- a pool deque that cannot grow ------------------------------------- */

typedef struct deep {
    rt_pool *pool;
    bool armed; /* the join that called us armed a failure for its push */
    int depth;
    _Atomic int *leaves;
    _Atomic int *inline_pairs;
} deep;

static void leaf(void *arg) { atomic_fetch_add(((deep *)arg)->leaves, 1); }

static _Atomic int chunks;
static int chunk_body(int64_t lo, int64_t hi, void *ctx)
{
    (void)ctx;
    atomic_fetch_add(&chunks, 1);
    atomic_fetch_add(&ran, hi - lo);
    return 0;
}

/* Nested joins, each leaving its right half in the caller's deque (nobody
 * steals: the only worker is held), each arming a failure for its push.
 * A push that fits allocates nothing and the left half disarms; the first
 * push that must grow the buffer fails, and the join runs both halves
 * here, in order.  That left half then finds the deque full. */
static void deep_join(void *arg)
{
    deep *d = arg;
    if (d->armed && failure_happened()) {
        atomic_fetch_add(d->inline_pairs, 1);
        /* A parallel_for's first split cannot be pushed either: the range
         * runs whole. */
        atomic_store(&chunks, 0);
        atomic_store(&ran, 0);
        rt_for_options one = {.max_chunk = 1};
        fail_allocation_after(0);
        CHECK(rt_parallel_for(d->pool, 0, 8, &one, chunk_body, NULL) == RT_OK);
        CHECK(failure_happened());
        CHECK(atomic_load(&chunks) == 1 && atomic_load(&ran) == 8);
        return;
    }
    CHECK(d->depth < 100000);
    deep left = *d, right = *d;
    left.armed = true;
    left.depth++;
    fail_allocation_after(0);
    rt_join(d->pool, deep_join, &left, leaf, &right);
    *d = left; /* the depth reached, up the chain */
}

static void test_deque_cannot_grow(void)
{
    rt_pool *pool = new_pool(1);
    gate g;
    gate_init(&g);
    CHECK(rt_pool_submit(pool, gate_task, &g) == 0);
    until_waiting(&g, 1); /* the worker is held */
    _Atomic int leaves = 0, inline_pairs = 0;
    deep root = {pool, false, 0, &leaves, &inline_pairs};
    rt_join(pool, deep_join, &root, leaf, &(deep){pool, false, 0, &leaves, &inline_pairs});
    CHECK(atomic_load(&inline_pairs) == 1);
    /* Joins whose right half was pushed, plus the inline one's. */
    CHECK(atomic_load(&leaves) == root.depth + 1);
    gate_open(&g);
    rt_pool_destroy(pool);
    gate_destroy(&g);
    printf("ok a full pool deque (%d entries) that cannot grow: join runs both halves "
           "inline, parallel_for the range whole\n",
           root.depth);
}

/* ---- submit -------------------------------------------------------------- */

static _Atomic int submitted_ran;
static void count_submitted(void *arg)
{
    (void)arg;
    atomic_fetch_add(&submitted_ran, 1);
}

static void test_submit(void)
{
    rt_pool *pool = new_pool(1);
    atomic_store(&submitted_ran, 0);
    fail_allocation_after(0); /* the task */
    CHECK(rt_pool_submit(pool, count_submitted, NULL) == ENOMEM);
    CHECK(failure_happened());

    /* Hold the worker, fill the injector (16), then its growth fails. */
    gate g;
    gate_init(&g);
    CHECK(rt_pool_submit(pool, gate_task, &g) == 0);
    until_waiting(&g, 1);
    for (int i = 0; i < 16; i++)
        CHECK(rt_pool_submit(pool, count_submitted, NULL) == 0);
    fail_allocation_after(1); /* the task succeeds, the injector's growth fails */
    CHECK(rt_pool_submit(pool, count_submitted, NULL) == ENOMEM); /* the task is freed */
    CHECK(failure_happened());
    CHECK(atomic_load(&submitted_ran) == 0);
    gate_open(&g);
    while (atomic_load(&submitted_ran) < 16)
        sleep_ms(1);
    sleep_ms(10);
    CHECK(atomic_load(&submitted_ran) == 16);
    rt_pool_destroy(pool);
    gate_destroy(&g);
    printf("ok rt_pool_submit: ENOMEM for the task and for the injector's growth; the queued "
           "tasks run\n");
}

/* ---- the 65th caller, and its injector push failing ---------------------- */

/* gate.h: blocked_caller, blocked_caller_main. */

static void test_no_slot_no_memory(void)
{
    rt_pool *pool = new_pool(1);
    gate g;
    gate_init(&g);
    /* The worker, then every caller slot, held. */
    CHECK(rt_pool_submit(pool, gate_task, &g) == 0);
    until_waiting(&g, 1);
    pthread_t threads[RT_MAX_CALLERS];
    blocked_caller callers[RT_MAX_CALLERS];
    for (int i = 0; i < RT_MAX_CALLERS; i++) {
        callers[i] = (blocked_caller){pool, &g, -1};
        CHECK(pthread_create(&threads[i], NULL, blocked_caller_main, &callers[i]) == 0);
    }
    until_waiting(&g, 1 + RT_MAX_CALLERS);
    /* A full injector. */
    atomic_store(&submitted_ran, 0);
    for (int i = 0; i < 16; i++)
        CHECK(rt_pool_submit(pool, count_submitted, NULL) == 0);
    /* No caller slot, and the injector cannot grow: the job runs here. */
    where w = {.pool = pool};
    atomic_store(&ran, 0);
    fail_allocation_after(0);
    CHECK(rt_parallel_for(pool, 0, 50, NULL, where_body, &w) == RT_OK);
    CHECK(failure_happened());
    CHECK(atomic_load(&ran) == 50 && atomic_load(&w.outside) == 1);
    /* A body that stops: the job says so. */
    fail_allocation_after(0);
    CHECK(rt_parallel_for(pool, 0, 50, NULL, where_stop_body, &w) == RT_STOPPED);
    CHECK(failure_happened());
    CHECK(atomic_load(&w.outside) == 2);
    gate_open(&g);
    for (int i = 0; i < RT_MAX_CALLERS; i++) {
        pthread_join(threads[i], NULL);
        CHECK(callers[i].status == RT_OK);
    }
    while (atomic_load(&submitted_ran) < 16)
        sleep_ms(1);
    rt_pool_destroy(pool);
    gate_destroy(&g);
    printf("ok a caller with no slot whose injector push fails runs its job itself\n");
}

/* ---- the last worker leaves between a post's check and its append ------- */

static rt_pool *hooked_pool;
static _Atomic int exits;

static void count_exit(void *arg)
{
    (void)arg;
    atomic_fetch_add(&exits, 1);
}

/* The hook: resize to no workers and wait until the last one has gone. */
static void take_the_last_worker(void)
{
    int before = atomic_load(&exits);
    CHECK(rt_pool_resize(hooked_pool, 0) == 0);
    while (atomic_load(&exits) == before)
        sleep_ms(1);
}

static rt_pool *pool_with_exit_hook(int workers)
{
    rt_pool *pool = NULL;
    rt_pool_config config = {
        .num_workers = workers, .spin_ns = 0, .on_worker_exit = count_exit, .hook_arg = NULL};
    CHECK(rt_pool_create(&config, &pool) == 0);
    return pool;
}

static _Atomic int submitted_here;
static void note_submitted(void *arg)
{
    atomic_store(&submitted_here, rt_pool_current_slot(arg) == -1 ? 1 : 2);
}

static void test_last_worker_leaves_while_posting(void)
{
    /* rt_pool_submit saw a worker, then (while it allocated the task) the
     * last worker left: the submitter runs the task itself, at once. */
    hooked_pool = pool_with_exit_hook(1);
    atomic_store(&submitted_here, 0);
    atomic_store(&rt_alloc_hook, take_the_last_worker);
    CHECK(rt_pool_submit(hooked_pool, note_submitted, hooked_pool) == 0);
    CHECK(atomic_load(&rt_alloc_hook) == NULL);
    CHECK(atomic_load(&submitted_here) == 1);
    CHECK(rt_pool_num_workers(hooked_pool) == 0);
    rt_pool_destroy(hooked_pool);
#ifdef RT_TEST_WRAP_PTHREAD
    /* A caller with no slot saw a worker, then (while it set up its wait)
     * the last worker left: it runs its job itself, whole. */
    hooked_pool = pool_with_exit_hook(1);
    gate g;
    gate_init(&g);
    pthread_t threads[RT_MAX_CALLERS];
    blocked_caller callers[RT_MAX_CALLERS];
    for (int i = 0; i < RT_MAX_CALLERS; i++) {
        callers[i] = (blocked_caller){hooked_pool, &g, -1};
        CHECK(pthread_create(&threads[i], NULL, blocked_caller_main, &callers[i]) == 0);
    }
    until_waiting(&g, RT_MAX_CALLERS);
    where w = {.pool = hooked_pool};
    atomic_store(&ran, 0);
    atomic_store(&mutex_init_hook, take_the_last_worker);
    CHECK(rt_parallel_for(hooked_pool, 0, 100, NULL, where_stop_body, &w) == RT_STOPPED);
    CHECK(atomic_load(&mutex_init_hook) == NULL);
    CHECK(atomic_load(&w.outside) == 1 && atomic_load(&ran) == 100); /* whole, here */
    gate_open(&g);
    for (int i = 0; i < RT_MAX_CALLERS; i++) {
        pthread_join(threads[i], NULL);
        CHECK(callers[i].status == RT_OK);
    }
    rt_pool_destroy(hooked_pool);
    gate_destroy(&g);
#endif
    printf("ok the last worker leaves as work is posted: the poster runs it (submit%s)\n",
#ifdef RT_TEST_WRAP_PTHREAD
           ", a caller with no slot"
#else
           ""
#endif
    );
}

int main(void)
{
    rt_test_watchdog(60);
    test_deque();
    test_injector();
    test_sleep_slot();
    test_trace_ring();
    test_pool_create();
    test_pool_resize();
    test_caller_participant();
#ifdef RT_TEST_WRAP_PTHREAD
    test_empty_caller_slot();
#endif
    test_deque_cannot_grow();
    test_submit();
    test_no_slot_no_memory();
    test_last_worker_leaves_while_posting();
    CHECK(atomic_load(&rt_alloc_fail_after) == -1);
    printf("all allocation-failure tests passed (%ld failures injected)\n",
           atomic_load(&rt_alloc_failures));
    return 0;
}
