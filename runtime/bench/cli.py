"""python -m runtime bench: its arguments, and the run from them to the
printed table, DIR/report.md and the plots."""

from __future__ import annotations

import argparse
import importlib.util
import os
import textwrap
from pathlib import Path
from typing import Any

from .. import _config, _info
from .._distribution import install_hint
from .._info import plural
from . import plan as bench_plan

DESCRIPTION = """\
Run runtime's microbenchmarks: pool overheads, runtime.numpy ops (exp, sin,
add, sum) at sizes 1e3..1e7, matmul, and plain NumPy code with NumPy's
loops patched (transparent mode) against NumPy, side by side in one
process; with --emulate-slow-core also the busy-cpu1 scenario; with
--cases floor every public entry point against its serial call.  Prints a
table (time, speedup, CPU time, energy and operations per joule with the
energy's source) and writes report.md, results.json and PNG plots into
--out."""


def add_arguments(bench: argparse.ArgumentParser) -> None:
    bench.add_argument("--quick", action="store_true",
                       help=f"at most {bench_plan.QUICK_REPEATS} timed blocks per case, matmul "
                            "1000x1000, no idle-CPU or skewed-kernel case: about 10 s on 2 CPUs")
    bench.add_argument("--out", type=Path, default=Path("runtime-bench"), metavar="DIR",
                       help="folder for report.md, results.json, trace files and the PNG "
                            "plots; created if missing (default: ./runtime-bench)")
    bench.add_argument("--compare", type=_competitors, default=(), metavar="NAME[,NAME]",
                       help="also time these competitors on the ops: "
                            + ", ".join(bench_plan.COMPETITORS))
    bench.add_argument("--emulate-slow-core", action="store_true",
                       help="add the busy-cpu1 scenario (a busy process pinned to cpu1, "
                            f"RUNTIME_TOPOLOGY={bench_plan.SLOW_CORE_TOPOLOGY}); Linux, CPUs 0 "
                            "and 1")
    bench.add_argument("--cases", type=_cases, default=bench_plan.OPS + bench_plan.GROUPS,
                       metavar="NAME[,NAME]",
                       help="run only these: " + ", ".join(bench_plan.OPS + bench_plan.GROUPS)
                            + " (default: all of those); also "
                            + ", ".join(bench_plan.OPTIONAL) + " (every entry point against "
                            "its serial call at --sizes, hot and interleaved)")
    bench.add_argument("--sizes", type=_sizes, default=bench_plan.SIZES, metavar="N[,N]",
                       help="array sizes for the ops, e.g. 1e3,1e5 (default: "
                            "1e3,1e4,1e5,1e6,1e7)")
    bench.add_argument("--repeats", type=_positive, default=None, metavar="N",
                       help="timed blocks per case (default: each case's own)")
    bench.add_argument("--no-progress", action="store_true", help="no progress bar")


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """What argparse's types cannot see: installs, CPUs, the output folder."""
    if args.compare and not any(op in args.cases for op in bench_plan.OPS):
        parser.error("--compare times competitors on the ops; --cases has none of "
                     + ", ".join(bench_plan.OPS))
    for name in args.compare:
        if importlib.util.find_spec(name) is None:
            parser.error(f"--compare {name}: {name} is not installed (pip install {name}, "
                         f"or {install_hint('bench')} for all competitors)")
    if args.emulate_slow_core:
        cpus = os.sched_getaffinity(0) if hasattr(os, "sched_setaffinity") else None
        if cpus is None or not {0, 1} <= cpus:
            parser.error("--emulate-slow-core needs Linux and CPUs 0 and 1 in this process's "
                         f"affinity mask (here: {sorted(cpus) if cpus else 'no affinity API'})")
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {args.out}: exists and is not a folder")
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        parser.error(f"--out {args.out}: cannot create it ({error.strerror})")


DEFAULT_METER = object()  # runtime.energy's meter, where this build has it


def run(args: argparse.Namespace, argv: list[str], meter: Any = DEFAULT_METER) -> int:
    """The bench as the arguments ask; `meter` replaces runtime.energy's
    (tests).  Returns the exit status."""
    from . import plots, report, suite
    from .measure import default_meter

    plan = bench_plan.Plan(cases=args.cases, sizes=args.sizes, quick=args.quick,
                           repeats=args.repeats, compare=args.compare,
                           emulate_slow_core=args.emulate_slow_core)
    meter = default_meter() if meter is DEFAULT_METER else meter
    load = _info.load_note(_config.num_threads())
    results = suite.run(plan, meter, args.out, progress=not args.no_progress)
    if load is not None:  # other processes on the CPUs lower the ratios: say how busy it was
        results.notes.append(f"when the run began: {load}")
    pngs = _plot(results, args.out) if plots.available() else []
    if not plots.available():
        results.notes.append(f"plots skipped: matplotlib is not installed "
                             f"({plots.INSTALL_HINT})")
    if meter is not None and "estimate" in suite.energy_sources(results.rows):
        results.notes.append(_power_model_note(meter))
    data = _info.info()
    report_path = report.write(args.out, results, ["python", "-m", "runtime", *argv],
                               _info.format_info(data), data, pngs)
    print(report.format_text(results), end="")
    written = [report_path.name, "results.json", *results.files,
               *(Path(p).name for p in pngs)]
    print(textwrap.fill(f"wrote {plural(len(written), 'file')} to {args.out}: "
                        f"{', '.join(written)}", report.WIDTH, subsequent_indent="  ",
                        break_long_words=False, break_on_hyphens=False))
    return 1 if results.failed else 0


def _plot(results: Any, out_dir: Path) -> list[str]:
    from . import plots

    written = []
    if any(row.section == "ops" for row in results.rows):
        plots.plot_speedup(results.rows, out_dir / "speedup.png")
        written.append(str(out_dir / "speedup.png"))
        if any(row.section == "ops" and row.ops_per_joule for row in results.rows):
            plots.plot_energy(results.rows, out_dir / "energy.png")
            written.append(str(out_dir / "energy.png"))
    for stem, (title, events) in results.timelines.items():
        if not any(_event_name(e) == "task" for e in events):
            # The traced call ran inline (a busy machine: parallel lost there
            # lately, so runtime stayed serial): nothing to draw.
            results.notes.append(f"{stem}.png not drawn: the traced call ran inline, "
                                 f"no task to show")
            continue
        plots.plot_timeline(events, out_dir / f"{stem}.png", title)
        written.append(str(out_dir / f"{stem}.png"))
    return written


def _event_name(event: Any) -> str:
    return event["name"] if isinstance(event, dict) else event.name


def _power_model_note(meter: Any) -> str:
    """What the estimate assumed: runtime.energy's power model."""
    with meter() as m:
        pass
    model = getattr(m, "power_model", None) or {}
    topology = getattr(m, "topology", None)
    if topology is not None:  # the kinds of this machine only
        here = {kind.name for kind in topology.kinds}
        model = {kind: w for kind, w in model.items() if kind in here} or model
    watts = ", ".join(f"{kind} {w:g} W" for kind, w in model.items()) or "its power model"
    return (f"estimate: this process's CPU seconds per core kind x watts per busy core "
            f"({watts}; RUNTIME_POWER_MODEL changes it)")


def _names(text: str, allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError(f"no {what} given; choose from {', '.join(allowed)}")
    for name in names:
        if name not in allowed:
            raise argparse.ArgumentTypeError(f"unknown {what} {name!r}; choose from "
                                             f"{', '.join(allowed)}")
    return tuple(dict.fromkeys(names))


def _competitors(text: str) -> tuple[str, ...]:
    return _names(text, bench_plan.COMPETITORS, "competitor")


def _cases(text: str) -> tuple[str, ...]:
    return _names(text, bench_plan.OPS + bench_plan.GROUPS + bench_plan.OPTIONAL, "case")


def _sizes(text: str) -> tuple[int, ...]:
    sizes = []
    for part in (p.strip() for p in text.split(",")):
        try:
            value = float(part)
        except ValueError:
            raise argparse.ArgumentTypeError(f"size {part!r} is not a number (write e.g. "
                                             "1000 or 1e3)") from None
        if not value.is_integer() or not 1 <= value <= 10**9:
            raise argparse.ArgumentTypeError(f"size {part!r} must be a whole number of "
                                             "elements from 1 to 1e9")
        sizes.append(int(value))
    return tuple(sorted(set(sizes)))


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value
