"""runtime.trace: events of the C core's rings as Python records and as
Chrome Trace Event JSON (the format Perfetto and chrome://tracing read)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import runtime
from runtime import _core

pytestmark = pytest.mark.usefixtures("threads")

PHASES_WITH_DURATION = {"X"}
KNOWN_PHASES = {"X", "i", "M"}


def check_trace_event_format(doc: dict) -> None:
    """The JSON object form of the Trace Event Format, as Perfetto's JSON
    importer reads it: a traceEvents list; every event has a phase, a
    name, integer pid/tid; "X" has numeric ts and dur >= 0, "i" a numeric
    ts and a scope, "M" (metadata) a name and args.name or args.sort_index."""
    assert isinstance(doc["traceEvents"], list) and doc["traceEvents"]
    assert doc.get("displayTimeUnit") in (None, "ms", "ns")
    for event in doc["traceEvents"]:
        assert event["ph"] in KNOWN_PHASES, event
        assert isinstance(event["name"], str) and event["name"], event
        assert isinstance(event["pid"], int) and isinstance(event["tid"], int), event
        if event["ph"] == "M":
            assert event["name"] in ("process_name", "thread_name", "thread_sort_index")
            assert "name" in event["args"] or "sort_index" in event["args"]
            continue
        assert isinstance(event["ts"], (int, float)) and event["ts"] >= 0, event
        if event["ph"] == "X":
            assert isinstance(event["dur"], (int, float)) and event["dur"] >= 0, event
        if event["ph"] == "i":
            assert event["s"] in ("t", "p", "g"), event
        json.dumps(event["args"])  # args must be plain JSON
    # Perfetto builds one slice stack per thread from complete events: on a
    # thread, two of them are disjoint or one holds the other.
    spans: dict[int, list[tuple[float, float]]] = {}
    for event in doc["traceEvents"]:
        if event["ph"] == "X":
            spans.setdefault(event["tid"], []).append((event["ts"], event["ts"] + event["dur"]))
    for tid, intervals in spans.items():
        open_ends: list[float] = []
        for begin, end in sorted(intervals, key=lambda span: (span[0], -span[1])):
            while open_ends and open_ends[-1] <= begin:
                open_ends.pop()
            assert not open_ends or end <= open_ends[-1] + 1e-3, (tid, begin, end, open_ends)
            open_ends.append(end)


def slow_sin(a: np.ndarray) -> np.ndarray:
    time.sleep(0.001)  # releases the GIL: both threads take chunks
    return np.sin(a)


def test_a_map_of_4e6_elements_has_task_spans_on_two_threads(tmp_path):
    path = tmp_path / "run.json"
    x = np.linspace(0, 1, 4_000_000)
    with runtime.trace(path) as tr:
        y = runtime.map(slow_sin, x, grain=50_000)
    np.testing.assert_array_equal(y, np.sin(x))
    tasks = [e for e in tr.events if e.name == "task"]
    assert len({e.tid for e in tasks}) >= 2
    assert {e.thread for e in tasks} >= {"caller 0", "worker 0"}
    job = next(e for e in tr.events if e.name == "job" and e.hi - e.lo > 1_000_000)
    mine = sorted((e.lo, e.hi) for e in tasks if e.job == job.job)
    assert mine[0][0] == job.lo and mine[-1][1] == job.hi
    assert all(a[1] == b[0] for a, b in zip(mine, mine[1:]))  # each element once
    assert all(e.duration >= 0 and e.start >= 0 and e.cpu >= -1 for e in tr.events)
    assert tr.dropped == 0

    doc = json.loads(path.read_text())
    check_trace_event_format(doc)
    spans = [e for e in doc["traceEvents"] if e.get("cat") == "task"]
    assert len(spans) == len(tasks)
    names = {e["tid"]: e["args"]["name"] for e in doc["traceEvents"]
             if e["name"] == "thread_name"}
    assert {e["tid"] for e in spans} <= set(names)
    kinds = {kind.name for kind in runtime.topology().kinds}
    if not sys.platform.startswith("linux"):
        kinds = {"unknown"}  # no public "which CPU am I on" (macOS): kind unknown
    for tid in {e["tid"] for e in spans}:  # each track says its core kinds
        assert any(kind in names[tid] for kind in kinds), names[tid]


def test_events_are_flat_records():
    with runtime.trace() as tr:
        runtime.map(slow_sin, np.zeros(100_000), grain=10_000)
    event = next(e for e in tr.events if e.name == "task")
    assert isinstance(event, runtime.TraceEvent)
    record = event._asdict()  # what pandas.DataFrame(tr.events) takes
    assert set(record) == set(runtime.TraceEvent._fields)
    assert all(isinstance(v, (int, float, str, tuple, type(None))) for v in record.values())
    assert [e.start for e in tr.events] == sorted(e.start for e in tr.events)


def test_nothing_is_recorded_outside_the_block():
    x = np.zeros(200_000)
    runtime.map(slow_sin, x, grain=10_000)
    with runtime.trace() as tr:
        pass
    runtime.map(slow_sin, x, grain=10_000)
    assert [e for e in tr.events if e.name in ("task", "job")] == []


def test_full_rings_drop_count_and_warn():
    with pytest.warns(RuntimeWarning, match=r"events were dropped .* capacity"):
        with runtime.trace(capacity=4) as tr:
            runtime.map(slow_sin, np.zeros(100_000), grain=1_000)
    assert tr.dropped > 0
    assert len(tr.events) <= 4 * 3  # caller, worker, and the ring for outside threads


def test_a_trace_outlives_a_shutdown():
    with runtime.trace() as tr:
        runtime.map(slow_sin, np.zeros(100_000), grain=10_000)
        assert runtime.shutdown()
        runtime.map(slow_sin, np.zeros(100_000), grain=10_000)
    jobs = [e for e in tr.events if e.name == "job"]
    assert len([e for e in jobs if e.hi - e.lo > 50_000]) == 2


def test_qos_changes_and_boosts_are_recorded():
    with runtime.trace() as tr:
        runtime.map(slow_sin, np.zeros(100_000), grain=10_000, qos="background")
    levels = {e.level for e in tr.events if e.name == "task" and e.hi - e.lo > 1}
    assert levels == {"background"}
    changes = [e for e in tr.events if e.name == "qos"]
    assert any(e.level == "background" for e in changes)
    assert any(e.level is None for e in changes)  # the caller got its own setting back


def test_bad_arguments_say_what_was_wrong(tmp_path):
    with pytest.raises(ValueError, match=r"capacity must be 1 to 16777216 events per thread, "
                                         r"got 0"):
        runtime.trace(capacity=0)
    assert runtime.trace(capacity=np.int32(64)).capacity == 64  # NumPy integers are ints too
    for wrong_type in (True, np.True_, 1.5, "64", None):
        with pytest.raises(TypeError, match="capacity must be an int .*1 to 16777216"):
            runtime.trace(capacity=wrong_type)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="path must be a str"):
        runtime.trace(3)  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match="no such directory"):
        runtime.trace(tmp_path / "missing" / "run.json")
    with runtime.trace() as tr:
        with pytest.raises(RuntimeError, match="already running"):
            with runtime.trace():
                pass
    with pytest.raises(RuntimeError, match="records once"):
        with tr:
            pass


def test_capacities_whose_rings_overflow_are_refused():
    """48 * capacity bytes once wrapped: 2**60 + 1 allocated 48 bytes and
    overran them, 2**62 allocated 0, 2**40 failed and reported full rings.
    Run in a child, bounded, so a regression fails instead of crashing."""
    code = """if True:
        import numpy as np, runtime
        from runtime import _core
        assert runtime.trace(capacity=2**24).capacity == 2**24  # the maximum is allowed
        for capacity in (2**24 + 1, 2**40, 2**60 + 1, 2**62, 2**64, -1):
            try:
                runtime.trace(capacity=capacity).__enter__()
            except ValueError as e:
                assert "capacity must be 1 to 16777216 events per thread" in str(e), e
            else:
                raise AssertionError(f"capacity {capacity} was accepted")
            if -1 <= capacity < 2**63:  # the binding checks too (an int64_t)
                try:
                    _core.trace_start(capacity)
                except ValueError as e:
                    assert "1 to 16777216" in str(e), e
                else:
                    raise AssertionError(f"_core.trace_start({capacity}) was accepted")
        with runtime.trace() as tr:
            runtime.map(np.sin, np.zeros(100_000), grain=1000)
        print("ok", tr.dropped)
    """
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ok", "0"]


def test_a_failed_block_still_stops_the_trace(tmp_path):
    path = tmp_path / "run.json"
    with pytest.raises(KeyError):
        with runtime.trace(path):
            runtime.map(slow_sin, np.zeros(50_000), grain=10_000)
            raise KeyError("boom")
    check_trace_event_format(json.loads(path.read_text()))
    with runtime.trace():  # a new one can start
        pass
    assert not _core.trace_running()


def test_tracing_from_another_thread_records_its_job():
    seen = []

    def other():
        seen.append(runtime.map(slow_sin, np.zeros(50_000), grain=10_000))

    with runtime.trace() as tr:
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert seen and any(e.name == "job" and e.tid == thread.native_id for e in tr.events)
