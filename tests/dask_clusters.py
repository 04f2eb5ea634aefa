"""runtime.dask on real distributed.LocalCluster's, on loopback: one of
worker processes (processes=True, each set up by the plugin inside it,
with the nanny's OMP_NUM_THREADS=1) and one of workers inside this
process (processes=False, sharing its pool).

tests/test_dask.py runs this file in a pytest of its own, in a fresh
interpreter: distributed keeps a thread (Dask-Offload) and multiprocessing
its resource tracker for the life of the process that used them, which
the suite's check for threads and processes left behind would find.
Every wait is bounded: by its own timeout, and the whole run by
tests/test_dask.py's."""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable, Iterator

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import runtime  # noqa: E402
import runtime.dask  # noqa: E402
import runtime.numpy  # noqa: E402
from runtime import _cpus  # noqa: E402

WAIT_S = 60
CPUS = _cpus.cpu_budget().count


@pytest.fixture(scope="module")
def worker_processes() -> Iterator[Any]:
    """Two worker processes of one thread each (the nanny sets OMP_NUM_THREADS=1)."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address="127.0.0.1:0") as cluster:
        with distributed.Client(cluster, timeout=WAIT_S) as client:
            yield client


@pytest.fixture(scope="module")
def workers_in_this_process() -> Iterator[Any]:
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  protocol="tcp", host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0") as cluster:
        with distributed.Client(cluster, timeout=WAIT_S) as client:
            yield client


@pytest.fixture
def installed(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The cluster named by the test's parameter, with runtime installed."""
    client = request.getfixturevalue(request.param)
    runtime.dask.install(client)
    try:
        yield client
    finally:
        runtime.dask.uninstall(client)


def executor_of(dask_worker: Any) -> str:
    return type(dask_worker.executors["default"]).__name__


def setup_of(dask_worker: Any) -> tuple[int, str, str]:
    return (runtime.num_threads(), runtime.info()["num_threads_source"],
            executor_of(dask_worker))


def pool_worker_tids() -> set[int]:
    tids = set()
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                if f.read().strip() == "runtime-worker":
                    tids.add(int(tid))
        except OSError:
            pass  # ended while we looked
    return tids


def thread_name() -> str:
    """The OS's name for the pool's C threads (they have no Python name of
    their own), else Python's."""
    with open(f"/proc/self/task/{threading.get_native_id()}/comm") as f:
        comm = f.read().strip()
    return comm if comm == "runtime-worker" else threading.current_thread().name


def split_inside_a_task(n: int) -> dict[str, Any]:
    """A job started by a Dask task: which threads ran its pieces."""
    x = np.linspace(0, 1, n)
    with runtime.trace() as trace:
        y = runtime.map(np.exp, x, grain=100_000)  # a grain: split, whatever the cost model says
    jobs = [e.job for e in trace.events if e.name == "job"]
    if jobs:  # the last is the map's (the cost model's probes come first)
        tids = {e.tid for e in trace.events if e.name == "task" and e.job == jobs[-1]}
    else:  # one thread: the map ran inline
        tids = {threading.get_native_id()}
    return {"equal": bool(np.array_equal(y, np.exp(x))), "tids": tids,
            "task_tid": threading.get_native_id(), "task_thread": thread_name(),
            "pool_workers": pool_worker_tids(),
            "num_threads": runtime.num_threads()}


def eventually(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


# ------------------------------------------------------- worker processes


def test_worker_processes_follow_the_nannys_omp_num_threads_until_installed(worker_processes):
    before = worker_processes.run(setup_of)
    assert set(before.values()) == {(1, "OMP_NUM_THREADS", "ThreadPoolExecutor")}
    runtime.dask.install(worker_processes)
    try:
        share = runtime.dask.cpu_share(CPUS, worker_processes=2)
        during = worker_processes.run(setup_of)
        assert set(during.values()) == {(share, "set_num_threads", "WorkerExecutor")}
    finally:
        runtime.dask.uninstall(worker_processes)
    assert worker_processes.run(setup_of) == before  # the count, what chose it, the executor


@pytest.mark.parametrize("installed", ["worker_processes", "workers_in_this_process"],
                         indirect=True)
def test_a_pipeline_gives_numpys_results(installed):
    x = da.random.random(400_000, chunks=100_000)
    y = da.random.random(400_000, chunks=100_000)
    xs, ys = x.compute(scheduler="synchronous"), y.compute(scheduler="synchronous")
    # Through runtime inside the tasks too: map_blocks with runtime.map.
    exp_blocks = x.map_blocks(lambda block: runtime.map(np.exp, block), dtype=float)
    futures = installed.compute([da.exp(x).sum(), (x * y + 1.0).mean(), (x - y).max(),
                                 exp_blocks, da.sqrt(x * y).std()])
    results = [future.result(timeout=WAIT_S) for future in futures]
    exp_sum, mean, largest, exp_all, std = results
    assert exp_sum == pytest.approx(np.exp(xs).sum(), rel=1e-12)
    assert mean == pytest.approx((xs * ys + 1.0).mean(), rel=1e-12)
    assert largest == (xs - ys).max()
    np.testing.assert_array_equal(exp_all, np.exp(xs))
    assert std == pytest.approx(np.sqrt(xs * ys).std(), rel=1e-9)


@pytest.mark.parametrize("cpus", [None, 3])
def test_a_task_splits_over_its_workers_share_and_no_further(worker_processes, cpus):
    share = cpus or runtime.dask.cpu_share(CPUS, worker_processes=2)
    runtime.dask.install(worker_processes, cpus=cpus)
    try:
        check_splits(worker_processes, share)
    finally:
        runtime.dask.uninstall(worker_processes)


def check_splits(installed: Any, share: int) -> None:
    for worker in installed.scheduler_info()["workers"]:
        seen = installed.submit(split_inside_a_task, 2_000_000, workers=[worker],
                                pure=False).result(timeout=WAIT_S)
        assert seen["equal"]
        assert seen["num_threads"] == share
        assert len(seen["pool_workers"]) <= share - 1  # the pool: share - 1 workers + a caller
        assert len(seen["tids"]) <= share
        assert seen["tids"] - {seen["task_tid"]} <= seen["pool_workers"]
        # The task itself ran on the pool: a worker, or the executor's runner.
        assert seen["task_thread"] in ("runtime-worker", "runtime-executor")


def fail(message: str) -> None:
    raise ZeroDivisionError(message)


@pytest.mark.parametrize("installed", ["worker_processes", "workers_in_this_process"],
                         indirect=True)
def test_an_error_in_a_task_reaches_the_client_as_dask_reports_it(installed):
    future = installed.submit(fail, "from the worker", pure=False)
    with pytest.raises(ZeroDivisionError, match="from the worker"):
        future.result(timeout=WAIT_S)
    assert future.status == "error"
    assert installed.submit(sum, [1, 2], pure=False).result(timeout=WAIT_S) == 3  # still works


def test_a_restarted_worker_gets_the_setup_again(worker_processes):
    runtime.dask.install(worker_processes)
    try:
        pids_before = set(worker_processes.run(os.getpid).values())
        worker_processes.restart(timeout=WAIT_S)
        worker_processes.wait_for_workers(2, timeout=WAIT_S)
        assert not pids_before & set(worker_processes.run(os.getpid).values())  # new processes
        # Set up as each registers, the first while it was alone on the
        # host: the shares follow within a few checks.
        share = runtime.dask.cpu_share(CPUS, worker_processes=2)
        assert eventually(lambda: set(worker_processes.run(setup_of).values())
                          == {(share, "set_num_threads", "WorkerExecutor")})
    finally:
        runtime.dask.uninstall(worker_processes)
    assert set(worker_processes.run(setup_of).values()) == \
        {(1, "OMP_NUM_THREADS", "ThreadPoolExecutor")}


# ------------------------------------------------- workers in this process


def test_workers_in_one_process_share_its_pool(workers_in_this_process):
    before = runtime.num_threads(), runtime.info()["num_threads_source"]
    runtime.dask.install(workers_in_this_process)
    try:
        # Both workers live in this process: one process on the host, all its CPUs.
        setups = workers_in_this_process.run(setup_of)
        assert set(setups.values()) == {(CPUS, "set_num_threads", "WorkerExecutor")}
        assert runtime.num_threads() == CPUS
    finally:
        runtime.dask.uninstall(workers_in_this_process)
    assert (runtime.num_threads(), runtime.info()["num_threads_source"]) == before
    assert set(workers_in_this_process.run(executor_of).values()) == {"ThreadPoolExecutor"}


def test_installing_twice_is_harmless_and_one_uninstall_restores(workers_in_this_process):
    before = runtime.num_threads(), runtime.info()["num_threads_source"]
    runtime.dask.install(workers_in_this_process, cpus=1)
    runtime.dask.install(workers_in_this_process, cpus=1, qos="utility")  # replaces the first
    try:
        assert set(workers_in_this_process.run(setup_of).values()) == \
            {(1, "set_num_threads", "WorkerExecutor")}
        assert workers_in_this_process.submit(sum, [1, 2], pure=False).result(WAIT_S) == 3
        levels = workers_in_this_process.run(
            lambda dask_worker: dask_worker.executors["default"].qos)
        assert set(levels.values()) == {"utility"}
    finally:
        runtime.dask.uninstall(workers_in_this_process)
    runtime.dask.uninstall(workers_in_this_process)  # not installed: harmless
    assert (runtime.num_threads(), runtime.info()["num_threads_source"]) == before
    assert set(workers_in_this_process.run(executor_of).values()) == {"ThreadPoolExecutor"}


# Shared with the tasks of the workers in this process (pickled by reference).
RELEASE = threading.Event()
STARTED = threading.Event()
RAN: list[str] = []


def hold() -> None:
    STARTED.set()
    RELEASE.wait(WAIT_S)
    RAN.append("held")


def note(word: str) -> None:
    RAN.append(word)


def worker_task_state(key: str, dask_worker: Any) -> str | None:
    task = dask_worker.state.tasks.get(key)
    return None if task is None else task.state


def test_cancelling_a_dask_future_cancels_the_pools_work():
    # Two Dask threads, one runtime lane: the worker hands both tasks to
    # the executor, where the second waits for the first.
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  protocol="tcp", host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0") as cluster:
        with distributed.Client(cluster, timeout=WAIT_S) as client:
            runtime.dask.install(client, cpus=1)

            def state(key: str) -> str | None:
                return next(iter(client.run(worker_task_state, key).values()))

            held = client.submit(hold, pure=False)
            assert STARTED.wait(WAIT_S)
            queued = client.submit(note, "queued", pure=False)
            assert eventually(lambda: state(queued.key) == "executing")  # in the executor
            client.cancel([queued, held])
            assert queued.cancelled() and held.cancelled()
            assert eventually(lambda: state(held.key) == "cancelled"
                              and state(queued.key) in ("cancelled", None))
            RELEASE.set()
            # The worker is free again; the cancelled task never ran.
            assert client.submit(len, [0], pure=False).result(WAIT_S) == 1
            assert eventually(lambda: state(queued.key) is None)
            assert RAN == ["held"]
            runtime.dask.uninstall(client)


def test_bad_arguments_say_what_was_wrong(workers_in_this_process):
    with pytest.raises(TypeError, match="client must be a distributed.Client, got object"):
        runtime.dask.install(object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cpus must be between 1 and"):
        runtime.dask.install(workers_in_this_process, cpus=0)
    with pytest.raises(ValueError, match="runtime.dask.install: unknown QoS level 'fast'"):
        runtime.dask.install(workers_in_this_process, qos="fast")  # type: ignore[arg-type]
    assert set(workers_in_this_process.run(executor_of).values()) == {"ThreadPoolExecutor"}


def transparent_mode_on() -> bool:
    from runtime.dask import _plugin
    return _plugin._process._patched


@pytest.mark.skipif(not hasattr(runtime.numpy, "patch"),
                    reason="this runtime has no transparent mode (runtime.numpy.patch)")
def test_transparent_mode_is_on_in_installed_workers_only(worker_processes):
    runtime.dask.install(worker_processes)
    try:
        assert set(worker_processes.run(transparent_mode_on).values()) == {True}
    finally:
        runtime.dask.uninstall(worker_processes)
    assert set(worker_processes.run(transparent_mode_on).values()) == {False}
