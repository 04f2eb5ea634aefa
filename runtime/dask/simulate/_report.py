"""The simulation's outputs: the table, the JSON records and the PNG of
power over time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from ._compare import Record


def format_table(records: Sequence[Record]) -> str:
    """One row per policy and load; the saving is against spread at the
    same load (when spread was run).

    >>> from runtime.dask.simulate import simulate
    >>> print(format_table(simulate(machines=2, cores=2, loads=[0.5], duration_s=60,
    ...                             policies=["spread"])).splitlines()[0])
    load  policy       energy kJ   J/task  awake machine-s  p50 s  p99 s  energy vs spread
    """
    spread = {r.load: r.run.energy_j for r in records if r.policy == "spread"}
    lines = ["load  policy       energy kJ   J/task  awake machine-s  p50 s  p99 s  "
             "energy vs spread"]
    for r in records:
        base = spread.get(r.load)
        if r.policy == "spread":
            versus = "(base)"
        else:
            versus = f"{100 * (r.run.energy_j / base - 1):+.1f}%" if base else "-"
        lines.append(f"{r.load:<5g} {r.policy:<11} {r.run.energy_j / 1e3:>10.1f} "
                     f"{r.run.energy_per_task_j:>8.1f} {r.run.awake_machine_s:>16.0f} "
                     f"{r.run.p50_s:>6.2f} {r.run.p99_s:>6.2f}  {versus:>16}")
    return "\n".join(lines)


def to_json(records: Sequence[Record]) -> str:
    """The records as a JSON list of {policy, load, energy_j,
    energy_per_task_j, awake_machine_s, p50_s, p99_s}."""
    return json.dumps([r.as_dict() for r in records], indent=1)


def plot_power(records: Sequence[Record], path: str | Path, *, bins: int = 200) -> Path:
    """A PNG of mean power over time, one panel per load, one line per
    policy.  Needs matplotlib (ImportError saying how to install it)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("the power plot needs matplotlib: pip install matplotlib (or "
                          "pip install \"hetero-runtime[bench]\")") from None
    loads = sorted({r.load for r in records})
    figure, axes = plt.subplots(len(loads), 1, figsize=(8, 2.6 * len(loads)), squeeze=False,
                                sharex=True, layout="constrained")
    for axis, load in zip(axes[:, 0], loads):
        for r in records:
            if r.load == load:
                times, watts = r.run.mean_power(bins)
                # pack draws what spread does under a linear model: dashed,
                # so the line beneath still shows.
                axis.plot(times, watts / 1e3, label=r.policy, linewidth=1,
                          linestyle="--" if r.policy == "pack" else "-")
        axis.set_title(f"load {load:g}", fontsize=10)
        axis.set_ylabel("power, kW")
        axis.set_ylim(bottom=0)
        axis.legend(fontsize=8, loc="lower right")
    axes[-1, 0].set_xlabel("time, s")
    path = Path(path)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
