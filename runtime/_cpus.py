"""How many CPUs this process may use: its affinity mask, capped by a
cgroup CPU quota (containers, systemd slices).

Both roots are parameters so tests can run on recorded trees.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CpuBudget:
    count: int  # whole CPUs the process may keep busy
    affinity: int  # CPUs in the affinity mask
    quota: float | None  # cgroup CPU quota in CPUs, None when unlimited
    source: str  # what limited `count`: "affinity" or "cgroup quota"


def affinity_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _quota_v2(directory: Path) -> float | None:
    text = _read(directory / "cpu.max")  # "max 100000" or "150000 100000"
    if text is None:
        return None
    parts = text.split()
    if len(parts) != 2 or parts[0] == "max":
        return None
    try:
        quota, period = int(parts[0]), int(parts[1])
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def _quota_v1(directory: Path) -> float | None:
    quota_text = _read(directory / "cpu.cfs_quota_us")
    period_text = _read(directory / "cpu.cfs_period_us")
    if quota_text is None or period_text is None:
        return None
    try:
        quota, period = int(quota_text), int(period_text)
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def _ancestors(root: Path, cgroup_path: str) -> list[Path]:
    """The cgroup's directory and each parent up to the root: a quota set on
    any of them limits the process."""
    parts = [p for p in cgroup_path.strip("/").split("/") if p]
    return [root.joinpath(*parts[:i]) for i in range(len(parts), -1, -1)]


def cgroup_quota(proc_root: str = "/proc", cgroup_root: str = "/sys/fs/cgroup") -> float | None:
    """The tightest CPU quota on this process's cgroups, in CPUs; None if none."""
    text = _read(Path(proc_root) / "self" / "cgroup")
    if text is None:
        return None
    root = Path(cgroup_root)
    quotas: list[float] = []
    for line in text.splitlines():
        fields = line.split(":", 2)
        if len(fields) != 3:
            continue
        _, controllers, path = fields
        if controllers == "":  # cgroup v2: "0::/path"
            quotas += [q for d in _ancestors(root, path) if (q := _quota_v2(d)) is not None]
        elif "cpu" in controllers.split(","):  # cgroup v1: "4:cpu,cpuacct:/path"
            base = root / controllers
            if not base.is_dir():
                base = root / "cpu"
            quotas += [q for d in _ancestors(base, path) if (q := _quota_v1(d)) is not None]
    return min(quotas) if quotas else None


def cpu_budget(proc_root: str = "/proc", cgroup_root: str = "/sys/fs/cgroup") -> CpuBudget:
    affinity = affinity_cpus()
    quota = cgroup_quota(proc_root, cgroup_root)
    if quota is not None and math.ceil(quota) < affinity:
        return CpuBudget(max(1, math.ceil(quota)), affinity, quota, "cgroup quota")
    return CpuBudget(affinity, affinity, quota, "affinity")
