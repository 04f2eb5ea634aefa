"""runtime.Executor: a concurrent.futures.Executor whose tasks run on the
pool's threads (its workers and one runner in the caller's slot), at its
QoS level, never on the submitting thread.  Every wait is bounded."""

from __future__ import annotations

import concurrent.futures
import os
import threading

import numpy as np
import pytest

import runtime
from runtime import _core, _qos

WAIT_S = 30  # bound of every wait: a lost task fails the test, it never hangs it


def where_am_i() -> tuple[int, str, int]:
    """The OS thread, its name (the OS's for the pool's C threads, which
    have no Python name of their own) and its pool slot."""
    tid = threading.get_native_id()
    with open(f"/proc/self/task/{tid}/comm") as f:
        comm = f.read().strip()
    name = comm if comm == "runtime-worker" else threading.current_thread().name
    return tid, name, _core.current_slot()


def test_submit_gives_the_result_and_map_keeps_the_order():
    with runtime.Executor() as ex:
        assert ex.submit(sum, range(10)).result(timeout=WAIT_S) == 45
        assert ex.submit(divmod, 7, b=2).exception(timeout=WAIT_S) is not None  # kwargs passed
        assert list(ex.map(pow, range(6), range(6), timeout=WAIT_S, chunksize=4)) == \
            [pow(i, i) for i in range(6)]


def test_an_error_in_a_task_is_raised_by_its_future():
    def fail() -> None:
        raise KeyError("from the task")

    with runtime.Executor() as ex:
        future = ex.submit(fail)
        with pytest.raises(KeyError, match="from the task"):
            future.result(timeout=WAIT_S)
        assert list(ex.map(abs, [-1, -2], timeout=WAIT_S)) == [1, 2]  # still usable


@pytest.mark.parametrize("threads", [1, 2, 3], indirect=True)
def test_tasks_run_on_pool_threads_never_on_the_submitter(threads):
    submitter = threading.get_native_id()
    with runtime.Executor() as ex:
        places = [f.result(timeout=WAIT_S) for f in [ex.submit(where_am_i) for _ in range(40)]]
    assert submitter not in {tid for tid, _, _ in places}
    assert {name for _, name, _ in places} <= {"runtime-executor", "runtime-worker"}
    assert all(slot >= 0 for _, name, slot in places if name == "runtime-worker")


@pytest.mark.parametrize("threads", [3], indirect=True)
def test_as_many_tasks_run_at_once_as_the_pool_has_threads(threads):
    # Three tasks that can only finish together: each needs a lane of its own.
    barrier = threading.Barrier(threads, timeout=WAIT_S)
    with runtime.Executor() as ex:
        assert ex._max_workers == threads  # what Dask's local scheduler reads
        futures = [ex.submit(barrier.wait) for _ in range(threads)]
        assert sorted(f.result(timeout=WAIT_S) for f in futures) == list(range(threads))


def test_tasks_run_at_the_executors_level_or_the_submitters():
    with runtime.Executor(qos="background") as ex:
        assert ex.qos == "background"
        assert ex.submit(_qos.current).result(timeout=WAIT_S) == _qos.LEVELS["background"]
    with runtime.Executor() as ex:
        assert ex.qos is None
        assert ex.submit(_qos.current).result(timeout=WAIT_S) == _qos.LEVELS["initiated"]
        with runtime.qos("utility"):
            future = ex.submit(_qos.current)
        assert future.result(timeout=WAIT_S) == _qos.LEVELS["utility"]


def test_bad_arguments_say_what_was_wrong():
    with pytest.raises(ValueError, match="runtime.Executor: unknown QoS level 'fast'"):
        runtime.Executor(qos="fast")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="runtime.Executor: level must be one of"):
        runtime.Executor(qos=3)  # type: ignore[arg-type]
    with runtime.Executor() as ex:
        with pytest.raises(TypeError, match="fn must be callable, got int"):
            ex.submit(42)  # type: ignore[arg-type]


def test_no_task_after_shutdown():
    ex = runtime.Executor()
    ex.shutdown()
    with pytest.raises(RuntimeError, match="after shutdown"):
        ex.submit(sum, [])


@pytest.mark.parametrize("threads", [2], indirect=True)
def test_cancelled_and_cancelled_at_shutdown_tasks_never_run(threads):
    release = threading.Event()
    started = threading.Barrier(threads + 1, timeout=WAIT_S)
    ran: list[int] = []

    def hold_a_lane() -> None:
        started.wait()
        assert release.wait(WAIT_S)

    ex = runtime.Executor()
    holding = [ex.submit(hold_a_lane) for _ in range(threads)]  # every lane busy
    started.wait()
    queued = [ex.submit(ran.append, i) for i in range(4)]
    assert queued[0].cancel()
    ex.shutdown(wait=False, cancel_futures=True)
    release.set()
    ex.shutdown(wait=True)
    assert all(f.result(timeout=WAIT_S) is None for f in holding)
    assert all(f.cancelled() for f in queued)
    assert ran == []


def test_shutdown_waits_for_the_tasks_it_has():
    release = threading.Event()
    ex = runtime.Executor()
    futures = [ex.submit(release.wait, WAIT_S) for _ in range(3)]
    threading.Timer(0.05, release.set).start()  # released while shutdown waits
    ex.shutdown(wait=True)
    assert all(f.done() and f.result() is True for f in futures)


@pytest.mark.parametrize("threads", [2], indirect=True)
def test_a_task_splits_its_job_over_the_pool_and_no_further(threads):
    # The job a task starts is cut into chunks for the pool's threads; the
    # threads that run them are the pool's (the task's own among them).
    x = np.linspace(0, 1, 2_000_000)

    def traced_map() -> tuple[np.ndarray, list[runtime.TraceEvent], int]:
        with runtime.trace() as trace:
            y = runtime.map(np.sin, x, grain=100_000)  # a grain: split, whatever the cost model says
        return y, trace.events, threading.get_native_id()

    with runtime.Executor() as ex:
        y, events, task_tid = ex.submit(traced_map).result(timeout=WAIT_S)
    np.testing.assert_array_equal(y, np.sin(x))
    job = [e for e in events if e.name == "job"][-1].job  # the map's (probes come first)
    chunks = [e for e in events if e.name == "task" and e.job == job]
    assert len(chunks) > 1
    tids = {e.tid for e in chunks}
    assert len(tids) <= threads
    assert tids - {task_tid} <= set(pool_worker_tids())


def pool_worker_tids() -> list[int]:
    tids = []
    for tid in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{tid}/comm") as f:
            if f.read().strip() == "runtime-worker":
                tids.append(int(tid))
    return tids


def test_dask_local_scheduler_runs_on_it():
    da = pytest.importorskip("dask.array")
    x = da.random.random(1_000_000, chunks=100_000)
    expected = np.exp(x.compute(scheduler="synchronous")).sum()
    with runtime.Executor(qos="utility") as ex:
        assert da.exp(x).sum().compute(scheduler=ex) == pytest.approx(expected, rel=1e-12)


def test_it_is_a_concurrent_futures_executor_not_named_like_the_thread_pool():
    # distributed treats a class whose name says ThreadPoolExecutor as its own.
    assert issubclass(runtime.Executor, concurrent.futures.Executor)
    assert "ThreadPoolExecutor" not in str(runtime.Executor)


@pytest.mark.parametrize("threads", [1], indirect=True)
# Python 3.12+ warns about fork() in a process with threads: forking with
# the runner running is what this test checks.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_has_a_working_executor(threads):
    # Forked while the parent's runner runs a task: the child has no
    # runner (and with one thread the runner is the only lane), so its
    # executor must start one of its own.
    release, started = threading.Event(), threading.Event()

    def hold() -> None:
        started.set()
        release.wait(WAIT_S)

    ex = runtime.Executor()
    held = ex.submit(hold)
    assert started.wait(WAIT_S)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running the parent's exit hooks
        try:
            ok = ex.submit(sum, [1, 2]).result(timeout=5) == 3
        except BaseException:
            ok = False
        os.write(write, b"ok" if ok else b"no")
        os._exit(0)
    os.close(write)
    try:
        assert os.read(read, 2) == b"ok"
    finally:
        os.close(read)
        os.waitpid(pid, 0)
        release.set()
        held.result(timeout=WAIT_S)
        ex.shutdown()
