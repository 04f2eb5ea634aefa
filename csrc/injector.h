/* The injector: a FIFO of tasks from threads that are not participants of
 * the pool (fire-and-forget submissions, and callers that found no free
 * caller slot).  Workers look here after their own deque and stealing.
 * A mutex is enough: injection happens once per outside job, not per
 * task. */
#ifndef RT_INJECTOR_H
#define RT_INJECTOR_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "atomics.h"
#include "task.h"

typedef struct rt_injector {
    pthread_mutex_t mutex;
    rt_task **items; /* ring buffer, guarded by mutex */
    int64_t head, capacity;
    _Atomic int64_t size; /* written under mutex, read without it */
} rt_injector;

int rt_injector_init(rt_injector *q);
void rt_injector_destroy(rt_injector *q);
/* Returns 0, or ENOMEM. */
int rt_injector_push(rt_injector *q, rt_task *task);
rt_task *rt_injector_pop(rt_injector *q);

static inline bool rt_injector_is_empty(rt_injector *q)
{
    /* Acquire: pairs with the release store of size in push; a thread
     * that sees size > 0 and then takes the mutex finds the task. */
    return atomic_load_explicit(&q->size, memory_order_acquire) == 0;
}

#endif /* RT_INJECTOR_H */
