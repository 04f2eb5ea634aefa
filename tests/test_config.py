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


@pytest.mark.parametrize("value, allowed", [
    ("zero", "must be a whole number of threads, e.g. 4; got 'zero'"),
    ("1.5", "must be a whole number of threads, e.g. 4; got '1.5'"),
    ("0", "must be between 1 and 256, got 0"),
    ("-2", "must be between 1 and 256, got -2"),
    ("100000", "must be between 1 and 256, got 100000")])
def test_a_bad_environment_variable_fails_the_import(value, allowed):
    """As numexpr and numba check theirs: the import fails, with the
    variable, its value and what is allowed, not some later call."""
    assert runtime._config.MAX_THREADS == 256
    result = run_python("import runtime; print('imported')", RUNTIME_NUM_THREADS=value)
    assert result.returncode == 1 and "imported" not in result.stdout
    assert result.stderr.strip().splitlines()[-1] == (
        f"runtime.EnvironmentVariableError: RUNTIME_NUM_THREADS {allowed}")


def test_a_variable_set_after_the_import_fails_the_call_that_reads_it():
    result = run_python("import os, runtime\n"
                        "os.environ['RUNTIME_NUM_THREADS'] = 'x'\n"
                        "try:\n"
                        "    runtime.num_threads()\n"
                        "except ValueError as error:\n"
                        "    print(error)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ("RUNTIME_NUM_THREADS must be a whole number of threads, "
                                     "e.g. 4; got 'x'")


def test_every_bad_variable_is_named_at_once():
    result = run_python("try:\n"
                        "    import runtime\n"
                        "except ValueError as error:\n"
                        "    print(*error.problems, sep='\\n')",
                        RUNTIME_NUM_THREADS="0", RUNTIME_SPIN_US="x",
                        RUNTIME_TAIL_BOOST="maybe", RUNTIME_TOPOLOGY="performance",
                        RUNTIME_POWER_MODEL="fast:1")
    problems = result.stdout.splitlines()
    assert [p.split()[0].rstrip(":") for p in problems] == [
        "RUNTIME_NUM_THREADS", "RUNTIME_SPIN_US", "RUNTIME_TAIL_BOOST", "RUNTIME_TOPOLOGY"]
    # The power model's kinds are checked against the topology's: not here,
    # where the topology itself is wrong.
    result = run_python("import runtime", RUNTIME_POWER_MODEL="fast:1")
    assert result.stderr.strip().splitlines()[-1] == (
        "runtime.EnvironmentVariableError: RUNTIME_POWER_MODEL: unknown core kind 'fast'; "
        "known kinds: 'performance', 'mid', 'efficiency', 'low-power efficiency', 'all', "
        "'mid1', 'mid2', ...")


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


@pytest.mark.parametrize("value, on", [("0", False), ("false", False), ("OFF", False),
                                       (" No ", False), ("1", True), ("True", True),
                                       ("yes", True), ("on", True), ("", True)])
def test_tail_boost_variable_takes_the_usual_spellings(value, on):
    """RUNTIME_TAIL_BOOST=false/off/no left the boost on (only "0" was off)."""
    result = run_python("import runtime, numpy as np\n"
                        "runtime.map(np.sin, np.zeros(1000), grain=10)\n"
                        "print(runtime.info()['qos']['tail_boost'])",
                        RUNTIME_TAIL_BOOST=value)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(on)]


@pytest.mark.parametrize("value", ["garbage", "2", "of", "yes please"])
def test_tail_boost_variable_rejects_other_values(value):
    result = run_python("import runtime", RUNTIME_TAIL_BOOST=value)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last == (f"runtime.EnvironmentVariableError: RUNTIME_TAIL_BOOST must be one of 1, "
                    f"true, yes, on (on) or 0, false, no, off (off), any case; got {value!r}")


def test_set_tail_boost_before_the_first_call_holds():
    """Configuration reads RUNTIME_TAIL_BOOST once; set_tail_boost before
    it must not be undone by it."""
    result = run_python("import runtime, numpy as np\n"
                        "runtime.set_tail_boost(False)\n"
                        "runtime.map(np.sin, np.zeros(1000), grain=10)\n"
                        "print(runtime.info()['qos']['tail_boost'])", RUNTIME_TAIL_BOOST="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False"]


def test_env_flag(monkeypatch):
    flag = runtime._config.env_flag
    monkeypatch.delenv("RUNTIME_TEST_FLAG", raising=False)
    assert flag("RUNTIME_TEST_FLAG", True) is True
    assert flag("RUNTIME_TEST_FLAG", False) is False
    for text, value in [("YES", True), ("0", False), ("  off\n", False), ("On", True)]:
        monkeypatch.setenv("RUNTIME_TEST_FLAG", text)
        assert flag("RUNTIME_TEST_FLAG", not value) is value
    monkeypatch.setenv("RUNTIME_TEST_FLAG", "maybe")
    with pytest.raises(ValueError, match=r"RUNTIME_TEST_FLAG must be one of 1, true, yes, on "
                                         r"\(on\) or 0, false, no, off \(off\), any case; "
                                         r"got 'maybe'"):
        flag("RUNTIME_TEST_FLAG", True)


@pytest.mark.parametrize("value", ["nan", "1e30", "inf", "-inf", "-5", "1000001", "fast"])
def test_spin_variable_must_be_finite_and_bounded(value):
    """RUNTIME_SPIN_US=nan or 1e30 were accepted (then converted to int64
    nanoseconds: undefined behaviour)."""
    result = run_python("import runtime", RUNTIME_SPIN_US=value)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last == (f"runtime.EnvironmentVariableError: RUNTIME_SPIN_US must be a number of "
                    f"microseconds from 0 to 1000000, got {value!r}")


@pytest.mark.parametrize("value", ["0", "400", "1e6", " 12.5 "])
def test_spin_variable_accepts_the_documented_range(value):
    result = run_python("import runtime, numpy as np\n"
                        "print(runtime.map(np.sin, np.zeros(1000), grain=10).sum())",
                        RUNTIME_SPIN_US=value)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0.0"]
