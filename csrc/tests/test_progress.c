/* Progress guarantees of the pool, as C tests: a
 * burst of submitted work wakes a worker per task; injected work is never
 * stranded by a resize (to no workers included); a thread waiting in a
 * join starts no injected work; QoS levels nest as a stack.  Run by
 * `make -C csrc test`, and under ThreadSanitizer and ASan + UBSan.  Every
 * wait is bounded: a watchdog aborts a hang. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "../pool.h"

#include "check.h"

#define WAIT_NS ((int64_t)20 * 1000000000) /* any single wait: 20 s */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "test_progress: watchdog: a test hung\n";
    (void)!write(2, msg, sizeof msg - 1);
    abort();
}

static rt_pool *new_pool(int workers)
{
    rt_pool *pool = NULL;
    rt_pool_config config = {.num_workers = workers, .spin_ns = 20000};
    CHECK(rt_pool_create(&config, &pool) == 0);
    return pool;
}

static void wait_parked(rt_pool *pool, int threads)
{
    int64_t deadline = now_ns() + WAIT_NS;
    rt_pool_stats st;
    do {
        CHECK(now_ns() < deadline);
        sleep_ms(1);
        rt_pool_get_stats(pool, &st);
    } while (st.sleeping < threads);
}

/* Waits until *counter reaches target, or fails after WAIT_NS. */
static void wait_count(_Atomic int *counter, int target)
{
    int64_t deadline = now_ns() + WAIT_NS;
    while (atomic_load(counter) < target) {
        CHECK(now_ns() < deadline);
        sleep_ms(1);
    }
}

/* ---- a burst wakes a worker per task ------------------------------------ */

typedef struct rendezvous {
    _Atomic int arrived;
    _Atomic int finished;
    _Atomic int timed_out;
    int parties;
} rendezvous;

/* All parties must be running at once to pass: each waits (bounded) for
 * the others to arrive. */
static void meet(void *arg)
{
    rendezvous *r = arg;
    atomic_fetch_add(&r->arrived, 1);
    int64_t deadline = now_ns() + (int64_t)5 * 1000000000;
    while (atomic_load(&r->arrived) < r->parties) {
        if (now_ns() > deadline) {
            atomic_store(&r->timed_out, 1);
            break;
        }
        sched_yield();
    }
    atomic_fetch_add(&r->finished, 1);
}

static void test_burst_wakes_a_worker_per_task(void)
{
    rt_pool *pool = new_pool(3);
    wait_parked(pool, 3);
    rendezvous r = {.parties = 3};
    for (int i = 0; i < 3; i++)
        CHECK(rt_pool_submit(pool, meet, &r) == 0);
    wait_count(&r.finished, 3);
    CHECK(atomic_load(&r.timed_out) == 0); /* all three ran at once */
    rt_pool_destroy(pool);
    printf("ok a burst of 3 submits ran on 3 parked workers at once\n");
}

/* ---- injected work survives resizes ------------------------------------- */

static void count(void *arg) { atomic_fetch_add((_Atomic int *)arg, 1); }

static void test_resize_to_zero_strands_no_submit(void)
{
    rt_pool *pool = new_pool(1);
    _Atomic int ran = 0;
    for (int round = 0; round < 500; round++) {
        CHECK(rt_pool_submit(pool, count, &ran) == 0);
        CHECK(rt_pool_resize(pool, 0) == 0); /* the worker leaves at once */
        CHECK(rt_pool_resize(pool, 1) == 0);
    }
    wait_count(&ran, 500);
    /* With no workers at all, submitting runs the work here. */
    CHECK(rt_pool_resize(pool, 0) == 0);
    CHECK(rt_pool_submit(pool, count, &ran) == 0);
    CHECK(atomic_load(&ran) == 501);
    rt_pool_destroy(pool);
    printf("ok 500 submits each followed by a resize to no workers all ran\n");
}

typedef struct slow_ctx {
    _Atomic int started;
} slow_ctx;

/* Counts indices, not calls: a caller that comes in after the resize to
 * no workers runs its range as one call. */
static int slow_chunks(int64_t begin, int64_t end, void *arg)
{
    atomic_fetch_add(&((slow_ctx *)arg)->started, (int)(end - begin));
    sleep_ms(20);
    return 0;
}

static void *busy_caller(void *arg)
{
    rt_pool *pool = arg;
    slow_ctx c = {0};
    rt_for_options one = {.max_chunk = 1};
    CHECK(rt_parallel_for(pool, 0, 4, &one, slow_chunks, &c) == RT_OK);
    CHECK(atomic_load(&c.started) == 4);
    return NULL;
}

static void test_callers_beyond_the_slots_survive_a_resize_to_zero(void)
{
    enum { CALLERS = RT_MAX_CALLERS + 6 };
    rt_pool *pool = new_pool(2);
    pthread_t threads[CALLERS];
    for (int i = 0; i < CALLERS; i++)
        CHECK(pthread_create(&threads[i], NULL, busy_caller, pool) == 0);
    sleep_ms(5);
    CHECK(rt_pool_resize(pool, 0) == 0);
    for (int i = 0; i < CALLERS; i++)
        CHECK(pthread_join(threads[i], NULL) == 0);
    rt_pool_destroy(pool);
    printf("ok %d callers (%d through the injector) finished after a resize to no workers\n",
           CALLERS, CALLERS - RT_MAX_CALLERS);
}

/* ---- a joining thread takes no injected work ------------------------------ */

typedef struct join_ctx {
    rt_pool *pool;
    _Atomic int submitted;
    _Atomic int ran_in_caller; /* an injected task ran on a caller slot */
    _Atomic int ran;
} join_ctx;

static join_ctx *the_join_ctx;

static void note_where(void *arg)
{
    join_ctx *c = arg;
    if (rt_pool_current_slot(c->pool) >= RT_MAX_WORKERS)
        atomic_store(&c->ran_in_caller, 1);
    atomic_fetch_add(&c->ran, 1);
}

static int chunk_that_submits(int64_t begin, int64_t end, void *arg)
{
    join_ctx *c = arg;
    (void)end;
    /* Every fourth chunk, from whichever thread runs it, injects work
     * while the rest of the job is split between the caller and the worker. */
    if (begin % 4 == 0) {
        CHECK(rt_pool_submit(c->pool, note_where, c) == 0);
        atomic_fetch_add(&c->submitted, 1);
    }
    sleep_ms(1);
    return 0;
}

static void test_a_joining_thread_takes_no_injected_work(void)
{
    rt_pool *pool = new_pool(1);
    join_ctx c = {.pool = pool};
    the_join_ctx = &c;
    rt_for_options one = {.max_chunk = 1};
    for (int round = 0; round < 10; round++)
        CHECK(rt_parallel_for(pool, 0, 64, &one, chunk_that_submits, &c) == RT_OK);
    wait_count(&c.ran, atomic_load(&c.submitted));
    CHECK(atomic_load(&c.ran_in_caller) == 0);
    rt_pool_destroy(pool);
    printf("ok %d tasks injected during jobs all ran on the worker, none on the joining caller\n",
           atomic_load(&c.submitted));
}

/* ---- levels nest ---------------------------------------------------------- */

typedef struct nest_ctx {
    rt_pool *pool;
    _Atomic int inner_bad;  /* an interactive chunk ran at SCHED_BATCH or nice > own */
    _Atomic int outer_bad;  /* a background chunk was not at background after nesting */
    int own_nice;
} nest_ctx;

static int thread_nice(void) { return getpriority(PRIO_PROCESS, 0); }

static int inner_chunk(int64_t begin, int64_t end, void *arg)
{
    nest_ctx *c = arg;
    (void)begin;
    (void)end;
    if (sched_getscheduler(0) != SCHED_OTHER || thread_nice() > c->own_nice)
        atomic_store(&c->inner_bad, 1);
    return 0;
}

static int outer_chunk(int64_t begin, int64_t end, void *arg)
{
    nest_ctx *c = arg;
    (void)begin;
    (void)end;
    rt_for_options interactive = {.max_chunk = 4, .has_qos = 1, .qos = RT_QOS_INTERACTIVE};
    CHECK(rt_parallel_for(c->pool, 0, 32, &interactive, inner_chunk, c) == RT_OK);
    if (sched_getscheduler(0) != SCHED_BATCH)
        atomic_store(&c->outer_bad, 1);
    return 0;
}

static void test_levels_nest_as_a_stack(void)
{
    rt_pool *pool = new_pool(1);
    nest_ctx c = {.pool = pool, .own_nice = thread_nice()};
    rt_for_options background = {.max_chunk = 1, .has_qos = 1, .qos = RT_QOS_BACKGROUND};
    for (int round = 0; round < 5; round++)
        CHECK(rt_parallel_for(pool, 0, 8, &background, outer_chunk, &c) == RT_OK);
    CHECK(atomic_load(&c.inner_bad) == 0);
    CHECK(atomic_load(&c.outer_bad) == 0);
    CHECK(sched_getscheduler(0) == SCHED_OTHER && thread_nice() == c.own_nice);

    /* A level set outside the pool, then a job at another level: the job
     * runs from the thread's own setting, and the outer level is back after. */
    rt_level_frame frame;
    rt_pool_level_enter(pool, RT_QOS_BACKGROUND, NULL, &frame);
    CHECK(sched_getscheduler(0) == SCHED_BATCH);
    rt_for_options interactive = {.max_chunk = 4, .has_qos = 1, .qos = RT_QOS_INTERACTIVE};
    CHECK(rt_parallel_for(pool, 0, 32, &interactive, inner_chunk, &c) == RT_OK);
    CHECK(atomic_load(&c.inner_bad) == 0);
    CHECK(sched_getscheduler(0) == SCHED_BATCH);
    rt_pool_level_leave(&frame);
    CHECK(sched_getscheduler(0) == SCHED_OTHER && thread_nice() == c.own_nice);
    rt_pool_destroy(pool);
    printf("ok interactive jobs inside background chunks ran at their own level; "
           "levels came back in order\n");
}

int main(void)
{
    signal(SIGALRM, on_alarm);
    alarm(120);
    test_burst_wakes_a_worker_per_task();
    test_resize_to_zero_strands_no_submit();
    test_callers_beyond_the_slots_survive_a_resize_to_zero();
    test_a_joining_thread_takes_no_injected_work();
#if defined(__linux__)
    test_levels_nest_as_a_stack();
#endif
    printf("all progress tests passed\n");
    return 0;
}
