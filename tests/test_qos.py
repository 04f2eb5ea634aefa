"""QoS levels of jobs (runtime.qos, qos=): every chunk, the caller's
included, runs at the job's level and on its CPUs; the caller gets its own
setting back.  Linux: checked through the OS (affinity, policy, nice) with
RUNTIME_TOPOLOGY declaring cpu1 an efficiency core, in a child process
(the topology is read once per process), also one that dropped root."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import runtime

pytestmark = pytest.mark.usefixtures("threads")
linux_two_cpus = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not hasattr(os, "sched_getaffinity")
    or not {0, 1} <= os.sched_getaffinity(0), reason="needs Linux and CPUs 0 and 1")

CHILD = textwrap.dedent("""
    import json, os, sys, threading, time
    import numpy as np, runtime
    if len(sys.argv) > 1:  # drop root (after the imports: Python may live in /root)
        os.setgroups([]); os.setgid(65534); os.setuid(65534)
    runtime.set_num_threads(2)

    def observe(seen):
        tid = threading.get_native_id()
        seen.append([tid, sorted(os.sched_getaffinity(0)), os.sched_getscheduler(0),
                     os.getpriority(os.PRIO_PROCESS, tid)])

    def state():
        tid = threading.get_native_id()
        return [sorted(os.sched_getaffinity(0)), os.sched_getscheduler(0),
                os.getpriority(os.PRIO_PROCESS, tid)]

    out = {"caller": threading.get_native_id(), "before": state()}
    for level in ("background", "interactive"):
        seen = []
        def body(start, stop):
            time.sleep(0.002)  # releases the GIL: the worker takes chunks too
            observe(seen)
        runtime.parallel_for(100, body, grain=1, qos=level)
        items = []
        runtime.map_items(lambda i: (time.sleep(0.001), observe(items)), range(40), qos=level)
        out[level] = seen + items
        out[level + " after"] = state()
    with runtime.trace() as tr:  # the same jobs, as the trace records them
        for level in ("background", "interactive"):
            runtime.parallel_for(100, lambda start, stop: time.sleep(0.002), grain=1, qos=level)
    out["trace"] = [[e.name, e.thread, e.level, e.cpu, e.cpu_end, list(e.cpus), e.mechanisms]
                    for e in tr.events if e.name in ("task", "qos")]
    print(json.dumps(out))
""")


def run_child(drop_root: bool) -> dict:
    env = {**os.environ, "RUNTIME_TOPOLOGY": "performance:0;efficiency:1"}
    result = subprocess.run([sys.executable, "-c", CHILD, *(["drop"] if drop_root else [])],
                            capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def check_levels(out: dict) -> None:
    caller = out["caller"]
    background = out["background"]
    assert {tid for tid, *_ in background} >= {caller} and len({t for t, *_ in background}) == 2
    for tid, cpus, policy, nice in background:
        assert cpus == [1] and policy == os.SCHED_BATCH, (tid, cpus, policy)
    interactive = out["interactive"]
    # One thread per CPU, performance first: the caller on cpu0, the worker
    # on cpu1 (or on cpu0 while a tail boost holds it there).
    assert all(policy == os.SCHED_OTHER for _, _, policy, _ in interactive), interactive
    assert all(cpus == [0] for tid, cpus, _, _ in interactive if tid == caller), interactive
    worker = [cpus for tid, cpus, _, _ in interactive if tid != caller]
    assert worker and all(cpus in ([1], [0]) for cpus in worker), interactive
    assert [1] in worker
    assert out["background after"] == out["before"] == out["interactive after"]
    # The trace records the same: each task's level and CPUs, each change.
    tasks = [e for e in out["trace"] if e[0] == "task"]
    background = [e for e in tasks if e[2] == "background"]
    assert len(background) >= 100 and {e[1] for e in background} == {"caller 0", "worker 0"}
    assert all(e[3] == e[4] == 1 for e in background), background
    interactive = [e for e in tasks if e[2] == "interactive"]
    assert all(e[3] == 0 for e in interactive if e[1] == "caller 0"), interactive
    assert any(e[3] == 1 for e in interactive if e[1] == "worker 0"), interactive
    changes = [e for e in out["trace"] if e[0] == "qos"]
    lowered = [e for e in changes if e[2] == "background"]
    assert lowered and all(e[5] == [1] for e in lowered), changes
    # (mechanisms: what changed; a thread already at the level changes nothing)
    assert any("SCHED_BATCH" in e[6] for e in lowered if e[1] == "worker 0"), changes
    assert any(e[2] == "interactive" and e[5] == [0] for e in changes), changes


@linux_two_cpus
def test_background_job_runs_on_the_efficiency_core_interactive_one_thread_per_kind():
    out = run_child(drop_root=False)
    check_levels(out)
    if os.geteuid() == 0:  # nice can be lowered back here, so it was raised
        assert all(nice == 10 for *_, nice in out["background"])


@linux_two_cpus
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="dropping privileges needs root")
def test_levels_in_a_process_that_dropped_root():
    out = run_child(drop_root=True)
    check_levels(out)
    # An unprivileged thread could not lower its nice again: left alone.
    assert all(nice == out["before"][2] for *_, nice in out["background"])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux scheduling policies")
def test_every_entry_point_takes_qos():
    policies = []
    lock = threading.Lock()

    def note(*_):
        with lock:
            policies.append(os.sched_getscheduler(0))

    x = np.arange(200_000.0)

    def chunk(a):
        note()
        return a + 1

    runtime.map(chunk, x, grain=10_000, qos="utility")
    runtime.reduce(lambda a: (note(), float(a.sum()))[1], x, combine=float.__add__,
                   grain=10_000, qos="background")
    runtime.parallel(chunk, grain=10_000, qos="background")(x)
    runtime.parallel_for(40, lambda start, stop: note(), grain=1, qos="utility")
    runtime.map_items(note, range(20), qos="background")
    with runtime.qos("background"):
        runtime.map(chunk, x[:10])  # inline: the caller runs at the level too
    assert policies and set(policies) == {os.SCHED_BATCH}
    assert os.sched_getscheduler(0) == os.SCHED_OTHER
    policies.clear()
    runtime.map(chunk, x, grain=10_000)  # no level: each thread's own setting
    assert set(policies) == {os.SCHED_OTHER}


def test_bad_levels_say_what_to_pass():
    with pytest.raises(ValueError, match="unknown QoS level 'fast'; use one of 'background'"):
        with runtime.qos("fast"):
            pass
    with pytest.raises(TypeError, match="runtime.map: level must be one of"):
        runtime.map(np.sqrt, np.ones(10), qos=3)
    with pytest.raises(ValueError, match="runtime.parallel: unknown QoS level"):
        runtime.parallel(np.sqrt, qos="urgent")


def test_level_is_per_context():
    from runtime import _qos

    seen = {}

    def other_thread():
        seen["other"] = _qos.current()

    with runtime.qos("utility"):
        seen["inside"] = _qos.current()
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    seen["after"] = _qos.current()
    assert seen == {"inside": 1, "other": -1, "after": -1}


@pytest.mark.skipif(sys.platform != "darwin", reason="macOS QoS classes (runs on the macOS CI "
                    "runner; not run where runtime is developed)")
def test_chunks_report_the_qos_class_of_their_level():
    import ctypes
    import time

    libc = ctypes.CDLL(None)
    libc.qos_class_self.restype = ctypes.c_uint
    # <sys/qos.h>: QOS_CLASS_BACKGROUND 0x09, UTILITY 0x11, USER_INITIATED 0x19,
    # USER_INTERACTIVE 0x21.
    expected = {"background": 0x09, "utility": 0x11, "initiated": 0x19, "interactive": 0x21}
    for level, qos_class in expected.items():
        seen = []

        def body(start, stop):
            time.sleep(0.002)
            seen.append((threading.get_ident(), libc.qos_class_self()))

        runtime.parallel_for(60, body, grain=1, qos=level)
        assert len({ident for ident, _ in seen}) == 2, seen  # the worker took part
        assert {cls for _, cls in seen} == {qos_class}, (level, seen)


SUBMIT_CHILD = textwrap.dedent("""
    import json, os, threading, time
    import runtime
    runtime.set_num_threads(2)

    def state(tid=0):
        return [sorted(os.sched_getaffinity(tid)), os.sched_getscheduler(tid)]

    def wait_until(done, what):
        # Wait for the event itself, not for a guess of how long it takes;
        # the generous deadline only turns a hang into a failure.
        deadline = time.monotonic() + 10
        while not done():
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out after 10 s waiting until {what}")
            time.sleep(0.001)

    home = state()  # the main thread's own setting, which workers start with
    out = {}
    # 1. Running background work, then a waiter (initiated by default) raises it.
    started = threading.Event()
    def work():
        before = state()
        started.set()
        deadline = time.monotonic() + 10
        while state() == before and time.monotonic() < deadline:
            time.sleep(0.001)
        return before, state(), threading.get_native_id()
    fut = runtime.submit(work, qos="background")
    started.wait()
    before, boosted, tid = fut.result()
    # The override ends, and the worker gets its own setting back, as the
    # work returns; the result can reach us a moment before.
    wait_until(lambda: state(tid) == home, "the worker is back to its own setting")
    out["running"] = [before, boosted, state(tid), fut.qos]

    # 2. Queued background work, raised by an interactive waiter before it starts.
    release = threading.Event()
    blocker = runtime.submit(release.wait)  # holds the one worker
    queued = runtime.submit(state, qos="background")
    seen = {}
    def waiter():
        with runtime.qos("interactive"):
            seen["result"] = queued.result()
    thread = threading.Thread(target=waiter)
    thread.start()
    wait_until(lambda: queued.qos == "interactive", "the waiter raised the queued work")
    release.set()
    thread.join(timeout=30)
    assert not thread.is_alive(), "the waiter never got the queued work's result"
    blocker.result()
    out["queued"] = [seen["result"], queued.qos]

    # 3. Nobody waits from higher up: it stays at its level.
    low = runtime.submit(state, qos="background")
    with runtime.qos("background"):
        out["unraised"] = [low.result(), low.qos]

    # 4. A job at a higher level joins running lower-level work: a chunk of
    # an interactive job waits for it, and raises it to interactive.
    started = threading.Event()
    fut = runtime.submit(work, qos="background")
    started.wait()
    joined = runtime.map_items(lambda _: fut.result(), [0], qos="interactive")[0]
    out["joined"] = [joined[0], joined[1], fut.qos]
    print(json.dumps(out))
""")


@linux_two_cpus
def test_submit_runs_at_its_level_and_waiters_raise_it():
    env = {**os.environ, "RUNTIME_TOPOLOGY": "performance:0;efficiency:1"}
    result = subprocess.run([sys.executable, "-c", SUBMIT_CHILD], capture_output=True,
                            text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    before, boosted, after, level = out["running"]
    assert before == [[1], os.SCHED_BATCH]  # background: the efficiency core, SCHED_BATCH
    assert boosted == [[0, 1], os.SCHED_OTHER]  # raised while it ran
    assert after == [[0, 1], os.SCHED_OTHER] and level == "initiated"  # override ended
    assert out["queued"] == [[[0, 1], os.SCHED_OTHER], "interactive"]
    assert out["unraised"] == [[[1], os.SCHED_BATCH], "background"]
    assert out["joined"] == [[[1], os.SCHED_BATCH], [[0, 1], os.SCHED_OTHER], "interactive"]


def test_submit_returns_a_future_with_results_and_errors():
    assert runtime.submit(sum, [1, 2, 3]).result() == 6
    assert runtime.submit(pow, 2, 10, qos="utility").result(timeout=30) == 1024

    def fail():
        raise KeyError("lost")

    error = runtime.submit(fail).exception(timeout=30)
    assert isinstance(error, KeyError)
    with pytest.raises(TypeError, match="runtime.submit: fn must be callable"):
        runtime.submit(42)
    with pytest.raises(ValueError, match="runtime.submit: unknown QoS level"):
        runtime.submit(print, qos="soon")
    import concurrent.futures

    futures = [runtime.submit(lambda i=i: i * i) for i in range(20)]
    assert sorted(f.result() for f in concurrent.futures.as_completed(futures)) == \
        [i * i for i in range(20)]


def test_submit_with_one_thread_runs_on_the_caller():
    runtime.set_num_threads(1)  # the threads fixture restores the count
    fut = runtime.submit(threading.get_ident)
    assert fut.done() and fut.result() == threading.get_ident()


TAIL_CHILD = textwrap.dedent("""
    import json, os, sys, threading, time
    import runtime
    from runtime import _core
    runtime.set_num_threads(2)
    runtime.set_tail_boost(sys.argv[1] == "on")
    caller = threading.get_ident()

    def item(i):
        if i == 0:
            time.sleep(0.005)  # the caller's head item
            return None
        seen = set()
        end = time.monotonic() + 0.04
        while time.monotonic() < end:  # the worker's tail item
            seen.add(tuple(sorted(os.sched_getaffinity(0))))
            time.sleep(0.0005)
        return threading.get_ident() != caller, sorted(seen)

    rounds = []
    for _ in range(20):
        on_worker, seen = runtime.map_items(item, [0, 1])[1]
        if on_worker:
            rounds.append(seen)
    print(json.dumps({"rounds": rounds, "boosts": _core.stats()["boosts"]}))
""")


@linux_two_cpus
@pytest.mark.parametrize("boost", ["on", "off"])
def test_tail_boost_moves_the_last_item_to_the_performance_core(boost):
    env = {**os.environ, "RUNTIME_TOPOLOGY": "performance:0;efficiency:1"}
    result = subprocess.run([sys.executable, "-c", TAIL_CHILD, boost], capture_output=True,
                            text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["rounds"], "the worker never took the tail item in 20 rounds"
    boosted = [seen for seen in out["rounds"] if [0] in seen]
    if boost == "on":
        assert boosted and out["boosts"] > 0  # raised onto cpu0 while the caller waited
    else:
        assert not boosted and out["boosts"] == 0
