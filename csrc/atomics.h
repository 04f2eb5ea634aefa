/* Memory-ordering helpers shared by the C core.
 *
 * ThreadSanitizer does not model stand-alone fences
 * (atomic_thread_fence), so code that relies on a fence plus relaxed
 * accesses looks racy to it.  In a TSAN build (RT_TSAN, set by the
 * sanitizer Makefile target) the accesses next to each fence are made
 * seq_cst themselves: stronger than needed, but then TSAN sees every
 * happens-before edge the fences provide and its reports stay honest.
 * In normal builds the fences do the work and the accesses stay cheap.
 */
#ifndef RT_ATOMICS_H
#define RT_ATOMICS_H

#include <stdatomic.h>

#if defined(__SANITIZE_THREAD__)
#define RT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RT_TSAN 1
#endif
#endif

#ifdef RT_TSAN
/* An access that a neighbouring fence orders. */
#define RT_FENCED memory_order_seq_cst
#else
#define RT_FENCED memory_order_relaxed
#endif

/* Separate cache lines for data written by different threads: 128 bytes
 * because adjacent-line prefetch on x86 and Apple M-series pairs lines. */
#define RT_CACHE_LINE 128

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void rt_cpu_relax(void) { _mm_pause(); }
#elif defined(__aarch64__) || defined(__arm__)
static inline void rt_cpu_relax(void) { __asm__ __volatile__("yield"); }
#else
static inline void rt_cpu_relax(void) {}
#endif

#if defined(__GNUC__)
#define RT_LIKELY(x) __builtin_expect(!!(x), 1)
#define RT_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define RT_LIKELY(x) (x)
#define RT_UNLIKELY(x) (x)
#endif

#endif /* RT_ATOMICS_H */
