"""runtime.reduce: exact for integers, deterministic for floats."""

from __future__ import annotations

import operator

import numpy as np
import pytest

import runtime
from runtime import _map


def test_integer_sum_is_exact(threads):
    x = np.arange(3_000_000, dtype=np.int64)
    assert runtime.reduce(np.sum, x, combine=operator.add) == x.sum()


def test_float_sum_is_the_same_bits_on_every_run_and_thread_count(threads):
    x = np.random.default_rng(7).standard_normal(2_000_000) * 1e6
    results = set()
    for n in (1, 2, 3, 4, 2, 1):
        runtime.set_num_threads(n)
        for _ in range(3):
            results.add(float(runtime.reduce(np.sum, x, combine=operator.add)).hex())
    assert len(results) == 1
    # ...and within NumPy's own error bound of the true sum.
    assert abs(float.fromhex(results.pop()) - np.sum(x)) <= 1e-9 * np.abs(x).sum()


def test_partials_are_combined_in_leaf_order(threads):
    # A non-commutative combine shows the order: concatenating the chunks
    # must give back the input.
    x = np.arange(1_000_000)
    parts = runtime.reduce(lambda a: [a], x, combine=operator.add, grain=10_000)
    assert len(parts) == 100
    assert np.array_equal(np.concatenate(parts), x)


def test_leaves_depend_on_shape_and_grain_only(threads):
    assert _map.leaf_rows(10_000_000, 1, 8, None) == _map.leaf_rows(10_000_000, 1, 8, None)
    assert _map.leaf_rows(10_000_000, 1, 8, 12345) == 12345
    leaf = _map.leaf_rows(10_000_000, 1, 8, None)
    assert leaf % 8 == 0 and -(-10_000_000 // leaf) <= _map.MAX_LEAVES
    small = _map.leaf_rows(1000, 1, 8, None)
    assert small >= 1000  # small inputs are one leaf: func(x) itself


def test_small_and_empty_inputs_are_one_call(threads):
    x = np.random.default_rng(0).random(1000)
    assert runtime.reduce(np.sum, x, combine=operator.add) == np.sum(x)
    assert runtime.reduce(np.sum, np.empty(0), combine=operator.add) == 0.0
    assert runtime.reduce(np.max, np.float64(3.0), combine=max) == 3.0


def test_reductions_over_rows_and_several_arrays(threads):
    a = np.random.default_rng(1).random((300_000, 3))
    b = np.random.default_rng(2).random((300_000, 3))
    dot = runtime.reduce(lambda p, q: (p * q).sum(axis=0), a, b, combine=operator.add)
    assert np.allclose(dot, (a * b).sum(axis=0), rtol=1e-12)
    assert runtime.reduce(np.max, a, combine=max) == a.max()


def test_bad_arguments(threads):
    with pytest.raises(TypeError, match="combine"):
        runtime.reduce(np.sum, np.ones(3))  # combine is required
    with pytest.raises(TypeError, match="combine must be callable"):
        runtime.reduce(np.sum, np.ones(3), combine=1)
    with pytest.raises(ValueError, match=r"grain must be 1 to 2\*\*63 - 1"):
        runtime.reduce(np.sum, np.ones(3), combine=operator.add, grain=-5)
    with pytest.raises(ValueError, match="argument 2 has 4 rows"):
        runtime.reduce(np.dot, np.ones(3), np.ones(4), combine=operator.add)


def _python_leaves(monkeypatch):
    """The same reduction with every leaf run as Python (np.sum called)."""
    monkeypatch.setattr(_map, "native_partials", lambda *args: None)


@pytest.mark.parametrize("make", [
    lambda rng: rng.standard_normal(1_000_003) * 1e6,
    lambda rng: rng.standard_normal((4000, 301)).astype(np.float32),
    lambda rng: rng.integers(-2**40, 2**40, 2_000_000),
    lambda rng: rng.integers(0, 2**40, 2_000_000).astype(np.uint64),
])
def test_np_sum_leaves_on_numpys_loop_give_the_python_paths_bits(make, threads, monkeypatch):
    x = make(np.random.default_rng(3))
    calls: list[int] = []
    original = _map.native_partials

    def spy(*args):
        found = original(*args)
        calls.append(found is not None)
        return found

    monkeypatch.setattr(_map, "native_partials", spy)
    native = runtime.reduce(np.sum, x, combine=operator.add)
    also = runtime.reduce(np.add.reduce, x.reshape(-1), combine=np.add)
    assert calls == [True, True]  # both took the loop path
    _python_leaves(monkeypatch)
    python = runtime.reduce(np.sum, x, combine=operator.add)
    also_python = runtime.reduce(np.add.reduce, x.reshape(-1), combine=np.add)
    assert type(native) is type(python) and native.dtype == python.dtype
    assert native.tobytes() == python.tobytes() and also.tobytes() == also_python.tobytes()


def test_np_sum_leaves_that_overflow_warn_as_the_python_path(threads, monkeypatch):
    x = np.full(1_000_000, 1e303)
    with pytest.warns(RuntimeWarning) as native:
        a = runtime.reduce(np.sum, x, combine=operator.add)
    _python_leaves(monkeypatch)
    with pytest.warns(RuntimeWarning) as python:
        b = runtime.reduce(np.sum, x, combine=operator.add)
    assert a == b == np.inf
    assert [str(w.message) for w in native] == [str(w.message) for w in python]


def test_other_sums_keep_the_python_leaves(threads, monkeypatch):
    calls: list[int] = []
    original = _map.native_partials
    monkeypatch.setattr(_map, "native_partials",
                        lambda *args: calls.append(original(*args) is not None))
    x = np.arange(1_000_000, dtype=np.int32)  # np.sum widens int32: not its own loop
    assert runtime.reduce(np.sum, x, combine=operator.add) == x.sum(dtype=np.int64)
    y = np.arange(2_000_000, dtype=np.float64)[::2]  # not contiguous
    assert runtime.reduce(np.sum, y, combine=operator.add) == y.sum()
    z = np.arange(1_000_000, dtype=np.float64)
    assert runtime.reduce(np.sum, z, combine=max) == max(  # combine is not an add
        np.sum(z[i:i + 2**17]) for i in range(0, z.size, 2**17))
    assert calls == [False, False, False]
