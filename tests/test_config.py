"""Thread counts: defaults, overrides, bad values."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import runtime
from runtime import _cpus


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "RUNTIME_NUM_THREADS"}
    environment.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=environment, timeout=60)


def test_default_is_the_cpus_this_process_may_use():
    result = run_python("import runtime; print(runtime.num_threads())")
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == _cpus.cpu_budget().count


def test_environment_variable_sets_the_count():
    result = run_python("import runtime, numpy as np\n"
                        "print(runtime.num_threads(), runtime.info()['num_threads_source'])\n"
                        "print(runtime.map(np.sin, np.ones(10)).sum())",
                        RUNTIME_NUM_THREADS="3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "3 RUNTIME_NUM_THREADS"


@pytest.mark.parametrize("value", ["zero", "0", "-2", "1.5", "100000"])
def test_bad_environment_variable_is_a_clear_error(value):
    result = run_python("import runtime; runtime.num_threads()", RUNTIME_NUM_THREADS=value)
    assert result.returncode != 0
    assert "RUNTIME_NUM_THREADS" in result.stderr
    assert "Traceback" in result.stderr


def test_import_does_not_fail_on_a_bad_environment_variable():
    result = run_python("import runtime; print('imported')", RUNTIME_NUM_THREADS="x")
    assert result.returncode == 0 and "imported" in result.stdout


def test_set_num_threads_changes_the_count(threads):
    runtime.set_num_threads(3)
    assert runtime.num_threads() == 3
    assert runtime.info()["num_threads_source"] == "set_num_threads"
    runtime.set_num_threads(1)
    assert runtime.num_threads() == 1
    x = __import__("numpy").arange(100_000.0)
    assert runtime.map(lambda a: a + 1, x)[-1] == 100_000.0


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-1, ValueError),
                                        (runtime._config.MAX_THREADS + 1, ValueError),
                                        (1.5, TypeError), ("2", TypeError), (True, TypeError),
                                        (None, TypeError)])
def test_set_num_threads_rejects_bad_values(bad, error):
    before = runtime.num_threads()
    with pytest.raises(error, match="num_threads"):
        runtime.set_num_threads(bad)
    assert runtime.num_threads() == before


def test_pool_resizes_while_it_runs(threads):
    import numpy as np

    x = np.random.default_rng(0).random(200_000)
    for n in (4, 1, 3, 2):
        runtime.set_num_threads(n)
        assert np.array_equal(runtime.map(np.sin, x, grain=1000), np.sin(x))
        if n > 1:
            assert runtime.info()["pool"]["workers"] <= n - 1
