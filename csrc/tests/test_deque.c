/* The Chase–Lev deque (deque.h) on its own:
 *   - order: the owner pops LIFO, thieves steal FIFO; empty is empty;
 *   - capacities round up to a power of two; growth from 2, with the live
 *     range wrapped around the buffer, keeps every entry and its order;
 *   - growth while thieves steal: rounds of a fresh deque of capacity 2,
 *     the owner pushing bursts and popping, two thieves stealing, every
 *     entry taken exactly once;
 *   - the last-element race: one entry, the owner pops while two thieves
 *     steal, many times; exactly one of them gets it;
 *   - tagged steals: an entry below the thief's min_tag stays put.
 * Run by `make test`, and under ThreadSanitizer and ASan + UBSan by
 * `make sanitize`. */
#define _POSIX_C_SOURCE 200809L
#include "../deque.h"
#include "../task.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "watchdog.h"

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

#define NTHIEVES 2

/* Entries are pointers into this array; the deque never dereferences them. */
#define NITEMS 4096
static rt_task items[NITEMS];

static int index_of(rt_task *t)
{
    uintptr_t p = (uintptr_t)t & ~RT_DEQUE_TAG_MASK;
    CHECK(p >= (uintptr_t)&items[0] && p <= (uintptr_t)&items[NITEMS - 1]);
    return (int)(((rt_task *)p) - items);
}

static int64_t capacity_of(rt_deque *d)
{
    return atomic_load(&d->buffer)->capacity;
}

/* Busy waits spin briefly, then yield: the tests run more threads than the
 * 2-CPU machines they run on have cores. */
static void backoff(int *spins)
{
    if (++*spins < 1024)
        rt_cpu_relax();
    else
        sched_yield();
}

/* Zeroed memory aligned for an rt_deque (cache-line aligned fields). */
static void *zalloc_aligned(size_t size)
{
    size = (size + RT_CACHE_LINE - 1) / RT_CACHE_LINE * RT_CACHE_LINE;
    void *p = aligned_alloc(RT_CACHE_LINE, size);
    CHECK(p != NULL);
    memset(p, 0, size);
    return p;
}

static rt_task *steal_one(rt_deque *d, uintptr_t min_tag)
{
    rt_task *t = NULL;
    rt_steal_result r = rt_deque_steal(d, min_tag, &t);
    /* Single-threaded: nobody to lose a race to. */
    CHECK(r != RT_STEAL_RETRY);
    return r == RT_STEAL_SUCCESS ? t : NULL;
}

/* ---- order ------------------------------------------------------------- */

static void test_order(void)
{
    rt_deque d;
    CHECK(rt_deque_init(&d, 16) == 0);
    CHECK(rt_deque_pop(&d) == NULL);
    CHECK(steal_one(&d, 0) == NULL);
    CHECK(rt_deque_size_hint(&d) == 0);
    for (int i = 0; i < 10; i++)
        CHECK(rt_deque_push(&d, &items[i]));
    CHECK(rt_deque_size_hint(&d) == 10);
    /* The owner takes the newest, thieves the oldest. */
    CHECK(rt_deque_pop(&d) == &items[9]);
    CHECK(rt_deque_pop(&d) == &items[8]);
    CHECK(steal_one(&d, 0) == &items[0]);
    CHECK(steal_one(&d, 0) == &items[1]);
    CHECK(rt_deque_size_hint(&d) == 6);
    CHECK(rt_deque_push(&d, &items[10]));
    CHECK(rt_deque_pop(&d) == &items[10]);
    CHECK(steal_one(&d, 0) == &items[2]);
    for (int i = 7; i >= 4; i--)
        CHECK(rt_deque_pop(&d) == &items[i]);
    /* The last one, taken by pop (the t == b path) ... */
    CHECK(rt_deque_pop(&d) == &items[3]);
    CHECK(rt_deque_pop(&d) == NULL);
    CHECK(steal_one(&d, 0) == NULL);
    /* ... and by a steal, after which pop finds the deque empty. */
    CHECK(rt_deque_push(&d, &items[11]));
    CHECK(steal_one(&d, 0) == &items[11]);
    CHECK(rt_deque_pop(&d) == NULL);
    CHECK(rt_deque_size_hint(&d) == 0);
    rt_deque_destroy(&d);
    CHECK(atomic_load(&d.buffer) == NULL);
    printf("ok order: pop LIFO, steal FIFO, empty after the last one either way\n");
}

/* ---- capacity and growth, one thread ----------------------------------- */

static void test_growth_single_thread(void)
{
    const int64_t asked[] = {-5, 0, 1, 2, 3, 16, 17, 64};
    const int64_t got[] = {1, 1, 1, 2, 4, 16, 32, 64};
    for (size_t i = 0; i < sizeof asked / sizeof asked[0]; i++) {
        rt_deque d;
        CHECK(rt_deque_init(&d, asked[i]) == 0);
        CHECK(capacity_of(&d) == got[i]);
        rt_deque_destroy(&d);
    }

    /* From 2: the live range wraps around the buffer before every growth
     * (steals move top, so index i sits at slot i mod capacity). */
    rt_deque d;
    CHECK(rt_deque_init(&d, 2) == 0);
    int next_push = 0, next_steal = 0;
    for (int round = 0; round < 8; round++) {
        int64_t cap = capacity_of(&d);
        /* Fill to capacity, then one more: that push grows the buffer. */
        while (rt_deque_size_hint(&d) < cap)
            CHECK(rt_deque_push(&d, &items[next_push++]));
        CHECK(capacity_of(&d) == cap);
        CHECK(rt_deque_push(&d, &items[next_push++]));
        CHECK(capacity_of(&d) == 2 * cap);
        /* Steal half, so top moves and the next fill wraps around. */
        for (int64_t k = 0; k < cap / 2 + 1; k++)
            CHECK(steal_one(&d, 0) == &items[next_steal++]);
    }
    CHECK(capacity_of(&d) == 512);
    int previous = 0;
    for (rt_deque_buffer *b = atomic_load(&d.buffer)->previous; b != NULL; b = b->previous)
        previous++;
    CHECK(previous == 8); /* kept until destroy, for late thieves */
    /* Everything is still there, in order from both ends. */
    int top = next_steal, bottom = next_push - 1;
    while (top <= bottom) {
        CHECK(rt_deque_pop(&d) == &items[bottom--]);
        if (top <= bottom)
            CHECK(steal_one(&d, 0) == &items[top++]);
    }
    CHECK(rt_deque_pop(&d) == NULL);
    rt_deque_destroy(&d);
    printf("ok growth from capacity 2 to 512 with the live range wrapped: order kept\n");
}

/* ---- growth while thieves steal ---------------------------------------- */

typedef struct shared {
    rt_deque deque;
    _Atomic int round;    /* the round the thieves work on; -1: quit */
    _Atomic int finished; /* the last round whose owner is done */
    _Atomic int started;  /* thieves that saw the current round */
    _Atomic int acks;     /* thieves done with the current round */
    _Atomic int taken[NITEMS];
    _Atomic long stolen, retries;
} shared;

static void take(shared *s, rt_task *t)
{
    atomic_fetch_add_explicit(&s->taken[index_of(t)], 1, memory_order_relaxed);
}

static void *grow_thief(void *arg)
{
    shared *s = arg;
    int done = 0; /* rounds this thief finished */
    for (;;) {
        int r, spins = 0;
        while ((r = atomic_load(&s->round)) == done)
            backoff(&spins);
        if (r < 0)
            return NULL;
        atomic_fetch_add(&s->started, 1);
        spins = 0;
        for (;;) {
            rt_task *t;
            rt_steal_result res = rt_deque_steal(&s->deque, 0, &t);
            if (res == RT_STEAL_SUCCESS) {
                spins = 0;
                take(s, t);
                atomic_fetch_add_explicit(&s->stolen, 1, memory_order_relaxed);
            } else if (res == RT_STEAL_RETRY) {
                atomic_fetch_add_explicit(&s->retries, 1, memory_order_relaxed);
            } else if (atomic_load(&s->finished) == r) {
                break; /* the owner emptied the deque: nothing can appear */
            } else {
                backoff(&spins);
            }
        }
        done = r;
        atomic_fetch_add(&s->acks, 1);
    }
}

static void test_growth_while_stealing(void)
{
    const int rounds = SANITIZED ? 150 : 1500;
    const int per_round = 1024;
    shared *s = zalloc_aligned(sizeof *s);
    pthread_t thieves[NTHIEVES];
    for (int i = 0; i < NTHIEVES; i++)
        CHECK(pthread_create(&thieves[i], NULL, grow_thief, s) == 0);
    long grown = 0;
    for (int r = 1; r <= rounds; r++) {
        CHECK(rt_deque_init(&s->deque, 2) == 0);
        atomic_store(&s->round, r); /* publishes the deque */
        /* Start when the thieves are looking, so that they steal while the
         * buffer grows. */
        int spins = 0;
        while (atomic_load(&s->started) < NTHIEVES * r)
            backoff(&spins);
        /* Fill the buffer, and wait until a thief has taken an entry: the
         * thieves are stealing now, while the pushes below grow the buffer
         * again and again. */
        long stolen_before = atomic_load(&s->stolen);
        CHECK(rt_deque_push(&s->deque, &items[0]) && rt_deque_push(&s->deque, &items[1]));
        spins = 0;
        while (atomic_load(&s->stolen) == stolen_before)
            backoff(&spins);
        /* Bursts of pushes (each burst outgrows what is there), a few pops
         * in between: the thieves read slots while the buffer is replaced. */
        int pushed = 2;
        while (pushed < per_round) {
            int burst = 1 + (r * 7 + pushed) % 64;
            for (int k = 0; k < burst && pushed < per_round; k++)
                CHECK(rt_deque_push(&s->deque, &items[pushed++]));
            for (int k = 0; k < burst / 4; k++) {
                rt_task *t = rt_deque_pop(&s->deque);
                if (t != NULL)
                    take(s, t);
            }
        }
        rt_task *t;
        while ((t = rt_deque_pop(&s->deque)) != NULL)
            take(s, t);
        atomic_store(&s->finished, r);
        spins = 0;
        while (atomic_load(&s->acks) < NTHIEVES * r)
            backoff(&spins);
        for (int i = 0; i < per_round; i++) {
            CHECK(atomic_load(&s->taken[i]) == 1);
            atomic_store(&s->taken[i], 0);
        }
        for (rt_deque_buffer *b = atomic_load(&s->deque.buffer); b->previous; b = b->previous)
            grown++;
        rt_deque_destroy(&s->deque);
    }
    atomic_store(&s->round, -1);
    for (int i = 0; i < NTHIEVES; i++)
        pthread_join(thieves[i], NULL);
    CHECK(grown >= rounds); /* every round grew at least once */
    printf("ok growth while %d thieves steal: %d rounds x %d entries, each taken once "
           "(%ld stolen, %ld grows, %ld lost races)\n",
           NTHIEVES, rounds, per_round, atomic_load(&s->stolen), grown,
           atomic_load(&s->retries));
    free(s);
}

/* ---- the last element: pop against steal ------------------------------- */

typedef struct race {
    rt_deque deque;
    _Atomic int go;   /* iteration i starts when go == i + 1; -1: quit */
    _Atomic int done; /* thieves finished with the current iteration */
    _Atomic int winner[NTHIEVES + 1];
    _Atomic int taken_this_round;
    _Atomic long retries;
} race;

typedef struct thief_arg {
    race *r;
    int id;
} thief_arg;

static void *race_thief(void *arg)
{
    thief_arg *a = arg;
    race *r = a->r;
    int seen = 0;
    for (;;) {
        int go, spins = 0;
        while ((go = atomic_load(&r->go)) == seen)
            backoff(&spins);
        if (go < 0)
            return NULL;
        seen = go;
        rt_task *t;
        rt_steal_result res = rt_deque_steal(&r->deque, 0, &t);
        if (res == RT_STEAL_SUCCESS) {
            CHECK(index_of(t) == (go - 1) % NITEMS);
            atomic_fetch_add(&r->taken_this_round, 1);
            atomic_fetch_add(&r->winner[a->id], 1);
        } else if (res == RT_STEAL_RETRY) {
            atomic_fetch_add(&r->retries, 1);
        }
        atomic_fetch_add(&r->done, 1);
    }
}

static void test_last_element_race(void)
{
    const int iterations = SANITIZED ? 10000 : 50000;
    race *r = zalloc_aligned(sizeof *r);
    CHECK(rt_deque_init(&r->deque, 2) == 0);
    pthread_t thieves[NTHIEVES];
    thief_arg args[NTHIEVES];
    for (int i = 0; i < NTHIEVES; i++) {
        args[i] = (thief_arg){r, i + 1};
        CHECK(pthread_create(&thieves[i], NULL, race_thief, &args[i]) == 0);
    }
    for (int i = 0; i < iterations; i++) {
        rt_task *item = &items[i % NITEMS];
        CHECK(rt_deque_push(&r->deque, item));
        atomic_store(&r->go, i + 1);
        /* A varying head start for the thieves, so every order occurs. */
        for (int k = 0; k < (i * 13) % 256; k++)
            rt_cpu_relax();
        rt_task *t = rt_deque_pop(&r->deque);
        if (t != NULL) {
            CHECK(t == item);
            atomic_fetch_add(&r->taken_this_round, 1);
            atomic_fetch_add(&r->winner[0], 1);
        }
        int spins = 0;
        while (atomic_load(&r->done) < NTHIEVES * (i + 1))
            backoff(&spins);
        CHECK(atomic_load(&r->taken_this_round) == 1);
        atomic_store(&r->taken_this_round, 0);
        /* Whoever won, the deque is empty and consistent again. */
        CHECK(rt_deque_size_hint(&r->deque) == 0);
    }
    atomic_store(&r->go, -1);
    for (int i = 0; i < NTHIEVES; i++)
        pthread_join(thieves[i], NULL);
    CHECK(rt_deque_pop(&r->deque) == NULL);
    CHECK(capacity_of(&r->deque) == 2); /* never more than one entry */
    rt_deque_destroy(&r->deque);
    long thief_wins = 0;
    for (int i = 1; i <= NTHIEVES; i++)
        thief_wins += atomic_load(&r->winner[i]);
    printf("ok last element, %d times: taken exactly once each (owner %d, thieves %ld, "
           "%ld lost races)\n",
           iterations, atomic_load(&r->winner[0]), thief_wins, atomic_load(&r->retries));
    free(r);
}

/* ---- tagged steals ------------------------------------------------------ */

static rt_task *tagged(int i, uintptr_t tag) { return (rt_task *)((uintptr_t)&items[i] | tag); }

static void test_tagged_steals(void)
{
    rt_deque d;
    CHECK(rt_deque_init(&d, 2) == 0);
    CHECK(rt_deque_push(&d, tagged(0, 1)));
    CHECK(rt_deque_push(&d, tagged(1, 3)));
    CHECK(rt_deque_push(&d, tagged(2, 0)));
    CHECK(rt_deque_push(&d, tagged(3, 7)));
    /* The top entry has tag 1: a thief with a floor above it gets nothing
     * and leaves it where it is. */
    for (uintptr_t min = 2; min <= 7; min++)
        CHECK(steal_one(&d, min) == NULL);
    CHECK(rt_deque_size_hint(&d) == 4);
    CHECK(steal_one(&d, 1) == tagged(0, 1)); /* the tag comes back with it */
    /* Next, tag 3. */
    CHECK(steal_one(&d, 4) == NULL);
    CHECK(steal_one(&d, 3) == tagged(1, 3));
    /* Tag 0: only min_tag 0 takes it. */
    CHECK(steal_one(&d, 1) == NULL);
    CHECK(steal_one(&d, 0) == tagged(2, 0));
    /* The top tag, 7, passes every floor. */
    CHECK(steal_one(&d, 7) == tagged(3, 7));
    CHECK(steal_one(&d, 0) == NULL);
    /* The owner's pop ignores tags and hands them back. */
    CHECK(rt_deque_push(&d, tagged(4, 2)));
    CHECK(rt_deque_push(&d, tagged(5, 5)));
    CHECK(rt_deque_pop(&d) == tagged(5, 5));
    CHECK(rt_deque_pop(&d) == tagged(4, 2));
    CHECK(rt_deque_pop(&d) == NULL);
    rt_deque_destroy(&d);
    printf("ok tagged steals: entries below min_tag stay, tags come back with the entry\n");
}

int main(void)
{
    rt_test_watchdog(60);
    test_order();
    test_growth_single_thread();
    test_tagged_steals();
    test_growth_while_stealing();
    test_last_element_race();
    printf("all deque tests passed\n");
    return 0;
}
