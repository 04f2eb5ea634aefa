/* The injector (injector.h) on its own: FIFO order, pop on empty, growth
 * when the ring is full with its head in the middle (the live entries wrap
 * around the end of the buffer), and two producers against two consumers
 * (every task taken exactly once, each producer's in order; TSAN checks the
 * size/mutex pairing).
 * Allocation failures are in test_alloc.c. */
#define _POSIX_C_SOURCE 200809L
#include "../injector.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "watchdog.h"

#define NITEMS 20000
static rt_task items[NITEMS];

static int64_t size_of(rt_injector *q) { return atomic_load(&q->size); }

static void test_fifo_and_empty(void)
{
    rt_injector q;
    CHECK(rt_injector_init(&q) == 0);
    CHECK(rt_injector_is_empty(&q));
    CHECK(rt_injector_pop(&q) == NULL);
    for (int i = 0; i < 5; i++)
        CHECK(rt_injector_push(&q, &items[i]) == 0);
    CHECK(!rt_injector_is_empty(&q) && size_of(&q) == 5);
    for (int i = 0; i < 3; i++)
        CHECK(rt_injector_pop(&q) == &items[i]);
    CHECK(rt_injector_push(&q, &items[5]) == 0);
    for (int i = 3; i < 6; i++)
        CHECK(rt_injector_pop(&q) == &items[i]);
    CHECK(rt_injector_is_empty(&q));
    CHECK(rt_injector_pop(&q) == NULL);
    CHECK(rt_injector_pop(&q) == NULL);
    rt_injector_destroy(&q);
    CHECK(q.items == NULL);
    printf("ok FIFO order; pop on empty returns NULL\n");
}

static void test_growth_wrapped(void)
{
    rt_injector q;
    CHECK(rt_injector_init(&q) == 0);
    CHECK(q.capacity == 16);
    int next_push = 0, next_pop = 0;
    for (int round = 0; round < 4; round++) {
        int64_t cap = q.capacity;
        /* Move the head to the middle of the ring... */
        for (int k = 0; k < cap / 2 + 3; k++)
            CHECK(rt_injector_push(&q, &items[next_push++]) == 0);
        for (int k = 0; k < cap / 2 + 1; k++)
            CHECK(rt_injector_pop(&q) == &items[next_pop++]);
        CHECK(q.head != 0);
        /* ... fill it (the newest entries wrap around the end) ... */
        while (size_of(&q) < cap)
            CHECK(rt_injector_push(&q, &items[next_push++]) == 0);
        CHECK(q.capacity == cap);
        CHECK((q.head + size_of(&q) - 1) % cap < q.head); /* wrapped */
        /* ... and push one more: the ring doubles, unwrapped. */
        CHECK(rt_injector_push(&q, &items[next_push++]) == 0);
        CHECK(q.capacity == 2 * cap && q.head == 0 && size_of(&q) == cap + 1);
        /* Half out, in order, so the next round starts part-full. */
        for (int64_t k = 0; k < cap / 2; k++)
            CHECK(rt_injector_pop(&q) == &items[next_pop++]);
    }
    CHECK(q.capacity == 256);
    while (next_pop < next_push)
        CHECK(rt_injector_pop(&q) == &items[next_pop++]);
    CHECK(rt_injector_pop(&q) == NULL);
    rt_injector_destroy(&q);
    printf("ok growth with the head in the middle, 16 -> 256: FIFO order kept (%d tasks)\n",
           next_push);
}

typedef struct mpmc {
    rt_injector q;
    _Atomic int taken[NITEMS];
    _Atomic int consumed;
    _Atomic long empty_pops;
} mpmc;

typedef struct producer_arg {
    mpmc *m;
    int first, count;
} producer_arg;

static void *producer(void *arg)
{
    producer_arg *a = arg;
    for (int i = a->first; i < a->first + a->count; i++) {
        CHECK(rt_injector_push(&a->m->q, &items[i]) == 0);
        if (i % 64 == 0)
            sched_yield();
    }
    return NULL;
}

static void *consumer(void *arg)
{
    mpmc *m = arg;
    int spins = 0;
    /* FIFO: what one consumer gets of one producer's tasks is in the order
     * they were pushed. */
    int last_of[2] = {-1, -1};
    while (atomic_load(&m->consumed) < NITEMS) {
        rt_task *t = rt_injector_pop(&m->q);
        if (t == NULL) {
            atomic_fetch_add(&m->empty_pops, 1);
            if (++spins % 64 == 0)
                sched_yield();
            continue;
        }
        int i = (int)(t - items);
        CHECK(i >= 0 && i < NITEMS);
        int producer_id = i < NITEMS / 2 ? 0 : 1;
        CHECK(i > last_of[producer_id]);
        last_of[producer_id] = i;
        atomic_fetch_add(&m->taken[i], 1);
        atomic_fetch_add(&m->consumed, 1);
    }
    return NULL;
}

static void test_two_producers_two_consumers(void)
{
    mpmc *m = calloc(1, sizeof *m);
    CHECK(m != NULL);
    CHECK(rt_injector_init(&m->q) == 0);
    pthread_t threads[4];
    producer_arg args[2] = {{m, 0, NITEMS / 2}, {m, NITEMS / 2, NITEMS / 2}};
    CHECK(pthread_create(&threads[0], NULL, consumer, m) == 0);
    CHECK(pthread_create(&threads[1], NULL, consumer, m) == 0);
    CHECK(pthread_create(&threads[2], NULL, producer, &args[0]) == 0);
    CHECK(pthread_create(&threads[3], NULL, producer, &args[1]) == 0);
    for (int i = 0; i < 4; i++)
        pthread_join(threads[i], NULL);
    for (int i = 0; i < NITEMS; i++)
        CHECK(atomic_load(&m->taken[i]) == 1);
    CHECK(rt_injector_is_empty(&m->q));
    printf("ok 2 producers, 2 consumers: %d tasks each taken once (ring grew to %ld)\n", NITEMS,
           (long)m->q.capacity);
    rt_injector_destroy(&m->q);
    free(m);
}

int main(void)
{
    rt_test_watchdog(60);
    test_fifo_and_empty();
    test_growth_wrapped();
    test_two_producers_two_consumers();
    printf("all injector tests passed\n");
    return 0;
}
