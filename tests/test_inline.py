"""The compiled inline path of the entry points (runtime/_inline.pyx):
small calls go straight to the function, with exactly the results and
errors of the measured path, and never where a split, a QoS level or a
new thread count must be honoured."""

from __future__ import annotations

import operator
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import runtime
from runtime import _core, _inline, _schedule

pytestmark = pytest.mark.usefixtures("threads")


def test_small_map_runs_inline_with_the_functions_own_result():
    x = np.linspace(0, 1, 1000)
    for _ in range(5):
        y = runtime.map(np.sin, x)
        assert np.array_equal(y, np.sin(x)) and y.dtype == np.float64
    slots = set()

    def f(a):
        slots.add(_core.current_slot())
        return a * 2

    for _ in range(5):
        runtime.map(f, x)
    assert slots == {-1}  # on the caller, outside any job


def test_inline_results_are_checked_as_the_measured_path_checks_them():
    x = np.ones(100)
    for _ in range(3):
        with pytest.raises(ValueError, match="one row per input row"):
            runtime.map(lambda a: a[:5], x)
    # A list of one row per input row is converted, as chunks' results are.
    assert runtime.map(lambda a: list(a * 3), x).tolist() == [3.0] * 100


def test_map_of_several_arrays_and_mixed_signatures():
    a, b = np.arange(10.0), np.arange(10.0) * 2
    for _ in range(3):
        assert runtime.map(np.add, a, b).tolist() == (a + b).tolist()
    c = np.arange(10, dtype=np.float32)
    assert runtime.map(np.add, a, c).dtype == np.float64  # mixed dtypes: the measured path
    with pytest.raises(ValueError):
        runtime.map(np.add, a, np.arange(3.0))  # lengths differ: the measured path's error


def test_non_callables_and_bad_arguments_get_the_measured_paths_errors():
    x = np.ones(10)
    with pytest.raises(TypeError, match="runtime.map: func must be callable"):
        runtime.map(3, x)
    with pytest.raises(TypeError, match="combine must be callable"):
        runtime.reduce(np.sum, x, combine=None)
    with pytest.raises(TypeError, match="pass at least one array"):
        runtime.map(np.sin)


def test_a_forced_split_turns_the_inline_path_off():
    x = np.arange(4000.0)
    for _ in range(5):
        runtime.map(np.sqrt, x)  # now known to run inline
    slots = set()

    def f(a):
        slots.add(_core.current_slot())
        return np.sqrt(a)

    for _ in range(3):
        runtime.map(f, x)
    with _schedule.forced_split(100):
        slots.clear()
        for _ in range(20):
            assert np.array_equal(runtime.map(f, x), np.sqrt(x))
        # Split: the first chunk (it allocates the output) on the caller,
        # the rest as a job, whose chunks run in pool slots (the caller's
        # or the worker's, as stealing goes).
        assert -1 in slots and slots - {-1}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the thread's policy")
def test_a_qos_level_is_honoured_by_small_calls():
    x = np.ones(100)
    policies = []

    def f(a):
        policies.append(os.sched_getscheduler(0))
        return a

    for _ in range(5):
        runtime.map(f, x)
    with runtime.qos("background"):
        runtime.map(f, x)
    assert policies[-1] == os.SCHED_BATCH
    assert os.sched_getscheduler(0) == os.SCHED_OTHER


def test_small_reductions_are_one_leaf():
    x = np.arange(1000, dtype=np.int64)
    calls = []

    def partial(a):
        calls.append(len(a))
        return int(a.sum())

    assert runtime.reduce(partial, x, combine=operator.add) == int(x.sum())
    assert calls == [1000]


def test_parallel_decorator_keeps_the_functions_face_and_binds_as_a_method():
    @runtime.parallel
    def scaled(a, factor=2.0):
        """Multiply."""
        return a * factor

    assert scaled.__name__ == "scaled" and scaled.__doc__ == "Multiply."
    assert scaled.__wrapped__(np.ones(2)).tolist() == [2.0, 2.0]

    class Model:
        k = 3.0

        @runtime.parallel
        def apply(self, a):
            return a * self.k

    m = Model()
    for n in (10, 300_000):
        assert np.array_equal(m.apply(np.ones(n)), np.full(n, 3.0))
    assert Model.apply.__wrapped__(m, np.ones(1)).tolist() == [3.0]


def test_set_num_threads_forgets_what_was_learned():
    x = np.ones(1000)
    for _ in range(5):
        runtime.map(np.exp, x)
    before = runtime.num_threads()
    runtime.set_num_threads(1)
    try:
        assert runtime.map(np.exp, x).tolist() == np.exp(x).tolist()
    finally:
        runtime.set_num_threads(before)


def test_parallel_for_and_map_items_small_calls():
    out = np.zeros(50)

    def body(start, stop):
        out[start:stop] += 1

    for _ in range(5):
        runtime.parallel_for(50, body)
    assert out.tolist() == [5.0] * 50
    for _ in range(5):
        assert runtime.map_items(str, [1, 2, 3]) == ["1", "2", "3"]


def test_bound_methods_of_any_instance_share_their_functions_memo(monkeypatch):
    """obj.body is a new object at every access: its memo is its function's
    (a small call of another instance's method runs inline at once)."""

    class Rows:
        def __init__(self):
            self.out = np.zeros(50)

        def body(self, start, stop):
            self.out[start:stop] += 1

    first, second = Rows(), Rows()
    for _ in range(5):
        runtime.parallel_for(50, first.body)
    measured = []
    slow = _inline._slow["parallel_for"]
    monkeypatch.setitem(_inline._slow, "parallel_for",
                        lambda *args: measured.append(args) or slow(*args))
    for _ in range(5):
        runtime.parallel_for(50, second.body)
    assert second.out.tolist() == [5.0] * 50
    assert measured == []  # none left the inline path
    # Keywords take the general entry, with the same results.
    runtime.parallel_for(50, second.body, grain=10)
    assert second.out.tolist() == [6.0] * 50 and len(measured) == 1


def test_calls_from_many_threads_share_the_memos():
    x = np.linspace(0, 1, 500)
    errors = []

    def worker():
        try:
            for _ in range(200):
                assert np.array_equal(runtime.map(np.cos, x), np.cos(x))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors


def test_unhashable_callables_run_too():
    class Unhashable:
        __hash__ = None

        def __call__(self, a):
            return a + 1

    x = np.zeros(10)
    for _ in range(3):
        assert runtime.map(Unhashable(), x).tolist() == [1.0] * 10
    assert _inline.FIRST_INLINE_ELEMENTS >= 1024


FIRST_CALLS = """
import numpy as np, runtime
from runtime import _config
x = np.arange(100.0)

@runtime.parallel
def fma(a, b, c):
    return a * b + c

assert np.array_equal(runtime.map(np.exp, x), np.exp(x))
assert np.array_equal(fma(x, x, x), x * x + x)
assert float(runtime.reduce(np.sum, x, combine=float.__add__)) == float(x.sum())
import runtime.numpy as rnp
for _ in range(5):
    assert np.array_equal(rnp.exp(x), np.exp(x)) and rnp.sum(x) == np.sum(x)
print(_config._configured)
big = np.arange(4e6)
assert np.array_equal(runtime.map(np.sqrt, big), np.sqrt(big))
print(_config._configured)
"""


def test_small_first_calls_run_inline_before_the_pool_is_configured():
    """A first call that runs inline does not pay for the pool's start
    (topology, threads, measurement: a millisecond, against a call of
    microseconds); the first call big enough to split configures it.
    (map and @parallel run a never-seen call of at most 2**16 elements
    inline by rule, runtime.numpy small calls go to NumPy; parallel_for's
    first call is timed, so not here.)"""
    child = subprocess.run([sys.executable, "-c", FIRST_CALLS], capture_output=True, text=True,
                           timeout=120)
    assert child.returncode == 0, child.stderr
    assert child.stdout.split() == ["False", "True"]
