/* A gate that holds threads until it is opened (C tests). */
#ifndef RT_TEST_GATE_H
#define RT_TEST_GATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../pool.h"

typedef struct gate {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    bool open;
    _Atomic int waiting;
} gate;

static inline void gate_init(gate *g)
{
    pthread_mutex_init(&g->mutex, NULL);
    pthread_cond_init(&g->cond, NULL);
    g->open = false;
    atomic_init(&g->waiting, 0);
}

static inline void gate_wait(gate *g)
{
    atomic_fetch_add(&g->waiting, 1);
    pthread_mutex_lock(&g->mutex);
    while (!g->open)
        pthread_cond_wait(&g->cond, &g->mutex);
    pthread_mutex_unlock(&g->mutex);
}

static inline void gate_open(gate *g)
{
    pthread_mutex_lock(&g->mutex);
    g->open = true;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->mutex);
}

static inline void gate_destroy(gate *g)
{
    pthread_cond_destroy(&g->cond);
    pthread_mutex_destroy(&g->mutex);
}

/* A caller held inside rt_parallel_for until its gate opens: fills the
 * caller slots (and beyond) for the tests of the 65th caller. */
typedef struct blocked_caller {
    rt_pool *pool;
    gate *g;
    int status;
} blocked_caller;

static inline int gate_body(int64_t lo, int64_t hi, void *ctx)
{
    (void)lo;
    (void)hi;
    gate_wait(ctx);
    return 0;
}

static inline void *blocked_caller_main(void *arg)
{
    blocked_caller *c = arg;
    c->status = rt_parallel_for(c->pool, 0, 1, NULL, gate_body, c->g);
    return NULL;
}

#endif
