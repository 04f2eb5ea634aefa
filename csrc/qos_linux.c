/* Linux QoS: per-thread affinity, SCHED_BATCH, util-clamp and nice.
 *
 *   background  SCHED_BATCH, util-clamp max 256 (if the kernel has it),
 *               nice at least 10 where it can be undone, the caller's CPUs
 *   utility     SCHED_BATCH, util-clamp max 512, nice at least 5 where undoable
 *   initiated   unchanged (SCHED_OTHER), the caller's CPUs
 *   interactive util-clamp min 512 (the scheduler then prefers big cores)
 *
 * An unprivileged thread may raise its nice but lower it again only
 * within RLIMIT_NICE (or with CAP_SYS_NICE), and may not leave SCHED_IDLE:
 * SCHED_IDLE is never used and nice only where the way back is allowed.
 * SCHED_BATCH <-> SCHED_OTHER needs no privilege.  All calls act on the
 * calling thread (pid 0 = this thread for these syscalls).
 */
#if defined(__linux__)
#define _GNU_SOURCE

#include "qos.h"

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* struct sched_attr (include/uapi/linux/sched/types.h), size VER1 = 56. */
struct rt_sched_attr {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime, sched_deadline, sched_period;
    uint32_t sched_util_min, sched_util_max;
};
#define RT_SCHED_FLAG_KEEP_POLICY 0x08
#define RT_SCHED_FLAG_KEEP_PARAMS 0x10
#define RT_SCHED_FLAG_UTIL_CLAMP_MIN 0x20
#define RT_SCHED_FLAG_UTIL_CLAMP_MAX 0x40
#define RT_UCLAMP_FULL 1024

static const uint32_t uclamp_max_for[RT_QOS_LEVELS] = {256, 512, RT_UCLAMP_FULL, RT_UCLAMP_FULL};
static const uint32_t uclamp_min_for[RT_QOS_LEVELS] = {0, 0, 0, 512};
static const int nice_for[RT_QOS_LEVELS] = {10, 5, 0, 0};

static atomic_int probed = -1; /* available mechanisms, -1 until probed */
static char uclamp_reason[128];

static int set_uclamp(pid_t tid, uint32_t min, uint32_t max)
{
    struct rt_sched_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.sched_flags = RT_SCHED_FLAG_KEEP_POLICY | RT_SCHED_FLAG_KEEP_PARAMS |
                       RT_SCHED_FLAG_UTIL_CLAMP_MIN | RT_SCHED_FLAG_UTIL_CLAMP_MAX;
    attr.sched_util_min = min;
    attr.sched_util_max = max;
    return (int)syscall(SYS_sched_setattr, tid, &attr, 0);
}

static int get_uclamp(pid_t tid, uint32_t *min, uint32_t *max)
{
    struct rt_sched_attr attr;
    memset(&attr, 0, sizeof attr);
    if (syscall(SYS_sched_getattr, tid, &attr, sizeof attr, 0) != 0)
        return -1;
    *min = attr.sched_util_min;
    *max = attr.sched_util_max;
    return 0;
}

/* CAP_SYS_NICE (bit 23) in this process's effective capabilities. */
static int has_cap_sys_nice(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return 0;
    char line[256];
    unsigned long long caps = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "CapEff: %llx", &caps) == 1)
            break;
    fclose(f);
    return (caps >> 23) & 1;
}

/* Can this thread go back from nice `raised` to `original`? */
static int nice_undoable(int original)
{
    if (has_cap_sys_nice())
        return 1;
    struct rlimit limit;
    if (getrlimit(RLIMIT_NICE, &limit) != 0)
        return 0;
    if (limit.rlim_cur == RLIM_INFINITY)
        return 1;
    /* RLIMIT_NICE r allows lowering the nice down to 20 - r. */
    return original >= 20 - (int)limit.rlim_cur;
}

static pid_t self_tid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

static int thread_nice(pid_t tid)
{
    errno = 0;
    int value = getpriority(PRIO_PROCESS, (id_t)tid);
    return errno ? 0 : value;
}

int rt_qos_available(void)
{
    int found = atomic_load_explicit(&probed, memory_order_acquire);
    if (found >= 0)
        return found;
    found = RT_QOS_AFFINITY | RT_QOS_BATCH;
    uint32_t min, max;
    if (get_uclamp(0, &min, &max) != 0) {
        snprintf(uclamp_reason, sizeof uclamp_reason, "sched_getattr failed: %s",
                 strerror(errno));
    } else if (set_uclamp(0, min, max) != 0) {
        /* Setting the current values back: fails only where the kernel
         * has no util-clamp (EOPNOTSUPP without CONFIG_UCLAMP_TASK). */
        snprintf(uclamp_reason, sizeof uclamp_reason, "%s",
                 errno == EOPNOTSUPP ? "kernel lacks CONFIG_UCLAMP_TASK" : strerror(errno));
    } else {
        found |= RT_QOS_UCLAMP;
    }
    if (nice_undoable(thread_nice(self_tid())))
        found |= RT_QOS_NICE;
    atomic_store_explicit(&probed, found, memory_order_release);
    return found;
}

const char *rt_qos_unavailable_reason(int mechanism)
{
    int available = rt_qos_available();
    if (available & mechanism)
        return NULL;
    switch (mechanism) {
    case RT_QOS_UCLAMP:
        return uclamp_reason;
    case RT_QOS_NICE:
        return "a raised nice could not be lowered again (no CAP_SYS_NICE, RLIMIT_NICE too low)";
    case RT_QOS_DARWIN_CLASS:
        return "macOS only";
    default:
        return "not offered here";
    }
}

const char *rt_qos_platform(void)
{
    return "linux";
}

/* Set thread `tid` to `level` (see the table above), recording what
 * changed.  nice_floor: only ever raise the nice (a thread's own level);
 * otherwise move it to the level's value either way (an override, which
 * lowers what a lower level raised; refused without the privilege). */
static int set_level(pid_t tid, rt_qos_level level, const rt_cpuset *cpus, rt_qos_saved *saved,
                     int nice_floor)
{
    int available = rt_qos_available();
    memset(saved, 0, sizeof *saved);
    if (level < 0 || level >= RT_QOS_LEVELS)
        level = RT_QOS_INITIATED;
    if (cpus != NULL && !rt_cpuset_empty(cpus)) {
        cpu_set_t old, wanted;
        CPU_ZERO(&wanted);
        for (int cpu = 0; cpu < 64 * RT_CPUSET_WORDS && cpu < CPU_SETSIZE; cpu++)
            if (rt_cpuset_has(cpus, cpu))
                CPU_SET(cpu, &wanted);
        if (sched_getaffinity(tid, sizeof old, &old) == 0 && !CPU_EQUAL(&old, &wanted) &&
            sched_setaffinity(tid, sizeof wanted, &wanted) == 0) {
            for (int cpu = 0; cpu < CPU_SETSIZE && cpu < 64 * RT_CPUSET_WORDS; cpu++)
                if (CPU_ISSET(cpu, &old))
                    rt_cpuset_add(&saved->affinity, cpu);
            saved->changed |= RT_QOS_AFFINITY;
        }
    }
    int policy = sched_getscheduler(tid);
    int wanted_policy = level <= RT_QOS_UTILITY ? SCHED_BATCH : SCHED_OTHER;
    if ((policy == SCHED_OTHER || policy == SCHED_BATCH) && policy != wanted_policy) {
        struct sched_param param = {0};
        if (sched_setscheduler(tid, wanted_policy, &param) == 0) {
            saved->policy = policy;
            saved->changed |= RT_QOS_BATCH;
        }
    }
    if (available & RT_QOS_UCLAMP) {
        uint32_t min, max;
        if (get_uclamp(tid, &min, &max) == 0 &&
            (min != uclamp_min_for[level] || max != uclamp_max_for[level]) &&
            set_uclamp(tid, uclamp_min_for[level], uclamp_max_for[level]) == 0) {
            saved->uclamp_min = min;
            saved->uclamp_max = max;
            saved->changed |= RT_QOS_UCLAMP;
        }
    }
    /* As a floor, nice is only raised: applying a level twice (a caller
     * already at it, then its job) leaves the same nice. */
    int original = thread_nice(tid);
    int wanted_nice = nice_floor && original > nice_for[level] ? original : nice_for[level];
    if (original != wanted_nice && (wanted_nice < original || nice_undoable(original)) &&
        setpriority(PRIO_PROCESS, (id_t)tid, wanted_nice) == 0) {
        saved->nice = original;
        saved->changed |= RT_QOS_NICE;
    }
    return saved->changed;
}

static void restore_level(pid_t tid, const rt_qos_saved *saved)
{
    if (saved->changed & RT_QOS_NICE)
        setpriority(PRIO_PROCESS, (id_t)tid, saved->nice);
    if (saved->changed & RT_QOS_UCLAMP)
        set_uclamp(tid, saved->uclamp_min, saved->uclamp_max);
    if (saved->changed & RT_QOS_BATCH) {
        struct sched_param param = {0};
        sched_setscheduler(tid, saved->policy, &param);
    }
    if (saved->changed & RT_QOS_AFFINITY) {
        cpu_set_t old;
        CPU_ZERO(&old);
        for (int cpu = 0; cpu < CPU_SETSIZE && cpu < 64 * RT_CPUSET_WORDS; cpu++)
            if (rt_cpuset_has(&saved->affinity, cpu))
                CPU_SET(cpu, &old);
        sched_setaffinity(tid, sizeof old, &old);
    }
}

int rt_qos_apply(rt_qos_level level, const rt_cpuset *cpus, rt_qos_saved *saved)
{
    return set_level(0, level, cpus, saved, 1);
}

void rt_qos_restore(const rt_qos_saved *saved)
{
    restore_level(0, saved);
}

uint64_t rt_qos_thread_self(void)
{
    return (uint64_t)self_tid();
}

int rt_qos_override_start(uint64_t thread, rt_qos_level level, const rt_cpuset *cpus,
                          rt_qos_saved *saved)
{
    return set_level((pid_t)thread, level, cpus, saved, 0);
}

void rt_qos_override_end(uint64_t thread, rt_qos_saved *saved)
{
    restore_level((pid_t)thread, saved);
    saved->changed = 0;
}

void rt_qos_capture(rt_qos_saved *out)
{
    memset(out, 0, sizeof *out);
    cpu_set_t mask;
    if (sched_getaffinity(0, sizeof mask, &mask) == 0) {
        for (int cpu = 0; cpu < CPU_SETSIZE && cpu < 64 * RT_CPUSET_WORDS; cpu++)
            if (CPU_ISSET(cpu, &mask))
                rt_cpuset_add(&out->affinity, cpu);
        out->changed |= RT_QOS_AFFINITY;
    }
    int policy = sched_getscheduler(0);
    if (policy == SCHED_OTHER || policy == SCHED_BATCH) {
        out->policy = policy;
        out->changed |= RT_QOS_BATCH;
    }
    out->nice = thread_nice(self_tid());
    out->changed |= RT_QOS_NICE;
    if ((rt_qos_available() & RT_QOS_UCLAMP) &&
        get_uclamp(0, &out->uclamp_min, &out->uclamp_max) == 0)
        out->changed |= RT_QOS_UCLAMP;
}

#endif /* __linux__ */
#if !defined(__linux__)
typedef int rt_qos_linux_not_compiled; /* ISO C: a translation unit declares something */
#endif
