"""runtime.dask: runtime inside Dask.

Dask spreads big blocks over machines and worker processes; runtime
splits each block over the cores a worker has, with work stealing and QoS.

- ``runtime.Executor`` is a ``concurrent.futures.Executor``: give it to
  Dask's local scheduler (``y.compute(scheduler=runtime.Executor())``).
- :func:`install` sets up every worker of a ``distributed`` cluster: the
  pool sized to the worker process's CPU share, tasks on runtime's
  executor; :func:`uninstall` puts the workers back.
- ``runtime.dask.consolidate`` packs work onto few workers and retires
  the rest; ``runtime.dask.simulate`` simulates such policies.

Importing this module needs neither dask nor distributed; install and
uninstall do (the ``[dask]`` extra).

>>> import runtime.dask
>>> runtime.dask.cpu_share(host_cpus=8, worker_processes=4)
2
"""

from __future__ import annotations

from ._install import install, uninstall
from ._share import cpu_share

__all__ = ["cpu_share", "install", "uninstall"]
