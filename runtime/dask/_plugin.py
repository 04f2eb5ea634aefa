"""The setup runtime.dask.install runs inside each Dask worker (a
distributed WorkerPlugin, so that it runs in every worker process, in
workers that join or restart later too) and the state it restores.

Imported only by install(): importing it imports distributed.
"""

from __future__ import annotations

import threading
from concurrent.futures import Executor as _FuturesExecutor
from concurrent.futures import Future
from typing import Any, Callable, TypeVar

from tornado.ioloop import PeriodicCallback

from distributed import Worker
from distributed.comm.addressing import get_address_host
from distributed.core import Status
from distributed.diagnostics.plugin import WorkerPlugin

import runtime
import runtime.numpy
from .. import _config, _cpus
from ._share import cpu_share

T = TypeVar("T")

PLUGIN_NAME = "runtime"
SHARE_CALLBACK = "runtime-cpu-share"
# How often a worker asks the scheduler which workers share its host
# (the answer lists every worker: kept infrequent for large clusters).
SHARE_CHECK_MS = 2000

# A worker in these states no longer runs tasks: it does not count as a
# process on the host.
_GONE = (Status.closing, Status.closing_gracefully, Status.closed, Status.failed)


class TaskCancelled(Exception):
    """A Dask task cancelled while it waited in the worker's executor: it
    never ran (the worker discards this error, as it does the result of a
    cancelled task)."""


class _SkippedTask:
    """Stands for a cancelled task's code: distributed's task runner calls
    it and reports the error to the worker, which then frees the task."""

    def __init__(self, key: object) -> None:
        self.key = key

    def __call__(self, data: object) -> None:
        raise TaskCancelled(f"task {self.key!r} was cancelled before it started")


class WorkerExecutor(runtime.Executor):
    """runtime.Executor for a Dask worker: a task cancelled while it waits
    for a lane does not run.  (The worker hands tasks over as
    ``submit(run, task, data, ...)``; a task already running runs to its
    end, as on any Dask worker.)"""

    def __init__(self, qos: str | None) -> None:
        super().__init__(qos=qos)  # type: ignore[arg-type]
        self._waiting: dict[object, bool] = {}  # key -> cancelled, until a lane takes it
        self._waiting_lock = threading.Lock()

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        key = getattr(args[0], "key", None) if args else None
        if key is None:
            return super().submit(fn, *args, **kwargs)
        with self._waiting_lock:
            self._waiting[key] = False
        return super().submit(self._unless_cancelled, key, fn, args, kwargs)

    def cancel(self, key: object, cancelled: bool) -> None:
        """The worker cancelled `key` (or took it back): skip it (or not)
        if no lane has taken it yet."""
        with self._waiting_lock:
            if key in self._waiting:
                self._waiting[key] = cancelled

    def _unless_cancelled(self, key: object, fn: Callable[..., T], args: tuple[Any, ...],
                          kwargs: dict[str, Any]) -> T:
        with self._waiting_lock:
            cancelled = self._waiting.pop(key, False)
        if cancelled:
            args = (_SkippedTask(key), *args[1:])
        return fn(*args, **kwargs)


class RuntimeWorkerPlugin(WorkerPlugin):
    """Sizes the worker process's pool to its CPU share, turns on
    transparent mode where runtime.numpy has it, and runs the worker's
    tasks on a runtime.Executor; teardown puts all of it back."""

    name = PLUGIN_NAME

    def __init__(self, cpus: int | None, qos: str | None) -> None:
        self.cpus = cpus
        self.qos = qos

    async def setup(self, worker: Worker) -> None:
        cpus = self.cpus if self.cpus is not None else await _share_of_process(worker)
        self._executor = _process.add(worker, cpus, self.qos)
        if self.cpus is None:
            # Workers come and go on the host (a restart, a scale-up): the
            # share follows, so that the pools never add up to more CPUs.
            async def follow_share() -> None:
                try:
                    share = await _share_of_process(worker)
                except OSError:
                    return  # the scheduler is out of reach (closing, moving): keep the share
                _process.resize(worker, share)

            callback = PeriodicCallback(follow_share, SHARE_CHECK_MS)
            worker.periodic_callbacks[SHARE_CALLBACK] = callback
            callback.start()

    def teardown(self, worker: Worker) -> None:
        callback = worker.periodic_callbacks.pop(SHARE_CALLBACK, None)
        if callback is not None:
            callback.stop()
        _process.remove(worker)

    def transition(self, key: object, start: str, finish: str, **kwargs: object) -> None:
        # The scheduler let go of a task the worker handed to the executor
        # (the hook sees the state asked for: the task itself stays
        # "cancelled" until its call returns).
        executor = getattr(self, "_executor", None)
        if executor is None:
            return
        if start in ("executing", "long-running") and finish == "released":
            executor.cancel(key, True)
        elif start == "cancelled" and finish != "released":
            executor.cancel(key, False)  # asked for again before a lane took it: it runs


async def _share_of_process(worker: Worker) -> int:
    """This process's share of the host's CPUs: the workers the scheduler
    knows on this host, those inside this process counted once."""
    identity = await worker.scheduler.identity()
    host = get_address_host(worker.address)
    on_host = {address for address in identity["workers"]
               if get_address_host(address) == host}
    in_process = {other.address for other in list(Worker._instances)
                  if other.status not in _GONE and other.address in on_host}
    here = {worker.address}
    others = on_host - in_process - here  # each in a process of its own
    return cpu_share(_cpus.cpu_budget().count, len(others) + 1)


class _ProcessState:
    """What the installed workers of this process changed, to put back
    when the last one is torn down (LocalCluster(processes=False) has
    several workers in one process, sharing its pool)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._executors: dict[Worker, tuple[_FuturesExecutor, WorkerExecutor]] = {}
        self._threads_before = (0, "")  # the count and what had chosen it
        self._patched = False

    def add(self, worker: Worker, cpus: int, qos: str | None) -> WorkerExecutor:
        with self._lock:
            if not self._executors:
                self._threads_before = (runtime.num_threads(), _config.thread_source())
                self._patched = _transparent_mode(on=True)
            # Explicit, so it wins over OMP_NUM_THREADS=1 from the nanny.
            runtime.set_num_threads(min(cpus, _config.MAX_THREADS))
            executor = WorkerExecutor(qos)
            self._executors[worker] = (worker.executors["default"], executor)
            worker.executors["default"] = executor
            return executor

    def resize(self, worker: Worker, cpus: int) -> None:
        with self._lock:
            wanted = min(cpus, _config.MAX_THREADS)
            if worker in self._executors and runtime.num_threads() != wanted:
                runtime.set_num_threads(wanted)

    def remove(self, worker: Worker) -> None:
        with self._lock:
            entry = self._executors.pop(worker, None)
            if entry is None:
                return
            before, executor = entry
            if worker.executors.get("default") is executor:
                worker.executors["default"] = before
            # Not waiting: a task still running ends on its own thread; the
            # event loop must not block on it.
            executor.shutdown(wait=False)
            if not self._executors:
                count, source = self._threads_before
                if source == "set_num_threads":
                    runtime.set_num_threads(count)
                else:  # chosen by the environment (the nanny's OMP_NUM_THREADS=1): again
                    _config.follow_environment()
                if self._patched:
                    _transparent_mode(on=False)
                    self._patched = False


_process = _ProcessState()


def _transparent_mode(on: bool) -> bool:
    """runtime.numpy.patch() / its undo, where this runtime has transparent
    mode; False where it has not (runtime.numpy's wrappers still work)."""
    if not hasattr(runtime.numpy, "patch"):
        return False
    if on:
        runtime.numpy.patch()
    else:
        undo = getattr(runtime.numpy, "restore", None) or getattr(runtime.numpy, "unpatch")
        undo()
    return True
