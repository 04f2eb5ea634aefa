"""Interpreter exit never hangs: submitted work queued at exit runs to the
end first (as concurrent.futures.ThreadPoolExecutor's does), and once exit
has begun submit() raises, so a thread that keeps submitting cannot keep
exit waiting.  Each case runs in a child with a time limit."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120)


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
