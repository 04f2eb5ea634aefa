/* Stress tests of the pool, no Python: run by `make -C csrc test`, and by
 * `make -C csrc sanitize` under ThreadSanitizer and under
 * AddressSanitizer + UndefinedBehaviorSanitizer. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../pool.h"

#include "check.h"
#include "watchdog.h"

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static rt_pool *new_pool(int workers)
{
    rt_pool *pool = NULL;
    rt_pool_config config = {.num_workers = workers, .spin_ns = -1};
    CHECK(rt_pool_create(&config, &pool) == 0);
    CHECK(rt_pool_num_workers(pool) == workers);
    return pool;
}

/* ---- 10^6 tasks, each index exactly once -------------------------------- */

typedef struct visit_ctx {
    _Atomic unsigned char *seen;
    _Atomic int64_t chunks;
    rt_pool *pool;
    _Atomic int other_thread; /* a chunk ran on a worker */
} visit_ctx;

static int visit(int64_t begin, int64_t end, void *arg)
{
    visit_ctx *c = arg;
    for (int64_t i = begin; i < end; i++)
        atomic_fetch_add_explicit(&c->seen[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->chunks, 1, memory_order_relaxed);
    int slot = rt_pool_current_slot(c->pool);
    if (slot >= 0 && slot < RT_MAX_WORKERS)
        atomic_store(&c->other_thread, 1);
    return 0;
}

static void test_million_tasks(rt_pool *pool)
{
    const int64_t n = 1000000;
    visit_ctx c = {.seen = calloc((size_t)n, 1), .pool = pool};
    CHECK(c.seen != NULL);
    rt_for_options one_per_task = {.max_chunk = 1};
    CHECK(rt_parallel_for(pool, 0, n, &one_per_task, visit, &c) == RT_OK);
    CHECK(atomic_load(&c.chunks) == n);
    for (int64_t i = 0; i < n; i++)
        CHECK(atomic_load(&c.seen[i]) == 1);
    CHECK(atomic_load(&c.other_thread) == 1);
    free((void *)c.seen);
    printf("ok 10^6 tasks, one per index, each exactly once\n");
}

/* ---- adaptive splitting without bounds: few chunks, all covered -------- */

static void test_adaptive_chunks(rt_pool *pool)
{
    const int64_t n = 1 << 20;
    visit_ctx c = {.seen = calloc((size_t)n, 1), .pool = pool};
    CHECK(c.seen != NULL);
    rt_for_options aligned = {.grain = 1000, .align = 8};
    CHECK(rt_parallel_for(pool, 0, n, &aligned, visit, &c) == RT_OK);
    for (int64_t i = 0; i < n; i++)
        CHECK(atomic_load(&c.seen[i]) == 1);
    /* 2 leaves per thread to start, re-split on steal: far fewer than n/grain. */
    CHECK(atomic_load(&c.chunks) >= 1 && atomic_load(&c.chunks) < n / 1000);
    free((void *)c.seen);
    printf("ok adaptive partition: %ld chunks for %ld elements\n",
           (long)atomic_load(&c.chunks), (long)n);
}

/* ---- nested fork–join, depth 20 ---------------------------------------- */

typedef struct tree_ctx {
    rt_pool *pool;
    int depth;
    int64_t leaves;
} tree_ctx;

static void tree(void *arg)
{
    tree_ctx *c = arg;
    if (c->depth == 0) {
        c->leaves = 1;
        return;
    }
    tree_ctx left = {c->pool, c->depth - 1, 0}, right = {c->pool, c->depth - 1, 0};
    rt_join(c->pool, tree, &left, tree, &right);
    c->leaves = left.leaves + right.leaves;
}

typedef struct nest_ctx {
    rt_pool *pool;
    int depth;
    _Atomic int64_t *leaves;
} nest_ctx;

/* Each level is a parallel_for of 4 chunks; chunk 0 starts the next level
 * from inside the running task. */
static int nest(int64_t begin, int64_t end, void *arg)
{
    nest_ctx *c = arg;
    for (int64_t i = begin; i < end; i++) {
        if (i == 0 && c->depth > 0) {
            nest_ctx inner = {c->pool, c->depth - 1, c->leaves};
            rt_for_options one = {.max_chunk = 1};
            CHECK(rt_parallel_for(c->pool, 0, 4, &one, nest, &inner) == RT_OK);
        } else {
            atomic_fetch_add(c->leaves, 1);
        }
    }
    return 0;
}

static void test_nested_depth_20(rt_pool *pool)
{
    tree_ctx root = {pool, 20, 0};
    rt_join(pool, tree, &root, tree, &(tree_ctx){pool, 0, 0});
    CHECK(root.leaves == (int64_t)1 << 20);

    _Atomic int64_t leaves = 0;
    nest_ctx c = {pool, 20, &leaves};
    rt_for_options one = {.max_chunk = 1};
    CHECK(rt_parallel_for(pool, 0, 4, &one, nest, &c) == RT_OK);
    CHECK(atomic_load(&leaves) == 3 * 21 + 1);
    printf("ok nested fork-join depth 20 (join tree of 2^20 leaves; parallel_for 20 deep)\n");
}

/* ---- several callers at once -------------------------------------------- */

typedef struct sum_ctx {
    const int64_t *data;
    _Atomic int64_t sum;
} sum_ctx;

static int add_range(int64_t begin, int64_t end, void *arg)
{
    sum_ctx *c = arg;
    int64_t s = 0;
    for (int64_t i = begin; i < end; i++)
        s += c->data[i];
    atomic_fetch_add(&c->sum, s);
    return 0;
}

typedef struct caller_args {
    rt_pool *pool;
    const int64_t *data;
    int64_t n;
    int rounds;
    _Atomic int64_t *submitted_done;
    int ok;
} caller_args;

static void count_submission(void *arg) { atomic_fetch_add((_Atomic int64_t *)arg, 1); }

static void *caller_thread(void *arg)
{
    caller_args *a = arg;
    int64_t expected = a->n * (a->n - 1) / 2;
    a->ok = 1;
    for (int r = 0; r < a->rounds; r++) {
        sum_ctx c = {.data = a->data};
        rt_for_options options = {.grain = 1 + r % 7, .max_chunk = r % 2 ? 64 : 0};
        if (rt_parallel_for(a->pool, 0, a->n, &options, add_range, &c) != RT_OK ||
            atomic_load(&c.sum) != expected)
            a->ok = 0;
        tree_ctx t = {a->pool, 8, 0};
        rt_join(a->pool, tree, &t, tree, &(tree_ctx){a->pool, 0, 0});
        if (t.leaves != 256)
            a->ok = 0;
        if (rt_pool_submit(a->pool, count_submission, a->submitted_done) != 0)
            a->ok = 0;
    }
    return NULL;
}

static void run_callers(rt_pool *pool, int threads, int rounds, const char *what)
{
    const int64_t n = 100000;
    int64_t *data = malloc((size_t)n * sizeof *data);
    CHECK(data != NULL);
    for (int64_t i = 0; i < n; i++)
        data[i] = i;
    _Atomic int64_t submitted_done = 0;
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    caller_args *args = calloc((size_t)threads, sizeof *args);
    for (int t = 0; t < threads; t++) {
        args[t] = (caller_args){pool, data, n, rounds, &submitted_done, 0};
        CHECK(pthread_create(&tids[t], NULL, caller_thread, &args[t]) == 0);
    }
    for (int t = 0; t < threads; t++) {
        pthread_join(tids[t], NULL);
        CHECK(args[t].ok);
    }
    /* Submissions run on workers; nobody waits for them, so poll. */
    for (int i = 0; i < 10000 && atomic_load(&submitted_done) < (int64_t)threads * rounds; i++)
        sleep_ms(1);
    CHECK(atomic_load(&submitted_done) == (int64_t)threads * rounds);
    free(tids);
    free(args);
    free(data);
    printf("ok %s: %d threads x %d rounds of parallel_for + join + submit\n", what, threads,
           rounds);
}

/* ---- cancellation ------------------------------------------------------- */

typedef struct cancel_ctx {
    _Atomic int64_t ran;
    int64_t fail_at;
} cancel_ctx;

static int fail_at_index(int64_t begin, int64_t end, void *arg)
{
    cancel_ctx *c = arg;
    atomic_fetch_add(&c->ran, 1);
    return begin <= c->fail_at && c->fail_at < end;
}

static int interrupt_calls;
static int interrupt_after_two(void *arg)
{
    (void)arg;
    return ++interrupt_calls >= 2;
}

static int slow_chunk(int64_t begin, int64_t end, void *arg)
{
    (void)begin;
    (void)end;
    atomic_fetch_add(&((cancel_ctx *)arg)->ran, 1);
    sleep_ms(1);
    return 0;
}

static void test_cancellation(rt_pool *pool)
{
    const int64_t n = 200000;
    cancel_ctx c = {.fail_at = 10};
    rt_for_options one = {.max_chunk = 1};
    CHECK(rt_parallel_for(pool, 0, n, &one, fail_at_index, &c) == RT_STOPPED);
    CHECK(atomic_load(&c.ran) < n); /* the rest was skipped */

    cancel_ctx slow = {.fail_at = -1};
    rt_for_options hooked = {.max_chunk = 1,
                             .interrupt = interrupt_after_two,
                             .interrupt_period_ns = 2000000};
    CHECK(rt_parallel_for(pool, 0, 100000, &hooked, slow_chunk, &slow) == RT_INTERRUPTED);
    CHECK(atomic_load(&slow.ran) < 100000);

    /* The pool is still usable. */
    sum_ctx s = {.data = (int64_t[]){1, 2, 3, 4}};
    CHECK(rt_parallel_for(pool, 0, 4, &one, add_range, &s) == RT_OK && atomic_load(&s.sum) == 10);
    printf("ok cancellation: stopped after %ld of %ld chunks; interrupt after %ld\n",
           (long)atomic_load(&c.ran), (long)n, (long)atomic_load(&slow.ran));
}

/* ---- parking, resizing, no workers ------------------------------------- */

static void test_parks_when_idle(rt_pool *pool)
{
    rt_pool_stats st;
    for (int i = 0; i < 2000; i++) {
        rt_pool_get_stats(pool, &st);
        if (st.sleeping == st.workers)
            break;
        sleep_ms(1);
    }
    CHECK(st.workers == rt_pool_num_workers(pool));
    CHECK(st.sleeping == st.workers);
    CHECK(st.parks >= (uint64_t)st.workers);
    printf("ok idle pool parks: %d of %d workers asleep\n", st.sleeping, st.workers);
}

static void *resize_loop(void *arg)
{
    rt_pool *pool = arg;
    for (int i = 0; i < 40; i++)
        CHECK(rt_pool_resize(pool, i % 5) == 0);
    return NULL;
}

static void test_resize_while_running(void)
{
    rt_pool *pool = new_pool(3);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, resize_loop, pool) == 0);
    run_callers(pool, 4, 50, "resize while 4 callers run");
    pthread_join(t, NULL);
    CHECK(rt_pool_resize(pool, 2) == 0);
    test_million_tasks(pool);
    rt_pool_destroy(pool);
}

static void test_zero_workers(void)
{
    rt_pool *pool = new_pool(0);
    sum_ctx s = {.data = (int64_t[]){1, 2, 3, 4}};
    CHECK(rt_parallel_for(pool, 0, 4, NULL, add_range, &s) == RT_OK && atomic_load(&s.sum) == 10);
    tree_ctx t = {pool, 6, 0};
    rt_join(pool, tree, &t, tree, &(tree_ctx){pool, 0, 0});
    CHECK(t.leaves == 64);
    rt_pool_destroy(pool);
    printf("ok zero workers: the caller runs everything\n");
}

int main(void)
{
    rt_test_watchdog(60);
    rt_pool *pool = new_pool(3);
    test_million_tasks(pool);
    test_adaptive_chunks(pool);
    test_nested_depth_20(pool);
    run_callers(pool, 4, 200, "4 concurrent callers");
    /* More callers than caller slots: the rest go through the injector. */
    run_callers(pool, RT_MAX_CALLERS + 6, 10, "more callers than slots");
    test_cancellation(pool);
    test_parks_when_idle(pool);
    rt_pool_destroy(pool);
    test_resize_while_running();
    test_zero_workers();
    printf("all pool tests passed\n");
    return 0;
}
