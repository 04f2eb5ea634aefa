# cython: language_level=3
# cython: freethreading_compatible = True
"""Big outputs of split calls, from runtime's output cache.

``empty(shape, dtype)`` is ``np.empty``, with the array's memory from the
cache in runtime/_output_cache.c: NumPy's memory-handler interface (NEP 49)
is switched to runtime's handler for that one allocation, so the array is
an ordinary NumPy array that owns its data, and NumPy hands its memory back
to that handler when the array goes.  Blocks of 4 MiB and more are kept
there (up to the budget) and given to the next output of the same size
already mapped: a loop that makes a new big result each time, dropping the
last, stops paying the kernel's page faults and zeroing for every output.

>>> import numpy as np
>>> from runtime import _outputs
>>> a = _outputs.empty((1 << 20,), np.float64)   # 8 MiB
>>> a.flags.owndata, a.dtype.name
(True, 'float64')
"""

from cpython.pycapsule cimport PyCapsule_New
from libc.string cimport strncpy

import os

import numpy as np

cimport numpy as cnp

cnp.import_array()

cdef extern from "numpy/arrayobject.h":
    ctypedef struct PyDataMemAllocator:
        void *ctx
        void *(*malloc)(void *, size_t) noexcept nogil
        void *(*calloc)(void *, size_t, size_t) noexcept nogil
        void *(*realloc)(void *, void *, size_t) noexcept nogil
        void (*free)(void *, void *, size_t) noexcept nogil

    ctypedef struct PyDataMem_Handler:
        char name[127]
        unsigned char version
        PyDataMemAllocator allocator

    object PyDataMem_SetHandler(object handler)

cdef extern from "_output_cache.h":
    size_t RT_OUTPUT_CACHE_MIN_BYTES
    void *rt_output_malloc(void *ctx, size_t size) noexcept nogil
    void *rt_output_calloc(void *ctx, size_t count, size_t item_size) noexcept nogil
    void *rt_output_realloc(void *ctx, void *ptr, size_t size) noexcept nogil
    void rt_output_free(void *ctx, void *ptr, size_t size) noexcept nogil
    void rt_output_cache_set_budget(size_t bytes) noexcept nogil
    size_t rt_output_cache_held() noexcept nogil
    void rt_output_cache_clear() noexcept nogil
    void rt_output_cache_after_fork_child() noexcept nogil

# Smallest array whose memory comes from the cache.
MIN_BYTES = RT_OUTPUT_CACHE_MIN_BYTES
# Bytes kept at most: a 16th of the machine's memory, at most 512 MiB (six
# 1e7-double outputs; a 1e8-double one, 800 MB, is never kept).
MAX_BUDGET = 512 << 20

cdef PyDataMem_Handler handler
strncpy(handler.name, b"runtime_output_cache", 126)
handler.version = 1
handler.allocator.ctx = NULL
handler.allocator.malloc = rt_output_malloc
handler.allocator.calloc = rt_output_calloc
handler.allocator.realloc = rt_output_realloc
handler.allocator.free = rt_output_free

# NumPy keeps the capsule of the handler that allocated each array (freeing
# goes through it), so this one lives as long as the module.
cdef object _capsule = PyCapsule_New(&handler, b"mem_handler", NULL)


def empty(shape, dtype):
    """``np.empty(shape, dtype)``, its memory from the output cache when it
    is MIN_BYTES or more."""
    before = PyDataMem_SetHandler(_capsule)
    try:
        return np.empty(shape, dtype)
    finally:
        PyDataMem_SetHandler(before)


def set_budget(size_t nbytes):
    """Keep at most `nbytes` of freed outputs (0: keep none; kept blocks
    beyond the new budget are freed)."""
    rt_output_cache_set_budget(nbytes)


def held():
    """Bytes of freed outputs kept now."""
    return rt_output_cache_held()


def clear():
    """Free every kept block."""
    rt_output_cache_clear()


def default_budget():
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        memory = 0
    return min(MAX_BUDGET, memory // 16) if memory > 0 else 0


def _after_fork_child():
    rt_output_cache_after_fork_child()


set_budget(default_budget())
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_child)
