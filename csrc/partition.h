/* Range splitting: when to cut a range in two and where.
 *
 * Adaptive (rayon's Splitter, TBB's auto_partitioner): a job starts with
 * about two leaves per thread; a piece that was stolen is allowed to split
 * again as many times as there are threads.  A thread that keeps finding
 * work in its own deque never splits further than needed, and a fast core
 * that runs out steals and splits the remainder, so faster cores simply
 * process more of the range.
 *
 * Two bounds override the adaptive count: no piece is split below
 * `grain` elements (per-task overhead stays small relative to the work),
 * and every piece above `max_chunk` elements is split (keeps a chunk's
 * temporaries in cache; max_chunk = 1 gives one task per item).  grain
 * wins when they conflict.  Split points are multiples of `align` so every
 * chunk of an array starts on the same alignment as the array itself.
 */
#ifndef RT_PARTITION_H
#define RT_PARTITION_H

#include <stdbool.h>
#include <stdint.h>

typedef struct rt_partition {
    int64_t grain;     /* >= 1 */
    int64_t max_chunk; /* 0: no upper bound */
    int64_t align;     /* >= 1 */
    int32_t nthreads;  /* >= 1: threads that may work on the job */
} rt_partition;

typedef struct rt_splitter {
    int32_t splits; /* remaining halvings before a piece becomes a leaf */
} rt_splitter;

static inline rt_splitter rt_splitter_root(const rt_partition *p)
{
    rt_splitter s = {p->nthreads};
    return s;
}

/* Decides whether [lo, hi) is split.  `migrated` is true for the first
 * decision on a piece that was stolen.  On true, *mid is the split point
 * (lo < mid < hi) and *s has been updated for both halves. */
static inline bool rt_partition_split(const rt_partition *p, rt_splitter *s, int64_t lo,
                                      int64_t hi, bool migrated, int64_t *mid)
{
    int64_t len = hi - lo;
    /* len < 2 * grain, without the overflow of 2 * grain above 2^62. */
    if (len / 2 < p->grain)
        return false;
    int64_t m = lo + len / 2;
    if (p->align > 1) {
        int64_t down = m - m % p->align;
        m = down > lo ? down : down + p->align;
    }
    if (m - lo < p->grain || hi - m < p->grain)
        return false;

    bool forced = p->max_chunk > 0 && len > p->max_chunk;
    if (migrated) {
        int32_t half = s->splits / 2;
        s->splits = half > p->nthreads ? half : p->nthreads;
    } else if (s->splits > 0) {
        s->splits /= 2;
    } else if (!forced) {
        return false;
    }
    *mid = m;
    return true;
}

#endif /* RT_PARTITION_H */
