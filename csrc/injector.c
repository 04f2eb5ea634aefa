#include "injector.h"

#include <errno.h>
#include <stdlib.h>

#include "alloc.h"

int rt_injector_init(rt_injector *q)
{
    q->capacity = 16;
    q->items = rt_malloc((size_t)q->capacity * sizeof q->items[0]);
    if (q->items == NULL)
        return ENOMEM;
    q->head = 0;
    atomic_init(&q->size, 0);
    int rc = pthread_mutex_init(&q->mutex, NULL);
    if (rc != 0)
        rt_free(q->items);
    return rc;
}

void rt_injector_destroy(rt_injector *q)
{
    pthread_mutex_destroy(&q->mutex);
    rt_free(q->items);
    q->items = NULL;
}

int rt_injector_push(rt_injector *q, rt_task *task)
{
    pthread_mutex_lock(&q->mutex);
    int64_t size = atomic_load_explicit(&q->size, memory_order_relaxed);
    if (size == q->capacity) {
        rt_task **items = rt_malloc((size_t)q->capacity * 2 * sizeof items[0]);
        if (items == NULL) {
            pthread_mutex_unlock(&q->mutex);
            return ENOMEM;
        }
        for (int64_t i = 0; i < size; i++)
            items[i] = q->items[(q->head + i) % q->capacity];
        rt_free(q->items);
        q->items = items;
        q->head = 0;
        q->capacity *= 2;
    }
    q->items[(q->head + size) % q->capacity] = task;
    /* Release: see rt_injector_is_empty. */
    atomic_store_explicit(&q->size, size + 1, memory_order_release);
    pthread_mutex_unlock(&q->mutex);
    return 0;
}

rt_task *rt_injector_pop(rt_injector *q)
{
    if (rt_injector_is_empty(q))
        return NULL;
    pthread_mutex_lock(&q->mutex);
    rt_task *task = NULL;
    int64_t size = atomic_load_explicit(&q->size, memory_order_relaxed);
    if (size > 0) {
        task = q->items[q->head];
        q->head = (q->head + 1) % q->capacity;
        atomic_store_explicit(&q->size, size - 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&q->mutex);
    return task;
}
