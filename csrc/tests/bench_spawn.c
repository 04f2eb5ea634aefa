/* Cost of spawn + join, per task, without Python: `make -C csrc bench`.
 *
 *   fib:        recursive fib(n) with rt_join at every node (one task per
 *               call, as in rayon's and TBB's join benchmarks);
 *   chunks:     rt_parallel_for with one task per index and an empty body
 *               (per-chunk overhead of a native kernel);
 *   fork-join:  an outside caller running 2 one-element chunks, hot.
 *
 * With one thread the pool has no workers and runs everything inline (no
 * deque at all), so the figures that matter are those for >= 2 threads.
 * Usage: bench_spawn [threads] (default: 2 and every CPU). */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "../pool.h"

static rt_pool *pool;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct fib_ctx {
    int n;
    int64_t result;
} fib_ctx;

static void fib(void *arg)
{
    fib_ctx *c = arg;
    if (c->n < 2) {
        c->result = c->n;
        return;
    }
    fib_ctx a = {c->n - 1, 0}, b = {c->n - 2, 0};
    rt_join(pool, fib, &a, fib, &b);
    c->result = a.result + b.result;
}

__attribute__((noinline)) static int64_t fib_serial(int n)
{
    return n < 2 ? n : fib_serial(n - 1) + fib_serial(n - 2);
}

static volatile int fib_n = 30; /* volatile: keep the compiler from folding fib(30) */

/* Number of fib() calls for fib(n): 2 * fib(n + 1) - 1. */
static int64_t fib_calls(int n) { return 2 * fib_serial(n + 1) - 1; }

static int empty_body(int64_t begin, int64_t end, void *ctx)
{
    (void)begin;
    (void)end;
    (void)ctx;
    return 0;
}

static void fib_start(void *arg) { fib(arg); }
static void nothing(void *arg) { (void)arg; }

static double best_of(int reps, void (*run)(void *), void *arg)
{
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        run(arg);
        double t = now_s() - t0;
        if (t < best)
            best = t;
    }
    return best;
}

static void run_fib(void *arg)
{
    fib_ctx *c = arg;
    /* Enter through rt_join so the calling thread takes part as a caller. */
    rt_join(pool, fib_start, c, nothing, NULL);
}

static void run_chunks(void *arg)
{
    int64_t n = *(int64_t *)arg;
    rt_for_options one = {.max_chunk = 1};
    rt_parallel_for(pool, 0, n, &one, empty_body, NULL);
}

static void run_fork_join(void *arg)
{
    int reps = *(int *)arg;
    rt_for_options one = {.grain = 1};
    for (int i = 0; i < reps; i++)
        rt_parallel_for(pool, 0, 2, &one, empty_body, NULL);
}

static void bench(int threads)
{
    rt_pool_config config = {.num_workers = threads - 1, .spin_ns = -1};
    if (rt_pool_create(&config, &pool) != 0) {
        fprintf(stderr, "cannot create pool\n");
        exit(1);
    }
    const int n = fib_n;
    fib_ctx c = {n, 0};
    double t = best_of(5, run_fib, &c);
    if (c.result != fib_serial(n)) {
        fprintf(stderr, "fib mismatch\n");
        exit(1);
    }
    double serial = 1e30;
    for (int r = 0; r < 5; r++) {
        double t0 = now_s();
        volatile int64_t s = fib_serial(fib_n);
        (void)s;
        double dt = now_s() - t0;
        if (dt < serial)
            serial = dt;
    }
    int64_t calls = fib_calls(n);
    printf("threads=%d fib(%d): %.1f ms, %.1f ns per task wall, %.1f ns per task per thread "
           "(serial fib without tasks: %.1f ms)\n",
           threads, n, t * 1e3, t * 1e9 / (double)calls, t * 1e9 * threads / (double)calls,
           serial * 1e3);

    int64_t chunks = 4000000;
    double tc = best_of(5, run_chunks, &chunks);
    printf("threads=%d empty chunks: %.1f ns per chunk wall, %.1f ns per chunk per thread\n",
           threads, tc * 1e9 / (double)chunks, tc * 1e9 * threads / (double)chunks);

    int reps = 100000;
    double tf = best_of(5, run_fork_join, &reps);
    printf("threads=%d fork-join of 2 one-element chunks from outside: %.2f us per call\n",
           threads, tf * 1e6 / reps);
    rt_pool_destroy(pool);
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        bench(atoi(argv[1]));
        return 0;
    }
#if defined(__linux__)
    cpu_set_t set;
    int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
#else
    int cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
#endif
    bench(2);
    if (cpus > 2)
        bench(cpus);
    return 0;
}
