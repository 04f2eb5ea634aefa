"""The output cache (runtime/_outputs.pyx, runtime/_output_cache.c): big
outputs of split calls are ordinary NumPy arrays whose memory, once they
go, is kept within a budget and handed to the next output of that size."""

from __future__ import annotations

import gc
import os
import subprocess
import sys

import numpy as np
import pytest
from numpy._core.multiarray import get_handler_name

import runtime
from runtime import _outputs

BIG = _outputs.MIN_BYTES // 8  # float64 elements in the smallest kept block


@pytest.fixture
def empty_cache():
    _outputs.clear()
    yield
    _outputs.set_budget(_outputs.default_budget())
    _outputs.clear()


def test_outputs_are_plain_arrays_that_own_their_memory(empty_cache):
    a = _outputs.empty((BIG, 2), np.float32)
    assert type(a) is np.ndarray and a.flags.owndata and a.base is None
    assert a.shape == (BIG, 2) and a.dtype == np.float32
    assert get_handler_name(a) == "runtime_output_cache"
    assert get_handler_name() != "runtime_output_cache"  # NumPy's own again after


def test_a_freed_big_output_is_handed_to_the_next_of_its_size(empty_cache):
    a = _outputs.empty((BIG,), np.float64)
    address = a.ctypes.data
    del a
    assert _outputs.held() == BIG * 8
    other_size = _outputs.empty((BIG + 512,), np.float64)
    assert other_size.ctypes.data != address and _outputs.held() == BIG * 8
    again = _outputs.empty((BIG,), np.float64)
    assert again.ctypes.data == address and _outputs.held() == 0
    again[:] = 1.5  # writable, whole
    assert float(again.sum()) == 1.5 * BIG


def test_small_outputs_and_outputs_beyond_the_budget_are_not_kept(empty_cache):
    small = _outputs.empty((1000,), np.float64)
    del small
    assert _outputs.held() == 0
    _outputs.set_budget(2 * BIG * 8 - 1)
    big = _outputs.empty((2 * BIG,), np.float64)
    del big
    assert _outputs.held() == 0
    a, b = _outputs.empty((BIG,), np.float64), _outputs.empty((BIG + 64,), np.float64)
    del a, b  # the newest stays: the older of two that do not fit together goes
    assert _outputs.held() == (BIG + 64) * 8


def test_a_zero_budget_frees_what_was_kept(empty_cache):
    a = _outputs.empty((BIG,), np.float64)
    del a
    assert _outputs.held() == BIG * 8
    _outputs.set_budget(0)
    assert _outputs.held() == 0
    b = _outputs.empty((BIG,), np.float64)
    del b
    assert _outputs.held() == 0


def test_split_calls_assemble_into_cached_outputs(empty_cache, threads):
    @runtime.parallel(grain=BIG // 4)
    def fma(a, b, c):
        return a * b + c

    x = np.linspace(0.0, 1.0, BIG)
    y = fma(x, x, x)
    assert get_handler_name(y) == "runtime_output_cache"
    np.testing.assert_array_equal(y, x * x + x)
    address = y.ctypes.data
    del y
    gc.collect()
    z = fma(x, x, x)  # the same size again: the same memory
    assert z.ctypes.data == address
    np.testing.assert_array_equal(z, x * x + x)


def test_a_forked_child_allocates_and_frees():
    if not hasattr(os, "fork"):
        pytest.skip("no fork here")
    code = ("import os, numpy as np\n"
            "from runtime import _outputs\n"
            "a = _outputs.empty((1 << 20,), np.float64); del a\n"
            "pid = os.fork()\n"
            "if pid == 0:\n"
            "    b = _outputs.empty((1 << 20,), np.float64); b[:] = 1; del b\n"
            "    os._exit(0 if _outputs.held() == 8 << 20 else 1)\n"
            "_, status = os.waitpid(pid, 0)\n"
            "print(os.waitstatus_to_exitcode(status))\n")
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=60)
    assert child.returncode == 0, child.stderr
    assert child.stdout.split() == ["0"]
