"""Elementwise calls give NumPy's bits, whatever the layout and the split.

NumPy's loops choose a SIMD or a scalar path from the strides they are
handed (float32 arctan: SVML for positive strides, libm otherwise), and
NumPy's iterator decides those strides per call: it coalesces axes, buffers
operands that do not coalesce, flips or keeps negative strides.  A chunk
must be computed with the strides of NumPy's whole call, however the call
is cut.
"""

from __future__ import annotations

import subprocess
import sys

import numpy
import pytest

import runtime.numpy as np
from runtime import _schedule
from runtime.numpy._ufunc import set_small_call_gates

pytestmark = pytest.mark.usefixtures("threads")


def bits(a: numpy.ndarray) -> bytes:
    return numpy.ascontiguousarray(a).tobytes()


def data(dtype: str, n: int, seed: int = 0) -> numpy.ndarray:
    rng = numpy.random.default_rng(seed)
    x = rng.uniform(-0.99, 0.99, n)
    if numpy.dtype(dtype).kind == "c":
        x = x + 1j * rng.uniform(-0.99, 0.99, n)
    x = x.astype(dtype)
    x[::7] = 0.0
    x[::11] = -0.0
    return x


def layouts(x: numpy.ndarray) -> dict[str, numpy.ndarray]:
    """Views NumPy iterates in different ways (x has 3000 * 39 * 3 elements)."""
    cube = x.reshape(3000, 39, 3)
    return {
        "reversed 3-D, inner axis of one": cube[::-1, ::-3, ::-3],  # coalesces: stride -36
        "box that does not coalesce": cube[:2000, :5, ::-3],  # NumPy buffers it
        "transposed": cube[:400, :, 0].T,
        "negative 1-D": x[::-5],
        "strided 2-D": cube[::2, ::2, 1],
    }


@pytest.fixture
def forced(request):
    np._forget_learned_sizes()
    set_small_call_gates(False)
    try:
        with _schedule.forced_split(request.param):
            yield request.param
    finally:
        set_small_call_gates(True)
        np._forget_learned_sizes()


UNARY_F4 = ["arctan", "arcsinh", "arctanh", "log1p", "cbrt", "expm1", "log10", "arccos",
            "sin", "exp"]


@pytest.mark.parametrize("forced", [1, 2, 3, 7, 64], indirect=True)
@pytest.mark.parametrize("name", UNARY_F4)
def test_unary_float32_under_forced_split(name, forced):
    x = data("f4", 3000 * 39 * 3)
    with numpy.errstate(all="ignore"):
        for label, view in layouts(x).items():
            arg = numpy.abs(view) + 1 if name == "arccosh" else view
            assert bits(getattr(np, name)(arg)) == bits(getattr(numpy, name)(arg)), label


@pytest.mark.parametrize("forced", [1, 3, 64], indirect=True)
@pytest.mark.parametrize("name, dtype", [("arccosh", "f4"), ("power", "f4"), ("arctan2", "f4"),
                                         ("multiply", "c8"), ("absolute", "c16"),
                                         ("fmax", "f8"), ("fmax", "f4"), ("fmin", "f4"),
                                         ("maximum", "f8"), ("add", "c16")])
def test_more_loops_under_forced_split(name, dtype, forced):
    x = data(dtype, 3000 * 39 * 3)
    y = data(dtype, 3000 * 39 * 3, seed=1)
    ufunc = getattr(numpy, name)
    with numpy.errstate(all="ignore"):
        for (label, a), b in zip(layouts(x).items(), layouts(y).values()):
            if name == "arccosh":
                a = numpy.abs(a) + 1
            args = (a,) if ufunc.nin == 1 else (a, b if name != "power" else numpy.abs(b))
            assert bits(getattr(np, name)(*args)) == bits(ufunc(*args)), label
            if ufunc.nin == 2:  # a broadcast operand too
                row = b[..., :1] if b.ndim > 1 else b[:1]
                assert bits(getattr(np, name)(a, row)) == bits(ufunc(a, row)), label


def test_first_call_probing_in_a_fresh_process():
    # The report's reproducer: the first call of a fresh process probes
    # chunks of its own sizes.
    code = """
import numpy, runtime.numpy as np
data = numpy.linspace(-0.99, 0.99, 30000 * 39 * 3, dtype=numpy.float32)
x = data.reshape(30000, 39, 3)[::-1, ::-3, ::-3]
bad = [name for name in ("arctan", "arcsinh", "arctanh")
       if getattr(np, name)(x).tobytes() != getattr(numpy, name)(x).tobytes()]
print(bad)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("forced", [3], indirect=True)
def test_outputs_given_and_masked(forced):
    x = data("f4", 3000 * 39 * 3)
    view = x.reshape(3000, 39, 3)[::-1, ::-3, ::-3]
    mask = (numpy.arange(view.size) % 3 == 0).reshape(view.shape)
    for out in (numpy.zeros(view.shape, "f4"), numpy.zeros(view.shape[::-1], "f4").T):
        ours, theirs = out.copy(), out.copy()
        np.arctan(view, out=ours)
        numpy.arctan(view, out=theirs)
        assert bits(ours) == bits(theirs)
        np.arctan(view, out=ours, where=mask)
        numpy.arctan(view, out=theirs, where=mask)
        assert bits(ours) == bits(theirs)


@pytest.mark.parametrize("forced", [1, 3], indirect=True)
def test_buffered_calls_in_place_and_cast(forced):
    # Reading NumPy's loop layout off copies of its iterator must not write
    # anything but results: a copy writes its buffers back when it goes
    # (found by tests/test_numpy_fuzz.py: add(array(False), int8[2], out=bool[2],
    # casting="unsafe") left the output as it was).
    a, b = numpy.array(False), numpy.zeros(2, numpy.int8)
    ours, theirs = numpy.ones(2, bool), numpy.ones(2, bool)
    np.add(a, b, out=ours, casting="unsafe")
    numpy.add(a, b, out=theirs, casting="unsafe")
    assert bits(ours) == bits(theirs)
    x = data("f8", 3000 * 39 * 3)
    whole_ours, whole_theirs = x.copy(), x.copy()
    for ours_view, theirs_view in zip(layouts(whole_ours).values(),
                                      layouts(whole_theirs).values()):
        np.multiply(ours_view, 3.0, out=ours_view)  # in place, buffered or not
        numpy.multiply(theirs_view, 3.0, out=theirs_view)
        np.add(ours_view, numpy.float32(1.5), out=ours_view, casting="unsafe")
        numpy.add(theirs_view, numpy.float32(1.5), out=theirs_view, casting="unsafe")
    assert bits(whole_ours) == bits(whole_theirs)
