"""Conventions users bring from numexpr, numba, joblib and threadpoolctl:
set_num_threads returns the previous count, get_num_threads, OMP_NUM_THREADS
followed when RUNTIME_NUM_THREADS is unset (so joblib's and Dask's worker
processes do not oversubscribe), and a star import that leaves the
builtins alone."""

from __future__ import annotations

import builtins
import importlib.util
import os
import subprocess
import sys

import pytest

import runtime


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("RUNTIME_NUM_THREADS", "OMP_NUM_THREADS")}
    environment.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=environment, timeout=120)


def test_set_num_threads_returns_the_previous_count(threads):
    assert runtime.set_num_threads(1) == threads
    assert runtime.set_num_threads(3) == 1
    assert runtime.get_num_threads() == runtime.num_threads() == 3


def test_star_import_does_not_shadow_map():
    namespace: dict[str, object] = {}
    exec("from runtime import *", namespace)
    assert "map" not in namespace and "map" not in runtime.__all__
    assert runtime.map is not builtins.map
    assert {"map_items", "reduce", "parallel", "get_num_threads", "QosLevel"} <= set(namespace)
    assert all(hasattr(runtime, name) for name in runtime.__all__)


SHOW = "import runtime; print(runtime.num_threads(), runtime.info()['num_threads_source'])"


@pytest.mark.parametrize("omp, expected", [("1", "1 OMP_NUM_THREADS"),
                                           ("3", "3 OMP_NUM_THREADS"),
                                           ("3,1", "3 OMP_NUM_THREADS"),  # nested: outer level
                                           (" 2 ", "2 OMP_NUM_THREADS")])
def test_omp_num_threads_is_followed_when_runtime_num_threads_is_unset(omp, expected):
    result = run_python(SHOW, OMP_NUM_THREADS=omp)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_runtime_num_threads_wins_over_omp_num_threads():
    result = run_python(SHOW, OMP_NUM_THREADS="1", RUNTIME_NUM_THREADS="2")
    assert result.stdout.strip() == "2 RUNTIME_NUM_THREADS", result.stderr


def test_omp_num_threads_is_capped_at_the_pool_maximum():
    result = run_python(SHOW, OMP_NUM_THREADS="100000")
    assert result.stdout.strip() == f"{runtime._config.MAX_THREADS} OMP_NUM_THREADS", \
        result.stderr


@pytest.mark.parametrize("omp", ["0", "-1", "many", ",2"])
def test_an_unusable_omp_num_threads_is_ignored_and_said_so(omp):
    """Another library's variable: not an error here (OpenMP runtimes ignore
    such values too), but runtime.info() says it was not followed."""
    result = run_python("import runtime; info = runtime.info()\n"
                        "print(info['num_threads_source']); print(info['num_threads_ignored'])\n"
                        "print(runtime._info.format_info(info).splitlines()[1])",
                        OMP_NUM_THREADS=omp)
    assert result.returncode == 0, result.stderr
    source, ignored, line = result.stdout.splitlines()
    assert source in ("affinity", "cgroup quota")
    assert ignored == (f"OMP_NUM_THREADS={omp!r} ignored: not a whole number of threads >= 1")
    assert ignored in line


@pytest.mark.skipif(importlib.util.find_spec("joblib") is None,
                    reason="needs joblib (pip install joblib; it is in the test extra)")
def test_joblib_loky_workers_get_their_share():
    """joblib's loky backend sets OMP_NUM_THREADS=inner_max_num_threads in
    its worker processes; runtime there must use that many threads, not
    every CPU (each of N workers would start a pool of all CPUs).  In a
    child process, which shuts loky's workers down before it ends."""
    code = """if True:
        from joblib import Parallel, delayed, parallel_config
        from joblib.externals.loky import get_reusable_executor

        def threads():
            import os, runtime
            return (os.environ.get("OMP_NUM_THREADS"), runtime.num_threads(),
                    runtime.info()["num_threads_source"])

        try:
            with parallel_config(backend="loky", inner_max_num_threads=1):
                print(Parallel(n_jobs=2)(delayed(threads)() for _ in range(4)))
        finally:
            get_reusable_executor().shutdown(wait=True)
    """
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str([("1", 1, "OMP_NUM_THREADS")] * 4)
