/* Per-thread quality of service: one small interface, one implementation
 * per platform.  qos_linux.c (affinity, SCHED_BATCH, util-clamp, nice where
 * it can be undone), qos_darwin.c (QoS classes), qos_none.c (elsewhere:
 * nothing, and says so).  Each file compiles to nothing off its platform.
 *
 * Everything acts on the calling thread and is undone by rt_qos_restore:
 * an unprivileged thread can raise its nice but not lower it back, and
 * cannot leave SCHED_IDLE, so neither is used where it could not be undone.
 */
#ifndef RT_QOS_H
#define RT_QOS_H

#include <stdint.h>

/* Levels, mirroring macOS's QoS classes; higher is more urgent. */
typedef enum rt_qos_level {
    RT_QOS_BACKGROUND = 0,  /* nobody waits: efficiency cores, lowest priority */
    RT_QOS_UTILITY = 1,     /* long-running, user-visible progress */
    RT_QOS_INITIATED = 2,   /* the default: a caller waits for the result */
    RT_QOS_INTERACTIVE = 3, /* waited for right now: performance cores first */
} rt_qos_level;
#define RT_QOS_LEVELS 4

/* A set of CPU ids (up to 1024); empty means "leave the affinity alone". */
#define RT_CPUSET_WORDS 16
typedef struct rt_cpuset {
    uint64_t bits[RT_CPUSET_WORDS];
} rt_cpuset;

static inline void rt_cpuset_add(rt_cpuset *set, int cpu)
{
    if (cpu >= 0 && cpu < 64 * RT_CPUSET_WORDS)
        set->bits[cpu / 64] |= (uint64_t)1 << (cpu % 64);
}

static inline int rt_cpuset_has(const rt_cpuset *set, int cpu)
{
    return cpu >= 0 && cpu < 64 * RT_CPUSET_WORDS && ((set->bits[cpu / 64] >> (cpu % 64)) & 1);
}

static inline int rt_cpuset_empty(const rt_cpuset *set)
{
    for (int i = 0; i < RT_CPUSET_WORDS; i++)
        if (set->bits[i])
            return 0;
    return 1;
}

/* Mechanisms, as bits: what rt_qos_apply used, what this system offers. */
enum {
    RT_QOS_AFFINITY = 1,     /* Linux: sched_setaffinity on the thread */
    RT_QOS_BATCH = 2,        /* Linux: SCHED_BATCH for utility/background */
    RT_QOS_UCLAMP = 4,       /* Linux: util-clamp through sched_setattr */
    RT_QOS_NICE = 8,         /* Linux: a higher nice, only where it can be undone */
    RT_QOS_DARWIN_CLASS = 16 /* macOS: pthread_set_qos_class_self_np */
};

/* What rt_qos_apply changed on the calling thread, to undo exactly that. */
typedef struct rt_qos_saved {
    int changed; /* RT_QOS_* bits */
    int policy;
    int nice;
    uint32_t uclamp_min, uclamp_max;
    unsigned int darwin_class;
    void *darwin_override; /* pthread_override_t of an override */
    rt_cpuset affinity;
} rt_qos_saved;

/* Put the calling thread at `level`, confined to `cpus` (NULL or empty:
 * affinity unchanged).  Returns the mechanisms that took effect. */
int rt_qos_apply(rt_qos_level level, const rt_cpuset *cpus, rt_qos_saved *saved);

/* Undo what rt_qos_apply recorded in *saved, on the same thread. */
void rt_qos_restore(const rt_qos_saved *saved);

/* The calling thread's whole setting, for rt_qos_restore on another thread
 * (the pool's workers start from their creator's setting: a new thread
 * inherits affinity, policy and nice from the thread that made it, which
 * may have been at a job's level then). */
void rt_qos_capture(rt_qos_saved *out);

/* Raising another thread while it runs work someone now waits for (the
 * waiter override of GCD).  `thread` is rt_qos_thread_self() of that
 * thread; every override started must be ended (the work's thread may end
 * it).  Linux: the level's affinity, policy, util-clamp and nice on that
 * thread (a nice that cannot be lowered is left); macOS:
 * pthread_override_qos_class_start_np / _end_np. */
uint64_t rt_qos_thread_self(void);
int rt_qos_override_start(uint64_t thread, rt_qos_level level, const rt_cpuset *cpus,
                          rt_qos_saved *saved);
void rt_qos_override_end(uint64_t thread, rt_qos_saved *saved);

/* Mechanisms this system offers, probed once. */
int rt_qos_available(void);

/* "linux", "darwin" or "none". */
const char *rt_qos_platform(void);

/* Why a mechanism is missing, or NULL when it is available. */
const char *rt_qos_unavailable_reason(int mechanism);

#endif
