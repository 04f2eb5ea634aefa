/* QoS elsewhere (neither Linux nor macOS): no mechanism, and it says so. */
#if !defined(__linux__) && !defined(__APPLE__)

#include "qos.h"

#include <string.h>

int rt_qos_available(void)
{
    return 0;
}

const char *rt_qos_unavailable_reason(int mechanism)
{
    (void)mechanism;
    return "no QoS mechanism on this platform";
}

const char *rt_qos_platform(void)
{
    return "none";
}

int rt_qos_apply(rt_qos_level level, const rt_cpuset *cpus, rt_qos_saved *saved)
{
    (void)level;
    (void)cpus;
    memset(saved, 0, sizeof *saved);
    return 0;
}

uint64_t rt_qos_thread_self(void)
{
    return 0;
}

int rt_qos_override_start(uint64_t thread, rt_qos_level level, const rt_cpuset *cpus,
                          rt_qos_saved *saved)
{
    (void)thread;
    (void)level;
    (void)cpus;
    memset(saved, 0, sizeof *saved);
    return 0;
}

void rt_qos_override_end(uint64_t thread, rt_qos_saved *saved)
{
    (void)thread;
    saved->changed = 0;
}

void rt_qos_capture(rt_qos_saved *out)
{
    memset(out, 0, sizeof *out);
}

void rt_qos_restore(const rt_qos_saved *saved)
{
    (void)saved;
}

#else
typedef int rt_qos_none_not_compiled; /* ISO C: a translation unit declares something */
#endif
