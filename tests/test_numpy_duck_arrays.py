"""Duck arrays (NEP 18 ``__array_function__``, NEP 13 ``__array_ufunc__``)
see exactly what NumPy would hand them.

A recorder type logs what its overrides receive; every function runtime.numpy
wraps, and every ufunc method, is called on it through NumPy and through
runtime.numpy, and the logs must be equal.  dask.array, a real duck array,
must then give NumPy's results through runtime.numpy.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy
import pytest

import runtime.numpy as np
from runtime.numpy._ufunc import ParallelUfunc

WRAPPED_FUNCTIONS = ["where", "clip", "copyto", "copy", "ascontiguousarray", "asfortranarray",
                     "dot", "inner", "tensordot", "sum", "prod", "min", "max", "amin", "amax",
                     "mean", "var", "std", "argmin", "argmax", "any", "all", "count_nonzero",
                     "nansum", "nanprod", "nanmin", "nanmax", "nanmean", "nanvar", "nanstd"]
UFUNC_NAMES = sorted(name for name in dir(np) if isinstance(getattr(np, name), ParallelUfunc))


class Recorder:
    """Logs each override call: (kind, what, args, kwargs)."""

    def __init__(self, log: list) -> None:
        self.log = log

    def __array_function__(self, func: Any, types: Any, args: tuple, kwargs: dict) -> str:
        self.log.append(("function", func, args, kwargs))
        return "recorded"

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> str:
        self.log.append(("ufunc", (ufunc, method), inputs, kwargs))
        return "recorded"


def same_calls(make_call: Callable[[Any, Recorder], Any]) -> None:
    """make_call(module, duck) through NumPy and runtime.numpy: the same
    result (or exception) and the same override calls, argument for
    argument (the duck itself stands in both logs as one marker)."""
    outcomes = []
    for module in (numpy, np):
        log: list = []
        duck = Recorder(log)
        try:
            result = ("returned", make_call(module, duck))
        except Exception as error:  # the same exception, same message
            result = ("raised", type(error), str(error))
        outcomes.append((result, [_marked(entry, duck) for entry in log]))
    assert outcomes[0] == outcomes[1]


def _marked(value: Any, duck: Recorder) -> Any:
    if value is duck:
        return "<duck>"
    if isinstance(value, (tuple, list)):
        return type(value)(_marked(v, duck) for v in value)
    if isinstance(value, dict):
        return {k: _marked(v, duck) for k, v in value.items()}
    if isinstance(value, ParallelUfunc):
        return value.ufunc
    if isinstance(value, numpy.ndarray):
        return ("array", value.shape, value.dtype.str, value.tobytes())
    return value


A = numpy.arange(12.0).reshape(3, 4)
M = numpy.ones((4, 4))

# Calls of each wrapped function: positional, keyword, explicit defaults,
# the duck in each argument NumPy dispatches on.
CALLS: dict[str, list[Callable[[Any, Recorder], Any]]] = {
    "where": [lambda m, d: m.where(d, 1.0, 0.0), lambda m, d: m.where(A > 3, d, 0.0),
              lambda m, d: m.where(d)],
    "clip": [lambda m, d: m.clip(d, 0, 1), lambda m, d: m.clip(d, min=0),
             lambda m, d: m.clip(d, 0, None, None), lambda m, d: m.clip(A, 0, 1, out=d),
             lambda m, d: m.clip(A, d, 1)],
    "copyto": [lambda m, d: m.copyto(d, A), lambda m, d: m.copyto(A.copy(), d),
               lambda m, d: m.copyto(A.copy(), A, casting="same_kind", where=d)],
    "copy": [lambda m, d: m.copy(d), lambda m, d: m.copy(d, order="K"),
             lambda m, d: m.copy(d, "C", subok=False)],
    "ascontiguousarray": [lambda m, d: m.ascontiguousarray(A, like=d),
                          lambda m, d: m.ascontiguousarray(A, None, like=d)],
    "asfortranarray": [lambda m, d: m.asfortranarray(A, like=d)],
    "dot": [lambda m, d: m.dot(d, M), lambda m, d: m.dot(M, d), lambda m, d: m.dot(M, M, d),
            lambda m, d: m.dot(M, M, out=d)],
    "inner": [lambda m, d: m.inner(d, M), lambda m, d: m.inner(M, d)],
    "tensordot": [lambda m, d: m.tensordot(d, M), lambda m, d: m.tensordot(M, d, 1),
                  lambda m, d: m.tensordot(M, d, axes=([0], [1]))],
}
for _name in ["sum", "prod", "nansum", "nanprod"]:
    CALLS[_name] = [
        lambda m, d, n=_name: getattr(m, n)(d),
        lambda m, d, n=_name: getattr(m, n)(d, 0),
        lambda m, d, n=_name: getattr(m, n)(d, axis=None, dtype=None, keepdims=False),
        lambda m, d, n=_name: getattr(m, n)(d, 1, float, None, True, 0.0, True),
        lambda m, d, n=_name: getattr(m, n)(A, out=d),
        lambda m, d, n=_name: getattr(m, n)(A, where=d),
    ]
for _name in ["min", "max", "amin", "amax", "nanmin", "nanmax"]:
    CALLS[_name] = [
        lambda m, d, n=_name: getattr(m, n)(d),
        lambda m, d, n=_name: getattr(m, n)(d, 1, None, True),
        lambda m, d, n=_name: getattr(m, n)(d, axis=0, initial=5.0, where=True),
        lambda m, d, n=_name: getattr(m, n)(A, out=d),
    ]
for _name in ["mean", "nanmean"]:
    CALLS[_name] = [
        lambda m, d, n=_name: getattr(m, n)(d),
        lambda m, d, n=_name: getattr(m, n)(d, 0, float),
        lambda m, d, n=_name: getattr(m, n)(d, axis=1, keepdims=True, where=True),
        lambda m, d, n=_name: getattr(m, n)(A, out=d),
        lambda m, d, n=_name: getattr(m, n)(A, where=d),
    ]
for _name in ["var", "std", "nanvar", "nanstd"]:
    CALLS[_name] = [
        lambda m, d, n=_name: getattr(m, n)(d),
        lambda m, d, n=_name: getattr(m, n)(d, 0, None, None, 1),
        lambda m, d, n=_name: getattr(m, n)(d, correction=1),
        lambda m, d, n=_name: getattr(m, n)(A, mean=d),
        lambda m, d, n=_name: getattr(m, n)(A, out=d),
    ]
for _name in ["argmin", "argmax"]:
    CALLS[_name] = [
        lambda m, d, n=_name: getattr(m, n)(d),
        lambda m, d, n=_name: getattr(m, n)(d, 0),
        lambda m, d, n=_name: getattr(m, n)(d, axis=None, keepdims=True),
        lambda m, d, n=_name: getattr(m, n)(A, 1, d),
    ]
for _name in ["any", "all"]:
    CALLS[_name] = [
        lambda m, d, n=_name: getattr(m, n)(d),
        lambda m, d, n=_name: getattr(m, n)(d, 0, None, True),
        lambda m, d, n=_name: getattr(m, n)(A, where=d),
    ]
CALLS["count_nonzero"] = [lambda m, d: m.count_nonzero(d), lambda m, d: m.count_nonzero(d, 0),
                          lambda m, d: m.count_nonzero(d, axis=None, keepdims=True)]


def test_every_wrapped_function_has_calls():
    assert sorted(CALLS) == sorted(WRAPPED_FUNCTIONS)


@pytest.mark.parametrize("name", WRAPPED_FUNCTIONS)
def test_array_function_sees_what_numpy_passes(name):
    for make_call in CALLS[name]:
        same_calls(make_call)


UFUNC_METHOD_CALLS: list[Callable[[Any, Recorder], Any]] = [
    lambda u, d: u(*[d] * u.nin),
    lambda u, d: u(*[A] * u.nin, out=(d,) * u.nout if u.nout > 1 else d),
    lambda u, d: u(*[A] * u.nin, where=d) if u.nin else None,
    lambda u, d: u(*[d] * u.nin, dtype=None, casting="unsafe"),
]
BINARY_METHOD_CALLS: list[Callable[[Any, Recorder], Any]] = [
    lambda u, d: u.reduce(d),
    lambda u, d: u.reduce(d, axis=0),
    lambda u, d: u.reduce(d, 0, None, None, False),
    lambda u, d: u.reduce(d, axis=None, keepdims=True, initial=1, where=True),
    lambda u, d: u.reduce(A, out=d),
    lambda u, d: u.reduce(A, out=(d,)),
    lambda u, d: u.reduce(A, where=d, initial=0),
    lambda u, d: u.accumulate(d),
    lambda u, d: u.accumulate(d, axis=0, dtype=None),
    lambda u, d: u.reduceat(d, [0, 1]),
    lambda u, d: u.reduceat(d, [0, 1], axis=0, out=None),
    lambda u, d: u.outer(d, A),
    lambda u, d: u.outer(A, d, out=None),
    lambda u, d: u.at(d, [0], A[0]),
]


@pytest.mark.parametrize("name", UFUNC_NAMES)
def test_array_ufunc_sees_what_numpy_passes(name):
    def through(call: Callable[[Any, Recorder], Any]) -> Callable[[Any, Recorder], Any]:
        return lambda module, duck: call(getattr(module, name), duck)

    calls = UFUNC_METHOD_CALLS + (BINARY_METHOD_CALLS if getattr(numpy, name).nin == 2 else [])
    for call in calls:
        same_calls(through(call))


def test_matmul_overrides():
    same_calls(lambda m, d: m.matmul(d, M))
    same_calls(lambda m, d: m.matmul(M, M, out=d))
    same_calls(lambda m, d: m.matmul(M, d, axes=[(0, 1), (0, 1), (0, 1)]))


# ------------------------------------------------------------- dask.array

da = pytest.importorskip("dask.array")


@pytest.fixture(autouse=True)
def dask_in_this_thread():
    """dask's default scheduler leaves a thread pool running (conftest checks
    that the suite leaves no threads behind): compute in the caller."""
    import dask

    with dask.config.set(scheduler="synchronous"):
        yield


def dask_calls() -> dict[str, Callable[[Any, Any], Any]]:
    calls: dict[str, Callable[[Any, Any], Any]] = {
        "where": lambda m, x: m.where(x > 3, x, 0.0),
        "clip": lambda m, x: m.clip(x, 2, 5),
        "dot": lambda m, x: m.dot(x, x.T),
        "inner": lambda m, x: m.inner(x, x),
        "tensordot": lambda m, x: m.tensordot(x, x.T, 1),
        "matmul": lambda m, x: m.matmul(x, x.T),
        "copy": lambda m, x: m.copy(x),
        "ascontiguousarray": lambda m, x: m.ascontiguousarray(x),
        "asfortranarray": lambda m, x: m.asfortranarray(x),
    }
    for name in WRAPPED_FUNCTIONS:
        calls.setdefault(name, lambda m, x, n=name: getattr(m, n)(x))
    calls["copyto"] = lambda m, x: m.copyto(numpy.empty((6, 4)), x)
    return calls


DASK_CALLS = dask_calls()


@pytest.mark.parametrize("name", sorted(DASK_CALLS))
def test_dask_arrays_give_numpys_results(name):
    x = da.from_array(numpy.arange(1.0, 25.0).reshape(6, 4), chunks=(3, 2))
    outcomes = []
    for module in (numpy, np):
        with warnings.catch_warnings():
            # dask implements some of these by NumPy on the whole (and says so)
            warnings.simplefilter("ignore", FutureWarning)
            try:
                result = DASK_CALLS[name](module, x)
                value = result.compute() if hasattr(result, "compute") else result
                outcomes.append(("ok", type(result).__name__,
                                 None if value is None else numpy.asarray(value).tolist()))
            except Exception as error:
                outcomes.append(("raised", type(error).__name__, str(error)))
    assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize("call", [
    lambda m, x: m.multiply.reduce(x, axis=0),
    lambda m, x: m.add.reduce(x),
    lambda m, x: m.add.accumulate(x, axis=1),
    lambda m, x: m.add.outer(x[0], x[1]),
    lambda m, x: m.exp(x),
    lambda m, x: m.add(x, 1.0),
    lambda m, x: m.divmod(x, 3.0),
])
def test_dask_arrays_through_ufuncs(call):
    x = da.from_array(numpy.arange(1.0, 25.0).reshape(6, 4), chunks=(3, 2))
    outcomes = []
    for module in (numpy, np):
        try:
            result = call(module, x)
            results = result if isinstance(result, tuple) else (result,)
            outcomes.append([(type(r).__name__, numpy.asarray(r.compute()).tolist())
                             for r in results])
        except Exception as error:
            outcomes.append(("raised", type(error).__name__, str(error)))
    assert outcomes[0] == outcomes[1]
