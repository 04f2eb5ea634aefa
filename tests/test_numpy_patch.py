"""Transparent mode: runtime.numpy.patch() makes NumPy's own ufunc loops
split over the pool, for plain numpy code (operators, methods)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time

import numpy
import pytest

import runtime
import runtime.numpy
from runtime import _core, _schedule
from runtime.numpy import _patch, _patched_loops
from runtime.numpy._forced import forced_split


@pytest.fixture(autouse=True)
def unpatched_after():
    """Every test leaves NumPy's loops as it found them: NumPy's own."""
    assert not runtime.numpy.is_patched()
    yield
    while runtime.numpy.is_patched():
        runtime.numpy.restore()
    assert _patch.patched_loop_count() == 0


def splits(ufunc: numpy.ufunc, signature: str) -> int:
    """How many calls the trampoline of this loop has split so far."""
    return _patched_loops.counters(_patch.loop_slot(ufunc, signature))[1]


def test_patch_counts_and_restore_puts_numpys_loops_back():
    add = numpy.add.types.index("dd->d")
    assert _patch.patched_loop_count() == 0
    runtime.numpy.patch()
    patched = _patch.patched_loop_count()
    assert patched > 500  # every numeric loop of every elementwise ufunc
    assert _patched_loops.installed(numpy.add, add, _patch.loop_slot(numpy.add, "dd->d"))
    runtime.numpy.patch()
    with runtime.numpy.patched():
        assert _patch.patched_loop_count() == patched
    runtime.numpy.restore()
    assert runtime.numpy.is_patched()  # one patch() still in force
    runtime.numpy.restore()
    assert not runtime.numpy.is_patched()
    assert _patch.patched_loop_count() == 0
    runtime.numpy.restore()  # nothing in force: nothing to undo
    assert not runtime.numpy.is_patched()


def test_object_and_generalized_loops_stay_numpys():
    with runtime.numpy.patched():
        with pytest.raises(ValueError, match="no numeric loop 'OO->O'"):
            _patch.loop_slot(numpy.add, "OO->O")
        assert all(ufunc.signature is None for ufunc, _, _ in _patch._numeric_loops())
        objects = numpy.array([1, "a", 2.5], dtype=object)
        assert list(objects + objects) == [2, "aa", 5.0]


@pytest.mark.parametrize("forced", [False, True], ids=["cost model", "forced split"])
def test_operators_and_methods_split_with_numpys_bits(threads, forced):
    rng = numpy.random.default_rng(7)
    a, b, c = (rng.standard_normal(1_000_000) for _ in range(3))
    expected = (a * b + c, numpy.exp(a), numpy.sin(a[::3]), numpy.sqrt(numpy.abs(b)))
    before = splits(numpy.multiply, "dd->d") + splits(numpy.exp, "d->d")
    with runtime.numpy.patched(), (forced_split(1000) if forced else _nothing()):
        for _ in range(3):  # the cost model measures the first call whole
            got = (a * b + c, numpy.exp(a), numpy.sin(a[::3]), numpy.sqrt(numpy.abs(b)))
    for value, reference in zip(got, expected):
        assert value.tobytes() == reference.tobytes()
    assert splits(numpy.multiply, "dd->d") + splits(numpy.exp, "d->d") > before


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("dtype", ["int8", "int64", "uint32", "float32", "float64",
                                   "complex128", "bool"])
def test_elementwise_results_are_numpys_for_every_kind(threads, dtype):
    rng = numpy.random.default_rng(3)
    x = (rng.integers(-50, 50, 5000) if dtype != "bool" else rng.integers(0, 2, 5000))
    a = x.astype(dtype)
    b = a[::-1].copy()
    calls = [lambda: a + b, lambda: a * b, lambda: numpy.maximum(a, b),
             lambda: numpy.not_equal(a[::2], b[1::2]), lambda: a == b]
    expected = [call() for call in calls]
    with runtime.numpy.patched(), forced_split(7):
        got = [call() for call in calls]
        in_place = a.copy()
        in_place += b  # output is an input, exactly: splits
    for value, reference in zip(got, expected):
        assert value.dtype == reference.dtype and value.tobytes() == reference.tobytes()
    assert in_place.tobytes() == (a + b).tobytes()


def test_accumulate_and_partly_overlapping_outputs_run_whole(threads):
    x = numpy.arange(1, 5001, dtype=numpy.int64)
    y = numpy.arange(5000, dtype=numpy.float64)
    expected = numpy.add.accumulate(x), numpy.multiply.accumulate(y[:20] + 1)
    shifted = y.copy()
    numpy.add(shifted[:-1], 1.0, out=shifted[1:])  # NumPy copies: same as unpatched
    with runtime.numpy.patched(), forced_split(3):
        got = numpy.add.accumulate(x), numpy.multiply.accumulate(y[:20] + 1)
        patched_shift = y.copy()
        numpy.add(patched_shift[:-1], 1.0, out=patched_shift[1:])
    assert got[0].tobytes() == expected[0].tobytes()
    assert got[1].tobytes() == expected[1].tobytes()
    assert patched_shift.tobytes() == shifted.tobytes()


def test_reductions_split_deterministically_with_numpys_value_class(threads):
    ints = numpy.arange(-3_000_000, 5_000_000, dtype=numpy.int64)
    floats = numpy.random.default_rng(1).random(3_000_000)
    with_nan = floats.copy()
    with_nan[2_000_000] = numpy.nan
    matrix = floats.reshape(1000, 3000)
    expected = (ints.sum(), floats.max(), numpy.minimum.reduce(floats), matrix.max(axis=0))
    before = splits(numpy.add, "ll->l")
    with runtime.numpy.patched(), forced_split(1000):
        got = (ints.sum(), floats.max(), numpy.minimum.reduce(floats), matrix.max(axis=0))
        sums = {float(floats.sum()) for _ in range(3)}
        nan_max, nan_sum = with_nan.max(), with_nan.sum()
    assert got[0] == expected[0]  # integers: exact
    assert got[1] == expected[1] and got[2] == expected[2]
    assert got[3].tobytes() == expected[3].tobytes()
    assert len(sums) == 1  # fixed leaves: the same sum every time
    assert sums.pop() == pytest.approx(floats.sum(), rel=1e-12)
    assert numpy.isnan(nan_max) and numpy.isnan(nan_sum)
    assert splits(numpy.add, "ll->l") > before


def test_a_reduction_that_overflows_in_its_leaves_gives_numpys_number(threads):
    # Leaves of 16: one sums to +inf, the next to -inf, and +inf + -inf is
    # nan; NumPy's pairwise order gives inf.  The trampoline redoes it whole.
    x = numpy.array([1e308] * 16 + [-1e308] * 16)
    with numpy.errstate(over="ignore", invalid="ignore"):
        expected = x.sum()
        with runtime.numpy.patched(), forced_split(1):
            got = x.sum()
    assert numpy.isinf(expected) and got == expected


def test_floating_point_errors_raise_and_warn_as_in_numpy(threads):
    x = numpy.ones(10_000)
    x[7_777] = 0.0
    with runtime.numpy.patched(), forced_split(100):
        with numpy.errstate(divide="raise"):
            with pytest.raises(FloatingPointError, match="divide by zero"):
                numpy.divide(1.0, x)
        with pytest.warns(RuntimeWarning, match="divide by zero"):
            numpy.divide(1.0, x)
        with numpy.errstate(all="raise"):
            big = numpy.full(10_000, 1e300)
            with pytest.raises(FloatingPointError, match="overflow"):
                big * big
            assert (numpy.divide(1.0, numpy.ones(10_000)) == 1.0).all()  # nothing raised


def test_calls_inside_a_pool_chunk_do_not_split_again(threads):
    x = numpy.linspace(0.0, 1.0, 100_000)
    seen_in_chunks: list[int] = []

    def body(start: int, stop: int) -> None:
        before = splits(numpy.exp, "d->d")
        numpy.exp(x)
        seen_in_chunks.append(splits(numpy.exp, "d->d") - before)

    with runtime.numpy.patched(), forced_split(10):
        _core.parallel_for_python(body, 0, 2, 1, 1, 1)
        before = splits(numpy.exp, "d->d")
        numpy.exp(x)  # outside a chunk: splits
        outside = splits(numpy.exp, "d->d") - before
    assert seen_in_chunks == [0, 0] and outside == 1


def test_patch_and_restore_race_with_threads_running_numpy(threads):
    x = numpy.linspace(0.0, 10.0, 300_000)
    expected = numpy.sin(x) * x
    stop = threading.Event()
    wrong: list[int] = []

    def compute() -> None:
        while not stop.is_set():
            if (numpy.sin(x) * x).tobytes() != expected.tobytes():
                wrong.append(1)

    def toggle() -> None:
        for _ in range(20):
            runtime.numpy.patch()
            runtime.numpy.restore()

    workers = [threading.Thread(target=compute) for _ in range(2)]
    togglers = [threading.Thread(target=toggle) for _ in range(3)]
    for thread in workers + togglers:
        thread.start()
    for thread in togglers:
        thread.join(timeout=120)
    stop.set()
    for thread in workers:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in workers + togglers)
    assert wrong == [] and not runtime.numpy.is_patched()
    assert _patch.patched_loop_count() == 0


def test_the_trampolines_plan_as_the_cost_model_does():
    compared = 0
    for chunk_s, dispatch_s in ((50e-9, 3e-6), (50e-9, 40e-6)):
        chunk_time = max(_schedule.CHUNK_COST_RATIO * chunk_s,
                         _schedule.HANDOFFS_PER_CHUNK * dispatch_s)
        for threads in (2, 3, 16):
            _patched_loops.configure(False, threads, 16384, 1.0, chunk_time,
                                     _schedule.MIN_LEAVES_PER_THREAD,
                                     _schedule.LEAVES_PER_THREAD, 1 << 18, 0)
            for row_s in (1e-10, 7e-10, 1e-9, 5e-9, 1e-7):
                for rows in (2, 1000, 65_536, 1_000_003, 10_000_000):
                    split = _schedule.plan(row_s, rows, threads, chunk_s, dispatch_s)
                    if split is not None:
                        compared += 1
                        assert _patched_loops.plan(row_s, rows, threads) == (
                            split.grain, split.max_chunk), (row_s, rows, threads)
    _patch._reconfigure()  # the settings of a patch in force (none here)
    assert compared > 20


def test_info_and_threadpoolctl_say_whether_numpy_is_patched():
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def entry() -> dict:
        return next(info for info in threadpoolctl.threadpool_info()
                    if info["user_api"] == "runtime")

    assert runtime.info()["numpy_patched"] is False and entry()["numpy_patched"] is False
    with runtime.numpy.patched():
        assert runtime.info()["numpy_patched"] is True and entry()["numpy_patched"] is True


def run_python(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def test_environment_variable_patches_at_import_only_when_set():
    code = "import runtime, runtime.numpy; print(runtime.numpy.is_patched())"
    assert run_python("-c", code).stdout.strip() == "False"
    assert run_python("-c", code, env={"RUNTIME_PATCH_NUMPY": "1"}).stdout.strip() == "True"
    bad = run_python("-c", code, env={"RUNTIME_PATCH_NUMPY": "sometimes"})
    assert bad.returncode != 0 and "RUNTIME_PATCH_NUMPY must be one of" in bad.stderr


def test_run_command_patches_then_runs_the_script_as_main(tmp_path):
    script = tmp_path / "program.py"
    script.write_text(textwrap.dedent("""\
        import sys
        import numpy
        import runtime.numpy
        x = numpy.arange(1_000_000, dtype=numpy.int64)
        print(__name__, sys.argv[1:], runtime.numpy.is_patched(), int(x.sum()))
        sys.exit(3)
        """))
    result = run_python("-m", "runtime", "run", str(script), "--flag", "value")
    assert result.returncode == 3, result.stderr
    assert result.stdout.split() == ["__main__", "['--flag',", "'value']", "True",
                                     str(999_999 * 1_000_000 // 2)]
    missing = run_python("-m", "runtime", "run", str(tmp_path / "absent.py"))
    assert missing.returncode == 2 and "no such script" in missing.stderr


def test_a_forked_child_computes_with_the_patched_loops():
    code = textwrap.dedent("""\
        import os, numpy, runtime, runtime.numpy
        runtime.set_num_threads(2)
        runtime.numpy.patch()
        x = numpy.linspace(0.0, 1.0, 2_000_000)
        expected = numpy.exp(x) * x
        pid = os.fork()
        if pid == 0:
            ok = (numpy.exp(x) * x).tobytes() == expected.tobytes() and runtime.numpy.is_patched()
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
        """)
    result = run_python("-W", "ignore::DeprecationWarning", "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"


def test_numpys_own_ufunc_tests_pass_in_a_patched_process():
    # A small part of NumPy's own suite (tests/run_numpy_suite.py runs all
    # of it): reductions, accumulate and floating-point errors, every loop
    # call split.
    tests = os.path.join(os.path.dirname(numpy.__file__), "_core", "tests", "test_ufunc.py")
    result = run_python("-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                        "-W", "ignore", "-p", "runtime", "-k", "reduce or accumulate",
                        tests, env={"RUNTIME_PATCH_NUMPY": "1", "RUNTIME_FORCE_SPLIT": "1"})
    assert result.returncode == 0, result.stdout[-3000:]
    assert " passed" in result.stdout and " failed" not in result.stdout


def test_the_switch_is_runtime_numpys_own_name_not_numpys():
    for name in ("patch", "restore", "is_patched", "patched"):
        assert callable(getattr(runtime.numpy, name)) and not hasattr(numpy, name)
        assert name not in runtime.numpy.__all__  # `from runtime.numpy import *` is NumPy's


def test_shutdown_races_patched_calls_on_another_thread(threads):
    # A patched loop starts jobs without the GIL; shutdown() must never
    # destroy the pool under one (it returns False instead), and a loop that
    # finds no pool runs NumPy's loop whole.
    x = numpy.linspace(0.0, 1.0, 200_000)
    expected = numpy.exp(x)
    stop = threading.Event()
    wrong: list[int] = []
    calls = [0]
    split_before = splits(numpy.exp, "d->d")

    def compute() -> None:
        while not stop.is_set():
            if numpy.exp(x).tobytes() != expected.tobytes():
                wrong.append(1)
            calls[0] += 1

    with runtime.numpy.patched(), forced_split(1000):
        worker = threading.Thread(target=compute)
        worker.start()
        outcomes = set()
        deadline = time.monotonic() + 120  # a bound on the loop, not a timing
        while (calls[0] < 200 or True not in outcomes) and time.monotonic() < deadline:
            outcomes.add(runtime.shutdown())
            _core.start_for_nogil_callers()
            time.sleep(0.0002)  # the worker's calls find the pool running too
        stop.set()
        worker.join(timeout=120)
    assert not worker.is_alive() and wrong == [] and calls[0] >= 200
    assert True in outcomes  # the pool did go away and come back meanwhile
    assert splits(numpy.exp, "d->d") > split_before


def test_interpreter_exit_puts_numpys_loops_back():
    code = textwrap.dedent("""\
        import atexit, runtime.numpy
        from runtime.numpy import _patch
        runtime.numpy.patch(); runtime.numpy.patch()
        before = _patch.patched_loop_count()
        atexit._run_exitfuncs()  # what the interpreter runs at exit
        print(before > 0, runtime.numpy.is_patched(), _patch.patched_loop_count())
        """)
    result = run_python("-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "False", "0"]


def test_splits_that_lose_run_whole_for_a_while_then_split_again(threads):
    # runtime._schedule's judgement, in C: the median of the last three
    # splits lost, or the one right after a penalty, run that size whole for
    # a stretch that doubles.
    x = numpy.linspace(0.0, 1.0, 1_000_000)
    slot = _patch.loop_slot(numpy.exp, "d->d")
    history = []

    def call() -> None:
        whole, split = _patched_loops.counters(slot)
        numpy.exp(x)
        after = _patched_loops.counters(slot)
        history.append("split" if after[1] > split else "whole" if after[0] > whole else "?")

    with runtime.numpy.patched():
        numpy.exp(x)  # measured whole: the serial reference of this size
        # Every split wanted (cutoff 1 ns) and judged lost (slower than
        # 1e-9 x serial); no further serial references.
        _patched_loops.configure(True, threads, 16384, 1e-9, 1e-6,
                                 _schedule.MIN_LEAVES_PER_THREAD, _schedule.LEAVES_PER_THREAD,
                                 1 << 18, 0, lost_margin=1e-9, judged_runs=3, retry_after=3,
                                 max_stretch=5, reference_every=10**6, reference_max_s=0.0)
        for _ in range(12):
            call()
        _patch._reconfigure()
    assert history == ["split"] * 3 + ["whole"] * 3 + ["split"] + ["whole"] * 5
