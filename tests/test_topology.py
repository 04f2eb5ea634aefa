"""Core kinds from recorded sysfs trees and sysctl values, and the
RUNTIME_TOPOLOGY override (runtime/_topology.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import runtime
from runtime import _topology
from runtime._topology import from_darwin, from_linux, parse_cpu_list, parse_override


def write_tree(root, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")


def kinds(topology) -> list[tuple[str, list[int]]]:
    return [(kind.name, kind.cpus) for kind in topology.kinds]


def test_intel_hybrid_i7_12700h(tmp_path):
    # i7-12700H: 6 P-cores with SMT (CPUs 0-11), 8 E-cores (12-19).
    write_tree(tmp_path, {"devices/cpu_core/cpus": "0-11", "devices/cpu_atom/cpus": "12-19"})
    t = from_linux(tmp_path, usable=range(20))
    assert kinds(t) == [("performance", list(range(12))), ("efficiency", list(range(12, 20)))]
    assert t.heterogeneous and t.source == "linux: /sys/devices/cpu_core, cpu_atom"
    assert t.kind_of(13).name == "efficiency" and t.kind_of(25) is None


def test_intel_hybrid_with_low_power_cores_and_a_narrow_affinity(tmp_path):
    # Meteor Lake-like: P 0-5, E 6-13, LP-E 14-15; the process may use 4-15 only.
    write_tree(tmp_path, {"devices/cpu_core/cpus": "0-5", "devices/cpu_atom/cpus": "6-13",
                          "devices/cpu_lowpower/cpus": "14-15"})
    t = from_linux(tmp_path, usable=range(4, 16))
    assert kinds(t) == [("performance", [4, 5]), ("efficiency", list(range(6, 14))),
                        ("low-power efficiency", [14, 15])]
    only_efficiency = from_linux(tmp_path, usable=range(6, 14))
    assert kinds(only_efficiency) == [("efficiency", list(range(6, 14)))]
    assert not only_efficiency.heterogeneous


def test_arm64_big_little_rk3588(tmp_path):
    # RK3588: Cortex-A55 (capacity 414) on 0-3, Cortex-A76 (1024) on 4-7.
    write_tree(tmp_path, {f"devices/system/cpu/cpu{i}/cpu_capacity": "414" if i < 4 else "1024"
                          for i in range(8)})
    t = from_linux(tmp_path, usable=range(8))
    assert kinds(t) == [("performance", [4, 5, 6, 7]), ("efficiency", [0, 1, 2, 3])]
    assert t.source == "linux: cpu_capacity 1024 on 4-7, 414 on 0-3"


def test_three_capacity_tiers(tmp_path):
    capacity = {0: 1024, 1: 870, 2: 870, 3: 870, 4: 325, 5: 325, 6: 325, 7: 325}
    write_tree(tmp_path, {f"devices/system/cpu/cpu{i}/cpu_capacity": str(c)
                          for i, c in capacity.items()})
    t = from_linux(tmp_path, usable=range(8))
    assert kinds(t) == [("performance", [0]), ("mid", [1, 2, 3]), ("efficiency", [4, 5, 6, 7])]


def test_homogeneous_x86_and_equal_capacities(tmp_path):
    t = from_linux(tmp_path, usable=range(4))  # no hybrid PMUs, no cpu_capacity files
    assert kinds(t) == [("all", [0, 1, 2, 3])] and not t.heterogeneous
    write_tree(tmp_path, {f"devices/system/cpu/cpu{i}/cpu_capacity": "1024" for i in range(4)})
    assert kinds(from_linux(tmp_path, usable=range(4))) == [("all", [0, 1, 2, 3])]


def darwin(values: dict[str, int | str]):
    return lambda name: values.get(name)


def test_apple_m1_and_m1_pro():
    m1 = from_darwin(darwin({"hw.nperflevels": 2, "hw.perflevel0.logicalcpu": 4,
                             "hw.perflevel1.logicalcpu": 4, "hw.perflevel0.name": "Performance",
                             "hw.perflevel1.name": "Efficiency", "hw.logicalcpu": 8}))
    assert kinds(m1) == [("performance", [4, 5, 6, 7]), ("efficiency", [0, 1, 2, 3])]
    m1_pro = from_darwin(darwin({"hw.nperflevels": 2, "hw.perflevel0.logicalcpu": 8,
                                 "hw.perflevel1.logicalcpu": 2, "hw.logicalcpu": 10}))
    assert kinds(m1_pro) == [("performance", list(range(2, 10))), ("efficiency", [0, 1])]
    assert m1_pro.source == "darwin: hw.perflevel0-1 (8, 2 CPUs)"


def test_darwin_without_perflevels_is_one_kind():
    intel_mac = from_darwin(darwin({"hw.logicalcpu": 8}))
    assert kinds(intel_mac) == [("all", list(range(8)))] and not intel_mac.heterogeneous


def test_cpu_lists():
    assert parse_cpu_list("0-3,8,10-11") == [0, 1, 2, 3, 8, 10, 11]
    assert parse_cpu_list(" 5 ") == [5]
    for bad in ("", "1,,2", "a", "3-1", "-1", "0-"):
        with pytest.raises(ValueError):
            parse_cpu_list(bad)


def test_override_parsing():
    t = parse_override("performance:0;efficiency:1", usable=[0, 1])
    assert kinds(t) == [("performance", [0]), ("efficiency", [1])]
    assert t.heterogeneous and t.source == "RUNTIME_TOPOLOGY"
    t = parse_override(" big : 2-3 ; little : 0,1 ;", usable=range(4))
    assert kinds(t) == [("big", [2, 3]), ("little", [0, 1])]


@pytest.mark.parametrize("value, message", [
    ("", "is empty"),
    ("performance", "is not 'name:cpus'"),
    (":0", "is not 'name:cpus'"),
    ("p:0;p:1", "kind 'p' is given twice"),
    ("p:x", "is not a CPU number"),
    ("p:3-1", "bad CPU range"),
    ("p:0;e:0", "CPU 0 is in both 'p' and 'e'"),
    ("p:0;e:9", "CPU 9 \\(kind 'e'\\) is not one this process may use \\(its CPUs: 0-1\\)"),
])
def test_override_errors_say_what_was_wrong(value, message):
    with pytest.raises(ValueError, match=message):
        parse_override(value, usable=[0, 1])


def test_runtime_topology_reads_the_environment():
    code = ("import runtime; t = runtime.topology(); "
            "print([(k.name, k.cpus) for k in t.kinds], t.heterogeneous, t.source)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60,
                         env={**_environment(), "RUNTIME_TOPOLOGY": "performance:0;efficiency:1"})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == ("[('performance', [0]), ('efficiency', [1])] True "
                                  "RUNTIME_TOPOLOGY")
    bad = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60,
                         env={**_environment(), "RUNTIME_TOPOLOGY": "performance:0;efficiency:99"})
    assert bad.returncode != 0 and "CPU 99 (kind 'efficiency') is not one this process may use" \
        in bad.stderr


def test_huge_cpu_ranges_are_refused_before_expanding():
    """RUNTIME_TOPOLOGY=performance:0-100000000 built a set of 1e8 CPU ids
    on every topology() call (tens of seconds each).  In a child, bounded:
    0-10**15 would not finish expanding."""
    code = """if True:
        import os
        import runtime
        from runtime._topology import parse_override
        os.environ["RUNTIME_TOPOLOGY"] = "performance:0-100000000"  # after the import's check
        for text in ("performance:0-1000000000000000", "p:0;e:1,5-1000000000000000"):
            try:
                parse_override(text, usable=[0, 1])
            except ValueError as error:
                print(error)
        for _ in range(3):
            try:
                runtime.topology()
            except ValueError as error:
                print(error)
    """
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env=_environment())
    assert run.returncode == 0, run.stderr
    usable = _topology._cpu_text(_topology._usable_cpus())
    assert run.stdout.splitlines() == [
        "RUNTIME_TOPOLOGY: CPU 1000000000000000 (kind 'performance') is not one this process "
        "may use (its CPUs: 0-1)",
        "RUNTIME_TOPOLOGY: CPU 1000000000000000 (kind 'e') is not one this process may use "
        "(its CPUs: 0-1)",
    ] + 3 * [f"RUNTIME_TOPOLOGY: CPU 100000000 (kind 'performance') is not one this process "
             f"may use (its CPUs: {usable})"]


def test_a_bad_override_is_read_once_per_value(monkeypatch):
    calls = []

    def counting_detect():
        calls.append(1)
        return detect()

    detect = _topology.detect
    monkeypatch.setattr(_topology, "detect", counting_detect)
    monkeypatch.setattr(_topology, "_cached", None)
    monkeypatch.setattr(_topology, "_failed", None)
    monkeypatch.setenv("RUNTIME_TOPOLOGY", "performance")
    for _ in range(3):
        with pytest.raises(ValueError, match="'performance' is not 'name:cpus'"):
            runtime.topology()
    assert len(calls) == 1
    monkeypatch.setenv("RUNTIME_TOPOLOGY", "p:0;p:0")  # a new value is read
    for _ in range(2):
        with pytest.raises(ValueError, match="kind 'p' is given twice"):
            runtime.topology()
    assert len(calls) == 2
    first = _topology._usable_cpus()[0]
    monkeypatch.setenv("RUNTIME_TOPOLOGY", f"fast:{first}")  # corrected: found, then kept
    assert kinds(runtime.topology()) == [("fast", [first])]
    assert runtime.topology() is runtime.topology() and len(calls) == 3


def test_detected_topology_covers_the_usable_cpus(monkeypatch):
    monkeypatch.delenv("RUNTIME_TOPOLOGY", raising=False)
    t = _topology.detect()
    covered = sorted(cpu for kind in t.kinds for cpu in kind.cpus)
    assert covered == sorted(_topology._usable_cpus())
    assert runtime.topology() is runtime.topology()  # detected once


def _environment() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "RUNTIME_TOPOLOGY"}
