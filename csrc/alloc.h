/* The C core's allocation seam: every malloc, aligned_alloc and free of
 * deque.c, injector.c, trace.c and pool.c goes through these three, so
 * that the tests can make the Nth allocation fail and walk each ENOMEM
 * path (csrc/tests/test_alloc.c).
 *
 * Production builds (setup.py, `make bench`) do not define RT_TESTING:
 * the functions are then static inline aliases of the C library's, so the
 * seam costs nothing and adds no symbol, no global and no source file to
 * the extension.  The test builds of csrc/Makefile define RT_TESTING and
 * link tests/alloc_testing.c, which counts allocations and fails the one
 * that rt_alloc_fail_after picks.  (A counter compiled in always would
 * put an atomic read-modify-write on every allocation of the real build,
 * and a global into the extension, for the tests' sake.)
 */
#ifndef RT_ALLOC_H
#define RT_ALLOC_H

#include <stddef.h>
#include <stdlib.h>

#ifdef RT_TESTING

#include <stdatomic.h>

void *rt_malloc(size_t size);
void *rt_aligned_alloc(size_t alignment, size_t size);
void rt_free(void *p);

/* -1 (the default): no allocation fails.  n >= 0: the next n allocations
 * (rt_malloc and rt_aligned_alloc, on any thread) succeed, the one after
 * fails, and the counter is back at -1: one failure per arming. */
extern _Atomic long rt_alloc_fail_after;
/* Allocations attempted and failures injected since the program started. */
extern _Atomic long rt_alloc_count;
extern _Atomic long rt_alloc_failures;
/* When set, the next allocation takes it (back to NULL) and calls it, on
 * the allocating thread, before it allocates: a test can then act between
 * what a function checked and what it posts (a resize between
 * rt_pool_submit's look at the workers and its append). */
typedef void (*rt_alloc_hook_fn)(void);
extern _Atomic(rt_alloc_hook_fn) rt_alloc_hook;

#else

static inline void *rt_malloc(size_t size) { return malloc(size); }
static inline void *rt_aligned_alloc(size_t alignment, size_t size)
{
    return aligned_alloc(alignment, size);
}
static inline void rt_free(void *p) { free(p); }

#endif /* RT_TESTING */

#endif /* RT_ALLOC_H */
