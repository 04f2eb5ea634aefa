"""runtime.parallel_for: Python bodies and native kernels of every kind."""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import runtime
from runtime import _core
from runtime import _kernels as kernels

try:
    import cffi
except ImportError:  # an optional extra, with no build for every interpreter (3.13t)
    cffi = None
needs_cffi = pytest.mark.skipif(cffi is None, reason="cffi is not installed")
ffi = cffi.FFI() if cffi is not None else None
IOTA = kernels.kernel("iota")


def test_python_body_covers_every_index_once(threads):
    hits = np.zeros(100_000, dtype=np.int64)

    def body(start, stop):
        hits[start:stop] += 1

    runtime.parallel_for(len(hits), body)
    assert (hits == 1).all()
    runtime.parallel_for(len(hits), body, grain=1)
    assert (hits == 2).all()
    runtime.parallel_for(0, body)
    assert (hits == 2).all()


def check_iota(run):
    out = np.zeros(50_000)
    run(out)
    assert np.array_equal(out, np.arange(50_000.0))


@pytest.mark.parametrize("grain", [None, 1, 999])
def test_native_kernel_as_int_address(threads, grain):
    check_iota(lambda out: runtime.parallel_for(len(out), IOTA, out.ctypes.data, grain=grain))


@needs_cffi
def test_native_kernel_as_cffi_pointer_with_cffi_context(threads):
    kernel = ffi.cast("void(*)(int64_t, int64_t, void *)", IOTA)
    check_iota(lambda out: runtime.parallel_for(len(out), kernel, ffi.from_buffer(out)))
    typed_ctx = ffi.cast("double *", ffi.from_buffer("double[]", np.zeros(1)))
    kernel2 = ffi.cast("void(*)(long long, int64_t, double *)", IOTA)  # same ABI, typed ctx
    out = np.zeros(10)
    runtime.parallel_for(10, kernel2, ffi.cast("double *", out.ctypes.data))
    assert out[9] == 9.0
    assert typed_ctx is not None


def test_native_kernel_as_ctypes_function_with_ctypes_contexts(threads):
    kernel = kernels.as_ctypes("iota")
    check_iota(lambda out: runtime.parallel_for(len(out), kernel, out))  # ndarray: data pointer
    check_iota(lambda out: runtime.parallel_for(
        len(out), kernel, out.ctypes.data_as(ctypes.POINTER(ctypes.c_double))))
    check_iota(lambda out: runtime.parallel_for(len(out), kernel,
                                                  ctypes.c_void_p(out.ctypes.data)))
    skew_out = np.zeros(300)
    ctx = kernels.skewed_context(skew_out, 1)  # a ctypes Structure: passed by address
    runtime.parallel_for(300, kernel.__class__(kernels.kernel("skewed")), ctx)
    assert skew_out[-1] > 0


class NumbaLikeCFunc:
    """What numba's @cfunc returns: .address and .ctypes."""

    def __init__(self, address: int, signature=kernels.KERNEL_TYPE):
        self.address = address
        self.ctypes = signature(address)


def test_native_kernel_as_numba_style_cfunc(threads):
    check_iota(lambda out: runtime.parallel_for(len(out), NumbaLikeCFunc(IOTA), out))
    wrong = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)
    with pytest.raises(TypeError, match="cfunc takes"):
        runtime.parallel_for(10, NumbaLikeCFunc(IOTA, wrong))


def test_real_numba_cfunc(threads):
    numba = pytest.importorskip("numba")
    sig = numba.types.void(numba.types.int64, numba.types.int64,
                           numba.types.CPointer(numba.types.float64))

    @numba.cfunc(sig, nopython=True)
    def iota(begin, end, out):  # pragma: no cover - compiled
        for i in range(begin, end):
            out[i] += i

    check_iota(lambda out: runtime.parallel_for(len(out), iota, out, grain=100))
    check_iota(lambda out: runtime.parallel_for(len(out), iota, out))


@needs_cffi
def test_wrong_cffi_kernel_signatures_are_type_errors(threads):
    with pytest.raises(TypeError, match=r"int\(\*\)\(int\).*expected void\(\*\)"):
        runtime.parallel_for(10, ffi.cast("int(*)(int)", IOTA))
    with pytest.raises(TypeError, match="expected void"):
        runtime.parallel_for(10, ffi.cast("void(*)(int, int, void *)", IOTA))


def test_wrong_kernel_signatures_are_type_errors(threads):
    untyped = ctypes.CDLL(None).abs  # a ctypes function without argtypes
    with pytest.raises(TypeError, match="set kernel.argtypes"):
        runtime.parallel_for(10, untyped)
    with pytest.raises(TypeError, match="takes .*c_double"):
        runtime.parallel_for(10, ctypes.CFUNCTYPE(None, ctypes.c_double, ctypes.c_int64,
                                                  ctypes.c_void_p)(IOTA))
    with pytest.raises(TypeError, match="body must be a native kernel .* or a Python callable"):
        runtime.parallel_for(10, "kernel")
    with pytest.raises(ValueError, match=r"kernel address must be 1 to 2\*\*64 - 1, got 0"):
        runtime.parallel_for(10, 0)


def test_bad_counts_and_contexts(threads):
    body = lambda start, stop: None  # noqa: E731
    with pytest.raises(ValueError, match=r"n must be 0 to 2\*\*63 - 1 \(number of indices\), "
                                         r"got -1"):
        runtime.parallel_for(-1, body)
    with pytest.raises(TypeError, match="n must be an int"):
        runtime.parallel_for(2.0, body)
    with pytest.raises(TypeError, match="n must be an int"):
        runtime.parallel_for(True, body)
    with pytest.raises(TypeError, match="ctx= is passed to native kernels only"):
        runtime.parallel_for(10, body, ctx=5)
    with pytest.raises(TypeError, match="ctx must be None, an int address"):
        runtime.parallel_for(10, IOTA, ctx="buffer")
    with pytest.raises(ValueError, match=r"grain must be 1 to 2\*\*63 - 1"):
        runtime.parallel_for(10, IOTA, grain=0)
    runtime.parallel_for(np.int64(3), body)  # NumPy integers are counts too


def test_values_beyond_int64_and_uintptr_are_value_errors(threads):
    """They were OverflowError: Python int too large to convert to C long
    (or, for n = 2**63 with a Python body, accepted)."""
    body = lambda start, stop: None  # noqa: E731
    for kernel in (IOTA, body):
        with pytest.raises(ValueError, match=rf"n must be 0 to 2\*\*63 - 1 .*got {2**63}"):
            runtime.parallel_for(2**63, kernel)
        with pytest.raises(ValueError, match=rf"grain must be 1 to 2\*\*63 - 1 .*got {2**63}"):
            runtime.parallel_for(10, kernel, grain=2**63)
    with pytest.raises(ValueError, match=rf"kernel address must be 1 to 2\*\*64 - 1, "
                                         rf"got {2**64}"):
        runtime.parallel_for(10, 2**64)
    with pytest.raises(ValueError, match=rf"ctx address must be 0 to 2\*\*64 - 1, got {2**64}"):
        runtime.parallel_for(10, IOTA, ctx=2**64)
    with pytest.raises(ValueError, match=r"grain must be 1 to 2\*\*63 - 1"):
        runtime.map(np.sin, np.zeros(10), grain=2**63)


def test_the_largest_counts_and_grains_run(threads):
    """n and grain at the int64 limit: one chunk, no overflow in the
    splitter (2 * grain overflowed for grains above 2**62)."""
    noop = _core.KERNELS["noop"]
    for grain in (None, 2**62, 2**63 - 1):
        runtime.parallel_for(2**63 - 1, noop, grain=grain)
    seen = []
    runtime.parallel_for(2**63 - 1, lambda start, stop: seen.append((start, stop)),
                         grain=2**63 - 1)
    assert seen == [(0, 2**63 - 1)]


def test_native_kernels_run_without_the_gil(threads):
    # A Python thread counts while a long native job runs: it can only
    # make progress if neither the caller nor the workers hold the GIL.
    out = np.zeros(2000)
    ctx = kernels.skewed_context(out, 20)
    counter = [0]
    running = threading.Event()
    stop = threading.Event()

    def count():
        running.set()
        while not stop.is_set():
            counter[0] += 1

    t = threading.Thread(target=count)
    t.start()
    running.wait()
    try:
        before = counter[0]
        runtime.parallel_for(len(out), kernels.kernel("skewed"), ctx)
        during = counter[0] - before
    finally:
        stop.set()
        t.join()
    assert during > 1000
    assert out[-1] > 0


def test_skewed_work_is_shared(threads):
    # Indices cost ~i: the second half is 3/4 of the work.  Both threads
    # must run chunks for it to finish; check they both did.  The work
    # sleeps (it releases the GIL, as NumPy's loops do), ~40 ms in all:
    # a busy loop holding the GIL could end before the worker, woken after
    # tens of microseconds, ever got the GIL (seen on a loaded machine).
    seen = {}
    lock = threading.Lock()

    def body(start, stop):
        time.sleep(1e-6 * (stop - start) * (start + stop) / 4)
        with lock:
            seen[threading.get_ident()] = seen.get(threading.get_ident(), 0) + stop - start

    runtime.parallel_for(400, body, grain=4)
    assert sum(seen.values()) == 400
    assert len(seen) == 2


def test_an_invalid_int_address_crashes_as_documented():
    """An int address is called as is (documented): 0x1234 kills the
    process with SIGSEGV (SIGBUS on some systems).  In a child, bounded,
    without a core file."""
    code = ("import resource, runtime\n"
            "resource.setrlimit(resource.RLIMIT_CORE, (0, 0))\n"
            "runtime.parallel_for(10, 0x1234)\n"
            "print('returned')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode in (-signal.SIGSEGV, -signal.SIGBUS), (result.returncode,
                                                                    result.stderr)
    assert "returned" not in result.stdout
    assert "crashes the process" in runtime.parallel_for.__doc__
