"""Floating-point errors of a chunked call, reported once, as NumPy would.

NumPy checks the FPU flags after each ufunc call and acts on them per
``np.errstate`` (warn, raise, call, print, log), naming the operation
("overflow encountered in add", "... in cast", "... in reduce").  A call
split into chunks would act once per chunk, on several threads, and a
``raise`` would stop the other chunks half-way.  So the chunks run under
``errstate(all="log")`` with a recorder as the log: NumPy hands it each
message, operation name included, and the recorder keeps each (operation,
kind) once, in the order first seen.  After the last chunk the caller
replays them under its own errstate: one warning or exception per kind and
operation, in NumPy's order and with NumPy's message, after all outputs
are written (as NumPy, which also raises only after its loop).  The order
and messages follow NumPy's ``PyUFunc_handlefperr``
(numpy/_core/src/umath/extobj.c).
"""

from __future__ import annotations

import os
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
_BITS = {text: bit for bit, _, text in KINDS}
_PREFIX = "Warning: "
_INFIX = " encountered in "


class recorded_fp_errors:
    """``with recorded_fp_errors(name, stacklevel):`` around a chunked call.

    Inside, every thread that runs a chunk (in a copy of this context:
    np.errstate is a context variable) reports its errors to the recorder
    instead of acting on them; on a clean exit they are replayed under the
    errstate that was in force outside.  `name` names the flags handed in
    by add_status (native chunks read the FPU flags themselves); `rename`
    maps operation names NumPy would report differently for the whole
    call (a tile's "matmul" is np.dot's "dot")."""

    __slots__ = ("name", "stacklevel", "rename", "override", "_errors", "_lock", "_errstate")

    def __init__(self, name: str, stacklevel: int | None = None,
                 rename: dict[str, str] | None = None) -> None:
        self.name = name
        # Of the user's frame, seen from __exit__; None: the first frame
        # outside runtime.numpy (for calls reached through several layers).
        self.stacklevel = stacklevel
        self.rename = rename or {}
        # While set, every error is recorded under this name (a reduction's
        # partials combined by np.add are NumPy's "reduce").
        self.override: str | None = None
        self._errors: dict[str, int] = {}  # operation -> FPE bits, in first-seen order
        self._lock = threading.Lock()
        self._errstate = np.errstate(all="log", call=self)

    def write(self, message: str) -> None:
        """NumPy's log call: "Warning: <kind> encountered in <operation>\\n"."""
        text, _, operation = message.strip().removeprefix(_PREFIX).partition(_INFIX)
        self.add_status(_BITS.get(text, 0), operation or self.name)

    def add_status(self, status: int, name: str | None = None) -> None:
        """Errors given as NumPy's FPE bits, of operation `name` (default: the
        recorder's name)."""
        if not status:
            return
        name = self.override or name or self.name
        name = self.rename.get(name, name)
        with self._lock:
            self._errors[name] = self._errors.get(name, 0) | int(status)

    @property
    def status(self) -> int:
        """All FPE bits recorded so far."""
        bits = 0
        for value in self._errors.values():
            bits |= value
        return bits

    def discard(self) -> None:
        """Forget what was recorded (the call is redone whole, by NumPy)."""
        with self._lock:
            self._errors.clear()

    def __enter__(self) -> recorded_fp_errors:
        self._errstate.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._errstate.__exit__(exc_type, exc, tb)
        if exc_type is None:
            self.replay(None if self.stacklevel is None else self.stacklevel + 1)

    def replay(self, stacklevel: int | None = None) -> None:
        """Act on the recorded errors now, under the current errstate, and
        forget them (stacklevel: the user's frame seen from the caller of
        replay; None: the first frame outside runtime.numpy)."""
        if stacklevel is None:
            stacklevel = user_stacklevel() - 1
        with self._lock:
            errors, self._errors = self._errors, {}
        for name, bits in errors.items():
            replay(bits, name, stacklevel + 1)


_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def user_stacklevel() -> int:
    """warnings.warn's stacklevel, from the function that calls this one,
    of the first frame outside the runtime.numpy package: NumPy's warnings
    point at the line that called NumPy."""
    frame = sys._getframe(1)
    level = 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
        level += 1
    return level


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
