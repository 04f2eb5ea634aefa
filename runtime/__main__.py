"""python -m runtime {demo,info,bench,run}"""

from __future__ import annotations

import argparse
import json
import os
import sys

from . import _config

PROG = "python -m runtime"
DEMO_SIZE = 10_000_000
QUICK_SIZE = 1_000_000


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The command line: the parser, and each command's own parser."""
    from .bench import cli as bench_cli

    parser = argparse.ArgumentParser(prog=PROG, description="runtime: every core for NumPy. "
                                     "Run a command; each has its own --help.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo", help="run the main job on generated data: speedup over NumPy, CPU time, "
                     "thread configuration",
        description="Each step does the same work with NumPy alone and with runtime, checks "
                    "that the results agree, and prints wall time, speedup and CPU time.")
    demo.add_argument("--size", type=int, default=None,
                      help=f"elements per array, at least 1000 (default: {DEMO_SIZE:,}; "
                           f"{QUICK_SIZE:,} with --quick)")
    demo.add_argument("--repeats", type=int, default=3,
                      help="timed runs of each step, NumPy's and runtime's; the best counts "
                           "(default: 3)")
    demo.add_argument("--quick", action="store_true",
                      help=f"a run of a few seconds: {QUICK_SIZE:,} elements per array "
                           "(an install check; the speedups of small arrays are lower)")
    info = commands.add_parser("info", help="print the configuration",
                               description="Print the thread count and where it came from, "
                                           "caches, BLAS, core kinds and QoS mechanisms.")
    info.add_argument("--json", action="store_true", help="as JSON")
    bench = commands.add_parser("bench", help="run the microbenchmarks: print a table, write "
                                              "report.md and plots",
                                description=bench_cli.DESCRIPTION)
    bench_cli.add_arguments(bench)
    run = commands.add_parser(
        "run", help="run a Python script with NumPy's own ufunc loops on every core",
        description="Patch NumPy's ufunc loops (runtime.numpy.patch()), then run the script as "
                    "__main__ with the arguments after it, as 'python script.py args...' "
                    "would: operators, array methods and libraries using NumPy split big "
                    "calls over the pool.")
    run.add_argument("script", help="the Python file to run")
    run.add_argument("args", nargs=argparse.REMAINDER, help="the script's own arguments")
    return parser, {"demo": demo, "info": info, "bench": bench, "run": run}


def main(argv: list[str] | None = None) -> int:
    parser, commands = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        _config.check_environment()
    except _config.EnvironmentVariableError as error:
        # One line per bad variable, as argparse reports a bad option.
        for problem in error.problems:
            print(f"{PROG} {args.command}: error: {problem}", file=sys.stderr)
        return 2

    if args.command == "demo":
        from ._demo import run_demo

        size = args.size if args.size is not None else QUICK_SIZE if args.quick else DEMO_SIZE
        if size < 1000 or args.repeats < 1:
            commands["demo"].error("--size must be >= 1000 and --repeats >= 1")
        return run_demo(size, args.repeats)
    if args.command == "run":
        from ._run import run_script

        if not os.path.isfile(args.script):
            commands["run"].error(f"no such script: {args.script!r}")
        run_script(args.script, args.args)
        return 0
    if args.command == "bench":
        from .bench import cli as bench_cli

        bench_cli.check(commands["bench"], args)
        return bench_cli.run(args, argv)
    from ._info import format_info, info as gather

    data = gather()
    print(json.dumps(data, indent=2) if args.json else format_info(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
