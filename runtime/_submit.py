"""runtime.submit: work nobody waits for yet, at its QoS level, on the pool.

The work runs on a worker at its level (default: the current runtime.qos
level, else "initiated") in a copy of the submitter's context.  Waiting
for it raises it, as GCD does: ``fut.result()`` (or ``.exception()``) from
a higher level raises the work's level, before it starts (it then starts
at the waiter's level) or while it runs (an override on its thread, ended
when the work ends).
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import threading
from typing import Any, Callable

from . import _config, _core, _qos

INITIATED = _qos.LEVELS["initiated"]

_outstanding = 0
_outstanding_lock = threading.Condition()


class QosFuture(concurrent.futures.Future):
    """A concurrent.futures.Future whose waiters raise the work's QoS level."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self._level = level
        self._thread: int | None = None  # the running work's thread, for overrides
        self._override: _core.Override | None = None
        self._ended = False
        self._qos_lock = threading.Lock()

    @property
    def qos(self) -> str:
        """The work's level now (raised by higher-level waiters)."""
        return _qos.NAMES[self._level]

    def result(self, timeout: float | None = None) -> Any:
        self._raise_for_waiter()
        return super().result(timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        self._raise_for_waiter()
        return super().exception(timeout)

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
    level = _qos.level_number(qos, "runtime.submit") if qos is not None else _qos.current()
    level = INITIATED if level < 0 else level
    _qos.ensure_placed()
    future = QosFuture(level)
    context = contextvars.copy_context()

    def work() -> None:
        global _outstanding
        try:
            if not future.set_running_or_notify_cancel():
                return
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
        finally:
            with _outstanding_lock:
                _outstanding -= 1
                _outstanding_lock.notify_all()

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
