"""runtime.numpy reductions: NumPy's results, errors and warnings, on all cores.

Exact for integers and booleans and wherever the split runs along a kept
axis (the same bits as NumPy); for floats split along a reduced axis,
within NumPy's error bound and the same bits for every thread count.
"""

from __future__ import annotations

import functools
import inspect
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import runtime
from runtime import _schedule
from runtime.numpy import _reductions as R

SUM_LIKE = ["sum", "prod", "nansum", "nanprod"]
EXTREMES = ["min", "max", "amin", "amax", "nanmin", "nanmax"]
MEANS = ["mean", "nanmean"]
VARS = ["var", "std", "nanvar", "nanstd"]
ARGS = ["argmin", "argmax"]
ANY_ALL = ["any", "all"]
NAMES = SUM_LIKE + EXTREMES + MEANS + VARS + ARGS + ANY_ALL + ["count_nonzero"]

DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
          np.uint64, np.float16, np.float32, np.float64, np.complex64, np.complex128]
BIG_SHAPES = [(70_000,), (131_073,), (2, 40_000), (17, 5_000), (300, 400), (5_000, 17),
              (40_000, 2), (3, 50, 700), (64, 40, 30), (8, 9_000)]
SMALL_SHAPES = [(), (0,), (3, 0), (5,), (4, 7), (2, 3, 4)]
LAYOUTS = ["C", "F", "strided", "reversed", "transposed"]
# Relative tolerance of float results split along a reduced axis, by the
# result's precision (times the magnitude of what is summed).
RTOL = {2: 2e-2, 4: 1e-5, 8: 1e-12}


def make_array(rng: np.random.Generator, shape: tuple, dtype, layout: str, special: str,
               name: str) -> np.ndarray:
    """Values suited to the reduction: products of +-1 (and a few 2, 1/2)
    stay exact and in range; special values (never NaN and inf together,
    whose order of meeting decides NumPy's warnings) at random places."""
    dtype = np.dtype(dtype)
    base_shape = tuple(reversed(shape)) if layout == "transposed" else shape
    if layout == "strided" and base_shape:
        base_shape = (2 * base_shape[0],) + base_shape[1:]
    if dtype.kind == "b":
        x = rng.random(base_shape) < rng.choice([0.001, 0.5, 0.999])
    elif name in ("prod", "nanprod"):
        # (float16 only +-1: NumPy rounds its float32 products to float16
        # between inner loops, so where it overflows depends on the layout.)
        values, p = {"i": ([1, -1, 2], [0.5, 0.499, 0.001]), "u": ([1, 2], [0.999, 0.001]),
                     "f": ([1.0, -1.0, 2.0, 0.5], [0.5, 0.49, 0.005, 0.005]),
                     "c": ([1.0, -1.0, 2.0, 0.5], [0.5, 0.49, 0.005, 0.005])}[dtype.kind]
        if dtype == np.float16:
            values, p = [1.0, -1.0], [0.5, 0.5]
        x = rng.choice(values, size=base_shape, p=p).astype(dtype)
    elif dtype.kind in "iu":
        lo = 0 if dtype.kind == "u" else -100
        x = rng.integers(lo, 100, base_shape).astype(dtype)
        if name in ARGS + EXTREMES:
            x = rng.integers(lo, 5, base_shape).astype(dtype)  # many ties
    else:
        x = (rng.standard_normal(base_shape) * 10).astype(dtype)
        if dtype.kind == "c":
            x = x + 1j * (rng.standard_normal(base_shape) * 10).astype(dtype)
        if name in ARGS + EXTREMES:
            x = np.round(x)  # ties
        flat = x.reshape(-1)
        if special != "none" and flat.size:
            where = rng.integers(0, flat.size, rng.integers(1, 5))
            flat[where] = {"nan": np.nan, "zero": -0.0,
                           "inf": rng.choice([np.inf, -np.inf])}[special]
            if special == "nan" and rng.random() < 0.3 and x.ndim:
                x[(slice(None),) * (x.ndim - 1) + (0,)] = np.nan  # an all-NaN slice
    x = np.asarray(x, dtype=dtype)
    if layout == "F" and x.ndim:
        x = np.asfortranarray(x)
    elif layout == "strided" and x.ndim:
        x = x[::2]
    elif layout == "reversed":
        x = x[(slice(None, None, -1),) * x.ndim]
    elif layout == "transposed":
        x = x.T
    assert x.shape == shape
    return x


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, np.ndarray, dict]:
    name = draw(st.sampled_from(NAMES))
    dtype = draw(st.sampled_from(DTYPES))
    big = draw(st.integers(0, 4)) > 0
    shape = draw(st.sampled_from(BIG_SHAPES if big else SMALL_SHAPES))
    layout = draw(st.sampled_from(LAYOUTS))
    special = draw(st.sampled_from(["none", "none", "nan", "inf", "zero"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = make_array(rng, shape, dtype, layout, special, name)
    ndim = x.ndim

    kwargs: dict = {}
    valid = list(range(-ndim, ndim))
    kind = draw(st.sampled_from(["none", "int", "tuple", "bad"] if valid and name not in ARGS
                                else ["none", "int", "bad"] if valid else ["none", "bad"]))
    if kind == "none":
        kwargs["axis"] = None
    elif kind == "int":
        kwargs["axis"] = draw(st.sampled_from(valid))
    elif kind == "tuple":
        picked = draw(st.lists(st.sampled_from(range(ndim)), min_size=1, unique=True))
        kwargs["axis"] = tuple(ax - ndim if draw(st.booleans()) else ax for ax in picked)
    else:  # NumPy's errors: out of range, repeated, empty, not an int
        kwargs["axis"] = draw(st.sampled_from([ndim, -ndim - 1, (0, 0), (), 1.0, [0]]))
    if draw(st.booleans()):
        kwargs["keepdims"] = draw(st.booleans())
    if name not in ARGS + ["count_nonzero"] and draw(st.integers(0, 3)) == 0:
        mask = rng.random(shape) < 0.8
        if ndim and draw(st.booleans()):
            mask = mask[(0,) * (ndim - 1)]  # broadcast along the leading axes
        kwargs["where"] = mask
    if name in SUM_LIKE + EXTREMES and draw(st.integers(0, 3)) == 0:
        kwargs["initial"] = draw(st.sampled_from([0, 1, -3, 7]))
    if name in SUM_LIKE + MEANS + VARS and draw(st.integers(0, 3)) == 0:
        kwargs["dtype"] = draw(st.sampled_from([np.float64, np.complex128, np.int64,
                                                np.float32, dtype]))
    if name in VARS:
        which = draw(st.sampled_from(["", "ddof", "correction", "both"]))
        if which in ("ddof", "both"):
            kwargs["ddof"] = draw(st.sampled_from([0, 1, 2, 1.5]))
        if which in ("correction", "both"):
            kwargs["correction"] = 1
    kwargs["out"] = draw(st.sampled_from([None, None, "same", "float64"]))
    return name, x, kwargs


def run(func, x: np.ndarray, kwargs: dict, out_like) -> tuple:
    """(result, out array or None, exception type, warning categories)."""
    kwargs = dict(kwargs)
    out = None
    if kwargs.get("out") is not None:
        out = np.zeros_like(out_like, dtype=np.float64 if kwargs["out"] == "float64"
                            else out_like.dtype) if out_like is not None else None
        kwargs["out"] = out
        if out is None:
            del kwargs["out"]
    else:
        kwargs.pop("out", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result, error = func(x, **kwargs), None
        except Exception as e:  # compared with NumPy's own
            result, error = None, type(e)
    return result, out, error, {w.category for w in caught}


def split_of(name: str, x: np.ndarray, kwargs: dict) -> str:
    """How runtime splits this call: numpy (forwarded), kept or reduced."""
    if x.size < R.MIN_PARALLEL_ELEMENTS:
        return "numpy"
    p = R._plan(x, kwargs.get("axis"), kwargs.get("keepdims", np._NoValue),
                kwargs.get("where", np._NoValue), None, index=name in ARGS)
    return "numpy" if p is None else "kept" if p.kept >= 0 else "reduced"


def bits(value) -> bytes:
    """The bytes of a result, NaNs made one NaN: which NaN an operation on
    NaNs returns depends on the operand order in NumPy's SIMD loops."""
    value = np.array(value)
    if value.dtype.kind == "c":
        parts = value.view((value.real.dtype, (2,)))
        parts[np.isnan(parts)] = np.nan
    elif value.dtype.kind == "f":
        value[np.isnan(value)] = np.nan
    return np.ascontiguousarray(value).tobytes()


def assert_close(name: str, got, expected, x: np.ndarray, kwargs: dict) -> None:
    """Within NumPy's own error bound: rtol times the magnitude of the
    summands times their count (squared magnitude for variances)."""
    exp_a = np.asarray(expected)
    wide = np.complex128 if exp_a.dtype.kind == "c" else np.float64
    got_a, exp_a = np.asarray(got).astype(wide), exp_a.astype(wide)
    finite = x[np.isfinite(x)] if x.dtype.kind in "fc" else x
    magnitude = max(1.0, float(np.max(np.abs(finite)))) if finite.size else 1.0
    count = x.size // max(1, exp_a.size)
    rtol = RTOL[np.finfo(np.asarray(expected).dtype).bits // 8]
    scale = magnitude * count * (magnitude if name in ("var", "nanvar") else 2)
    for part in (np.real, np.imag):  # (allclose wants complex infinities equal)
        g, e = part(got_a), part(exp_a)
        assert np.allclose(g, e, rtol=rtol, atol=rtol * scale, equal_nan=True), (got_a, exp_a)
        assert np.array_equal(np.isinf(g), np.isinf(e))


@settings(max_examples=250, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=cases())
def test_same_as_numpy(threads, case):
    name, x, kwargs = case
    ours, theirs = getattr(R, name), getattr(np, name)
    plain = {k: v for k, v in kwargs.items() if k != "out"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out_like = np.asarray(theirs(x, **plain))
        except Exception:
            out_like = None
    expected, exp_out, exp_error, exp_warnings = run(theirs, x, kwargs, out_like)
    with _schedule.forced_split(1):  # every leaf (or row pair) a chunk on the pool
        got, got_out, error, got_warnings = run(ours, x, kwargs, out_like)

    assert error is exp_error
    if error is not None:
        return  # (the warnings before an error depend on which chunk failed first)
    assert got_warnings == exp_warnings
    if exp_out is not None:
        assert (got is got_out) == (expected is exp_out)
    assert type(got) is type(expected)
    got_a, exp_a = np.asarray(got), np.asarray(expected)
    assert got_a.dtype == exp_a.dtype and got_a.shape == exp_a.shape
    split = split_of(name, x, kwargs)
    if name in EXTREMES:
        # Exact; but which of -0.0 and 0.0 (or of 5-0j and 5+0j) is the
        # max depends on NumPy's SIMD path: values are compared.
        assert np.array_equal(got_a, exp_a, equal_nan=True)
    elif split != "reduced":
        assert bits(got_a) == bits(exp_a)
    elif exp_a.dtype.kind in "biu":
        assert np.array_equal(got_a, exp_a)
    else:
        assert_close(name, got, expected, x, kwargs)

    # The same bits with one thread as with two.
    if split == "reduced":
        runtime.set_num_threads(1)
        try:
            again, _, _, _ = run(ours, x, kwargs, out_like)  # inline, not forced
        finally:
            runtime.set_num_threads(threads)
        assert bits(again) == bits(got_a)


def parameters(func, follow_wrapped: bool = True) -> list[tuple]:
    return [(p.name, p.kind, p.default) for p in
            inspect.signature(func, follow_wrapped=follow_wrapped).parameters.values()]


def test_signatures_names_and_docs():
    for name in NAMES:
        ours, theirs = getattr(R, name), getattr(np, name)
        assert parameters(ours, False) == parameters(theirs), name
        assert ours.__name__ == ours.__qualname__ == name
        assert ours.__doc__ == theirs.__doc__
        assert ours.__module__ == "runtime.numpy"
    assert R.ufunc_reduce.__name__ == "ufunc_reduce"
    assert R.ufunc_reduce.__module__ == "runtime.numpy"
    params = list(inspect.signature(R.ufunc_reduce, follow_wrapped=False).parameters.values())[1:]
    assert [p.name for p in params] == ["array", "axis", "dtype", "out", "keepdims", "initial",
                                        "where"]
    assert [p.default for p in params][1:] == [0, None, None, False, np._NoValue, True]


@functools.lru_cache(maxsize=2)
def big_2d(order: str) -> np.ndarray:
    x = np.random.default_rng(5).standard_normal((2_000, 5_000))
    x[3, 7] = np.nan
    x = np.asarray(x, order=order)
    x.flags.writeable = False
    return x


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("order, axis", [("C", 1), ("C", -1), ("F", 0)])
def test_kept_axis_splits_are_bit_identical(threads, name, order, axis):
    x = big_2d(order)
    kwargs = {"ddof": 1} if name in VARS else {}
    assert split_of(name, x, {"axis": axis}) == "kept"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nanvar of NaN rows etc.: compared below
        expected = getattr(np, name)(x, axis=axis, **kwargs)
        got = getattr(R, name)(x, axis=axis, **kwargs)
    assert got.dtype == expected.dtype and bits(got) == bits(expected)


def test_columns_of_a_c_array_split_by_rows(threads):
    # Summing a C array over axis 0 in column blocks is slow (NumPy's inner
    # loop runs along the row): row blocks, partials combined in order.
    x = big_2d("C")
    assert split_of("sum", x, {"axis": 0}) == "reduced"
    got = R.nansum(x, axis=0)
    assert_close("nansum", got, np.nansum(x, axis=0), x, {})
    runtime.set_num_threads(1)
    assert bits(R.nansum(x, axis=0)) == bits(got)


def test_kept_axis_split_of_3d_and_out(threads):
    x = np.random.default_rng(6).random((64, 300, 100)).astype(np.float32)
    for axis in [(0, 2), (1, 2), 1, (0, 1)]:
        out = np.empty(np.sum(x, axis=axis).shape, np.float32)
        assert R.sum(x, axis=axis, out=out) is out
        if axis == (0, 1):
            # Kept axis 2 is the innermost and short: the reduced axes are split.
            assert split_of("sum", x, {"axis": axis}) == "reduced"
            assert_close("sum", out, np.sum(x, axis=axis), x, {})
            continue
        assert split_of("sum", x, {"axis": axis}) == "kept"
        assert bits(out) == bits(np.sum(x, axis=axis))
        assert bits(R.mean(x, axis=axis, keepdims=True)) == \
            bits(np.mean(x, axis=axis, keepdims=True))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32, np.complex128, np.bool_])
def test_full_reductions_are_deterministic_and_close(threads, name, dtype):
    rng = np.random.default_rng(8)
    x = (rng.standard_normal(1_000_003) * 100)
    if name in ("prod", "nanprod"):
        x = rng.choice([1.0, -1.0], size=x.size)
    x = x.astype(dtype) if dtype is not np.bool_ else x > 0
    ours, theirs = getattr(R, name), getattr(np, name)
    results = set()
    for n in (1, 2, 3, 2):
        runtime.set_num_threads(n)
        results.add(bits(ours(x)))
    runtime.set_num_threads(threads)
    assert len(results) == 1
    got, expected = ours(x), theirs(x)
    assert type(got) is type(expected)
    if np.asarray(expected).dtype.kind in "biu":
        assert got == expected
    else:
        assert_close(name, got, expected, x, {})


def test_big_reduction_runs_on_several_threads(threads, tmp_path):
    """The leaves of a big sum run on the pool's threads (NumPy's loop,
    native: traced as tasks of the caller and of a worker)."""
    x = np.random.default_rng(9).random(10_000_000)
    threads_seen: set[str] = set()
    for attempt in range(8):  # the first calls measure the cost of a leaf
        with runtime.trace(str(tmp_path / f"trace{attempt}.json")) as tr:
            assert R.sum(x) == R.sum(x)
        threads_seen |= {e.thread for e in tr.events if e.name == "task"}
        if len(threads_seen) == 2:
            break
    assert len(threads_seen) == 2, threads_seen


def test_argmin_argmax_follow_numpy(threads):
    n = 1_000_000
    x = np.zeros(n)
    x[[10, 500_000, 999_999]] = 5.0  # ties: the first occurrence
    assert R.argmax(x) == np.argmax(x) == 10
    x[[700_000, 900_000]] = np.nan  # NaN: the first NaN
    assert R.argmax(x) == R.argmin(x) == 700_000
    c = np.zeros(n, complex)
    c[[100, 600_000]] = [2 + 1j, 2 + 3j]  # lexicographic
    assert R.argmax(c) == np.argmax(c) == 600_000
    m = np.random.default_rng(1).integers(0, 3, (4, 300_000))
    for axis in (0, 1, -1, None):
        assert np.array_equal(R.argmin(m, axis=axis), np.argmin(m, axis=axis))
        out = np.empty(np.argmax(m, axis=axis, keepdims=True).shape, np.intp)
        assert R.argmax(m, axis=axis, out=out, keepdims=True) is out
        assert np.array_equal(out, np.argmax(m, axis=axis, keepdims=True))


@pytest.mark.parametrize("ufunc", [np.add, np.multiply, np.maximum, np.minimum, np.logical_and,
                                   np.logical_or, np.bitwise_and, np.bitwise_or,
                                   np.bitwise_xor, np.subtract, np.hypot])
def test_ufunc_reduce(threads, ufunc):
    x = np.random.default_rng(2).integers(1, 4, (300, 1_000)).astype(np.int16)
    if ufunc is np.hypot:
        x = x.astype(np.float64)
    for kwargs in [{}, {"axis": None}, {"axis": 1, "keepdims": True}, {"axis": (0, 1)},
                   {"axis": 0, "dtype": np.int64 if ufunc is not np.hypot else None}]:
        try:
            expected = ufunc.reduce(x, **kwargs)
        except Exception as e:
            with pytest.raises(type(e)):
                R.ufunc_reduce(ufunc, x, **kwargs)
            continue
        got = R.ufunc_reduce(ufunc, x, **kwargs)
        assert type(got) is type(expected)
        assert np.asarray(got).dtype == np.asarray(expected).dtype
        assert np.array_equal(got, expected)


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
def test_forwarded_inputs_keep_numpy_behaviour(threads, tmp_path):
    big = np.arange(200_000, dtype=np.float64).reshape(400, 500)
    inputs = [
        [1, 2, 3], 4.0, np.float32(2.5), np.matrix(big), np.ma.masked_less(big, 1000.0),
        np.array(["a", "b"]), np.arange(100_000).astype("datetime64[s]")[:0],
        np.array([1, None, 3], dtype=object), big.astype(">f8"),
    ]
    mm = np.memmap(tmp_path / "x.dat", dtype=np.float64, mode="w+", shape=(100_000,))
    mm[:] = 1.0
    inputs.append(mm)
    for x in inputs:
        for name in ["sum", "max", "mean", "argmax", "any", "count_nonzero", "nansum"]:
            try:
                expected = getattr(np, name)(x)
            except Exception as e:
                with pytest.raises(type(e)):
                    getattr(R, name)(x)
                continue
            got = getattr(R, name)(x)
            assert type(got) is type(expected), (name, type(x))
            assert np.array_equal(np.asarray(got), np.asarray(expected)), (name, type(x))


def test_numpy_errors(threads):
    x = np.ones((400, 500))
    with pytest.raises(np.exceptions.AxisError):
        R.sum(x, axis=2)
    with pytest.raises(ValueError, match="duplicate"):
        R.mean(x, axis=(0, 0))
    with pytest.raises(TypeError):
        R.argmax(x, axis=(0, 1))
    with pytest.raises(ValueError, match="identity"):
        R.max(x, where=x > 0)  # a where= mask needs initial=
    with pytest.raises(ValueError, match="simultaneously"):
        R.var(x, ddof=1, correction=1)
    with pytest.raises(ValueError):
        R.sum(x, axis=0, out=np.empty(3))
    with pytest.raises(TypeError):  # numpy's: bitwise ops need integers (raised in a chunk)
        R.ufunc_reduce(np.bitwise_and, x, axis=None)
    with pytest.raises(ValueError, match="zero-size"):
        R.max(np.ones((0, 3)))


def test_numpy_warnings(threads):
    x = np.random.default_rng(3).random((4, 300_000))
    empty_row = np.ones(x.shape, bool)
    empty_row[2] = False
    y = x.copy()
    y[1] = np.nan
    # (np.errstate holds in chunks too: 0/0 gives NumPy's "invalid" warning.)
    with np.errstate(invalid="ignore"):
        with pytest.warns(RuntimeWarning, match="Mean of empty slice"):
            got = R.mean(x, axis=1, where=empty_row)
        assert np.isnan(got[2]) and not np.isnan(got[1])
        with pytest.warns(RuntimeWarning, match="Mean of empty slice"):
            R.mean(np.empty(0))
        with pytest.warns(RuntimeWarning, match="Mean of empty slice"):
            R.nanmean(y, axis=1)
        with pytest.warns(RuntimeWarning, match="Mean of empty slice"):
            R.nanmean(y.T, axis=0)
    with pytest.warns(RuntimeWarning, match="All-NaN slice encountered"):
        got = R.nanmin(y, axis=1)
    assert np.isnan(got[1]) and got[0] == x[0].min()
    with pytest.warns(RuntimeWarning, match="Degrees of freedom"):
        R.nanvar(y, axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        with pytest.warns(RuntimeWarning, match="Degrees of freedom"):
            R.var(x, axis=1, ddof=x.shape[1])


def test_errstate_is_respected(threads):
    x = np.full(2_000_000, 10.0)
    with np.errstate(over="raise"):
        with pytest.raises(FloatingPointError):
            R.prod(x)
    with np.errstate(over="ignore"):
        assert R.prod(x) == np.inf
    with pytest.warns(RuntimeWarning, match="overflow"):
        R.prod(x)
    x[::2] = -np.inf
    x[1::2] = np.inf
    with np.errstate(invalid="ignore"):
        assert np.isnan(R.sum(x))


def test_small_inputs_take_numpy_path(threads):
    x = np.random.default_rng(4).random(1000)
    assert bits(R.sum(x)) == bits(np.sum(x))
    assert bits(R.mean(x)) == bits(np.mean(x))
    assert R.argmax(x) == np.argmax(x)
    assert R.count_nonzero(x > 0.5) == np.count_nonzero(x > 0.5)
    assert type(R.count_nonzero(x)) is type(np.count_nonzero(x))
