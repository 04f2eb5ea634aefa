"""runtime.map: same results as NumPy, out= in place, clear errors."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import runtime

SIZES = [0, 1, 7, 1000, 100_003, 1_000_000]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("func", [np.sin, np.exp, np.sqrt, np.negative])
def test_ufunc_map_is_bit_identical_to_numpy(threads, func, n):
    x = np.random.default_rng(n).random(n) * 10
    assert np.array_equal(runtime.map(func, x), func(x))
    # Forced fine chunks: every boundary is a chunk boundary somewhere.
    y = runtime.map(func, x, grain=max(1, n // 97))
    assert y.dtype == func(x).dtype and np.array_equal(y, func(x))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64, np.complex128])
def test_dtypes_are_kept(threads, dtype):
    x = (np.arange(300_000) % 1000).astype(dtype)
    for func in (np.negative, np.square, lambda a: a * 3 + 1):
        expected = func(x)
        got = runtime.map(func, x, grain=4096)
        assert got.dtype == expected.dtype and np.array_equal(got, expected)


@pytest.mark.parametrize("layout", ["C", "F", "strided", "reversed"])
def test_layouts_and_rows(threads, layout):
    base = np.random.default_rng(1).random((20_000, 6))
    x = {"C": base, "F": np.asfortranarray(base), "strided": base[::2, ::3],
         "reversed": base[::-1]}[layout]
    expected = np.sin(x)
    got = runtime.map(np.sin, x, grain=333)
    assert got.shape == expected.shape and np.array_equal(got, expected)
    rows = runtime.map(lambda a: a.sum(axis=1, keepdims=True), x, grain=500)
    assert np.array_equal(rows, x.sum(axis=1, keepdims=True))


def test_several_arrays_and_out_in_place(threads):
    x = np.linspace(0.0, 1.0, 500_000)
    w = np.full_like(x, 2.0)
    buf = np.empty_like(x)
    result = runtime.map(lambda a, b: a * b + 1, x, w, out=buf)
    assert result is buf
    assert np.array_equal(buf, x * w + 1)
    ufunc_out = np.empty_like(x)
    assert runtime.map(np.add, x, w, out=ufunc_out) is ufunc_out
    assert np.array_equal(ufunc_out, x + w)


def test_out_casting_follows_numpy(threads):
    x = np.arange(100_000, dtype=np.float64)
    with pytest.raises(TypeError):  # NumPy's own ufunc error for out=
        runtime.map(np.sin, x, out=np.empty(100_000, dtype=np.int64))
    with pytest.raises(TypeError, match="same_kind"):
        runtime.map(lambda a: a * 0.5, x, out=np.empty(100_000, dtype=np.int64))
    wide = np.empty(100_000, dtype=np.float64)
    runtime.map(lambda a: (a * 2).astype(np.float32), x.astype(np.float32), out=wide)
    assert np.array_equal(wide, x * 2)


def test_in_place_on_the_input(threads):
    x = np.random.default_rng(2).random(300_000)
    expected = np.exp(x)
    assert runtime.map(np.exp, x, out=x) is x
    assert np.array_equal(x, expected)


@pytest.mark.parametrize("shift", [1, -1, 999, -1001])
def test_out_overlapping_an_input_gives_numpys_result(threads, shift):
    """Chunks writing out= changed other chunks' inputs (out=z[1:] of input
    z[:-1] differed from NumPy on ~one element per chunk boundary): inputs
    that share memory with out= are copied first, as NumPy does."""
    n = 300_000
    src, dst = (slice(None, -shift), slice(shift, None)) if shift > 0 else \
        (slice(-shift, None), slice(None, shift))
    z = np.arange(float(n))
    expected = z.copy()
    np.multiply(expected[src], expected[src], out=expected[dst])
    runtime.map(np.multiply, z[src], z[src], out=z[dst], grain=1000)
    assert np.array_equal(z, expected)
    # A Python function (results copied into out=): func of the inputs as
    # they were, as out[...] = func(x) would give.
    z = np.arange(float(n))
    expected = z.copy()
    expected[dst] = expected[src] * 2 + 1
    runtime.map(lambda a: a * 2 + 1, z[src], out=z[dst], grain=1000)
    assert np.array_equal(z, expected)


def test_out_overlapping_in_other_layouts(threads):
    z = np.arange(200_000.0)
    expected = z.copy()
    np.negative(expected, out=expected[::-1])
    runtime.map(np.negative, z, out=z[::-1], grain=1000)
    assert np.array_equal(z, expected)
    # Rows of a 2-D array written into the next column's rows.
    m = np.arange(2 * 100_000.0).reshape(100_000, 2)
    expected = m.copy()
    np.add(expected[:-1, 0], 1.0, out=expected[1:, 1])
    runtime.map(lambda a: a + 1.0, m[:-1, 0], out=m[1:, 1], grain=1000)
    assert np.array_equal(m, expected)
    # One of two tuple outputs overlaps the second input.
    x, y = np.arange(100_000.0), np.arange(100_001.0)
    first, y_copy = np.empty_like(x), y.copy()
    runtime.map(lambda a, b: (a + b, a * b), x, y[1:], out=(first, y[:-1]), grain=1000)
    assert np.array_equal(first, x + y_copy[1:]) and np.array_equal(y[:-1], x * y_copy[1:])


def test_only_overlapping_inputs_are_copied(threads):
    x = np.arange(100_000.0)
    other = np.arange(100_000.0)
    seen = []

    def record(a, b):
        seen.append((np.shares_memory(a, x), np.shares_memory(b, other)))
        return a + b

    # out= the first input itself: in place, no copy; the second is apart.
    runtime.map(record, x, other, out=x, grain=1000)
    assert seen and all(seen_a and seen_b for seen_a, seen_b in seen)
    seen.clear()
    runtime.map(record, x, other, out=x[::-1], grain=1000)  # overlaps: copied
    assert seen and not any(seen_a for seen_a, _ in seen) and all(b for _, b in seen)


def test_tuple_results_give_tuple_outputs(threads):
    x = np.random.default_rng(3).random(200_000) * 100
    frac, whole = runtime.map(np.modf, x, grain=1000)
    ef, ew = np.modf(x)
    assert np.array_equal(frac, ef) and np.array_equal(whole, ew)
    both = runtime.map(lambda a: (a, a * 2), x, grain=5000)
    assert isinstance(both, tuple) and np.array_equal(both[1], x * 2)


def test_zero_dimensional_and_empty_inputs_run_as_numpy(threads):
    assert runtime.map(np.sin, np.float64(0.5)) == np.sin(0.5)
    empty = runtime.map(np.sin, np.empty((0, 3)))
    assert empty.shape == (0, 3)
    assert runtime.map(np.sin, [0.0, 1.0]).tolist() == np.sin([0.0, 1.0]).tolist()


def test_chunks_run_on_several_threads_at_once(threads):
    # Both chunks wait for each other: only two threads running chunks at
    # the same time get past the barrier.  (With out= given there is no
    # first chunk run alone to allocate the output.)
    barrier = threading.Barrier(2, timeout=30)
    idents = set()

    def both_at_once(a):
        idents.add(threading.get_ident())
        barrier.wait()
        return a

    x = np.arange(2.0)
    out = np.empty_like(x)
    assert np.array_equal(runtime.map(both_at_once, x, grain=1, out=out), x)
    assert len(idents) == 2


def test_mismatched_lengths_name_the_argument(threads):
    with pytest.raises(ValueError, match="argument 2 has 9 rows along axis 0 but argument 1 "):
        runtime.map(np.add, np.ones(10), np.ones(9))
    with pytest.raises(ValueError, match="argument 2 .* 0-dimensional"):
        runtime.map(np.add, np.ones(10), np.float64(1))


def test_wrong_chunk_results_are_reported(threads):
    x = np.ones(100_000)
    with pytest.raises(ValueError, match=r"chunk \[.*\] returned shape \(\).*reduce="):
        runtime.map(np.sum, x, grain=1000)
    with pytest.raises(ValueError, match="returned shape"):
        runtime.map(lambda a: a[:-1], x, grain=1000)

    def dtype_changes(a):
        return a.astype(np.float32) if a[0] == 0 else a

    with pytest.raises(ValueError, match=r"returned a result of dtype float64, but the first "
                                         r"chunk \[0:1000\] returned float32; every chunk "
                                         r"must return one dtype"):
        runtime.map(dtype_changes, np.arange(100_000.0), grain=1000)


def test_chunk_result_messages_say_what_differs(threads):
    """'returned 1 result(s), the first chunk (or out=) 1' read as 1 vs 1
    (a tuple of one array against one array), and a wrong out= trailing
    shape was blamed on 'the first chunk'."""
    x = np.arange(100_000.0)
    with pytest.raises(ValueError, match=r"chunk \[\d+:\d+\] returned a tuple of 1 array, but "
                                         r"the first chunk \[0:1000\] returned one array \(not "
                                         r"a tuple\)"):
        runtime.map(lambda a: (a,) if a[0] != 0 else a, x, grain=1000)
    with pytest.raises(ValueError, match=r"returned a tuple of 2 arrays, but the first chunk "
                                         r"\[0:1000\] returned one array"):
        runtime.map(lambda a: a if a[0] == 0 else (a, a), x, grain=1000)
    with pytest.raises(ValueError, match=r"returned a result with rows of shape \(1,\), but the "
                                         r"first chunk \[0:1000\] returned rows of shape \(\)"):
        runtime.map(lambda a: a if a[0] == 0 else a[:, None], x, grain=1000)
    # out= is named as out=, with the shape it must have.
    with pytest.raises(ValueError, match=r"returned a result with rows of shape \(3,\), but out "
                                         r"has rows of shape \(4,\); out must have shape "
                                         r"\(100000, 3\)"):
        runtime.map(lambda a: a, np.zeros((100_000, 3)), out=np.zeros((100_000, 4)), grain=1000)
    with pytest.raises(ValueError, match=r"returned result 2 with rows of shape \(1,\), but "
                                         r"out\[1\] has rows of shape \(\); out\[1\] must have "
                                         r"shape \(100000, 1\)"):
        runtime.map(lambda a: (a, a[:, None]), x, out=(np.zeros_like(x), np.zeros_like(x)),
                    grain=1000)
    with pytest.raises(ValueError, match=r"returned a tuple of 2 arrays, but out= is one array "
                                         r"\(not a tuple\)"):
        runtime.map(lambda a: (a, a), x, out=np.zeros_like(x), grain=1000)


def test_bad_arguments_are_reported(threads):
    with pytest.raises(TypeError, match="func must be callable"):
        runtime.map(42, np.ones(3))
    with pytest.raises(TypeError, match="at least one array"):
        runtime.map(np.sin)
    with pytest.raises(ValueError, match=r"grain must be 1 to 2\*\*63 - 1"):
        runtime.map(np.sin, np.ones(3), grain=0)
    with pytest.raises(TypeError, match="grain must be a positive int"):
        runtime.map(np.sin, np.ones(3), grain=2.5)
    with pytest.raises(ValueError, match="out has shape"):
        runtime.map(np.sin, np.ones(3), out=np.empty(4))
    with pytest.raises(TypeError, match="out must be a NumPy array"):
        runtime.map(np.sin, np.ones(3), out=[0, 0, 0])
    read_only = np.empty(3)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        runtime.map(np.sin, np.ones(3), out=read_only)


def test_one_thread_runs_inline(threads):
    runtime.set_num_threads(1)
    idents = set()

    def record(a):
        idents.add(threading.get_ident())
        return a

    runtime.map(record, np.arange(100_000.0), grain=10)
    assert idents == {threading.get_ident()}


def test_errstate_of_the_caller_holds_in_every_chunk(threads):
    # np.errstate is context-local: chunks on worker threads run in the
    # caller's context, so they warn, raise or stay silent as NumPy would.
    zeros = np.zeros(100_000)
    with np.errstate(divide="raise"):
        with pytest.raises(FloatingPointError):
            runtime.map(lambda a: 1.0 / a, zeros, grain=1000)
    with np.errstate(divide="ignore"):  # pytest turns warnings into errors here
        assert np.isinf(runtime.map(lambda a: 1.0 / a, zeros, grain=1000)).all()
    with pytest.warns(RuntimeWarning, match="divide by zero"):
        runtime.map(lambda a: 1.0 / a, zeros, grain=1000)


def test_context_variables_reach_chunks(threads):
    import contextvars

    scale = contextvars.ContextVar("scale", default=1.0)
    token = scale.set(3.0)
    try:
        got = runtime.map(lambda a: a * scale.get(), np.ones(50_000), grain=100)
    finally:
        scale.reset(token)
    assert (got == 3.0).all()
