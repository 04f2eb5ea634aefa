"""CPU budget from recorded /proc and cgroup trees."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runtime import _cpus


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def trees(tmp_path):
    proc, cgroup = tmp_path / "proc", tmp_path / "cgroup"
    proc.mkdir()
    cgroup.mkdir()
    return proc, cgroup


def test_cgroup_v2_quota_on_the_process_cgroup(trees):
    proc, cgroup = trees
    write(proc, "self/cgroup", "0::/system.slice/job.scope\n")
    write(cgroup, "system.slice/job.scope/cpu.max", "150000 100000\n")
    write(cgroup, "cpu.max", "max 100000\n")
    assert _cpus.cgroup_quota(str(proc), str(cgroup)) == 1.5


def test_cgroup_v2_quota_on_a_parent_limits_too(trees):
    proc, cgroup = trees
    write(proc, "self/cgroup", "0::/a/b\n")
    write(cgroup, "a/b/cpu.max", "max 100000\n")
    write(cgroup, "a/cpu.max", "50000 100000\n")
    assert _cpus.cgroup_quota(str(proc), str(cgroup)) == 0.5


def test_cgroup_v2_unlimited(trees):
    proc, cgroup = trees
    write(proc, "self/cgroup", "0::/\n")
    write(cgroup, "cpu.max", "max 100000\n")
    assert _cpus.cgroup_quota(str(proc), str(cgroup)) is None


def test_cgroup_v1_cfs_quota(trees):
    proc, cgroup = trees
    write(proc, "self/cgroup", "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n")
    write(cgroup, "cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "200000\n")
    write(cgroup, "cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n")
    assert _cpus.cgroup_quota(str(proc), str(cgroup)) == 2.0


def test_cgroup_v1_unlimited_is_minus_one(trees):
    proc, cgroup = trees
    write(proc, "self/cgroup", "4:cpu,cpuacct:/\n")
    write(cgroup, "cpu,cpuacct/cpu.cfs_quota_us", "-1\n")
    write(cgroup, "cpu,cpuacct/cpu.cfs_period_us", "100000\n")
    assert _cpus.cgroup_quota(str(proc), str(cgroup)) is None


def test_missing_and_garbled_files_mean_no_quota(trees):
    proc, cgroup = trees
    assert _cpus.cgroup_quota(str(proc), str(cgroup)) is None
    write(proc, "self/cgroup", "garbage\n0::/x\n")
    write(cgroup, "x/cpu.max", "lots 100000\n")
    assert _cpus.cgroup_quota(str(proc), str(cgroup)) is None


def test_budget_takes_the_smaller_of_affinity_and_quota(trees, monkeypatch):
    proc, cgroup = trees
    write(proc, "self/cgroup", "0::/\n")
    write(cgroup, "cpu.max", "250000 100000\n")
    monkeypatch.setattr(_cpus, "affinity_cpus", lambda: 8)
    budget = _cpus.cpu_budget(str(proc), str(cgroup))
    assert (budget.count, budget.source, budget.quota) == (3, "cgroup quota", 2.5)
    monkeypatch.setattr(_cpus, "affinity_cpus", lambda: 2)
    assert _cpus.cpu_budget(str(proc), str(cgroup)).count == 2


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="Linux only")
def test_affinity_is_this_process_mask():
    assert _cpus.affinity_cpus() == len(os.sched_getaffinity(0))
