"""runtime.dask.consolidate on a real LocalCluster (in this process, on
127.0.0.1): new tasks are packed onto few workers where Dask would spread
them; idle workers retire with their data moved, no task lost or run
twice; capacity comes back when tasks wait; a short trace gives the same
results as computing it here.  Every wait is bounded."""

from __future__ import annotations

import contextlib

import threading
import time

import numpy as np
import pytest

distributed = pytest.importorskip("distributed", reason="needs distributed "
                                  "(pip install distributed; it is in the test extra)")

from distributed import Client, LocalCluster, get_worker  # noqa: E402

from runtime.dask.consolidate import PackingPlugin, consolidate  # noqa: E402

WAIT_S = 30.0   # the bound on every wait below; the tests take a few seconds each

# Tasks run in this process (processes=False), so they share these.
runs: dict[int, int] = {}
runs_lock = threading.Lock()
release = threading.Event()


@contextlib.contextmanager
def local_cluster(threads_per_worker: int):
    """Three in-process workers on 127.0.0.1, and a client of them."""
    release.clear()
    with LocalCluster(n_workers=3, threads_per_worker=threads_per_worker, processes=False,
                      protocol="tcp", host="127.0.0.1",
                      dashboard_address="127.0.0.1:0") as local, Client(local) as client:
        try:
            yield local, client
        finally:
            release.set()   # before the cluster closes: no task is left blocked


@pytest.fixture
def cluster():
    runs.clear()
    with local_cluster(1) as made:
        yield made


def compute(index: int, seconds: float = 0.0) -> tuple[int, float, str]:
    """A task: counts its runs, sleeps, returns a value of its own data
    and the worker that ran it."""
    with runs_lock:
        runs[index] = runs.get(index, 0) + 1
    time.sleep(seconds)
    return index, expected(index), get_worker().address


def blocked(index: int) -> str:
    release.wait(WAIT_S)
    return get_worker().address


def expected(index: int) -> float:
    return float(np.random.default_rng(index).random(100).sum())


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {WAIT_S} s waiting until {what}")
        time.sleep(0.05)


def processing_on(local, futures) -> list[str]:
    def placed() -> bool:   # a submitted task reaches the scheduler a moment later
        states = [local.scheduler.tasks.get(f.key) for f in futures]
        return all(ts is not None and ts.processing_on for ts in states)

    wait_until(placed, "every task is on a worker")
    return [local.scheduler.tasks[f.key].processing_on.address for f in futures]


@pytest.fixture
def two_thread_cluster():
    with local_cluster(2) as made:
        yield made


def test_dask_alone_spreads_two_tasks_over_two_workers(two_thread_cluster):
    local, client = two_thread_cluster
    futures = [client.submit(blocked, i, pure=False) for i in range(2)]
    try:
        assert len(set(processing_on(local, futures))) == 2
    finally:
        release.set()
    client.gather(futures)


def test_the_plugin_packs_tasks_onto_the_busiest_worker_with_a_free_thread(two_thread_cluster):
    local, client = two_thread_cluster
    client.register_plugin(PackingPlugin(suspend_after=60.0))
    futures = [client.submit(blocked, i, pure=False) for i in range(3)]
    try:
        first, second, third = processing_on(local, futures)
        assert first == second != third     # two threads on the first worker, then the next
    finally:
        release.set()
    assert client.gather(futures) == [first, second, third]


def test_idle_workers_retire_and_their_data_moves(cluster):
    local, client = cluster
    # One result on each worker (pinned there by the user: the plugin leaves
    # such tasks alone), held by the client.
    addresses = sorted(local.scheduler.workers)
    futures = [client.submit(compute, i, workers=[a], pure=False)
               for i, a in enumerate(addresses)]
    client.gather(futures)
    assert {next(iter(client.who_has(f)[f.key])) for f in futures} == set(addresses)
    consolidate(local, suspend_after=0.3, interval=0.1, minimum=1)
    wait_until(lambda: len(local.scheduler.workers) == 1, "two of three workers retire")
    survivor = next(iter(local.scheduler.workers))
    assert all(client.who_has(f)[f.key] == (survivor,) for f in futures)
    assert [f.result(timeout=WAIT_S)[:2] for f in futures] == [(i, expected(i)) for i in range(3)]
    assert runs == {0: 1, 1: 1, 2: 1}           # moved, not recomputed


def test_capacity_comes_back_when_tasks_wait(cluster):
    local, client = cluster
    consolidate(local, suspend_after=0.3, interval=0.1, minimum=1)
    wait_until(lambda: len(local.scheduler.workers) == 1, "the idle cluster shrinks to one")
    futures = [client.submit(compute, i, 0.5, pure=False) for i in range(8)]
    results = client.gather(futures)
    assert [r[:2] for r in results] == [(i, expected(i)) for i in range(8)]
    assert len({worker for _, _, worker in results}) >= 2   # more workers came to run them
    assert runs == {i: 1 for i in range(8)}
    wait_until(lambda: len(local.scheduler.workers) == 1, "it shrinks again when idle")


def test_a_short_trace_loses_nothing_and_matches_computing_it_here(cluster):
    local, client = cluster
    consolidate(local, suspend_after=0.3, interval=0.1, minimum=1)
    rng = np.random.default_rng(5)
    gaps, durations = rng.exponential(0.1, 30), rng.uniform(0.01, 0.2, 30)
    futures = []
    for i, (gap, seconds) in enumerate(zip(gaps, durations)):
        time.sleep(gap)
        futures.append(client.submit(compute, i, seconds, pure=False))
    results = client.gather(futures)
    assert [r[:2] for r in results] == [(i, expected(i)) for i in range(30)]
    assert runs == {i: 1 for i in range(30)}


@pytest.mark.parametrize("kwargs, field", [({"suspend_after": 0}, "suspend_after"),
                                           ({"interval": -1.0}, "interval"),
                                           ({"maximum": 0}, "maximum"),
                                           ({"minimum": 2, "maximum": 1}, "maximum")])
def test_bad_settings_are_value_errors_naming_them(cluster, kwargs, field):
    local, _ = cluster
    with pytest.raises(ValueError, match=f"^{field} is "):
        consolidate(local, **kwargs)


def test_the_plugin_checks_its_settings():
    with pytest.raises(ValueError, match="^minimum is -1"):
        PackingPlugin(minimum=-1)
    with pytest.raises(ValueError, match="^suspend_after is nan"):
        PackingPlugin(suspend_after=float("nan"))
