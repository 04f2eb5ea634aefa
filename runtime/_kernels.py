"""The native kernels compiled into the extension from runtime/_kernels.c,
with ctypes structs for their contexts: ``sum`` calibrates the scheduler's
native dispatch cost (runtime/_schedule.py) and is the benchmarks' memory
ceiling, ``skewed`` and ``noop`` serve the demo and the benchmarks,
``iota`` the tests.  ``kernel(name)`` is an int address
runtime.parallel_for accepts; wrap it with cffi or ctypes to get a typed
function pointer.

>>> import numpy as np, runtime
>>> out = np.zeros(100)
>>> runtime.parallel_for(len(out), kernel("skewed"), skewed_context(out, 1))
>>> bool(out[-1] > 0)
True
"""

from __future__ import annotations

import ctypes

import numpy as np

from . import _core

KERNEL_TYPE = ctypes.CFUNCTYPE(None, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p)


class SkewedContext(ctypes.Structure):
    _fields_ = [("out", ctypes.POINTER(ctypes.c_double)), ("scale", ctypes.c_int64)]


class SumContext(ctypes.Structure):
    _fields_ = [("x", ctypes.POINTER(ctypes.c_double)),
                ("parts", ctypes.POINTER(ctypes.c_double)), ("leaf", ctypes.c_int64)]


def kernel(name: str) -> int:
    """Address of the kernel `name`: noop, iota, skewed or sum."""
    return _core.KERNELS[name]


def as_ctypes(name: str) -> ctypes._CFuncPtr:
    """The kernel as a typed ctypes function."""
    return KERNEL_TYPE(kernel(name))


def double_pointer(a: np.ndarray) -> ctypes._Pointer:
    if a.dtype != np.float64 or not a.flags.c_contiguous:
        raise ValueError("the kernels take C-contiguous float64 arrays")
    return a.ctypes.data_as(ctypes.POINTER(ctypes.c_double))


def skewed_context(out: np.ndarray, scale: int) -> SkewedContext:
    return SkewedContext(double_pointer(out), scale)


def sum_context(x: np.ndarray, parts: np.ndarray) -> SumContext:
    """Context for the sum kernel: len(parts) leaves of len(x) // len(parts)."""
    return SumContext(double_pointer(x), double_pointer(parts), len(x) // len(parts))
