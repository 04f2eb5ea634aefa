"""Property tests against NumPy: random shapes, dtypes, layouts, grains,
thread counts."""

from __future__ import annotations

import operator
import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import runtime

settings.register_profile("default", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.register_profile("ci", max_examples=200, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

arrays = hnp.arrays(
    dtype=st.sampled_from([np.float64, np.float32, np.int64, np.int16, np.complex64]),
    shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=40),
)


@given(x=arrays, grain=st.one_of(st.none(), st.integers(1, 50)),
       n=st.integers(1, 4), reverse=st.booleans())
def test_map_matches_numpy(threads, x, grain, n, reverse):
    runtime.set_num_threads(n)
    if reverse:
        x = x[::-1]
    with np.errstate(all="ignore"):
        expected = np.negative(x) * 2
        got = runtime.map(lambda a: np.negative(a) * 2, x, grain=grain)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert np.array_equal(got, expected, equal_nan=x.dtype.kind in "fc")


@given(x=hnp.arrays(np.int64, st.integers(0, 5000), elements=st.integers(-2**40, 2**40)),
       grain=st.one_of(st.none(), st.integers(1, 700)), n=st.integers(1, 4))
def test_integer_reduction_is_exact(threads, x, grain, n):
    runtime.set_num_threads(n)
    assert runtime.reduce(np.sum, x, combine=operator.add, grain=grain) == x.sum()


@given(x=hnp.arrays(np.float64, st.integers(1, 5000),
                    elements=st.floats(-1e6, 1e6, allow_nan=False)),
       grain=st.integers(1, 700))
def test_float_reduction_does_not_depend_on_threads(threads, x, grain):
    results = set()
    for n in (1, 2, 3):
        runtime.set_num_threads(n)
        results.add(float(runtime.reduce(np.sum, x, combine=operator.add, grain=grain)).hex())
    assert len(results) == 1


@given(n=st.integers(0, 3000), grain=st.one_of(st.none(), st.integers(1, 100)))
def test_parallel_for_covers_range_once(threads, n, grain):
    hits = np.zeros(n, dtype=np.int64)

    def body(start, stop):
        hits[start:stop] += 1

    runtime.parallel_for(n, body, grain=grain)
    assert (hits == 1).all()
