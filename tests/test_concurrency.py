"""Several Python threads at once, nested calls, resizing under load."""

from __future__ import annotations

import operator
import threading

import numpy as np

import runtime


def run_threads(target, count: int, timeout: float = 120) -> None:
    errors = []

    def wrapped(i):
        try:
            target(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
        assert not t.is_alive(), "deadlock: a calling thread did not finish"
    assert errors == []


def test_many_python_threads_call_at_once(threads):
    x = np.random.default_rng(0).random(200_000)
    expected_sin, expected_sum = np.sin(x), int(np.arange(200_000).sum())

    def calls(i):
        for _ in range(20):
            assert np.array_equal(runtime.map(np.sin, x, grain=5000), expected_sin)
            assert runtime.reduce(np.sum, np.arange(200_000), combine=operator.add,
                                  grain=7000) == expected_sum
            assert runtime.map_items(lambda v: v * 2, list(range(50))) == list(range(0, 100, 2))

    run_threads(calls, 8)


def test_nested_calls_from_inside_chunks(threads):
    x = np.random.default_rng(1).random(100_000)

    def outer(start, stop):
        # A parallel call from inside a task: runs on the same pool.
        inner = runtime.map(np.exp, x[start * 10_000:(start + 1) * 10_000], grain=500)
        assert np.array_equal(inner, np.exp(x[start * 10_000:(start + 1) * 10_000]))

    runtime.parallel_for(10, outer, grain=1)

    @runtime.parallel(grain=10_000)
    def nested(a):
        return runtime.map(np.sqrt, a, grain=1000)

    assert np.array_equal(nested(x), np.sqrt(x))


def test_nesting_twenty_deep(threads):
    # Each level is a parallel call whose first item makes the next level's
    # call from inside its task.
    def level(depth):
        if depth == 0:
            return 1
        return sum(runtime.map_items(lambda k: level(depth - 1) if k == 0 else 1, [0, 1]))

    assert level(20) == 21


def test_resizing_while_other_threads_run_jobs(threads):
    x = np.random.default_rng(2).random(100_000)
    stop = threading.Event()

    def worker(i):
        while not stop.is_set():
            assert np.array_equal(runtime.map(np.exp, x, grain=2000), np.exp(x))

    t = threading.Thread(target=run_threads, args=(worker, 3))
    t.start()
    try:
        for n in (3, 1, 4, 2, 1, 2) * 3:
            runtime.set_num_threads(n)
    finally:
        stop.set()
        t.join(120)
    assert not t.is_alive()
