/* A bound on every C test: a hang (a lost wake-up, a deadlock) fails the
 * run with a message and an abort (core dump, sanitizer stack) instead of
 * blocking CI.  Call rt_test_watchdog(seconds) first thing in main.
 * Sanitizer builds get four times as long (TSAN slows these tests 5-15x);
 * RT_TEST_TIMEOUT=<seconds> in the environment overrides both. */
#ifndef RT_TEST_WATCHDOG_H
#define RT_TEST_WATCHDOG_H

#if !defined(_POSIX_C_SOURCE) && !defined(_GNU_SOURCE) && !defined(__APPLE__)
#error "define _POSIX_C_SOURCE (sigaction, alarm) before including watchdog.h"
#endif

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void rt_test_watchdog_fired(int sig)
{
    (void)sig;
    static const char msg[] = "\nwatchdog: test timed out (hang?), aborting\n";
    ssize_t ignored = write(2, msg, sizeof msg - 1); /* async-signal-safe */
    (void)ignored;
    abort();
}

static inline void rt_test_watchdog(unsigned seconds)
{
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
    seconds *= 4;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
    seconds *= 4;
#endif
#endif
    /* Line-buffered, so what passed is on record when the alarm aborts. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *env = getenv("RT_TEST_TIMEOUT");
    if (env != NULL && atoi(env) > 0)
        seconds = (unsigned)atoi(env);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = rt_test_watchdog_fired;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    alarm(seconds);
}

#endif
