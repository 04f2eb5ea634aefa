"""After os.fork() the child has a pool of its own."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import runtime

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="no fork"),
    # Python 3.12+ warns about fork() in a process with threads; forking with
    # the pool's threads running is exactly what these tests check.
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]


def child_work(queue) -> None:
    x = np.arange(200_000.0)
    queue.put(bool(np.array_equal(runtime.map(np.sqrt, x, grain=1000), np.sqrt(x))))


def test_child_of_fork_can_use_runtime(threads):
    runtime.map(np.sqrt, np.arange(200_000.0), grain=1000)  # the parent's pool runs
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=child_work, args=(queue,))
    process.start()
    assert queue.get(timeout=60) is True
    process.join(60)
    assert process.exitcode == 0


def test_fork_from_inside_a_chunk(threads):
    results = []

    def body(start, stop):
        pid = os.fork()
        if pid == 0:  # child: forked from a worker or the caller, mid-job
            try:
                ok = runtime.map(np.exp, np.zeros(50_000), grain=500).sum() == 50_000.0
            finally:
                os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        results.append(os.waitstatus_to_exitcode(status))

    runtime.parallel_for(2, body, grain=1)
    assert results == [0, 0]


def test_child_forked_while_submitted_work_runs_exits_normally(threads):
    # The parent's outstanding submitted work is not the child's: its
    # normal exit (atexit handlers, not os._exit) must not wait for it.
    code = textwrap.dedent("""
        import os, sys, time, runtime
        runtime.set_num_threads(2)
        future = runtime.submit(time.sleep, 0.5)
        time.sleep(0.05)
        pid = os.fork()
        if pid == 0:
            sys.exit(0)
        import signal
        signal.signal(signal.SIGALRM, lambda *a: os.kill(pid, signal.SIGKILL))
        signal.alarm(30)
        _, status = os.waitpid(pid, 0)
        future.result()
        print(status)
    """)
    assert run_child(code) == "0"


def test_child_forked_inside_a_job_gets_blas_threads_back(threads):
    # The job held BLAS at one thread; the child has no job, so after a job
    # of its own BLAS is back at the parent's setting.
    from runtime import _blas

    before = _blas.blas_threads()
    read_end, write_end = os.pipe()
    parent = os.getpid()
    forked = []
    lock = threading.Lock()

    def body(a):
        with lock:
            if os.getpid() == parent and _blas._depth > 0 and not forked:
                forked.append(os.fork())
                if forked[0] == 0:
                    runtime.map(np.sin, np.ones(64), grain=8)
                    os.write(write_end, repr(_blas.blas_threads()).encode())
                    os._exit(0)
                os.waitpid(forked[0], 0)
        return a

    runtime.map(body, np.ones(64), grain=1)
    assert forked, "no chunk ran while BLAS was held"
    assert os.read(read_end, 1000).decode() == repr(before)
    os.close(read_end)
    os.close(write_end)


def test_fork_while_another_thread_holds_the_binding_lock():
    # A thread shutting down and restarting the pool in a loop holds the
    # binding's lock at times; a child forked then must not inherit it held.
    code = textwrap.dedent("""
        import os, signal, threading, time, runtime
        runtime.set_num_threads(2)
        stop = [False]
        def churn():
            while not stop[0]:
                runtime.shutdown()
                runtime.parallel_for(100, lambda s, e: None, grain=10)
        thread = threading.Thread(target=churn)
        thread.start()
        bad = 0
        for _ in range(100):
            pid = os.fork()
            if pid == 0:
                signal.alarm(10)  # a deadlocked child dies of SIGALRM
                runtime.parallel_for(100, lambda s, e: None, grain=10)
                os._exit(0)
            _, status = os.waitpid(pid, 0)
            bad += status != 0
        stop[0] = True
        thread.join()
        print(bad)
    """)
    assert run_child(code) == "0"


def run_child(code: str) -> str:
    """Runs code in a fresh interpreter (forking there with threads running
    warns, which is the point); returns what it printed, once it exits 0."""
    result = subprocess.run([sys.executable, "-W", "ignore::DeprecationWarning", "-c", code],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()
