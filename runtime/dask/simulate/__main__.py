"""python -m runtime.dask.simulate: the policies' table (or --json records,
or a --plot PNG) for generated traces.  Exit status 2 and one line on bad
input."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from ._compare import simulate
from ._engine import POLICIES
from ._report import format_table, plot_power, to_json
from ._trace import TRACE_KINDS

PROG = "python -m runtime.dask.simulate"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Energy, awake machine-seconds and task latency of placement "
        "policies on a simulated cluster (generated, seeded traces).")
    parser.add_argument("--machines", type=int, default=8, help="machines (default 8)")
    parser.add_argument("--cores", type=int, default=12, help="cores per machine (default 12)")
    parser.add_argument("--load", default="0.1,0.25,0.5",
                        help="offered loads, fractions of all cores, comma-separated "
                             "(default 0.1,0.25,0.5)")
    parser.add_argument("--power", default="linear:idle=0.5",
                        help="linear:idle=0.5[,peak_w=200,sleep=0] | table:0=W,...,1=W"
                             "[,sleep_w=W] | cores:performance=N,efficiency=N[,idle_w=W,"
                             "sleep_w=W] (default linear:idle=0.5)")
    parser.add_argument("--policies", default=",".join(POLICIES),
                        help=f"comma-separated, of {', '.join(POLICIES)} (default all)")
    parser.add_argument("--trace", default="poisson", help=f"{' or '.join(TRACE_KINDS)} "
                        "(default poisson)")
    parser.add_argument("--duration", type=float, default=600.0,
                        help="seconds of arrivals (default 600)")
    parser.add_argument("--task-seconds", type=float, default=1.0,
                        help="mean task duration, exponential (default 1)")
    parser.add_argument("--suspend-after", type=float, default=30.0,
                        help="idle seconds before a machine sleeps (default 30)")
    parser.add_argument("--resume-latency", type=float, default=5.0,
                        help="seconds a sleeping machine takes to wake (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="trace seed (default 0)")
    parser.add_argument("--json", action="store_true",
                        help="print a JSON list of records instead of the table")
    parser.add_argument("--plot", metavar="PNG", help="write power over time per policy "
                        "(needs matplotlib)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        loads = [_number(text, "load") for text in args.load.split(",")]
        records = simulate(
            machines=args.machines, cores=args.cores, loads=loads,
            policies=[p.strip() for p in args.policies.split(",") if p.strip()],
            power=args.power, trace=args.trace, duration_s=args.duration,
            task_s=args.task_seconds, suspend_after=args.suspend_after,
            resume_latency=args.resume_latency, seed=args.seed)
        if args.plot:
            plot_power(records, args.plot)
    except (ValueError, ImportError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    print(to_json(records) if args.json else format_table(records))
    if args.plot and not args.json:
        print(f"wrote {args.plot}")
    return 0


def _number(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{what}: {text.strip()!r} is not a number") from None


if __name__ == "__main__":
    sys.exit(main())
