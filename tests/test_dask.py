"""runtime.dask: the thread accounting (cpu_share), an import that needs
no Dask, and the checks on real LocalCluster's (tests/dask_clusters.py),
run in a fresh interpreter: distributed keeps a thread and
multiprocessing its resource-tracker process for the life of the process
that used them."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

import runtime.dask

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize("cpus, processes, share", [(8, 1, 8), (8, 2, 4), (8, 3, 2),
                                                    (2, 2, 1), (2, 5, 1), (1, 1, 1)])
def test_a_worker_process_gets_its_share_of_the_hosts_cpus(cpus, processes, share):
    assert runtime.dask.cpu_share(cpus, processes) == share


@pytest.mark.parametrize("cpus, processes", [(0, 1), (4, 0)])
def test_a_share_of_nothing_is_an_error(cpus, processes):
    with pytest.raises(ValueError, match="must be >= 1"):
        runtime.dask.cpu_share(cpus, processes)


def test_runtime_dask_imports_without_dask_and_install_names_the_extra():
    code = (
        "import sys\n"
        "sys.modules['dask'] = sys.modules['distributed'] = None  # not installed\n"
        "import runtime.dask\n"
        "try:\n"
        "    runtime.dask.install(object())\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "pip install 'hetero-runtime[dask]'" in result.stdout


def test_on_real_dask_clusters():
    pytest.importorskip("dask.array")
    pytest.importorskip("distributed")
    # The suite's conftest is left out: its end-of-session check would find
    # distributed's thread; the child's exit ends it and the worker processes.
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
         "--noconftest", "-o", "faulthandler_timeout=300", str(HERE / "dask_clusters.py")],
        capture_output=True, text=True, timeout=600, cwd=HERE.parent,
        env={k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS",
                                                             "RUNTIME_NUM_THREADS")})
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
    assert " passed" in result.stdout.splitlines()[-1]


def test_the_dask_benchmark_runs_and_every_configuration_computes_the_same(tmp_path):
    pytest.importorskip("dask.array")
    pytest.importorskip("distributed")
    size = 200_000
    out = tmp_path / "rows.json"
    result = subprocess.run(
        [sys.executable, str(HERE.parent / "benchmarks" / "dask_compare.py"), "--size", str(size),
         "--json", str(out)], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    rows = json.loads(out.read_text())
    assert len(rows) == 8
    assert all(row["tasks"] > 0 and row["cpu_s"] >= row["system_s"] >= 0 for row in rows)
    # Uniform numbers: E[exp(u)] = e - 1, E[a*b + c] = 3/4; 200 000 of them
    # land within a fraction of a percent (the blocks, so the draws, differ).
    for row in rows:
        if row["pipeline"] == "exp then sum":
            assert row["result"] == pytest.approx(size * (math.e - 1), rel=0.01)
        else:
            assert row["result"] == pytest.approx(0.75, rel=0.01)
