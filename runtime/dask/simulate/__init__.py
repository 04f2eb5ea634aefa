"""A cluster-energy simulator: machines x cores, a seeded task trace, a
placement policy and a power model; energy, awake machine-seconds and
task latency per policy.  Pure Python and NumPy (matplotlib only for the
PNG): it needs neither Dask nor a cluster.

    python -m runtime.dask.simulate --machines 8 --cores 12 --load 0.1,0.25,0.5 \\
        --power linear:idle=0.5 [--trace bursty] [--json] [--plot power.png]

>>> from runtime.dask.simulate import simulate, format_table
>>> records = simulate(machines=4, cores=4, loads=[0.1], duration_s=300, seed=3)
>>> sleep, spread = records[2].run, records[0].run
>>> sleep.awake_machine_s < spread.awake_machine_s
True

Policies: ``spread`` (Dask's placement: the least busy machine), ``pack``
(the busiest machine with a free core) and ``pack+sleep`` (pack, and a
machine idle for ``suspend_after`` seconds sleeps; waking takes
``resume_latency``).  Power models: ``linear:idle=0.5`` (fraction of peak
when idle), ``table:0=58,...,1=222`` (SPECpower-style points),
``cores:performance=4,efficiency=8`` (runtime's per-core-kind watts).
"""

from ._compare import RECORD_KEYS, Record, simulate
from ._engine import POLICIES, Run, run_policy
from ._power import CoreKindPower, LinearPower, PowerModel, TablePower, parse_power
from ._report import format_table, plot_power, to_json
from ._trace import TRACE_KINDS, Trace, generate_trace

__all__ = ["POLICIES", "RECORD_KEYS", "TRACE_KINDS", "CoreKindPower", "LinearPower",
           "PowerModel", "Record", "Run", "TablePower", "Trace", "format_table",
           "generate_trace", "parse_power", "plot_power", "run_policy", "simulate", "to_json"]
