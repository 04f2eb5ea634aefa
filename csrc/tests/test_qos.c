/* The QoS mechanisms on the calling thread: each level applied, checked
 * through the OS's own getters, and restored exactly.  Linux checks run
 * here; elsewhere only apply/restore round trips run. */
#define _GNU_SOURCE
#include "../qos.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__linux__)
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                         \
        }                                                                    \
    } while (0)

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
        CHECK(nice_now() == nice + 10);
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
#if defined(__linux__)
    test_linux_levels();
#endif
    test_round_trips();
    printf("all qos tests passed\n");
    return 0;
}
