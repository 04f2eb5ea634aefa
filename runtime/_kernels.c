/* Native kernels shipped with runtime for the demo, the benchmarks and
 * the tests: each is a plain C function of the signature
 * runtime.parallel_for runs, void kernel(int64_t begin, int64_t end,
 * void *ctx).  No Python here. */
#include <stdint.h>

#include "_kernels.h"

void rt_kernel_noop(int64_t begin, int64_t end, void *ctx)
{
    (void)begin;
    (void)end;
    (void)ctx;
}

/* out[i] = i, for checking that every index runs exactly once. */
void rt_kernel_iota(int64_t begin, int64_t end, void *ctx)
{
    double *out = ctx;
    for (int64_t i = begin; i < end; i++)
        out[i] += (double)i;
}

/* Index i costs i * ctx->scale steps of a dependent chain (no SIMD, no
 * memory traffic): a triangle of work, the worst case for a static split,
 * which leaves the first half's thread idle for 3/4 of the time. */
void rt_kernel_skewed(int64_t begin, int64_t end, void *ctx)
{
    rt_skewed_ctx *c = ctx;
    for (int64_t i = begin; i < end; i++) {
        double x = (double)i;
        int64_t steps = i * c->scale;
        for (int64_t k = 0; k < steps; k++)
            x = x * 0.999999 + 1.0;
        c->out[i] = x;
    }
}

/* parts[l] = sum of x over leaf l (leaf elements each): a memory-bound
 * reduction in plain C, to measure what the memory system allows. */
void rt_kernel_sum(int64_t begin, int64_t end, void *ctx)
{
    const rt_sum_ctx *c = ctx;
    for (int64_t l = begin; l < end; l++) {
        const double *p = c->x + l * c->leaf;
        double s[8] = {0};
        int64_t i = 0;
        for (; i + 8 <= c->leaf; i += 8)
            for (int k = 0; k < 8; k++)
                s[k] += p[i + k];
        for (; i < c->leaf; i++)
            s[0] += p[i];
        c->parts[l] = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    }
}
