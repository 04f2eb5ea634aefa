/* A cache of large output buffers, for NumPy's memory-handler interface.
 *
 * A call that splits writes its output into a freshly allocated array; the
 * kernel gives fresh pages zeroed, on first touch, so a parallel a * b + c
 * on 1e7 doubles spent ~5 ms of its ~20 ms faulting in its 80 MB output
 * (1.5x NumPy instead of 2.0x with the output's pages already mapped).  A
 * program that computes such arrays in a loop frees one as it makes the
 * next: blocks freed here are kept (up to a budget) and handed out again
 * for the next output of the same size, already mapped.  Only arrays
 * allocated while runtime's handler is current (its outputs) come here.
 * No Python: the binding (runtime/_outputs.pyx) wraps these for NumPy. */
#ifndef RUNTIME_OUTPUT_CACHE_H
#define RUNTIME_OUTPUT_CACHE_H

#include <stddef.h>

/* Blocks smaller than this are plain malloc/free: cheap to fault in, and
 * NumPy's own small-block cache serves them. */
#define RT_OUTPUT_CACHE_MIN_BYTES ((size_t)4 << 20)

void *rt_output_malloc(void *ctx, size_t size);
void *rt_output_calloc(void *ctx, size_t count, size_t item_size);
void *rt_output_realloc(void *ctx, void *ptr, size_t size);
void rt_output_free(void *ctx, void *ptr, size_t size);

/* At most this many bytes are kept (0: none; blocks above it are freed). */
void rt_output_cache_set_budget(size_t bytes);
size_t rt_output_cache_held(void);
/* Frees every kept block. */
void rt_output_cache_clear(void);
/* In a forked child: the lock may have been held by a thread that does not
 * exist there; the kept blocks are the child's copies and stay. */
void rt_output_cache_after_fork_child(void);

#endif
