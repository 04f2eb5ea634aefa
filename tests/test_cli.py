"""python -m runtime info / demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runtime", *args], capture_output=True,
                          text=True, timeout=300)


def test_info_prints_the_configuration():
    result = run("info")
    assert result.returncode == 0, result.stderr
    assert "threads per job:" in result.stdout and "BLAS threads" in result.stdout
    data = json.loads(run("info", "--json").stdout)
    assert data["num_threads"] >= 1 and data["build"]
    assert "core kinds:" in result.stdout and data["topology"]["kinds"]
    assert "QoS mechanisms (" in result.stdout and data["qos"]["platform"] in (
        "linux", "darwin", "none")
    if sys.platform.startswith("linux"):
        assert {"affinity", "SCHED_BATCH"} <= set(data["qos"]["available"])
        assert "QoS classes" in data["qos"]["unavailable"]


def test_info_shows_the_topology_override_and_its_errors():
    env = {**os.environ, "RUNTIME_TOPOLOGY": "performance:0;efficiency:1"}
    shown = subprocess.run([sys.executable, "-m", "runtime", "info"], capture_output=True,
                           text=True, timeout=300, env=env)
    assert "core kinds: performance 0, efficiency 1 (from RUNTIME_TOPOLOGY)" in shown.stdout
    if sys.platform.startswith("linux"):
        assert "  background: linux: affinity efficiency (1) + SCHED_BATCH" in shown.stdout
        assert "  interactive: linux: " in shown.stdout
    env["RUNTIME_TOPOLOGY"] = "performance:0;efficiency"
    bad = subprocess.run([sys.executable, "-m", "runtime", "info"], capture_output=True,
                         text=True, timeout=300, env=env)
    assert bad.returncode == 0  # info reports the error instead of failing
    assert "core kinds: error: RUNTIME_TOPOLOGY: 'efficiency' is not 'name:cpus'" in bad.stdout


def test_demo_runs_and_checks_its_results():
    result = run("demo", "--size", "200000", "--repeats", "1")
    assert result.returncode == 0, result.stderr
    assert "results match NumPy" in result.stdout
    assert "speedup" in result.stdout and "threads per job" in result.stdout


def test_bad_command_line():
    assert run().returncode == 2
    assert run("demo", "--size", "10").returncode == 2
