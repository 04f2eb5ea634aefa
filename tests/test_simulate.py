"""The cluster-energy simulator (runtime.dask.simulate): each policy on
tiny traces worked out by hand, determinism, the documented command's
targets, every bad input a ValueError naming the field, and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from runtime.dask.simulate import (RECORD_KEYS, LinearPower, TablePower, Trace, format_table,
                                   generate_trace, parse_power, plot_power, run_policy,
                                   simulate)

LINEAR = LinearPower(idle=0.5, peak_w=100.0)            # 50 W idle, 100 W busy (1 core)
# Concave, so packing shows: one busy core of two draws 80 W, both 100 W.
CONCAVE = TablePower(points=((0.0, 0.0), (0.5, 80.0), (1.0, 100.0)))


def run(arrivals, durations, policy, *, machines=2, cores=1, power=LINEAR, **kwargs):
    return run_policy(Trace(arrivals=arrivals, durations=durations), policy=policy,
                      machines=machines, cores=cores, power=power, **kwargs)


def test_spread_puts_the_second_task_on_the_idle_machine():
    # 2 machines x 2 cores.  Spread: task 0 on m0 (0-2), task 1 on m1 (1-3):
    # m0 80 W x 2 s, m1 80 W x 2 s = 320 J.
    result = run((0.0, 1.0), (2.0, 2.0), "spread", cores=2, power=CONCAVE)
    assert result.energy_j == pytest.approx(320.0)
    assert result.end_s == 3.0
    assert list(result.latencies_s) == [2.0, 2.0]


def test_pack_fills_the_busy_machine_first():
    # Pack: both on m0: 80 W (0-1), 100 W (1-2), 80 W (2-3) = 260 J; m1 draws 0.
    result = run((0.0, 1.0), (2.0, 2.0), "pack", cores=2, power=CONCAVE)
    assert result.energy_j == pytest.approx(260.0)
    assert list(result.watts) == [80.0, 100.0, 80.0, 0.0]
    assert result.awake_machine_s == 6.0          # pack never sleeps


def test_under_a_linear_model_pack_costs_what_spread_does():
    spread = run((0.0, 1.0), (2.0, 2.0), "spread", cores=2)
    pack = run((0.0, 1.0), (2.0, 2.0), "pack", cores=2)
    assert spread.energy_j == pytest.approx(pack.energy_j) == pytest.approx(400.0)


def test_pack_sleep_wakes_a_machine_and_the_task_waits_for_it():
    # m1 idle from 0 sleeps at 1.  Task 1 arrives at 2 with m0 busy: m1 wakes
    # (2-2.5, idle power), runs task 1 2.5-3.5.  m0: 100 W x 3 + 50 W x 0.5 =
    # 325 J; m1: 50 W x 1 + 0 + 50 W x 0.5 + 100 W x 1 = 175 J.
    result = run((0.0, 2.0), (3.0, 1.0), "pack+sleep", suspend_after=1.0, resume_latency=0.5)
    assert result.energy_j == pytest.approx(500.0)
    assert result.awake_machine_s == pytest.approx(3.5 + 2.5)
    assert list(result.latencies_s) == pytest.approx([3.0, 1.5])
    assert result.end_s == 3.5


def test_pack_sleep_runs_a_waiting_task_on_a_core_that_frees_first():
    # As above, but m0 frees at 2.2, before m1 is awake (2.5): task 1 runs on
    # m0 2.2-3.2; m1 wakes anyway and idles to the end.  m0 100 W x 3.2 =
    # 320 J; m1 50 + 0 + 25 + 50 W x 0.7 = 110 J.
    result = run((0.0, 2.0), (2.2, 1.0), "pack+sleep", suspend_after=1.0, resume_latency=0.5)
    assert result.energy_j == pytest.approx(430.0)
    assert result.awake_machine_s == pytest.approx(3.2 + 2.2)
    assert list(result.latencies_s) == pytest.approx([2.2, 1.2])


def test_a_sleeping_machine_draws_its_sleep_power():
    asleep = LinearPower(idle=0.5, peak_w=100.0, sleep=0.1)
    result = run((0.0,), (4.0,), "pack+sleep", power=asleep, suspend_after=1.0)
    # m0 busy 4 s (400 J); m1 idle 1 s (50 J) then asleep 3 s at 10 W.
    assert result.energy_j == pytest.approx(400.0 + 50.0 + 30.0)
    assert result.awake_machine_s == pytest.approx(5.0)


def test_tasks_wait_in_arrival_order_when_every_core_is_busy():
    result = run((0.0, 0.1, 0.2), (1.0, 1.0, 1.0), "spread", machines=1)
    assert list(result.latencies_s) == pytest.approx([1.0, 1.9, 2.8])


def test_the_per_core_kind_model_takes_runtimes_watts_performance_first(monkeypatch):
    monkeypatch.setenv("RUNTIME_POWER_MODEL", "performance:5;efficiency:1")
    model = parse_power("cores:performance=1,efficiency=1,idle_w=10")
    # One task: a performance core (15 W); two: both cores (16 W).
    result = run((0.0, 0.0), (1.0, 2.0), "spread", machines=1, cores=2, power=model)
    assert list(result.watts) == [16.0, 11.0, 10.0]
    assert result.energy_j == pytest.approx(16.0 + 11.0)


def test_power_models_from_their_text():
    assert parse_power("linear:idle=0.5").watts([6], cores=12) == 150.0
    assert parse_power("linear:idle=0.25,peak_w=400,sleep=0.01").sleep_w == 4.0
    table = parse_power("table:0=58,0.5=150,1=222,sleep_w=3")
    assert table.watts([3], cores=12) == pytest.approx(58 + 92 / 2)
    assert table.sleep_w == 3.0


def test_a_seed_gives_the_same_records_every_time():
    first = [r.as_dict() for r in simulate(machines=3, cores=4, loads=[0.3], duration_s=200,
                                           trace="bursty", seed=7)]
    again = [r.as_dict() for r in simulate(machines=3, cores=4, loads=[0.3], duration_s=200,
                                           trace="bursty", seed=7)]
    other = [r.as_dict() for r in simulate(machines=3, cores=4, loads=[0.3], duration_s=200,
                                           trace="bursty", seed=8)]
    assert first == again
    assert first != other


def test_generated_traces_offer_the_load_asked_for():
    for kind in ("poisson", "bursty"):
        trace = generate_trace(kind, load=0.25, machines=8, cores=12, duration_s=3000, seed=1)
        offered = sum(trace.durations) / (8 * 12 * 3000)
        assert offered == pytest.approx(0.25, rel=0.05), kind
        assert list(trace.arrivals) == sorted(trace.arrivals)


def test_the_documented_command_meets_the_energy_targets():
    """8 machines x 12 cores, idle = half of peak: pack+sleep saves >= 50%,
    30%, 10% at loads 0.1, 0.25, 0.5, with p99 latency within 1.2x spread's
    plus the resume latency."""
    records = simulate(machines=8, cores=12, loads=[0.1, 0.25, 0.5], power="linear:idle=0.5")
    by = {(r.policy, r.load): r.run for r in records}
    for load, saving in ((0.1, 0.5), (0.25, 0.3), (0.5, 0.1)):
        spread, sleep = by["spread", load], by["pack+sleep", load]
        assert sleep.energy_j <= (1 - saving) * spread.energy_j, load
        assert sleep.p99_s <= 1.2 * spread.p99_s + 5.0, load


@pytest.mark.parametrize("call, field", [
    (lambda: simulate(machines=0), "machines"),
    (lambda: simulate(cores=-1), "cores"),
    (lambda: simulate(loads=[0.0]), "load"),
    (lambda: simulate(loads=[1.5]), "load"),
    (lambda: simulate(loads=[]), "load"),
    (lambda: simulate(duration_s=0), "duration_s"),
    (lambda: simulate(task_s=-1.0), "task_s"),
    (lambda: simulate(suspend_after=0), "suspend_after"),
    (lambda: simulate(resume_latency=-2.0), "resume_latency"),
    (lambda: simulate(policies=["spread", "fill"]), "policy"),
    (lambda: simulate(policies=[]), "policy"),
    (lambda: simulate(trace="weibull"), "trace"),
    (lambda: Trace(arrivals=(), durations=()), "trace: empty"),
    (lambda: Trace(arrivals=(0.0,), durations=(0.0,)), "trace: duration 0"),
    (lambda: Trace(arrivals=(-1.0,), durations=(1.0,)), "trace: arrival 0"),
    (lambda: Trace(arrivals=(2.0, 1.0), durations=(1.0, 1.0)), "trace: arrivals"),
    (lambda: Trace(arrivals=(0.0,), durations=(1.0, 2.0)), "trace"),
    (lambda: parse_power("table:0=58,0.6=150,0.5=140,1=222"), "power table"),
    (lambda: parse_power("table:0.1=60,1=222"), "power table"),
    (lambda: parse_power("table:0=58,1=-1"), "power table"),
    (lambda: parse_power("linear:idle=1.5"), "power linear: idle"),
    (lambda: parse_power("linear:idle=half"), "power linear: idle"),
    (lambda: parse_power("linear:peak_w=0"), "power linear: peak_w"),
    (lambda: parse_power("linear:idel=0.5"), "power linear: unknown field"),
    (lambda: parse_power("cubic:a=1"), "power: unknown model"),
    (lambda: parse_power("cores:performance=4,turbo=8"), "power cores"),
    (lambda: simulate(cores=12, power="cores:performance=4,efficiency=4"), "power cores"),
])
def test_bad_input_is_a_value_error_naming_the_field(call, field):
    with pytest.raises(ValueError) as raised:
        call()
    assert str(raised.value).startswith(field), str(raised.value)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runtime.dask.simulate", *args],
                          capture_output=True, text=True, timeout=120)


def test_the_cli_prints_json_records():
    result = run_cli("--machines", "2", "--cores", "4", "--load", "0.1,0.5", "--duration", "60",
                     "--json")
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    assert [(r["policy"], r["load"]) for r in records] == [
        (p, load) for load in (0.1, 0.5) for p in ("spread", "pack", "pack+sleep")]
    assert all(tuple(r) == RECORD_KEYS for r in records)
    assert all(r["energy_j"] > 0 and r["p99_s"] >= r["p50_s"] > 0 for r in records)


def test_the_cli_prints_the_table_and_writes_the_plot(tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "power.png"
    result = run_cli("--machines", "2", "--cores", "2", "--load", "0.25", "--duration", "60",
                     "--trace", "bursty", "--plot", str(png))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("load  policy")
    assert [line.split()[1] for line in lines[1:4]] == ["spread", "pack", "pack+sleep"]
    assert lines[-1] == f"wrote {png}"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_cli_says_what_was_wrong():
    result = run_cli("--policies", "spread,fill")
    assert result.returncode == 2
    assert result.stderr.strip() == ("python -m runtime.dask.simulate: error: policy: unknown "
                                     "policy 'fill'; expected one of spread, pack, pack+sleep")
    assert run_cli("--load", "a lot").stderr.strip().endswith("load: 'a lot' is not a number")


def test_the_plot_without_matplotlib_says_how_to_install_it(monkeypatch, tmp_path):
    records = simulate(machines=2, cores=2, loads=[0.25], duration_s=30)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plot_power(records, tmp_path / "power.png")
    assert not (tmp_path / "power.png").exists()


def test_the_table_compares_each_policy_with_spread():
    records = simulate(machines=4, cores=4, loads=[0.1], duration_s=300)
    rows = format_table(records).splitlines()[1:]
    saving = 1 - records[2].run.energy_j / records[0].run.energy_j
    assert rows[0].endswith("(base)")
    assert rows[2].endswith(f"{-100 * saving:+.1f}%")
    assert np.isclose(records[1].run.energy_j, records[0].run.energy_j)   # linear model


def test_the_simulator_needs_neither_dask_nor_matplotlib():
    """Imported and run with dask, distributed and matplotlib unimportable."""
    code = """if True:
        import sys
        for name in ("dask", "distributed", "matplotlib"):
            sys.modules[name] = None          # import raises ImportError
        from runtime.dask.simulate import simulate
        records = simulate(machines=2, cores=2, loads=[0.25], duration_s=30)
        print(len(records))
    """
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "3"
