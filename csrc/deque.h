/* Chase–Lev work-stealing deque (Lê, Pop, Cohen, Zappa Nardelli,
 * "Correct and Efficient Work-Stealing for Weak Memory Models",
 * PPoPP 2013).
 *
 * One owner thread pushes and pops at the bottom (LIFO: the most recently
 * split, smallest and cache-warm piece of work runs next); any thread
 * steals from the top (FIFO: the oldest, largest piece goes to the thief,
 * so one steal moves a lot of work).
 *
 * Contract: rt_deque_push and rt_deque_pop are called only by the owner;
 * rt_deque_steal by anyone.  A task pointer handed out by pop or steal is
 * handed out exactly once.
 */
#ifndef RT_DEQUE_H
#define RT_DEQUE_H

#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>

#include "atomics.h"

struct rt_task;

typedef struct rt_deque_buffer {
    int64_t capacity; /* a power of two */
    /* Replaced buffers stay allocated until rt_deque_destroy: a thief that
     * loaded the old pointer may still read a slot from it. */
    struct rt_deque_buffer *previous;
    _Atomic(struct rt_task *) slots[];
} rt_deque_buffer;

typedef struct rt_deque {
    /* top is CASed by thieves, bottom written by the owner: separate lines
     * so the owner's pushes do not bounce the thieves' line. */
    alignas(RT_CACHE_LINE) _Atomic int64_t top;
    alignas(RT_CACHE_LINE) _Atomic int64_t bottom;
    _Atomic(rt_deque_buffer *) buffer;
} rt_deque;

typedef enum rt_steal_result {
    RT_STEAL_EMPTY = 0,
    RT_STEAL_SUCCESS = 1,
    RT_STEAL_RETRY = 2, /* lost a race with another thief or the owner */
} rt_steal_result;

/* initial_capacity is rounded up to a power of two (at least 1); the
 * buffer doubles when full.  Returns 0, or ENOMEM. */
int rt_deque_init(rt_deque *d, int64_t initial_capacity);
void rt_deque_destroy(rt_deque *d);

/* Owner only.  Returns false only when growing the buffer failed for lack
 * of memory; the task was then not pushed. */
bool rt_deque_push(rt_deque *d, struct rt_task *task);

/* Owner only.  NULL when empty. */
struct rt_task *rt_deque_pop(rt_deque *d);

/* Any thread.  *out is set only on RT_STEAL_SUCCESS.  Entries may carry a
 * tag in their low 3 bits (the pool's tasks are 8-byte aligned; the deque
 * never dereferences them): an entry at the top whose tag is below
 * `min_tag` is left there, and the deque reported empty to this thief
 * (min_tag 0 takes anything). */
rt_steal_result rt_deque_steal(rt_deque *d, uintptr_t min_tag, struct rt_task **out);
#define RT_DEQUE_TAG_MASK ((uintptr_t)7)

/* A racy size estimate (no ordering): for statistics and heuristics only. */
static inline int64_t rt_deque_size_hint(rt_deque *d)
{
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
    int64_t t = atomic_load_explicit(&d->top, memory_order_relaxed);
    return b > t ? b - t : 0;
}

#endif /* RT_DEQUE_H */
