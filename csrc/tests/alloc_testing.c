/* The test side of the allocation seam (../alloc.h): linked into every C
 * test build, which defines RT_TESTING.  Never part of the extension. */
#ifndef RT_TESTING
#error "alloc_testing.c is for test builds (-DRT_TESTING) only"
#endif
#include "../alloc.h"

#include <stdbool.h>
#include <stdlib.h>

_Atomic long rt_alloc_fail_after = -1;
_Atomic long rt_alloc_count = 0;
_Atomic long rt_alloc_failures = 0;
_Atomic(rt_alloc_hook_fn) rt_alloc_hook = NULL;

/* Runs a pending hook, counts the allocation; true if it is the one to
 * fail. */
static bool fail_this_one(void)
{
    rt_alloc_hook_fn hook = atomic_exchange(&rt_alloc_hook, NULL);
    if (hook != NULL)
        hook();
    atomic_fetch_add(&rt_alloc_count, 1);
    long n = atomic_load(&rt_alloc_fail_after);
    while (n >= 0) {
        /* n > 0: one fewer to go; n == 0: this one fails, and the counter
         * goes back to -1 (disarmed). */
        if (atomic_compare_exchange_weak(&rt_alloc_fail_after, &n, n - 1)) {
            if (n == 0) {
                atomic_fetch_add(&rt_alloc_failures, 1);
                return true;
            }
            return false;
        }
    }
    return false;
}

void *rt_malloc(size_t size) { return fail_this_one() ? NULL : malloc(size); }

void *rt_aligned_alloc(size_t alignment, size_t size)
{
    return fail_this_one() ? NULL : aligned_alloc(alignment, size);
}

void rt_free(void *p) { free(p); }
