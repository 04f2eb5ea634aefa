"""python -m runtime bench: the table, report.md, the plots, argument
errors; and runtime.map_items(progress=True).  The bench runs here on a
tiny subset (--cases, --sizes, --repeats 1): these tests check what it
writes, never how fast anything is."""

from __future__ import annotations

import collections
import json
import os
import re
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

import runtime
from runtime.bench import cli as bench_cli
from runtime.bench import plots
from runtime.__main__ import main
from runtime.bench.measure import NOT_MEASURED, measure_interleaved
from runtime.bench.suite import Row

PNG = b"\x89PNG\r\n\x1a\n"
Event = collections.namedtuple("Event", "name thread tid core_kind cpu start duration job lo hi "
                                        "level")


def bench(out: Path, *args: str, progress: bool = False) -> int:
    return main(["bench", "--repeats", "1", "--out", str(out), *args]
                + ([] if progress else ["--no-progress"]))


def test_bench_prints_the_table_and_writes_the_report_and_plots(tmp_path, capsys):
    out = tmp_path / "report"  # created by the bench
    assert bench(out, "--quick", "--cases", "exp,add,overheads", "--sizes", "1e3,1e4") == 0
    printed = capsys.readouterr().out
    assert max(map(len, printed.splitlines())) <= 100  # fits a 100-column terminal
    header = next(line for line in printed.splitlines() if line.startswith("case "))
    assert re.split(r"\s{2,}", header.strip()) == [
        "case", "size", "impl", "time", "speedup", "CPU", "energy", "target"]
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert [(r["case"], r["size"], r["impl"]) for r in rows] == [
        ("fork-join, 2 chunks", None, "ThreadPoolExecutor"),
        ("fork-join, 2 chunks", None, "runtime"),
        ("exp", 1000, "NumPy"), ("exp", 1000, "runtime"),
        ("add", 1000, "NumPy"), ("add", 1000, "runtime"),
        ("exp", 10000, "NumPy"), ("exp", 10000, "runtime"),
        ("add", 10000, "NumPy"), ("add", 10000, "runtime")]
    for r in rows:
        assert r["seconds"] > 0 and r["cpu_seconds"] > 0 and r["joules"] > 0
        assert r["energy_source"] in runtime.energy.SOURCES  # always labelled
        assert r["ops_per_joule"] == pytest.approx(r["ops"] / r["joules"])
        assert r["speedup_low"] <= r["speedup"] <= r["speedup_high"]  # one block each: equal
        assert r["met"] is (None if r["impl"] != "runtime" else r["met"])
        if r["impl"] == "runtime":
            assert r["met"] in (True, False) and r["target"]
    numpy_row = next(r for r in rows if r["impl"] == "NumPy")
    assert numpy_row["speedup"] == 1.0
    if any(r["energy_source"] == "estimate" for r in rows):  # says what it assumed
        assert "estimate: this process's CPU seconds per core kind x watts per busy core (" \
            in printed

    report = (out / "report.md").read_text()
    assert "`python -m runtime bench --repeats 1 --out " in report
    assert re.search(r"- date: \d{4}-\d\d-\d\d \d\d:\d\d UTC", report)
    assert "threads per job:" in report  # runtime.info(), as `python -m runtime info`
    # The same rows in the terminal and in the report (which adds ops/J and
    # the energy source), cell for cell; the target says whether it was met.
    exp_line = next(line for line in printed.splitlines() if re.match(r"exp +1e3 +runtime", line))
    cells = re.split(r"\s{2,}", exp_line.strip())
    report_line = next(line for line in report.splitlines() if line.startswith("| exp | 1e3 "
                                                                               "| runtime |"))
    report_cells = report_line.strip("| ").split(" | ")
    assert [report_cells[i] for i in (0, 1, 2, 3, 4, 5, 6, 9)] == cells
    assert re.fullmatch(r">= 0\.9x (met|not met)", cells[-1])
    assert "## Pool overheads" in report and "## Ops at sizes" in report
    for png in ("speedup.png", "energy.png", "timeline.png"):
        assert (out / png).read_bytes().startswith(PNG), png
        assert f"]({png})" in report
    trace = json.loads((out / "trace.json").read_text())
    assert any(e.get("ph") == "X" for e in trace["traceEvents"])
    wrote = printed[printed.index("wrote "):].replace("\n  ", " ").strip()
    assert wrote == (f"wrote 6 files to {out}: report.md, results.json, trace.json, speedup.png, "
                     "energy.png, timeline.png")
    assert sorted(p.name for p in out.iterdir()) == sorted(wrote.split(": ")[1].split(", "))


def test_without_matplotlib_the_table_and_report_are_still_written(tmp_path, capsys,
                                                                     monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails
    assert not plots.available()
    assert bench(tmp_path, "--cases", "sum", "--sizes", "1e3", progress=True) == 0
    printed, err = capsys.readouterr()
    assert "bench:   0%|" in err and "| 0/2 [" in err and "sum 1e3]" in err  # a bar over cases
    assert ('plots skipped: matplotlib is not installed (pip install "hetero-runtime[bench]")'
            in printed)
    assert re.search(r"sum +1e3 +runtime", printed)
    assert "plots skipped" in (tmp_path / "report.md").read_text()
    assert list(tmp_path.glob("*.png")) == []


def test_transparent_section_times_plain_numpy_code_patched_and_not(tmp_path, capsys):
    import runtime.numpy

    assert bench(tmp_path, "--quick", "--cases", "transparent") == 0  # patched = NumPy's results
    assert not runtime.numpy.is_patched()  # NumPy's loops are back
    printed = capsys.readouterr().out
    assert "Transparent mode" in printed and "memory bandwidth: a native sum" in printed
    rows = json.loads((tmp_path / "results.json").read_text())["rows"]
    cases = [(r["case"], r["size"], r["impl"]) for r in rows if r["section"] == "transparent"]
    assert ("np.exp(x)", 10**7, "runtime") in cases and ("a * b + c", 1000, "NumPy") in cases
    sum_target = next(r["target"] for r in rows
                      if r["case"] == "x.sum()" and r["size"] == 10**7 and r["impl"] == "runtime")
    assert re.fullmatch(r">= [0-9.]+x", sum_target)  # the measured bandwidth ratio


def test_the_floor_case_sweeps_every_entry_point_against_its_serial_call(tmp_path, capsys):
    from runtime.bench import floor

    assert bench(tmp_path, "--cases", "floor", "--sizes", "1e3") == 0
    rows = json.loads((tmp_path / "results.json").read_text())["rows"]
    floor_rows = [r for r in rows if r["section"] == "floor"]
    assert [(r["case"], r["impl"]) for r in floor_rows] == [
        (f"{entry}, {mode}", impl) for entry in floor.ENTRIES
        for mode in ("hot", "interleaved") for impl in ("serial", "runtime")]
    for serial, ours in zip(floor_rows[::2], floor_rows[1::2]):
        assert serial["size"] == ours["size"] == 1000 and serial["speedup"] == 1.0
        assert ours["speedup"] == pytest.approx(serial["seconds"] / ours["seconds"])
        if ours["case"].startswith(tuple(floor.REFERENCES)):
            assert ours["target"] == "(reference)" and ours["met"] is None
        else:
            assert ours["target"] == ">= 0.8x" and ours["met"] is (ours["speedup"] >= 0.8)
    assert "Never slower than serial" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--compare", "numexprr"], "argument --compare: unknown competitor 'numexprr'; choose "
                                "from numexpr, numba"),
    (["--compare", ""], "argument --compare: no competitor given"),
    (["--cases", "exp,cos"], "argument --cases: unknown case 'cos'; choose from exp, sin, add, "
                             "sum, overheads, matmul, transparent"),
    (["--sizes", "1e3,ten"], "argument --sizes: size 'ten' is not a number"),
    (["--sizes", "0"], "argument --sizes: size '0' must be a whole number of elements"),
    (["--sizes", "1.5e0"], "argument --sizes: size '1.5e0' must be a whole number"),
    (["--repeats", "0"], "argument --repeats: must be >= 1, got 0"),
    (["--compare", "numexpr", "--cases", "matmul"], "--compare times competitors on the ops"),
])
def test_bad_arguments_say_what_was_wrong(args, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit:
        main(["bench", "--out", str(tmp_path), *args])
    assert exit.value.code == 2
    assert message in capsys.readouterr().err


def test_a_competitor_that_is_not_installed(capsys, tmp_path, monkeypatch):
    # numexpr installed or not (CI installs neither competitor), numba missing:
    installed = {"numexpr": object(), "numba": None}
    monkeypatch.setattr(bench_cli.importlib.util, "find_spec", installed.get)
    with pytest.raises(SystemExit):
        main(["bench", "--out", str(tmp_path), "--compare", "numexpr,numba"])
    assert ("--compare numba: numba is not installed (pip install numba, or pip install "
            "\"hetero-runtime[bench]\" for all competitors)") in capsys.readouterr().err


def test_out_must_be_a_folder(capsys, tmp_path):
    file = tmp_path / "report.md"
    file.write_text("")
    with pytest.raises(SystemExit):
        main(["bench", "--out", str(file)])
    assert f"--out {file}: exists and is not a folder" in capsys.readouterr().err


def test_emulate_slow_core_needs_cpus_0_and_1(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    monkeypatch.setattr(os, "sched_setaffinity", lambda pid, cpus: None, raising=False)
    with pytest.raises(SystemExit):
        main(["bench", "--out", str(tmp_path), "--emulate-slow-core"])
    assert "--emulate-slow-core needs Linux and CPUs 0 and 1" in capsys.readouterr().err


def test_the_command_line_itself_reports_bad_arguments(tmp_path):
    result = subprocess.run([sys.executable, "-m", "runtime", "bench", "--out", str(tmp_path),
                             "--compare", "numbaa"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "unknown competitor 'numbaa'" in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing ran


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or not {0, 1} <= os.sched_getaffinity(0),
                    reason="the emulation pins a busy process to cpu1: Linux, CPUs 0 and 1")
def test_emulated_slow_core_runs_in_a_child_with_the_topology_set(tmp_path):
    result = subprocess.run([sys.executable, "-m", "runtime", "bench", "--quick",
                             "--emulate-slow-core", "--cases", "sum", "--sizes", "1e3",
                             "--repeats", "1", "--no-progress", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = json.loads((tmp_path / "results.json").read_text())["rows"]
    slow = [(r["case"], r["impl"]) for r in rows if r["section"] == "slow core"]
    assert slow == [("sin", "NumPy on cpu0"), ("sin", "NumPy on cpu1 (busy)"),
                    ("sin", "ideal, 2 cores"), ("sin", "runtime"),
                    ("sin", "runtime, interactive"), ("matmul", "NumPy"),
                    ("matmul", "runtime")]
    assert "Emulated slow core, per call (busy process pinned to cpu1;" in result.stdout
    assert "RUNTIME_TOPOLOGY=performance:0;efficiency:1" in result.stdout
    assert max(map(len, result.stdout.splitlines())) <= 100
    assert re.search(r"runtime, interactive .* <= 1\.05x ideal (met|not met)\n", result.stdout)
    assert "trace_slow_core.json" in result.stdout[result.stdout.index("wrote "):]
    assert re.search(r"time / ideal \d+\.\d{3}", result.stdout)
    # The child's trace, run with the emulated topology, names the kinds.
    trace = json.loads((tmp_path / "trace_slow_core.json").read_text())
    names = " ".join(e["args"]["name"] for e in trace["traceEvents"]
                     if e.get("ph") == "M" and e.get("name") == "thread_name")
    assert "performance" in names or "efficiency" in names
    # qos="interactive": the caller's tasks on the performance kind (cpu0).
    caller = [e for e in trace["traceEvents"] if e.get("cat") == "task"
              and e["tid"] == next(m["tid"] for m in trace["traceEvents"]
                                   if m.get("name") == "thread_name"
                                   and m["args"]["name"].startswith("caller"))]
    assert caller and all(e["args"]["cpu"] == 0 for e in caller)
    assert (tmp_path / "timeline_slow_core.png").read_bytes().startswith(PNG)


def rows(op: str, speedups: dict[str, list[float]],
         sizes: tuple[int, ...] = (10**3, 10**5, 10**7)) -> list[Row]:
    out = []
    for impl, values in speedups.items():
        for size, speedup in zip(sizes, values):
            out.append(Row("ops", op, size, impl, 1e-3, speedup, 1e-3, 4e-3 / speedup,
                           "estimate", size, "elem", speedup_low=speedup * 0.8,
                           speedup_high=speedup * 1.1))
    return out


def inside_the_figure(fig, artist) -> bool:
    """Whether an artist (a title, a marker) is drawn inside the figure's
    canvas, not clipped by its edge."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)  # what savefig drew with
    canvas.draw()
    box = artist.get_window_extent(canvas.get_renderer())
    return box.x0 >= 0 and box.y0 >= 0 and box.x1 <= fig.bbox.width and \
        box.y1 <= fig.bbox.height


def test_speedup_plot(tmp_path):
    data = rows("exp", {"NumPy": [1, 1, 1], "runtime": [0.9, 1.5, 1.9],
                        "numexpr": [0.1, 0.3, 0.6]}) + rows("sum", {"NumPy": [1, 1, 1],
                                                                    "runtime": [1.8, 1.0, 1.2]})
    fig = plots.plot_speedup(data, tmp_path / "speedup.png")
    assert (tmp_path / "speedup.png").read_bytes().startswith(PNG)
    exp, total = [ax for ax in fig.axes if ax.get_visible()]
    assert (exp.get_title(), total.get_title()) == ("np.exp", "np.sum")
    assert exp.get_xscale() == "log" and exp.get_xlabel() == "array size (float64 elements)"
    assert exp.get_ylabel() == "speedup over NumPy (x)"
    lines = {container.get_label(): container for container in exp.containers}
    assert list(exp.get_lines()[0].get_ydata()) == [1.0, 1.0]  # the reference line
    runtime_line, _, (bars,) = lines["runtime"]
    assert list(runtime_line.get_xdata()) == [10**3, 10**5, 10**7]
    assert list(runtime_line.get_ydata()) == [0.9, 1.5, 1.9]
    # The bars span each point's spread of single rounds.
    spans = [y for segment in bars.get_segments() for y in segment[:, 1]]
    assert spans == pytest.approx([0.9 * 0.8, 0.9 * 1.1, 1.5 * 0.8, 1.5 * 1.1,
                                   1.9 * 0.8, 1.9 * 1.1])
    assert exp.get_ylim()[1] > 1.9 * 1.1  # the highest bar clears the frame
    assert [t.get_text() for t in exp.get_legend().get_texts()] == [
        "NumPy (1.0x)", "runtime", "numexpr"]
    assert "Speedup over NumPy" in fig.get_suptitle()
    # Colours are the implementations', whichever others are in the panel.
    assert runtime_line.get_color() == plots.IMPL_COLOURS["runtime"]
    assert lines["numexpr"][0].get_color() == plots.IMPL_COLOURS["numexpr"]


def test_one_case_at_one_size_is_not_clipped(tmp_path):
    fig = plots.plot_speedup(rows("exp", {"NumPy": [1], "runtime": [1.0]}, (10**5,)),
                              tmp_path / "speedup.png")
    (ax,) = [ax for ax in fig.axes if ax.get_visible()]
    assert inside_the_figure(fig, fig._suptitle)
    low, high = ax.get_xlim()
    assert low < 10**5 < high
    assert ax.get_ylim()[1] > 1.1  # the point's bar and the 1.0x line below the frame


def test_energy_plot_names_its_source(tmp_path):
    fig = plots.plot_energy(rows("add", {"NumPy": [1, 1, 1], "runtime": [0.5, 1, 2]}),
                             tmp_path / "energy.png")
    assert (tmp_path / "energy.png").read_bytes().startswith(PNG)
    assert "energy from: estimate" in fig.get_suptitle().replace("\n", " ")
    assert inside_the_figure(fig, fig._suptitle)
    (ax,) = fig.axes
    # The scale is in the label, not an offset multiplier in a corner.
    assert ax.get_ylabel() == "array elements per joule (billions)"
    assert ax.yaxis.get_offset_text().get_text() == ""
    ydata = {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()}
    assert ydata["runtime"] == pytest.approx([10**3 / 8e-3 / 1e9, 10**5 / 4e-3 / 1e9,
                                              10**7 / 2e-3 / 1e9])


def synthetic_trace() -> list[Event]:
    def task(thread, kind, cpu, start_ms, ms):
        return Event("task", thread, 1, kind, cpu, start_ms / 1e3, ms / 1e3, 1, 0, 10, None)

    return [
        Event("job", "caller", 1, "performance", 0, 0.0, 0.009, 1, 0, 40, None),
        task("caller", "performance", 0, 0.0, 4.0), task("caller", "performance", 0, 4.0, 5.0),
        task("worker 10", "efficiency", 3, 1.0, 8.0), task("worker 2", "efficiency", 2, 1.0, 3.0),
        Event("steal", "worker 2", 2, "efficiency", 2, 0.001, 0.0, 0, 0, 0, None),
        Event("park", "worker 2", 2, "efficiency", 2, 0.004, 0.002, 0, 0, 0, None),
        Event("qos", "worker 10", 3, "efficiency", 3, 0.0005, 0.0, 0, 0, 0, "utility"),
    ]


def test_timeline_has_a_row_per_thread_and_tasks_coloured_by_core_kind(tmp_path):
    fig = plots.plot_timeline(synthetic_trace(), tmp_path / "timeline.png", "a map")
    assert (tmp_path / "timeline.png").read_bytes().startswith(PNG)
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["caller", "worker 2", "worker 10"]
    assert ax.get_xlabel() == "time since the trace began (ms)"
    assert ax.get_title() == "a map\ntasks per thread, coloured by core kind"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "task on performance core", "task on efficiency core", "parked", "job (on its caller)",
        "qos", "steal"]
    assert ax.get_xlim()[1] >= 9.0  # the last task ends at 9 ms


def test_timeline_of_one_core_kind_is_coloured_by_cpu(tmp_path):
    events = [e._replace(core_kind="all") for e in synthetic_trace()]
    fig = plots.plot_timeline(events, tmp_path / "timeline.png", "a map")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[:3] == ["task on cpu 0", "task on cpu 2", "task on cpu 3"]
    assert fig.axes[0].get_title().endswith("coloured by CPU")


def test_a_cpu_keeps_its_colour_whichever_cpus_ran_tasks(tmp_path):
    def colours(events):
        fig = plots.plot_timeline(events, tmp_path / "timeline.png", "a map")
        legend = fig.axes[0].get_legend()
        return {text.get_text(): handle.get_facecolor()
                for text, handle in zip(legend.get_texts(), legend.legend_handles)}

    every = [e._replace(core_kind="all") for e in synthetic_trace()]
    without_cpu0 = [e for e in every if e.cpu != 0]
    assert colours(every)["task on cpu 2"] == colours(without_cpu0)["task on cpu 2"]
    three_kinds = [e._replace(core_kind="mid") if e.thread == "worker 10" else e
                   for e in synthetic_trace()]
    assert colours(three_kinds)["task on efficiency core"] == \
        colours([e for e in three_kinds if e.core_kind != "performance"])[
            "task on efficiency core"]


def test_timeline_without_tasks_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no task events"):
        plots.plot_timeline([e for e in synthetic_trace() if e.name != "task"],
                             tmp_path / "timeline.png", "a map")


class FakeMeter:
    """runtime.energy.meter's contract: joules, source, unreadable."""

    def __init__(self, joules, source="rapl", unreadable=()):
        self.joules, self.source, self.unreadable = joules, source, unreadable

    @contextmanager
    def __call__(self):
        yield self


def test_energy_is_the_median_block_with_its_source_and_unreadable_counters():
    readings = iter([1.0, 5.0, 2.0, 9.0, 3.0, 0.5])  # NumPy, runtime, NumPy, ...

    @contextmanager
    def meter():
        m = FakeMeter(next(readings), "estimate", (("/sys/class/powercap", "no such directory"),))
        yield m

    measured = measure_interleaved({"NumPy": len, "runtime": len}, [1], 3, meter=meter,
                                   warmup=0)
    assert measured["NumPy"].joules == 2.0 and measured["runtime"].joules == 5.0
    assert measured["NumPy"].energy_source == "estimate"
    assert measured["runtime"].energy_note == "/sys/class/powercap: no such directory"
    untimed = measure_interleaved({"NumPy": len}, [1], 2, meter=None)["NumPy"]
    assert untimed.joules is None and untimed.energy_source == NOT_MEASURED
    assert untimed.seconds > 0 and untimed.cpu_seconds >= 0


def test_bench_labels_energy_from_the_meter_it_was_given(tmp_path, capsys):
    args = _bench_cli_args(tmp_path)
    assert bench_cli.run(args, ["bench"], meter=FakeMeter(0.5, "rapl")) == 0
    printed = capsys.readouterr().out
    line = next(line for line in printed.splitlines() if re.match(r"sum +1e3 +runtime", line))
    # One block of 2000 calls of 1000 elements, metered at 0.5 J.
    assert "250 uJ" in line
    assert "energy from rapl" in printed  # one meter for the section: said in its heading
    report = (tmp_path / "results.json").read_text()
    assert '"ops_per_joule": 4000000.0' in report


def _bench_cli_args(out: Path):
    import argparse

    parser = argparse.ArgumentParser()
    bench_cli.add_arguments(parser)
    return parser.parse_args(["--cases", "sum", "--sizes", "1e3", "--repeats", "1",
                              "--no-progress", "--out", str(out)])


def test_map_items_progress_bar(capsys):
    results = runtime.map_items(lambda i: i * i, range(50), progress=True)
    assert results == [i * i for i in range(50)]
    err = capsys.readouterr().err
    assert "runtime.map_items: 100%" in err and "50/50" in err
    assert runtime.map_items(lambda i: i, range(5), qos="utility", progress=True) == list(range(5))
    assert "5/5" in capsys.readouterr().err
    assert runtime.map_items(lambda i: i, range(5)) == list(range(5))
    assert capsys.readouterr().err == ""  # off by default
    assert threading.active_count() == 1  # tqdm's monitor thread is not started


def test_map_items_progress_bar_closes_when_an_item_fails(capsys):
    def item(i):
        if i == 7:
            raise KeyError(i)
        return i

    with pytest.raises(KeyError):
        runtime.map_items(item, range(20), progress=True)
    assert "runtime.map_items:" in capsys.readouterr().err
    assert runtime.map_items(item, range(5), progress=True) == list(range(5))


@pytest.mark.parametrize("progress", [1, "yes", None])
def test_map_items_progress_must_be_a_bool(progress):
    with pytest.raises(TypeError, match=r"runtime.map_items: progress must be True or False, "
                                        rf"got {type(progress).__name__}"):
        runtime.map_items(len, ["a"], progress=progress)
