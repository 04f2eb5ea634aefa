"""Never slower than serial: every public entry point against the same work
run serially, at sizes 1e2 to 1e8 elements, hot and interleaved with plain
NumPy calls (runtime/bench/floor.py has the sweep; `python -m runtime bench
--cases floor` runs it too).

    python benchmarks/floor.py [--sizes 1e2,1e3,...] [--entries NAME,...]
                               [--repeats 5] [--out DIR] [--first-call]

Prints a table of ratios (serial time / runtime time: above 1 is faster)
and writes DIR/floor.json and, with matplotlib, DIR/floor.png: a heat map
of entry point x size per mode, red where the ratio is below the floor
(0.95; 0.8 at 1e3 elements and fewer, where NumPy's whole call takes about
a microsecond).  --first-call also times each entry point's very first
call in a fresh process (pool start and measurement included)."""

from runtime.bench.floor import main

if __name__ == "__main__":
    main()
