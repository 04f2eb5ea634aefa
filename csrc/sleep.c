/* The park protocol of SLEEP.md.  Step numbers (P1–P3, S1–S5) refer to it. */
#if defined(__APPLE__)
#define _DARWIN_C_SOURCE /* pthread_cond_timedwait_relative_np */
#else
#define _POSIX_C_SOURCE 200809L /* clock_gettime, pthread_condattr_setclock */
#endif
#include "sleep.h"

#include <errno.h>
#include <time.h>

void rt_sleep_init(rt_sleep *s) { atomic_init(&s->counters, 0); }

int rt_sleep_slot_init(rt_sleep_slot *slot)
{
    int rc = pthread_mutex_init(&slot->mutex, NULL);
    if (rc != 0)
        return rc;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
#if !defined(__APPLE__)
    /* Timed waits measure a monotonic clock, immune to wall-clock jumps.
     * (Darwin has no pthread_condattr_setclock; it waits on a relative
     * timeout instead, see try_block.) */
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
#endif
    rc = pthread_cond_init(&slot->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0) {
        pthread_mutex_destroy(&slot->mutex);
        return rc;
    }
    slot->is_blocked = false;
    return 0;
}

void rt_sleep_slot_destroy(rt_sleep_slot *slot)
{
    pthread_cond_destroy(&slot->cond);
    pthread_mutex_destroy(&slot->mutex);
}

/* The inactive count is a heuristic for posters (is someone awake and
 * looking?), never part of the no-lost-wake-up argument, so these RMWs
 * could be relaxed; seq_cst keeps all updates of the word in one order,
 * which the CAS loops below rely on anyway. */
void rt_sleep_start_looking(rt_sleep *s)
{
    atomic_fetch_add_explicit(&s->counters, RT_SLEEP_ONE_INACTIVE, memory_order_seq_cst);
}

void rt_sleep_stop_looking(rt_sleep *s)
{
    atomic_fetch_sub_explicit(&s->counters, RT_SLEEP_ONE_INACTIVE, memory_order_seq_cst);
}

uint32_t rt_sleep_announce_sleepy(rt_sleep *s)
{
    /* S1: make the JEC odd ("someone is getting sleepy") unless it already
     * is.  Seq-cst: this RMW must precede, in the single total order, the
     * final search (S2) that follows it. */
    uint64_t c = atomic_load_explicit(&s->counters, memory_order_seq_cst);
    for (;;) {
        if (rt_sleep_jec(c) & 1)
            return rt_sleep_jec(c);
        if (atomic_compare_exchange_weak_explicit(&s->counters, &c, c + RT_SLEEP_ONE_JEC,
                                                  memory_order_seq_cst, memory_order_seq_cst))
            return rt_sleep_jec(c + RT_SLEEP_ONE_JEC);
    }
}

#if !defined(__APPLE__)
static void deadline_after(struct timespec *ts, int64_t ns)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ns / 1000000000);
    ts->tv_nsec += (long)(ns % 1000000000);
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec += 1;
        ts->tv_nsec -= 1000000000;
    }
}
#endif

static int timed_wait(rt_sleep_slot *slot, int64_t timeout_ns)
{
    struct timespec ts;
#if defined(__APPLE__)
    ts.tv_sec = (time_t)(timeout_ns / 1000000000);
    ts.tv_nsec = (long)(timeout_ns % 1000000000);
    return pthread_cond_timedwait_relative_np(&slot->cond, &slot->mutex, &ts);
#else
    deadline_after(&ts, timeout_ns);
    return pthread_cond_timedwait(&slot->cond, &slot->mutex, &ts);
#endif
}

bool rt_sleep_try_block(rt_sleep *s, rt_sleep_slot *slot, uint32_t jec, rt_latch *latch,
                        bool (*stay_awake)(void *), void *arg, int64_t timeout_ns,
                        _Atomic uint64_t *blocks)
{
    pthread_mutex_lock(&slot->mutex);
    /* S3a: tell the latch's setter that it must wake us (latch.h). */
    if (latch != NULL && !rt_latch_fall_asleep(latch)) {
        pthread_mutex_unlock(&slot->mutex);
        return false;
    }
    /* S3b: register as sleeping, but only if no work was posted since S1:
     * a poster that saw our odd JEC has incremented it (P2). */
    uint64_t c = atomic_load_explicit(&s->counters, memory_order_seq_cst);
    for (;;) {
        if (rt_sleep_jec(c) != jec) {
            if (latch != NULL)
                rt_latch_wake_up(latch);
            pthread_mutex_unlock(&slot->mutex);
            return false;
        }
        if (atomic_compare_exchange_weak_explicit(&s->counters, &c, c + RT_SLEEP_ONE_SLEEPING,
                                                  memory_order_seq_cst, memory_order_seq_cst))
            break;
    }
    /* S4: a last look at conditions that are not announced through the JEC
     * (a stop request, the injector).  Seq-cst fence: the check must not be
     * satisfied from before our registration became visible. */
    atomic_thread_fence(memory_order_seq_cst);
    if (stay_awake != NULL && stay_awake(arg)) {
        atomic_fetch_sub_explicit(&s->counters, RT_SLEEP_ONE_SLEEPING, memory_order_seq_cst);
        if (latch != NULL)
            rt_latch_wake_up(latch);
        pthread_mutex_unlock(&slot->mutex);
        return false;
    }
    /* S5: block.  Whoever clears is_blocked also takes us out of the
     * sleeping count (rt_sleep_wake_specific), so the count never shows a
     * thread that is already awake to posters. */
    slot->is_blocked = true;
    if (blocks != NULL) /* only this thread writes it: no locked increment */
        atomic_store_explicit(blocks, atomic_load_explicit(blocks, memory_order_relaxed) + 1,
                              memory_order_relaxed);
    while (slot->is_blocked) {
        if (timeout_ns > 0) {
            if (timed_wait(slot, timeout_ns) == ETIMEDOUT && slot->is_blocked) {
                slot->is_blocked = false;
                atomic_fetch_sub_explicit(&s->counters, RT_SLEEP_ONE_SLEEPING,
                                          memory_order_seq_cst);
            }
        } else {
            pthread_cond_wait(&slot->cond, &slot->mutex);
        }
    }
    if (latch != NULL)
        rt_latch_wake_up(latch);
    pthread_mutex_unlock(&slot->mutex);
    return true;
}

bool rt_sleep_wake_specific(rt_sleep *s, rt_sleep_slot *slot)
{
    pthread_mutex_lock(&slot->mutex);
    bool was_blocked = slot->is_blocked;
    if (was_blocked) {
        slot->is_blocked = false;
        atomic_fetch_sub_explicit(&s->counters, RT_SLEEP_ONE_SLEEPING, memory_order_seq_cst);
        pthread_cond_signal(&slot->cond);
    }
    pthread_mutex_unlock(&slot->mutex);
    return was_blocked;
}

uint32_t rt_sleep_new_work(rt_sleep *s, uint32_t num_jobs, bool queue_was_empty)
{
    /* P1 happened in the caller (a deque push or injector append).  This
     * fence orders that store before our load of the counters: the
     * store-buffering pair with the seq-cst RMW of S1 and the fence in the
     * thief's search (SLEEP.md, "Why no wake-up is lost"). */
    atomic_thread_fence(memory_order_seq_cst);
    uint64_t c = atomic_load_explicit(&s->counters, memory_order_seq_cst);
    /* P2: if someone is getting sleepy, bump the JEC so its S3b fails. */
    while (rt_sleep_jec(c) & 1) {
        if (atomic_compare_exchange_weak_explicit(&s->counters, &c, c + RT_SLEEP_ONE_JEC,
                                                  memory_order_seq_cst, memory_order_seq_cst)) {
            c += RT_SLEEP_ONE_JEC;
            break;
        }
    }
    /* P3: wake sleepers for what the awake idle threads will not take.
     * Into an empty queue, an awake idle thread will find the task (and
     * if it splits it, its own push wakes the next sleeper).  Onto a
     * backlog, the awake ones are already behind: each new task wakes a
     * sleeper (with one wake per post, six submits to a pool of three
     * parked workers once ran one after another, 0.60 s for 0.20 s). */
    uint32_t sleeping = rt_sleep_sleeping(c);
    if (sleeping == 0)
        return 0;
    uint32_t wanted = num_jobs;
    if (queue_was_empty) {
        uint32_t awake_idle = rt_sleep_inactive(c) - sleeping;
        wanted = awake_idle < num_jobs ? num_jobs - awake_idle : 0;
    }
    return wanted < sleeping ? wanted : sleeping;
}
