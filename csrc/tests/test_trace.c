/* Tracing (trace.h) and the join floor, on the C pool alone:
 *   - a traced job's task events cover its range exactly once, with one
 *     job event on the caller; nothing is recorded outside a trace;
 *   - full rings drop and count, never overflow;
 *   - traces started and stopped while two threads run jobs (TSAN: no
 *     race between writers and the reader);
 *   - a caller waiting for its interactive job's piece takes no chunk of
 *     a background job meanwhile. */
#define _GNU_SOURCE
#include "../pool.h"
#include "../trace.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "watchdog.h"

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void spin_ns(int64_t ns)
{
    int64_t until = now_ns() + ns;
    while (now_ns() < until) {
    }
}

static int spin_body(int64_t lo, int64_t hi, void *ctx)
{
    (void)ctx;
    spin_ns((hi - lo) * 200);
    return 0;
}

/* Stops the trace and returns its events (caller frees). */
static rt_trace_event *stop_and_read(rt_pool *pool, int64_t *n, int64_t *dropped)
{
    int64_t start;
    int64_t bound = rt_pool_trace_stop(pool, &start);
    rt_trace_event *events = malloc((size_t)(bound > 0 ? bound : 1) * sizeof *events);
    CHECK(events != NULL);
    *n = rt_pool_trace_read(pool, events, bound, dropped);
    CHECK(*n <= bound);
    for (int64_t i = 0; i < *n; i++) {
        CHECK(events[i].type >= RT_TRACE_TASK && events[i].type <= RT_TRACE_SUBMITTED);
        /* A span may have begun before this trace (a job or park of an
         * earlier one that ended in it), never ended before it. */
        CHECK(events[i].end_ns >= start && events[i].end_ns >= events[i].begin_ns);
        CHECK(events[i].tid != 0);
    }
    return events;
}

static int by_lo(const void *a, const void *b)
{
    const rt_trace_event *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static void test_tasks_cover_the_job(void)
{
    rt_pool *pool;
    rt_pool_config config = {.num_workers = 3, .spin_ns = -1};
    CHECK(rt_pool_create(&config, &pool) == 0);
    rt_for_options options = {.grain = 10};
    /* Before the trace: recorded nowhere. */
    CHECK(rt_parallel_for(pool, 0, 5000, &options, spin_body, NULL) == RT_OK);

    CHECK(rt_pool_trace_start(pool, 4096) == 0);
    CHECK(rt_pool_trace_start(pool, 4096) == EBUSY);
    CHECK(rt_parallel_for(pool, 0, 10000, &options, spin_body, NULL) == RT_OK);
    int64_t n, dropped;
    rt_trace_event *events = stop_and_read(pool, &n, &dropped);
    CHECK(dropped == 0);
    /* After it: recorded nowhere either. */
    CHECK(rt_parallel_for(pool, 0, 5000, &options, spin_body, NULL) == RT_OK);

    rt_trace_event *tasks = malloc((size_t)n * sizeof *tasks);
    CHECK(tasks != NULL);
    int64_t ntasks = 0, jobs = 0;
    for (int64_t i = 0; i < n; i++) {
        if (events[i].type == RT_TRACE_TASK) {
            CHECK(events[i].job == 1);
            tasks[ntasks++] = events[i];
        } else if (events[i].type == RT_TRACE_JOB) {
            jobs++;
            CHECK(events[i].job == 1 && events[i].lo == 0 && events[i].hi == 10000);
            CHECK(events[i].slot >= RT_MAX_WORKERS); /* on its caller */
        }
    }
    CHECK(jobs == 1);
    qsort(tasks, (size_t)ntasks, sizeof *tasks, by_lo);
    int64_t next = 0;
    for (int64_t i = 0; i < ntasks; i++) {
        CHECK(tasks[i].lo == next && tasks[i].hi > tasks[i].lo);
        next = tasks[i].hi;
#if defined(__linux__)
        CHECK(tasks[i].cpu >= 0 && tasks[i].cpu_end >= 0);
#endif
    }
    CHECK(next == 10000);
    free(tasks);
    free(events);
    rt_pool_destroy(pool);
    printf("ok a traced job's tasks cover its range once; nothing outside the trace\n");
}

static void test_full_rings_drop_and_count(void)
{
    rt_pool *pool;
    rt_pool_config config = {.num_workers = 2, .spin_ns = -1};
    CHECK(rt_pool_create(&config, &pool) == 0);
    CHECK(rt_pool_trace_start(pool, 0) == EINVAL);
    CHECK(rt_pool_trace_start(pool, RT_TRACE_MAX_CAPACITY + 1) == EINVAL);
    CHECK(rt_pool_trace_start(pool, INT64_MAX) == EINVAL);
    CHECK(rt_pool_trace_start(pool, 8) == 0);
    rt_for_options options = {.grain = 1, .max_chunk = 1};
    CHECK(rt_parallel_for(pool, 0, 1000, &options, spin_body, NULL) == RT_OK);
    int64_t n, dropped;
    rt_trace_event *events = stop_and_read(pool, &n, &dropped);
    /* Three threads, eight events each at most; 1000 tasks + a job. */
    CHECK(n <= 3 * 8);
    CHECK(dropped > 0 && n + dropped >= 1001);
    free(events);
    /* The next trace starts with empty rings. */
    CHECK(rt_pool_trace_start(pool, 4096) == 0);
    CHECK(rt_parallel_for(pool, 0, 100, &options, spin_body, NULL) == RT_OK);
    events = stop_and_read(pool, &n, &dropped);
    CHECK(dropped == 0 && n >= 101);
    free(events);
    rt_pool_destroy(pool);
    printf("ok full rings drop and count events, and the next trace starts empty\n");
}

/* A ring asked for more events than a size_t of bytes can count allocates
 * nothing and drops (capacity * 48 must not wrap to a small buffer). */
static void test_ring_size_overflow_drops(void)
{
    const int64_t huge[] = {(int64_t)1 << 62, ((int64_t)1 << 60) + 1, INT64_MAX};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        rt_trace_ring ring = {0};
        CHECK(rt_trace_ring_next(&ring, 1, huge[i]) == NULL);
        CHECK(ring.capacity == 0 && ring.events == NULL);
        CHECK(atomic_load(&ring.dropped) == 1);
        rt_trace_ring_free(&ring);
    }
    printf("ok a ring whose size in bytes overflows allocates nothing and drops\n");
}

typedef struct looping {
    rt_pool *pool;
    atomic_int stop;
} looping;

static void *run_jobs(void *arg)
{
    looping *l = arg;
    rt_for_options options = {.grain = 4};
    while (!atomic_load(&l->stop))
        CHECK(rt_parallel_for(l->pool, 0, 400, &options, spin_body, NULL) == RT_OK);
    return NULL;
}

static void test_traces_while_jobs_run(void)
{
    rt_pool *pool;
    rt_pool_config config = {.num_workers = 2, .spin_ns = -1};
    CHECK(rt_pool_create(&config, &pool) == 0);
    looping l = {.pool = pool};
    atomic_init(&l.stop, 0);
    pthread_t threads[2];
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&threads[i], NULL, run_jobs, &l) == 0);
    int64_t total = 0;
    for (int round = 0; round < 30; round++) {
        CHECK(rt_pool_trace_start(pool, round % 2 ? 64 : 4096) == 0);
        spin_ns(1000000);
        int64_t n, dropped;
        free(stop_and_read(pool, &n, &dropped));
        total += n;
    }
    atomic_store(&l.stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(threads[i], NULL);
    CHECK(total > 0);
    rt_pool_destroy(pool);
    printf("ok 30 traces started and stopped while two threads ran jobs (%lld events)\n",
           (long long)total);
}

/* ---- the join floor ---------------------------------------------------- */

static atomic_int right_started, background_done;
static atomic_int main_tid;
static atomic_int main_ran_background;

static int wait_for(atomic_int *flag)
{
    int64_t deadline = now_ns() + 5000000000LL;
    while (!atomic_load(flag))
        if (now_ns() > deadline)
            return 0;
    return 1;
}

static int interactive_body(int64_t lo, int64_t hi, void *ctx)
{
    (void)hi;
    (void)ctx;
    if (lo == 0) {
        CHECK(wait_for(&right_started)); /* the worker took the other half */
    } else {
        atomic_store(&right_started, 1);
        CHECK(wait_for(&background_done)); /* holds the worker */
    }
    return 0;
}

static int background_body(int64_t lo, int64_t hi, void *ctx)
{
    (void)ctx;
    if (rt_trace_tid() == atomic_load(&main_tid))
        atomic_store(&main_ran_background, 1);
    spin_ns((hi - lo) * 200000);
    return 0;
}

static void *run_background(void *arg)
{
    rt_pool *pool = arg;
    CHECK(wait_for(&right_started));
    rt_for_options options = {.grain = 1, .has_qos = 1, .qos = RT_QOS_BACKGROUND};
    CHECK(rt_parallel_for(pool, 0, 100, &options, background_body, NULL) == RT_OK);
    atomic_store(&background_done, 1);
    return NULL;
}

/* The caller of an interactive job waits ~20 ms for the half its worker
 * runs, while another thread's background job has 100 chunks to steal: it
 * takes none (it would have run them at background level on the
 * efficiency cores, or background work on the performance cores). */
static void test_waiting_caller_takes_no_lower_level_work(void)
{
    rt_pool *pool;
    rt_pool_config config = {.num_workers = 1, .spin_ns = -1};
    CHECK(rt_pool_create(&config, &pool) == 0);
    atomic_store(&main_tid, rt_trace_tid());
    CHECK(rt_pool_trace_start(pool, 4096) == 0);
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, run_background, pool) == 0);
    rt_for_options options = {.grain = 1, .has_qos = 1, .qos = RT_QOS_INTERACTIVE};
    CHECK(rt_parallel_for(pool, 0, 2, &options, interactive_body, NULL) == RT_OK);
    pthread_join(thread, NULL);
    CHECK(!atomic_load(&main_ran_background));
    int64_t n, dropped;
    rt_trace_event *events = stop_and_read(pool, &n, &dropped);
    uint32_t interactive_job = 0;
    for (int64_t i = 0; i < n; i++)
        if (events[i].type == RT_TRACE_JOB && events[i].tid == atomic_load(&main_tid))
            interactive_job = events[i].job;
    CHECK(interactive_job != 0);
    int64_t background_elements = 0;
    for (int64_t i = 0; i < n; i++) {
        const rt_trace_event *e = &events[i];
        if (e->type == RT_TRACE_TASK && e->job != interactive_job) {
            CHECK(e->tid != atomic_load(&main_tid) && e->level == RT_QOS_BACKGROUND);
            background_elements += e->hi - e->lo;
        }
    }
    CHECK(background_elements == 100);
    free(events);
    rt_pool_destroy(pool);
    printf("ok a caller waiting on its interactive job took none of a background job's "
           "chunks\n");
}

int main(void)
{
    rt_test_watchdog(60);
    test_tasks_cover_the_job();
    test_full_rings_drop_and_count();
    test_ring_size_overflow_drops();
    test_traces_while_jobs_run();
    test_waiting_caller_takes_no_lower_level_work();
    printf("all trace tests passed\n");
    return 0;
}
