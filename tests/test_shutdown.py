"""Shutting down never crashes, loses work or hangs: shutdown() against
calls on other threads, resizes against callers beyond the caller slots,
and interpreter exit (submitted work queued at exit runs to the end first,
as concurrent.futures.ThreadPoolExecutor's does; once exit has begun,
submit() raises, so a thread that keeps submitting cannot keep exit
waiting).  Each case runs in a child with a time limit, races for a couple
of seconds (thousands of rounds), so a crash or a hang fails the test
instead of the suite."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120)


def test_shutdown_in_a_loop_while_another_thread_maps():
    # Each shutdown either stops an idle pool or returns False while the
    # other thread is inside a call (it once freed the pool under it).
    result = run_python("""
        import threading, time, numpy as np, runtime
        runtime.set_num_threads(2)
        x = np.ones(200_000)
        expected = np.sin(x)
        stop = time.monotonic() + 2
        maps = []
        def mapper():
            while time.monotonic() < stop:
                assert np.array_equal(runtime.map(np.sin, x, grain=5000), expected)
                maps.append(1)
        thread = threading.Thread(target=mapper)
        thread.start()
        stopped = refused = 0
        while time.monotonic() < stop:
            if runtime.shutdown():
                stopped += 1
            else:
                refused += 1
        thread.join()
        print(len(maps), stopped, refused)
    """)
    assert result.returncode == 0, result.stderr
    maps, stopped, refused = map(int, result.stdout.split())
    assert maps > 0 and stopped > 0


def test_a_trace_ending_while_another_thread_shuts_down():
    result = run_python("""
        import threading, time, warnings, numpy as np, runtime
        runtime.set_num_threads(2)
        warnings.simplefilter("ignore")  # small rings overflow: that is not the point here
        stop = time.monotonic() + 2
        def shutter():
            while time.monotonic() < stop:
                runtime.shutdown()
        thread = threading.Thread(target=shutter)
        thread.start()
        traces = 0
        while time.monotonic() < stop:
            with runtime.trace(capacity=64) as tr:
                runtime.map(np.sin, np.ones(100_000), grain=5000)
            assert all(e.name for e in tr.events)
            traces += 1
        thread.join()
        print(traces)
    """)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 0


def test_callers_beyond_the_slots_finish_when_the_workers_go():
    # 70 concurrent callers: 64 take caller slots, the rest go through the
    # injector; the pool then resizes to no workers.  Every call finishes.
    result = run_python("""
        import threading, time, runtime
        runtime.set_num_threads(2)
        barrier = threading.Barrier(71, timeout=60)
        done = []
        def caller():
            barrier.wait()
            out = []
            runtime.parallel_for(4, lambda s, e: (time.sleep(0.05), out.append(e - s)), grain=1)
            done.append(sum(out))
        threads = [threading.Thread(target=caller) for _ in range(70)]
        for t in threads:
            t.start()
        barrier.wait()
        time.sleep(0.01)
        runtime.set_num_threads(1)
        for t in threads:
            t.join(60)
        print(len(done), set(done))
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["70", "{4}"]


def test_work_queued_at_exit_runs_before_the_interpreter_ends():
    result = run_python("""
        import time, runtime
        runtime.set_num_threads(2)
        for i in range(5):
            runtime.submit(lambda i=i: (time.sleep(0.02), print("ran", i, flush=True)))
    """)
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.splitlines()) == [f"ran {i}" for i in range(5)]


def test_a_daemon_thread_that_keeps_submitting_does_not_hold_exit():
    result = run_python("""
        import threading, time, runtime
        refused = []
        def spam():
            while True:
                try:
                    runtime.submit(time.sleep, 0.01)
                except RuntimeError as error:
                    refused.append(str(error))
                    return
                time.sleep(0.001)
        threading.Thread(target=spam, daemon=True).start()
        time.sleep(0.2)
    """)
    assert result.returncode == 0, result.stderr


def test_submit_after_exit_began_raises_like_concurrent_futures():
    result = run_python("""
        import atexit, runtime
        def late():
            try:
                runtime.submit(print, "ran")
            except RuntimeError as error:
                print("refused:", error)
        atexit.register(late)  # atexit handlers run after exit began
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("refused: runtime.submit: cannot schedule new work after "
                                    "interpreter shutdown has begun"), result.stdout
