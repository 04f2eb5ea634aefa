"""``python -m runtime bench`` and the benchmark cases it shares with
``benchmarks/``.

- :mod:`runtime.bench.cases`: the core cases (map, reduce, @parallel,
  parallel_for, fork-join) as baseline/runtime pairs, and the emulated
  slow core; :mod:`runtime.bench.numpy_cases`: runtime.numpy's cases
  against NumPy, with numexpr and numba versions where installed.  One
  definition of each kernel: ``benchmarks/`` (pytest-benchmark and
  ``benchmarks/compare.py``) and the bench run these.
- :mod:`runtime.bench.measure`: timing, CPU time and energy of functions
  interleaved in one process (docs/BENCHMARKING.md).
- :mod:`runtime.bench.plan` (what a run covers), :mod:`runtime.bench.suite`
  (its steps, rows and results), :mod:`runtime.bench.report` (the table and
  report.md), :mod:`runtime.bench.plots` (the PNG files),
  :mod:`runtime.bench.cli` (the command line), :mod:`runtime.bench.slow_core`
  (the busy-cpu1 scenario, run in a child process).

>>> from runtime.bench import cases
>>> case = cases.CASES["map_sin_1e7"]
>>> case.target
'>= 1.9x'
"""
