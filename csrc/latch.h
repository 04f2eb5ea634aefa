/* A one-shot latch that one owner thread waits on and any thread sets.
 *
 * The owner may block while waiting (see sleep.c): before it does, it
 * moves the latch from UNSET to SLEEPING.  The setter exchanges the state
 * to SET and, if it read SLEEPING, must wake the owner.  Both are
 * read-modify-writes of one location, so they are totally ordered: either
 * the owner's CAS sees SET and it does not block, or the setter's
 * exchange sees SLEEPING and it wakes the owner.  No wake-up is lost.
 *
 * Memory ordering: set is a release and probe an acquire, so everything
 * the setter wrote before setting (a stolen task's results) is visible to
 * the owner once it sees SET.
 */
#ifndef RT_LATCH_H
#define RT_LATCH_H

#include <stdbool.h>

#include "atomics.h"

enum { RT_LATCH_UNSET = 0, RT_LATCH_SLEEPING = 1, RT_LATCH_SET = 2 };

typedef struct rt_latch {
    _Atomic int state;
} rt_latch;

static inline void rt_latch_init(rt_latch *l) { atomic_init(&l->state, RT_LATCH_UNSET); }

static inline bool rt_latch_probe(rt_latch *l)
{
    return atomic_load_explicit(&l->state, memory_order_acquire) == RT_LATCH_SET;
}

/* Returns true when the owner may be blocked and must be woken.  The
 * caller must read everything it needs from the latch's surroundings
 * before calling: once SET is visible the owner may return and free the
 * memory the latch lives in. */
static inline bool rt_latch_set(rt_latch *l)
{
    return atomic_exchange_explicit(&l->state, RT_LATCH_SET, memory_order_acq_rel) ==
           RT_LATCH_SLEEPING;
}

/* Owner only, under its sleep mutex: announce that it is about to block.
 * False when the latch is already set (do not block). */
static inline bool rt_latch_fall_asleep(rt_latch *l)
{
    int expected = RT_LATCH_UNSET;
    return atomic_compare_exchange_strong_explicit(&l->state, &expected, RT_LATCH_SLEEPING,
                                                   memory_order_acq_rel, memory_order_acquire);
}

/* Owner only, after waking or deciding not to block. */
static inline void rt_latch_wake_up(rt_latch *l)
{
    int expected = RT_LATCH_SLEEPING;
    atomic_compare_exchange_strong_explicit(&l->state, &expected, RT_LATCH_UNSET,
                                            memory_order_acq_rel, memory_order_acquire);
}

#endif /* RT_LATCH_H */
