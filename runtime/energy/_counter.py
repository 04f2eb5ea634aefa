"""The interface every hardware energy counter behind ``runtime.energy``
implements (Linux RAPL, macOS rusage), and the error it raises.

A counter is started before the measured block and stopped after it.
When it cannot give a trustworthy figure (a missing file, a permission
error, garbage contents, a counter that never counts) it raises
CounterError naming the counter and the reason; the meter then reports
the pair as unreadable and falls back to the estimate.  A counter never
turns a failed read into 0 joules.
"""

from __future__ import annotations

from typing import Protocol


class CounterError(Exception):
    """A counter that could not be read: `counter` names it (a file path or
    a system call), `reason` says why, in words a user can act on."""

    def __init__(self, counter: str, reason: str) -> None:
        super().__init__(f"{counter}: {reason}")
        self.counter = counter
        self.reason = reason


class EnergyCounter(Protocol):
    source: str  # the label the meter reports: "rapl", "darwin-rusage"

    def start(self) -> None:
        """Take the first reading.  Raises CounterError."""

    def stop(self) -> tuple[float, dict[str, float] | None]:
        """Joules since start(), and joules per core kind where the counter
        splits them (None where it does not).  Raises CounterError."""
        ...
