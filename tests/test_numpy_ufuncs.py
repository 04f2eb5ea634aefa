"""runtime.numpy's ufuncs against NumPy's: same values, dtypes, shapes,
layouts, warnings and exceptions, with the calls really split.

`forced_split` makes every call split into small chunks on the pool,
however small the arrays, so the parallel paths (native loops, boxes over
any layout, floating-point error replay) run on the small inputs
Hypothesis generates."""

from __future__ import annotations

import pickle
import warnings

import numpy
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import runtime
import runtime.numpy as np
from runtime import _core, _schedule
from runtime.numpy import _elementwise, _reductions, _ufunc

pytestmark = pytest.mark.usefixtures("threads")

UFUNC_NAMES = sorted(name for name, value in vars(numpy).items()
                     if isinstance(value, numpy.ufunc) and value.signature is None
                     and not name.startswith("_"))
NUMERIC = "?bhilqBHILQefdgFDG"


@pytest.fixture
def split():
    """Every call splits into chunks of 7 rows (elements) on the pool
    (after forgetting the sizes below which ufuncs go straight to NumPy)."""
    np._forget_learned_sizes()
    _ufunc.set_small_call_gates(False)
    try:
        with _schedule.forced_split(7):
            yield
    finally:
        _ufunc.set_small_call_gates(True)
        np._forget_learned_sizes()


def outcome(call):
    """(result or exception, warnings) of call(), for comparison."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = call()
        except Exception as error:  # noqa: BLE001 - compared below
            result = error
    return result, [(w.category, str(w.message)) for w in caught]


def assert_same(expected, got):
    if isinstance(expected, Exception):
        assert type(got) is type(expected) and str(got) == str(expected), (expected, got)
        return
    if isinstance(expected, tuple):
        assert isinstance(got, tuple) and len(got) == len(expected)
        for e, g in zip(expected, got):
            assert_same(e, g)
        return
    assert type(got) is type(expected), (type(expected), type(got))
    e, g = numpy.asarray(expected), numpy.asarray(got)
    assert e.dtype == g.dtype and e.shape == g.shape
    # Same bits, NaNs aside: equal values with equal signs (-0.0).  A NaN's
    # sign and payload are not: NumPy's SIMD loops and their scalar tails
    # make NaNs of different signs, and chunk edges move the tails.
    assert numpy.array_equal(e, g, equal_nan=True), (e, g)
    if e.dtype.kind in "fc":
        for part_e, part_g in ((e.real, g.real), (e.imag, g.imag)):
            numbers = ~numpy.isnan(part_e)
            assert numpy.array_equal(numpy.signbit(part_e[numbers]),
                                     numpy.signbit(part_g[numbers]))
    if isinstance(expected, numpy.ndarray) and expected.ndim:
        # NumPy's output layout (the stride of an axis of length 1 means nothing).
        assert [s for s, n in zip(expected.strides, e.shape) if n > 1] == \
            [s for s, n in zip(got.strides, g.shape) if n > 1]


def check(call_with):
    """call_with(module) under numpy and runtime.numpy: same everything."""
    expected, expected_warnings = outcome(lambda: call_with(numpy))
    got, got_warnings = outcome(lambda: call_with(np))
    assert_same(expected, got)
    assert got_warnings == expected_warnings


# ---------------------------------------------------------------- the face

def test_every_public_numpy_name_is_there():
    missing = [name for name in dir(numpy) if not name.startswith("_")
               and not hasattr(np, name)]
    assert missing == []
    assert sorted(np.__all__) == sorted(numpy.__all__)
    for name in numpy.__all__:
        value = getattr(numpy, name)
        if not isinstance(value, numpy.ufunc):
            assert getattr(np, name) is value or name in OVERRIDDEN, name


OVERRIDDEN = {"where", "clip", "copyto", "copy", "ascontiguousarray", "asfortranarray",
              "matmul", "dot", "inner", "vdot", "tensordot", "sum", "prod", "min", "max",
              "amin", "amax", "mean", "var", "std", "argmin", "argmax", "any", "all",
              "count_nonzero", "nansum", "nanprod", "nanmin", "nanmax", "nanmean", "nanvar",
              "nanstd"}


def test_submodules_are_numpys():
    import runtime.numpy.linalg as linalg
    from runtime.numpy.random import default_rng

    assert linalg is numpy.linalg and np.linalg is numpy.linalg
    assert default_rng is numpy.random.default_rng
    assert np.fft is numpy.fft and np.testing is numpy.testing
    assert np.ndarray is numpy.ndarray and np.float64 is numpy.float64
    with pytest.raises(AttributeError, match="no attribute 'not_a_numpy_name'"):
        np.not_a_numpy_name


def test_ufunc_type_has_numpys_attributes():
    public = {name for name in dir(numpy.ufunc) if not name.startswith("_")}
    assert public <= set(dir(type(np.exp)))
    for name in UFUNC_NAMES:
        wrapped, original = getattr(np, name), getattr(numpy, name)
        assert type(wrapped) is not numpy.ufunc
        assert isinstance(wrapped, numpy.ufunc)  # as code that checks for ufuncs expects
        for attribute in ("nin", "nout", "nargs", "ntypes", "types", "identity", "signature",
                          "__name__", "__doc__"):
            assert getattr(wrapped, attribute) == getattr(original, attribute), (name, attribute)
        assert repr(wrapped) == repr(original)
        assert pickle.loads(pickle.dumps(wrapped)) is wrapped


def test_aliases_share_one_wrapper():
    assert np.abs is np.absolute and np.true_divide is np.divide
    assert numpy.abs is numpy.absolute  # mirroring NumPy's own aliasing


def test_gufuncs_and_private_names_are_numpys():
    assert np.vecdot is numpy.vecdot
    assert np._NoValue is numpy._NoValue


# ------------------------------------------------- every ufunc, every loop

def loop_inputs(types: str, size: int, seed: int) -> list[numpy.ndarray]:
    rng = numpy.random.default_rng(seed)
    inputs = []
    for char in types:
        dtype = numpy.dtype(char)
        if dtype.kind == "b":
            inputs.append(rng.integers(0, 2, size).astype(bool))
        elif dtype.kind in "iu":
            inputs.append(rng.integers(1, 5, size).astype(dtype))
        elif dtype.kind == "f":
            inputs.append((rng.standard_normal(size) * 3).astype(dtype))
        else:
            inputs.append((rng.standard_normal(size) + 1j * rng.standard_normal(size)
                           ).astype(dtype))
    return inputs


@pytest.mark.parametrize("name", UFUNC_NAMES)
def test_every_loop_of_every_ufunc(name, split):
    ufunc = getattr(numpy, name)
    for loop in ufunc.types:
        ins, outs = loop.split("->")
        if not set(ins + outs) <= set(NUMERIC):
            continue
        inputs = loop_inputs(ins, 1001, seed=len(loop))
        check(lambda m: getattr(m, name)(*inputs, dtype=numpy.dtype(outs[0]), casting="unsafe")
                if ufunc.nout == 1 else getattr(m, name)(*inputs))
        check(lambda m: getattr(m, name)(*inputs))


def test_calls_really_split(split):
    x = numpy.linspace(0, 1, 10_000)
    before = _core.stats()["leaves"]
    np.exp(x)
    np.add(x.astype(numpy.int64), 1)  # the Python path (integers)
    # Chunks of 7 to 14 units; a unit is a SIMD block of NumPy's inner loop
    # (split points must fall where NumPy's whole call starts a SIMD block).
    assert _core.stats()["leaves"] - before >= 2 * (10_000 // (14 * _elementwise.SIMD_BLOCK))


def test_big_call_runs_on_both_threads():
    """Without forcing: a 4e6-element sin splits, and the other thread takes part."""
    x = numpy.linspace(0, 1, 4_000_000)
    steals = _core.stats()["steals"]
    for _ in range(20):
        assert numpy.array_equal(np.sin(x), numpy.sin(x))
        if _core.stats()["steals"] > steals:
            break
    assert _core.stats()["steals"] > steals


# ------------------------------------------------------------ Hypothesis

LAYOUTS = ("C", "F", "reversed", "strided", "transposed")
DTYPES = st.sampled_from([numpy.bool_, numpy.int8, numpy.int32, numpy.int64, numpy.uint16,
                          numpy.float16, numpy.float32, numpy.float64, numpy.complex64,
                          numpy.complex128])


def laid_out(a: numpy.ndarray, layout: str) -> numpy.ndarray:
    if layout == "F":
        return numpy.asfortranarray(a)
    if layout == "reversed":
        return numpy.ascontiguousarray(a[::-1])[::-1] if a.ndim else a
    if layout == "strided":
        index = (slice(None, None, 2),) + (slice(None),) * (a.ndim - 1)
        return numpy.repeat(a, 2, axis=0)[index] if a.ndim else a
    if layout == "transposed":
        return numpy.ascontiguousarray(a.T).T
    return a


@st.composite
def operands(draw, count: int):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=count, max_dims=3, max_side=9))
    arrays = []
    for shape in shapes.input_shapes:
        dtype = draw(DTYPES)
        a = draw(hnp.arrays(dtype, shape, elements=hnp.from_dtype(
            numpy.dtype(dtype), allow_subnormal=False, min_value=None)))
        arrays.append(laid_out(a, draw(st.sampled_from(LAYOUTS))))
    return arrays, shapes.result_shape


BINARY = ["add", "subtract", "multiply", "divide", "power", "maximum", "fmin", "arctan2",
          "floor_divide", "remainder", "greater", "equal", "logical_and", "bitwise_xor",
          "hypot", "copysign", "nextafter", "ldexp", "heaviside", "divmod", "left_shift"]
UNARY = ["exp", "sin", "sqrt", "log1p", "negative", "absolute", "isnan", "signbit", "sign",
         "floor", "rint", "reciprocal", "square", "invert", "logical_not", "frexp", "modf",
         "spacing", "cbrt", "conjugate", "exp2", "tanh", "arccos", "deg2rad"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), name=st.sampled_from(UNARY + BINARY))
def test_differential(data, name):
    ufunc = getattr(numpy, name)
    arrays, shape = data.draw(operands(ufunc.nin))
    keywords = {}
    if data.draw(st.booleans()):
        where = data.draw(hnp.arrays(numpy.bool_, shape))
        keywords["where"] = where
        keywords["out"] = tuple(numpy.zeros(shape, dtype) for dtype in data.draw(
            st.lists(DTYPES, min_size=ufunc.nout, max_size=ufunc.nout)))
    elif data.draw(st.booleans()):
        keywords["dtype"] = data.draw(DTYPES)
        keywords["casting"] = "unsafe"
    np._forget_learned_sizes()
    with _schedule.forced_split(data.draw(st.sampled_from([1, 3, 7, 64]))):
        def call(module):
            kw = dict(keywords)
            if "out" in kw:  # a fresh copy of the out arrays for each side
                kw["out"] = tuple(o.copy() for o in kw["out"])
                result = getattr(module, name)(*arrays, **kw)
                return kw["out"] if isinstance(result, numpy.ndarray) else result
            return getattr(module, name)(*arrays, **kw)

        check(call)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_in_place_and_overlapping_outputs(data):
    base = data.draw(hnp.arrays(numpy.float64, st.integers(2, 60),
                                elements=st.floats(-10, 10)))
    with _schedule.forced_split(3):
        check_in_place_and_overlapping(base)


def check_in_place_and_overlapping(base):
    a, b = base.copy(), base.copy()
    assert numpy.add(a, 1, out=a) is a and np.add(b, 1, out=b) is b
    assert numpy.array_equal(a, b)
    # Output overlapping its input shifted by one: NumPy copies the input first.
    a, b = base.copy(), base.copy()
    numpy.multiply(a[:-1], 2, out=a[1:])
    np.multiply(b[:-1], 2, out=b[1:])
    assert numpy.array_equal(a, b)


# ------------------------------------------------------ floating-point errors

def test_errstate_modes_behave_as_numpys(split):
    x = numpy.array([1.0, 0.0, -1.0, numpy.inf] * 50)
    zero = numpy.zeros_like(x)
    check(lambda m: m.divide(x, zero))  # divide + invalid warnings, once each
    check(lambda m: m.log(x))
    for mode in ("ignore", "warn", "raise"):
        with numpy.errstate(all=mode):
            check(lambda m: m.divide(x, zero))
    calls = {numpy: [], np: []}
    for module in (numpy, np):
        with numpy.errstate(all="call", call=lambda kind, flag, m=module: calls[m].append(
                (kind, flag))):
            module.divide(x, zero)
    assert calls[np] == calls[numpy] != []

    class Log:
        def __init__(self):
            self.lines = []

        def write(self, line):
            self.lines.append(line)

    logs = {numpy: Log(), np: Log()}
    for module in (numpy, np):
        with numpy.errstate(all="log", call=logs[module]):
            module.divide(x, zero)
    assert logs[np].lines == logs[numpy].lines != []


def test_raise_writes_every_output_first(split):
    x = numpy.arange(1000.0)
    out = numpy.full_like(x, -1.0)
    with numpy.errstate(divide="raise"), pytest.raises(FloatingPointError,
                                                        match="divide by zero encountered"):
        np.divide(1.0, x, out=out)
    expected = numpy.full_like(x, -1.0)
    with numpy.errstate(divide="ignore"):
        numpy.divide(1.0, x, out=expected)
    assert numpy.array_equal(out, expected)  # as NumPy: the whole loop ran


def test_warning_points_at_the_callers_line(split):
    with pytest.warns(RuntimeWarning, match="divide by zero encountered in divide") as record:
        np.divide(numpy.ones(100), numpy.zeros(100))
    assert record[0].filename == __file__


# --------------------------------------------------- calls left to NumPy

def test_overrides_and_subclasses_go_to_numpy(split):
    class Tagged:
        def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
            return ("handled", ufunc.__name__, method)

    assert np.exp(Tagged()) == ("handled", "exp", "__call__")
    assert np.add.reduce(Tagged()) == ("handled", "add", "reduce")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)  # np.matrix's own
        m = numpy.asmatrix(numpy.ones((40, 40)))
    assert type(np.exp(m)) is numpy.matrix
    masked = numpy.ma.masked_array(numpy.arange(50.0), mask=numpy.arange(50) % 2 == 0)
    result = np.sqrt(masked)
    assert type(result) is numpy.ma.MaskedArray
    assert numpy.array_equal(result.mask, masked.mask)
    objects = numpy.array([1, 2, 3] * 20, dtype=object)
    assert np.add(objects, 1).dtype == object
    assert np.exp([0.0, 1.0]).tolist() == numpy.exp([0.0, 1.0]).tolist()
    assert np.add(2, 3) == 5 and type(np.add(2.0, 3.0)) is numpy.float64


def test_small_calls_skip_the_pool():
    x = numpy.ones(100)
    np.exp(x)  # learn
    before = _core.stats()["leaves"]
    for _ in range(100):
        np.exp(x)
    assert _core.stats()["leaves"] == before


def test_thread_count_change_forgets_learned_sizes(threads):
    np.exp(numpy.ones(100_000))
    np.exp(numpy.ones(100_000))
    runtime.set_num_threads(threads)
    assert np.exp._inline_threshold(numpy.dtype(numpy.float64).num) == 1


def test_ufunc_methods(split):
    x = numpy.arange(3000.0).reshape(60, 50)
    check(lambda m: m.multiply.outer(x[0], x[:, 0]))
    check(lambda m: m.add.outer(x[:3], x[0, :4]))
    check(lambda m: m.add.accumulate(x, axis=1))
    check(lambda m: m.add.reduceat(x[0], [0, 10, 20]))
    check(lambda m: m.maximum.reduce(x, axis=0))
    check(lambda m: m.exp.outer(x, x))  # NumPy's error for a unary ufunc
    a, b = x.copy(), x.copy()
    numpy.add.at(a, ([0, 0, 1],), 1.0)
    np.add.at(b, ([0, 0, 1],), 1.0)
    assert numpy.array_equal(a, b)


# ------------------------------------------------- the other functions

def test_where_clip_copyto_copies(split):
    rng = numpy.random.default_rng(1)
    x = rng.standard_normal((40, 30))
    f = numpy.asfortranarray(x)
    check(lambda m: m.where(x > 0, x, -x))
    check(lambda m: m.where(f > 0, f.astype(numpy.float32), 0.5))
    check(lambda m: m.where(x > 0))
    check(lambda m: m.where(x > 0, x))  # NumPy's error
    check(lambda m: m.clip(x, -0.5, 0.5))
    check(lambda m: m.clip(f, min=0.1))
    check(lambda m: m.clip((x * 100).astype(numpy.int16), -10, 10 ** 6))
    check(lambda m: m.clip(x, 1, 2, min=3))  # NumPy's error
    check(lambda m: m.copy(f))
    check(lambda m: m.copy(x.T, order="C"))
    check(lambda m: m.ascontiguousarray(f))
    check(lambda m: m.ascontiguousarray(x, dtype=numpy.float32))
    check(lambda m: m.asfortranarray(x[::2]))
    check(lambda m: m.ascontiguousarray(numpy.array([numpy.nan] * 50), dtype=numpy.int64))
    assert np.ascontiguousarray(x) is x
    for where in (True, x > 0):
        a, b = numpy.zeros_like(f), numpy.zeros_like(f)
        assert numpy.copyto(a, x, where=where) is None and np.copyto(b, x, where=where) is None
        assert numpy.array_equal(a, b)
    check(lambda m: m.copyto(numpy.zeros(50, numpy.int32), numpy.ones(50)))  # casting error


def test_one_thread_sends_every_call_straight_to_numpy():
    x = numpy.linspace(0, 1, 2_000_000)
    for _ in range(3):
        np.exp(x)  # learn, and plan the repeated call
    float64 = numpy.dtype(numpy.float64).num
    assert np.exp._inline_threshold(float64) < x.size
    before = runtime.num_threads()
    runtime.set_num_threads(1)
    try:
        assert numpy.array_equal(np.exp(x), numpy.exp(x))
        assert np.exp._inline_threshold(float64) > x.size  # no Python step from now on
    finally:
        runtime.set_num_threads(before)


def test_warnings_point_at_the_callers_line_on_every_path():
    """Inline-planned, probed, and repeated (planned once, then reused) calls."""
    x = numpy.zeros(300_000)
    for _ in range(4):
        with pytest.warns(RuntimeWarning, match="divide by zero encountered in divide") as w:
            np.divide(1.0, x)
        assert w[0].filename == __file__
    f32 = numpy.ones(300_000, numpy.float32)
    for _ in range(3):
        with pytest.warns(RuntimeWarning, match="overflow encountered in cast") as w:
            result = np.add(f32, 1e300)
        assert w[0].filename == __file__ and numpy.isinf(result).all()


GATED = ("where", "clip", "copyto", "copy", "ascontiguousarray", "asfortranarray", "dot",
         "inner", "tensordot")


def test_small_calls_of_functions_go_straight_to_numpy():
    import inspect

    x = numpy.ones(1000)
    m = numpy.ones((30, 30))
    before = _core.stats()["leaves"]
    np.where(x > 0, x, 0.0)
    np.clip(x, 0, 1)
    np.copyto(numpy.empty(1000), x)
    np.copy(x)
    np.dot(m, m)
    np.matmul(m, m)
    np.add.reduce(x)
    np.multiply.outer(x[:50], x[:50])
    assert _core.stats()["leaves"] == before
    for name in GATED:
        ours, numpys = getattr(np, name), getattr(numpy, name)
        assert ours.__name__ == name and ours.__doc__ == numpys.__doc__
        assert inspect.signature(ours) == inspect.signature(numpys)
        assert pickle.loads(pickle.dumps(ours)) is ours


def test_gated_functions_split_when_asked(split):
    x = numpy.linspace(-1, 1, 1000)
    for call in (lambda: np.where(x > 0, x, 0.0), lambda: np.clip(x, 0, 0.5),
                 lambda: np.copy(x[::2]),
                 # reductions: two leaves at least
                 lambda: np.add.reduce(numpy.ones(2 * _reductions.LEAF_ELEMENTS))):
        before = _core.stats()["leaves"]
        call()
        assert _core.stats()["leaves"] > before


def test_keywords_numpy_takes(split):
    rng = numpy.random.default_rng(3)
    x = rng.standard_normal((40, 30))
    f = numpy.asfortranarray(x)
    i = (x * 10).astype(numpy.int32)
    check(lambda m: m.add(x, f, signature="dd->d"))
    check(lambda m: m.add(i, i, signature=(numpy.float32, numpy.float32, None)))
    check(lambda m: m.multiply(i, 2, dtype=numpy.int64))
    check(lambda m: m.exp(x, order="F"))
    check(lambda m: m.exp(f, order="C"))
    check(lambda m: m.exp(f, order="A"))
    check(lambda m: m.negative(x, subok=False))
    check(lambda m: m.add(i, x, casting="no"))  # NumPy's casting error
    check(lambda m: m.add(x, x, out=numpy.empty((40, 30), numpy.int64)))  # same_kind error
    check(lambda m: m.add(x, x, numpy.empty((40, 30))))  # positional out
    check(lambda m: m.divmod(x, 3.0, out=(numpy.empty_like(x), None)))
    check(lambda m: m.add(x, x, out=(numpy.empty_like(x), numpy.empty_like(x))))  # wrong count
    check(lambda m: m.add(x, x, extobj=None))  # unknown keyword: NumPy's TypeError


def test_a_stretch_sent_to_numpy_skips_the_measured_path_then_ends():
    """Where splitting lost lately, ParallelUfunc sends the next calls of
    that size straight to NumPy, then the measured path sees one again."""
    from runtime.numpy._ufunc import ParallelUfunc

    measured = []

    def parallel_call(wrapper, args, kwargs):
        measured.append(args[0].size)
        return numpy.exp(*args, **kwargs)

    exp = ParallelUfunc(numpy.exp, parallel_call)
    x, big = numpy.linspace(0, 1, 2000), numpy.linspace(0, 1, 20000)
    float64 = x.dtype.num
    exp._send_to_numpy_for(float64, 5000, 2)
    for _ in range(2):
        assert numpy.array_equal(exp(x), numpy.exp(x))
    assert measured == []  # two calls to NumPy directly
    assert numpy.array_equal(exp(big), numpy.exp(big))  # above the stretch's size
    assert numpy.array_equal(exp(x), numpy.exp(x))  # the stretch is over
    assert measured == [20000, 2000]
    exp._send_to_numpy_for(float64, 5000, 5)
    exp._forget()  # (a thread-count change) ends it too
    exp(x)
    assert measured == [20000, 2000, 2000]


def test_calls_below_1024_elements_go_to_numpy_from_the_first_call():
    """A ufunc's first small calls skip the measured path (which cost
    50-150 us to learn what NumPy does in 1-3 us); from 1024 elements on,
    and with the size gates off (forced splits in tests), they take it."""
    from runtime.numpy._ufunc import ParallelUfunc, set_small_call_gates

    measured = []

    def parallel_call(wrapper, args, kwargs):
        measured.append(args[0].size)
        return numpy.sin(*args, **kwargs)

    sin = ParallelUfunc(numpy.sin, parallel_call)
    for n in (1, 100, 1023):
        x = numpy.linspace(0, 1, n)
        assert numpy.array_equal(sin(x), numpy.sin(x))
        assert numpy.array_equal(type(sin).__call__(sin, x), numpy.sin(x))
    assert measured == []
    sin(numpy.linspace(0, 1, 1024))
    assert measured == [1024]
    set_small_call_gates(False)
    try:
        sin(numpy.linspace(0, 1, 100))
    finally:
        set_small_call_gates(True)
    assert measured == [1024, 100]
