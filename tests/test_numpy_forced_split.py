"""RUNTIME_FORCE_SPLIT / _forced.forced_split: one switch that sends small
calls down every split path (ufuncs, functions, reductions, products)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy
import pytest

import runtime.numpy as np
from runtime import _core, _schedule
from runtime.numpy import _forced, _linalg, _reductions

pytestmark = pytest.mark.usefixtures("threads")

# Elementwise chunks are whole SIMD blocks (64 elements), tiles at least 16
# rows: 4096 elements (64 x 64 matrices) make several.
N = 4096

CALLS = {
    "ufunc": lambda m, x: m.exp(x),
    "strided ufunc": lambda m, x: m.sin(x[::-3]),
    "sum": lambda m, x: m.sum(x.reshape(64, -1), axis=1),
    "full sum of integers": lambda m, x: m.sum(numpy.arange(100)),
    "argmax": lambda m, x: m.argmax(x),
    "where": lambda m, x: m.where(x > 0.5, x, 0.0),
    "matmul": lambda m, x: m.matmul(x.reshape(64, 64), x.reshape(64, 64)),
    "dot": lambda m, x: m.dot(x.reshape(64, 64), x.reshape(64, 64)),
    "reduce": lambda m, x: m.maximum.reduce(x),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_forced_split_splits_small_calls(name):
    x = numpy.linspace(0, 1, N)
    _schedule.overheads()  # the pool's first-use calibration runs jobs of its own
    before = _core.stats()["leaves"]
    with _forced.forced_split(1):
        result = CALLS[name](np, x)
    assert _core.stats()["leaves"] - before >= 2, "no split"
    expected = CALLS[name](numpy, x)
    if name in ("matmul", "dot"):  # tiles: NumPy's to rounding
        numpy.testing.assert_allclose(result, expected, rtol=1e-12)
    else:
        assert numpy.asarray(result).tobytes() == numpy.asarray(expected).tobytes()


def test_forced_split_restores_everything():
    before = (_reductions.LEAF_ELEMENTS, _reductions.MIN_PARALLEL_ELEMENTS,
              _linalg.MIN_PARALLEL_FLOPS, _schedule._forced_grain)
    with _forced.forced_split(3):
        assert _forced.active() == 3
        with _forced.forced_split(1):
            assert _forced.active() == 1
        assert _forced.active() == 3
        assert _reductions.LEAF_ELEMENTS == _forced.LEAF_ELEMENTS
    assert _forced.active() is None
    assert (_reductions.LEAF_ELEMENTS, _reductions.MIN_PARALLEL_ELEMENTS,
            _linalg.MIN_PARALLEL_FLOPS, _schedule._forced_grain) == before
    x = numpy.linspace(0, 1, 100)
    _schedule.overheads()  # the pool's first-use calibration runs jobs of its own
    leaves = _core.stats()["leaves"]
    np.exp(x), np.sum(x), np.matmul(x.reshape(10, 10), x.reshape(10, 10))
    assert _core.stats()["leaves"] == leaves  # small calls are NumPy's again
    with pytest.raises(ValueError, match="at least 1"):
        with _forced.forced_split(0):
            pass


@pytest.mark.parametrize("value, ok", [("1", True), ("7", True), ("0", True), ("", True),
                                       ("x", False), ("-2", False)])
def test_environment_variable(value, ok):
    code = ("import numpy, runtime.numpy as np\nfrom runtime import _core\n"
            "from runtime.numpy import _forced\nfrom runtime import _schedule\n"
            "_schedule.overheads()\n"
            "b = _core.stats()['leaves']\nx = numpy.linspace(0, 1, 1000)\n"
            "assert np.exp(x).tobytes() == numpy.exp(x).tobytes()\n"
            "print(_forced.active(), _core.stats()['leaves'] - b > 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, env={**os.environ,
                                              "RUNTIME_FORCE_SPLIT": value})
    if not ok:
        assert result.returncode != 0 and "RUNTIME_FORCE_SPLIT must be" in result.stderr
        return
    assert result.returncode == 0, result.stderr
    forced = value not in ("", "0")
    assert result.stdout.split() == ([value, "True"] if forced else ["None", "False"])
