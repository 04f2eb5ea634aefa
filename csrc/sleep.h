/* When idle threads park and who wakes them.  The protocol and the
 * argument that no wake-up is lost are in SLEEP.md; the step numbers in
 * the comments of sleep.c refer to it. */
#ifndef RT_SLEEP_H
#define RT_SLEEP_H

#include <pthread.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>

#include "atomics.h"
#include "latch.h"

/* The counters word: [ JEC : 32 | inactive : 16 | sleeping : 16 ]. */
#define RT_SLEEP_ONE_SLEEPING ((uint64_t)1)
#define RT_SLEEP_ONE_INACTIVE ((uint64_t)1 << 16)
#define RT_SLEEP_ONE_JEC ((uint64_t)1 << 32)
#define RT_SLEEP_MAX_THREADS 0xffff

typedef struct rt_sleep {
    alignas(RT_CACHE_LINE) _Atomic uint64_t counters;
} rt_sleep;

/* One per thread that may block (workers and callers alike). */
typedef struct rt_sleep_slot {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    bool is_blocked; /* guarded by mutex */
} rt_sleep_slot;

static inline uint32_t rt_sleep_sleeping(uint64_t c) { return (uint32_t)(c & 0xffff); }
static inline uint32_t rt_sleep_inactive(uint64_t c) { return (uint32_t)((c >> 16) & 0xffff); }
static inline uint32_t rt_sleep_jec(uint64_t c) { return (uint32_t)(c >> 32); }

void rt_sleep_init(rt_sleep *s);
int rt_sleep_slot_init(rt_sleep_slot *slot);
void rt_sleep_slot_destroy(rt_sleep_slot *slot);

/* A thread stops finding work (inactive + 1) / finds some again or stops
 * waiting (inactive - 1). */
void rt_sleep_start_looking(rt_sleep *s);
void rt_sleep_stop_looking(rt_sleep *s);

/* Step S1: returns the (odd) jobs event counter to hand to try_block. */
uint32_t rt_sleep_announce_sleepy(rt_sleep *s);

/* Steps S3–S5.  Blocks the calling thread unless new work was announced
 * since `jec` was read, `latch` (may be NULL) is set, or stay_awake(arg)
 * returns true once the thread is registered as sleeping.  timeout_ns > 0
 * bounds the wait (for callers that must poll for interrupts).  `blocks`
 * (may be NULL) counts the times the thread blocked.  Returns true if it
 * blocked, false if it returned at once. */
bool rt_sleep_try_block(rt_sleep *s, rt_sleep_slot *slot, uint32_t jec, rt_latch *latch,
                        bool (*stay_awake)(void *), void *arg, int64_t timeout_ns,
                        _Atomic uint64_t *blocks);

/* Wakes the thread blocked on slot, if it is.  Returns whether it was. */
bool rt_sleep_wake_specific(rt_sleep *s, rt_sleep_slot *slot);

/* Steps P2–P3, after `num_jobs` new tasks were published (P1) into a
 * queue that held `queue_was_empty ? none : some` before.  Returns how many
 * sleeping threads the poster should wake (rayon's new_jobs): with a
 * backlog, one per new task, whoever is awake (the awake ones are already
 * behind on the queue); into an empty queue, only as many as the awake
 * idle threads cannot take. */
uint32_t rt_sleep_new_work(rt_sleep *s, uint32_t num_jobs, bool queue_was_empty);

#endif /* RT_SLEEP_H */
