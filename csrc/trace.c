/* Tracing rings (trace.h): allocation, the calling thread's id and CPU. */
#if !defined(__APPLE__)
#define _GNU_SOURCE /* sched_getcpu, SYS_gettid */
#endif
#include "trace.h"

#include <stdlib.h>
#include <time.h>

#include "alloc.h"

#if defined(__linux__)
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>
#elif defined(__APPLE__)
#include <pthread.h>
#endif

static _Thread_local int32_t cached_tid;

int32_t rt_trace_tid(void)
{
    if (cached_tid == 0) {
#if defined(__linux__)
        cached_tid = (int32_t)syscall(SYS_gettid);
#elif defined(__APPLE__)
        /* The system-wide thread id (Python's threading.get_native_id());
         * small in practice, truncated to the event's 32 bits. */
        uint64_t id = 0;
        pthread_threadid_np(NULL, &id);
        cached_tid = (int32_t)id;
#else
        /* No OS id: a number of our own, unique within the process. */
        static _Atomic int32_t next = 1;
        cached_tid = -atomic_fetch_add(&next, 1);
#endif
    }
    return cached_tid;
}

int16_t rt_trace_cpu(void)
{
#if defined(__linux__)
    return (int16_t)sched_getcpu(); /* a vDSO call: tens of ns */
#else
    return -1; /* macOS has no public "which CPU am I on" */
#endif
}

int64_t rt_trace_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

rt_trace_event *rt_trace_ring_next(rt_trace_ring *ring, uint32_t epoch, int64_t capacity)
{
    if (atomic_load_explicit(&ring->epoch, memory_order_relaxed) != epoch) {
        /* A new trace: the reader of the old one has finished (traces are
         * started and stopped one at a time), so the ring is ours alone. */
        if (ring->capacity != capacity) {
            rt_free(ring->events);
            ring->events = NULL;
            /* Checked: (size_t)capacity * 48 wraps for huge capacities and
             * would allocate a small buffer that the ring then overruns.  A
             * size that does not fit is treated as no memory (all dropped). */
            if (capacity > 0 && (uint64_t)capacity <= SIZE_MAX / sizeof *ring->events)
                ring->events = rt_malloc((size_t)capacity * sizeof *ring->events);
            ring->capacity = ring->events != NULL ? capacity : 0;
        }
        atomic_store_explicit(&ring->count, 0, memory_order_relaxed);
        atomic_store_explicit(&ring->dropped, 0, memory_order_relaxed);
        /* Release: a reader that sees this epoch sees the reset ring. */
        atomic_store_explicit(&ring->epoch, epoch, memory_order_release);
    }
    int64_t count = atomic_load_explicit(&ring->count, memory_order_relaxed);
    if (count >= ring->capacity) {
        atomic_store_explicit(&ring->dropped,
                              atomic_load_explicit(&ring->dropped, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        return NULL;
    }
    return &ring->events[count];
}

int64_t rt_trace_ring_read(rt_trace_ring *ring, uint32_t epoch, rt_trace_event *out, int64_t max,
                           int64_t *dropped)
{
    if (atomic_load_explicit(&ring->epoch, memory_order_acquire) != epoch)
        return 0; /* nothing recorded in this trace */
    int64_t count = atomic_load_explicit(&ring->count, memory_order_acquire);
    if (count > max)
        count = max;
    for (int64_t i = 0; i < count; i++)
        out[i] = ring->events[i];
    *dropped += atomic_load_explicit(&ring->dropped, memory_order_relaxed);
    return count;
}

void rt_trace_ring_free(rt_trace_ring *ring)
{
    rt_free(ring->events);
    ring->events = NULL;
    ring->capacity = 0;
}
