"""The first exception cancels the job and reaches the caller; Ctrl-C."""

from __future__ import annotations

import _thread
import signal
import subprocess
import sys
import threading
import time
import traceback

import numpy as np
import pytest

import runtime
from runtime import _core
from runtime import _kernels as kernels


class Boom(Exception):
    pass


def test_first_exception_cancels_the_rest_and_keeps_its_traceback(threads):
    ran = []

    def body(start, stop):
        ran.append(start)
        if start == 0:
            raise Boom("chunk 0 failed")
        time.sleep(0.001)

    with pytest.raises(Boom, match="chunk 0 failed") as info:
        runtime.parallel_for(10_000, body, grain=1)
    frames = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    assert "body" in frames  # raised where the chunk failed
    assert len(ran) < 10_000  # the remaining chunks were skipped
    # The pool is still usable.
    x = np.arange(100_000.0)
    assert np.array_equal(runtime.map(np.sqrt, x, grain=100), np.sqrt(x))


def test_exceptions_in_map_reduce_and_items(threads):
    def fails_late(a):
        if a[-1] > 90_000:
            raise ValueError("late chunk")
        return a

    with pytest.raises(ValueError, match="late chunk"):
        runtime.map(fails_late, np.arange(100_000.0), grain=1000)
    with pytest.raises(ZeroDivisionError):
        runtime.reduce(lambda a: 1 / 0, np.ones(100_000), combine=max, grain=1000)
    with pytest.raises(KeyError):
        runtime.map_items(lambda k: {}[k], ["a", "b", "c"])


def test_only_one_exception_is_raised_when_many_chunks_fail(threads):
    def all_fail(start, stop):
        raise Boom(start)

    with pytest.raises(Boom):
        runtime.parallel_for(1000, all_fail, grain=1)


def interrupt_main_after(seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, _thread.interrupt_main)
    timer.start()
    return timer


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                    reason="signals reach the main thread only")
def test_ctrl_c_while_waiting_on_native_chunks(threads):
    # Index i of the skewed kernel takes ~i * 20 steps: the whole job takes
    # seconds, each chunk milliseconds.
    out = np.zeros(20_000)
    ctx = kernels.skewed_context(out, 20)
    timer = interrupt_main_after(0.2)
    t0 = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        runtime.parallel_for(len(out), kernels.kernel("skewed"), ctx, grain=16)
    timer.join()
    assert (out == 0).any()  # cancelled: some chunks never ran
    assert time.perf_counter() - t0 < 30  # (a structural bound: not the whole job)
    assert runtime.map(np.sin, np.zeros(100_000), grain=1000).sum() == 0.0


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                    reason="signals reach the main thread only")
def test_ctrl_c_while_running_python_chunks(threads):
    done = []

    def body(start, stop):
        time.sleep(0.002)
        done.append(start)

    timer = interrupt_main_after(0.1)
    with pytest.raises(KeyboardInterrupt):
        runtime.parallel_for(100_000, body, grain=1)
    timer.join()
    assert len(done) < 100_000
    assert _core.stats()["workers"] == runtime.num_threads() - 1


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_real_sigint_to_a_process_in_a_long_job():
    code = (
        "import numpy as np, runtime, sys\n"
        "from runtime import _kernels as k\n"
        "runtime.set_num_threads(2)\n"
        "out = np.zeros(40_000); ctx = k.skewed_context(out, 40)\n"
        "print('started', flush=True)\n"
        "try:\n"
        "    runtime.parallel_for(len(out), k.kernel('skewed'), ctx, grain=8)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', bool((out == 0).any()), flush=True)\n"
        "    print(runtime.map(np.sin, np.zeros(1000)).sum())\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "started"
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert out.split() == ["interrupted", "True", "0.0"]
