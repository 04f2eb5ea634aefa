"""Every split path of runtime.numpy at once, on inputs of any size.

``RUNTIME_FORCE_SPLIT=N`` in the environment (before runtime.numpy is
imported), or ``with forced_split(N):`` in a test, makes runtime.numpy take
its parallel paths wherever it can split a call at all:

* every pool job splits into chunks of N rows (``runtime._schedule``'s
  forced grain: no cost model, no inline decision, no hot-call cache);
* the C-level small-call gates of ufuncs, ufunc.reduce/outer, the gated
  functions and products are open (no size threshold);
* reductions use leaves of LEAF_ELEMENTS elements and split from two
  leaves up, kept axes from KEPT_MIN_ROWS rows;
* matmul/dot/inner/tensordot tile products of any size into small tiles;
* NumPy's own loops, where runtime.numpy.patch() is in force, split every
  call of two elements or more (reductions in leaves of LEAF_ELEMENTS).

It exists to test: NumPy's own test suite and the differential tests run
their small arrays through the code that big arrays take.  Results stay
NumPy's (elementwise calls bit for bit); split reductions differ from
NumPy's pairwise sums within NumPy's error, as on big arrays.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

from .. import _inline, _schedule
from . import _linalg, _reductions, _ufunc

ENVIRONMENT = "RUNTIME_FORCE_SPLIT"
# Reduction leaves and kept-axis chunks when forced: small enough that test
# arrays of a few dozen elements split.
LEAF_ELEMENTS = 16
KEPT_MIN_ROWS = 4
INNER_MIN_ROWS = 8
# Tiles when forced: a 32 x 32 product makes four.
MIN_TILE_ROWS = 16
MIN_TILE_COLS = 16

_SETTINGS = (
    (_reductions, "LEAF_ELEMENTS", LEAF_ELEMENTS),
    (_reductions, "MIN_PARALLEL_ELEMENTS", 2 * LEAF_ELEMENTS),
    (_reductions, "KEPT_MIN_ROWS", KEPT_MIN_ROWS),
    (_reductions, "INNER_MIN_ROWS", INNER_MIN_ROWS),
    (_linalg, "MIN_PARALLEL_FLOPS", 0),
    (_linalg, "ALWAYS_TILE", True),
    (_linalg, "MIN_TILE_ROWS", MIN_TILE_ROWS),
    (_linalg, "MIN_TILE_COLS", MIN_TILE_COLS),
)


def _apply(grain: int | None) -> None:
    """Force every split at `grain` rows, or (None) restore the defaults."""
    global _saved
    if grain is not None and _saved is None:
        _saved = [(module, name, getattr(module, name)) for module, name, _ in _SETTINGS]
        for module, name, value in _SETTINGS:
            setattr(module, name, value)
    elif grain is None and _saved is not None:
        for module, name, value in _saved:
            setattr(module, name, value)
        _saved = None
    _schedule._forced_grain = grain
    _inline.set_enabled(grain is None)  # runtime.map & co. split too, not only runtime.numpy
    _ufunc.set_small_call_gates(grain is None)
    from . import _forget_learned_sizes  # (runtime.numpy, which imports this module)
    _forget_learned_sizes()
    from . import _patch  # NumPy's patched loops split at the grain too

    _patch._reconfigure()


_saved: list[tuple[object, str, object]] | None = None


def active() -> int | None:
    """The grain every split is forced to, or None."""
    return _schedule._forced_grain if _saved is not None else None


@contextmanager
def forced_split(grain: int = 1) -> Iterator[None]:
    """Inside, runtime.numpy splits every call it can (see the module
    docstring), in chunks of `grain` rows.  Not thread-safe: for tests."""
    if grain < 1:
        raise ValueError(f"forced_split needs a grain of at least 1 row, got {grain}")
    before = active()
    _apply(grain)
    try:
        yield
    finally:
        _apply(before)


def from_environment() -> int | None:
    """RUNTIME_FORCE_SPLIT=N (a positive integer; "1" the finest): force
    every split from now on.  Returns the grain, or None when unset."""
    value = os.environ.get(ENVIRONMENT, "").strip()
    if not value or value == "0":
        return None
    try:
        grain = int(value)
    except ValueError:
        raise ValueError(f"{ENVIRONMENT} must be a positive number of rows (1 splits finest), "
                         f"got {value!r}") from None
    if grain < 1:
        raise ValueError(f"{ENVIRONMENT} must be a positive number of rows (1 splits finest), "
                         f"got {value!r}")
    _apply(grain)
    return grain
