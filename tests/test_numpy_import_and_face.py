"""runtime.numpy imports whatever ran before it, and its objects look like
NumPy's where NumPy's own tests look.

Import-order cases run in fresh interpreters: the defect showed only when
NumPy had been used before the first import of runtime.numpy.
"""

from __future__ import annotations

import inspect
import pickle
import subprocess
import sys
import warnings

import numpy
import pytest

import runtime.numpy as np
from runtime import _schedule
from runtime.numpy import _reductions
from runtime.numpy._ufunc import set_small_call_gates


def run_fresh(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("before", [
    # inspect.signature caches __signature__ in the ufunc's __dict__, which the
    # wrapper copied onto its read-only property: AttributeError at import.
    "import numpy, inspect; inspect.signature(numpy.exp)",
    "import dask.array",
    "import numpy; numpy.add.__doc__ = 'mine'",
])
def test_imports_after_any_use_of_numpy(before):
    code = (f"{before}\nimport runtime.numpy as np, numpy\n"
            "assert np.exp(numpy.ones(3))[0] == numpy.e\nprint('ok')")
    result = run_fresh(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_reload_after_use():
    result = run_fresh(
        "import importlib, inspect, pickle, numpy, runtime.numpy as np\n"
        "inspect.signature(np.exp); inspect.signature(numpy.add)\n"
        "importlib.reload(np)\n"
        "assert inspect.signature(np.exp) == inspect.signature(numpy.exp)\n"
        "assert pickle.loads(pickle.dumps(np.exp)) is np.exp\n"
        "print('ok')")
    assert result.returncode == 0, result.stderr


def test_ufunc_dict_module_and_signature_are_numpys():
    # NumPy's test_umath.py::TestSpecialMethods... test_ufunc_docstring, with
    # the wrapper: __dict__ as NumPy's ufunc's, __signature__ cached there.
    wrapped, original = np.subtract, numpy.subtract
    assert wrapped.__module__ == original.__module__ == "numpy"
    assert wrapped.__qualname__ == "subtract"
    expected = {"__module__": "numpy", "__qualname__": "subtract",
                "__signature__": inspect.signature(original)}
    assert inspect.signature(wrapped) == expected["__signature__"]
    assert wrapped.__dict__ == expected
    doc = wrapped.__doc__
    wrapped.__doc__ = "new docs"
    try:
        assert wrapped.__doc__ == "new docs" and wrapped.__dict__["__doc__"] == "new docs"
    finally:
        del wrapped.__doc__
    assert wrapped.__doc__ == doc and wrapped.__dict__ == expected
    assert pickle.loads(pickle.dumps(wrapped)) is wrapped


@pytest.mark.parametrize("name", ["copyto", "dot", "inner", "where"])
def test_dispatched_c_functions_carry_numpys_signature(name):
    # NumPy's test_multiarray.py::test_c_func_dispatcher_signature.
    ours, numpys = getattr(np, name), getattr(numpy, name)
    assert hasattr(ours, "__signature__")
    assert inspect.signature(ours) == ours.__signature__ == numpys.__signature__


def test_add_newdoc_ufunc_raises_as_numpy():
    # NumPy's test_umath.py::TestAdd_newdoc_ufunc, with np = runtime.numpy.
    ncu = numpy._core.umath
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(ValueError, match="non-NULL docstring"):
            ncu._add_newdoc_ufunc(np.add, "blah")
        with pytest.raises(TypeError):
            ncu._add_newdoc_ufunc(2, "blah")
        with pytest.raises(TypeError):
            ncu._add_newdoc_ufunc(np.add, 3)


@pytest.fixture
def split():
    set_small_call_gates(False)
    try:
        with _schedule.forced_split(3):
            yield
    finally:
        set_small_call_gates(True)


@pytest.mark.parametrize("size", [10, 2 * _reductions.MIN_PARALLEL_ELEMENTS])
def test_reduce_out_ellipsis(size):
    a = numpy.arange(size, dtype=float)
    expected = numpy.add.reduce(a, out=...)
    got = np.add.reduce(a, out=...)
    assert type(got) is type(expected) and got == expected


def test_reduce_out_errors_are_numpys(split):
    for out in ((...,), (None, None)):
        with pytest.raises(Exception) as theirs:
            numpy.add.reduce(1, out=out)
        with pytest.raises(Exception) as ours:
            np.add.reduce(1, out=out)
        assert type(ours.value) is type(theirs.value)
        assert str(ours.value) == str(theirs.value)
