"""QoS levels nest as a stack on every thread: a job at one level inside a
chunk of another runs at its own level (not on top of the outer one), the
outer chunk is back at its level after, and once the pool is idle every
thread is back at its own setting.  Checked through the OS (policy, nice,
affinity of every thread), in a child with RUNTIME_TOPOLOGY declaring cpu1
an efficiency core."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not hasattr(os, "sched_getaffinity")
    or not {0, 1} <= os.sched_getaffinity(0), reason="needs Linux and CPUs 0 and 1")

CHILD = textwrap.dedent("""
    import json, os, threading, time
    import numpy as np, runtime
    from runtime import _core
    runtime.set_num_threads(2)

    def state(tid=0):
        return [sorted(os.sched_getaffinity(tid)), os.sched_getscheduler(tid),
                os.getpriority(os.PRIO_PROCESS, tid or threading.get_native_id())]

    def workers():
        tids = []
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/comm") as f:
                if f.read().strip() == "runtime-worker":
                    tids.append(int(tid))
        return tids

    own = state()
    inner, outer_after, raised = [], [], []

    def inner_chunk(a):
        inner.append(state())
        return np.sin(a)

    def outer_chunk(a):
        try:
            if len(a) == 40_000 and not raised:
                raised.append(1)
                runtime.map(lambda b: 1 / 0, a, grain=1000, qos="interactive")
        except ZeroDivisionError:
            pass
        runtime.map(inner_chunk, a, grain=1000, qos="interactive")
        outer_after.append(state())
        return a

    x = np.ones(160_000)
    for _ in range(3):
        runtime.map(outer_chunk, x, grain=40_000, qos="background")
    caller_after = state()
    deadline = time.monotonic() + 30
    while _core.stats()["sleeping"] < 1:  # the worker parks
        assert time.monotonic() < deadline
        time.sleep(0.001)
    print(json.dumps({"own": own, "inner": inner, "outer_after": outer_after,
                      "caller_after": caller_after,
                      "workers": [state(tid) for tid in workers()]}))
""")


def test_levels_nest_and_every_thread_gets_its_own_setting_back():
    env = {**os.environ, "RUNTIME_TOPOLOGY": "performance:0;efficiency:1"}
    result = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                            timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    own_cpus, own_policy, own_nice = out["own"]
    assert own_policy == 0  # SCHED_OTHER
    # Interactive chunks inside background ones: SCHED_OTHER, the thread's
    # own nice (not the background level's 10), on either CPU kind.
    assert out["inner"] and all(policy == 0 and nice == own_nice
                                for _, policy, nice in out["inner"]), out["inner"]
    # Back in the background chunk: the background level again.
    assert out["outer_after"] and all(cpus == [1] and policy == 3 and nice >= 10
                                      for cpus, policy, nice in out["outer_after"])
    assert out["caller_after"] == out["own"]
    assert out["workers"] and all(w == out["own"] for w in out["workers"]), out["workers"]
