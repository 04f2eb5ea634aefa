/* See _output_cache.h.  A few slots under one mutex: outputs are big and
 * few, so a linear scan is nothing next to the megabytes each holds. */
#define _GNU_SOURCE
#include "_output_cache.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define SLOTS 8

typedef struct {
    void *ptr;
    size_t size;
} block;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static block kept[SLOTS];  /* kept[0..count) in the order freed, oldest first */
static size_t count;
static size_t held;
static size_t budget;

static void advise_huge_pages(void *ptr, size_t size) {
#ifdef MADV_HUGEPAGE
    /* As NumPy's default allocator does for big arrays: fewer page faults,
     * fewer TLB misses.  From the first page boundary inside the block. */
    uintptr_t start = ((uintptr_t)ptr + 4095) & ~(uintptr_t)4095;
    uintptr_t end = (uintptr_t)ptr + size;
    if (end > start + 4096)
        madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
    (void)ptr;
    (void)size;
#endif
}

static void *take(size_t size) {
    void *found = NULL;
    pthread_mutex_lock(&lock);
    for (size_t i = count; i-- > 0;) {  /* newest first: the warmest in cache */
        if (kept[i].size == size) {
            found = kept[i].ptr;
            held -= size;
            memmove(&kept[i], &kept[i + 1], (count - i - 1) * sizeof(block));
            count--;
            break;
        }
    }
    pthread_mutex_unlock(&lock);
    return found;
}

void *rt_output_malloc(void *ctx, size_t size) {
    (void)ctx;
    if (size < RT_OUTPUT_CACHE_MIN_BYTES)
        return malloc(size ? size : 1);
    void *ptr = take(size);
    if (ptr == NULL) {
        ptr = malloc(size);
        if (ptr != NULL)
            advise_huge_pages(ptr, size);
    }
    return ptr;
}

void *rt_output_calloc(void *ctx, size_t count_, size_t item_size) {
    (void)ctx;
    return calloc(count_ ? count_ : 1, item_size ? item_size : 1);
}

void *rt_output_realloc(void *ctx, void *ptr, size_t size) {
    (void)ctx;
    return realloc(ptr, size ? size : 1);  /* every block here came from malloc */
}

void rt_output_free(void *ctx, void *ptr, size_t size) {
    (void)ctx;
    if (ptr == NULL)
        return;
    if (size >= RT_OUTPUT_CACHE_MIN_BYTES) {
        void *evicted[SLOTS];
        size_t evict = 0;
        int keep = 0;
        pthread_mutex_lock(&lock);
        if (size <= budget) {
            /* Oldest blocks make room for the newest. */
            while (count > 0 && (count == SLOTS || held + size > budget)) {
                evicted[evict++] = kept[0].ptr;
                held -= kept[0].size;
                memmove(&kept[0], &kept[1], (count - 1) * sizeof(block));
                count--;
            }
            kept[count++] = (block){ptr, size};
            held += size;
            keep = 1;
        }
        pthread_mutex_unlock(&lock);
        for (size_t i = 0; i < evict; i++)
            free(evicted[i]);
        if (keep)
            return;
    }
    free(ptr);
}

void rt_output_cache_set_budget(size_t bytes) {
    pthread_mutex_lock(&lock);
    budget = bytes;
    pthread_mutex_unlock(&lock);
    if (held > bytes)  /* read under no lock: a cheap early test only */
        rt_output_cache_clear();
}

size_t rt_output_cache_held(void) {
    pthread_mutex_lock(&lock);
    size_t bytes = held;
    pthread_mutex_unlock(&lock);
    return bytes;
}

void rt_output_cache_clear(void) {
    block all[SLOTS];
    pthread_mutex_lock(&lock);
    size_t n = count;
    memcpy(all, kept, n * sizeof(block));
    count = 0;
    held = 0;
    pthread_mutex_unlock(&lock);
    for (size_t i = 0; i < n; i++)
        free(all[i].ptr);
}

void rt_output_cache_after_fork_child(void) {
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    lock = fresh;
}
