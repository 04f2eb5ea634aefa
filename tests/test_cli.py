"""python -m runtime info / demo."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import pytest

from runtime.__main__ import build_parser


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


@pytest.mark.parametrize("command", [["info"], ["info", "--json"], ["demo", "--quick"],
                                     ["bench", "--quick", "--cases", "sum"]])
@pytest.mark.parametrize("variable, value, message", [
    ("RUNTIME_NUM_THREADS", "0", "RUNTIME_NUM_THREADS must be between 1 and 256, got 0"),
    ("RUNTIME_SPIN_US", "nan", "RUNTIME_SPIN_US must be a number of microseconds from 0 to "
                               "1000000, got 'nan'"),
    ("RUNTIME_TAIL_BOOST", "2", "RUNTIME_TAIL_BOOST must be one of 1, true, yes, on (on) or "
                                "0, false, no, off (off), any case; got '2'"),
    ("RUNTIME_TOPOLOGY", "performance:0;efficiency",
     "RUNTIME_TOPOLOGY: 'efficiency' is not 'name:cpus' (e.g. "
     "'performance:0-3;efficiency:4-7')"),
    ("RUNTIME_POWER_MODEL", "performance:fast",
     "RUNTIME_POWER_MODEL: 'fast' for kind 'performance' is not a number of watts"),
])
def test_a_bad_environment_variable_is_one_line_and_status_2(command, variable, value,
                                                             message, tmp_path):
    """RUNTIME_NUM_THREADS=0 python -m runtime info printed a 23-line
    traceback."""
    env = {**os.environ, variable: value}
    result = subprocess.run([sys.executable, "-m", "runtime", *command], capture_output=True,
                            text=True, timeout=300, env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == f"python -m runtime {command[0]}: error: {message}\n"


def test_demo_runs_and_checks_its_results():
    result = run("demo", "--size", "200000", "--repeats", "1")
    assert result.returncode == 0, result.stderr
    assert "results match NumPy" in result.stdout
    assert "speedup" in result.stdout and "threads per job" in result.stdout


def test_bad_command_line():
    assert run("demo", "--size", "10").returncode == 2
    assert run("nonsense").returncode == 2


def test_no_command_prints_the_help():
    result = run()
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: python -m runtime [-h] COMMAND ...")
    assert all(f"    {name} " in result.stdout for name in ("demo", "info", "bench"))


def test_every_option_says_what_it_does():
    parser, commands = build_parser()
    for name, command in [("", parser), *commands.items()]:
        for action in command._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            assert action.help, f"python -m runtime {name} {action.option_strings}: no help"
        assert command.description, f"python -m runtime {name}: no description"


def test_the_l3_a_vm_reports_is_capped_before_it_sizes_chunks(monkeypatch):
    """This project's VM reports a 480 MiB L3 (the socket's, shared with the
    host's other cores): chunks of ~240 MiB per thread."""
    from runtime import _arrays

    budget = _arrays.chunk_cache_bytes.__wrapped__
    monkeypatch.setattr(_arrays, "cache_sizes", lambda: {2: 2 << 20, 3: 480 << 20})
    assert budget(2) == (2 << 20) + _arrays.MAX_L3_SHARE == 18 << 20
    monkeypatch.setattr(_arrays, "cache_sizes", lambda: {2: 1 << 20, 3: 32 << 20})
    assert budget(8) == (1 << 20) + (4 << 20)  # a real die's share: unchanged
    shown = run("info").stdout
    assert "per thread (L2 + the thread's share of L3, at most 16 MiB)" in shown
