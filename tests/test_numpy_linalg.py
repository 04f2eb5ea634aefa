"""runtime.numpy's matmul, dot, inner and tensordot: NumPy's results, dtypes, shapes and
errors, products tiled over several threads with BLAS held to one thread per tile."""

from __future__ import annotations

import inspect
import threading

import numpy as np
import pytest

import runtime
from runtime import _blas, _core
from runtime.numpy import _linalg
from runtime.numpy._linalg import dot, inner, matmul, tensordot

RTOL = {np.float32: 2e-5, np.float64: 1e-12, np.complex64: 2e-5, np.complex128: 1e-12}


def random(shape: tuple[int, ...], dtype: type = np.float64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dtype)


def assert_same(result: object, expected: object, dtype: type = np.float64) -> None:
    """Same type, dtype and shape as NumPy's, values to rounding.  A product's rounding error
    is bounded relative to the largest terms, not to each element (an element near zero
    comes from cancellation), hence atol at rtol times the largest magnitude."""
    assert type(result) is type(expected)
    assert np.shape(result) == np.shape(expected)
    assert np.asarray(result).dtype == np.asarray(expected).dtype
    scale = float(np.max(np.abs(expected), initial=1.0))
    np.testing.assert_allclose(result, expected, rtol=RTOL[dtype], atol=RTOL[dtype] * scale)


@pytest.fixture
def tiled(threads, monkeypatch):
    """Every product above zero flops takes the tiled path (small test shapes included);
    yields the list of output shapes _product tiled, to check the path was taken."""
    monkeypatch.setattr(_linalg, "MIN_PARALLEL_FLOPS", 0)
    monkeypatch.setattr(_linalg, "ALWAYS_TILE", True)
    shapes: list[tuple[int, ...]] = []
    original = _linalg._product

    def spy(a: np.ndarray, b: np.ndarray, out: np.ndarray, name: str = "matmul") -> None:
        shapes.append(out.shape)
        original(a, b, out, name)

    monkeypatch.setattr(_linalg, "_product", spy)
    return shapes


MATMUL_SHAPES = [
    ((300, 200), (200, 250)),  # row blocks
    ((40, 30), (30, 50)),  # smaller than one tile: cut into one block per thread
    ((17, 1000), (1000, 3000)),  # few rows: column blocks
    ((700, 33), (33, 9)),
    ((4, 60, 70), (70, 50)),  # batched, few matrices: tiles inside each
    ((2, 3, 40, 30), (3, 30, 20)),  # broadcast batch dimensions
    ((3, 1, 40, 30), (1, 4, 30, 20)),  # batch axes that do not merge into one
    ((200, 8, 8), (200, 8, 8)),  # many small matrices: groups of matrices
    ((1, 1, 50, 60), (60, 70)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
@pytest.mark.parametrize(("shape1", "shape2"), MATMUL_SHAPES)
def test_matmul_matches_numpy(tiled, shape1, shape2, dtype):
    a, b = random(shape1, dtype, 1), random(shape2, dtype, 2)
    result = matmul(a, b)
    assert_same(result, np.matmul(a, b), dtype)
    assert result.strides == np.matmul(a, b).strides
    assert tiled, "the product went to NumPy instead of the pool"


@pytest.mark.parametrize(("shape1", "shape2"), [
    ((50,), (50, 40)),  # 1-D x 2-D: a 1 is prepended, then removed
    ((40, 50), (50,)),  # 2-D x 1-D: a 1 is appended, then removed
    ((50,), (50,)),  # 1-D x 1-D: a scalar
    ((50,), (3, 50, 40)),
    ((3, 40, 50), (50,)),
])
def test_matmul_vectors_match_numpy(tiled, shape1, shape2):
    a, b = random(shape1, seed=1), random(shape2, seed=2)
    assert_same(matmul(a, b), np.matmul(a, b))
    assert not tiled  # matrix-vector products are memory-bound: NumPy's


@pytest.mark.parametrize(("shape1", "shape2"), [
    ((0, 30), (30, 20)), ((20, 0), (0, 30)), ((20, 30), (30, 0)), ((0, 20, 30), (30, 10)),
    ((2, 0, 30), (2, 30, 10)), ((0,), (0, 5)),
])
def test_matmul_empty_dimensions_match_numpy(tiled, shape1, shape2):
    a, b = random(shape1, seed=1), random(shape2, seed=2)
    assert_same(matmul(a, b), np.matmul(a, b))  # k = 0 gives zeros


@pytest.mark.parametrize("layout", ["fortran", "strided", "transposed", "negative"])
def test_matmul_layouts_match_numpy(tiled, layout):
    a, b = random((120, 90), seed=1), random((90, 110), seed=2)
    if layout == "fortran":
        a, b = np.asfortranarray(a), np.asfortranarray(b)
    elif layout == "strided":
        a, b = random((240, 270), seed=1)[::2, ::3], random((90, 330), seed=2)[:, ::3]
    elif layout == "transposed":
        a, b = random((90, 120), seed=1).T, random((110, 90), seed=2).T
    else:
        a, b = a[::-1], b[:, ::-1]
    assert_same(matmul(a, b), np.matmul(a, b))
    assert tiled


def test_matmul_large_float64_matches_numpy(threads):
    # The real threshold, row blocks with TILE_ALIGN edges.
    a, b = random((1000, 600), seed=1), random((600, 700), seed=2)
    assert_same(matmul(a, b), a @ b)


@pytest.mark.parametrize("out_layout", ["contiguous", "fortran", "strided", "tuple"])
def test_matmul_out_is_filled_and_returned(tiled, out_layout):
    a, b = random((2, 130, 70), seed=1), random((70, 90), seed=2)
    if out_layout == "fortran":
        out = np.asfortranarray(np.empty((2, 130, 90)))
    elif out_layout == "strided":
        out = np.empty((2, 260, 180))[:, ::2, ::2]
    else:
        out = np.empty((2, 130, 90))
    result = matmul(a, b, out=(out,) if out_layout == "tuple" else out)
    assert result is out
    assert_same(out, np.matmul(a, b))
    assert tiled


def test_matmul_out_overlapping_an_input_goes_to_numpy(tiled):
    a, b = random((64, 64), seed=1), random((64, 64), seed=2)
    expected = a @ b
    result = matmul(a, b, out=a)
    assert result is a
    assert_same(a, expected)
    assert not tiled


def test_matmul_out_of_another_dtype_casts_as_numpy(tiled):
    a, b = random((60, 70), seed=1), random((70, 80), seed=2)
    out, expected = np.empty((60, 80), np.float32), np.empty((60, 80), np.float32)
    matmul(a, b, out=out)
    np.matmul(a, b, out=expected)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize(("dtype1", "dtype2", "dtype"), [
    (np.float64, np.float64, np.float32),
    (np.float32, np.float32, np.float64),
    (np.float64, np.float64, np.complex128),
    (np.float32, np.float64, None),
    (np.float32, np.complex64, None),
])
def test_matmul_dtype_and_mixed_dtypes_match_numpy(tiled, dtype1, dtype2, dtype):
    a, b = random((50, 60), dtype1, 1), random((60, 40), dtype2, 2)
    expected = np.matmul(a, b, dtype=dtype)
    assert_same(matmul(a, b, dtype=dtype), expected, expected.dtype.type)
    assert tiled


def test_matmul_keywords_are_numpys(tiled):
    a, b = random((2, 50, 60), seed=1), random((2, 60, 40), seed=2)
    assert_same(matmul(a, b, order="C", subok=False, casting="safe"), np.matmul(a, b))
    for order in ("F", "A"):
        result, expected = matmul(a, b, order=order), np.matmul(a, b, order=order)
        assert_same(result, expected)
        assert result.strides == expected.strides
    axes = [(-2, -1), (-2, -1), (-1, -2)]
    assert_same(matmul(a, b, axes=axes), np.matmul(a, b, axes=axes))
    with pytest.raises(TypeError):
        np.matmul(a, b, bogus=1)
    with pytest.raises(TypeError):
        matmul(a, b, bogus=1)


def test_matmul_batch_layout_follows_numpy(tiled):
    a = random((3, 4, 30, 20), seed=1).transpose(1, 0, 2, 3)  # batch axes not in C order
    b = random((20, 10), seed=2)
    result, expected = matmul(a, b), np.matmul(a, b)
    assert_same(result, expected)
    assert result.strides == expected.strides


@pytest.mark.parametrize(("shape1", "shape2"), [
    ((30, 40), (50, 60)), ((3, 30, 40), (2, 40, 60)), ((40,), (50,)), ((30, 40), (30,)),
])
def test_matmul_errors_are_numpys(tiled, shape1, shape2):
    a, b = random(shape1, seed=1), random(shape2, seed=2)
    with pytest.raises(ValueError) as expected:
        np.matmul(a, b)
    with pytest.raises(ValueError) as raised:
        matmul(a, b)
    assert str(raised.value) == str(expected.value)
    assert type(raised.value) is type(expected.value)


def test_matmul_casting_errors_are_numpys(tiled):
    a, b = random((30, 40), np.float32, 1), random((40, 50), seed=2)
    for kwargs in ({"casting": "no"}, {"dtype": np.float32, "casting": "safe"}):
        with pytest.raises(TypeError) as expected:
            np.matmul(a, b, **kwargs)
        with pytest.raises(TypeError) as raised:
            matmul(a, b, **kwargs)
        assert type(raised.value) is type(expected.value)
        assert str(raised.value) == str(expected.value)
    with pytest.raises(ValueError, match="Output operand 0 has a mismatch"):
        matmul(a, b, out=np.empty((30, 51)))


class Tagged(np.ndarray):
    """A subclass: NumPy's matmul keeps it through __array_wrap__."""


@pytest.mark.parametrize("case", ["list", "subclass", "integer", "object", "bool", "float16"])
def test_what_cannot_be_tiled_goes_to_numpy_unchanged(tiled, case):
    a, b = random((30, 40), seed=1), random((40, 20), seed=2)
    if case == "list":
        a = a.tolist()
    elif case == "subclass":
        a = a.view(Tagged)
    elif case == "integer":
        a, b = (a * 100).astype(np.int64), (b * 100).astype(np.int64)
    elif case == "object":
        a = a.astype(object)
    elif case == "bool":
        a, b = a > 0, b > 0
    else:
        a, b = a.astype(np.float16), b.astype(np.float16)
    result, expected = matmul(a, b), np.matmul(a, b)
    assert type(result) is type(expected)
    assert result.dtype == expected.dtype
    np.testing.assert_array_equal(result, expected)
    assert not tiled


def test_array_ufunc_overrides_are_honoured(tiled):
    class Override:
        def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
            return "overridden"

    assert matmul(random((3, 3)), Override()) == "overridden"


def test_one_thread_calls_numpy(tiled):
    runtime.set_num_threads(1)
    a, b = random((60, 70), seed=1), random((70, 80), seed=2)
    assert_same(matmul(a, b), a @ b)
    assert_same(dot(a, b), a @ b)
    assert not tiled


def test_large_matmul_runs_on_several_threads_with_blas_at_one(threads, monkeypatch):
    # The first task each thread runs waits for the other thread's first: only two threads
    # running tiles at the same time get past the barrier.
    barrier = threading.Barrier(2, timeout=30)
    idents: set[int] = set()
    blas_in_tasks: list[dict[str, int]] = []
    original = _linalg._run_tasks

    def run_tasks(tasks):
        def recorded(task):
            def run():
                blas_in_tasks.append(_blas.blas_threads())
                if threading.get_ident() not in idents:
                    idents.add(threading.get_ident())
                    barrier.wait()
                return task()
            return run

        original([recorded(task) for task in tasks])

    monkeypatch.setattr(_linalg, "_run_tasks", run_tasks)
    monkeypatch.setattr(_linalg, "ALWAYS_TILE", True)
    blas_before = _blas.blas_threads()
    steals_before = _core.stats()["steals"]
    a, b = random((1024, 512), seed=1), random((512, 768), seed=2)
    assert_same(matmul(a, b), a @ b)
    assert len(idents) == 2
    assert _core.stats()["steals"] > steals_before
    assert blas_in_tasks and all(set(t.values()) <= {1} for t in blas_in_tasks)
    assert _blas.blas_threads() == blas_before


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
@pytest.mark.parametrize(("shape1", "shape2"), [
    ((120, 90), (90, 70)), ((3, 40, 90), (90, 70)), ((90,), (90, 70)), ((40, 90), (90,)),
    ((90,), (90,)), ((2, 3, 40), (5, 40, 6)), ((0, 5), (5, 7)),
])
def test_dot_matches_numpy(tiled, shape1, shape2, dtype):
    a, b = random(shape1, dtype, 1), random(shape2, dtype, 2)
    assert_same(dot(a, b), np.dot(a, b), dtype)


def test_dot_scalars_and_lists_match_numpy(tiled):
    assert dot(3, 4) == np.dot(3, 4)
    assert_same(dot([[1.0, 2.0]], [[3.0], [4.0]]), np.dot([[1.0, 2.0]], [[3.0], [4.0]]))


def test_dot_out(tiled):
    a, b = random((3, 50, 60), seed=1), random((60, 40), seed=2)
    out = np.empty((3, 50, 40))
    assert dot(a, b, out) is out
    assert_same(out, np.dot(a, b))
    assert tiled
    for bad in (np.empty((3, 50, 40), order="F"), np.empty((3, 50, 40), np.float32),
                np.empty((3, 50, 41))):
        with pytest.raises(ValueError) as expected:
            np.dot(a, b, bad)
        with pytest.raises(ValueError) as raised:
            dot(a, b, bad)
        assert str(raised.value) == str(expected.value)


def test_dot_errors_are_numpys(tiled):
    a, b = random((30, 40), seed=1), random((50, 20), seed=2)
    with pytest.raises(ValueError) as expected:
        np.dot(a, b)
    with pytest.raises(ValueError) as raised:
        dot(a, b)
    assert str(raised.value) == str(expected.value)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
@pytest.mark.parametrize(("shape1", "shape2"), [
    ((60, 50), (70, 50)), ((2, 30, 50), (4, 50)), ((50,), (70, 50)), ((50,), (50,)),
    ((0, 5), (3, 5)),
])
def test_inner_matches_numpy(tiled, shape1, shape2, dtype):
    a, b = random(shape1, dtype, 1), random(shape2, dtype, 2)
    assert_same(inner(a, b), np.inner(a, b), dtype)


def test_inner_errors_are_numpys(tiled):
    with pytest.raises(ValueError) as expected:
        np.inner(np.ones((3, 4)), np.ones((3, 5)))
    with pytest.raises(ValueError) as raised:
        inner(np.ones((3, 4)), np.ones((3, 5)))
    assert str(raised.value) == str(expected.value)


def test_vdot_is_numpys():
    import runtime.numpy as rnp

    assert rnp.vdot is np.vdot  # one memory-bound dot product: nothing to tile


@pytest.mark.parametrize(("shape1", "shape2", "axes"), [
    ((30, 40, 50), (40, 50, 20), 2),
    ((30, 40, 50), (50, 20), 1),
    ((30, 40), (20, 10), 0),
    ((30, 40, 50), (50, 40, 20), ([1, 2], [1, 0])),
    ((30, 40, 50), (40, 20), (1, 0)),
    ((30, 40, 50), (50, 40, 20), ((-1, -2), (0, 1))),
])
def test_tensordot_matches_numpy(tiled, shape1, shape2, axes):
    a, b = random(shape1, seed=1), random(shape2, seed=2)
    assert_same(tensordot(a, b, axes), np.tensordot(a, b, axes))
    assert tiled


@pytest.mark.parametrize("axes", [([1, 2], [1, 0]), 3, ([0], [5]), ([0, 0], [0, 1])])
def test_tensordot_errors_are_numpys(tiled, axes):
    a, b = random((30, 40, 50), seed=1), random((40, 30, 20), seed=2)
    with pytest.raises(Exception) as expected:
        np.tensordot(a, b, axes)
    with pytest.raises(Exception) as raised:
        tensordot(a, b, axes)
    assert type(raised.value) is type(expected.value)
    assert str(raised.value) == str(expected.value)


@pytest.mark.parametrize("name", ["matmul", "dot", "inner", "tensordot"])
def test_functions_look_like_numpys(name):
    ours, numpys = getattr(_linalg, name), getattr(np, name)
    assert ours.__name__ == numpys.__name__ == name
    assert ours.__qualname__ == name
    assert ours.__doc__ == numpys.__doc__
    assert ours.__module__ == "runtime.numpy"
    assert inspect.signature(ours) == inspect.signature(numpys)


def test_products_take_the_faster_way_measured_per_shape(threads, monkeypatch):
    """Tiles or NumPy's call whole: each once, then the faster."""
    monkeypatch.setattr(_linalg, "MIN_PARALLEL_FLOPS", 0)
    monkeypatch.setattr(_linalg, "_timings", {})
    ways: list[str] = []
    tiled = _linalg._tiled

    def spy(a, b, out, name="matmul"):
        ways.append("tiles")
        tiled(a, b, out, name)

    monkeypatch.setattr(_linalg, "_tiled", spy)
    a, b = random((64, 48), seed=1), random((48, 80), seed=2)
    assert_same(matmul(a, b), a @ b)
    assert ways == []  # first: NumPy's call whole
    assert_same(matmul(a, b), a @ b)
    assert ways == ["tiles"]  # then tiles
    (timings,) = _linalg._timings.values()
    assert timings.whole > 0 and timings.tiles > 0
    timings.tiles, timings.whole = 1.0, 2.0  # tiles faster
    assert_same(matmul(a, b), a @ b)
    assert ways == ["tiles", "tiles"]
    timings.tiles = 3.0  # now slower
    assert_same(matmul(a, b), a @ b)
    assert ways == ["tiles", "tiles"]


def test_the_slower_way_is_tried_again_every_so_often():
    timings = _linalg._Timings()
    assert timings.pick() == "whole"
    timings.whole = 2.0
    assert timings.pick() == "tiles"
    timings.tiles = 1.0
    picks = [timings.pick() for _ in range(2 * _linalg.RETRY_OTHER_WAY)]
    retries = [i for i, way in enumerate(picks) if way == "whole"]
    assert len(retries) == 2 and retries[1] - retries[0] == _linalg.RETRY_OTHER_WAY
