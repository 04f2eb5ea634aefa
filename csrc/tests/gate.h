/* A gate that holds threads until it is opened (C tests). */
#ifndef RT_TEST_GATE_H
#define RT_TEST_GATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

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

#endif
