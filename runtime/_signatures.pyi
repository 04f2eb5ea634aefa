"""What type checkers see for runtime.map, reduce, map_items, parallel_for
and submit.

runtime/__init__.py imports these under TYPE_CHECKING; at run time the
names are runtime._inline's compiled functions and runtime._submit's,
whose parameters these declarations follow (tests/test_typing.py compares
them).  The
declarations are generic where the functions are: submit returns a Future
of what `fn` returns; map and reduce return what `func` returns on a
chunk, with `func`'s parameters matched against the arrays passed (one to
three arrays; more are not checked); `combine` takes and returns partial
results; every `qos` is one of the four level names."""

from concurrent.futures import Future
from typing import Any, Callable, Iterable, TypeVar, overload

from ._qos import QosLevel

A1 = TypeVar("A1")
A2 = TypeVar("A2")
A3 = TypeVar("A3")
R = TypeVar("R")
T = TypeVar("T")

@overload
def map(func: Callable[[A1], R], a1: A1, /, *, out: Any = ..., grain: int | None = ...,
        qos: QosLevel | None = ...) -> R: ...
@overload
def map(func: Callable[[A1, A2], R], a1: A1, a2: A2, /, *, out: Any = ...,
        grain: int | None = ..., qos: QosLevel | None = ...) -> R: ...
@overload
def map(func: Callable[[A1, A2, A3], R], a1: A1, a2: A2, a3: A3, /, *, out: Any = ...,
        grain: int | None = ..., qos: QosLevel | None = ...) -> R: ...
@overload
def map(func: Callable[..., R], a1: Any, a2: Any, a3: Any, a4: Any, /, *arrays: Any,
        out: Any = ..., grain: int | None = ..., qos: QosLevel | None = ...) -> R: ...
@overload
def reduce(func: Callable[[A1], R], a1: A1, /, *, combine: Callable[[R, R], R],
           grain: int | None = ..., qos: QosLevel | None = ...) -> R: ...
@overload
def reduce(func: Callable[[A1, A2], R], a1: A1, a2: A2, /, *, combine: Callable[[R, R], R],
           grain: int | None = ..., qos: QosLevel | None = ...) -> R: ...
@overload
def reduce(func: Callable[[A1, A2, A3], R], a1: A1, a2: A2, a3: A3, /, *,
           combine: Callable[[R, R], R], grain: int | None = ...,
           qos: QosLevel | None = ...) -> R: ...
@overload
def reduce(func: Callable[..., R], a1: Any, a2: Any, a3: Any, a4: Any, /, *arrays: Any,
           combine: Callable[[R, R], R], grain: int | None = ...,
           qos: QosLevel | None = ...) -> R: ...
def map_items(func: Callable[[T], R], items: Iterable[T], *, qos: QosLevel | None = ...,
              progress: bool = ...) -> list[R]: ...
def parallel_for(n: int, body: Callable[[int, int], Any] | Any, ctx: Any = ..., *,
                 grain: int | None = ..., qos: QosLevel | None = ...) -> None: ...
def submit(fn: Callable[..., T], /, *args: Any, qos: QosLevel | None = ...,
           **kwargs: Any) -> Future[T]: ...
