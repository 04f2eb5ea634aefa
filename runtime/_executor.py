"""runtime.Executor: a concurrent.futures.Executor whose tasks run on the
pool's threads, at a QoS level.

Lanes.  A pool of N threads has N - 1 workers; the Nth slot belongs to
whichever thread calls into the pool.  An executor's submitting thread
only waits (Dask's local scheduler, a Dask worker's event loop), so the
executor runs tasks in N lanes: each pool worker (through runtime.submit)
and one runner thread of the executor's own, which takes the caller's
slot.  A task that splits a job (runtime.map, runtime.numpy) splits it
over whichever of those threads are idle, so tasks and their jobs
together keep at most N threads busy: N tasks at once run one lane each,
one task at a time gets all N threads.

Every task goes into one queue; each lane takes the oldest task when it
is free, so a busy worker never holds a task another lane could run.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import contextvars
import os
import threading
import weakref
from typing import Any, Callable, TypeVar

from . import _config, _core, _qos, _submit

T = TypeVar("T")

_Task = tuple["concurrent.futures.Future[Any]", contextvars.Context, int,
              Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class Executor(concurrent.futures.Executor):
    """Run callables on runtime's pool as a ``concurrent.futures.Executor``
    (submit, map, shutdown, ``with``), each at QoS level ``qos`` (default:
    the submitter's ``runtime.qos`` level, else "initiated").

    As many tasks run at once as the pool has threads
    (``runtime.num_threads()``); a task that calls runtime splits its work
    over the threads the other tasks leave idle, never beyond the pool.
    Give it to Dask as a scheduler: few big blocks, each split over the
    cores.

    >>> import runtime
    >>> with runtime.Executor(qos="utility") as ex:
    ...     fut = ex.submit(sum, range(10))
    ...     squares = list(ex.map(lambda v: v * v, range(4), timeout=60))
    >>> fut.result(), squares
    (45, [0, 1, 4, 9])
    """

    def __init__(self, *, qos: _qos.QosLevel | None = None) -> None:
        self._level = _qos.level_number(qos, "runtime.Executor") if qos is not None else None
        self._tasks: collections.deque[_Task] = collections.deque()
        self._running = 0  # tasks taken from the queue and not yet ended
        self._offers = 0  # pool workers asked to take a task, not yet returned
        self._changed = threading.Condition()
        self._runner: threading.Thread | None = None
        self._shut_down = False
        _executors.add(self)

    @property
    def qos(self) -> str | None:
        """The level given, or None (each task takes its submitter's)."""
        return None if self._level is None else _qos.NAMES[self._level]

    @property
    def _max_workers(self) -> int:
        # Read by Dask's local scheduler: how many tasks to keep in flight.
        return _config.num_threads()

    def submit(self, fn: Callable[..., T], /, *args: Any,
               **kwargs: Any) -> concurrent.futures.Future[T]:
        """Schedule ``fn(*args, **kwargs)``; returns its Future.  A Future
        cancelled before a lane takes it never runs."""
        if not callable(fn):
            raise TypeError(f"runtime.Executor.submit: fn must be callable, "
                            f"got {type(fn).__name__}")
        _config.ensure_configured()  # a task's thread takes a level: the pool must exist
        _qos.ensure_placed()
        level = self._level if self._level is not None else _qos.current()
        level = _submit.INITIATED if level < 0 else level
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        with self._changed:
            if self._shut_down:
                raise RuntimeError("runtime.Executor: cannot schedule new futures "
                                   "after shutdown")
            self._tasks.append((future, contextvars.copy_context(), level, fn, args, kwargs))
            if self._runner is None:
                self._runner = threading.Thread(target=self._run_queue,
                                                name="runtime-executor")
                self._runner.start()
        # One more lane offered the task: a pool worker.  With one thread
        # the pool has no worker and runtime.submit would run the task on
        # this (submitting) thread; the runner has it already.
        if _config.num_threads() > 1:
            with self._changed:
                self._offers += 1
            try:
                _submit.submit(self._run_one, qos=_qos.NAMES[level])
            except RuntimeError:  # interpreter exit has begun: the runner still has the task
                self._offer_returned()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """No new tasks from now on; queued ones still run unless
        ``cancel_futures``.  With ``wait``, return when every task has
        ended."""
        with self._changed:
            self._shut_down = True
            if cancel_futures:
                while self._tasks:
                    self._tasks.popleft()[0].cancel()
            self._changed.notify_all()
            if wait:  # every task ended, and every pool worker offered one back
                self._changed.wait_for(
                    lambda: not self._tasks and self._running == 0 and self._offers == 0)
            runner = self._runner
        if wait and runner is not None and runner is not threading.current_thread():
            runner.join()  # ends once the queue is empty

    def _take(self) -> _Task | None:
        with self._changed:
            if not self._tasks:
                return None
            self._running += 1
            return self._tasks.popleft()

    def _run_one(self) -> None:
        """A pool worker's lane: the oldest task, if another lane has not
        taken it already."""
        try:
            task = self._take()
            if task is not None:
                self._run(task, own_level=False)  # runtime.submit set the level
        finally:
            self._offer_returned()

    def _offer_returned(self) -> None:
        with self._changed:
            self._offers -= 1
            self._changed.notify_all()

    def _run_queue(self) -> None:
        """The runner's lane, in the pool's caller slot: tasks until the
        queue is empty, then the thread ends (a later submit starts one)."""
        while True:
            with self._changed:
                task = self._take()
                if task is None:
                    self._runner = None
                    return
            self._run(task, own_level=True)

    def _run(self, task: _Task, own_level: bool) -> None:
        future, context, level, fn, args, kwargs = task
        try:
            if future.set_running_or_notify_cancel():
                try:
                    with _core.ThreadQos(level) if own_level else contextlib.nullcontext():
                        result = context.run(_submit._at_level, level, fn, args, kwargs)
                except BaseException as error:  # noqa: BLE001 - handed to the future
                    future.set_exception(error)
                else:
                    future.set_result(result)
        finally:
            with self._changed:
                self._running -= 1
                self._changed.notify_all()


_executors: weakref.WeakSet[Executor] = weakref.WeakSet()


def _after_fork_child() -> None:
    # The child has none of the parent's threads: no runner, no task
    # running; what was queued stays the parent's to run.
    for executor in list(_executors):
        executor._changed = threading.Condition()
        executor._tasks.clear()
        executor._running = executor._offers = 0
        executor._runner = None


os.register_at_fork(after_in_child=_after_fork_child)
