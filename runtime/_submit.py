"""runtime.submit: work nobody waits for yet, at its QoS level, on the pool.

The work runs on a worker at its level (default: the current runtime.qos
level, else "initiated") in a copy of the submitter's context.  Waiting
for it raises it, as GCD does: ``fut.result()`` (or ``.exception()``) from
a higher level raises the work's level, before it starts (it then starts
at the waiter's level) or while it runs (an override on its thread, ended
when the work ends).

A pool thread (a worker, or a caller inside a chunk) that waits for work
that has not started runs it itself: blocking there could leave no thread
to run it (every pool thread waiting).  Work that already runs is waited
for; its thread makes progress.

At interpreter exit, submitted work still queued runs to the end before
the pool stops (as concurrent.futures.ThreadPoolExecutor's does); once
exit has begun, ``submit`` raises RuntimeError.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import os
import threading
from typing import Any, Callable

from . import _config, _core, _qos

INITIATED = _qos.LEVELS["initiated"]

_outstanding = 0
_outstanding_lock = threading.Condition()
_shutting_down = False  # interpreter exit has begun: no new work


class QosFuture(concurrent.futures.Future):
    """A concurrent.futures.Future whose waiters raise the work's QoS level."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self._level = level
        self._thread: int | None = None  # the running work's thread, for overrides
        self._override: _core.Override | None = None
        self._ended = False
        self._claimed = False  # a thread has taken the work to run it
        self._work: Callable[[], None] | None = None
        self._qos_lock = threading.Lock()

    @property
    def qos(self) -> str:
        """The work's level now (raised by higher-level waiters)."""
        return _qos.NAMES[self._level]

    def result(self, timeout: float | None = None) -> Any:
        self._raise_for_waiter()
        self._run_here_if_pool_thread()
        return super().result(timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        self._raise_for_waiter()
        self._run_here_if_pool_thread()
        return super().exception(timeout)

    def _claim(self) -> bool:
        """Take the work to run it: True once, for the first taker."""
        with self._qos_lock:
            if self._claimed:
                return False
            self._claimed = True
            return True

    def _run_here_if_pool_thread(self) -> None:
        # A pool thread that blocked here could be the one thread left to
        # run the queued work (every worker blocked on a future: a
        # deadlock), so it runs the work now if nobody has started it.
        if self._work is None or self.done() or _core.current_slot() < 0:
            return
        if self._claim():
            self._work()

    def _raise_for_waiter(self) -> None:
        waiter = _qos.current()
        waiter = INITIATED if waiter < 0 else waiter  # a caller that waits
        with self._qos_lock:
            if self._ended or waiter <= self._level:
                return
            self._level = waiter
            if self._thread is not None and self._override is None:
                self._override = _core.Override(self._thread, waiter)

    def _start(self) -> int:
        with self._qos_lock:
            self._thread = _core.thread_handle()
            return self._level

    def _end(self) -> None:
        with self._qos_lock:
            self._ended = True
            if self._override is not None:
                self._override.end()  # every override ends, on the work's own thread
                self._override = None


def submit(fn: Callable[..., Any], /, *args: Any, qos: str | None = None,
           **kwargs: Any) -> QosFuture:
    """Run ``fn(*args, **kwargs)`` on the pool, at QoS level ``qos``, with
    no one waiting; returns a concurrent.futures.Future.  Waiting for it
    from a higher level (``fut.result()``) raises the work's level.

    >>> import runtime
    >>> fut = runtime.submit(sum, range(10), qos="background")
    >>> fut.result()
    45
    """
    if not callable(fn):
        raise TypeError(f"runtime.submit: fn must be callable, got {type(fn).__name__}")
    if _shutting_down:
        raise RuntimeError("runtime.submit: cannot schedule new work after interpreter "
                           "shutdown has begun")
    level = _qos.level_number(qos, "runtime.submit") if qos is not None else _qos.current()
    level = INITIATED if level < 0 else level
    _qos.ensure_placed()
    future = QosFuture(level)
    context = contextvars.copy_context()

    def run() -> None:
        future._work = None  # no cycle through the future once taken
        if not future.set_running_or_notify_cancel():
            return  # cancelled while queued
        running_level = future._start()
        with _core.ThreadQos(running_level):
            try:
                result = context.run(_at_level, running_level, fn, args, kwargs)
            except BaseException as error:  # noqa: BLE001 - handed to the future
                future._end()
                future.set_exception(error)
            else:
                future._end()
                future.set_result(result)

    def work() -> None:
        global _outstanding
        try:
            if future._claim():
                run()
        finally:
            with _outstanding_lock:
                _outstanding -= 1
                _outstanding_lock.notify_all()

    future._work = run
    global _outstanding
    with _outstanding_lock:
        _outstanding += 1
    if _config.num_threads() == 1:
        work()  # no worker to hand it to: the caller runs it now
    else:
        try:
            _core.submit(work)
        except BaseException:
            with _outstanding_lock:
                _outstanding -= 1
            raise
    return future


def _at_level(level: int, fn: Callable[..., Any], args: tuple[Any, ...],
              kwargs: dict[str, Any]) -> Any:
    """fn in the submitter's context, with jobs it starts at its level."""
    token = _core.qos_level.set(level)
    try:
        return fn(*args, **kwargs)
    finally:
        _core.qos_level.reset(token)


def wait_for_submitted(timeout: float | None = None) -> bool:
    """Wait until all submitted work has run (at exit, before the pool
    stops).  False if `timeout` passed first."""
    with _outstanding_lock:
        return _outstanding_lock.wait_for(lambda: _outstanding == 0, timeout)


def refuse_new_work() -> None:
    """Interpreter exit has begun: submit raises from now on (a daemon
    thread that kept submitting would keep exit waiting forever)."""
    global _shutting_down
    _shutting_down = True


def _after_fork_child() -> None:
    # Work submitted in the parent runs in the parent; the child has none
    # of it (and the lock may have been held by a thread that is gone).
    global _outstanding, _outstanding_lock, _shutting_down
    _outstanding = 0
    _outstanding_lock = threading.Condition()
    _shutting_down = False


os.register_at_fork(after_in_child=_after_fork_child)
