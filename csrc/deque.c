/* Chase–Lev deque; see deque.h.  The orderings follow Lê et al. (2013),
 * figure 1; each is justified where it is used.  Indices are signed so
 * that bottom - top of an empty deque (-1 during a pop) never underflows. */
#include "deque.h"

#include <errno.h>
#include <stdlib.h>

#include "alloc.h"

static rt_deque_buffer *buffer_new(int64_t capacity)
{
    rt_deque_buffer *b = rt_malloc(sizeof *b + (size_t)capacity * sizeof b->slots[0]);
    if (b == NULL)
        return NULL;
    b->capacity = capacity;
    b->previous = NULL;
    for (int64_t i = 0; i < capacity; i++)
        atomic_init(&b->slots[i], NULL);
    return b;
}

static inline struct rt_task *slot_load(rt_deque_buffer *b, int64_t i)
{
    /* Relaxed: the slot was published by the release fence (or release
     * store) before the bottom store that made index i visible. */
    return atomic_load_explicit(&b->slots[i & (b->capacity - 1)], memory_order_relaxed);
}

static inline void slot_store(rt_deque_buffer *b, int64_t i, struct rt_task *t)
{
    /* Relaxed: slots are atomics only so that a late thief reading a slot
     * the owner rewrites is not a data race; the CAS on top then fails and
     * the thief discards what it read. */
    atomic_store_explicit(&b->slots[i & (b->capacity - 1)], t, memory_order_relaxed);
}

int rt_deque_init(rt_deque *d, int64_t initial_capacity)
{
    /* No floor beyond 1: the pool asks for 64, and the tests ask for 2 so
     * that growth happens, while thieves read, within a few pushes. */
    int64_t capacity = 1;
    while (capacity < initial_capacity)
        capacity *= 2;
    rt_deque_buffer *b = buffer_new(capacity);
    if (b == NULL)
        return ENOMEM;
    atomic_init(&d->top, 0);
    atomic_init(&d->bottom, 0);
    atomic_init(&d->buffer, b);
    return 0;
}

void rt_deque_destroy(rt_deque *d)
{
    rt_deque_buffer *b = atomic_load_explicit(&d->buffer, memory_order_relaxed);
    while (b != NULL) {
        rt_deque_buffer *previous = b->previous;
        rt_free(b);
        b = previous;
    }
    atomic_store_explicit(&d->buffer, NULL, memory_order_relaxed);
}

/* Owner only: copy the live range [top, bottom) into a buffer twice the size. */
static rt_deque_buffer *grow(rt_deque *d, rt_deque_buffer *old, int64_t top, int64_t bottom)
{
    rt_deque_buffer *b = buffer_new(old->capacity * 2);
    if (b == NULL)
        return NULL;
    for (int64_t i = top; i < bottom; i++)
        slot_store(b, i, slot_load(old, i));
    b->previous = old;
    /* Release: a thief that acquires the new pointer also sees the copied
     * slots.  (The release fence in push orders it before the next bottom
     * store as well.) */
    atomic_store_explicit(&d->buffer, b, memory_order_release);
    return b;
}

bool rt_deque_push(rt_deque *d, struct rt_task *task)
{
    /* Relaxed: only the owner writes bottom. */
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
    /* Acquire: pairs with the thieves' CAS on top, so a slot a thief has
     * taken (top moved past it) is not overwritten before it was read. */
    int64_t t = atomic_load_explicit(&d->top, memory_order_acquire);
    rt_deque_buffer *a = atomic_load_explicit(&d->buffer, memory_order_relaxed);
    if (b - t > a->capacity - 1) {
        a = grow(d, a, t, b);
        if (a == NULL)
            return false;
    }
    slot_store(a, b, task);
    /* Release fence: the slot (and everything the owner wrote into the
     * task before pushing it) becomes visible before the new bottom does;
     * a thief's acquire load of bottom pairs with it. */
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&d->bottom, b + 1, RT_FENCED);
    return true;
}

struct rt_task *rt_deque_pop(rt_deque *d)
{
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed) - 1;
    rt_deque_buffer *a = atomic_load_explicit(&d->buffer, memory_order_relaxed);
    atomic_store_explicit(&d->bottom, b, RT_FENCED);
    /* Seq-cst fence: the store of bottom (claiming slot b) and the load of
     * top must not be reordered, or the owner and a thief could both take
     * the last element (the store-buffering case of the paper). */
    atomic_thread_fence(memory_order_seq_cst);
    int64_t t = atomic_load_explicit(&d->top, RT_FENCED);
    if (t > b) {
        /* Empty: restore bottom. */
        atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
        return NULL;
    }
    struct rt_task *task = slot_load(a, b);
    if (t == b) {
        /* The last element: race the thieves for it with the same CAS they
         * use.  Seq-cst so it is ordered with the thieves' fences. */
        if (!atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1, memory_order_seq_cst,
                                                     memory_order_relaxed))
            task = NULL; /* a thief won */
        atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
    }
    return task;
}

rt_steal_result rt_deque_steal(rt_deque *d, uintptr_t min_tag, struct rt_task **out)
{
    /* Acquire: see the slot contents published by earlier owner pops/CASes. */
    int64_t t = atomic_load_explicit(&d->top, memory_order_acquire);
    /* Seq-cst fence: order the load of top before the load of bottom, the
     * counterpart of the fence in pop. */
    atomic_thread_fence(memory_order_seq_cst);
    /* Acquire: pairs with the release fence in push, making the slot and
     * the task it points to visible. */
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_acquire);
    if (t >= b)
        return RT_STEAL_EMPTY;
    /* Acquire (the paper's consume): the buffer pointer may have been
     * replaced by grow; its slots were written before its release store. */
    rt_deque_buffer *a = atomic_load_explicit(&d->buffer, memory_order_acquire);
    struct rt_task *task = slot_load(a, t);
    /* The tag is in the entry itself: reading it dereferences nothing, so
     * an entry another thread takes meanwhile is harmless to look at. */
    if (((uintptr_t)task & RT_DEQUE_TAG_MASK) < min_tag)
        return RT_STEAL_EMPTY;
    /* Seq-cst CAS: claims index t against other thieves and a popping owner. */
    if (!atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1, memory_order_seq_cst,
                                                 memory_order_relaxed))
        return RT_STEAL_RETRY;
    *out = task;
    return RT_STEAL_SUCCESS;
}
