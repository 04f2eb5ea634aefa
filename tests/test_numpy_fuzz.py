"""Differential fuzzing of runtime.numpy against NumPy, every split forced.

Hypothesis draws shapes (0-size and 3-D included), dtypes, views (strided,
reversed, transposed), broadcasting, out= (fresh, in place), where=, axis
tuples, keepdims, NaN/+-inf/+-0, integer overflow and np.errstate modes;
runtime.numpy runs the call with RUNTIME_FORCE_SPLIT's settings (every
chunk as small as the split allows) and must give NumPy's result (bit for
bit; split floating-point sums within NumPy's error, in the same class),
NumPy's warnings and NumPy's exception.  A bounded profile: the whole file
runs in seconds.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import runtime.numpy as np
from runtime.numpy import _forced

pytestmark = pytest.mark.usefixtures("threads")
PROFILE = settings(max_examples=60, deadline=None, derandomize=True,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

DTYPES = [numpy.bool_, numpy.int8, numpy.int32, numpy.int64, numpy.uint16, numpy.float16,
          numpy.float32, numpy.float64, numpy.complex64, numpy.complex128]
SPECIAL = [0.0, -0.0, numpy.inf, -numpy.inf, numpy.nan, 1.0, -1.5, 2.0]
LAYOUTS = ("as is", "strided", "reversed", "transposed")


def elements(dtype: Any, moderate: bool) -> st.SearchStrategy:
    """Values of dtype: the full range (integer overflow, float overflow)
    or moderate magnitudes (sums that cannot overflow in any order), with
    NaN, +-inf and +-0 for the inexact kinds."""
    dtype = numpy.dtype(dtype)
    if dtype.kind in "fc":
        bound = 1e3 if moderate else None
        width = 16 if dtype == numpy.float16 else 32 if dtype.char in "fF" else 64
        finite = st.floats(-bound if bound else None, bound, allow_nan=False,
                           allow_infinity=False, width=width, allow_subnormal=False)
        real = st.one_of(finite, st.sampled_from(SPECIAL))
        if dtype.kind == "c":
            return st.builds(complex, real, real)
        return real
    return hnp.from_dtype(dtype)


def laid_out(a: numpy.ndarray, layout: str) -> numpy.ndarray:
    if a.ndim == 0:
        return a
    if layout == "strided":
        return numpy.repeat(a, 2, axis=0)[::2]
    if layout == "reversed":
        return numpy.ascontiguousarray(a[::-1])[::-1]
    if layout == "transposed":
        return numpy.ascontiguousarray(a.T).T
    return a


@st.composite
def arrays(draw, shape: tuple[int, ...], moderate: bool = False, dtype: Any = None):
    dtype = dtype or draw(st.sampled_from(DTYPES))
    a = draw(hnp.arrays(dtype, shape, elements=elements(dtype, moderate)))
    return laid_out(a, draw(st.sampled_from(LAYOUTS)))


def canonical(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(canonical(v) for v in value)
    a = numpy.asarray(value)
    if a.dtype.kind in "fc":
        a = a.copy()
        for part in ((a.real, a.imag) if a.dtype.kind == "c" else (a,)):
            part[numpy.isnan(part)] = numpy.nan
    return type(value).__name__, a.dtype.str, a.shape, a.tobytes()


def outcome(call: Callable[[Any], Any], module: Any, mode: str) -> tuple:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with numpy.errstate(all=mode):
                result: Any = ("ok", call(module))
        except Exception as error:  # noqa: BLE001 - compared
            result = ("raised", type(error).__name__, str(error))
    return result, sorted({(w.category.__name__, str(w.message)) for w in caught})


def same(expected: tuple, got: tuple, approximate: bool = False) -> None:
    (want, want_warnings), (have, have_warnings) = expected, got
    assert have_warnings == want_warnings
    assert have[0] == want[0], (want, have)
    if want[0] == "raised":
        assert have == want
        return
    if not approximate or canonical(have[1]) == canonical(want[1]):
        assert canonical(have[1]) == canonical(want[1])
        return
    # A split floating sum: NumPy's value within its error, in the same class.
    w, h = numpy.asarray(want[1]), numpy.asarray(have[1])
    assert w.dtype == h.dtype and w.shape == h.shape
    for part in ((lambda x: x.real, lambda x: x.imag) if w.dtype.kind == "c" else (lambda x: x,)):
        pw, ph = part(w), part(h)
        assert numpy.array_equal(numpy.isnan(pw), numpy.isnan(ph))
        assert numpy.array_equal(numpy.isinf(pw), numpy.isinf(ph))
        # NumPy's zeros stay zeros of the same sign (a nonzero of NumPy's may be
        # 0 here, within its error: the std of a constant float32 array).
        zeros = pw == 0
        assert (ph[zeros] == 0).all()
        assert numpy.array_equal(numpy.signbit(pw[zeros]), numpy.signbit(ph[zeros]))
    tolerance = {2: 5e-2, 4: 1e-4, 8: 1e-10, 16: 1e-10}[h.real.dtype.itemsize]
    numpy.testing.assert_allclose(h, w, rtol=tolerance, atol=tolerance, equal_nan=True)


@pytest.fixture(autouse=True)
def forced():
    with _forced.forced_split(1):
        yield


UNARY = ["exp", "sin", "sqrt", "log", "negative", "absolute", "arctan", "arcsinh", "floor",
         "reciprocal", "square", "isnan", "sign", "cbrt", "expm1", "log1p", "rint", "invert"]
BINARY = ["add", "subtract", "multiply", "true_divide", "floor_divide", "power", "maximum",
          "minimum", "fmax", "fmin", "arctan2", "hypot", "remainder", "greater_equal",
          "logical_and", "bitwise_or", "copysign", "ldexp", "left_shift"]


@PROFILE
@given(data=st.data(), name=st.sampled_from(UNARY + BINARY),
       mode=st.sampled_from(["ignore", "warn", "raise"]))
def test_ufunc_calls(data, name, mode):
    ufunc = getattr(numpy, name)
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=ufunc.nin, max_dims=3,
                                                          min_side=0, max_side=7))
    inputs = [data.draw(arrays(shape)) for shape in shapes.input_shapes]
    shape = shapes.result_shape
    keywords: dict[str, Any] = {}
    how = data.draw(st.sampled_from(["plain", "out", "in place", "where", "scalar"]))
    if how == "scalar":
        inputs[-1] = data.draw(st.sampled_from([2, -1, 1e300, 0.5, 3 + 1j, True, 2 ** 40]))
    elif how == "in place" and inputs[0].shape == shape and inputs[0].flags.writeable:
        keywords["out"] = inputs[0]  # the first input itself (copied per side below)
    elif how in ("out", "where"):
        keywords["out"] = data.draw(arrays(shape, dtype=data.draw(st.sampled_from(DTYPES))))
        if how == "where":
            keywords["where"] = data.draw(hnp.arrays(numpy.bool_, shape))
        keywords["casting"] = "unsafe"

    def call(module: Any) -> Any:
        ins = [a.copy() if isinstance(a, numpy.ndarray) else a for a in inputs]
        kw = dict(keywords)
        if kw.get("out") is inputs[0]:
            kw["out"] = ins[0]
        elif "out" in kw:
            kw["out"] = kw["out"].copy()
        result = getattr(module, name)(*ins, **kw)
        return (result, ins[0]) if "out" in kw else result

    same(outcome(call, numpy, mode), outcome(call, np, mode))


REDUCTIONS = {
    "sum": True, "prod": True, "mean": True, "var": True, "std": True, "nansum": True,
    "nanmean": True, "min": False, "max": False, "nanmax": False, "argmax": False,
    "argmin": False, "any": False, "all": False, "count_nonzero": False,
}


@PROFILE
@given(data=st.data(), name=st.sampled_from(sorted(REDUCTIONS)),
       mode=st.sampled_from(["ignore", "warn", "raise"]))
def test_reductions(data, name, mode):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=40))
    a = data.draw(arrays(shape, moderate=True))
    ndim = a.ndim
    axis = data.draw(st.one_of(
        st.none(), st.integers(-ndim, ndim - 1),
        st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple)))
    keywords: dict[str, Any] = {"axis": axis}  # (a tuple for argmax: NumPy's TypeError)
    if data.draw(st.booleans()):
        keywords["keepdims"] = True
    if name in ("sum", "prod", "min", "max", "mean", "any", "all", "nansum") \
            and data.draw(st.booleans()):
        keywords["where"] = data.draw(hnp.arrays(numpy.bool_, shape))
        if name in ("min", "max"):
            keywords["initial"] = 0
    if name in ("var", "std") and data.draw(st.booleans()):
        keywords["ddof"] = data.draw(st.integers(0, 3))

    def call(module: Any) -> Any:
        return getattr(module, name)(a, **keywords)

    same(outcome(call, numpy, mode), outcome(call, np, mode), approximate=REDUCTIONS[name])


@PROFILE
@given(data=st.data(), mode=st.sampled_from(["warn", "raise"]))
def test_functions(data, mode):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=9))
    a = data.draw(arrays(shape))
    b = data.draw(arrays(shape))
    which = data.draw(st.sampled_from(["where", "clip", "copyto", "copy", "ascontiguousarray",
                                       "asfortranarray"]))
    calls: dict[str, Callable[[Any], Any]] = {
        "where": lambda m: m.where(a.astype(bool), a, b),
        "clip": lambda m: m.clip(a, b, None) if a.dtype.kind != "c" else m.copy(a),
        "copyto": lambda m: (m.copyto(dst := b.copy(), a, casting="unsafe"), dst)[1],
        "copy": lambda m: m.copy(a),
        "ascontiguousarray": lambda m: m.ascontiguousarray(a),
        "asfortranarray": lambda m: m.asfortranarray(a),
    }
    same(outcome(calls[which], numpy, mode), outcome(calls[which], np, mode))
