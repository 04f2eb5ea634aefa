"""runtime.info(): the configuration, as a dict and as text."""

from __future__ import annotations

import os
import platform
import sys
from typing import Any

import numpy as np

from . import _arrays, _blas, _config, _core, _cpus, _qos, _schedule, _threadpoolctl, _topology


def info() -> dict[str, Any]:
    """The thread configuration and what runtime measured about this machine.

    >>> import runtime
    >>> runtime.info()["num_threads"] == runtime.num_threads()
    True
    """
    budget = _cpus.cpu_budget()
    ov = _schedule._overheads
    caches = _arrays.cache_sizes()
    return {
        "version": _version(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": f"{sys.platform} {platform.machine()}",
        "build": _core.BUILD,
        "num_threads": _config.num_threads(),
        "num_threads_source": _config.thread_source(),
        "num_threads_ignored": _config.ignored_setting(),
        "cpus_affinity": budget.affinity,
        "cgroup_cpu_quota": budget.quota,
        "pool_started": _core.started(),
        "pool": _core.stats(),
        "overheads": None if ov is None else {
            "dispatch_us": round(ov.dispatch_s * 1e6, 2),
            "python_chunk_us": round(ov.chunk_s * 1e6, 2),
        },
        "cache_bytes": {f"L{level}": size for level, size in sorted(caches.items())},
        "chunk_cache_bytes": _arrays.chunk_cache_bytes(_config.num_threads()),
        "blas_threads": _blas.blas_threads(),
        "numpy_patched": _threadpoolctl.numpy_patched(),
        "topology": _topology_info(),
        "qos": _qos_info(),
    }


def _qos_info() -> dict[str, Any]:
    platform_name, reasons = _core.qos_mechanisms()
    available = [name for name, reason in reasons.items() if reason is None]
    return {"platform": platform_name, "available": available,
            "unavailable": {name: reason for name, reason in reasons.items() if reason},
            "levels": _levels(platform_name, available),
            "tail_boost": _core.tail_boost_enabled()}


def _levels(platform_name: str, available: list[str]) -> dict[str, str]:
    """Per level, what a job at it gets on this machine (runtime/_qos.py,
    csrc/qos_linux.c, csrc/qos_darwin.c)."""
    if platform_name == "darwin":
        return {level: f"darwin: QOS_CLASS_{cls}" for level, cls in (
            ("background", "BACKGROUND"), ("utility", "UTILITY"),
            ("initiated", "USER_INITIATED"), ("interactive", "USER_INTERACTIVE"))}
    if platform_name != "linux":
        return {level: "none: no QoS mechanism here" for level in _qos.LEVELS}
    try:
        topology = _topology.topology()
        placement = _qos.placement(topology)
        per_thread = _qos.thread_placement(topology)
    except ValueError:
        placement = {level: [] for level in range(4)}
        per_thread = {level: [] for level in range(4)}
    levels = {}
    for name, number in _qos.LEVELS.items():
        parts = []
        if placement[number]:
            parts.append(f"affinity efficiency ({_topology._cpu_text(placement[number])})")
        if per_thread[number]:
            parts.append("affinity one thread per CPU, performance kinds first")
        if number <= 1:
            parts.append("SCHED_BATCH")
            if "nice" in available:
                parts.append(f"nice {10 if number == 0 else 5}")
            if "util-clamp" in available:
                parts.append(f"util-clamp max {256 if number == 0 else 512}")
        elif number == 3 and "util-clamp" in available:
            parts.append("util-clamp min 512")
        levels[name] = "linux: " + (" + ".join(parts) or "the thread's own setting")
    return levels


def _topology_info() -> dict[str, Any]:
    try:
        t = _topology.topology()
    except ValueError as error:  # a malformed RUNTIME_TOPOLOGY: say so, as the call would
        return {"error": str(error)}
    return {"kinds": [{"name": k.name, "cpus": k.cpus} for k in t.kinds],
            "heterogeneous": t.heterogeneous, "source": t.source}


def _version() -> str:
    from . import __version__

    return __version__


def plural(count: int, word: str) -> str:
    """"1 worker", "2 workers", "0 workers".

    >>> plural(1, "worker"), plural(3, "CPU")
    ('1 worker', '3 CPUs')
    """
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def load_note(threads: int) -> str | None:
    """The 1-minute load average, and whether it leaves `threads` threads
    room to run: other work on the CPUs takes time from every job's
    threads, and ratios against a one-thread baseline fall toward 1.0x.
    None where the OS gives no load average.  Busy: a load of half the
    threads or more (on 2 CPUs, one CPU's worth of other work)."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return None
    cpus = os.cpu_count() or 1
    note = f"1-minute load average {load:.2f} on {plural(cpus, 'CPU')}"
    if load >= max(0.5, threads / 2):
        note += (": other processes are using the CPUs, so speedups are lower than on an "
                 "idle machine")
    return note


def format_info(data: dict[str, Any]) -> str:
    quota = data["cgroup_cpu_quota"]
    ov = data["overheads"]
    pool = data["pool"]
    lines = [
        f"runtime {data['version']} ({data['build']} build), Python {data['python']}, "
        f"NumPy {data['numpy']}, {data['platform']}",
        f"threads per job: {data['num_threads']} (from {data['num_threads_source']}; "
        + (f"{data['num_threads_ignored']}; " if data.get("num_threads_ignored") else "")
        + f"affinity allows {plural(data['cpus_affinity'], 'CPU')}"
        + (f", cgroup quota {quota:g} CPUs)" if quota else ", no cgroup CPU quota)"),
        f"pool: {'running' if data['pool_started'] else 'not started yet'}"
        + (f", {plural(pool['workers'], 'worker')} ({pool['sleeping']} parked), "
           f"{plural(pool['leaves'], 'chunk')} run, {plural(pool['steals'], 'steal')}"
           if data["pool_started"] else ""),
        "measured overheads: " + ("not yet (measured on the first parallel call)" if ov is None
                                  else f"dispatch {ov['dispatch_us']} us, Python chunk "
                                       f"{ov['python_chunk_us']} us"),
        "caches: " + (", ".join(f"{k} {v >> 10} KiB" for k, v in data["cache_bytes"].items())
                      or "unknown") + f"; chunk budget {data['chunk_cache_bytes'] >> 20} MiB "
        f"per thread (L2 + the thread's share of L3, at most {_arrays.MAX_L3_SHARE >> 20} MiB)",
        "BLAS threads: " + (", ".join(f"{k} {v}" for k, v in data["blas_threads"].items())
                            or "no BLAS library found")
        + " (held to 1 inside parallel Python chunks)",
        "NumPy's ufunc loops: " + ("patched (runtime.numpy.patch(): big calls split over "
                                   "the pool)" if data["numpy_patched"] else "NumPy's own"),
        "core kinds: " + _format_topology(data["topology"]),
        f"QoS mechanisms ({data['qos']['platform']}): "
        + (", ".join(data["qos"]["available"]) or "none")
        + "".join(f"; {name} unavailable: {reason}"
                  for name, reason in data["qos"]["unavailable"].items()),
        *(f"  {level}: {text}" for level, text in data["qos"]["levels"].items()),
        "tail boost: " + ("on" if data["qos"]["tail_boost"] else "off"),
    ]
    return "\n".join(lines)


def _format_topology(topology: dict[str, Any]) -> str:
    if "error" in topology:
        return "error: " + topology["error"]
    kinds = ", ".join(f"{k['name']} {_topology._cpu_text(k['cpus'])}" for k in topology["kinds"])
    return f"{kinds} (from {topology['source']})"
