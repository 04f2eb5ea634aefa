"""runtime.parallel_for: the measured path (the public function is compiled,
runtime/_inline.pyx, and runs small calls inline itself)."""

from __future__ import annotations

import operator
from typing import Any, Callable

from . import _config, _core, _inline, _qos, _schedule
from ._map import MAX_ROWS, check_grain
from ._native import context_address, kernel_address


def parallel_for_call(n: int, body: Callable[[int, int], Any] | Any, ctx: Any,
                      grain: int | None, qos: _qos.QosLevel | None) -> None:
    """runtime.parallel_for's measured path (runtime/_inline.pyx has the docs)."""
    if qos is not None:
        with _qos.maybe(qos, "runtime.parallel_for"):
            return parallel_for_call(n, body, ctx, grain, None)
    if isinstance(n, bool):
        raise TypeError("runtime.parallel_for: n must be an int (number of indices), got bool")
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"runtime.parallel_for: n must be an int (number of indices), "
                        f"got {type(n).__name__}") from None
    if not 0 <= n <= MAX_ROWS:  # the pool's indices are int64_t
        raise ValueError(f"runtime.parallel_for: n must be 0 to 2**63 - 1 (number of "
                         f"indices), got {n}")
    grain = check_grain(grain, "runtime.parallel_for")
    kernel = kernel_address(body)
    if kernel is None:
        if ctx is not None:
            raise TypeError("runtime.parallel_for: ctx= is passed to native kernels only; a "
                            "Python body gets (start, stop) — use a closure for its data")
        _schedule.run(body, n, key=_schedule.cost_key(body, "for"), grain=grain)
        if grain is None:
            _inline.note("for", body, (), n, _schedule.ran_inline(), _schedule.lost_stretch())
        return
    address = context_address(ctx)
    if n == 0:
        return
    if grain is not None and _config.num_threads() > 1:
        _core.parallel_for_native(kernel, address, 0, n, grain, grain, 1)
        return

    def inline(start: int, stop: int) -> None:
        _core.call_native(kernel, address, start, stop)

    _schedule.run(inline, n, key=("native", kernel), grain=grain, native=(kernel, address),
                  limit_blas=False)
    if grain is None and type(body) is int:
        _inline.note("native", body, (), n, _schedule.ran_inline(), _schedule.lost_stretch())


_inline._slow["parallel_for"] = parallel_for_call
