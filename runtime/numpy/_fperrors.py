"""Floating-point errors of a chunked call, reported once, as NumPy would.

NumPy checks the FPU flags after each ufunc call and acts on them per
``np.errstate`` (warn, raise, call, print, log).  A call split into chunks
would act once per chunk, on several threads, and a ``raise`` would stop
the other chunks half-way.  So the chunks run under ``errstate(all="call")``
with a recorder, and after the last chunk the caller replays the union of
their flags under the caller's own errstate: one warning or exception per
kind, in NumPy's order and with NumPy's message, after all outputs are
written (as NumPy, which also raises only after its loop).  The order and
messages follow NumPy's ``PyUFunc_handlefperr`` (numpy/_core/src/umath/extobj.c).
"""

from __future__ import annotations

import sys
import threading
import warnings
from types import TracebackType

import numpy as np

# NumPy's FPE bits and messages, in the order NumPy handles them.
KINDS = (
    (1, "divide", "divide by zero"),
    (2, "over", "overflow"),
    (4, "under", "underflow"),
    (8, "invalid", "invalid value"),
)


class recorded_fp_errors:
    """``with recorded_fp_errors(name, stacklevel):`` around a chunked call.

    Inside, every thread that runs a chunk (in a copy of this context:
    np.errstate is a context variable) reports its flags to the recorder
    instead of acting on them; on a clean exit the union is replayed under
    the errstate that was in force outside."""

    __slots__ = ("name", "stacklevel", "status", "_lock", "_errstate")

    def __init__(self, name: str, stacklevel: int) -> None:
        self.name = name
        self.stacklevel = stacklevel  # of the user's frame, seen from __exit__
        self.status = 0
        self._lock = threading.Lock()
        self._errstate = np.errstate(all="call", call=self._record)

    def _record(self, kind: str, status: int) -> None:
        with self._lock:
            self.status |= int(status)

    def __enter__(self) -> recorded_fp_errors:
        self._errstate.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._errstate.__exit__(exc_type, exc, tb)
        if exc_type is None and self.status:
            replay(self.status, self.name, self.stacklevel + 1)


def replay(status: int, name: str, stacklevel: int) -> None:
    """Act on FPE flags `status` of ufunc `name` as NumPy does under the
    current np.errstate."""
    modes = np.geterr()
    for bit, key, text in KINDS:
        if not status & bit:
            continue
        mode = modes[key]
        message = f"{text} encountered in {name}"
        if mode == "ignore":
            continue
        if mode == "warn":
            warnings.warn(message, RuntimeWarning, stacklevel=stacklevel + 1)
        elif mode == "raise":
            raise FloatingPointError(message)
        elif mode == "print":
            sys.stderr.write(f"Warning: {message}\n")
        elif mode == "call":
            func = np.geterrcall()
            if func is None:
                raise NameError(f"python callback specified for {text} (in  {name}) "
                                f"but no function found.")
            func(text, status)
        elif mode == "log":
            log = np.geterrcall()
            if log is None:
                raise NameError(f"log specified for {text} (in {name}) but no object "
                                f"with write method found.")
            log.write(f"Warning: {message}\n")
