"""The bench's table, as text for the terminal and as DIR/report.md.

Both show the same cells: per call, the time (best of N), the speedup
over the section's baseline, the process CPU time, the energy and
operations per joule, each energy figure with the meter it came from.
"""

from __future__ import annotations

import json
import shlex
import textwrap
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .measure import NOT_MEASURED
from .plan import size_label
from .suite import SECTION_BASELINES, Results, Row, energy_sources

COLUMNS = ("case", "size", "impl", "time/call", "speedup", "CPU time/call", "energy/call",
           "ops/J", "energy from", "target")
# Left-aligned columns; the rest are numbers, right-aligned.
TEXT_COLUMNS = {"case", "impl", "energy from", "target"}
SECTION_TITLES = {"overheads": "Pool overheads", "ops": "Ops at sizes (runtime.numpy)",
                  "matmul": "matmul", "slow core": "Emulated slow core",
                  "floor": "Never slower than serial (every entry point)",
                  "transparent": "Transparent mode (plain NumPy code, runtime.numpy.patch())"}
# The terminal's table: report.md's columns less ops/J (energy/call over the
# operations: results.json has it) and the energy source (said once per
# section where every row has the same), shorter headings, each section's
# own widths: it fits WIDTH columns.
WIDTH = 100
TERMINAL_COLUMNS = ("case", "size", "impl", "time", "speedup", "CPU", "energy", "target")
TERMINAL_CELLS = (0, 1, 2, 3, 4, 5, 6, 9)  # indices into cells()


def cells(row: Row) -> tuple[str, ...]:
    return (row.case, _size(row), row.impl, _seconds(row.seconds),
            "" if row.speedup is None else f"{row.speedup:.2f}x", _seconds(row.cpu_seconds),
            _joules(row.joules), _per_joule(row), _source(row), _target(row))


def sections(rows: list[Row]) -> list[tuple[str, list[Row]]]:
    found: dict[str, list[Row]] = {}
    for row in rows:
        found.setdefault(row.section, []).append(row)
    return list(found.items())


def format_text(results: Results) -> str:
    """The table for the terminal: a heading per section (what the figures
    are, the baseline, where the energy came from), then fixed columns."""
    out = []
    for section, rows in sections(results.rows):
        sources = energy_sources(rows)
        table = [TERMINAL_COLUMNS] + [_terminal_cells(row, len(sources) > 1) for row in rows]
        widths = [max(len(c[i]) for c in table) for i in range(len(TERMINAL_COLUMNS))]
        energy = f"; energy from {sources[0]}" if len(sources) == 1 else ""
        out += textwrap.wrap(f"{SECTION_TITLES.get(section, section)}, per call "
                             f"({SECTION_BASELINES[section]}{energy})", WIDTH)
        out += [_line(cells_, widths) for cells_ in table]
        out.append("")
    for note in _notes(results):
        out += textwrap.wrap(f"- {note}", WIDTH, subsequent_indent="  ",
                             break_long_words=False, break_on_hyphens=False)
    return "\n".join(out).rstrip() + "\n"


def _terminal_cells(row: Row, mixed_sources: bool) -> tuple[str, ...]:
    full = cells(row)
    chosen = [full[i] for i in TERMINAL_CELLS]
    if mixed_sources and row.joules is not None:  # say which meter, row by row
        chosen[TERMINAL_COLUMNS.index("energy")] += f" ({_source(row)})"
    return tuple(chosen)


def _line(values: tuple[str, ...], widths: list[int]) -> str:
    return "  ".join(v.ljust(w) if name in TEXT_COLUMNS else v.rjust(w)
                     for name, v, w in zip(TERMINAL_COLUMNS, values, widths)).rstrip()


def format_markdown(results: Results, command: list[str], machine: str,
                    plots: list[str]) -> str:
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = ["# runtime benchmark report", "",
           f"- command: `{shlex.join(command)}`",
           f"- date: {date}",
           "- time: best of N interleaved blocks, per call; speedup: baseline time / time, "
           "measured side by side in one process",
           "- CPU time: process CPU time (all threads) over a block, median of the blocks, "
           "per call",
           "- energy: runtime.energy's meter around each block, median, per call; "
           "`energy from` says which meter (rapl: the package's counters; estimate: CPU "
           "time times a power model)",
           "- ops/J: array elements (elem), floating-point operations (flop), fork-joins or "
           "indices per joule", ""]
    for section, rows in sections(results.rows):
        out += [f"## {SECTION_TITLES.get(section, section)}", "",
                f"{SECTION_BASELINES[section][0].upper()}{SECTION_BASELINES[section][1:]}.", "",
                "| " + " | ".join(COLUMNS) + " |",
                "|" + "|".join("---" if c in TEXT_COLUMNS else "---:" for c in COLUMNS) + "|"]
        out += ["| " + " | ".join(_md(cell) for cell in cells(row)) + " |" for row in rows]
        out.append("")
    notes = _notes(results)
    if notes:
        out += ["## Notes", ""] + [f"- {note}" for note in notes] + [""]
    if plots:
        out += ["## Plots", ""] + [f"![{Path(p).stem}]({Path(p).name})" for p in plots] + [""]
    out += ["## Machine", "", "`runtime.info()`:", "", "```", machine, "```", ""]
    return "\n".join(out)


def write(out_dir: Path, results: Results, command: list[str], machine: str,
          machine_data: dict[str, Any], plots: list[str]) -> Path:
    """report.md, and results.json (the rows, for pandas and re-plotting)."""
    path = out_dir / "report.md"
    path.write_text(format_markdown(results, command, machine, plots), encoding="utf-8")
    (out_dir / "results.json").write_text(json.dumps(
        {"command": command, "rows": [asdict(r) | {"ops_per_joule": r.ops_per_joule}
                                      for r in results.rows],
         "notes": _notes(results), "info": machine_data}, indent=1, default=str),
        encoding="utf-8")
    return path


def _notes(results: Results) -> list[str]:
    notes = list(results.notes)
    sources = energy_sources(results.rows)
    if not sources:
        notes.append("energy not measured: this build has no runtime.energy")
    unreadable = sorted({row.energy_note for row in results.rows if row.energy_note})
    notes += [f"energy counter unreadable, estimated instead: {why}" for why in unreadable]
    return notes


def _md(cell: str) -> str:
    return cell.replace("|", "\\|")


def _size(row: Row) -> str:
    if row.size is None:
        return ""
    if row.op_unit == "flop":
        return f"{row.size}x{row.size}"
    return size_label(row.size)


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}" if value / scale < 100 else \
                f"{value / scale:.0f} {unit}"
    return f"{value * 1e9:.3g} ns"


def _joules(value: float | None) -> str:
    if value is None:
        return "-"
    for unit, scale in (("J", 1.0), ("mJ", 1e-3), ("uJ", 1e-6)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value * 1e9:.3g} nJ"


def _per_joule(row: Row) -> str:
    value = row.ops_per_joule
    if value is None:
        return "-"
    mantissa, exponent = f"{value:.2e}".split("e")
    return f"{mantissa}e{int(exponent)} {row.op_unit}"


def _source(row: Row) -> str:
    return "-" if row.energy_source == NOT_MEASURED else row.energy_source


def _target(row: Row) -> str:
    """The target and whether this run met it: ">= 1.9x met", "<= 5 us not met"."""
    if not row.target or row.met is None:
        return row.target
    return f"{row.target} {'met' if row.met else 'not met'}"
