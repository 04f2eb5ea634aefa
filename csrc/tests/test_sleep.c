/* The park protocol (sleep.c, SLEEP.md) step by step, deterministically:
 * each way rt_sleep_try_block can lose the race and return at once
 *   S3a  the latch is already SET
 *   S3b  work was posted (the JEC moved) since the thread announced
 *   S4   stay_awake() says no (sleeping count undone)
 * the timed wait running out, rt_sleep_new_work's answer for each state of
 * the counters and each kind of post (how many tasks, into an empty queue
 * or onto a backlog), and rt_sleep_wake_specific on a slot that is not
 * blocked and on one that is (a second thread blocks; this one waits until
 * the counters show it registered, which under the slot's mutex means it
 * is blocked or about to, so the wake cannot miss). */
#define _POSIX_C_SOURCE 200809L
#include "../sleep.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "watchdog.h"

static uint64_t counters(uint32_t jec, uint32_t inactive, uint32_t sleeping)
{
    return (uint64_t)jec * RT_SLEEP_ONE_JEC + (uint64_t)inactive * RT_SLEEP_ONE_INACTIVE +
           (uint64_t)sleeping * RT_SLEEP_ONE_SLEEPING;
}

static uint64_t load(rt_sleep *s) { return atomic_load(&s->counters); }

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static int latch_state(rt_latch *l) { return atomic_load(&l->state); }

/* ---- the counters -------------------------------------------------------- */

static void test_counters(void)
{
    rt_sleep s;
    rt_sleep_init(&s);
    CHECK(load(&s) == 0);
    rt_sleep_start_looking(&s);
    rt_sleep_start_looking(&s);
    CHECK(load(&s) == counters(0, 2, 0));
    rt_sleep_stop_looking(&s);
    CHECK(load(&s) == counters(0, 1, 0));
    /* S1 makes the JEC odd, once: a second sleepy thread shares the value. */
    CHECK(rt_sleep_announce_sleepy(&s) == 1);
    CHECK(rt_sleep_announce_sleepy(&s) == 1);
    CHECK(load(&s) == counters(1, 1, 0));
    /* P2 makes it even again; the next announcement moves it on. */
    CHECK(rt_sleep_new_work(&s, 1, true) == 0);
    CHECK(load(&s) == counters(2, 1, 0));
    CHECK(rt_sleep_announce_sleepy(&s) == 3);
    rt_sleep_stop_looking(&s);
    CHECK(load(&s) == counters(3, 0, 0));
    CHECK(rt_sleep_jec(load(&s)) == 3 && rt_sleep_inactive(load(&s)) == 0 &&
          rt_sleep_sleeping(load(&s)) == 0);
    printf("ok counters: looking, sleepy (odd JEC, once), new work (even JEC)\n");
}

static void test_new_work_answers(void)
{
    /* (counters) x (tasks posted, into an empty queue or onto a backlog)
     * -> sleepers to wake, and the JEC after (P2 makes an odd one even). */
    static const struct {
        uint32_t jec, inactive, sleeping;
        uint32_t jobs;
        bool empty;
        uint32_t wake, jec_after;
        const char *what;
    } cases[] = {
        {0, 0, 0, 1, true, 0, 0, "nobody idle: nothing to do"},
        {4, 0, 0, 1, true, 0, 4, "even JEC stays"},
        {3, 0, 0, 1, true, 0, 4, "odd JEC (someone sleepy): bumped to even"},
        {4, 1, 0, 1, true, 0, 4, "one thread looking, awake: it will find the task"},
        {4, 1, 1, 1, true, 1, 4, "one asleep, nobody awake and looking: wake one"},
        {5, 1, 1, 1, true, 1, 6, "one asleep, JEC odd: bump and wake one"},
        {4, 2, 1, 1, true, 0, 4, "one asleep, one awake and looking: it takes the task"},
        {4, 3, 3, 1, true, 1, 4, "all three asleep, one task: wake one (not three)"},
        {4, 3, 3, 5, true, 3, 4, "five tasks, three asleep: all three"},
        {4, 3, 1, 3, true, 1, 4, "three tasks, two awake idle: wake the one asleep"},
        {4, 4, 2, 3, true, 1, 4, "three tasks, two awake idle, two asleep: wake one"},
        {4, 4, 2, 2, true, 0, 4, "two tasks, two awake idle: no wake"},
        {4, 2, 1, 1, false, 1, 4, "onto a backlog: one per task, awake idle or not"},
        {4, 5, 3, 2, false, 2, 4, "two tasks onto a backlog: two"},
        {4, 5, 3, 10, false, 3, 4, "ten onto a backlog: every sleeper, no more"},
        {4, 2, 0, 3, false, 0, 4, "nobody asleep: nothing to wake"},
        {0xfffffffe, 1, 1, 1, true, 1, 0xfffffffe, "near the JEC's wrap"},
        {0xffffffff, 0, 0, 1, true, 0, 0, "odd JEC at its top wraps to 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rt_sleep s;
        rt_sleep_init(&s);
        atomic_store(&s.counters, counters(cases[i].jec, cases[i].inactive, cases[i].sleeping));
        uint32_t wake = rt_sleep_new_work(&s, cases[i].jobs, cases[i].empty);
        uint64_t after = load(&s);
        if (wake != cases[i].wake || rt_sleep_jec(after) != cases[i].jec_after ||
            rt_sleep_inactive(after) != cases[i].inactive ||
            rt_sleep_sleeping(after) != cases[i].sleeping) {
            fprintf(stderr, "new_work case '%s': wake %u, counters %#llx\n", cases[i].what,
                    wake, (unsigned long long)after);
            CHECK(0);
        }
    }
    printf("ok rt_sleep_new_work: %zu states (counters, tasks, empty queue or backlog), each "
           "answered as SLEEP.md says\n",
           sizeof cases / sizeof cases[0]);
}

/* ---- try_block returning at once ---------------------------------------- */

typedef struct probe {
    rt_sleep *s;
    int calls;
    uint64_t seen; /* the counters when stay_awake ran */
    bool answer;
} probe;

static bool stay_awake_probe(void *arg)
{
    probe *p = arg;
    p->calls++;
    p->seen = load(p->s);
    return p->answer;
}

static void test_lose_the_race(void)
{
    rt_sleep s;
    rt_sleep_init(&s);
    rt_sleep_slot slot;
    CHECK(rt_sleep_slot_init(&slot) == 0);
    _Atomic uint64_t blocks = 0;
    probe p = {.s = &s, .answer = false};

    /* S3a: the latch was set before the thread could block. */
    rt_latch latch;
    rt_latch_init(&latch);
    rt_sleep_start_looking(&s);
    uint32_t jec = rt_sleep_announce_sleepy(&s);
    CHECK(!rt_latch_set(&latch)); /* nobody asleep on it */
    CHECK(!rt_sleep_try_block(&s, &slot, jec, &latch, stay_awake_probe, &p, 0, &blocks));
    CHECK(latch_state(&latch) == RT_LATCH_SET);
    CHECK(load(&s) == counters(jec, 1, 0));
    CHECK(p.calls == 0 && atomic_load(&blocks) == 0);
    printf("ok S3a: latch already set: returns false without registering or blocking\n");

    /* S3b: new work was posted between the announcement and the block. */
    rt_latch_init(&latch);
    jec = rt_sleep_announce_sleepy(&s);
    CHECK(rt_sleep_new_work(&s, 1, true) == 0);
    CHECK(rt_sleep_jec(load(&s)) == jec + 1);
    CHECK(!rt_sleep_try_block(&s, &slot, jec, &latch, stay_awake_probe, &p, 0, &blocks));
    CHECK(latch_state(&latch) == RT_LATCH_UNSET); /* SLEEPING was undone */
    CHECK(load(&s) == counters(jec + 1, 1, 0));
    /* Without a latch, the same. */
    CHECK(!rt_sleep_try_block(&s, &slot, jec, NULL, stay_awake_probe, &p, 0, &blocks));
    CHECK(load(&s) == counters(jec + 1, 1, 0));
    CHECK(p.calls == 0 && atomic_load(&blocks) == 0);
    printf("ok S3b: JEC moved since the announcement: returns false, latch reset to UNSET\n");

    /* S4: registered as sleeping, then stay_awake (a stop request, a
     * non-empty injector) says no: the registration is undone. */
    rt_latch_init(&latch);
    jec = rt_sleep_announce_sleepy(&s);
    p.answer = true;
    CHECK(!rt_sleep_try_block(&s, &slot, jec, &latch, stay_awake_probe, &p, 0, &blocks));
    CHECK(p.calls == 1 && p.seen == counters(jec, 1, 1)); /* it was counted then */
    CHECK(load(&s) == counters(jec, 1, 0));
    CHECK(latch_state(&latch) == RT_LATCH_UNSET);
    /* Without a latch, the same. */
    CHECK(!rt_sleep_try_block(&s, &slot, jec, NULL, stay_awake_probe, &p, 0, &blocks));
    CHECK(p.calls == 2 && load(&s) == counters(jec, 1, 0));
    CHECK(atomic_load(&blocks) == 0);
    printf("ok S4: stay_awake true: returns false, sleeping count back to 0\n");

    /* Timeout: nobody wakes the thread; it takes itself out of the count. */
    rt_latch_init(&latch);
    p.answer = false;
    CHECK(rt_sleep_try_block(&s, &slot, jec, &latch, stay_awake_probe, &p, 2000000, &blocks));
    CHECK(p.calls == 3 && p.seen == counters(jec, 1, 1));
    CHECK(load(&s) == counters(jec, 1, 0));
    CHECK(atomic_load(&blocks) == 1);
    CHECK(latch_state(&latch) == RT_LATCH_UNSET);
    CHECK(!slot.is_blocked);
    /* Without a latch, a stay_awake or a block counter. */
    CHECK(rt_sleep_try_block(&s, &slot, jec, NULL, NULL, NULL, 1000000, NULL));
    CHECK(load(&s) == counters(jec, 1, 0));
    /* Just under a second: the deadline's nanoseconds carry into its
     * seconds (unless the clock reads exactly .000000000). */
    CHECK(rt_sleep_try_block(&s, &slot, jec, NULL, NULL, NULL, 999999999, &blocks));
    CHECK(load(&s) == counters(jec, 1, 0) && atomic_load(&blocks) == 2);
    printf("ok timeout: nobody wakes: returns true after the wait, sleeping count 0\n");

    /* Nobody is blocked on the slot: waking it does nothing. */
    CHECK(!rt_sleep_wake_specific(&s, &slot));
    CHECK(load(&s) == counters(jec, 1, 0));
    printf("ok wake_specific on a slot that is not blocked: false, counters untouched\n");
    rt_sleep_slot_destroy(&slot);
}

/* ---- a second thread blocks ----------------------------------------------- */

typedef struct sleeper {
    rt_sleep *s;
    rt_sleep_slot *slot;
    rt_latch *latch;
    int64_t timeout_ns;
    _Atomic uint64_t blocks;
    _Atomic int blocked; /* try_block's result, once it returned; -1 before */
} sleeper;

static void *sleeper_main(void *arg)
{
    sleeper *z = arg;
    rt_sleep_start_looking(z->s);
    uint32_t jec = rt_sleep_announce_sleepy(z->s);
    bool blocked = rt_sleep_try_block(z->s, z->slot, jec, z->latch, NULL, NULL, z->timeout_ns,
                                      &z->blocks);
    rt_sleep_stop_looking(z->s);
    atomic_store(&z->blocked, blocked ? 1 : 0);
    return NULL;
}

/* Starts a sleeper and waits until it is registered as sleeping: from then
 * on it holds its slot's mutex until it waits on the condition variable. */
static void start_sleeper(pthread_t *t, sleeper *z)
{
    atomic_store(&z->blocked, -1);
    uint32_t before = rt_sleep_sleeping(load(z->s));
    CHECK(pthread_create(t, NULL, sleeper_main, z) == 0);
    while (rt_sleep_sleeping(load(z->s)) == before)
        sleep_ms(1);
}

static void test_wake_a_blocked_thread(void)
{
    rt_sleep s;
    rt_sleep_init(&s);
    rt_sleep_slot slot;
    CHECK(rt_sleep_slot_init(&slot) == 0);
    pthread_t t;

    /* P2-P3 then wake_specific, as a poster does: new_work says wake one. */
    sleeper z = {.s = &s, .slot = &slot};
    start_sleeper(&t, &z);
    CHECK(rt_sleep_sleeping(load(&s)) == 1 && rt_sleep_inactive(load(&s)) == 1);
    CHECK(rt_sleep_new_work(&s, 1, true) == 1);
    CHECK(rt_sleep_wake_specific(&s, &slot));
    /* wake_specific took it out of the count at once, before it runs. */
    CHECK(rt_sleep_sleeping(load(&s)) == 0);
    pthread_join(t, NULL);
    CHECK(atomic_load(&z.blocked) == 1 && atomic_load(&z.blocks) == 1);
    CHECK(!rt_sleep_wake_specific(&s, &slot)); /* awake now */
    CHECK(rt_sleep_sleeping(load(&s)) == 0 && rt_sleep_inactive(load(&s)) == 0);
    printf("ok wake_specific on a blocked thread (after new_work said 1): true, it returns\n");

    /* A latch owner: the setter sees SLEEPING and must wake it. */
    rt_latch latch;
    rt_latch_init(&latch);
    sleeper zl = {.s = &s, .slot = &slot, .latch = &latch};
    start_sleeper(&t, &zl);
    CHECK(rt_latch_set(&latch)); /* it was SLEEPING: the setter must wake */
    CHECK(rt_sleep_wake_specific(&s, &slot));
    pthread_join(t, NULL);
    CHECK(atomic_load(&zl.blocked) == 1);
    CHECK(latch_state(&latch) == RT_LATCH_SET && rt_latch_probe(&latch)); /* stays SET */
    printf("ok latch set while its owner sleeps: set says wake, the owner returns, SET stays\n");

    /* A timed wait (a caller polling for interrupts) woken long before its
     * timeout. */
    sleeper zt = {.s = &s, .slot = &slot, .timeout_ns = (int64_t)3600 * 1000000000};
    start_sleeper(&t, &zt);
    CHECK(rt_sleep_wake_specific(&s, &slot));
    pthread_join(t, NULL);
    CHECK(atomic_load(&zt.blocked) == 1);
    CHECK(rt_sleep_sleeping(load(&s)) == 0);
    printf("ok a timed wait woken before its timeout returns (sleeping count 0)\n");
    rt_sleep_slot_destroy(&slot);
}

int main(void)
{
    rt_test_watchdog(60);
    test_counters();
    test_new_work_answers();
    test_lose_the_race();
    test_wake_a_blocked_thread();
    printf("all sleep tests passed\n");
    return 0;
}
