/* Range splitting (partition.h) at the edges of int64_t: a grain or a range
 * near INT64_MAX must neither overflow (undefined behaviour; run under UBSan
 * by `make asan`) nor break the bounds: no piece below grain. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../partition.h"
#include "check.h"

/* Splits [lo, hi) as a job would (left halves first, every decision not
 * migrated) until no piece splits; checks every leaf against the grain. */
static int64_t leaves(const rt_partition *p, int64_t lo, int64_t hi, rt_splitter s, int depth)
{
    int64_t mid;
    CHECK(depth < 200);
    if (!rt_partition_split(p, &s, lo, hi, false, &mid)) {
        CHECK(hi - lo >= p->grain);
        return 1;
    }
    CHECK(lo < mid && mid < hi && mid - lo >= p->grain && hi - mid >= p->grain);
    return leaves(p, lo, mid, s, depth + 1) + leaves(p, mid, hi, s, depth + 1);
}

int main(void)
{
    const int64_t half = (int64_t)1 << 62;
    const int64_t grains[] = {1, 1000, half - 1, half, half + 1, INT64_MAX};
    for (size_t i = 0; i < sizeof grains / sizeof grains[0]; i++) {
        /* max_chunk = grain (as grain= sets it) only for the huge grains:
         * for small ones it would split the range into 2^63 / grain leaves. */
        int64_t max_chunk = grains[i] > 1000 ? grains[i] : 0;
        rt_partition p = {.grain = grains[i], .max_chunk = max_chunk, .align = 1, .nthreads = 4};
        int64_t n = leaves(&p, 0, INT64_MAX, rt_splitter_root(&p), 0);
        /* A grain above half the range leaves it whole. */
        CHECK(grains[i] > INT64_MAX / 2 ? n == 1 : n >= 2);
    }
    rt_partition aligned = {.grain = half, .max_chunk = 0, .align = 64, .nthreads = 2};
    CHECK(leaves(&aligned, 0, INT64_MAX, rt_splitter_root(&aligned), 0) == 1);
    printf("ok ranges and grains up to INT64_MAX split without overflow\n");
    return 0;
}
