"""runtime.energy: RAPL on recorded powercap trees, the macOS rusage parser on
buffers built to Apple's header, and the estimate run for real here.

Recorded trees are written to tmp_path and changed while a block runs, as
the kernel would change them.  Files are replaced atomically (write, then
rename) so the meter's sampler thread never sees a half-written file.

Unreadable counters: the suite runs as root, and root reads a file whatever
its mode bits (chmod 000 blocks nothing), so a permission error is
simulated by patching the module's open(); other unreadable counters are a
directory where a file is expected, garbage contents, and a missing file.
"""

from __future__ import annotations

import os
import struct
import sys
import threading
import time
from pathlib import Path

import pytest

import runtime
import runtime.energy
from runtime.energy import _darwin, _model, _rapl
from runtime.energy._counter import CounterError
from runtime.energy._cputime import ThreadSample, split_by_threads, thread_samples
from runtime.energy._darwin import RusageInfoV6, parse_rusage_v6, read_rusage_v6
from runtime.energy._rapl import delta_uj, package_zones, sample_seconds
from runtime._topology import CoreKind, Topology

# max_energy_range_uj of a recorded i7 laptop package (2^32 units of 61 uJ).
MAX = 262143328850
ONE_KIND = Topology([CoreKind("all", [0, 1])], "test: one kind")
HYBRID = Topology([CoreKind("performance", [0]), CoreKind("efficiency", [1])], "test: P 0, E 1")


def write_tree(root, files: dict[str, object]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".new")
        temporary.write_text(f"{text}\n")
        os.replace(temporary, path)


def zone(name: str, energy: object, max_range: int = MAX) -> dict[str, object]:
    return {"name": name, "energy_uj": energy, "max_energy_range_uj": max_range}


def tree(**zones: dict[str, object]) -> dict[str, object]:
    """{"intel_rapl_0": zone(...)} -> files; '_' in a zone's name stands for '-' or ':'."""
    files = {}
    for key, attributes in zones.items():
        directory = key.replace("intel_rapl_mmio_", "intel-rapl-mmio:").replace(
            "intel_rapl_", "intel-rapl:").replace("amd_rapl_", "amd-rapl:").replace("_", ":")
        files.update({f"{directory}/{name}": value for name, value in attributes.items()})
    return files


def rapl_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "runtime-energy-rapl"]


@pytest.fixture(autouse=True)
def no_sampler_left():
    yield
    assert rapl_threads() == []


def burn_cpu(seconds: float) -> None:
    """Keep this thread busy until the process's CPU clock has advanced `seconds`."""
    start = time.process_time()
    while time.process_time() - start < seconds:
        sum(i * i for i in range(1000))


# --- Linux RAPL ---------------------------------------------------------------------------


def test_two_packages_summed_and_subzones_psys_and_mmio_not_counted(tmp_path):
    # A two-socket server's flat /sys/class/powercap: packages, their dram
    # subzones listed beside them, the MMIO twin of package-0, and a psys zone.
    write_tree(tmp_path, tree(
        intel_rapl_0=zone("package-0", 1_000_000), intel_rapl_0_0=zone("dram", 7_000_000),
        intel_rapl_1=zone("package-1", 2_000_000), intel_rapl_1_0=zone("dram", 9_000_000),
        intel_rapl_mmio_0=zone("package-0", 1_000_000), intel_rapl_2=zone("psys", 50_000_000)))
    with runtime.energy.meter(powercap_root=tmp_path, topology=ONE_KIND) as m:
        assert len(rapl_threads()) == 1
        write_tree(tmp_path, tree(
            intel_rapl_0={"energy_uj": 4_500_000}, intel_rapl_0_0={"energy_uj": 8_000_000},
            intel_rapl_1={"energy_uj": 3_250_000}, intel_rapl_1_0={"energy_uj": 9_500_000},
            intel_rapl_mmio_0={"energy_uj": 4_500_000}, intel_rapl_2={"energy_uj": 90_000_000}))
    assert m.source == "rapl" and m.unreadable == ()
    assert m.joules == pytest.approx(3.5 + 1.25, rel=1e-12)
    assert m.joules_by_kind is None  # RAPL counts per package, not per core kind
    assert m.estimate_joules is not None and m.seconds > 0
    assert str(m) == "4.75 J (rapl)" and "machine-wide" in m.summary()
    assert [z.name for z in package_zones(tmp_path)] == ["package-0", "package-1"]


def test_nested_layout_under_the_control_type_directory(tmp_path):
    # /sys/devices/virtual/powercap/intel-rapl: subzones nested inside their package.
    write_tree(tmp_path, tree(intel_rapl_0=zone("package-0", 10)))
    write_tree(tmp_path / "intel-rapl:0", tree(intel_rapl_0_0=zone("core", 10)))
    with runtime.energy.meter(powercap_root=tmp_path, topology=ONE_KIND) as m:
        write_tree(tmp_path, tree(intel_rapl_0={"energy_uj": 2_000_010}))
        write_tree(tmp_path / "intel-rapl:0", tree(intel_rapl_0_0={"energy_uj": 1_000_010}))
    assert (m.source, m.joules) == ("rapl", 2.0)


def test_amd_rapl_zones_are_read_only_without_intel_rapl_ones(tmp_path):
    write_tree(tmp_path, tree(amd_rapl_0=zone("package-0", 100)))
    assert [z.path.name for z in package_zones(tmp_path)] == ["amd-rapl:0"]
    write_tree(tmp_path, tree(intel_rapl_0=zone("package-0", 100)))
    assert [z.path.name for z in package_zones(tmp_path)] == ["intel-rapl:0"]


def test_wrap_around_formula():
    assert delta_uj(100, 250, 1000) == 150
    assert delta_uj(250, 250, 1000) == 0
    # 0..max and then 0 again: the rest of the range, the step to 0, and after.
    assert delta_uj(990, 5, 1000) == 10 + 1 + 5
    assert delta_uj(1000, 0, 1000) == 1
    assert delta_uj(MAX - 1_000_000, 500_000, MAX) == 1_500_001


def test_wrap_around_in_a_block(tmp_path):
    write_tree(tmp_path, tree(intel_rapl_0=zone("package-0", MAX - 2_000_000),
                              intel_rapl_1=zone("package-1", 5_000_000)))
    with runtime.energy.meter(powercap_root=tmp_path, topology=ONE_KIND) as m:
        write_tree(tmp_path, tree(intel_rapl_0={"energy_uj": 999_999},
                                  intel_rapl_1={"energy_uj": 6_000_000}))
    assert m.source == "rapl" and m.unreadable == ()
    assert m.joules == pytest.approx((2_000_000 + 1 + 999_999 + 1_000_000) / 1e6, rel=1e-12)


def test_several_wraps_are_caught_by_samples_in_between(tmp_path, monkeypatch):
    # The sampler thread calls _sample(); here the test calls it, with the
    # thread's period set far beyond the test so only one caller reads.
    monkeypatch.setattr(_rapl, "SAMPLE_SECONDS_MIN", 3600.0)
    monkeypatch.setattr(_rapl, "SAMPLE_SECONDS_MAX", 3600.0)
    write_tree(tmp_path, tree(intel_rapl_0=zone("package-0", 900, max_range=1000)))
    counter = _rapl.RaplCounter(tmp_path)
    counter.start()
    for value in (100, 800, 300):  # wraps twice: 201 + 700 + 501
        write_tree(tmp_path, tree(intel_rapl_0={"energy_uj": value}))
        counter._sample()
    write_tree(tmp_path, tree(intel_rapl_0={"energy_uj": 400}))
    assert counter.stop() == ((201 + 700 + 501 + 100) / 1e6, None)


def test_sampler_thread_reads_during_the_block(tmp_path, monkeypatch):
    # A tiny counter range and a 1 ms period: the thread must read every
    # value written below, or the two wraps would be lost.
    monkeypatch.setattr(_rapl, "SAMPLE_SECONDS_MIN", 0.001)
    write_tree(tmp_path, tree(intel_rapl_0=zone("package-0", 900, max_range=1000)))
    with runtime.energy.meter(powercap_root=tmp_path, topology=ONE_KIND) as m:
        counter = m._counter
        assert isinstance(counter, _rapl.RaplCounter)
        for value in (100, 800, 300):
            write_tree(tmp_path, tree(intel_rapl_0={"energy_uj": value}))
            deadline = time.monotonic() + 30  # a guard against hanging, not a bound
            while counter._last != [value] and time.monotonic() < deadline:
                time.sleep(0.001)
            assert counter._last == [value]
    assert m.source == "rapl" and m.joules == (201 + 700 + 501) / 1e6


def test_sample_period_follows_the_counter_range():
    def zones(max_range):
        return [_rapl.Zone(Path("."), "package-0", max_range)]
    # A 65 kJ counter wraps in ~2 min at 500 W.
    assert sample_seconds(zones(65_532_610_987)) == pytest.approx(65.53, rel=1e-3)
    assert sample_seconds(zones(MAX)) == pytest.approx(262.1, rel=1e-3)
    assert sample_seconds(zones(1000)) == 1.0  # clamped
    assert sample_seconds(zones(10**15)) == 300.0


def test_no_powercap_directory_falls_back_to_the_estimate(tmp_path):
    missing = tmp_path / "powercap"
    with runtime.energy.meter(powercap_root=missing, topology=ONE_KIND) as m:
        burn_cpu(0.01)
    assert m.source == "estimate" and m.joules == m.estimate_joules and m.joules > 0
    assert len(m.unreadable) == 1
    counter, reason = m.unreadable[0]
    assert counter == str(missing) and reason.startswith("no such directory")
    assert "unreadable: " + str(missing) in m.summary()


def test_no_package_zone_falls_back_with_the_reason(tmp_path):
    # Only zones that must not be read: psys, the MMIO twin, a subzone.
    write_tree(tmp_path, tree(intel_rapl_1=zone("psys", 10), intel_rapl_0_0=zone("core", 10),
                              intel_rapl_mmio_0=zone("package-0", 10)))
    with runtime.energy.meter(powercap_root=tmp_path, topology=ONE_KIND) as m:
        pass
    assert m.source == "estimate" and m.joules == m.estimate_joules
    assert m.unreadable == ((str(tmp_path), "no RAPL package zone (intel-rapl:N or amd-rapl:N "
                             "whose name starts with 'package')"),)


def test_missing_energy_file(tmp_path):
    write_tree(tmp_path, {"intel-rapl:0/name": "package-0",
                          "intel-rapl:0/max_energy_range_uj": MAX})
    with runtime.energy.meter(powercap_root=tmp_path, topology=ONE_KIND) as m:
        pass
    assert m.source == "estimate"
    assert m.unreadable == ((str(tmp_path / "intel-rapl:0" / "energy_uj"), "missing"),)


def test_a_directory_where_the_counter_file_should_be(tmp_path):
    write_tree(tmp_path, {"intel-rapl:0/name": "package-0",
                          "intel-rapl:0/max_energy_range_uj": MAX})
    (tmp_path / "intel-rapl:0" / "energy_uj").mkdir()
    with runtime.energy.meter(powercap_root=tmp_path, topology=ONE_KIND) as m:
        pass
    assert m.source == "estimate" and len(m.unreadable) == 1
    assert m.unreadable[0][1].startswith("cannot read it: ")


@pytest.mark.parametrize("garbage", ["", "abc", "-5", "1_000", "12 34", "1.5"])
def test_garbage_in_the_counter_file(tmp_path, garbage):
    write_tree(tmp_path, tree(intel_rapl_0=zone("package-0", garbage)))
    with runtime.energy.meter(powercap_root=tmp_path, topology=ONE_KIND) as m:
        pass
    assert m.source == "estimate"
    assert m.unreadable == ((str(tmp_path / "intel-rapl:0" / "energy_uj"),
                             f"reads {garbage!r}, not a counter value"),)


def test_a_counter_above_its_range_is_garbage(tmp_path):
    write_tree(tmp_path, tree(intel_rapl_0=zone("package-0", 2000, max_range=1000)))
    with runtime.energy.meter(powercap_root=tmp_path, topology=ONE_KIND) as m:
        pass
    assert m.source == "estimate" and "above its max_energy_range_uj" in m.unreadable[0][1]


def test_permission_denied(tmp_path, monkeypatch):
    # Root reads mode-000 files, so patch the open() the RAPL module uses.
    write_tree(tmp_path, tree(intel_rapl_0=zone("package-0", 5)))

    def guarded_open(path, *args, **kwargs):
        if os.path.basename(path) == "energy_uj":
            raise PermissionError(13, "Permission denied", str(path))
        return open(path, *args, **kwargs)

    monkeypatch.setattr(_rapl, "open", guarded_open, raising=False)
    with runtime.energy.meter(powercap_root=tmp_path, topology=ONE_KIND) as m:
        burn_cpu(0.01)
    assert m.source == "estimate" and m.joules == m.estimate_joules and m.joules > 0
    counter, reason = m.unreadable[0]
    assert counter == str(tmp_path / "intel-rapl:0" / "energy_uj")
    assert reason.startswith("permission denied") and "root" in reason


def test_a_counter_that_breaks_during_the_block_is_not_read_as_zero(tmp_path):
    write_tree(tmp_path, tree(intel_rapl_0=zone("package-0", 1_000)))
    with runtime.energy.meter(powercap_root=tmp_path, topology=ONE_KIND) as m:
        write_tree(tmp_path, tree(intel_rapl_0={"energy_uj": "garbage"}))
        burn_cpu(0.01)
    assert m.source == "estimate" and m.joules == m.estimate_joules and m.joules > 0
    assert m.unreadable[0][1] == "reads 'garbage', not a counter value"


def test_a_counter_stuck_at_zero_is_unreadable(tmp_path):
    # Some hypervisors expose the files with counters that never count.
    write_tree(tmp_path, tree(intel_rapl_0=zone("package-0", 0)))
    with runtime.energy.meter(powercap_root=tmp_path, topology=ONE_KIND) as m:
        pass
    assert m.source == "estimate" and "reads 0 at the start and the end" in m.unreadable[0][1]


def test_the_sampler_stops_when_the_block_raises(tmp_path):
    write_tree(tmp_path, tree(intel_rapl_0=zone("package-0", 10)))
    with pytest.raises(KeyError):
        with runtime.energy.meter(powercap_root=tmp_path, topology=ONE_KIND) as m:
            write_tree(tmp_path, tree(intel_rapl_0={"energy_uj": 1_000_010}))
            raise KeyError("the work failed")
    assert (m.source, m.joules) == ("rapl", 1.0) and rapl_threads() == []


# --- macOS proc_pid_rusage -------------------------------------------------------------------

# Field order of struct rusage_info_v6 after ri_uuid[16], from <sys/resource.h>.
V6_FIELDS = """user_time system_time pkg_idle_wkups interrupt_wkups pageins wired_size
    resident_size phys_footprint proc_start_abstime proc_exit_abstime child_user_time
    child_system_time child_pkg_idle_wkups child_interrupt_wkups child_pageins
    child_elapsed_abstime diskio_bytesread diskio_byteswritten cpu_time_qos_default
    cpu_time_qos_maintenance cpu_time_qos_background cpu_time_qos_utility cpu_time_qos_legacy
    cpu_time_qos_user_initiated cpu_time_qos_user_interactive billed_system_time
    serviced_system_time logical_writes lifetime_max_phys_footprint instructions cycles
    billed_energy serviced_energy interval_max_phys_footprint runnable_time flags user_ptime
    system_ptime pinstructions pcycles energy_nj penergy_nj""".split()


def rusage_buffer(**values: int) -> bytes:
    """A raw struct rusage_info_v6 packed by hand (not through ctypes):
    16 uuid bytes, then 56 native uint64 words, the last 14 reserved."""
    words = [0] * 56
    for name, value in values.items():
        words[V6_FIELDS.index(name)] = value
    return bytes(range(16)) + struct.pack("=56Q", *words)


def test_rusage_layout_matches_the_header():
    assert len(V6_FIELDS) == 42
    assert [name for name, _ in RusageInfoV6._fields_] == (
        ["ri_uuid"] + [f"ri_{name}" for name in V6_FIELDS] + ["ri_reserved"])
    assert RusageInfoV6.ri_energy_nj.offset == 16 + 8 * 40 == 336
    assert RusageInfoV6.ri_penergy_nj.offset == 344
    assert RusageInfoV6.ri_user_ptime.offset == 304
    assert len(rusage_buffer()) == 464 == _darwin.ctypes.sizeof(RusageInfoV6)


def test_rusage_parser_on_a_fake_buffer():
    sample = parse_rusage_v6(rusage_buffer(
        energy_nj=123_456_789, penergy_nj=100_000_000, user_time=700, system_time=300,
        user_ptime=500, system_ptime=100, cycles=99, pcycles=98))
    assert sample == _darwin.RusageSample(energy_nj=123_456_789, p_energy_nj=100_000_000,
                                                 cpu_time=1000, p_cpu_time=600)
    with pytest.raises(CounterError, match="returned 100 bytes, expected 464"):
        parse_rusage_v6(bytes(100))


def fake_reader(*buffers: bytes):
    remaining = list(buffers)
    return lambda: remaining.pop(0)


def test_meter_with_macos_rusage():
    reader = fake_reader(
        rusage_buffer(energy_nj=1_000_000_000, penergy_nj=600_000_000, user_time=800,
                      system_time=200, user_ptime=700, system_ptime=100),
        rusage_buffer(energy_nj=3_500_000_000, penergy_nj=2_000_000_000, user_time=2400,
                      system_time=600, user_ptime=1800, system_ptime=500))
    with runtime.energy.meter(rusage_reader=reader, topology=HYBRID) as m:
        burn_cpu(0.01)
    assert m.source == "darwin-rusage" and m.unreadable == ()
    assert m.joules == 2.5
    assert m.joules_by_kind == pytest.approx({"performance": 1.4, "efficiency": 1.1})
    # CPU split by the kernel's P-core time: (2300 - 800) / (3000 - 1000) = 0.75.
    assert m.cpu_seconds_by_kind["performance"] == pytest.approx(0.75 * m.cpu_seconds)
    assert m.cpu_seconds_by_kind["efficiency"] == pytest.approx(0.25 * m.cpu_seconds)
    assert "ri_user_ptime" in m.cpu_attribution
    assert str(m) == "2.50 J (darwin-rusage)"


def test_macos_rusage_that_does_not_count_energy_is_unreadable():
    # Intel Macs fill the struct but leave the energy fields 0.
    reader = fake_reader(rusage_buffer(user_time=10), rusage_buffer(user_time=20))
    with runtime.energy.meter(rusage_reader=reader, topology=ONE_KIND) as m:
        pass
    assert m.source == "estimate" and m.joules == m.estimate_joules
    assert m.unreadable[0][0] == "ri_energy_nj" and m.unreadable[0][1].startswith("reads 0")


def test_macos_rusage_call_failure_falls_back():
    def failing():
        raise CounterError("proc_pid_rusage(RUSAGE_INFO_V6)", "failed: Invalid argument (errno 22)")
    with runtime.energy.meter(rusage_reader=failing, topology=ONE_KIND) as m:
        pass
    assert m.source == "estimate"
    assert m.unreadable == (("proc_pid_rusage(RUSAGE_INFO_V6)",
                             "failed: Invalid argument (errno 22)"),)


@pytest.mark.skipif(sys.platform == "darwin", reason="the real call runs on macOS")
def test_the_real_rusage_call_is_a_counter_error_off_macos():
    with pytest.raises(CounterError):
        read_rusage_v6()


# --- the estimate ----------------------------------------------------------------------------


def test_estimate_of_a_cpu_burning_block(tmp_path):
    with runtime.energy.meter(powercap_root=tmp_path / "none", topology=ONE_KIND) as m:
        burn_cpu(0.05)
    assert m.source == "estimate"
    assert m.cpu_seconds >= 0.05 and m.cpu_seconds_by_kind == {"all": m.cpu_seconds}
    assert m.joules == m.estimate_joules == pytest.approx(4.0 * m.cpu_seconds) and m.joules > 0
    assert m.joules_by_kind == {"all": m.joules}
    assert m.cpu_attribution == "one kind of core"


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or not {0, 1} <= os.sched_getaffinity(0),
                    reason="needs Linux thread affinity and CPUs 0 and 1")
@pytest.mark.parametrize("cpu, kind", [(0, "performance"), (1, "efficiency")])
def test_estimate_charges_a_thread_to_the_kind_it_ran_on(tmp_path, cpu, kind):
    before = os.sched_getaffinity(0)  # pid 0: this thread only
    os.sched_setaffinity(0, {cpu})
    try:
        with runtime.energy.meter(powercap_root=tmp_path / "none", topology=HYBRID) as m:
            burn_cpu(0.05)
    finally:
        os.sched_setaffinity(0, before)
    assert m.cpu_seconds >= 0.05
    assert m.cpu_seconds_by_kind[kind] >= 0.8 * m.cpu_seconds
    assert sum(m.cpu_seconds_by_kind.values()) == pytest.approx(m.cpu_seconds)
    by_kind = m.cpu_seconds_by_kind
    assert m.joules == pytest.approx(4.0 * by_kind["performance"] + 1.0 * by_kind["efficiency"])
    assert m.cpu_attribution.startswith("per thread")


def test_split_by_threads_on_recorded_samples():
    before = {1: ThreadSample(1.0, 0), 2: ThreadSample(5.0, 1), 3: ThreadSample(2.0, 1)}
    # Thread 1 ran 0.3 s on P, thread 2 0.1 s on E, thread 3 ended, thread 4
    # started in the block and ran 0.1 s on E; the process clock says 1.0 s.
    after = {1: ThreadSample(1.3, 0), 2: ThreadSample(5.1, 1), 4: ThreadSample(0.1, 1)}
    split = split_by_threads(1.0, before, after, HYBRID)
    assert split.by_kind == pytest.approx({"performance": 0.6, "efficiency": 0.4})
    # A thread whose affinity holds one kind's CPUs is charged to it, wherever it last ran.
    pinned = {1: ThreadSample(1.3, 0, frozenset({1})), 2: ThreadSample(5.1, 0, frozenset({0, 1}))}
    assert split_by_threads(1.0, before, pinned, HYBRID).by_kind == pytest.approx(
        {"performance": 0.25, "efficiency": 0.75})
    nothing = split_by_threads(1.0, before, before, HYBRID)
    assert nothing.by_kind == {"performance": 0.5, "efficiency": 0.5} and "guess" in nothing.how


def test_thread_samples_from_a_recorded_proc_tree(tmp_path):
    def stat(tid, comm, utime, stime, cpu):
        fields = ["0"] * 50  # fields 3..52 of proc(5)'s /proc/pid/stat
        fields[0], fields[14 - 3], fields[15 - 3], fields[39 - 3] = "S", utime, stime, cpu
        return f"{tid} ({comm}) " + " ".join(str(f) for f in fields)
    ticks = os.sysconf("SC_CLK_TCK")
    write_tree(tmp_path, {"7/stat": stat(7, "a) (b", 10, 5, 1), "7/schedstat": "2500000000 12 3",
                          "8/stat": stat(8, "worker", ticks, ticks, 0), "9/stat": "truncated"})
    masks = {7: {1}, 8: {0, 1}}
    assert thread_samples(tmp_path, affinity=masks.__getitem__) == {
        7: ThreadSample(2.5, 1, frozenset({1})), 8: ThreadSample(2.0, 0, frozenset({0, 1}))}
    assert thread_samples(tmp_path / "missing") == {}


def test_this_process_threads_are_sampled():
    samples = thread_samples()
    assert threading.get_native_id() in samples
    assert all(sample.seconds >= 0 and sample.cpu >= 0 for sample in samples.values())


def test_power_model_from_the_environment_and_the_argument(monkeypatch, tmp_path):
    monkeypatch.setenv(_model.ENVIRONMENT, "performance:8; efficiency:2")
    with runtime.energy.meter(powercap_root=tmp_path / "none", topology=HYBRID,
                              power_model={"efficiency": 3}) as m:
        burn_cpu(0.01)
    assert (m.power_model["performance"], m.power_model["efficiency"]) == (8.0, 3.0)
    by_kind = m.cpu_seconds_by_kind
    assert m.joules == pytest.approx(8.0 * by_kind["performance"] + 3.0 * by_kind["efficiency"])


@pytest.mark.parametrize("text, message", [
    ("", "is empty"), ("performance", "is not 'kind:watts'"), ("performance:fast", "not a number"),
    ("performance:-1", "finite number of watts >= 0"), ("efficiency:nan", "finite number")])
def test_bad_power_model_in_the_environment(monkeypatch, text, message):
    monkeypatch.setenv(_model.ENVIRONMENT, text)
    with pytest.raises(ValueError, match=message):
        runtime.energy.meter(topology=ONE_KIND)


def test_power_model_must_know_every_kind():
    strange = Topology([CoreKind("big", [0]), CoreKind("little", [1])], "test")
    with pytest.raises(ValueError, match="no watts for core kind 'big'.*power_model="):
        runtime.energy.meter(topology=strange)
    runtime.energy.meter(topology=strange, power_model={"big": 3, "little": 1})
    with pytest.raises(ValueError, match="expected watts as a number"):
        runtime.energy.meter(topology=ONE_KIND, power_model={"all": "4 W"})
    assert _model.watts_for("mid2", _model.DEFAULT_POWER_MODEL) == 2.0


def test_power_model_of_the_wrong_type_says_what_to_pass():
    """power_model="performance:3" raised AttributeError: 'str' object has
    no attribute 'items'."""
    with pytest.raises(TypeError, match=r"power_model must be a mapping of core kind to watts, "
                                        r"e\.g\. .*got the string 'performance:3' .*text form "
                                        r"is for RUNTIME_POWER_MODEL"):
        runtime.energy.meter(topology=ONE_KIND, power_model="performance:3")  # type: ignore
    with pytest.raises(TypeError, match="power_model must be a mapping .*got list"):
        runtime.energy.meter(topology=ONE_KIND, power_model=[("performance", 3.0)])  # type: ignore


def test_unknown_kinds_in_the_power_model_are_errors(monkeypatch):
    """A misspelt kind was ignored (its default watts used, silently)."""
    known = (r"known kinds: 'performance', 'mid', 'efficiency', 'low-power efficiency', "
             r"'all', 'mid1', 'mid2', \.\.\.")
    with pytest.raises(ValueError, match=rf"power_model: unknown core kind 'perfromance'; {known}"):
        runtime.energy.meter(topology=HYBRID, power_model={"perfromance": 3.0})
    with pytest.raises(ValueError, match="unknown core kind 1;"):
        runtime.energy.meter(topology=HYBRID, power_model={1: 3.0})  # type: ignore[dict-item]
    monkeypatch.setenv(_model.ENVIRONMENT, "performance:8;effciency:2")
    with pytest.raises(ValueError, match=rf"RUNTIME_POWER_MODEL: unknown core kind 'effciency'; "
                                         rf"{known}"):
        runtime.energy.meter(topology=HYBRID)
    # The topology's own kinds (RUNTIME_TOPOLOGY names them freely) and the
    # middle tiers are known, and listed when one is misspelt.
    strange = Topology([CoreKind("big", [0]), CoreKind("little", [1])], "test")
    monkeypatch.setenv(_model.ENVIRONMENT, "big:5;mid3:2")
    assert runtime.energy.meter(topology=strange, power_model={"little": 1}).power_model["big"] == 5
    with pytest.raises(ValueError, match=r"unknown core kind 'bgi'; .*this topology's: 'big', "
                                         r"'little'"):
        runtime.energy.meter(topology=strange, power_model={"bgi": 1})


# --- the meter itself ------------------------------------------------------------------------


def test_formatting():
    assert runtime.energy.format_energy(1.2345, "estimate") == "1.23 J (estimate)"
    assert runtime.energy.format_energy(0.0012345, "rapl") == "0.00123 J (rapl)"
    assert runtime.energy.format_energy(0.0, "estimate") == "0 J (estimate)"
    m = runtime.energy.meter(topology=ONE_KIND)
    assert str(m) == "not measured yet (the block has not ended)" and m.source is None


def test_a_meter_measures_one_block(tmp_path):
    with runtime.energy.meter(powercap_root=tmp_path, topology=ONE_KIND) as m:
        pass
    with pytest.raises(RuntimeError, match="one block"):
        with m:
            pass
    with pytest.raises(TypeError, match="not both"):
        runtime.energy.meter(powercap_root=tmp_path, rusage_reader=lambda: b"")


def test_energy_is_a_submodule_of_runtime():
    assert runtime.energy is sys.modules["runtime.energy"] and "energy" in runtime.__all__
