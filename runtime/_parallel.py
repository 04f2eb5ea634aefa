"""The @runtime.parallel decorator."""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar, overload

from . import _inline, _qos
from ._arrays import split_arguments
from . import _schedule
from ._map import check_callable, check_grain, map_split, reduce_split

F = TypeVar("F", bound=Callable[..., Any])


@overload
def parallel(func: F, /) -> F: ...
@overload
def parallel(*, reduce: Callable[[Any, Any], Any] | None = None,
             grain: int | None = None, qos: _qos.QosLevel | None = None) -> Callable[[F], F]: ...


def parallel(func: Callable[..., Any] | None = None, /, *,
             reduce: Callable[[Any, Any], Any] | None = None,
             grain: int | None = None, qos: _qos.QosLevel | None = None) -> Any:
    """Decorate a function written for one chunk so that calling it on whole
    arrays runs it on chunks, on all cores.

    Positional NumPy arrays whose length along axis 0 equals the leading
    length (that of the first such array) are split into row ranges;
    scalars, keyword arguments, 0-d arrays and arrays of other lengths pass
    whole to every chunk.  Without ``reduce`` each chunk returns one row per
    input row (or a tuple of such arrays) and the call returns the assembled
    output(s).  With ``reduce=combine`` each chunk returns a partial result
    and the partials are combined in a fixed order (deterministic, as
    :func:`runtime.reduce`).  ``grain`` sets the chunk size (``grain`` to
    ``2 * grain`` rows) instead of the measured choice; ``qos`` runs every
    call at that QoS level (as ``runtime.qos``).  The plain function stays
    available as ``.__wrapped__``.

    >>> import operator, numpy as np, runtime
    >>> @runtime.parallel
    ... def norm(a, b):
    ...     return np.sqrt(a * a + b * b)
    >>> a = np.full(100_000, 3.0); b = np.full(100_000, 4.0)
    >>> float(norm(a, b)[0]), norm.__wrapped__(a[:1], b[:1]).tolist()
    (5.0, [5.0])
    >>> @runtime.parallel(reduce=operator.add)
    ... def sumsq(a):
    ...     return float(a @ a)
    >>> sumsq(a)
    900000.0
    """
    if func is None:
        return lambda f: parallel(f, reduce=reduce, grain=grain, qos=qos)
    if qos is not None:
        _qos.level_number(qos, "runtime.parallel")  # a bad level fails at decoration
    check_callable(func, "runtime.parallel", "the decorated object")
    if reduce is not None:
        check_callable(reduce, "runtime.parallel", "reduce")
    checked_grain = check_grain(grain, "runtime.parallel")
    what = f"{getattr(func, '__qualname__', repr(func))} (runtime.parallel)"

    def run_chunked(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        split = split_arguments(args, kwargs, strict=False, what=what)
        if split is None or split.rows == 0:
            return func(*args, **kwargs)
        if reduce is not None:
            return reduce_split(func, split, reduce, checked_grain, what)
        result = map_split(func, split, None, checked_grain, what)
        if checked_grain is None and not kwargs:
            chunked.note_inline(args, _schedule.ran_inline(), _schedule.lost_stretch())
        return result

    def measured(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if qos is not None:
            with _qos.maybe(qos, what):
                return run_chunked(args, kwargs)
        return run_chunked(args, kwargs)

    # Compiled (runtime/_inline.pyx): small calls go straight to func.
    chunked = _inline.ParallelFunction(func, measured, reduce is not None,
                                       qos is not None or checked_grain is not None, what)
    functools.update_wrapper(chunked, func)
    return chunked
