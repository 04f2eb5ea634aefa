/* The pool's less travelled paths, each driven on purpose (test_pool.c is
 * the stress test; test_alloc.c the failures):
 *   - argument checks (EINVAL), an empty range, no workers at all;
 *   - resize: down to 0 and up again while callers run jobs; a worker that
 *     left and is started again; the on_worker_exit hook;
 *   - a submission waking a parked worker, stats after known work;
 *   - rt_join from outside, from inside a chunk, with no workers;
 *   - more than 64 concurrent callers (the 65th goes through the
 *     injector), with and without an interrupt hook;
 *   - the interrupt hook of a caller that waits for a stolen piece (it
 *     blocks with a timeout so as to poll);
 *   - a waiting caller whose park keeps failing because a lower-level job
 *     it may not help with keeps posting work (SLEEP.md S3b);
 *   - QoS options: has_qos, per-thread CPUs, an out-of-range level, a
 *     worker moving between levels, tail boost (raised, or not for
 *     background work); levels set by hand, nested, in and outside jobs;
 *   - tracing: events of a submitted task, a stopped job, instant notes
 *     from inside and outside the pool, a read into a short buffer;
 *   - rt_pool_destroy running submissions still queued;
 *   - rt_after_fork_child in a forked child.
 * Where a path needs a piece of work to be stolen, the caller's first
 * chunk waits until a worker has started another one: the caller runs the
 * leftmost chunk itself, so the rest can only run elsewhere. */
#define _GNU_SOURCE
#include "../pool.h"
#include "../qos.h"
#include "../trace.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "gate.h"
#include "watchdog.h"

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static rt_pool *new_pool(int workers, int64_t spin_ns)
{
    rt_pool *pool = NULL;
    rt_pool_config config = {.num_workers = workers, .spin_ns = spin_ns};
    CHECK(rt_pool_create(&config, &pool) == 0);
    return pool;
}

static rt_pool_stats stats(rt_pool *pool)
{
    rt_pool_stats st;
    rt_pool_get_stats(pool, &st);
    return st;
}

/* Waits until every running worker of `pool` is parked. */
static void until_all_parked(rt_pool *pool)
{
    for (;;) {
        rt_pool_stats st = stats(pool);
        if (st.sleeping == st.workers && st.workers == rt_pool_num_workers(pool))
            return;
        sleep_ms(1);
    }
}

static bool on_worker(rt_pool *pool)
{
    int slot = rt_pool_current_slot(pool);
    return slot >= 0 && slot < RT_MAX_WORKERS;
}

static bool on_caller_slot(rt_pool *pool) { return rt_pool_current_slot(pool) >= RT_MAX_WORKERS; }

/* ---- a gate that holds threads ------------------------------------------ */

/* gate.h: gate_init, gate_wait, gate_open, gate_destroy. */

static void until_waiting(gate *g, int n)
{
    while (atomic_load(&g->waiting) < n)
        sleep_ms(1);
}

/* ---- bodies ---------------------------------------------------------------- */

static _Atomic int64_t ran;

static int count_body(int64_t lo, int64_t hi, void *ctx)
{
    (void)ctx;
    atomic_fetch_add(&ran, hi - lo);
    return 0;
}

/* Two chunks, [0, 1) and [1, 2) (max_chunk 1): the caller runs the first
 * and waits in it until a worker has started the second, which then takes
 * `right_ms`.  So the caller ends up waiting for a stolen piece. */
typedef struct stolen {
    rt_pool *pool;
    int right_ms;
    _Atomic int right_started;
    _Atomic int right_on_worker;
    void (*in_right)(struct stolen *); /* run by the stolen piece, may be NULL */
    void *arg;
} stolen;

static int stolen_body(int64_t lo, int64_t hi, void *ctx)
{
    stolen *s = ctx;
    (void)hi;
    if (lo == 0) {
        CHECK(on_caller_slot(s->pool));
        while (!atomic_load(&s->right_started))
            sleep_ms(1);
        return 0;
    }
    atomic_store(&s->right_on_worker, on_worker(s->pool));
    atomic_store(&s->right_started, 1);
    if (s->in_right != NULL)
        s->in_right(s);
    sleep_ms(s->right_ms);
    return 0;
}

static void add_one(void *arg) { atomic_fetch_add((_Atomic int64_t *)arg, 1); }

typedef struct where {
    rt_pool *pool;
    _Atomic int outside, on_caller, on_worker;
} where;

static void note_where(void *arg)
{
    where *w = arg;
    int slot = rt_pool_current_slot(w->pool);
    atomic_fetch_add(slot < 0 ? &w->outside : slot < RT_MAX_WORKERS ? &w->on_worker
                                                                     : &w->on_caller,
                     1);
}

/* ---- argument checks, empty ranges, no workers ---------------------------- */

#if defined(__linux__)
static _Atomic int policy_in_body;
static int policy_body(int64_t lo, int64_t hi, void *ctx)
{
    (void)ctx;
    atomic_store(&policy_in_body, sched_getscheduler(0));
    atomic_fetch_add(&ran, hi - lo);
    return 0;
}
#endif

static void test_arguments_and_no_workers(void)
{
    rt_pool *pool = NULL;
    rt_pool_config bad = {.num_workers = -1};
    CHECK(rt_pool_create(&bad, &pool) == EINVAL && pool == NULL);
    bad.num_workers = RT_MAX_WORKERS + 1;
    CHECK(rt_pool_create(&bad, &pool) == EINVAL && pool == NULL);

    pool = new_pool(0, -1);
    CHECK(rt_pool_resize(pool, -1) == EINVAL);
    CHECK(rt_pool_resize(pool, RT_MAX_WORKERS + 1) == EINVAL);
    CHECK(rt_pool_num_workers(pool) == 0);

    /* An empty or reversed range: the body is never called. */
    atomic_store(&ran, 0);
    CHECK(rt_parallel_for(pool, 5, 5, NULL, count_body, NULL) == RT_OK);
    CHECK(rt_parallel_for(pool, 7, 3, NULL, count_body, NULL) == RT_OK);
    CHECK(atomic_load(&ran) == 0);

    /* No workers: submit and join run here and now, outside the pool. */
    _Atomic int64_t done = 0;
    CHECK(rt_pool_submit(pool, add_one, &done) == 0);
    CHECK(atomic_load(&done) == 1);
    where w = {.pool = pool};
    rt_join(pool, note_where, &w, note_where, &w);
    CHECK(atomic_load(&w.outside) == 2);

    /* A job's QoS applies to the calling thread for the job, then goes. */
    rt_for_options utility = {.has_qos = 1, .qos = RT_QOS_UTILITY};
#if defined(__linux__)
    int policy = sched_getscheduler(0);
    CHECK(rt_parallel_for(pool, 0, 10, &utility, policy_body, NULL) == RT_OK);
    if (rt_qos_available() & RT_QOS_BATCH)
        CHECK(atomic_load(&policy_in_body) == SCHED_BATCH);
    CHECK(sched_getscheduler(0) == policy);
#else
    CHECK(rt_parallel_for(pool, 0, 10, &utility, count_body, NULL) == RT_OK);
#endif
    CHECK(atomic_load(&ran) == 10);
    rt_pool_stats st = stats(pool);
    CHECK(st.workers == 0 && st.leaves == 0);
    rt_pool_destroy(pool);
    printf("ok EINVAL for bad worker counts; empty ranges call nothing; no workers: submit, "
           "join and jobs (at their QoS) run on the caller\n");
}

/* ---- resize ---------------------------------------------------------------- */

static void count_exit(void *arg) { atomic_fetch_add((_Atomic int *)arg, 1); }

static void until_exits(_Atomic int *exits, int n)
{
    while (atomic_load(exits) < n)
        sleep_ms(1);
}

typedef struct resize_caller {
    rt_pool *pool;
    _Atomic int *stop;
    _Atomic long rounds;
} resize_caller;

typedef struct tree {
    rt_pool *pool;
    int depth;
    int64_t leaves;
} tree;

static void tree_fn(void *arg)
{
    tree *t = arg;
    if (t->depth == 0) {
        t->leaves = 1;
        return;
    }
    tree l = {t->pool, t->depth - 1, 0}, r = {t->pool, t->depth - 1, 0};
    rt_join(t->pool, tree_fn, &l, tree_fn, &r);
    t->leaves = l.leaves + r.leaves;
}

typedef struct sum {
    _Atomic int64_t total;
} sum;

static int sum_body(int64_t lo, int64_t hi, void *ctx)
{
    int64_t s = 0;
    for (int64_t i = lo; i < hi; i++)
        s += i;
    atomic_fetch_add(&((sum *)ctx)->total, s);
    return 0;
}

static void *resize_caller_main(void *arg)
{
    resize_caller *c = arg;
    while (!atomic_load(c->stop)) {
        sum s = {0};
        rt_for_options options = {.max_chunk = 100};
        CHECK(rt_parallel_for(c->pool, 0, 10000, &options, sum_body, &s) == RT_OK);
        CHECK(atomic_load(&s.total) == (int64_t)10000 * 9999 / 2);
        tree t = {c->pool, 10, 0};
        tree_fn(&t);
        CHECK(t.leaves == 1024);
        atomic_fetch_add(&c->rounds, 1);
    }
    return NULL;
}

static void test_resize(void)
{
    _Atomic int exits = 0;
    rt_pool *pool = NULL;
    rt_pool_config config = {
        .num_workers = 2, .spin_ns = -1, .on_worker_exit = count_exit, .hook_arg = &exits};
    CHECK(rt_pool_create(&config, &pool) == 0);
    atomic_store(&ran, 0);
    CHECK(rt_parallel_for(pool, 0, 1000, NULL, count_body, NULL) == RT_OK);

    /* Worker 1 leaves (the hook runs on it as it goes) ... */
    CHECK(rt_pool_resize(pool, 1) == 0);
    until_exits(&exits, 1);
    CHECK(rt_pool_num_workers(pool) == 1 && stats(pool).workers == 1);
    /* ... and is started again: its old thread is joined first. */
    CHECK(rt_pool_resize(pool, 2) == 0);
    CHECK(rt_pool_num_workers(pool) == 2 && stats(pool).workers == 2);

    /* Down to none: jobs run on the caller alone, slots and all. */
    CHECK(rt_pool_resize(pool, 0) == 0);
    until_exits(&exits, 3);
    CHECK(stats(pool).workers == 0);
    where w = {.pool = pool};
    rt_join(pool, note_where, &w, note_where, &w);
    CHECK(atomic_load(&w.outside) == 2);
    CHECK(rt_parallel_for(pool, 0, 1000, NULL, count_body, NULL) == RT_OK);
    CHECK(atomic_load(&ran) == 2000);

    /* Up and down (to 0 too) while two callers run jobs and joins. */
    _Atomic int stop = 0;
    resize_caller callers[2] = {{pool, &stop, 0}, {pool, &stop, 0}};
    pthread_t threads[2];
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&threads[i], NULL, resize_caller_main, &callers[i]) == 0);
    for (int i = 0; i < 30; i++) {
        CHECK(rt_pool_resize(pool, (i * 7) % 4) == 0);
        sleep_ms(2);
    }
    /* Each caller finishes a round or more (slow builds, busy machines:
     * the watchdog bounds this). */
    for (int i = 0; atomic_load(&callers[0].rounds) == 0 || atomic_load(&callers[1].rounds) == 0;
         i++) {
        CHECK(rt_pool_resize(pool, i % 3) == 0);
        sleep_ms(2);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(threads[i], NULL);
    CHECK(callers[0].rounds > 0 && callers[1].rounds > 0);
    CHECK(rt_pool_resize(pool, 2) == 0);
    rt_pool_destroy(pool);
    /* Each worker thread runs the hook as it ends: at least the two
     * created, the one restarted and the two restarted after 0. */
    int started_last = atomic_load(&exits);
    CHECK(started_last >= 5);
    printf("ok resize: a worker that left starts again, down to 0 and up while 2 callers run "
           "(%ld + %ld rounds); the exit hook ran %d times\n",
           atomic_load(&callers[0].rounds), atomic_load(&callers[1].rounds), started_last);
}

/* ---- wake, stats, steals --------------------------------------------------- */

static void test_wake_and_stats(void)
{
    rt_pool *pool = new_pool(2, 0);
    until_all_parked(pool);
    rt_pool_stats before = stats(pool);
    sleep_ms(5);
    CHECK(stats(pool).parks == before.parks && stats(pool).sleeping == 2); /* nobody stirs */
    /* A submission to a pool whose workers all sleep wakes one, which
     * runs it and parks again. */
    _Atomic int64_t done = 0;
    CHECK(rt_pool_submit(pool, add_one, &done) == 0);
    while (atomic_load(&done) < 1 || stats(pool).parks < before.parks + 1)
        sleep_ms(1);
    until_all_parked(pool);

    /* Known work, known counts. */
    before = stats(pool);
    rt_for_options one = {.max_chunk = 1};
    atomic_store(&ran, 0);
    CHECK(rt_parallel_for(pool, 0, 100, &one, count_body, NULL) == RT_OK);
    /* Once more while they sleep: counted as injected. */
    until_all_parked(pool);
    CHECK(rt_pool_submit(pool, add_one, &done) == 0);
    while (atomic_load(&done) < 2)
        sleep_ms(1);
    stolen s = {.pool = pool, .right_ms = 1};
    CHECK(rt_parallel_for(pool, 0, 2, &one, stolen_body, &s) == RT_OK);
    CHECK(atomic_load(&s.right_on_worker));
    rt_pool_stats after = stats(pool);
    CHECK(after.leaves == before.leaves + 100 + 2);
    CHECK(after.injected == before.injected + 1);
    CHECK(after.steals >= before.steals + 1);
    CHECK(after.workers == 2 && after.boosts == 0);
    rt_pool_destroy(pool);
    printf("ok a submission wakes a sleeping worker; stats count parks, leaves, injected "
           "tasks, steals\n");
}

/* ---- join from outside and inside ------------------------------------------ */

static int join_inside_body(int64_t lo, int64_t hi, void *ctx)
{
    rt_pool *pool = ctx;
    for (int64_t i = lo; i < hi; i++) {
        tree t = {pool, 6, 0};
        tree_fn(&t); /* joins from inside a chunk, on whichever thread runs it */
        CHECK(t.leaves == 64);
    }
    atomic_fetch_add(&ran, hi - lo);
    return 0;
}

static void test_join_paths(void)
{
    rt_pool *pool = new_pool(2, -1);
    where w = {.pool = pool};
    rt_join(pool, note_where, &w, note_where, &w); /* from outside: takes a caller slot */
    CHECK(atomic_load(&w.outside) == 0 && atomic_load(&w.on_caller) >= 1);
    atomic_store(&ran, 0);
    rt_for_options one = {.max_chunk = 1};
    CHECK(rt_parallel_for(pool, 0, 64, &one, join_inside_body, pool) == RT_OK);
    CHECK(atomic_load(&ran) == 64);
    tree t = {pool, 16, 0};
    tree_fn(&t);
    CHECK(t.leaves == 1 << 16);
    rt_pool_destroy(pool);
    printf("ok rt_join from outside (a caller slot) and from inside chunks\n");
}

/* ---- more than 64 callers ------------------------------------------------- */

/* gate.h: blocked_caller, blocked_caller_main. */

static _Atomic int interrupt_calls;
static int interrupt_second_time(void *ctx)
{
    (void)ctx;
    return atomic_fetch_add(&interrupt_calls, 1) + 1 >= 2;
}

static int never_interrupt(void *ctx)
{
    (void)ctx;
    atomic_fetch_add(&interrupt_calls, 1);
    return 0;
}

static int slow_body(int64_t lo, int64_t hi, void *ctx)
{
    (void)ctx;
    sleep_ms(2);
    atomic_fetch_add(&ran, hi - lo);
    return 0;
}

static void test_more_callers_than_slots(void)
{
    rt_pool *pool = new_pool(1, -1);
    gate g;
    gate_init(&g);
    pthread_t threads[RT_MAX_CALLERS];
    blocked_caller callers[RT_MAX_CALLERS];
    for (int i = 0; i < RT_MAX_CALLERS; i++) {
        callers[i] = (blocked_caller){pool, &g, -1};
        CHECK(pthread_create(&threads[i], NULL, blocked_caller_main, &callers[i]) == 0);
    }
    until_waiting(&g, RT_MAX_CALLERS); /* every caller slot is held */
    rt_pool_stats before = stats(pool);

    /* The 65th caller: its job goes through the injector to the worker. */
    where w = {.pool = pool};
    rt_for_options options = {.max_chunk = 10};
    atomic_store(&ran, 0);
    CHECK(rt_parallel_for(pool, 0, 100, &options, count_body, NULL) == RT_OK);
    CHECK(atomic_load(&ran) == 100);
    CHECK(stats(pool).injected == before.injected + 1);
    /* rt_join with no slot runs both halves here. */
    rt_join(pool, note_where, &w, note_where, &w);
    CHECK(atomic_load(&w.outside) == 2);

    /* With an interrupt hook: the 65th caller polls it while it waits. */
    atomic_store(&interrupt_calls, 0);
    atomic_store(&ran, 0);
    rt_for_options hooked = {.max_chunk = 1, .interrupt = interrupt_second_time};
    CHECK(rt_parallel_for(pool, 0, 2000, &hooked, slow_body, NULL) == RT_INTERRUPTED);
    CHECK(atomic_load(&interrupt_calls) >= 2 && atomic_load(&ran) < 2000);
    /* A hook that never fires: the job completes.  (Started just before a
     * second of the realtime clock turns, so that the first 20 ms poll's
     * deadline carries into the next second: that path too.) */
    atomic_store(&interrupt_calls, 0);
    atomic_store(&ran, 0);
    rt_for_options patient = {.max_chunk = 1, .interrupt = never_interrupt};
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        if (now.tv_nsec >= 981000000 && now.tv_nsec < 995000000)
            break;
        sleep_ms(1);
    }
    CHECK(rt_parallel_for(pool, 0, 30, &patient, slow_body, NULL) == RT_OK);
    CHECK(atomic_load(&ran) == 30);

    gate_open(&g);
    for (int i = 0; i < RT_MAX_CALLERS; i++) {
        pthread_join(threads[i], NULL);
        CHECK(callers[i].status == RT_OK);
    }
    rt_pool_destroy(pool);
    gate_destroy(&g);
    printf("ok %d callers hold every slot: the next one's job goes through the injector "
           "(interrupt hook polled: %d calls)\n",
           RT_MAX_CALLERS, atomic_load(&interrupt_calls));
}

/* ---- a caller waiting for a stolen piece ---------------------------------- */

static void test_interrupt_while_waiting(void)
{
    rt_pool *pool = new_pool(1, 0);
    rt_for_options options = {.max_chunk = 1,
                              .interrupt = never_interrupt,
                              .interrupt_period_ns = 100000};
    /* It parks with a timeout of at least 1 ms and polls after each. */
    atomic_store(&interrupt_calls, 0);
    stolen s = {.pool = pool, .right_ms = 40};
    CHECK(rt_parallel_for(pool, 0, 2, &options, stolen_body, &s) == RT_OK);
    CHECK(atomic_load(&s.right_on_worker) && atomic_load(&interrupt_calls) >= 1);
    int polls = atomic_load(&interrupt_calls);
    /* A hook that fires: the job reports it (the stolen piece still ends). */
    options.interrupt = interrupt_second_time;
    atomic_store(&interrupt_calls, 0);
    stolen s2 = {.pool = pool, .right_ms = 100};
    CHECK(rt_parallel_for(pool, 0, 2, &options, stolen_body, &s2) == RT_INTERRUPTED);
    rt_pool_destroy(pool);
    printf("ok a caller waiting for a stolen piece polls its interrupt hook (%d polls in "
           "40 ms), and stops on it\n",
           polls);
}

/* ---- parking while lower-level work keeps being posted ---------------------- */

static void background_job(stolen *s)
{
    rt_for_options background = {.max_chunk = 1, .has_qos = 1, .qos = RT_QOS_BACKGROUND};
    CHECK(rt_parallel_for(s->pool, 0, 20000, &background, count_body, NULL) == RT_OK);
}

static void test_park_fails_while_work_is_posted(void)
{
    rt_pool *pool = new_pool(1, 0);
    rt_for_options one = {.max_chunk = 1};
    for (int round = 0; round < 5; round++) {
        atomic_store(&ran, 0);
        /* The worker steals the caller's second piece and runs a
         * background job in it, splitting and pushing all along; the
         * caller, waiting at its job's level, may not help with it, goes
         * to park again and again, and each push moves the JEC under it. */
        stolen s = {.pool = pool, .right_ms = 0, .in_right = background_job};
        CHECK(rt_parallel_for(pool, 0, 2, &one, stolen_body, &s) == RT_OK);
        CHECK(atomic_load(&s.right_on_worker) && atomic_load(&ran) == 20000);
    }
    rt_pool_destroy(pool);
    printf("ok a caller waiting on a piece that posts lower-level work: the work all ran "
           "(its parks lose to the posts)\n");
}

/* ---- QoS options ------------------------------------------------------------ */

#if defined(__linux__)
static int first_cpu(void)
{
    cpu_set_t set;
    CHECK(sched_getaffinity(0, sizeof set, &set) == 0);
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, &set))
            return cpu;
    return -1;
}

static _Atomic int caller_cpus_in_chunk; /* CPUs the caller may use in its chunk */
static int affinity_body(int64_t lo, int64_t hi, void *ctx)
{
    rt_pool *pool = ctx;
    if (on_caller_slot(pool)) {
        cpu_set_t set;
        CHECK(sched_getaffinity(0, sizeof set, &set) == 0);
        atomic_store(&caller_cpus_in_chunk, CPU_COUNT(&set));
    }
    atomic_fetch_add(&ran, hi - lo);
    return 0;
}
#endif

static void test_qos_options(void)
{
    rt_pool *pool = new_pool(1, 0);
    rt_cpuset cpu = {{0}};
    int first = 0;
#if defined(__linux__)
    first = first_cpu();
    CHECK(first >= 0);
#endif
    rt_cpuset_add(&cpu, first);
    rt_cpuset per_thread[2] = {cpu, cpu};

    /* Per-thread placement: the caller is confined to thread_cpus[0]
     * while it runs its chunks, and gets its CPUs back after. */
    rt_for_options placed = {.has_qos = 1,
                             .qos = RT_QOS_INITIATED,
                             .thread_cpus = per_thread,
                             .thread_cpus_count = 2};
    atomic_store(&ran, 0);
#if defined(__linux__)
    cpu_set_t mine;
    CHECK(sched_getaffinity(0, sizeof mine, &mine) == 0);
    CHECK(rt_parallel_for(pool, 0, 100, &placed, affinity_body, pool) == RT_OK);
    if (rt_qos_available() & RT_QOS_AFFINITY)
        CHECK(atomic_load(&caller_cpus_in_chunk) == 1);
    cpu_set_t after;
    CHECK(sched_getaffinity(0, sizeof after, &after) == 0);
    CHECK(CPU_EQUAL(&mine, &after));
#else
    CHECK(rt_parallel_for(pool, 0, 100, &placed, count_body, NULL) == RT_OK);
#endif
    CHECK(atomic_load(&ran) == 100);

    /* A level out of range counts as initiated (seen in the trace). */
    CHECK(rt_pool_trace_start(pool, 256) == 0);
    rt_for_options odd = {.has_qos = 1, .qos = (rt_qos_level)9};
    CHECK(rt_parallel_for(pool, 0, 10, &odd, count_body, NULL) == RT_OK);
    int64_t start, dropped;
    int64_t bound = rt_pool_trace_stop(pool, &start);
    rt_trace_event *events = calloc((size_t)bound + 1, sizeof *events);
    CHECK(events != NULL);
    int64_t n = rt_pool_trace_read(pool, events, bound, &dropped);
    int tasks = 0;
    for (int64_t i = 0; i < n; i++)
        if (events[i].type == RT_TRACE_TASK) {
            CHECK(events[i].level == RT_QOS_INITIATED);
            tasks++;
        }
    CHECK(tasks >= 1);
    free(events);

    /* The worker runs a piece at utility, then one at initiated: it goes
     * back to its own setting in between. */
    rt_for_options one_utility = {.max_chunk = 1, .has_qos = 1, .qos = RT_QOS_UTILITY};
    rt_for_options one_initiated = {.max_chunk = 1, .has_qos = 1, .qos = RT_QOS_INITIATED};
    stolen s1 = {.pool = pool, .right_ms = 1};
    CHECK(rt_parallel_for(pool, 0, 2, &one_utility, stolen_body, &s1) == RT_OK);
    stolen s2 = {.pool = pool, .right_ms = 1};
    CHECK(rt_parallel_for(pool, 0, 2, &one_initiated, stolen_body, &s2) == RT_OK);
    CHECK(atomic_load(&s1.right_on_worker) && atomic_load(&s2.right_on_worker));

    /* Tail boost: the waiting caller raises the worker running its piece;
     * never for background or utility work. */
    uint64_t boosts = stats(pool).boosts;
    rt_for_options boosted = {.max_chunk = 1, .tail_boost = 1, .boost_cpus = &cpu};
    stolen s3 = {.pool = pool, .right_ms = 30};
    CHECK(rt_parallel_for(pool, 0, 2, &boosted, stolen_body, &s3) == RT_OK);
    CHECK(stats(pool).boosts >= boosts + 1);
    boosts = stats(pool).boosts;
    rt_for_options background_boost = {
        .max_chunk = 1, .tail_boost = 1, .has_qos = 1, .qos = RT_QOS_BACKGROUND};
    stolen s4 = {.pool = pool, .right_ms = 30};
    CHECK(rt_parallel_for(pool, 0, 2, &background_boost, stolen_body, &s4) == RT_OK);
    CHECK(stats(pool).boosts == boosts);
    rt_pool_destroy(pool);
    printf("ok QoS options: per-thread CPUs, a level out of range, a worker between levels, "
           "tail boost (not for background)\n");
}

/* ---- tail boost handshakes ------------------------------------------------- */

/* A caller whose own job has no tail boost has no thread handle: when it
 * runs a piece of another caller's boosted job (stealing while it waits
 * for its own), that owner cannot raise it and does not try. */
typedef struct two_callers {
    rt_pool *pool;
    gate *hold_worker;
    _Atomic int b_waiting;   /* B's first chunk is done: B waits, stealing */
    _Atomic int a_piece_on;  /* which slot ran A's second piece (+1) */
} two_callers;

static int b_body(int64_t lo, int64_t hi, void *ctx)
{
    two_callers *t = ctx;
    (void)hi;
    if (lo == 0) {
        /* B's second piece is on the worker (held there): B will wait. */
        while (atomic_load(&t->b_waiting) == 0)
            sleep_ms(1);
        return 0;
    }
    atomic_store(&t->b_waiting, 1);
    gate_wait(t->hold_worker);
    return 0;
}

static void *caller_b_main(void *arg)
{
    two_callers *t = arg;
    rt_for_options one = {.max_chunk = 1};
    CHECK(rt_parallel_for(t->pool, 0, 2, &one, b_body, t) == RT_OK);
    return NULL;
}

static int a_body(int64_t lo, int64_t hi, void *ctx)
{
    two_callers *t = ctx;
    (void)hi;
    if (lo == 0) {
        while (atomic_load(&t->a_piece_on) == 0)
            sleep_ms(1);
        return 0;
    }
    atomic_store(&t->a_piece_on, 1 + rt_pool_current_slot(t->pool));
    sleep_ms(20); /* long enough for A to give up spinning and try to boost */
    return 0;
}

static void test_boost_without_a_handle(void)
{
    rt_pool *pool = new_pool(1, 0);
    gate g;
    gate_init(&g);
    two_callers t = {.pool = pool, .hold_worker = &g};
    pthread_t b;
    CHECK(pthread_create(&b, NULL, caller_b_main, &t) == 0);
    while (atomic_load(&t.b_waiting) == 0)
        sleep_ms(1);
    sleep_ms(5); /* B has left its first chunk and waits, stealing */
    uint64_t boosts = stats(pool).boosts;
    rt_for_options boosted = {.max_chunk = 1, .tail_boost = 1};
    CHECK(rt_parallel_for(pool, 0, 2, &boosted, a_body, &t) == RT_OK);
    /* B (the only thread free) ran A's piece, and was not raised. */
    CHECK(atomic_load(&t.a_piece_on) - 1 >= RT_MAX_WORKERS);
    CHECK(stats(pool).boosts == boosts);
    gate_open(&g);
    pthread_join(b, NULL);
    rt_pool_destroy(pool);
    gate_destroy(&g);
    printf("ok a boosted job's piece run by a caller without a thread handle: no boost\n");
}

#if defined(__linux__)
/* The runner's piece ends the moment the owner's boost has moved it onto
 * boost_cpus, while the owner is still between its two steps (starting ->
 * on): the runner waits that out before it ends the boost. */
static int cpus_now(void)
{
    cpu_set_t set;
    CHECK(sched_getaffinity(0, sizeof set, &set) == 0);
    return CPU_COUNT(&set);
}

typedef struct racer {
    rt_pool *pool;
    rt_cpuset *boost_cpus; /* the job's; the runner fills it in */
    _Atomic int right_started;
    _Atomic int saw_boost;
} racer;

static int racer_body(int64_t lo, int64_t hi, void *ctx)
{
    racer *r = ctx;
    (void)hi;
    if (lo == 0) {
        while (!atomic_load(&r->right_started))
            sleep_ms(1);
        return 0;
    }
    /* Boost onto the CPU this thread is on: no migration, so it sees its
     * new affinity while the owner is still making its other changes.
     * (The owner reads the set only after right_started.) */
    memset(r->boost_cpus, 0, sizeof *r->boost_cpus);
    rt_cpuset_add(r->boost_cpus, sched_getcpu());
    int before = cpus_now();
    atomic_store(&r->right_started, 1);
    /* Until the boost confines this thread to one CPU (bounded). */
    for (int i = 0; i < 4000000 && cpus_now() == before; i++)
        if (i % 64 == 63)
            sched_yield();
    atomic_store(&r->saw_boost, cpus_now() < before);
    return 0;
}
#endif

static void test_boost_ends_while_starting(void)
{
#if defined(__linux__)
    if (!(rt_qos_available() & RT_QOS_AFFINITY) || cpus_now() < 2) {
        printf("skip a boost ending while it starts (needs 2 CPUs and affinity)\n");
        return;
    }
    rt_pool *pool = new_pool(1, 0);
    rt_cpuset one_cpu = {{0}};
    rt_for_options boosted = {.max_chunk = 1, .tail_boost = 1, .boost_cpus = &one_cpu};
    int seen = 0, rounds = 20;
    for (int round = 0; round < rounds; round++) {
        racer r = {.pool = pool, .boost_cpus = &one_cpu};
        CHECK(rt_parallel_for(pool, 0, 2, &boosted, racer_body, &r) == RT_OK);
        seen += atomic_load(&r.saw_boost);
    }
    CHECK(seen >= 1);
    rt_pool_destroy(pool);
    printf("ok a boosted piece that ends as its boost starts: %d of %d saw it\n", seen, rounds);
#else
    printf("skip a boost ending while it starts (Linux affinity)\n");
#endif
}

#if defined(__linux__)
/* A boost and a level change of the boosted thread that do not nest: the
 * worker running a boosted piece enters a nested job at another level
 * (utility, on cpu 1) before or after its owner raises it (onto cpu 0).
 * Whichever comes first, the worker is at its own setting once the job is
 * done.  (Ending the boost used to put back what the owner read when it
 * started it: the nested level's, boost after level, and the worker was
 * left at SCHED_BATCH on cpu 1.) */
typedef struct straddle {
    rt_pool *pool;
    rt_cpuset *utility_cpus;
    uint64_t boosts_before;
    bool boost_first;
} straddle;

/* Until the pool counts a boost more than before, for at most 300 ms: a
 * boost the worker's level change ended before it began never comes. */
static void until_boosted(straddle *t)
{
    for (int i = 0; i < 300 && stats(t->pool).boosts == t->boosts_before; i++)
        sleep_ms(1);
}

static int nested_utility_body(int64_t lo, int64_t hi, void *ctx)
{
    straddle *t = ctx;
    (void)lo;
    (void)hi;
    if (!t->boost_first)
        until_boosted(t);
    return 0;
}

static void straddling_piece(stolen *s)
{
    straddle *t = s->arg;
    if (t->boost_first)
        until_boosted(t);
    rt_for_options utility = {
        .grain = 100, .has_qos = 1, .qos = RT_QOS_UTILITY, .qos_cpus = t->utility_cpus};
    CHECK(rt_parallel_for(t->pool, 0, 10, &utility, nested_utility_body, t) == RT_OK);
}

static _Atomic int worker_policy, worker_cpus;

static void note_worker_setting(stolen *s)
{
    (void)s;
    atomic_store(&worker_policy, sched_getscheduler(0));
    atomic_store(&worker_cpus, cpus_now());
}
#endif

static void test_boost_and_level_change_straddle(void)
{
#if defined(__linux__)
    if (!(rt_qos_available() & RT_QOS_BATCH) || cpus_now() < 2 || sched_getscheduler(0) != SCHED_OTHER) {
        printf("skip a boost and a level change that straddle (needs 2 CPUs, SCHED_BATCH)\n");
        return;
    }
    int own_cpus = cpus_now();
    rt_cpuset cpu0 = {{0}}, cpu1 = {{0}};
    rt_cpuset_add(&cpu0, 0);
    rt_cpuset_add(&cpu1, 1);
    rt_pool *pool = new_pool(1, 0);
    for (int boost_first = 0; boost_first <= 1; boost_first++) {
        straddle t = {.pool = pool, .utility_cpus = &cpu1, .boosts_before = stats(pool).boosts,
                      .boost_first = boost_first};
        rt_for_options boosted = {.max_chunk = 1, .tail_boost = 1, .boost_cpus = &cpu0};
        stolen s = {.pool = pool, .in_right = straddling_piece, .arg = &t};
        CHECK(rt_parallel_for(pool, 0, 2, &boosted, stolen_body, &s) == RT_OK);
        CHECK(atomic_load(&s.right_on_worker));
        if (boost_first)
            CHECK(stats(pool).boosts > t.boosts_before);
        /* The worker's next piece, at its own setting. */
        atomic_store(&worker_policy, -1);
        stolen check = {.pool = pool, .in_right = note_worker_setting};
        rt_for_options plain = {.max_chunk = 1};
        CHECK(rt_parallel_for(pool, 0, 2, &plain, stolen_body, &check) == RT_OK);
        CHECK(atomic_load(&check.right_on_worker));
        CHECK(atomic_load(&worker_policy) == SCHED_OTHER);
        CHECK(atomic_load(&worker_cpus) == own_cpus);
    }
    rt_pool_destroy(pool);
    printf("ok a boost and a nested level change that straddle: the worker back at its own "
           "setting\n");
#else
    printf("skip a boost and a level change that straddle (Linux)\n");
#endif
}

/* ---- levels set by hand (rt_pool_level_enter / _leave) --------------------- */

static int policy_now(void)
{
#if defined(__linux__)
    return sched_getscheduler(0);
#else
    return 0;
#endif
}

/* Linux with SCHED_BATCH: the policy a level puts a thread in. */
static bool batch_checks(void)
{
#if defined(__linux__)
    return (rt_qos_available() & RT_QOS_BATCH) != 0;
#else
    return false;
#endif
}

#if defined(__linux__)
#define BATCH SCHED_BATCH
#define OTHER SCHED_OTHER
#else
#define BATCH 0
#define OTHER 0
#endif

typedef struct level_ctx {
    rt_pool *pool;
    _Atomic int in_frame, after_frame, ran_on_participant;
} level_ctx;

static int level_body(int64_t lo, int64_t hi, void *ctx)
{
    level_ctx *c = ctx;
    (void)lo;
    (void)hi;
    /* On a thread of the pool, inside a job: the level replaces the job's
     * for the frame, then the job's comes back. */
    atomic_store(&c->ran_on_participant, rt_pool_current_slot(c->pool) >= 0);
    rt_level_frame f;
    rt_pool_level_enter(c->pool, RT_QOS_BACKGROUND, NULL, &f);
    atomic_store(&c->in_frame, policy_now());
    rt_pool_level_leave(&f);
    atomic_store(&c->after_frame, policy_now());
    return 0;
}

static void test_levels_by_hand(void)
{
    rt_pool *pool = new_pool(1, -1);
    int own = policy_now();
    bool check = batch_checks() && own == OTHER;

    /* Outside the pool, nested: the inner frame undoes the outer one while
     * it lasts, and leaving it puts the outer one back. */
    rt_level_frame outer, inner;
    rt_pool_level_enter(NULL, RT_QOS_UTILITY, NULL, &outer);
    if (check)
        CHECK(policy_now() == BATCH);
    rt_pool_level_enter(pool, RT_QOS_INITIATED, NULL, &inner); /* not in a job: plain */
    if (check)
        CHECK(policy_now() == OTHER);
    rt_pool_level_leave(&inner);
    if (check)
        CHECK(policy_now() == BATCH);
    rt_pool_level_leave(&outer);
    CHECK(policy_now() == own);

    /* Inside a job, on its caller (one chunk: grain covers the range). */
    level_ctx c = {.pool = pool};
    rt_for_options whole = {.grain = 100};
    CHECK(rt_parallel_for(pool, 0, 10, &whole, level_body, &c) == RT_OK);
    CHECK(atomic_load(&c.ran_on_participant));
    if (check)
        CHECK(atomic_load(&c.in_frame) == BATCH && atomic_load(&c.after_frame) == OTHER);
    CHECK(policy_now() == own);
    rt_pool_destroy(pool);
    printf("ok levels by hand: nested outside the pool (the outer one undone, then back), "
           "and inside a job (the job's level back after)\n");
}

/* ---- tracing ------------------------------------------------------------------ */

static int stop_at_3(int64_t lo, int64_t hi, void *ctx)
{
    (void)ctx;
    atomic_fetch_add(&ran, hi - lo);
    return lo <= 3 && 3 < hi;
}

static int note_body(int64_t lo, int64_t hi, void *ctx)
{
    (void)lo;
    (void)hi;
    rt_pool_trace_note(ctx, RT_TRACE_QOS, 1, 11, 0); /* from a participant */
    return 0;
}

static void test_trace_paths(void)
{
    rt_pool *pool = new_pool(1, -1);
    rt_pool_trace_note(pool, RT_TRACE_QOS, 1, 0, 0); /* not tracing: nothing */
    CHECK(rt_pool_trace_start(pool, 1024) == 0);

    /* A submitted task, recorded by the worker that runs it. */
    _Atomic int64_t done = 0;
    CHECK(rt_pool_submit(pool, add_one, &done) == 0);
    rt_trace_event *events = calloc(1024 * 8, sizeof *events);
    CHECK(events != NULL);
    int64_t n = 0, dropped = 0;
    bool submitted = false;
    while (!submitted) {
        n = rt_pool_trace_read(pool, events, 1024 * 8, &dropped);
        for (int64_t i = 0; i < n; i++)
            submitted |= events[i].type == RT_TRACE_SUBMITTED;
        if (!submitted)
            sleep_ms(1);
    }
    CHECK(atomic_load(&done) == 1);

    /* A job that stops, and notes from inside and outside the pool. */
    rt_for_options one = {.max_chunk = 1};
    atomic_store(&ran, 0);
    CHECK(rt_parallel_for(pool, 0, 1000, &one, stop_at_3, NULL) == RT_STOPPED);
    rt_for_options whole = {.grain = 10};
    CHECK(rt_parallel_for(pool, 0, 10, &whole, note_body, pool) == RT_OK);
    rt_pool_trace_note(pool, RT_TRACE_BOOST_END, -1, 22, 0);

    int64_t start;
    int64_t bound = rt_pool_trace_stop(pool, &start);
    CHECK(bound >= 4);
    /* A short buffer gets what fits. */
    CHECK(rt_pool_trace_read(pool, events, 2, &dropped) == 2);
    /* At least what the stop counted: a thread may still add an event of
     * this trace after it (a park that ends later). */
    n = rt_pool_trace_read(pool, events, 1024 * 8, &dropped);
    CHECK(n >= bound && dropped == 0);
    int inside = 0, outside = 0, stopped_job = 0;
    for (int64_t i = 0; i < n; i++) {
        if (events[i].type == RT_TRACE_QOS && events[i].lo == 11)
            inside += events[i].slot != 0xFFFF;
        if (events[i].type == RT_TRACE_BOOST_END && events[i].lo == 22)
            outside += events[i].slot == 0xFFFF;
        if (events[i].type == RT_TRACE_JOB && events[i].lo == 0 && events[i].hi == 1000)
            stopped_job++;
    }
    CHECK(inside == 1 && outside == 1 && stopped_job == 1);
    free(events);
    rt_pool_destroy(pool);
    printf("ok tracing: a submitted task, a stopped job, notes from inside and outside the "
           "pool, a short read\n");
}

/* ---- destroy with submissions queued --------------------------------------- */

static void open_gate(void *arg) { gate_open(arg); }
static void hold(void *arg) { gate_wait(arg); }

static void test_destroy_runs_queued(void)
{
    rt_pool *pool = new_pool(1, -1);
    gate g;
    gate_init(&g);
    CHECK(rt_pool_submit(pool, hold, &g) == 0);
    until_waiting(&g, 1); /* the worker is held: what follows stays queued */
    _Atomic int64_t done = 0;
    for (int i = 0; i < 5; i++)
        CHECK(rt_pool_submit(pool, add_one, &done) == 0);
    CHECK(rt_pool_submit(pool, open_gate, &g) == 0); /* lets the worker go, last */
    CHECK(atomic_load(&done) == 0);
    rt_pool_destroy(pool); /* runs the six here, then joins the worker */
    CHECK(atomic_load(&done) == 5);
    gate_destroy(&g);
    printf("ok rt_pool_destroy runs the submissions still queued\n");
}

/* ---- fork ------------------------------------------------------------------------ */

#ifdef RT_TEST_COVERAGE
/* The forked child ends with _exit (no exit handlers, no leak check of
 * memory its parent's threads held), so in the coverage build it writes
 * its counts itself (libgcov). */
extern void __gcov_dump(void);
#endif

static int fork_body(int64_t lo, int64_t hi, void *ctx)
{
    (void)hi;
    rt_pool *pool = ctx;
    if (lo != 0 || !on_caller_slot(pool))
        return 0;
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        bool was_in = rt_pool_current_slot(pool) >= RT_MAX_WORKERS;
        rt_after_fork_child();
        bool ok = was_in && rt_pool_current_slot(pool) == -1;
#ifdef RT_TEST_COVERAGE
        __gcov_dump();
#endif
        _exit(ok ? 0 : 1);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    atomic_fetch_add(&ran, 1);
    return 0;
}

static void test_fork_child(void)
{
    rt_pool *pool = new_pool(1, -1);
    atomic_store(&ran, 0);
    CHECK(rt_parallel_for(pool, 0, 4, NULL, fork_body, pool) == RT_OK);
    CHECK(atomic_load(&ran) == 1);
    rt_pool_destroy(pool);
    printf("ok rt_after_fork_child: a child forked inside a job leaves the pool\n");
}

int main(void)
{
    rt_test_watchdog(60);
    test_arguments_and_no_workers();
    test_resize();
    test_wake_and_stats();
    test_join_paths();
    test_more_callers_than_slots();
    test_interrupt_while_waiting();
    test_park_fails_while_work_is_posted();
    test_qos_options();
    test_boost_without_a_handle();
    test_boost_ends_while_starting();
    test_boost_and_level_change_straddle();
    test_levels_by_hand();
    test_trace_paths();
    test_destroy_runs_queued();
    test_fork_child();
    printf("all pool path tests passed\n");
    return 0;
}
