"""tqdm progress bars, for runtime.map_items(progress=True) and
python -m runtime bench.

tqdm starts a monitor thread with its first bar and leaves it running
after the bar closes; a library call must leave no thread behind, so the
bars here have the monitor off (it only adjusts miniters for stalled
bars)."""

from __future__ import annotations

import sys
import threading
from typing import Any


def progress_bar(total: int | None, desc: str, unit: str, **options: Any) -> Any:
    """A tqdm bar on stderr with no monitor thread."""
    from tqdm import tqdm  # imported only when a bar is asked for (~30 ms)

    class Bar(tqdm):  # type: ignore[misc,valid-type]
        monitor_interval = 0

    return Bar(total=total, desc=desc, unit=unit, file=sys.stderr, **options)


class ItemProgress:
    """A bar advanced by items completing on any thread.  tqdm's update()
    is a read-modify-write of its counters, so a lock serialises it; at one
    update per item (map_items' items are coarse) the lock is never hot."""

    def __init__(self, total: int, desc: str) -> None:
        self._bar = progress_bar(total, desc, "item")
        self._lock = threading.Lock()

    def advance(self) -> None:
        with self._lock:
            self._bar.update(1)

    def close(self) -> None:
        with self._lock:
            self._bar.close()
