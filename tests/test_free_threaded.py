"""Free-threaded CPython (PEP 703, 3.13t): runtime imports without turning
the GIL back on, and stays correct with many Python threads calling every
entry point at once (on the GIL build too: a short run of the same test)."""

from __future__ import annotations

import operator
import os
import subprocess
import sys
import sysconfig
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import runtime
from runtime import _core

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
free_threaded_only = pytest.mark.skipif(not FREE_THREADED,
                                        reason="needs a free-threaded interpreter (3.13t)")
# The stress test runs 20 s where threads truly run at once, 2 s under the
# GIL (where it checks the same things, with less overlap to find bugs in).
STRESS_SECONDS = 20.0 if FREE_THREADED else 2.0
STRESS_THREADS = 8
TRACE_EVENT_NAMES = ("task", "job", "steal", "park", "qos", "boost", "boost_end", "submitted")


def test_extensions_are_built_for_this_interpreter():
    # _core's locks exist only in a free-threaded build (_freethreading.h).
    assert _core.FREE_THREADED_BUILD is FREE_THREADED


def test_every_cython_module_declares_that_it_needs_no_gil():
    # Checked on the GIL build too, so that a new module without the
    # directive fails the normal run, not only the 3.13t one.
    sources = sorted((Path(__file__).resolve().parent.parent / "runtime").rglob("*.pyx"))
    assert sources
    for source in sources:
        header = [line for line in source.read_text().splitlines()[:5] if line.startswith("#")]
        assert "# cython: freethreading_compatible = True" in header, source


@free_threaded_only
def test_importing_runtime_leaves_the_gil_disabled():
    # A fresh interpreter: an extension module without Py_mod_gil (Cython's
    # freethreading_compatible) turns the GIL on when it is imported, with
    # a RuntimeWarning.  PYTHON_GIL=0 would hide that, so it is removed.
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
    code = ("import sys, warnings\n"
            "warnings.simplefilter('error')\n"
            "import runtime, runtime.numpy, runtime._inline, runtime.numpy._loops\n"
            "import numpy as np\n"
            "runtime.map(np.exp, np.ones(1_000_000), grain=1000)\n"
            "print(sys._is_gil_enabled())\n")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@free_threaded_only
def test_the_suite_itself_runs_without_the_gil():
    # Everything the suite imported (runtime, NumPy, the test extra) left
    # it off: the tests here run with Python threads truly in parallel.
    assert not sys._is_gil_enabled()


def python_work(a: np.ndarray) -> np.ndarray:
    """Pure Python per element: holds the interpreter (no NumPy loop)."""
    return np.array([v * v + 1.0 for v in a.tolist()])


def stress_one_thread(index: int, deadline: float, counts: dict[str, int]) -> None:
    """Every entry point in turn, results checked, until the deadline."""
    rng = np.random.default_rng(index)
    x = rng.random(50_000)
    ints = np.arange(100_000, dtype=np.int64)
    parallel_python = runtime.parallel(grain=2_000)(python_work)
    step = index
    while time.monotonic() < deadline:
        kind = step % 6
        step += 1
        if kind == 0:
            assert np.array_equal(runtime.map(np.sin, x, grain=4_000), np.sin(x))
        elif kind == 1:
            total = runtime.reduce(np.sum, ints, combine=operator.add, grain=9_000)
            assert total == int(ints.sum())
        elif kind == 2:
            futures = [runtime.submit(sum, range(n)) for n in (10, 1_000, 100_000)]
            assert [f.result(timeout=60) for f in futures] == [45, 499_500, 4_999_950_000]
        elif kind == 3:
            runtime.set_num_threads(1 + (step + index) % 4)
        elif kind == 4:
            try:
                with runtime.trace(capacity=1 << 17) as tr:
                    assert np.array_equal(runtime.map(np.sqrt, x, grain=4_000), np.sqrt(x))
            except RuntimeError as error:  # one trace at a time: another thread's runs
                assert "already running" in str(error)
            else:  # (jobs may have run inline: another thread set 1 thread)
                assert {e.name for e in tr.events} <= set(TRACE_EVENT_NAMES), tr.events
        else:
            out = np.zeros(len(x))

            def body(start: int, stop: int) -> None:
                out[start:stop] = x[start:stop] * 2.0

            runtime.parallel_for(len(x), body, grain=3_000)
            assert np.array_equal(out, x * 2.0)
            assert np.array_equal(parallel_python(x[:8_000]), python_work(x[:8_000]))
        counts[kind] = counts.get(kind, 0) + 1


def test_many_threads_call_every_entry_point_at_once(threads):
    """map, reduce, submit, set_num_threads, trace, parallel_for and
    @runtime.parallel from 8 threads at once: no crash, no hang, every
    result right, and afterwards the pool shuts down with no call left
    inside it and its workers joined."""
    deadline = time.monotonic() + STRESS_SECONDS
    counts: list[dict[str, int]] = [{} for _ in range(STRESS_THREADS)]
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            stress_one_thread(i, deadline, counts[i])
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    workers = [threading.Thread(target=run, args=(i,), name=f"stress-{i}")
               for i in range(STRESS_THREADS)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=STRESS_SECONDS + 240)
    assert not any(t.is_alive() for t in workers), "a calling thread hung"
    if errors:
        raise errors[0]
    for kind in range(6):  # every kind of call ran, on several threads
        assert sum(c.get(kind, 0) > 0 for c in counts) >= 2, (kind, counts)
    assert runtime.submit(sum, range(3)).result(timeout=60) == 3  # the pool still works
    # Bounded: every call has left the pool (a submitted task leaves it just
    # after its future is set), so it shuts down, and no worker is left.
    give_up = time.monotonic() + 60
    while not _core.shutdown():
        assert time.monotonic() < give_up, "a call is still counted inside the pool"
        time.sleep(0.01)
    assert _core.stats()["workers"] == 0
