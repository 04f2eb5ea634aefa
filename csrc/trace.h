/* Tracing: what the pool's threads did, event by event, into bounded
 * per-thread rings.
 *
 * Each participant of a pool owns one ring; only the thread in that slot
 * writes it (a caller slot is held by one thread at a time).  A reader
 * copies the events a writer has published (the count, store-release
 * after the event is written), so it never sees a half-written event,
 * while tracing goes on or after it stopped.  A full ring drops new
 * events and counts them: never a crash, never an unbounded buffer.
 *
 * Not tracing costs one relaxed load of the pool's switch per record
 * site (a chunk, a steal, a park, a QoS change).
 *
 * Nothing here knows Python; runtime/_trace.py turns events into Chrome
 * Trace Event JSON.
 */
#ifndef RT_TRACE_H
#define RT_TRACE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "qos.h"

/* Event types.  Spans have begin < end (or equal); instants begin == end. */
enum {
    RT_TRACE_TASK = 1,  /* a chunk [lo, hi) of job `job` (span) */
    RT_TRACE_JOB = 2,   /* a whole job on its caller, [lo, hi) its range (span) */
    RT_TRACE_STEAL = 3, /* took a task from slot `lo`'s deque (instant) */
    RT_TRACE_PARK = 4,  /* blocked until woken (span: park .. unpark) */
    RT_TRACE_QOS = 5,   /* this thread's level set to `level` (-1: its own
                           setting back); lo: CPUs (bits 0-63, 0: affinity
                           unchanged), hi: mechanisms (RT_QOS_* bits) */
    RT_TRACE_BOOST = 6, /* raised thread `lo` (tid) to `level` on CPUs `hi`
                           (bits 0-63): a tail boost or a waiter override */
    RT_TRACE_BOOST_END = 7, /* the boost of thread `lo` ended (instant) */
    RT_TRACE_SUBMITTED = 8, /* ran a submitted function (span) */
};

typedef struct rt_trace_event {
    int64_t begin_ns, end_ns; /* CLOCK_MONOTONIC */
    int64_t lo, hi;           /* see the types */
    uint32_t job;             /* job id (0: none) */
    int32_t tid;              /* the recorder (Linux: gettid; macOS: pthread_threadid_np) */
    int16_t cpu, cpu_end;     /* CPU at begin and at end (-1: unknown) */
    uint8_t type;
    int8_t level; /* QoS level the thread ran at (-1: its own setting) */
    uint16_t slot; /* pool slot: worker w is w, caller k is RT_MAX_WORKERS + k */
} rt_trace_event;
/* runtime/_trace.py decodes events with a NumPy dtype of this layout. */
_Static_assert(sizeof(rt_trace_event) == 48, "rt_trace_event is 48 bytes, no padding");

/* The most events a ring may hold (per thread): 2^24 events, 768 MiB.  A
 * bound well below what 48 * capacity overflows at, so a ring's size in
 * bytes is always representable; rt_pool_trace_start refuses more. */
#define RT_TRACE_MAX_CAPACITY ((int64_t)1 << 24)

typedef struct rt_trace_ring {
    rt_trace_event *events;
    int64_t capacity;
    _Atomic int64_t count;   /* events published */
    _Atomic int64_t dropped; /* events lost to a full ring (or no memory) */
    _Atomic uint32_t epoch;  /* the trace these events belong to (0: none) */
} rt_trace_ring;

/* A thread-local cache: the calling thread's OS id, and the CPU it is on
 * now (-1 where the OS cannot say). */
int32_t rt_trace_tid(void);
int16_t rt_trace_cpu(void);
int64_t rt_trace_now_ns(void);

/* The next free event of `ring` for trace `epoch`, resetting a ring left
 * from an earlier trace (allocating `capacity` events), or NULL when it
 * is full or memory ran out (counted as dropped).  Only the ring's owner
 * calls it; publish the event with rt_trace_ring_publish. */
rt_trace_event *rt_trace_ring_next(rt_trace_ring *ring, uint32_t epoch, int64_t capacity);

static inline void rt_trace_ring_publish(rt_trace_ring *ring)
{
    int64_t count = atomic_load_explicit(&ring->count, memory_order_relaxed);
    atomic_store_explicit(&ring->count, count + 1, memory_order_release);
}

/* Copies up to `max` published events of trace `epoch` into out; returns
 * how many, and adds the ring's dropped count to *dropped. */
int64_t rt_trace_ring_read(rt_trace_ring *ring, uint32_t epoch, rt_trace_event *out, int64_t max,
                           int64_t *dropped);

void rt_trace_ring_free(rt_trace_ring *ring);

/* The low 64 CPUs of a set, as a bit mask (0 for NULL or empty). */
static inline int64_t rt_trace_cpu_bits(const rt_cpuset *cpus)
{
    return cpus != NULL ? (int64_t)cpus->bits[0] : 0;
}

#endif /* RT_TRACE_H */
