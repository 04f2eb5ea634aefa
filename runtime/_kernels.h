/* Demo kernels (see _kernels.c) and the context structs they take. */
#ifndef RT_KERNELS_H
#define RT_KERNELS_H

#include <stdint.h>

typedef struct rt_skewed_ctx {
    double *out;
    int64_t scale;
} rt_skewed_ctx;

typedef struct rt_sum_ctx {
    const double *x;
    double *parts;
    int64_t leaf;
} rt_sum_ctx;

void rt_kernel_noop(int64_t begin, int64_t end, void *ctx);
void rt_kernel_iota(int64_t begin, int64_t end, void *ctx);
void rt_kernel_skewed(int64_t begin, int64_t end, void *ctx);
void rt_kernel_sum(int64_t begin, int64_t end, void *ctx);

#endif /* RT_KERNELS_H */
