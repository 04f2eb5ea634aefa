"""The bench's plots, as PNG files: speedup and operations per joule
against array size per op, and a per-thread timeline of a trace.

matplotlib's object API (Figure, not pyplot): no GUI backend is chosen,
no global state changes, and it works on a machine with no display.
matplotlib is an extra (pip install "hetero-runtime[bench]"); `available()` says
whether it is here.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any, Iterable, Sequence

from .._distribution import install_hint
from .suite import Row

INSTALL_HINT = install_hint("bench")
# Colours are fixed by name, never by the order things turn up in: an
# implementation, a core kind or a CPU has the same colour in every plot of
# every run (cpu 1 stays red whether or not cpu 0 ran a task).
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")
IMPL_ORDER = ("runtime", "numexpr", "numba")
IMPL_COLOURS = {"NumPy": "black", "runtime": PALETTE[0], "numexpr": PALETTE[4],
                "numba": PALETTE[2]}
# Fastest kind blue, efficiency kind red: with RUNTIME_TOPOLOGY's
# "performance:0;efficiency:1" the colours of cpu 0 and cpu 1.
KIND_COLOURS = {"performance": PALETTE[0], "all": PALETTE[0], "efficiency": PALETTE[1],
                "mid": PALETTE[2], "mid1": PALETTE[2], "mid2": PALETTE[3],
                "low-power efficiency": PALETTE[5]}
INSTANT_MARKERS = {"steal": "v", "park": "x", "unpark": "+", "qos": "D", "boost": "^",
                   "boost_end": "2", "submitted": "*"}


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _figure(**options: Any) -> Any:
    from matplotlib.figure import Figure

    return Figure(layout="constrained", **options)


def _op_rows(rows: Iterable[Row]) -> dict[str, list[Row]]:
    by_op: dict[str, list[Row]] = {}
    for row in rows:
        if row.section == "ops":
            by_op.setdefault(row.case, []).append(row)
    return by_op


def _grid(count: int) -> tuple[int, int]:
    columns = min(count, 2)
    return math.ceil(count / columns), columns


def impl_colour(impl: str) -> str:
    """The colour of an implementation: fixed for the known ones, else
    one from its name (the same in every run)."""
    return IMPL_COLOURS.get(impl) or PALETTE[3 + sum(map(ord, impl)) % (len(PALETTE) - 3)]


def kind_colour(kind: str) -> str:
    return KIND_COLOURS.get(kind) or PALETTE[sum(map(ord, kind)) % len(PALETTE)]


def cpu_colour(cpu: int) -> str:
    return PALETTE[cpu % len(PALETTE)]


def _title(fig: Any, text: str, width_inches: float) -> None:
    """A figure title wrapped to the figure's width: a one-panel figure is
    too narrow for a long title on one line."""
    fig.suptitle(textwrap.fill(text, max(30, int(width_inches * 11))))


def _y_room(ax: Any, values: Iterable[float]) -> None:
    """A y axis from 0 with room above the highest point, error bar or the
    1.0x line, so none of them sits on the frame."""
    top = max([1.0, *values])
    ax.set_ylim(0, top * 1.15)


def plot_speedup(rows: Sequence[Row], path: Path) -> Any:
    """Speedup over NumPy against array size, one panel per op; the
    dashed line at 1.0x is NumPy itself.  Each point is the best-of
    speedup; its bar spans the least to the greatest speedup of a single
    round (one NumPy block against the block beside it)."""
    by_op = _op_rows(rows)
    if not by_op:
        raise ValueError("plot_speedup: no rows of the ops section to plot")
    nrows, ncols = _grid(len(by_op))
    width = 5.2 * ncols
    fig = _figure(figsize=(width, 3.6 * nrows + 0.8))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (op, op_rows) in zip(axes, by_op.items()):
        ax.axhline(1.0, color="black", linestyle="--", linewidth=1, label="NumPy (1.0x)")
        tops = []
        for impl in _impls(op_rows):
            mine = sorted((r for r in op_rows if r.impl == impl), key=lambda r: r.size or 0)
            sizes = [r.size for r in mine]
            best = [r.speedup or 0.0 for r in mine]
            low = [b - (r.speedup_low if r.speedup_low is not None else b)
                   for b, r in zip(best, mine)]
            high = [(r.speedup_high if r.speedup_high is not None else b) - b
                    for b, r in zip(best, mine)]
            ax.errorbar(sizes, best, yerr=[low, high], marker="o", capsize=3,
                        color=impl_colour(impl), label=impl)
            tops += [b + h for b, h in zip(best, high)]
        _y_room(ax, tops)
        _finish_panel(ax, op, "speedup over NumPy (x)")
    for ax in axes[len(by_op):]:
        ax.set_visible(False)
    _title(fig, "Speedup over NumPy on one core vs array size (higher is better; bars: the "
                "least to the greatest speedup of one round)", width)
    fig.savefig(path, dpi=110)
    return fig


def _finish_panel(ax: Any, op: str, ylabel: str) -> None:
    """The common face of a per-op panel: log sizes with room at both ends,
    labels, legend."""
    ax.set_xscale("log")
    ax.margins(x=0.1)  # the first and last sizes' points and bars clear the frame
    ax.set_title(f"np.{op}")
    ax.set_xlabel("array size (float64 elements)")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="best", fontsize="small")


# Powers of a thousand and their names, for per-joule axes.
SCALES = ((1e12, "trillions"), (1e9, "billions"), (1e6, "millions"), (1e3, "thousands"))


def per_joule_scale(largest: float) -> tuple[float, str]:
    """The factor to divide per-joule figures by, and its name, so tick
    labels are plain numbers and the axis label says the unit: no offset
    multiplier ("1e8") in a corner of the axis.

    >>> per_joule_scale(3.9e8), per_joule_scale(512.0)
    ((1000000.0, 'millions'), (1.0, ''))
    """
    for factor, name in SCALES:
        if largest >= factor:
            return factor, name
    return 1.0, ""


def plot_energy(rows: Sequence[Row], path: Path) -> Any:
    """Array elements per joule against array size, one panel per op,
    NumPy included; the title names the energy source."""
    by_op = {op: [r for r in op_rows if r.ops_per_joule is not None]
             for op, op_rows in _op_rows(rows).items()}
    by_op = {op: op_rows for op, op_rows in by_op.items() if op_rows}
    if not by_op:
        raise ValueError("plot_energy: no rows with an energy figure to plot")
    sources = sorted({r.energy_source for op_rows in by_op.values() for r in op_rows})
    nrows, ncols = _grid(len(by_op))
    width = 5.2 * ncols
    fig = _figure(figsize=(width, 3.6 * nrows + 0.8))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (op, op_rows) in zip(axes, by_op.items()):
        factor, unit = per_joule_scale(max(r.ops_per_joule or 0.0 for r in op_rows))
        tops = []
        for impl in ["NumPy", *_impls(op_rows)]:
            points = sorted((r.size, (r.ops_per_joule or 0.0) / factor)
                            for r in op_rows if r.impl == impl)
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o",
                    color=impl_colour(impl), linestyle="--" if impl == "NumPy" else "-",
                    label=impl)
            tops += [p[1] for p in points]
        ax.set_ylim(0, max(tops) * 1.15)
        _finish_panel(ax, op, "array elements per joule" + (f" ({unit})" if unit else ""))
    for ax in axes[len(by_op):]:
        ax.set_visible(False)
    _title(fig, f"Energy efficiency vs array size (higher is better; energy from: "
                f"{', '.join(sources)})", width)
    fig.savefig(path, dpi=110)
    return fig


def _impls(rows: Iterable[Row]) -> list[str]:
    found = {r.impl for r in rows if r.impl != "NumPy"}
    return [i for i in IMPL_ORDER if i in found] + sorted(found - set(IMPL_ORDER))


def plot_timeline(events: Sequence[Any], path: Path, title: str) -> Any:
    """One row per thread (callers first), each task a bar from its start
    to its end, coloured by the core kind it ran on, or by CPU where the
    machine has one kind; a job's span outlined on its caller's row, parked
    time grey, steals, QoS changes and boosts as markers.  `events` are
    runtime.trace records (name, thread, core_kind, cpu, start, duration,
    ...; seconds since the trace began)."""
    tasks = [e for e in events if e.name == "task"]
    if not tasks:
        raise ValueError("plot_timeline: the trace has no task events")
    threads = sorted({e.thread for e in events}, key=_thread_order)
    row_of = {t: i for i, t in enumerate(threads)}
    kinds = sorted({e.core_kind for e in tasks}, key=_kind_order)
    by_kind = len(kinds) > 1
    keys: list[Any] = kinds if by_kind else sorted({e.cpu for e in tasks})
    colour = {k: kind_colour(k) if by_kind else cpu_colour(k) for k in keys}
    fig = _figure(figsize=(10, 1.6 + 0.6 * len(threads)))
    ax = fig.subplots()

    def bars(spans: list[Any], label: str | None, height: float = 0.7, **style: Any) -> None:
        for thread in sorted({e.thread for e in spans}, key=row_of.__getitem__):
            # A zero-length span still shows: at least a microsecond wide.
            ax.broken_barh([(e.start * 1e3, max(e.duration * 1e3, 1e-3)) for e in spans
                            if e.thread == thread],
                           (row_of[thread] - height / 2, height), label=label, **style)
            label = None  # one legend entry per style

    for key in keys:
        mine = [e for e in tasks if (e.core_kind if by_kind else e.cpu) == key]
        bars(mine, f"task on {key} core" if by_kind else f"task on cpu {key}",
             facecolor=colour[key], edgecolor="white", linewidth=0.4)  # edges: task bounds
    parked = [e for e in events if e.name == "park" and e.duration > 0]
    if parked:
        bars(parked, "parked", color="0.85", hatch="//", edgecolor="0.6")
    jobs = [e for e in events if e.name == "job"]
    if jobs:
        bars(jobs, "job (on its caller)", height=0.85, facecolor="none", edgecolor="black",
             linewidth=1)
    for name in sorted({e.name for e in events} - {"task", "job"}):
        mine = [e for e in events if e.name == name and not (name == "park" and e.duration > 0)]
        if mine:
            ax.scatter([e.start * 1e3 for e in mine], [row_of[e.thread] for e in mine],
                       marker=INSTANT_MARKERS.get(name, "o"), color="black", s=30, zorder=3,
                       label=name)
    ax.set_yticks(range(len(threads)), threads)
    ax.set_ylim(len(threads) - 0.5, -0.5)
    ax.set_xlim(left=0)
    ax.set_xlabel("time since the trace began (ms)")
    ax.set_ylabel("thread")
    ax.set_title(f"{title}\ntasks per thread, coloured by " + ("core kind" if by_kind else "CPU"))
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    fig.savefig(path, dpi=110)
    return fig


def _kind_order(kind: str) -> tuple[int, str]:
    """Fastest first, as runtime.topology() lists them."""
    return {"performance": 0, "efficiency": 2}.get(kind, 1), kind


def _thread_order(label: str) -> tuple[int, Any]:
    """Callers, then workers ('worker 10' after 'worker 2'), then the rest."""
    group = 0 if label.startswith("caller") else 1 if label.startswith("worker") else 2
    return group, _natural(label)


def _natural(label: str) -> tuple[Any, ...]:
    """'worker 10' after 'worker 2'."""
    head, _, tail = label.rpartition(" ")
    return (head, int(tail)) if tail.isdigit() else (label, -1)
