"""Hold BLAS libraries to one thread while a job runs Python chunks.

A chunk that calls ``a @ b`` would otherwise start OpenBLAS's own threads
on every core, once per runtime thread: N x N threads on N cores.  The
first parallel job of Python chunks lowers every BLAS library
threadpoolctl knows to one thread; the last one to finish restores them.
Nested and concurrent jobs share the one setting through a count.

The setting is process-wide (that is how OpenBLAS and MKL work), so a
thread outside runtime calling BLAS during a job also gets one thread.
"""

from __future__ import annotations

import os
import sys
import threading
from types import TracebackType

import threadpoolctl

_lock = threading.Lock()
_depth = 0
_saved: list[tuple[object, int]] = []
_controller: object = None
_blas_libraries: list = []


_own_controller: object = None
_own_modules = -1


def _cached_controller() -> object:
    """threadpoolctl's cached controller (3.8+), or the same caching done
    here for older versions: rescan only after new imports, which is how
    new BLAS libraries get loaded (a scan takes milliseconds)."""
    cached = getattr(threadpoolctl, "get_cached_controller", None)
    if cached is not None:
        return cached()
    global _own_controller, _own_modules
    if _own_controller is None or _own_modules != len(sys.modules):
        _own_modules = len(sys.modules)
        _own_controller = threadpoolctl.ThreadpoolController()
    return _own_controller


def _libraries() -> list:
    """BLAS controllers, rescanned when the cached controller is."""
    global _controller, _blas_libraries
    controller = _cached_controller()
    if controller is not _controller:
        _blas_libraries = [lib for lib in controller.lib_controllers if lib.user_api == "blas"]
        _controller = controller
    return _blas_libraries


class single_threaded_blas:
    """Context manager: BLAS at one thread inside, restored after the last
    holder leaves."""

    __slots__ = ()

    def __enter__(self) -> None:
        global _depth, _saved
        with _lock:
            if _depth == 0:
                saved = []
                for lib in _libraries():
                    threads = lib.get_num_threads()
                    if threads != 1:
                        lib.set_num_threads(1)
                        saved.append((lib, threads))
                _saved = saved
            _depth += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        global _depth, _saved
        with _lock:
            _depth -= 1
            if _depth == 0:
                for lib, threads in _saved:
                    lib.set_num_threads(threads)
                _saved = []


def blas_threads() -> dict[str, int]:
    """Current thread limit of each BLAS library, by internal API name."""
    return {lib.internal_api: lib.get_num_threads() for lib in _libraries()}


def _after_fork_child() -> None:
    # A child forked inside a job inherits BLAS held to one thread and the
    # count of holders, whose jobs do not exist in the child: give BLAS its
    # threads back and start from no holder (and a fresh lock: its holder
    # may be a thread that is gone).
    global _depth, _saved, _lock
    _lock = threading.Lock()
    # threadpoolctl's controller cache has a lock of its own, held while a
    # controller is built (milliseconds, on first use and after imports);
    # a child forked then would wait for it forever (1 child in 100-300
    # with a thread starting jobs in a loop).  threadpoolctl does not reset
    # it after fork, so we do, where it exists.
    cache_lock = getattr(threadpoolctl, "_CACHE_LOCK", None)
    if cache_lock is not None and hasattr(cache_lock, "acquire"):
        threadpoolctl._CACHE_LOCK = threading.Lock()
    for lib, threads in _saved:
        try:
            lib.set_num_threads(threads)
        except Exception:  # noqa: BLE001 - a library that cannot be set stays as it is
            pass
    _depth = 0
    _saved = []


os.register_at_fork(after_in_child=_after_fork_child)
