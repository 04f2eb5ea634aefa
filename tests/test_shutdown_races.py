"""shutdown() against calls on other threads, and resizes against callers
beyond the caller slots: nothing crashes, nothing is lost, nothing hangs.
Each race runs in a child for a couple of seconds (thousands of rounds),
so a crash or a hang fails the test instead of the suite."""

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
