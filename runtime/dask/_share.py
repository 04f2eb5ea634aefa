"""How many CPUs a Dask worker process gets: the thread accounting.

Dask's nanny sets OMP_NUM_THREADS=1 in every worker process so that
NumPy's libraries do not multiply Dask's threads.  A worker set up by
runtime.dask.install instead runs its tasks on runtime's pool (runtime.
Executor), and the pool is sized to the process's share of the host's
CPUs: the tasks and the jobs they split share those threads, so
Dask threads never multiply pool threads.
"""

from __future__ import annotations


def cpu_share(host_cpus: int, worker_processes: int) -> int:
    """The CPUs of one worker process: the host's CPUs divided evenly
    among the worker processes on it (at least one).  Workers inside one
    process (``LocalCluster(processes=False)``) share its pool, so they
    count as one process.

    >>> cpu_share(host_cpus=8, worker_processes=2)
    4
    >>> cpu_share(host_cpus=2, worker_processes=3)
    1
    """
    if host_cpus < 1 or worker_processes < 1:
        raise ValueError(f"cpu_share: host_cpus and worker_processes must be >= 1, "
                         f"got {host_cpus} and {worker_processes}")
    return max(1, host_cpus // worker_processes)
