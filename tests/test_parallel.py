"""@runtime.parallel: which arguments are split, outputs, reductions."""

from __future__ import annotations

import operator

import numpy as np
import pytest

import runtime


@runtime.parallel
def norm(a, b):
    """Euclidean norm, elementwise."""
    return np.sqrt(a * a + b * b)


@runtime.parallel(reduce=operator.add)
def sumsq(a):
    return float(a @ a)


def test_decorated_function_matches_the_plain_one(threads):
    a, b = np.random.default_rng(0).random((2, 1_000_000))
    assert np.array_equal(norm(a, b), norm.__wrapped__(a, b))
    assert norm.__name__ == "norm" and norm.__doc__ == "Euclidean norm, elementwise."
    assert sumsq(a) == pytest.approx(float(a @ a), rel=1e-12)


def test_what_is_split_and_what_passes_whole(threads):
    seen = []

    @runtime.parallel(grain=1000)
    def f(x, scale, table, zero_d, *, weights):
        seen.append((len(x), scale, len(table), zero_d.shape, len(weights)))
        return x * scale + table[0] + zero_d + weights.sum()

    x = np.arange(10_000.0)
    table = np.array([100.0, 200.0, 300.0])  # another length: passes whole
    weights = np.ones(10_000)  # keyword arguments pass whole, whatever their length
    out = f(x, 2.0, table, np.array(5.0), weights=weights)
    assert np.array_equal(out, x * 2.0 + 100.0 + 5.0 + 10_000.0)
    assert all(1000 <= rows < 2000 for rows, *_ in seen)  # grain=1000: 1000..1999 rows
    assert {tuple(rest) for _, *rest in seen} == {(2.0, 3, (), 10_000)}


def test_nothing_to_split_calls_the_function_once(threads):
    calls = []

    @runtime.parallel
    def f(a, b=1):
        calls.append(a)
        return a + b

    assert f(3) == 4 and f(np.float64(2.0)) == 3.0 and f(np.empty(0)).shape == (0,)
    assert len(calls) == 3


def test_tuple_results_and_reductions_with_grain(threads):
    @runtime.parallel(grain=777)
    def split_parts(a):
        return a.real.copy(), a.imag.copy()

    z = np.random.default_rng(1).random(50_000) + 1j
    re, im = split_parts(z)
    assert np.array_equal(re, z.real) and np.array_equal(im, z.imag)

    @runtime.parallel(reduce=operator.add, grain=1000)
    def count_positive(a):
        return int((a > 0).sum())

    x = np.random.default_rng(2).standard_normal(100_000)
    assert count_positive(x) == int((x > 0).sum())


def test_wrong_results_name_the_function(threads):
    @runtime.parallel(grain=1000)
    def total(a):
        return a.sum()

    with pytest.raises(ValueError, match=r"total \(runtime.parallel\): chunk .* reduce="):
        total(np.ones(10_000))


def test_bad_decorator_arguments():
    with pytest.raises(TypeError, match="must be callable"):
        runtime.parallel(3)
    with pytest.raises(TypeError, match="reduce must be callable"):
        runtime.parallel(reduce="add")(lambda a: a)
    with pytest.raises(ValueError, match=r"grain must be 1 to 2\*\*63 - 1"):
        runtime.parallel(grain=0)(lambda a: a)
