/* The QoS mechanisms on the calling thread: each level applied, checked
 * through the OS's own getters, and restored exactly.  Linux checks run
 * here; elsewhere only apply/restore round trips run. */
#define _GNU_SOURCE
#include "../pool.h"
#include "../qos.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__linux__)
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "check.h"
#include "watchdog.h"

#if defined(__linux__)
static int nice_now(void)
{
    return getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
}

static void test_linux_levels(void)
{
    cpu_set_t before;
    CHECK(sched_getaffinity(0, sizeof before, &before) == 0);
    int first = -1;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, &before)) {
            first = cpu;
            break;
        }
    CHECK(first >= 0);
    int policy = sched_getscheduler(0), nice = nice_now();

    rt_cpuset one = {{0}};
    rt_cpuset_add(&one, first);
    rt_qos_saved saved;
    int used = rt_qos_apply(RT_QOS_BACKGROUND, &one, &saved);
    CHECK(sched_getscheduler(0) == SCHED_BATCH && (used & RT_QOS_BATCH));
    cpu_set_t now;
    CHECK(sched_getaffinity(0, sizeof now, &now) == 0);
    CHECK(CPU_COUNT(&now) == 1 && CPU_ISSET(first, &now));
    if (rt_qos_available() & RT_QOS_NICE)
        CHECK(nice_now() == (nice > 10 ? nice : 10));
    /* Applying the level again (a caller already at it, then its job's
     * chunk) changes nothing more. */
    rt_qos_saved twice;
    rt_qos_apply(RT_QOS_BACKGROUND, &one, &twice);
    if (rt_qos_available() & RT_QOS_NICE)
        CHECK(nice_now() == (nice > 10 ? nice : 10));
    rt_qos_restore(&twice);
    rt_qos_restore(&saved);
    CHECK(sched_getscheduler(0) == policy && nice_now() == nice);
    CHECK(sched_getaffinity(0, sizeof now, &now) == 0 && CPU_EQUAL(&now, &before));

    used = rt_qos_apply(RT_QOS_INTERACTIVE, NULL, &saved);
    CHECK(!(used & (RT_QOS_BATCH | RT_QOS_NICE | RT_QOS_AFFINITY)));
    CHECK(sched_getscheduler(0) == policy);
    rt_qos_restore(&saved);
    printf("ok linux levels (available mechanisms 0x%x; util-clamp: %s)\n", rt_qos_available(),
           rt_qos_unavailable_reason(RT_QOS_UCLAMP) ? rt_qos_unavailable_reason(RT_QOS_UCLAMP)
                                                    : "available");
}

/* A job at a level: every chunk, on every thread, runs at that level and
 * on the job's CPUs; the caller gets its own setting back; a later job
 * without a level runs at each thread's own setting again. */
typedef struct level_check {
    int expect_policy;
    int cpu; /* -1: any */
    atomic_int chunks, wrong;
    atomic_int threads_seen;
    pthread_t first_thread;
} level_check;

static int level_body(int64_t begin, int64_t end, void *ctx)
{
    level_check *c = ctx;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do /* ~20 us a chunk: long enough for the worker to take some */
        clock_gettime(CLOCK_MONOTONIC, &now);
    while ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) < 20000);
    int ok = sched_getscheduler(0) == c->expect_policy;
    if (c->cpu >= 0) {
        cpu_set_t mask;
        ok = ok && sched_getaffinity(0, sizeof mask, &mask) == 0 && CPU_COUNT(&mask) == 1 &&
             CPU_ISSET(c->cpu, &mask);
    }
    atomic_fetch_add(&c->chunks, (int)(end - begin));
    if (!ok)
        atomic_fetch_add(&c->wrong, 1);
    if (!pthread_equal(pthread_self(), c->first_thread))
        atomic_store(&c->threads_seen, 2);
    return 0;
}

static void test_pool_runs_jobs_at_their_level(void)
{
    rt_pool_config config = {.num_workers = 1, .spin_ns = -1};
    rt_pool *pool;
    CHECK(rt_pool_create(&config, &pool) == 0);
    cpu_set_t before;
    CHECK(sched_getaffinity(0, sizeof before, &before) == 0);
    int last = -1;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, &before))
            last = cpu;
    int policy = sched_getscheduler(0);

    rt_cpuset cpus = {{0}};
    rt_cpuset_add(&cpus, last);
    rt_for_options options = {.grain = 1, .has_qos = 1, .qos = RT_QOS_BACKGROUND,
                              .qos_cpus = &cpus};
    int seen_worker = 0;
    for (int round = 0; round < 50 && !seen_worker; round++) {
        level_check check = {.expect_policy = SCHED_BATCH, .cpu = last,
                             .first_thread = pthread_self()};
        CHECK(rt_parallel_for(pool, 0, 100, &options, level_body, &check) == RT_OK);
        CHECK(atomic_load(&check.chunks) == 100 && atomic_load(&check.wrong) == 0);
        seen_worker = atomic_load(&check.threads_seen) == 2;
        cpu_set_t after;
        CHECK(sched_getscheduler(0) == policy);
        CHECK(sched_getaffinity(0, sizeof after, &after) == 0 && CPU_EQUAL(&after, &before));
    }
    CHECK(seen_worker); /* the worker ran chunks at the level too */

    level_check plain = {.expect_policy = policy, .cpu = -1, .first_thread = pthread_self()};
    rt_for_options no_level = {.grain = 1};
    for (int round = 0; round < 20; round++)
        CHECK(rt_parallel_for(pool, 0, 100, &no_level, level_body, &plain) == RT_OK);
    CHECK(atomic_load(&plain.wrong) == 0);
    rt_pool_destroy(pool);
    printf("ok a background job's chunks ran SCHED_BATCH on cpu %d on every thread; "
           "the caller was restored\n", last);
}

/* A waiter raises a background thread's level while it runs, then ends it. */
typedef struct override_target {
    atomic_int stage; /* 0 start, 1 at background, 2 overridden seen, 3 ended seen */
    atomic_ullong thread;
    int seen_policy_overridden, seen_policy_after;
} override_target;

static void *override_target_main(void *arg)
{
    override_target *t = arg;
    rt_qos_saved own;
    rt_qos_apply(RT_QOS_BACKGROUND, NULL, &own);
    atomic_store(&t->thread, rt_qos_thread_self());
    atomic_store(&t->stage, 1);
    while (atomic_load(&t->stage) != 2)
        ;
    t->seen_policy_overridden = sched_getscheduler(0);
    atomic_store(&t->stage, 3);
    while (atomic_load(&t->stage) != 4)
        ;
    t->seen_policy_after = sched_getscheduler(0);
    rt_qos_restore(&own);
    return NULL;
}

static void test_override_raises_another_thread(void)
{
    override_target t = {0};
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, override_target_main, &t) == 0);
    while (atomic_load(&t.stage) != 1)
        ;
    rt_qos_saved override;
    int used = rt_qos_override_start(atomic_load(&t.thread), RT_QOS_INTERACTIVE, NULL, &override);
    CHECK(used & RT_QOS_BATCH);
    atomic_store(&t.stage, 2);
    while (atomic_load(&t.stage) != 3)
        ;
    rt_qos_override_end(atomic_load(&t.thread), &override);
    atomic_store(&t.stage, 4);
    pthread_join(thread, NULL);
    CHECK(t.seen_policy_overridden == SCHED_OTHER && t.seen_policy_after == SCHED_BATCH);
    printf("ok an override raised a background thread to SCHED_OTHER and ended\n");
}

/* Tail boost: the caller finishes its piece and has nothing to do but wait
 * for the worker's; the worker is raised onto the boost CPUs meanwhile,
 * and put back when its piece is done. */
typedef struct tail_check {
    int boost_cpu;
    pthread_t caller;
    atomic_int worker_ran_tail, worker_saw_boost;
    atomic_int worker_tid;
} tail_check;

static int only_cpu(int cpu)
{
    cpu_set_t mask;
    return sched_getaffinity(0, sizeof mask, &mask) == 0 && CPU_COUNT(&mask) == 1 &&
           CPU_ISSET(cpu, &mask);
}

static int tail_body(int64_t begin, int64_t end, void *ctx)
{
    (void)end;
    tail_check *c = ctx;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    long wanted_ns = begin == 0 ? 5000000L : 40000000L; /* 5 ms head, 40 ms tail */
    int on_caller = pthread_equal(pthread_self(), c->caller);
    do {
        if (begin == 1 && !on_caller && only_cpu(c->boost_cpu))
            atomic_store(&c->worker_saw_boost, 1);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) <
             wanted_ns);
    if (begin == 1 && !on_caller) {
        atomic_store(&c->worker_ran_tail, 1);
        atomic_store(&c->worker_tid, (int)syscall(SYS_gettid));
    }
    return 0;
}

static void test_tail_boost(void)
{
    rt_pool_config config = {.num_workers = 1, .spin_ns = -1};
    rt_pool *pool;
    CHECK(rt_pool_create(&config, &pool) == 0);
    cpu_set_t all;
    CHECK(sched_getaffinity(0, sizeof all, &all) == 0);
    int first = -1;
    for (int cpu = 0; cpu < CPU_SETSIZE && first < 0; cpu++)
        if (CPU_ISSET(cpu, &all))
            first = cpu;
    rt_cpuset boost = {{0}};
    rt_cpuset_add(&boost, first);
    rt_for_options options = {.grain = 1, .max_chunk = 1, .tail_boost = 1, .boost_cpus = &boost};
    int boosted = 0;
    for (int round = 0; round < 20 && !boosted; round++) {
        tail_check c = {.boost_cpu = first, .caller = pthread_self()};
        CHECK(rt_parallel_for(pool, 0, 2, &options, tail_body, &c) == RT_OK);
        if (!atomic_load(&c.worker_ran_tail))
            continue; /* the worker woke too late to take the tail: again */
        boosted = atomic_load(&c.worker_saw_boost);
        /* The worker ends the boost itself, right after it sets the latch
         * that lets the caller return: wait for it (5 s at most). */
        cpu_set_t after;
        struct timespec began, now;
        clock_gettime(CLOCK_MONOTONIC, &began);
        for (;;) {
            CHECK(sched_getaffinity(atomic_load(&c.worker_tid), sizeof after, &after) == 0);
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (CPU_EQUAL(&after, &all) || now.tv_sec - began.tv_sec > 5)
                break;
            sched_yield();
        }
        CHECK(CPU_EQUAL(&after, &all)); /* the boost ended with the tail */
    }
    rt_pool_stats stats;
    rt_pool_get_stats(pool, &stats);
    CHECK(boosted && stats.boosts > 0);
    /* Background jobs are never boosted. */
    rt_for_options low = options;
    low.has_qos = 1;
    low.qos = RT_QOS_BACKGROUND;
    uint64_t before = stats.boosts;
    for (int round = 0; round < 3; round++) {
        tail_check c = {.boost_cpu = first, .caller = pthread_self()};
        CHECK(rt_parallel_for(pool, 0, 2, &low, tail_body, &c) == RT_OK);
    }
    rt_pool_get_stats(pool, &stats);
    CHECK(stats.boosts == before);
    rt_pool_destroy(pool);
    printf("ok tail boost: the waiting caller raised the worker onto cpu %d, and it ended\n",
           first);
}
#endif

static void test_round_trips(void)
{
    /* After a restore the thread is as before: applying the same level
     * again changes exactly what the first apply changed. */
    for (int level = 0; level < RT_QOS_LEVELS; level++) {
        rt_qos_saved saved;
        int first = rt_qos_apply((rt_qos_level)level, NULL, &saved);
        rt_qos_restore(&saved);
        int second = rt_qos_apply((rt_qos_level)level, NULL, &saved);
        rt_qos_restore(&saved);
        CHECK(first == second);
    }
    printf("ok apply/restore round trips on %s\n", rt_qos_platform());
}

int main(void)
{
    rt_test_watchdog(60);
#if defined(__linux__)
    test_linux_levels();
    test_pool_runs_jobs_at_their_level();
    test_override_raises_another_thread();
    test_tail_boost();
#endif
    test_round_trips();
    printf("all qos tests passed\n");
    return 0;
}
