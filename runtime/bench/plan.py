"""What python -m runtime bench measures: its cases, sizes and
competitors, and a run's plan.  Light to import (no NumPy): the command
line's help is built from it."""

from __future__ import annotations

from dataclasses import dataclass

OPS = ("exp", "sin", "add", "sum")
BINARY_OPS = {"add"}
GROUPS = ("overheads", "matmul", "transparent")  # the cases besides the ops at sizes
# Cases run only when --cases names them: "floor" sweeps every public entry
# point against its serial call at the plan's sizes (runtime/bench/floor.py).
OPTIONAL = ("floor",)
SIZES = (10**3, 10**4, 10**5, 10**6, 10**7)
COMPETITORS = ("numexpr", "numba")
TIMELINE_ELEMENTS = 4 * 10**6  # the traced map: a few hundred tasks, readable in one plot
TIMELINE_GRAIN = TIMELINE_ELEMENTS // 128  # chunks of 31250 to 62500 rows
SLOW_CORE_TOPOLOGY = "performance:0;efficiency:1"
# A block of the small sizes loops the call over about this many elements:
# long enough to time and to meter (a RAPL counter ticks once a millisecond).
ELEMENTS_PER_BLOCK = 10**6
QUICK_REPEATS = 5
FORK_JOIN_CALLS = 200  # fork-joins per block: one ~1 us call is too short to meter


@dataclass(frozen=True)
class Plan:
    cases: tuple[str, ...] = OPS + GROUPS  # op names and groups
    sizes: tuple[int, ...] = SIZES
    quick: bool = False
    repeats: int | None = None  # None: each case's own (QUICK_REPEATS-ish with quick)
    compare: tuple[str, ...] = ()
    emulate_slow_core: bool = False
    timeline: bool = True

    @property
    def ops(self) -> tuple[str, ...]:
        return tuple(c for c in self.cases if c in OPS)

    @property
    def matmul_size(self) -> int:
        return 1000 if self.quick else 2000


def size_label(size: int) -> str:
    """1000 -> "1e3", 4000000 -> "4e6"; other sizes as they are."""
    digits = str(size)
    exponent = len(digits) - 1
    if size >= 1000 and digits[1:] == "0" * exponent:
        return f"{digits[0]}e{exponent}"
    return digits
