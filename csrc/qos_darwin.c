/* macOS QoS: the thread's QoS class (pthread_set_qos_class_self_np), as
 * Apple documents in <pthread/qos.h>.  The kernel places threads by class:
 * utility and background run on the efficiency cores under the default
 * policy, and Apple Silicon has no thread affinity, so `cpus` is ignored.
 *
 *   background  QOS_CLASS_BACKGROUND
 *   utility     QOS_CLASS_UTILITY
 *   initiated   QOS_CLASS_USER_INITIATED
 *   interactive QOS_CLASS_USER_INTERACTIVE
 *
 * Compiled only on Darwin; not run where this project is developed (the
 * GitHub Actions workflow runs it on a macOS runner).
 */
#if defined(__APPLE__)

#include "qos.h"

#include <pthread.h>
#include <pthread/qos.h>
#include <stdint.h>
#include <string.h>

static const qos_class_t class_for[RT_QOS_LEVELS] = {
    QOS_CLASS_BACKGROUND, QOS_CLASS_UTILITY, QOS_CLASS_USER_INITIATED,
    QOS_CLASS_USER_INTERACTIVE};

int rt_qos_available(void)
{
    return RT_QOS_DARWIN_CLASS;
}

const char *rt_qos_unavailable_reason(int mechanism)
{
    if (mechanism == RT_QOS_DARWIN_CLASS)
        return NULL;
    if (mechanism == RT_QOS_AFFINITY)
        return "macOS has no thread affinity on Apple Silicon; QoS classes place threads";
    return "Linux only";
}

const char *rt_qos_platform(void)
{
    return "darwin";
}

int rt_qos_apply(rt_qos_level level, const rt_cpuset *cpus, rt_qos_saved *saved)
{
    (void)cpus;
    memset(saved, 0, sizeof *saved);
    if (level < 0 || level >= RT_QOS_LEVELS)
        level = RT_QOS_INITIATED;
    qos_class_t current = qos_class_self();
    if (current == class_for[level])
        return 0;
    if (pthread_set_qos_class_self_np(class_for[level], 0) == 0) {
        saved->darwin_class = (unsigned int)current;
        saved->changed = RT_QOS_DARWIN_CLASS;
    }
    return saved->changed;
}

uint64_t rt_qos_thread_self(void)
{
    return (uint64_t)(uintptr_t)pthread_self();
}

int rt_qos_override_start(uint64_t thread, rt_qos_level level, const rt_cpuset *cpus,
                          rt_qos_saved *saved)
{
    (void)cpus;
    memset(saved, 0, sizeof *saved);
    if (level < 0 || level >= RT_QOS_LEVELS)
        level = RT_QOS_INITIATED;
    pthread_override_t override =
        pthread_override_qos_class_start_np((pthread_t)(uintptr_t)thread, class_for[level], 0);
    if (override == NULL)
        return 0;
    saved->darwin_override = override;
    saved->changed = RT_QOS_DARWIN_CLASS;
    return saved->changed;
}

void rt_qos_override_end(uint64_t thread, rt_qos_saved *saved)
{
    (void)thread;
    if (saved->darwin_override != NULL)
        pthread_override_qos_class_end_np((pthread_override_t)saved->darwin_override);
    saved->darwin_override = NULL;
    saved->changed = 0;
}

void rt_qos_capture(rt_qos_saved *out)
{
    memset(out, 0, sizeof *out);
    out->darwin_class = (unsigned int)qos_class_self();
    out->changed = RT_QOS_DARWIN_CLASS;
}

void rt_qos_restore(const rt_qos_saved *saved)
{
    if (!(saved->changed & RT_QOS_DARWIN_CLASS))
        return;
    qos_class_t previous = (qos_class_t)saved->darwin_class;
    /* A thread that never set a class reports QOS_CLASS_UNSPECIFIED, which
     * cannot be set again: QOS_CLASS_DEFAULT is what it ran at. */
    if (previous == QOS_CLASS_UNSPECIFIED)
        previous = QOS_CLASS_DEFAULT;
    pthread_set_qos_class_self_np(previous, 0);
}

#else
typedef int rt_qos_darwin_not_compiled; /* ISO C: a translation unit declares something */
#endif
